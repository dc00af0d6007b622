//! Setting up what both subcommands share: the identity (a throwaway one when none is
//! configured), transport tuning, the allow list, and `--signal stdio`, where each
//! side's punch candidate is the first line of its stdout and the peer's the first
//! line of its stdin.

use crate::args::Common;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::path::{Via, punch_signalled};
use p2p_shared::connect::punch::candidate::{Behaviour, Candidate};
use p2p_shared::connect::punch::gather::gather;
use p2p_shared::connect::quic::endpoint::Listen;
use p2p_shared::connect::quic::{Endpoint, Tuning};
use p2p_shared::connect::turn_client::Credentials;
use p2p_shared::identity::Identity;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::input::{self, LineReader};
use p2p_shared::{Context, Error, Result, random};
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// How long the direct addresses get before a punch is tried (a few handshake
/// retransmissions on a slow path).
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a punch may take.
pub const PUNCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The identity to speak for: the configured one, or a throwaway one (with a note).
pub fn identity(common: &Common, ctx: &Ctx) -> Result<Identity> {
    let configured = common.identity.identity.is_some()
        || p2p_shared::identity::default_path().is_some_and(|p| p.exists());
    if configured {
        return common.identity.load();
    }
    let identity = Identity::generate()?;
    ctx.note(format_args!(
        "no identity configured: using a throwaway one, {}",
        identity.id()
    ));
    Ok(identity)
}

/// Credentials for `--relay`: shared secret, user, or (none given) the peer key.
pub fn relay_credentials(common: &Common) -> Option<Credentials> {
    if let Some(secret) = &common.auth_secret {
        return Some(Credentials::Secret {
            secret: secret.clone(),
            name: "p2p-pipe".to_owned(),
        });
    }
    common
        .user
        .as_ref()
        .map(|(username, password)| Credentials::User {
            username: username.clone(),
            password: password.clone(),
        })
}

/// The transport settings from the command line.
pub fn tuning(common: &Common) -> Tuning {
    Tuning {
        idle_timeout: common.idle_timeout,
        ..Tuning::default()
    }
}

/// An endpoint on a punched path from candidates exchanged over stdin/stdout:
/// listening (with `listen`) or ready to dial. Returns it with the peer's id, the
/// path, and the peer's address on it.
pub fn signalled(
    common: &Common,
    identity: &Identity,
    bind: SocketAddr,
    expected: Option<PeerId>,
    listen: Option<Listen>,
) -> Result<(PeerId, Via, Endpoint, SocketAddr)> {
    let socket = UdpSocket::bind(bind).with_context(|| format!("binding udp://{bind}"))?;
    let mine = match common.stun {
        Some(server) => gather(&socket, identity, server, Duration::from_secs(3))
            .context("learning this side's address from the STUN server")?,
        None => Candidate {
            id: identity.id(),
            local: vec![socket.local_addr()?],
            observed: None,
            mapping: Behaviour::Unknown,
            ports: Vec::new(),
            nonce: random::bytes()?,
        },
    };
    let mut line = serde_json::to_string(&Value::Object(mine.to_record(identity)?))
        .map_err(|e| Error::failure(e.to_string()))?;
    line.push('\n');
    let mut stdout = std::io::stdout();
    stdout.write_all(line.as_bytes())?;
    stdout.flush()?;
    let theirs = read_candidate(&identity.id(), expected)?;
    let peer = theirs.id;
    let punched = punch_signalled(socket, identity, mine, theirs, PUNCH_TIMEOUT)?;
    let via = Via::Punched(punched.technique);
    let endpoint = Endpoint::from_socket(identity, punched.socket, listen, tuning(common))?;
    Ok((peer, via, endpoint, punched.remote))
}

/// The peer's candidate: the first line of stdin (the stream follows it). Only that
/// line is consumed: std's stdin buffer keeps the rest for the stream.
fn read_candidate(me: &PeerId, expected: Option<PeerId>) -> Result<Candidate> {
    let stdin = std::io::stdin();
    let mut reader = LineReader::new(stdin.lock(), input::DEFAULT_MAX_LINE);
    let line = reader
        .next_line()?
        .ok_or_else(|| Error::usage("stdin ended before the peer's candidate record"))?;
    let object = input::parse_object(&line, input::DEFAULT_MAX_LINE)
        .map_err(|e| Error::usage(format!("the peer's candidate: {e}")))?;
    let candidate = Candidate::from_record(&object)
        .map_err(|e| Error::usage(format!("the peer's candidate: {e}")))?;
    if candidate.id == *me {
        return Err(Error::usage(
            "the first line of stdin is this side's own candidate",
        ));
    }
    if let Some(expected) = expected.filter(|e| *e != candidate.id) {
        return Err(Error::failure(format!(
            "the candidate on stdin is of {}, not of {expected}",
            candidate.id
        )));
    }
    Ok(candidate)
}
