//! `p2p-dns-rr publish` against a real authoritative server: Knot DNS, started by the
//! test in a temporary directory on a free loopback port, checked with `dig`.

use crate::common;
use crate::common::dns::{WAIT, dig, plain_peer, short, signed_peer};
use crate::common::{Guard, Running};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "dGVzdC1vbmx5LXRzaWcta2V5LWZvci1wMnAtZG5zLXJy";

/// A Knot DNS server for zone `example.test`, accepting updates signed with key
/// `update` (SECRET). Killed when dropped; its files go with the temporary directory.
struct Knot {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    _process: Guard,
}

/// A loopback port free for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_knot() -> Option<Knot> {
    if !common::have("start_knot", "knotd") || !common::have("start_knot", "dig") {
        return None;
    }
    let dir = common::tempdir();
    let d = dir.path().display();
    let port = free_port();
    let config = format!(
        "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n\
database:\n    storage: \"{d}\"\n\
log:\n  - target: stderr\n    any: info\n\
key:\n  - id: update\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
acl:\n  - id: updates\n    key: update\n    action: update\n\
zone:\n  - domain: example.test\n    storage: \"{d}\"\n    file: example.test.zone\n    acl: updates\n"
    );
    std::fs::write(dir.path().join("knot.conf"), config).unwrap();
    std::fs::write(
        dir.path().join("example.test.zone"),
        "$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 5\n@ NS ns\nns A 127.0.0.1\n",
    )
    .unwrap();
    let process = Command::new("knotd")
        .arg("-c")
        .arg(dir.path().join("knot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting knotd");
    let knot = Knot {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        dir,
        _process: Guard(process),
    };
    // Knot is ready when it answers for its zone.
    let end = Instant::now() + WAIT;
    while short(knot.addr, "example.test", "SOA").is_empty() {
        assert!(Instant::now() < end, "knotd did not start on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(knot)
}

fn publish(knot: &Knot, key: &Path, extra: &[&str]) -> Running {
    let mut cmd = common::command(&bin!("p2p-dns-rr"), knot.dir.path());
    cmd.args([
        "publish",
        "--server",
        &knot.addr.to_string(),
        "--zone",
        "example.test",
    ])
    .args([
        "--name",
        "peers.example.test",
        "--every",
        "100ms",
        "--tsig-key",
    ])
    .arg(key)
    .args(extra);
    Running::start(cmd)
}

#[test]
fn publish_keeps_knot_current_with_signed_updates() {
    let Some(knot) = start_knot() else { return };
    let key = knot.dir.path().join("update.key");
    std::fs::write(&key, format!("hmac-sha256:update:{SECRET}\n")).unwrap();
    let mut publisher = publish(&knot, &key, &[]);
    let (me, record, line) = signed_peer(
        5,
        &["udp://192.0.2.5:4000", "udp://[2001:db8::5]:4000"],
        None,
    );
    publisher.send_line(&line);
    publisher.send_line(&plain_peer("198.51.100.9", 5000, None));
    publisher.wait_for(WAIT, |r| r["type"] == "published" && r["peers"] == 2);
    let addr = knot.addr;
    assert_eq!(
        short(addr, "peers.example.test", "A"),
        ["192.0.2.5", "198.51.100.9"]
    );
    assert_eq!(short(addr, "peers.example.test", "AAAA"), ["2001:db8::5"]);
    let peer_name = format!("{}.peers.example.test", me.id());
    assert_eq!(
        short(addr, "_p2p._udp.peers.example.test", "SRV"),
        [format!("0 1 4000 {peer_name}.")]
    );
    assert_eq!(short(addr, &peer_name, "A"), ["192.0.2.5"]);

    // What publish wrote, p2p-dns-rr query (and so p2p-discover --dns) reads back.
    let mut cmd = common::command(&bin!("p2p-dns-rr"), knot.dir.path());
    cmd.args(["query", &peer_name, "--server", &addr.to_string()]);
    let back = common::run(cmd, b"", WAIT);
    assert_eq!(back.code(), 0, "{}", back.stderr);
    assert_eq!(back.records()[0]["sig"], record.sig.unwrap().as_str());

    // A peer that goes is removed from the server, all its names with it.
    publisher.send_line(&format!(
        "{{\"type\":\"peer_gone\",\"id\":\"{}\"}}",
        me.id()
    ));
    publisher.wait_for(WAIT, |r| r["type"] == "published" && r["peers"] == 1);
    assert_eq!(short(addr, "peers.example.test", "A"), ["198.51.100.9"]);
    assert!(short(addr, "_p2p._udp.peers.example.test", "SRV").is_empty());
    assert!(dig(addr, &[&peer_name, "TXT"]).contains("status: NXDOMAIN"));
    publisher.close_stdin();
    let status = publisher
        .wait(WAIT)
        .expect("publish did not end with its input");
    assert_eq!(status.code(), Some(0), "{}", publisher.stderr());
    // The zone's own records were left alone.
    assert_eq!(short(addr, "example.test", "NS"), ["ns.example.test."]);
}

#[test]
fn publish_reports_a_key_the_server_does_not_accept() {
    let Some(knot) = start_knot() else { return };
    let key = knot.dir.path().join("wrong.key");
    std::fs::write(
        &key,
        "hmac-sha256:update:d3JvbmcgdGVzdCBrZXkgZm9yIHAycC1kbnMtcnI=\n",
    )
    .unwrap();
    let mut publisher = publish(&knot, &key, &[]);
    publisher.send_line(&plain_peer("198.51.100.10", 5000, None));
    let end = Instant::now() + WAIT;
    while !publisher.stderr().contains("NOTAUTH") {
        assert!(
            Instant::now() < end,
            "no NOTAUTH warning: {}",
            publisher.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    publisher.close_stdin();
    let status = publisher
        .wait(WAIT)
        .expect("publish did not end with its input");
    assert_eq!(status.code(), Some(1));
    assert!(
        publisher.stderr().contains("TSIG key"),
        "{}",
        publisher.stderr()
    );
    assert!(short(knot.addr, "peers.example.test", "A").is_empty());
    // Without a key at all, Knot refuses the update.
    let mut cmd = common::command(&bin!("p2p-dns-rr"), knot.dir.path());
    cmd.args([
        "publish",
        "--server",
        &knot.addr.to_string(),
        "--zone",
        "example.test",
    ]);
    let out = common::run(
        cmd,
        plain_peer("198.51.100.11", 5000, None).as_bytes(),
        WAIT,
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--tsig-key"), "{}", out.stderr);
}
