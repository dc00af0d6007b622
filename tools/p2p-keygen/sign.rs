//! `sign` and `verify`: signatures on NDJSON lines, in parallel, in input order.

use crate::args::{SignArgs, VerifyArgs};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::ndjson::input::{self, InputOptions, LineError, LineReader, Problems, RawLine};
use p2p_shared::ndjson::output::encode_line;
use p2p_shared::{Result, Status, cli::progress, identity::signing, ndjson::parallel};

/// What became of one input line.
enum Outcome {
    /// Bytes to write (possibly none, for a blank line).
    Write(Vec<u8>),
    /// A problem to report.
    Problem(LineError),
}

/// `p2p-keygen sign`.
pub fn sign(args: &SignArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    let max = args.input.max_line;
    filter(&args.input, args.jobs, ctx, |line| {
        let mut object = match parse(line, max) {
            Ok(Some(object)) => object,
            Ok(None) => return Outcome::Write(Vec::new()),
            Err(problem) => return Outcome::Problem(problem),
        };
        let mut out = Vec::with_capacity(line.bytes.as_ref().map_or(0, Vec::len) + 192);
        let signed = signing::sign_as_signer(&mut object, &identity)
            .and_then(|()| encode_line(&object, &mut out));
        match signed {
            Ok(()) => Outcome::Write(out),
            Err(e) => Outcome::Problem(LineError::new(line.number, e.status(), e.message())),
        }
    })
}

/// `p2p-keygen verify`.
pub fn verify(args: &VerifyArgs, ctx: &Ctx) -> Result<Status> {
    let max = args.input.max_line;
    let expected = args.signer;
    filter(&args.input, args.jobs, ctx, |line| {
        let object = match parse(line, max) {
            Ok(Some(object)) => object,
            Ok(None) => return Outcome::Write(Vec::new()),
            Err(problem) => return Outcome::Problem(problem),
        };
        match signing::verify_by(&object, expected.as_ref()) {
            Ok(_) => {
                let mut out = line.bytes.clone().unwrap_or_default();
                out.push(b'\n');
                Outcome::Write(out)
            }
            Err(e) => Outcome::Problem(LineError::new(line.number, Status::Failure, e.to_string())),
        }
    })
}

/// A line as an object, `None` for a blank line.
fn parse(
    line: &RawLine,
    max: usize,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, LineError> {
    if line.bytes.as_deref().is_some_and(input::is_blank) {
        return Ok(None);
    }
    input::parse_object(line, max).map(Some)
}

/// Runs `work` over stdin's lines and writes the results in order; problems go to
/// stderr as they are met, and decide the exit status.
fn filter<W>(options: &InputOptions, jobs: Option<usize>, ctx: &Ctx, work: W) -> Result<Status>
where
    W: Fn(&RawLine) -> Outcome + Sync,
{
    let stdin = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
    let reader = LineReader::new(stdin, options.max_line);
    let jobs = jobs.unwrap_or_else(parallel::default_jobs);
    let mut problems = Problems::new(options.strict);
    let mut buf = Vec::new();
    let counter = progress::counter(ctx.quiet, "lines");
    parallel::map_lines(reader, jobs, work, |batch| {
        counter.inc(batch.len() as u64);
        for outcome in batch {
            match outcome {
                Outcome::Write(bytes) => buf.extend_from_slice(&bytes),
                Outcome::Problem(problem) => {
                    // Good lines before a bad one reach stdout before its report.
                    ctx.out.write(&buf)?;
                    buf.clear();
                    problems.report(&problem)?;
                }
            }
        }
        ctx.out.write(&buf)?;
        buf.clear();
        Ok(())
    })?;
    counter.finish_and_clear();
    Ok(problems.status())
}
