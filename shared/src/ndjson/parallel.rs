//! An order-keeping parallel map over input lines, for CPU-bound filters such as
//! `p2p-keygen sign` and `verify`.
//!
//! A reader thread feeds lines through a bounded channel. The main thread takes
//! whatever has arrived (at least one line, at most [`MAX_BATCH`]), works on it
//! across `jobs` threads when the batch is large enough to pay for them, and hands
//! the results, in input order, to the caller. A trickle of lines is therefore
//! answered line by line (a live pipeline stays live), while a flood is processed in
//! large parallel batches.

use crate::Result;
use crate::ndjson::input::{LineReader, RawLine};
use std::io::BufRead;
use std::sync::mpsc;

/// The most lines worked on in one batch.
pub const MAX_BATCH: usize = 8192;
/// Batches smaller than this are worked on by the calling thread alone.
const MIN_PARALLEL: usize = 64;

/// The number of worker threads to use when the user did not say: every core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Reads every line of `reader`, applies `work` to each (on up to `jobs` threads),
/// and passes the results to `emit` in input order, a batch at a time. Stops early
/// when `emit` returns an error, and returns it.
pub fn map_lines<R, T, W, E>(reader: LineReader<R>, jobs: usize, work: W, mut emit: E) -> Result<()>
where
    R: BufRead + Send + 'static,
    T: Send,
    W: Fn(&RawLine) -> T + Sync,
    E: FnMut(Vec<T>) -> Result<()>,
{
    let (tx, rx) = mpsc::sync_channel(MAX_BATCH);
    // Detached on purpose: when `emit` stops early, the reader may be blocked on a
    // read that only ends with the process.
    std::thread::spawn(move || {
        let mut reader = reader;
        loop {
            let next = reader.next_line();
            let last = !matches!(next, Ok(Some(_)));
            if tx.send(next).is_err() || last {
                break;
            }
        }
    });
    let jobs = jobs.max(1);
    while let Ok(first) = rx.recv() {
        let Some(first) = first? else { break };
        let mut batch = vec![first];
        let mut ended = false;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Ok(Some(line))) => batch.push(line),
                Ok(Ok(None)) => {
                    ended = true;
                    break;
                }
                Ok(Err(e)) => {
                    emit(run_batch(&batch, jobs, &work))?;
                    return Err(e.into());
                }
                Err(_) => break,
            }
        }
        emit(run_batch(&batch, jobs, &work))?;
        if ended {
            break;
        }
    }
    Ok(())
}

fn run_batch<T, W>(batch: &[RawLine], jobs: usize, work: &W) -> Vec<T>
where
    T: Send,
    W: Fn(&RawLine) -> T + Sync,
{
    if jobs == 1 || batch.len() < MIN_PARALLEL {
        return batch.iter().map(work).collect();
    }
    let chunk = batch.len().div_ceil(jobs);
    std::thread::scope(|scope| {
        let mut parts = batch.chunks(chunk);
        let mine = parts.next().unwrap_or(&[]);
        let handles: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<T>>()))
            .collect();
        let mut results: Vec<T> = mine.iter().map(work).collect();
        for handle in handles {
            match handle.join() {
                Ok(part) => results.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn run(text: String, jobs: usize) -> Vec<u64> {
        let reader = LineReader::new(Cursor::new(text.into_bytes()), 1024);
        let mut seen = Vec::new();
        map_lines(
            reader,
            jobs,
            |line| line.number,
            |batch| {
                seen.extend(batch);
                Ok(())
            },
        )
        .unwrap();
        seen
    }

    #[test]
    fn keeps_input_order_across_threads() {
        let text: String = (0..20_000).map(|i| i.to_string() + "\n").collect();
        let got = run(text, 4);
        assert_eq!(got, (1..=20_000).collect::<Vec<u64>>());
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert!(run(String::new(), 2).is_empty());
    }

    #[test]
    fn an_emit_error_stops_the_run() {
        let text: String = (0..10).map(|i| i.to_string() + "\n").collect();
        let reader = LineReader::new(Cursor::new(text.into_bytes()), 1024);
        let err = map_lines(
            reader,
            1,
            |line| line.number,
            |_| Err(crate::Error::usage("stop")),
        )
        .unwrap_err();
        assert_eq!(err.message(), "stop");
    }
}
