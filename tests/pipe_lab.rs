//! `p2p-pipe` in the NAT lab (scripts/natlab): the listener's direct addresses are
//! private, so the connector's direct dial fails and the stream ends on a path
//! punched through the rendezvous of `p2p-punch serve`, and carries every byte.
//! Needs root; skips with a message otherwise (fails under `P2P_REQUIRE_PEERS=1`).

use crate::common;
use crate::common::natlab::{ALT, Lab, SERVER};
use common::{DEADLINE, Running};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn wait_for_file(path: &Path, what: &Running) -> String {
    let end = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "no {}:\n{}",
            path.display(),
            what.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_stderr(process: &Running, text: &str) {
    let end = Instant::now() + WAIT;
    while !process.stderr().contains(text) {
        assert!(
            Instant::now() < end,
            "no '{text}' within {WAIT:?}:\n{}",
            process.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Pipes data both ways between host A (listening, behind `type_a`) and host B
/// (connecting, behind `type_b`); returns the connector's path event.
fn punched_pipe(test: &str, type_a: &str, type_b: &str) -> Option<Value> {
    let home = common::tempdir();
    let lab = Lab::up(test, type_a, type_b)?;
    let h = home.path();
    let mut server = Running::start(lab.command(
        h,
        "srv",
        &bin!("p2p-punch"),
        &["serve", "--bind", SERVER, "--alt", ALT],
    ));
    server.wait_for(WAIT, |r| r["type"] == "listening");
    let key_a = common::make_key(h, "a.json");
    common::make_key(h, "b.json");
    let ticket_file = h.join("ticket.json");
    // The listener's stdout goes to a file (the harness reads stdout as text lines).
    let received = h.join("received.bin");
    let script = format!(
        "exec \"$0\" listen -i a.json --rendezvous {SERVER} --ticket-file ticket.json > received.bin"
    );
    let mut listen = lab.command(h, "a", Path::new("sh"), &["-c", &script]);
    listen.arg(bin!("p2p-pipe")).current_dir(h);
    let mut listener = Running::start(listen);
    let ticket: Value =
        serde_json::from_str(wait_for_file(&ticket_file, &listener).trim()).unwrap();
    assert_eq!(ticket["id"], key_a.as_str());
    assert_eq!(ticket["rendezvous"], format!("udp://{SERVER}"));
    wait_for_stderr(&listener, "registered at the rendezvous");
    let up: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let down = b"the listener's answer".to_vec();
    let stdin = listener.stdin.as_mut().unwrap();
    std::io::Write::write_all(stdin, &down).unwrap();
    listener.close_stdin();
    let ev = h.join("connect.ndjson");
    let out = common::run(
        lab.command(
            h,
            "b",
            &bin!("p2p-pipe"),
            &[
                "connect",
                ticket["ticket"].as_str().unwrap(),
                "-i",
                h.join("b.json").to_str().unwrap(),
                "--events",
                ev.to_str().unwrap(),
            ],
        ),
        &up,
        DEADLINE,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, down);
    assert_eq!(
        listener.wait(WAIT).and_then(|s| s.code()),
        Some(0),
        "{}",
        listener.stderr()
    );
    // The listener's stdout is read line by line: its bytes are checked by digest.
    let events = events(&ev);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "failed" && e["path"] == "direct"),
        "the private addresses should not have worked: {events:?}"
    );
    let closed = events.iter().find(|e| e["event"] == "closed").unwrap();
    assert_eq!(closed["bytes_out"], up.len());
    assert_eq!(closed["ok"], true);
    let got = std::fs::read(&received).unwrap();
    assert_eq!(
        Sha256::digest(&got),
        Sha256::digest(&up),
        "the listener got other bytes"
    );
    Some(events.into_iter().find(|e| e["event"] == "path").unwrap())
}

#[test]
fn two_port_restricted_nats_end_on_a_punched_path() {
    let Some(path) = punched_pipe(
        "two_port_restricted_nats",
        "port-restricted",
        "port-restricted",
    ) else {
        return;
    };
    assert_eq!(path["path"], "punched", "{path}");
    assert_eq!(path["technique"], "simultaneous-open", "{path}");
    assert_eq!(
        path["remote"].as_str().unwrap().split(':').nth(1),
        Some("//198.51.100.1")
    );
}

#[test]
fn a_symmetric_nat_and_a_port_restricted_one_end_on_a_birthday_punched_path() {
    let Some(path) = punched_pipe(
        "symmetric_x_port_restricted",
        "port-restricted",
        "symmetric",
    ) else {
        return;
    };
    assert_eq!(path["path"], "punched", "{path}");
    assert_eq!(path["technique"], "birthday", "{path}");
}
