//! A libtorrent DHT node for the interop tests: `libtorrent_node.py` beside this file,
//! run by /usr/bin/python3 with python3-libtorrent, driven by NDJSON commands.

use crate::common::{DEADLINE, Running, repo_root};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running libtorrent node on 127.0.0.1 (no default bootstrap, no LSD/UPnP/NAT-PMP).
pub struct Libtorrent {
    process: Running,
    /// Where it listens (`udp://127.0.0.1:PORT`).
    pub addr: String,
}

impl Libtorrent {
    /// Starts a node, or says why `test` is skipped and returns `None` when
    /// python3-libtorrent is not installed.
    pub fn start(test: &str) -> Option<Libtorrent> {
        if !crate::common::libtorrent_available(test) {
            return None;
        }
        let mut cmd = Command::new(crate::common::PYTHON);
        cmd.arg(repo_root().join("tests/common/libtorrent_node.py"));
        let mut process = Running::start(cmd);
        let listening = process.wait_for(DEADLINE, |r| r["type"] == "listening");
        let addr = listening["addr"].as_str().unwrap().to_owned();
        Some(Libtorrent { process, addr })
    }

    /// Sends one command and returns the node's answer.
    pub fn ask(&mut self, command: &Value) -> Value {
        self.process.send_line(&command.to_string());
        self.process
            .next_record(DEADLINE)
            .unwrap_or_else(|| panic!("libtorrent gave no answer: {}", self.process.stderr()))
    }

    /// Adds another node to this one's routing table.
    pub fn add_node(&mut self, addr: &str) {
        assert_eq!(
            self.ask(&json!({"cmd": "add_node", "addr": addr}))["type"],
            "ok"
        );
    }
}

/// Calls `attempt` until it returns something, failing the test after `limit`.
pub fn until<T>(limit: Duration, what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(found) = attempt() {
            return found;
        }
        assert!(Instant::now() < end, "{what}: nothing within {limit:?}");
    }
}
