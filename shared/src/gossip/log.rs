//! The `--store FILE` log: one signed message per line (the wire form, so
//! `jq` reads it and every line verifies on its own), appended as messages are
//! published or delivered, loaded back at start so a restarted node knows what it
//! has and serves it to neighbours. Lines that do not verify are skipped and
//! counted. When the file holds far more lines than the history keeps, it is
//! rewritten with the newest ones (atomically, through a temporary file).

use super::message::Message;
use crate::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// An open log.
#[derive(Debug)]
pub struct Log {
    file: File,
    path: PathBuf,
}

/// What loading found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Valid messages, oldest first (at most the history size).
    pub messages: Vec<Message>,
    /// Lines skipped because they are not valid signed messages.
    pub bad_lines: Vec<u64>,
}

impl Log {
    /// Opens (creating) the log at `path`, loading the newest `keep` messages.
    pub fn open(path: &Path, keep: usize) -> Result<(Log, Loaded)> {
        let shown = path.display().to_string();
        let mut loaded = Loaded::default();
        let mut total = 0usize;
        if path.exists() {
            let reader =
                BufReader::new(File::open(path).with_context(|| format!("reading {shown}"))?);
            let mut number = 0u64;
            for line in reader.split(b'\n') {
                let line = line.with_context(|| format!("reading {shown}"))?;
                number += 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match Message::decode(&line).and_then(super::message::Unverified::verify) {
                    Ok(message) => {
                        total += 1;
                        loaded.messages.push(message);
                        if loaded.messages.len() > keep.saturating_mul(2).max(1024) {
                            let excess = loaded.messages.len() - keep;
                            loaded.messages.drain(..excess);
                        }
                    }
                    Err(_) => loaded.bad_lines.push(number),
                }
            }
            let excess = loaded.messages.len().saturating_sub(keep);
            loaded.messages.drain(..excess);
            if total > keep.saturating_mul(2).max(1024) {
                compact(path, &loaded.messages)?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {shown}"))?;
        Ok((
            Log {
                file,
                path: path.to_path_buf(),
            },
            loaded,
        ))
    }

    /// Appends one message as one line.
    pub fn append(&mut self, message: &Message) -> Result<()> {
        let mut line = Vec::with_capacity(message.wire.len() + 1);
        line.extend_from_slice(&message.wire);
        line.push(b'\n');
        self.file
            .write_all(&line)
            .with_context(|| format!("appending to {}", self.path.display()))
    }
}

fn compact(path: &Path, messages: &[Message]) -> Result<()> {
    let tmp = path.with_extension("compacting");
    let mut out = Vec::new();
    for message in messages {
        out.extend_from_slice(&message.wire);
        out.push(b'\n');
    }
    fs::write(&tmp, &out).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use serde_json::json;

    #[test]
    fn survives_a_restart_skips_bad_lines_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.ndjson");
        let me = Identity::from_seed([3; 32]);
        let (mut log, loaded) = Log::open(&path, 10).unwrap();
        assert!(loaded.messages.is_empty());
        for seq in 1..=3 {
            log.append(&Message::sign(&me, "t", seq, 0, &json!(seq)))
                .unwrap();
        }
        drop(log);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("not json\n");
        text.push_str(
            &text
                .lines()
                .next()
                .unwrap()
                .replace("\"data\":1", "\"data\":9"),
        );
        text.push('\n');
        fs::write(&path, text).unwrap();
        let (_, loaded) = Log::open(&path, 2).unwrap();
        let seqs: Vec<u64> = loaded.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [2, 3], "the newest two");
        assert_eq!(loaded.bad_lines, [4, 5], "garbage and a forged line");
        let (mut log, _) = Log::open(&path, 1).unwrap();
        for seq in 4..=1100 {
            log.append(&Message::sign(&me, "t", seq, 0, &json!(seq)))
                .unwrap();
        }
        drop(log);
        let (_, loaded) = Log::open(&path, 5).unwrap();
        assert_eq!(loaded.messages.len(), 5);
        assert_eq!(loaded.messages[4].seq, 1100);
        assert_eq!(
            fs::read_to_string(&path).unwrap().lines().count(),
            5,
            "compacted"
        );
    }
}
