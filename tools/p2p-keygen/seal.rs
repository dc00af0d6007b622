//! `seal` and `open`: encryption to a peer id.

use crate::args::{OpenArgs, SealArgs};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::identity::seal::{self, Sealed};
use p2p_shared::ndjson::input::{self, LineError, LineReader, Problems};
use p2p_shared::{Error, Result, Status};
use serde_json::Value;
use std::io::Read;

/// `p2p-keygen seal`: all of stdin becomes one `sealed` record.
pub fn seal(args: &SealArgs, ctx: &Ctx) -> Result<Status> {
    let mut plaintext = Vec::new();
    std::io::stdin()
        .lock()
        .take(args.max_bytes.saturating_add(1))
        .read_to_end(&mut plaintext)?;
    if plaintext.len() as u64 > args.max_bytes {
        return Err(Error::usage(format!(
            "input is larger than --max-bytes {}",
            args.max_bytes
        )));
    }
    ctx.out.record(&seal::seal(&args.to, &plaintext)?)?;
    Ok(Status::Success)
}

/// `p2p-keygen open`: the plaintext of each `sealed` record, in order.
pub fn open(args: &OpenArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    let mut reader = LineReader::new(std::io::stdin().lock(), args.input.max_line);
    let mut problems = Problems::new(args.input.strict);
    while let Some(line) = reader.next_line()? {
        if line.bytes.as_deref().is_some_and(input::is_blank) {
            continue;
        }
        let object = match input::parse_object(&line, args.input.max_line) {
            Ok(object) => object,
            Err(problem) => {
                problems.report(&problem)?;
                continue;
            }
        };
        let sealed: Sealed = match serde_json::from_value(Value::Object(object)) {
            Ok(sealed) => sealed,
            Err(e) => {
                let why = format!("not a sealed record: {e}");
                problems.report(&LineError::new(line.number, Status::Usage, why))?;
                continue;
            }
        };
        match seal::open(&identity, &sealed) {
            Ok(plaintext) => ctx.out.write(&plaintext)?,
            Err(e) => problems.report(&LineError::new(line.number, e.status(), e.message()))?,
        }
    }
    Ok(problems.status())
}
