//! The NDJSON writer: one JSON object per line on stdout, flushed per record so a
//! pipeline is live.
//!
//! Each record is serialized into a buffer first and written with a single
//! `write_all`, so records from several threads never interleave and a closed pipe
//! surfaces as an error (which the entry point turns into a quiet exit 0) instead of
//! a panic as with `println!`.

use crate::Result;
use serde::Serialize;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Sink = Box<dyn Write + Send>;

/// A shared handle on the tool's data output (stdout in the tools, a buffer in tests).
#[derive(Clone)]
pub struct Output {
    sink: Arc<Mutex<Sink>>,
}

impl Output {
    /// The process's standard output.
    pub fn stdout() -> Self {
        Self::to_writer(io::stdout())
    }

    /// Any writer, e.g. a `Vec<u8>` behind a shared handle in tests.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        Output {
            sink: Arc::new(Mutex::new(Box::new(writer))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one record as one line and flushes it.
    pub fn record<T: Serialize + ?Sized>(&self, record: &T) -> Result<()> {
        let mut line = Vec::with_capacity(256);
        encode_line(record, &mut line)?;
        self.write(&line)
    }

    /// Writes `bytes` with one `write_all` and flushes them: whole NDJSON lines (each
    /// ending in `\n`, a batch of records at once), or the output of the few commands
    /// whose output is not NDJSON, such as `p2p-keygen open`.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let mut sink = self.lock();
        sink.write_all(bytes)?;
        sink.flush()?;
        Ok(())
    }

    /// Flushes anything buffered.
    pub fn flush(&self) -> Result<()> {
        self.lock().flush()?;
        Ok(())
    }
}

/// Appends `record` to `buf` as one JSON line ending in `\n`.
pub fn encode_line<T: Serialize + ?Sized>(record: &T, buf: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(&mut *buf, record)
        .map_err(|e| crate::Error::failure(format!("encoding a record as JSON: {e}")))?;
    buf.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_record_is_one_line() {
        let buf = Shared::default();
        let out = Output::to_writer(buf.clone());
        out.record(&json!({"type": "peer", "id": "x"})).unwrap();
        out.record(&json!({"type": "stats", "n": 2})).unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"type\":\"peer\",\"id\":\"x\"}\n{\"type\":\"stats\",\"n\":2}\n"
        );
    }

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_an_error_not_a_panic() {
        let out = Output::to_writer(Closed);
        let err = out.record(&json!({"type": "x"})).unwrap_err();
        assert!(err.is_broken_pipe());
    }
}
