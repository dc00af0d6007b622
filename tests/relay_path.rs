//! A relayed `p2p-pipe` stream and the direct path beside it: a connector without an
//! allocation of its own (no `--relay`) moves to the direct path like one with, and
//! a stream on a direct path that goes silent goes back to the relay, says so, and
//! loses no byte.

use crate::common;
use crate::relay::{
    WAIT, await_direct, lab_listener, lab_relay, lab_relay_first_connector, noise, path_events,
    pipe_listener, received_intact, serve,
};

use common::Running;
use serde_json::Value;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Waits until the `path` events in `file` number more than `seen` and the last says
/// `kind`; returns them all.
fn await_path(file: &Path, seen: usize, kind: &str, within: Duration) -> Vec<Value> {
    let end = Instant::now() + within;
    loop {
        let events = path_events(file);
        if events.len() > seen && events.last().is_some_and(|e| e["path"] == kind) {
            return events;
        }
        assert!(
            Instant::now() < end,
            "no {kind} path event after {seen} in {}: {events:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The kinds of `path` events in `file`, in order.
fn kinds(file: &Path) -> Vec<String> {
    path_events(file)
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// On loopback, a connector without `--relay` sends from a plain socket straight to
/// the listener's relayed address (`--relay-first`, the rendezvous named in the
/// ticket). It still looks for a direct path (its socket's address and the one the
/// rendezvous saw are its candidates) and moves the stream there; both sides report
/// the move, and every byte, sent before and after, arrives.
#[test]
fn a_connector_without_an_allocation_moves_to_the_direct_path() {
    let home = common::tempdir();
    let h = home.path();
    let mut cmd = common::command(&bin!("p2p-punch"), h);
    cmd.args(["serve", "--bind", "127.0.0.1:0"]);
    let mut rendezvous = Running::start(cmd);
    let listening = rendezvous.wait_for(WAIT, |r| r["type"] == "listening");
    let rendezvous_addr = listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://")
        .to_owned();
    let (mut relay, addr) = serve(h, &["--allow-any-peer", "--allow-loopback-peers"]);
    let relay_url = format!("turn://{addr}");
    let out = h.join("received");
    let listener_events = h.join("listen.ndjson");
    let (listener, ticket) = pipe_listener(
        h,
        &out,
        &[
            "--relay",
            &relay_url,
            "--rendezvous",
            &rendezvous_addr,
            "--events",
            listener_events.to_str().unwrap(),
        ],
    );
    let events = h.join("connect.ndjson");
    let mut cmd = common::command(&bin!("p2p-pipe"), h);
    cmd.args(["connect", ticket["ticket"].as_str().unwrap()])
        .args(["--bind", "127.0.0.1:0", "--relay-first", "--events"])
        .arg(&events)
        .env_remove("P2P_RELAY")
        .env_remove("P2P_RELAY_SECRET")
        .env_remove("P2P_RELAY_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(h.join("connector.err")).unwrap());
    let mut connector = common::Guard(cmd.spawn().unwrap());
    let mut stdin = connector.0.stdin.take().unwrap();
    let (before, after) = (noise(1 << 20, 5), noise(4 << 20, 6));
    stdin.write_all(&before).unwrap();
    let moved = await_direct(&events, Duration::from_secs(20));
    let first = &path_events(&events)[0];
    assert_eq!(first["path"], "relayed", "{first}");
    assert_eq!(first["remote"], ticket["relay"], "{first}");
    assert_ne!(moved["remote"], first["remote"], "{moved}");
    let theirs = await_direct(&listener_events, WAIT);
    assert_eq!(theirs["remote"], moved["local"], "{theirs} {moved}");
    assert_eq!(theirs["local"], moved["remote"], "{theirs} {moved}");
    stdin.write_all(&after).unwrap();
    drop(stdin);
    let status = connector.wait_until(WAIT).expect("the connector hung");
    let why = std::fs::read_to_string(h.join("connector.err")).unwrap();
    assert!(status.success(), "{why}");
    received_intact(listener, &out, &[before, after].concat());
    // The connector took no allocation: the listener's is the only one.
    let mut allocations = 0;
    while let Some(record) = relay.next_record(Duration::from_millis(500)) {
        allocations += usize::from(record["event"] == "allocated");
    }
    assert_eq!(allocations, 1);
    assert_eq!(kinds(&events), ["relayed", "direct"]);
    assert_eq!(kinds(&listener_events), ["relayed", "direct"]);
}

/// Makes host A's firewall drop all UDP to and from `ip`.
fn cut(lab: &common::natlab::Lab, home: &Path, ip: &str) {
    for (chain, side) in [("OUTPUT", "-d"), ("INPUT", "-s")] {
        let out = common::run(
            lab.command(
                home,
                "a",
                Path::new("iptables"),
                &["-I", chain, "-p", "udp", side, ip, "-j", "DROP"],
            ),
            b"",
            WAIT,
        );
        assert_eq!(out.code(), 0, "iptables: {}", out.stderr);
    }
}

/// In the NAT lab (root): a pair behind port-restricted NATs starts on the relay
/// (`--relay-first`) and moves to the direct path between the NATs; then host A's
/// firewall drops that path. Both sides find it silent, go back to the relay (a
/// `path` event each, with the reason) and the stream goes on: every byte, sent
/// before the move, on the direct path and after it was cut, arrives.
#[test]
fn a_direct_path_that_goes_silent_goes_back_to_the_relay_in_the_nat_lab() {
    use common::natlab::Lab;
    let test = "direct_path_goes_back_to_the_relay";
    let Some(lab) = Lab::up(test, "port-restricted", "port-restricted") else {
        return;
    };
    let home = common::tempdir();
    let h = home.path();
    let (_relay, relay_url) = lab_relay(&lab, h);
    let (mut listener, ticket) = lab_listener(&lab, h, &format!("--relay {relay_url}"));
    let events = h.join("connect.ndjson");
    let listener_events = h.join("listen.ndjson");
    let (mut connector, mut stdin) = lab_relay_first_connector(&lab, h, &ticket, &relay_url);
    let (before, during, after) = (noise(1 << 20, 7), noise(2 << 20, 8), noise(1 << 20, 9));
    stdin.write_all(&before).unwrap();
    let moved = await_direct(&events, Duration::from_secs(20));
    let remote = moved["remote"].as_str().unwrap();
    assert!(remote.starts_with("udp://198.51.100.1:"), "{moved}");
    await_direct(&listener_events, WAIT);
    // Host A's firewall now drops everything between it and NAT B's address: the
    // direct path. The relay, on the server, is still reachable.
    cut(&lab, h, "198.51.100.2");
    let cut_at = Instant::now();
    stdin.write_all(&during).unwrap();
    let back = await_path(&events, 2, "relayed", Duration::from_secs(20));
    eprintln!(
        "direct path cut: the connector was back on the relay after {:.1?}",
        cut_at.elapsed()
    );
    let reason = back[2]["reason"].as_str().unwrap();
    assert!(reason.contains("went silent"), "{}", back[2]);
    assert_eq!(back[2]["remote"], ticket["relay"], "{}", back[2]);
    let theirs = await_path(&listener_events, 2, "relayed", WAIT);
    assert!(
        !theirs[2]["remote"]
            .as_str()
            .unwrap()
            .starts_with("udp://198.51.100.2:"),
        "{}",
        theirs[2]
    );
    stdin.write_all(&after).unwrap();
    drop(stdin);
    let status = connector.wait_until(Duration::from_secs(30));
    let why = std::fs::read_to_string(h.join("connector.err")).unwrap();
    assert!(status.expect("the connector hung").success(), "{why}");
    let status = listener.wait(WAIT).and_then(|s| s.code());
    assert_eq!(status, Some(0), "{}", listener.stderr());
    let got = std::fs::read(h.join("received.bin")).unwrap();
    assert_eq!(got.len(), before.len() + during.len() + after.len());
    assert!(
        got == [before, during, after].concat(),
        "the received bytes differ"
    );
    for file in [&events, &listener_events] {
        assert_eq!(
            kinds(file),
            ["relayed", "direct", "relayed"],
            "{:#?}",
            path_events(file)
        );
    }
}
