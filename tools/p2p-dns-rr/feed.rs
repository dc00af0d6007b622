//! Peers on stdin: a reader thread hands numbered lines to the control loop, which
//! applies them to the live table between its other duties (expiry, stats, updates).

use crate::table::{Change, Table};
use p2p_shared::ndjson::input::{self, LineError, LineReader, Problems, RawLine};
use p2p_shared::{Result, Status};
use std::io::BufReader;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Most lines applied before the control loop looks at its other duties.
const MAX_BATCH: usize = 4096;
/// Most lines the reader thread hands over at once: it sends fewer when it has read
/// all that was waiting, so a lone line is not held back.
const LINES_PER_SEND: usize = 256;

/// What the reader thread sends: lines, then the end of input or an error.
type Lines = Vec<std::io::Result<Option<RawLine>>>;

/// stdin, line by line, read on its own thread.
pub struct Feed {
    lines: Receiver<Lines>,
    open: bool,
    max_line: usize,
    busy: bool,
}

impl Feed {
    /// Starts reading stdin with lines of at most `max_line` bytes.
    pub fn stdin(max_line: usize) -> Self {
        let (tx, lines) = mpsc::sync_channel(MAX_BATCH / LINES_PER_SEND);
        // Detached: it may sit in a read that only ends with the process.
        std::thread::spawn(move || {
            let mut reader = LineReader::new(
                BufReader::with_capacity(1 << 16, std::io::stdin()),
                max_line,
            );
            let mut batch = Vec::with_capacity(LINES_PER_SEND);
            loop {
                let next = reader.next_line();
                let last = !matches!(next, Ok(Some(_)));
                batch.push(next);
                if (last || batch.len() >= LINES_PER_SEND || !reader.buffered())
                    && (tx.send(std::mem::take(&mut batch)).is_err() || last)
                {
                    break;
                }
            }
        });
        Feed {
            lines,
            open: true,
            max_line,
            busy: false,
        }
    }

    /// True when the last [`Feed::pump`] stopped at a full batch: more lines are
    /// waiting, so the zone need not be rebuilt for every batch.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// True until stdin has ended.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Waits up to `timeout` for lines and applies every one that has arrived (up to
    /// about [`MAX_BATCH`]) to `table`; bad lines are reported through `problems`.
    /// Returns true when the table's records changed.
    pub fn pump(
        &mut self,
        timeout: Duration,
        table: &mut Table,
        problems: &mut Problems,
    ) -> Result<bool> {
        if !self.open {
            std::thread::sleep(timeout);
            return Ok(false);
        }
        let mut changed = false;
        self.busy = false;
        let mut next = match self.lines.recv_timeout(timeout) {
            Ok(lines) => Some(lines),
            Err(RecvTimeoutError::Timeout) => return Ok(false),
            Err(RecvTimeoutError::Disconnected) => {
                self.open = false;
                return Ok(false);
            }
        };
        let mut done = 0;
        while let Some(lines) = next.take() {
            for item in lines {
                match item {
                    Ok(Some(line)) => changed |= self.apply(&line, table, problems)?,
                    Ok(None) => {
                        self.open = false;
                        return Ok(changed);
                    }
                    Err(e) => {
                        p2p_shared::diag::warn(format_args!("reading stdin: {e}"));
                        self.open = false;
                        return Ok(changed);
                    }
                }
                done += 1;
            }
            if done < MAX_BATCH {
                next = self.lines.try_recv().ok();
            } else {
                self.busy = true;
            }
        }
        Ok(changed)
    }

    fn apply(&self, line: &RawLine, table: &mut Table, problems: &mut Problems) -> Result<bool> {
        if line.bytes.as_deref().is_some_and(input::is_blank) {
            return Ok(false);
        }
        let outcome = input::parse_object(line, self.max_line).and_then(|object| {
            table
                .apply(object, Instant::now())
                .map_err(|e| LineError::new(line.number, Status::Usage, e))
        });
        match outcome {
            Ok(change) => Ok(change == Change::Changed),
            Err(problem) => {
                problems.report(&problem)?;
                Ok(false)
            }
        }
    }
}
