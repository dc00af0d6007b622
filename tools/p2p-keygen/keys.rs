//! `new`, `id` and `peer`: making identities and showing their public side.

use crate::args::{IdArgs, NewArgs, PeerArgs};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::identity::{Identity, IdentityArgs};
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{Error, Result, Status, diag};
use std::io::{IsTerminal, Read};

/// `p2p-keygen new`.
pub fn new(args: &NewArgs, ctx: &Ctx) -> Result<Status> {
    let identity = match &args.seed {
        Some(seed) => Identity::from_seed(parse_seed(seed)?),
        None => Identity::generate()?,
    };
    match &args.output {
        Some(path) => {
            identity.save(path, args.force)?;
            ctx.note(format_args!("wrote {} (mode 0600)", path.display()));
            ctx.out.record(&identity.public_record())?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                diag::warn(format_args!(
                    "printing a secret key to the terminal; use -o FILE to store it instead"
                ));
            }
            ctx.out.record(&identity.secret_record())?;
        }
    }
    Ok(Status::Success)
}

fn parse_seed(text: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::usage("--seed takes 64 hex digits (a 32-byte seed)"))
}

/// `p2p-keygen id`.
pub fn id(args: &IdArgs, ctx: &Ctx) -> Result<Status> {
    let identity = if let Some(path) = &args.identity {
        Identity::load(path, args.allow_readable_key)?
    } else if let Some(identity) = identity_from_stdin()? {
        identity
    } else {
        IdentityArgs {
            identity: std::env::var_os("P2P_IDENTITY").map(Into::into),
            allow_readable_key: args.allow_readable_key,
        }
        .load()?
    };
    ctx.out.record(&identity.public_record())?;
    Ok(Status::Success)
}

/// A secret identity record on stdin, when stdin is not a terminal and not empty.
fn identity_from_stdin() -> Result<Option<Identity>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| Error::usage(format!("reading an identity from stdin: {e}")))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Identity::from_json(&text)
        .map(Some)
        .map_err(|e| Error::usage(format!("stdin: {e}")))
}

/// `p2p-keygen peer`.
pub fn peer(args: &PeerArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    let record = PeerRecord::signed(&identity, args.addrs.clone(), args.topic.clone())?;
    ctx.out.record(&record)?;
    Ok(Status::Success)
}
