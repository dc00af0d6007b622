//! This node's input: stdin lines (messages to send, `peer` records naming
//! neighbours) read on their own thread, and a watch on stdout that notices when its
//! reader goes away (so the tool ends even when it has nothing to print).

use crate::run::{Event, Stop};
use p2p_shared::ndjson::input::LineReader;
use serde_json::{Map, Value};
use smol::channel::Sender;
use std::io::{self, BufReader};
use std::os::fd::AsFd;

/// What one input line asks for.
#[derive(Debug)]
pub enum Line {
    /// Send this payload.
    Publish(Value),
    /// Connect to this neighbour (a `peer` record).
    Peer(Map<String, Value>),
    /// The line cannot be used.
    Refused(String),
}

/// Classifies one line: a `peer` record names a neighbour, a `peer_gone` record is
/// ignored (`None`; the transport notices departures itself), any other JSON object
/// is sent as it is, and any other line is sent as a string.
pub fn classify(bytes: &[u8]) -> Option<Line> {
    if p2p_shared::ndjson::input::is_blank(bytes) {
        return None;
    }
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(bytes) {
        return match object.get("type").and_then(Value::as_str) {
            Some("peer") => Some(Line::Peer(object)),
            Some("peer_gone") => None,
            _ => Some(Line::Publish(Value::Object(object))),
        };
    }
    Some(match std::str::from_utf8(bytes) {
        Ok(text) => Line::Publish(Value::String(text.to_owned())),
        Err(_) => Line::Refused("not UTF-8 text".to_owned()),
    })
}

/// Reads stdin on a thread, sending each line as an event.
pub fn spawn_stdin(events: Sender<Event>, max_line: usize) {
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut reader = LineReader::new(BufReader::new(stdin.lock()), max_line);
        while let Ok(Some(line)) = reader.next_line() {
            let parsed = match &line.bytes {
                None => Some(Line::Refused(format!(
                    "longer than the largest message (--max-size {max_line})"
                ))),
                Some(bytes) => classify(bytes),
            };
            if let Some(parsed) = parsed
                && events
                    .send_blocking(Event::Line {
                        number: line.number,
                        line: parsed,
                    })
                    .is_err()
            {
                return;
            }
        }
        let _ = events.send_blocking(Event::InputEnded);
    });
}

/// Watches stdout on a thread: when its reader goes away (the pipe reports an
/// error or hang-up), sends a stop event.
pub fn spawn_stdout_watch(events: Sender<Event>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    std::thread::spawn(move || {
        let stdout = io::stdout();
        loop {
            let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(n) if n > 0 => {
                    let gone = fds[0].revents().is_some_and(|r| {
                        r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL)
                    });
                    if gone {
                        let _ = events.send_blocking(Event::Stop(Stop::StdoutGone));
                        return;
                    }
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_messages_peers_or_ignored() {
        assert!(matches!(
            classify(br#"{"a":1}"#),
            Some(Line::Publish(Value::Object(_)))
        ));
        assert!(matches!(
            classify(b"hello world"),
            Some(Line::Publish(Value::String(s))) if s == "hello world"
        ));
        assert!(matches!(
            classify(b"42"),
            Some(Line::Publish(Value::String(s))) if s == "42"
        ));
        assert!(matches!(
            classify(br#"{"type":"peer","addrs":[]}"#),
            Some(Line::Peer(_))
        ));
        assert!(classify(br#"{"type":"peer_gone","id":"x"}"#).is_none());
        assert!(classify(b"   ").is_none());
        assert!(matches!(classify(b"\xff\xfe"), Some(Line::Refused(_))));
    }
}
