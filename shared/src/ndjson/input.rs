//! The NDJSON reader: lines with numbers, a cap on line length, and errors that name
//! the line.
//!
//! Bad lines never crash a tool and never vanish: [`Problems`] prints each one on
//! stderr with its line number, remembers the worst exit status, and with `--strict`
//! stops the tool at the first one.

use crate::{Error, Result, Status, diag};
use serde_json::{Map, Value};
use std::fmt;
use std::io::{self, BufRead};

/// The default cap on one input line: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Options for tools that read NDJSON on stdin.
#[derive(Debug, Clone, clap::Args)]
pub struct InputOptions {
    /// Stop at the first bad input line (by default: report it, go on, and exit
    /// non-zero at the end)
    #[arg(long)]
    pub strict: bool,
    /// Longest accepted input line, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    pub max_line: usize,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            strict: false,
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// One line of input, without its line ending.
#[derive(Debug, Clone)]
pub struct RawLine {
    /// 1-based line number.
    pub number: u64,
    /// The line's bytes, or `None` when it was longer than the cap (and was skipped).
    pub bytes: Option<Vec<u8>>,
}

/// What was wrong with one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub message: String,
    /// The exit status this problem calls for.
    pub status: Status,
}

impl LineError {
    /// A problem with line `line`.
    pub fn new(line: u64, status: Status, message: impl Into<String>) -> Self {
        LineError {
            line,
            message: message.into(),
            status,
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads numbered lines with a length cap; a longer line is skipped to its end and
/// returned with `bytes: None`.
pub struct LineReader<R> {
    inner: R,
    number: u64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Reads from `inner`, accepting lines of at most `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            number: 0,
            max,
        }
    }

    /// The next line, or `None` at the end of input.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine>> {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, done) = match memchr_newline(chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if line.len() + take > self.max {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.number += 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(RawLine {
            number: self.number,
            bytes: (!too_long).then_some(line),
        }))
    }
}

impl<R: io::Read> LineReader<io::BufReader<R>> {
    /// True when read bytes wait in the buffer, so the next line may come without
    /// waiting for the input.
    pub fn buffered(&self) -> bool {
        !self.inner.buffer().is_empty()
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// True for a line that holds only whitespace (skipped without complaint).
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Parses one line as a JSON object, with an error that says what the line was.
pub fn parse_object(line: &RawLine, max: usize) -> Result<Map<String, Value>, LineError> {
    let Some(bytes) = &line.bytes else {
        return Err(LineError::new(
            line.number,
            Status::Usage,
            format!("longer than {max} bytes (raise --max-line to accept it)"),
        ));
    };
    let value: Value = crate::identity::strict::from_slice(bytes).map_err(|e| {
        let hint = if e.is_eof() {
            " (the line ends early: truncated?)"
        } else {
            ""
        };
        LineError::new(
            line.number,
            Status::Usage,
            format!("not valid JSON: {e}{hint}"),
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(LineError::new(
            line.number,
            Status::Usage,
            format!("not a JSON object (found {})", kind_of(&other)),
        )),
    }
}

/// The JSON kind of a value, for messages: "an array", "a string", …
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Counts bad input lines, reports each on stderr, and decides the final status.
#[derive(Debug, Default)]
pub struct Problems {
    strict: bool,
    count: u64,
    worst: Option<Status>,
}

impl Problems {
    /// A tally that stops at the first problem when `strict`.
    pub fn new(strict: bool) -> Self {
        Problems {
            strict,
            ..Problems::default()
        }
    }

    /// Reports `problem` on stderr; with `--strict` returns an error that ends the tool.
    pub fn report(&mut self, problem: &LineError) -> Result<()> {
        self.count += 1;
        self.worst = Some(
            self.worst
                .map_or(problem.status, |w| w.worst(problem.status)),
        );
        if self.strict {
            return Err(Error::new(
                problem.status,
                format!("{problem} (stopping: --strict)"),
            ));
        }
        diag::warn(format_args!("{problem}"));
        Ok(())
    }

    /// How many problems were reported.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The status to end with: success when nothing was wrong, otherwise the worst
    /// problem's status.
    pub fn status(&self) -> Status {
        self.worst.unwrap_or(Status::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, max: usize) -> Vec<RawLine> {
        let mut reader = LineReader::new(text.as_bytes(), max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn numbers_lines_and_strips_line_endings() {
        let got = lines("a\r\nbb\n\nc", 100);
        let texts: Vec<_> = got.iter().map(|l| l.bytes.clone().unwrap()).collect();
        assert_eq!(
            texts,
            vec![b"a".to_vec(), b"bb".to_vec(), vec![], b"c".to_vec()]
        );
        assert_eq!(got.last().unwrap().number, 4);
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_one_kept() {
        let got = lines("0123456789\nok\n", 5);
        assert!(got[0].bytes.is_none());
        assert_eq!(got[1].bytes.as_deref(), Some(&b"ok"[..]));
        assert_eq!(got[1].number, 2);
        let err = parse_object(&got[0], 5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: longer than 5 bytes (raise --max-line to accept it)"
        );
    }

    #[test]
    fn parse_errors_name_the_line_and_the_problem() {
        let got = lines("{\"a\":1}\n[1]\n{\"a\":\n", 100);
        assert!(parse_object(&got[0], 100).is_ok());
        let err = parse_object(&got[1], 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: not a JSON object (found an array)"
        );
        let err = parse_object(&got[2], 100).unwrap_err();
        assert!(
            err.to_string().starts_with("line 3: not valid JSON"),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn strict_problems_stop_and_lenient_ones_are_counted() {
        let problem = LineError::new(7, Status::Usage, "bad");
        let mut lenient = Problems::new(false);
        lenient.report(&problem).unwrap();
        assert_eq!((lenient.count(), lenient.status()), (1, Status::Usage));
        let mut strict = Problems::new(true);
        let err = strict.report(&problem).unwrap_err();
        assert_eq!(err.status(), Status::Usage);
        assert!(err.message().contains("line 7"));
    }
}
