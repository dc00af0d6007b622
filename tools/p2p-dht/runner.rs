//! How a command runs its work: on one target from the command line, or on every
//! target read from stdin (batch mode), with a deadline per target.
//!
//! In batch mode each input line becomes one job; up to `--jobs` run at once, each
//! output record carries the input in `input` so results can be joined, a bad line is
//! reported with its number while the others are still answered, and the exit status
//! is the worst of all.

use p2p_shared::ndjson::input::{
    InputOptions, LineError, LineReader, Problems, is_blank, parse_object,
};
use p2p_shared::ndjson::output::Output;
use p2p_shared::{Error, Result, Status, cli::duration, diag};
use serde::Serialize;
use serde_json::{Map, Value};
use smol::lock::Semaphore;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where one job writes, and the input it answers (in batch mode).
#[derive(Clone)]
pub struct Job {
    out: Output,
    echo: Option<Value>,
}

impl Job {
    /// A job answering a target from the command line.
    pub fn single(out: &Output) -> Self {
        Job {
            out: out.clone(),
            echo: None,
        }
    }

    /// Writes one record, adding the input it answers as `input` in batch mode.
    pub fn emit<T: Serialize>(&self, record: &T) -> Result<()> {
        match &self.echo {
            None => self.out.record(record),
            Some(echo) => {
                let mut object = to_object(record)?;
                object.insert("input".to_owned(), echo.clone());
                self.out.record(&object)
            }
        }
    }

    /// Writes bytes as they are (for `get --raw`).
    pub fn raw(&self, bytes: &[u8]) -> Result<()> {
        self.out.write(bytes)
    }

    /// True in batch mode.
    pub fn is_batch(&self) -> bool {
        self.echo.is_some()
    }
}

/// A record as a JSON object.
pub fn to_object<T: Serialize>(record: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(record) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::failure("a record is not a JSON object")),
        Err(e) => Err(Error::failure(format!("encoding a record: {e}"))),
    }
}

/// Runs `work`, failing with a timeout error (exit status 3) after `limit`.
pub async fn within<T>(
    limit: Duration,
    what: impl std::fmt::Display,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let timer = async {
        smol::Timer::after(limit).await;
        Err(Error::timeout(format!(
            "{what}: no result within {}",
            duration::format(limit)
        )))
    };
    smol::future::or(work, timer).await
}

/// One line of batch input: an NDJSON object or a plain line.
pub enum Input {
    /// A JSON object.
    Object(Map<String, Value>),
    /// Any other line, trimmed.
    Plain(String),
}

impl Input {
    /// The input as it is echoed in output records.
    fn echo(&self) -> Value {
        match self {
            Input::Object(object) => Value::Object(object.clone()),
            Input::Plain(text) => Value::String(text.clone()),
        }
    }

    /// A string field of an object input (the first of `keys` present).
    pub fn field(object: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, String> {
        for key in keys {
            match object.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) => return Ok(Some(text.clone())),
                Some(_) => return Err(format!("\"{key}\" is not a string")),
            }
        }
        Ok(None)
    }
}

/// Runs `work` on `single` when given, else on every target read from stdin.
pub fn run<T, P, W, F>(
    single: Option<T>,
    input: &InputOptions,
    jobs: usize,
    out: &Output,
    parse: P,
    work: W,
) -> Result<Status>
where
    T: Send + 'static,
    P: Fn(Input) -> Result<T, String>,
    W: Fn(T, Job) -> F,
    F: Future<Output = Result<Status>> + Send + 'static,
{
    match single {
        Some(target) => smol::block_on(work(target, Job::single(out))),
        None => smol::block_on(batch(input, jobs, out, parse, work)),
    }
}

async fn batch<T, P, W, F>(
    options: &InputOptions,
    jobs: usize,
    out: &Output,
    parse: P,
    work: W,
) -> Result<Status>
where
    T: Send + 'static,
    P: Fn(Input) -> Result<T, String>,
    W: Fn(T, Job) -> F,
    F: Future<Output = Result<Status>> + Send + 'static,
{
    let (tx, rx) = smol::channel::bounded(64);
    let max = options.max_line;
    // Detached: it ends at end of input, or with the process.
    std::thread::spawn(move || {
        let mut reader = LineReader::new(std::io::stdin().lock(), max);
        loop {
            let next = reader.next_line();
            let last = !matches!(next, Ok(Some(_)));
            if tx.send_blocking(next).is_err() || last {
                break;
            }
        }
    });
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
    let mut problems = Problems::new(options.strict);
    let mut tasks = Vec::new();
    while let Ok(next) = rx.recv().await {
        let Some(line) = next.map_err(|e| Error::usage(format!("reading stdin: {e}")))? else {
            break;
        };
        let number = line.number;
        if line.bytes.as_deref().is_some_and(is_blank) {
            continue;
        }
        let parsed = read_line(&line, max).and_then(|input| {
            let echo = input.echo();
            parse(input)
                .map(|target| (target, echo))
                .map_err(|message| LineError::new(number, Status::Usage, message))
        });
        match parsed {
            Err(problem) => problems.report(&problem)?,
            Ok((target, echo)) => {
                let permit = permits.acquire_arc().await;
                let job = Job {
                    out: out.clone(),
                    echo: Some(echo),
                };
                let work = work(target, job);
                tasks.push(smol::spawn(async move {
                    let result = work.await;
                    drop(permit);
                    (number, result)
                }));
            }
        }
    }
    let mut status = problems.status();
    for task in tasks {
        let (number, result) = task.await;
        match result {
            Ok(done) => status = status.worst(done),
            Err(e) if e.is_broken_pipe() => return Err(e),
            Err(e) => {
                diag::warn(format_args!("line {number}: {e}"));
                status = status.worst(e.status());
            }
        }
    }
    Ok(status)
}

/// Reads a line as an object when it looks like one, else as plain text.
fn read_line(line: &p2p_shared::ndjson::input::RawLine, max: usize) -> Result<Input, LineError> {
    let is_object = line
        .bytes
        .as_ref()
        .is_none_or(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'));
    if is_object {
        return parse_object(line, max).map(Input::Object);
    }
    let bytes = line.bytes.as_deref().unwrap_or_default();
    let text = std::str::from_utf8(bytes)
        .map_err(|_| LineError::new(line.number, Status::Usage, "not UTF-8 text"))?;
    Ok(Input::Plain(text.trim().to_owned()))
}
