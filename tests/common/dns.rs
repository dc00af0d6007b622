//! Helpers for the DNS tests: start `p2p-dns-rr serve` on a free loopback port, ask
//! it (or any server) with the real `dig`, and make signed peer records.

use crate::common::{self, Running};
use p2p_shared::identity::Identity;
use p2p_shared::ndjson::peer::PeerRecord;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running `p2p-dns-rr serve` and the address it listens on.
pub struct Server {
    /// The process.
    pub process: Running,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    /// Its home directory, removed when the server is dropped.
    _home: tempfile::TempDir,
}

/// Starts `serve --zone peers.test --bind 127.0.0.1:0` with extra arguments.
pub fn serve(extra: &[&str]) -> Server {
    let home = common::tempdir();
    let mut cmd = common::command(&crate::bin!("p2p-dns-rr"), home.path());
    cmd.args(["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"])
        .args(extra);
    let mut process = Running::start(cmd);
    let listening = process.wait_for(WAIT, |r| r["type"] == "listening");
    let addr = listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://")
        .parse()
        .unwrap();
    Server {
        process,
        addr,
        _home: home,
    }
}

/// Runs `dig` against `server` with `args`; returns its stdout.
pub fn dig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "+norec",
            "+time=2",
            "+tries=2",
        ])
        .args(args)
        .output()
        .expect("running dig");
    String::from_utf8(out.stdout).unwrap()
}

/// `dig +short` lines, sorted.
pub fn short(server: SocketAddr, name: &str, rtype: &str) -> Vec<String> {
    let mut lines: Vec<String> = dig(server, &["+short", name, rtype])
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The `status:` of a dig answer (NOERROR, NXDOMAIN, …).
pub fn status(answer: &str) -> String {
    answer
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no status in {answer}"))
        .to_owned()
}

/// Asks until `check` holds for `dig +short NAME TYPE`, failing at the deadline.
pub fn until(
    server: SocketAddr,
    name: &str,
    rtype: &str,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let end = Instant::now() + WAIT;
    loop {
        let got = short(server, name, rtype);
        if check(&got) {
            return got;
        }
        assert!(
            Instant::now() < end,
            "{name} {rtype} never became right; last: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A signed peer record for identity `seed`, as one NDJSON line.
pub fn signed_peer(
    seed: u8,
    addrs: &[&str],
    topic: Option<&str>,
) -> (Identity, PeerRecord, String) {
    let me = Identity::from_seed([seed; 32]);
    let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
    let record = PeerRecord::signed(&me, addrs, topic.map(str::to_owned)).unwrap();
    let line = serde_json::to_string(&record).unwrap();
    (me, record, line)
}

/// An unsigned peer line with one udp address.
pub fn plain_peer(ip: &str, port: u16, topic: Option<&str>) -> String {
    let mut value = serde_json::json!({"type": "peer", "addrs": [format!("udp://{ip}:{port}")]});
    if let Some(topic) = topic {
        value["topic"] = topic.into();
    }
    value.to_string()
}
