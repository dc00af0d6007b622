//! `p2p-relay` on loopback: data relayed both ways through permissions and channels,
//! every access rule and limit refused with its STUN error code, expiry; and interop
//! with coturn both ways (our probe and client against coturn's server, coturn's
//! `turnutils_uclient` against ours).

use crate::common;

use common::{DEADLINE, Finished, Running};
use p2p_shared::connect::turn_client::{Client, Credentials};
use p2p_shared::identity::Identity;
use serde_json::Value;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) const WAIT: Duration = Duration::from_secs(10);
const SECRET: &str = "test-secret";

/// Starts `p2p-relay serve` on loopback with `args`; returns it and its address.
pub(crate) fn serve(home: &Path, args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = common::command(&bin!("p2p-relay"), home);
    cmd.args(["serve", "--bind", "127.0.0.1:0"]).args(args);
    let mut server = Running::start(cmd);
    let listening = server.wait_for(WAIT, |r| r["type"] == "listening");
    let addr = listening["addr"].as_str().unwrap();
    (server, addr.trim_start_matches("udp://").parse().unwrap())
}

fn probe(home: &Path, args: &[&str]) -> Finished {
    let mut cmd = common::command(&bin!("p2p-relay"), home);
    cmd.arg("probe").args(args);
    common::run(cmd, b"", DEADLINE)
}

fn user(name: &str, password: &str) -> Credentials {
    Credentials::User {
        username: name.to_owned(),
        password: password.to_owned(),
    }
}

fn secret(secret: &str) -> Credentials {
    Credentials::Secret {
        secret: secret.to_owned(),
        name: "tester".to_owned(),
    }
}

fn allocate(server: SocketAddr, credentials: Credentials) -> p2p_shared::Result<Client> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    Client::allocate(socket, server, credentials, None, Duration::from_secs(3))
}

/// The error message of a refused allocation (which names the STUN code).
fn refusal(result: p2p_shared::Result<Client>) -> String {
    match result {
        Ok(client) => panic!(
            "allocated {} where a refusal was expected",
            client.relayed()
        ),
        Err(e) => e.message().to_owned(),
    }
}

/// Waits for the relay's `refused` event and checks its code.
fn refused(server: &mut Running, code: u64) -> Value {
    server.wait_for(WAIT, |r| r["event"] == "refused" && r["code"] == code)
}

fn peer_socket() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[test]
fn relays_both_ways_through_send_indications_and_channels() {
    let home = common::tempdir();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "alice:pw",
            "--allow-loopback-peers",
            "--stats-every",
            "200ms",
        ],
    );
    let mut client = allocate(addr, user("alice", "pw")).unwrap();
    assert_eq!(client.relayed().ip(), addr.ip());
    assert_eq!(client.lifetime(), Duration::from_mins(10));
    let (peer, peer_addr) = peer_socket();
    let mut buf = [0u8; 2048];

    // No permission yet: the relay drops what the peer sends.
    peer.send_to(b"too early", client.relayed()).unwrap();
    server.wait_for(WAIT, |r| {
        r["type"] == "stats" && r["dropped_no_permission"].as_u64() >= Some(1)
    });

    client.create_permission(&[peer_addr]).unwrap();
    client.send_to(b"via send", peer_addr).unwrap();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"via send"[..], client.relayed()));
    peer.send_to(b"via data", client.relayed()).unwrap();
    client.socket().set_read_timeout(Some(WAIT)).unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"via data"[..], peer_addr));

    let channel = client.bind_channel(peer_addr).unwrap();
    assert_eq!(channel, 0x4000);
    client.send_to(b"via channel", peer_addr).unwrap();
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via channel");
    peer.send_to(b"back on channel", client.relayed()).unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"back on channel"[..], peer_addr));

    let stats = server.wait_for(WAIT, |r| {
        r["type"] == "stats" && r["bytes_to_peers"].as_u64() == Some(19)
    });
    assert_eq!(stats["bytes_to_clients"], 23);
    client.release().unwrap();
    let released = server.wait_for(WAIT, |r| r["event"] == "released");
    assert_eq!(released["bytes_to_peers"], 19);
}

#[test]
fn access_needs_credentials_and_refuses_wrong_ones() {
    let home = common::tempdir();
    let listed = Identity::generate().unwrap();
    let allow = home.path().join("allow.txt");
    std::fs::write(&allow, format!("# who may relay\n{}\n", listed.id())).unwrap();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "alice:pw",
            "--auth-secret",
            SECRET,
            "--allow",
            allow.to_str().unwrap(),
        ],
    );
    assert!(allocate(addr, user("alice", "pw")).is_ok());
    assert!(allocate(addr, secret(SECRET)).is_ok());
    let by_key = allocate(addr, Credentials::PeerKey(Box::new(listed))).unwrap();
    assert_eq!(by_key.realm(), "p2p-relay");

    assert!(refusal(allocate(addr, Credentials::None)).contains("401"));
    assert!(refusal(allocate(addr, user("alice", "wrong"))).contains("401"));
    refused(&mut server, 401);
    assert!(refusal(allocate(addr, secret("other-secret"))).contains("401"));
    let unlisted = Credentials::PeerKey(Box::new(Identity::generate().unwrap()));
    assert!(refusal(allocate(addr, unlisted)).contains("403"));
    let event = refused(&mut server, 403);
    assert_eq!(event["reason"], "peer id not allowed");
}

#[test]
fn an_open_relay_is_refused_at_start() {
    let home = common::tempdir();
    let mut cmd = common::command(&bin!("p2p-relay"), home.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0"]);
    let out = common::run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("open relay"), "{}", out.stderr);
}

#[test]
fn allocation_limits_answer_486_and_508() {
    let home = common::tempdir();
    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--max-per-user", "1"]);
    let _a = allocate(addr, user("a", "pw")).unwrap();
    assert!(refusal(allocate(addr, user("a", "pw"))).contains("486"));
    refused(&mut server, 486);
    drop(server);

    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--max-per-ip", "1"]);
    let _a = allocate(addr, user("a", "pw")).unwrap();
    assert!(refusal(allocate(addr, user("a", "pw"))).contains("486"));
    refused(&mut server, 486);
    drop(server);

    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--max-allocations", "1"]);
    let _a = allocate(addr, user("a", "pw")).unwrap();
    assert!(refusal(allocate(addr, user("a", "pw"))).contains("508"));
    refused(&mut server, 508);
}

#[test]
fn permission_and_channel_limits_and_forbidden_peers() {
    let home = common::tempdir();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "a:pw",
            "--max-permissions",
            "1",
            "--max-channels",
            "1",
        ],
    );
    let mut client = allocate(addr, user("a", "pw")).unwrap();
    // Loopback peers are refused without --allow-loopback-peers...
    let err = client
        .create_permission(&["127.0.0.2:9".parse().unwrap()])
        .unwrap_err();
    assert!(err.message().contains("403"), "{err}");
    refused(&mut server, 403);
    // ...and so are the relay's own ports, except the relayed address of another
    // allocation (two peers on one relay).
    let err = client.bind_channel(addr).unwrap_err();
    assert!(err.message().contains("403"), "{err}");
    let mut other = allocate(addr, user("a", "pw")).unwrap();
    client.bind_channel(other.relayed()).unwrap();
    other.create_permission(&[client.relayed()]).unwrap();
    client.send_to(b"relay to relay", other.relayed()).unwrap();
    other.socket().set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = other.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"relay to relay"[..], client.relayed())
    );
    drop(server);

    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "a:pw",
            "--max-permissions",
            "1",
            "--max-channels",
            "1",
            "--allow-loopback-peers",
        ],
    );
    let mut client = allocate(addr, user("a", "pw")).unwrap();
    client
        .create_permission(&["127.0.0.1:9".parse().unwrap()])
        .unwrap();
    let err = client
        .create_permission(&["127.0.0.2:9".parse().unwrap()])
        .unwrap_err();
    assert!(err.message().contains("508"), "{err}");
    refused(&mut server, 508);
    client.bind_channel("127.0.0.1:9".parse().unwrap()).unwrap();
    let err = client
        .bind_channel("127.0.0.1:10".parse().unwrap())
        .unwrap_err();
    assert!(err.message().contains("508"), "{err}");
    let event = refused(&mut server, 508);
    assert_eq!(event["method"], "ChannelBind");

    // A second Allocate from the same 5-tuple is an allocation mismatch.
    let socket = client.socket().try_clone().unwrap();
    let again = Client::allocate(socket, addr, user("a", "pw"), None, Duration::from_secs(3));
    assert!(refusal(again).contains("437"));
}

#[test]
fn rate_and_byte_limits() {
    let home = common::tempdir();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "a:pw",
            "--allow-loopback-peers",
            "--rate",
            "10K",
            "--max-bytes",
            "40K",
            "--stats-every",
            "200ms",
        ],
    );
    let mut client = allocate(addr, user("a", "pw")).unwrap();
    let (peer, peer_addr) = peer_socket();
    client.bind_channel(peer_addr).unwrap();
    // 50 KB at once: the bucket holds one second (10 KB), the rest is dropped.
    for _ in 0..50 {
        client.send_to(&[7u8; 1000], peer_addr).unwrap();
    }
    let stats = server.wait_for(WAIT, |r| {
        r["type"] == "stats" && r["dropped_rate"].as_u64() >= Some(30)
    });
    assert!(
        stats["bytes_to_peers"].as_u64().unwrap() <= 11_000,
        "{stats}"
    );
    let mut buf = [0u8; 2048];
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut received = 0;
    while let Ok((n, _)) = peer.recv_from(&mut buf) {
        received += n;
    }
    assert!((1000..=11_000).contains(&received), "{received}");
    // Keep sending within the rate until the byte limit closes the allocation.
    let end = Instant::now() + Duration::from_secs(20);
    let closed = loop {
        client.send_to(&[7u8; 1000], peer_addr).unwrap();
        if let Some(r) = server.next_record(Duration::from_millis(100))
            && r["event"] == "expired"
        {
            break r;
        }
        assert!(
            Instant::now() < end,
            "the byte limit never closed the allocation"
        );
    };
    assert_eq!(closed["reason"], "byte limit");
}

#[test]
fn allocations_expire_and_idle_ones_close() {
    let home = common::tempdir();
    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--max-lifetime", "1s"]);
    let client = allocate(addr, user("a", "pw")).unwrap();
    assert_eq!(client.lifetime(), Duration::from_secs(1));
    let expired = server.wait_for(WAIT, |r| r["event"] == "expired");
    assert_eq!(expired["reason"], "lifetime");
    drop(server);

    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--idle-timeout", "1s"]);
    let mut client = allocate(addr, user("a", "pw")).unwrap();
    let expired = server.wait_for(WAIT, |r| r["event"] == "expired");
    assert_eq!(expired["reason"], "idle");
    // Gone: a refresh is an allocation mismatch.
    assert!(
        client
            .refresh(Duration::from_mins(1))
            .unwrap_err()
            .message()
            .contains("437")
    );
}

#[test]
fn probe_reports_the_allocation_and_exit_statuses() {
    let home = common::tempdir();
    let (_server, addr) = serve(
        home.path(),
        &["--auth-secret", SECRET, "--allow-loopback-peers"],
    );
    let url = format!("turn://{addr}");
    let out = probe(
        home.path(),
        &[
            &url,
            "--auth-secret",
            SECRET,
            "--peer",
            "127.0.0.1:9",
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let r = &out.records()[0];
    assert_eq!(r["type"], "relay");
    assert_eq!(r["auth"], "shared-secret");
    assert!(
        r["relayed"]
            .as_str()
            .unwrap()
            .starts_with("udp://127.0.0.1:")
    );
    assert_eq!(r["lifetime_s"], 600);
    assert_eq!(r["channel"], 0x4000);
    assert_eq!(r["released"], true);
    assert!(r["software"].as_str().unwrap().starts_with("p2p-relay"));

    let out = probe(
        home.path(),
        &[&url, "--auth-secret", "wrong", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("401"), "{}", out.stderr);

    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let nobody = format!("turn://{}", silent.local_addr().unwrap());
    let out = probe(
        home.path(),
        &[&nobody, "--timeout", "500ms", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 3, "{}", out.stderr);

    let out = probe(home.path(), &["turn:192.0.2.1?transport=tcp"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
}

/// True when coturn's `program` is installed (otherwise the test skips, or fails
/// under `P2P_REQUIRE_PEERS=1`).
fn coturn_installed(test: &str, program: &str) -> bool {
    common::have(test, program)
}

/// coturn on a free loopback port with shared-secret auth and loopback peers
/// allowed; killed on drop.
struct Coturn {
    addr: SocketAddr,
    _process: Running,
}

impl Coturn {
    fn start(home: &Path) -> Option<Coturn> {
        if !coturn_installed("coturn interop", "turnserver") {
            return None;
        }
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("turnserver");
        cmd.args([
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            "--allow-loopback-peers",
            "--use-auth-secret",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            "--simple-log",
            "--realm=coturn.test",
        ])
        .arg(format!("--static-auth-secret={SECRET}"))
        .arg(format!("--listening-port={port}"))
        .arg(format!(
            "--pidfile={}",
            home.join("turnserver.pid").display()
        ))
        .arg(format!("--userdb={}", home.join("turndb.sqlite").display()));
        let coturn = Coturn {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _process: Running::start(cmd),
        };
        // coturn prints nothing machine-readable when ready: ask until it answers.
        let end = Instant::now() + WAIT;
        while Instant::now() < end {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let timeout = Duration::from_millis(300);
            if let Ok(mut client) =
                Client::allocate(socket, coturn.addr, secret(SECRET), None, timeout)
            {
                client.release().unwrap();
                return Some(coturn);
            }
        }
        panic!("coturn did not start");
    }
}

#[test]
fn probe_and_client_against_coturn() {
    let home = common::tempdir();
    let Some(coturn) = Coturn::start(home.path()) else {
        return;
    };
    let url = format!("turn://{}", coturn.addr);
    let out = probe(
        home.path(),
        &[
            &url,
            "--auth-secret",
            SECRET,
            "--peer",
            "127.0.0.1:9",
            "--bind",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let r = &out.records()[0];
    assert_eq!(r["realm"], "coturn.test");
    assert!(r["software"].as_str().unwrap().starts_with("Coturn"), "{r}");
    assert_eq!(r["released"], true);
    let out = probe(
        home.path(),
        &[&url, "--auth-secret", "wrong", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);

    // Our client relays both ways through coturn.
    let mut client = allocate(coturn.addr, secret(SECRET)).unwrap();
    let (peer, peer_addr) = peer_socket();
    client.bind_channel(peer_addr).unwrap();
    client.send_to(b"through coturn", peer_addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"through coturn"[..], client.relayed())
    );
    peer.send_to(b"and back", client.relayed()).unwrap();
    client.socket().set_read_timeout(Some(WAIT)).unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"and back"[..], peer_addr));
    client.release().unwrap();
}

#[test]
fn coturn_uclient_relays_through_p2p_relay() {
    if !coturn_installed(
        "coturn_uclient_relays_through_p2p_relay",
        "turnutils_uclient",
    ) {
        return;
    }
    let home = common::tempdir();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--auth-secret",
            SECRET,
            "--allow-loopback-peers",
            "--realm",
            "test.realm",
        ],
    );
    let port = addr.port().to_string();
    // Two clients that relay to each other's relayed address (-y), 20 messages each.
    let mut cmd = Command::new("turnutils_uclient");
    cmd.args([
        "-W", SECRET, "-y", "-n", "20", "-m", "2", "-l", "200", "-p", &port,
    ])
    .args(["-L", "127.0.0.1", "127.0.0.1"]);
    let out = common::run(cmd, b"", Duration::from_mins(1));
    let log = format!("{}{}", out.text(), out.stderr);
    assert!(out.status.success(), "{log}");
    // The summary line: "start_mclient: tot_send_msgs=N, tot_recv_msgs=N".
    let totals = log
        .lines()
        .filter_map(|l| l.split("start_mclient: tot_send_msgs=").nth(1))
        .next_back()
        .unwrap_or_else(|| panic!("no totals in {log}"));
    let (sent, received) = totals.split_once(", tot_recv_msgs=").unwrap();
    assert!(sent.trim().parse::<u32>().unwrap() >= 40, "{log}");
    assert_eq!(sent.trim(), received.trim(), "{log}");
    assert!(log.contains("Total lost packets 0 "), "{log}");
    let allocated = server.wait_for(WAIT, |r| r["event"] == "allocated");
    assert!(allocated["auth"].as_str().unwrap().starts_with("user:"));
    server.wait_for(WAIT, |r| {
        r["event"] == "released" && r["bytes_to_peers"].as_u64() > Some(0)
    });
}

/// A UDP forwarder between one client and a relay that keeps a copy of every byte
/// the client sends: the relay's view of the traffic.
struct Tap {
    addr: SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Tap {
    fn start(relay: SocketAddr) -> Tap {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.connect(relay).unwrap();
        let addr = front.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let client = std::sync::Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
        let (front2, back2) = (front.try_clone().unwrap(), back.try_clone().unwrap());
        let (seen2, client2) = (seen.clone(), client.clone());
        // Both threads end with the test process (they block on their sockets).
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = front2.recv_from(&mut buf) {
                *client2.lock().unwrap() = Some(from);
                seen2.lock().unwrap().extend_from_slice(&buf[..n]);
                let _ = back2.send(&buf[..n]);
            }
        });
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = back.recv(&mut buf) {
                if let Some(to) = *client.lock().unwrap() {
                    let _ = front.send_to(&buf[..n], to);
                }
            }
        });
        Tap { addr, seen }
    }
}

/// `p2p-pipe listen` with `args`, its stdout into `out`; returns it with its ticket.
pub(crate) fn pipe_listener(home: &Path, out: &Path, args: &[&str]) -> (common::Guard, Value) {
    let ticket = home.join("ticket.json");
    let _ = std::fs::remove_file(&ticket);
    let mut cmd = common::command(&bin!("p2p-pipe"), home);
    cmd.args(["listen", "--bind", "127.0.0.1:0", "--ticket-file"])
        .arg(&ticket)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(home.join("listener.err")).unwrap());
    let guard = common::Guard(cmd.spawn().unwrap());
    let end = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&ticket)
            && text.ends_with('\n')
        {
            return (guard, serde_json::from_str(text.trim()).unwrap());
        }
        assert!(Instant::now() < end, "no ticket from the listener");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `p2p-pipe connect` to `ticket` with `data` on stdin; its `path` event.
fn pipe_connect(home: &Path, ticket: &Value, data: &[u8], args: &[&str]) -> Value {
    let events = home.join("connect.ndjson");
    let mut cmd = common::command(&bin!("p2p-pipe"), home);
    cmd.args([
        "connect",
        ticket["ticket"].as_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ])
    .arg("--events")
    .arg(&events)
    .args(args);
    let out = common::run(cmd, data, Duration::from_mins(1));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&events).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["event"] == "path")
        .expect("a path event")
}

/// Waits for the listener to finish and checks it received `data`.
pub(crate) fn received_intact(mut listener: common::Guard, out: &Path, data: &[u8]) {
    let status = listener
        .wait_until(WAIT)
        .expect("the listener did not finish");
    assert!(status.success());
    let got = std::fs::read(out).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the received bytes differ");
}

/// A megabyte of recognisable plaintext.
fn plaintext() -> Vec<u8> {
    let mut data = Vec::new();
    let mut i = 0u64;
    while data.len() < 1 << 20 {
        data.extend_from_slice(format!("PLAINTEXT-MARKER line {i}\n").as_bytes());
        i += 1;
    }
    data
}

#[test]
fn pipe_streams_through_p2p_relay_which_sees_only_ciphertext() {
    let home = common::tempdir();
    // No --allow-loopback-peers: the peers reach each other relay to relay.
    let (mut server, addr) = serve(home.path(), &["--allow-any-peer"]);
    let relay = format!("turn://{addr}");
    let out = home.path().join("received");
    let (listener, ticket) = pipe_listener(home.path(), &out, &["--relay", &relay]);
    let relayed = ticket["relay"]
        .as_str()
        .expect("the ticket names the relayed address");
    assert!(relayed.starts_with("udp://127.0.0.1:"));
    let tap = Tap::start(addr);
    let data = plaintext();
    let tapped = format!("turn://{}", tap.addr);
    let path = pipe_connect(
        home.path(),
        &ticket,
        &data,
        &["--relay", &tapped, "--relay-first", "--stay-relayed"],
    );
    assert_eq!(path["path"], "relayed");
    assert_eq!(path["remote"], relayed);
    received_intact(listener, &out, &data);
    let seen = tap.seen.lock().unwrap().clone();
    assert!(seen.len() > data.len(), "the stream did not pass the tap");
    let marker = b"PLAINTEXT-MARKER";
    assert!(
        !seen.windows(marker.len()).any(|w| w == marker),
        "the relay saw plaintext"
    );
    let allocated = server.wait_for(WAIT, |r| r["event"] == "allocated");
    assert!(allocated["auth"].as_str().unwrap().starts_with("peer:"));
    server.wait_for(WAIT, |r| r["event"] == "channel");
    // Both sides release their allocations when the stream ends.
    for _ in 0..2 {
        let released = server.wait_for(WAIT, |r| r["event"] == "released");
        assert!(released["bytes_to_peers"].as_u64() > Some(0), "{released}");
    }
}

#[test]
fn pipe_prefers_the_direct_path_unless_told_relay_first() {
    let home = common::tempdir();
    let (_server, addr) = serve(home.path(), &["--allow-any-peer"]);
    let relay = format!("turn://{addr}");
    let out = home.path().join("received");
    let (listener, ticket) = pipe_listener(home.path(), &out, &["--relay", &relay]);
    let data = b"short and direct".to_vec();
    let path = pipe_connect(home.path(), &ticket, &data, &["--relay", &relay]);
    assert_eq!(path["path"], "direct");
    received_intact(listener, &out, &data);
}

#[test]
fn pipe_streams_through_coturn() {
    let home = common::tempdir();
    let Some(coturn) = Coturn::start(home.path()) else {
        return;
    };
    let relay = format!("turn://{}", coturn.addr);
    let out = home.path().join("received");
    let creds = ["--relay", relay.as_str(), "--auth-secret", SECRET];
    let (listener, ticket) = pipe_listener(home.path(), &out, &creds);
    let mut data = plaintext();
    data.extend(std::iter::repeat_n(0xA5u8, 2 << 20));
    let mut args = creds.to_vec();
    args.extend(["--relay-first", "--stay-relayed"]);
    let path = pipe_connect(home.path(), &ticket, &data, &args);
    assert_eq!(path["path"], "relayed");
    received_intact(listener, &out, &data);
}

#[test]
fn another_user_on_the_same_5_tuple_gets_441() {
    use p2p_shared::codec::stun::{self, Class, Message};
    use p2p_shared::codec::turn::{self, Turn, attr, method};
    let home = common::tempdir();
    let (mut server, addr) = serve(home.path(), &["--user", "a:pw", "--user", "b:pw"]);
    let client = allocate(addr, user("a", "pw")).unwrap();
    let socket = client.socket().try_clone().unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let ask = |message: &[u8]| {
        socket.send_to(message, addr).unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        stun::decode(&buf[..n]).unwrap()
    };
    let refresh = |id: u8| Message {
        class: Class::Request,
        method: method::REFRESH,
        transaction_id: [id; 12],
        attributes: vec![turn::lifetime(60)],
    };
    let challenge = ask(&refresh(1).encode());
    assert_eq!(challenge.error_code().map(|(c, _)| c), Some(401));
    let (realm, nonce) = (
        challenge.text(attr::REALM).unwrap(),
        challenge.text(attr::NONCE).unwrap(),
    );
    let mut as_b = refresh(2);
    as_b.attributes
        .extend([turn::username("b"), turn::realm(realm), turn::nonce(nonce)]);
    let key = turn::long_term_key("b", realm, "pw");
    let answer = ask(&turn::encode_with_integrity(&as_b, &key, true));
    assert_eq!(answer.error_code().map(|(c, _)| c), Some(441));
    refused(&mut server, 441);
}

/// In the NAT lab (root): two hosts behind symmetric NATs cannot punch, so the pipe
/// ends on the relayed path through `p2p-relay serve` on the simulated internet, says
/// so, and carries every byte. With `own_allocation`, the connector allocates on the
/// relay too; without, it sends straight to the listener's relayed address, which
/// the listener permitted when the rendezvous introduced the connector.
fn symmetric_pair_through_the_relay(test: &str, own_allocation: bool) {
    use common::natlab::{ALT, Lab, SERVER};
    let Some(lab) = Lab::up(test, "symmetric", "symmetric") else {
        return;
    };
    let home = common::tempdir();
    let h = home.path();
    let mut rendezvous = Running::start(lab.command(
        h,
        "srv",
        &bin!("p2p-punch"),
        &["serve", "--bind", SERVER, "--alt", ALT],
    ));
    rendezvous.wait_for(WAIT, |r| r["type"] == "listening");
    let (mut relay, relay_url) = lab_relay(&lab, h);
    let (mut listener, ticket) = lab_listener(
        &lab,
        h,
        &format!("--rendezvous {SERVER} --relay {relay_url}"),
    );
    let relayed = ticket["relay"].as_str().unwrap().to_owned();
    assert!(relayed.starts_with("udp://203.0.113.1:"));
    let data = plaintext();
    let events = h.join("connect.ndjson");
    let mut args = vec![
        "connect",
        ticket["ticket"].as_str().unwrap(),
        "--timeout",
        "40s",
        "--events",
        events.to_str().unwrap(),
    ];
    if own_allocation {
        args.extend(["--relay", relay_url.as_str()]);
    }
    let out = common::run(
        lab.command(h, "b", &bin!("p2p-pipe"), &args),
        &data,
        Duration::from_mins(1),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let status = listener.wait(WAIT).and_then(|s| s.code());
    assert_eq!(status, Some(0), "{}", listener.stderr());
    assert!(std::fs::read(h.join("received.bin")).unwrap() == data);
    let events: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "failed")
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        failed.iter().any(|p| p.starts_with("punched")),
        "{events:?}"
    );
    let path = events.iter().find(|e| e["event"] == "path").unwrap();
    assert_eq!(path["path"], "relayed", "{path}");
    assert_eq!(path["remote"], relayed.as_str(), "{path}");
    // The listener's allocation relays to the connector (its own or its NAT's
    // address): a channel is bound to it.
    relay.wait_for(WAIT, |r| r["event"] == "channel");
}

#[test]
fn two_symmetric_nats_end_relayed_in_the_nat_lab() {
    symmetric_pair_through_the_relay("two_symmetric_nats_end_relayed", true);
}

#[test]
fn a_connector_without_relay_credentials_is_permitted_through_the_rendezvous() {
    symmetric_pair_through_the_relay("relayed_permitted_through_the_rendezvous", false);
}

/// The relay carrying a stream dies (SIGKILL) and comes back on the same address with
/// no memory of the allocations: both ends of the stream notice within a bounded
/// time and exit 1 with the reason on stderr; nothing hangs.
#[test]
fn a_relay_restarted_mid_stream_ends_both_sides_cleanly() {
    use std::io::Write as _;
    let home = common::tempdir();
    let (server, addr) = serve(home.path(), &["--allow-any-peer"]);
    let relay = format!("turn://{addr}");
    let out = home.path().join("received");
    let (mut listener, ticket) = pipe_listener(
        home.path(),
        &out,
        &["--relay", &relay, "--idle-timeout", "2s"],
    );
    let connector_err = home.path().join("connector.err");
    let mut cmd = common::command(&bin!("p2p-pipe"), home.path());
    cmd.args([
        "connect",
        ticket["ticket"].as_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
        "--relay",
        &relay,
        "--relay-first",
        "--stay-relayed",
        "--idle-timeout",
        "2s",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(&connector_err).unwrap());
    let mut connector = common::Guard(cmd.spawn().unwrap());
    let mut stdin = connector.0.stdin.take().unwrap();
    stdin.write_all(&vec![0x5a; 64 << 10]).unwrap();
    let end = Instant::now() + WAIT;
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < 64 << 10 {
        assert!(Instant::now() < end, "the stream did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(server);
    let mut cmd = common::command(&bin!("p2p-relay"), home.path());
    cmd.args(["serve", "--allow-any-peer", "--bind", &addr.to_string()]);
    let mut restarted = Running::start(cmd);
    restarted.wait_for(WAIT, |r| r["type"] == "listening");
    let killed_at = Instant::now();
    // Keep writing: the stream must notice the loss, not wait for more input.
    let writer = std::thread::spawn(move || {
        while stdin.write_all(&[0x5a; 4096]).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let bound = Duration::from_secs(15);
    let connector_status = connector.wait_until(bound).expect("the connector hung");
    let listener_status = listener.wait_until(bound).expect("the listener hung");
    let took = killed_at.elapsed();
    writer.join().unwrap();
    let why = std::fs::read_to_string(&connector_err).unwrap();
    assert_eq!(connector_status.code(), Some(1), "{why}");
    assert_eq!(listener_status.code(), Some(1));
    assert!(why.contains("lost") || why.contains("vanished"), "{why}");
    eprintln!(
        "relay restart: both sides ended in {took:.1?}: {}",
        why.lines().last().unwrap_or_default()
    );
}

/// The `path` events in an events file so far.
pub(crate) fn path_events(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "path")
        .collect()
}

/// Waits for a `path` event saying `direct` in `file`.
pub(crate) fn await_direct(file: &Path, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        if let Some(e) = path_events(file)
            .into_iter()
            .find(|e| e["path"] == "direct")
        {
            return e;
        }
        assert!(
            Instant::now() < end,
            "no direct path event in {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `len` bytes of a fixed pseudo-random sequence.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// `--relay-first` on loopback, where a direct path is possible: the stream starts
/// on the relay, moves to the direct path by QUIC migration (both sides report it as
/// a `path` event), and a transfer spanning the move arrives intact. A tap in front
/// of the relay shows that it carried the part sent before the move and almost none
/// of the part after.
#[test]
fn a_relayed_pipe_moves_to_the_direct_path_mid_stream() {
    use std::io::Write as _;
    let home = common::tempdir();
    let h = home.path();
    let (_server, addr) = serve(h, &["--allow-any-peer", "--allow-loopback-peers"]);
    let relay = format!("turn://{addr}");
    let out = h.join("received");
    let listener_events = h.join("listen.ndjson");
    let (listener, ticket) = pipe_listener(
        h,
        &out,
        &[
            "--relay",
            &relay,
            "--events",
            listener_events.to_str().unwrap(),
        ],
    );
    let tap = Tap::start(addr);
    let tapped = format!("turn://{}", tap.addr);
    let events = h.join("connect.ndjson");
    let mut cmd = common::command(&bin!("p2p-pipe"), h);
    cmd.args(["connect", ticket["ticket"].as_str().unwrap()])
        .args(["--bind", "127.0.0.1:0", "--relay", &tapped, "--relay-first"])
        // Long enough for the first part to cross the relay before the move.
        .args(["--migrate-after", "8s", "--events"])
        .arg(&events)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(h.join("connector.err")).unwrap());
    let mut connector = common::Guard(cmd.spawn().unwrap());
    let mut stdin = connector.0.stdin.take().unwrap();
    let before = noise(1 << 20, 1);
    let after = noise(16 << 20, 2);
    stdin.write_all(&before).unwrap();
    let end = Instant::now() + WAIT;
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < before.len() as u64 {
        assert!(Instant::now() < end, "the first part did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = path_events(&events);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["path"], "relayed");
    let relayed_bytes = tap.seen.lock().unwrap().len();
    assert!(
        relayed_bytes > before.len(),
        "the relay did not carry the first part"
    );
    let moved = await_direct(&events, Duration::from_secs(20));
    assert_ne!(moved["remote"], first[0]["remote"], "{moved}");
    let theirs = await_direct(&listener_events, WAIT);
    assert_eq!(theirs["remote"], moved["local"], "{theirs} {moved}");
    assert_eq!(theirs["local"], moved["remote"], "{theirs} {moved}");
    stdin.write_all(&after).unwrap();
    drop(stdin);
    let status = connector.wait_until(WAIT).expect("the connector hung");
    assert!(status.success());
    received_intact(listener, &out, &[before, after.clone()].concat());
    let late = tap.seen.lock().unwrap().len() - relayed_bytes;
    assert!(
        late < after.len() / 10,
        "the relay carried {late} bytes after the move"
    );
}

/// In the NAT lab (root): two hosts behind port-restricted NATs, a pair that can
/// punch, start on the relay with `--relay-first`; the checks both send from their
/// allocations' sockets open each NAT to the other, and the stream moves to the
/// direct path between the NATs' public addresses; every byte, sent before and
/// after the move, arrives.
#[test]
fn a_punchable_pair_starts_relayed_and_moves_to_direct_in_the_nat_lab() {
    use common::natlab::Lab;
    use std::io::Write as _;
    let test = "punchable_pair_moves_to_direct";
    let Some(lab) = Lab::up(test, "port-restricted", "port-restricted") else {
        return;
    };
    let home = common::tempdir();
    let h = home.path();
    let (_relay, relay_url) = lab_relay(&lab, h);
    let (mut listener, ticket) = lab_listener(&lab, h, &format!("--relay {relay_url}"));
    let events = h.join("connect.ndjson");
    let (mut connector, mut stdin) = lab_relay_first_connector(&lab, h, &ticket, &relay_url);
    let (before, after) = (noise(1 << 20, 3), noise(4 << 20, 4));
    stdin.write_all(&before).unwrap();
    let moved = await_direct(&events, Duration::from_secs(20));
    let first = &path_events(&events)[0];
    assert_eq!(first["path"], "relayed", "{first}");
    assert_eq!(first["remote"], ticket["relay"], "{first}");
    // The listener's public address is NAT A's.
    let remote = moved["remote"].as_str().unwrap();
    assert!(remote.starts_with("udp://198.51.100.1:"), "{moved}");
    let theirs = await_direct(&h.join("listen.ndjson"), WAIT);
    let remote = theirs["remote"].as_str().unwrap();
    assert!(remote.starts_with("udp://198.51.100.2:"), "{theirs}");
    stdin.write_all(&after).unwrap();
    drop(stdin);
    let status = connector.wait_until(WAIT).expect("the connector hung");
    let why = std::fs::read_to_string(h.join("connector.err")).unwrap();
    assert!(status.success(), "{why}");
    let status = listener.wait(WAIT).and_then(|s| s.code());
    assert_eq!(status, Some(0), "{}", listener.stderr());
    let got = std::fs::read(h.join("received.bin")).unwrap();
    assert!(got == [before, after].concat(), "the received bytes differ");
}

/// `p2p-relay serve` on the NAT lab's public server host (any peer key allowed);
/// returns it, running, with its `turn://` URL.
pub(crate) fn lab_relay(lab: &common::natlab::Lab, home: &Path) -> (Running, String) {
    let addr = "203.0.113.1:3480";
    let mut relay = Running::start(lab.command(
        home,
        "srv",
        &bin!("p2p-relay"),
        &["serve", "--bind", addr, "--allow-any-peer"],
    ));
    relay.wait_for(WAIT, |r| r["type"] == "listening");
    (relay, format!("turn://{addr}"))
}

/// `p2p-pipe listen OPTIONS` (for example `--relay turn://…`) on host A of `lab`, its
/// stdout into `received.bin` and its events into `listen.ndjson` in `home`, stdin
/// closed; returns it with its ticket.
pub(crate) fn lab_listener(
    lab: &common::natlab::Lab,
    home: &Path,
    options: &str,
) -> (Running, Value) {
    let script = format!(
        "exec \"$0\" listen {options} --ticket-file ticket.json --events listen.ndjson > received.bin"
    );
    let mut listen = lab.command(home, "a", Path::new("sh"), &["-c", &script]);
    listen.arg(bin!("p2p-pipe")).current_dir(home);
    let mut listener = Running::start(listen);
    let end = Instant::now() + WAIT;
    let ticket: Value = loop {
        if let Ok(text) = std::fs::read_to_string(home.join("ticket.json"))
            && text.ends_with('\n')
        {
            break serde_json::from_str(text.trim()).unwrap();
        }
        assert!(Instant::now() < end, "no ticket:\n{}", listener.stderr());
        std::thread::sleep(Duration::from_millis(20));
    };
    listener.close_stdin();
    (listener, ticket)
}

/// Bytes waiting in the receive queue of the UDP socket on 127.0.0.1:`port` (from
/// /proc/net/udp: the kernel's memory for them, which grows with each datagram).
fn udp_queued(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[1] == local)
        .and_then(|f| f[4].split(':').nth(1).map(str::to_owned))
        .map_or(0, |rx| u64::from_str_radix(&rx, 16).unwrap())
}

/// Waits until the relay's socket on `port` holds more than `before` (what another
/// thread sends has arrived), and returns what it holds.
fn until_queued_beyond(port: u16, before: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = udp_queued(port);
        if now > before {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "nothing more queued at the relay"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Signals the relay process (`STOP`, `CONT`).
fn signal(server: &Running, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Receives STUN answers waiting on `socket` (without waiting for more).
fn answers_waiting(socket: &UdpSocket) -> usize {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1500];
    std::iter::from_fn(|| socket.recv_from(&mut buf).ok()).count()
}

#[test]
fn a_relay_behind_answers_requests_first_and_fairly() {
    use p2p_shared::codec::{stun, turn};
    let home = common::tempdir();
    let (mut server, addr) = serve(
        home.path(),
        &[
            "--user",
            "alice:pw",
            "--allow-loopback-peers",
            "--rate",
            "0",
            "--stats-every",
            "100ms",
        ],
    );
    let mut client = allocate(addr, user("alice", "pw")).unwrap();
    let (peer, peer_addr) = peer_socket();
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    client.create_permission(&[peer_addr]).unwrap();

    // The relay stops; meanwhile a flood of ChannelData on a channel not bound yet,
    // then the ChannelBind for it, 100 Binding requests from one IP and 10 from
    // another, and a newcomer's Allocate, all queue on its socket: its next pass
    // reads them all at once.
    signal(&server, "STOP");
    let mut frame = Vec::new();
    for i in 0..1100u32 {
        frame.clear();
        turn::encode_channel_data(turn::CHANNEL_MIN, &i.to_be_bytes(), &mut frame);
        client.socket().send_to(&frame, addr).unwrap();
    }
    let queued = udp_queued(addr.port());
    let binder = std::thread::spawn(move || {
        let channel = client.bind_channel(peer_addr);
        (client, channel)
    });
    let mut queued = until_queued_beyond(addr.port(), queued);
    let (noisy, quiet) = (
        UdpSocket::bind("127.0.0.3:0").unwrap(),
        UdpSocket::bind("127.0.0.2:0").unwrap(),
    );
    for (socket, n) in [(&noisy, 100), (&quiet, 10)] {
        for _ in 0..n {
            let tid = p2p_shared::random::bytes().unwrap();
            let request = stun::Message {
                class: stun::Class::Request,
                method: stun::BINDING,
                transaction_id: tid,
                attributes: vec![],
            };
            socket.send_to(&request.encode(), addr).unwrap();
        }
    }
    queued = until_queued_beyond(addr.port(), queued);
    let newcomer = std::thread::spawn(move || allocate(addr, user("alice", "pw")));
    until_queued_beyond(addr.port(), queued);
    signal(&server, "CONT");

    // The channel was bound first, so the data behind it went through: the first
    // 1,024 datagrams, in order; the pass dropped the rest as behind.
    let (_client, channel) = binder.join().unwrap();
    assert_eq!(channel.unwrap(), turn::CHANNEL_MIN);
    let mut buf = [0u8; 64];
    for i in 0..1024u32 {
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], i.to_be_bytes(), "datagram {i}");
    }
    let stats = server.wait_for(WAIT, |r| {
        r["type"] == "stats" && r["dropped_behind"].as_u64() > Some(0)
    });
    assert_eq!(stats["dropped_behind"], 1100 - 1024);
    assert_eq!(stats["bytes_to_peers"], 1024 * 4);
    // 64 requests answered per IP in a pass: the noisy IP's other 36 dropped, the
    // quiet one's all answered.
    assert_eq!(stats["dropped_requests"], 36);
    assert_eq!(answers_waiting(&noisy), 64);
    assert_eq!(answers_waiting(&quiet), 10);
    // And the newcomer got its allocation.
    newcomer.join().unwrap().unwrap();
}

/// `p2p-pipe connect TICKET --relay RELAY --relay-first` on host B of `lab`, its
/// events into `connect.ndjson` and its stderr into `connector.err` in `home`, stdout
/// discarded; returns it with its stdin, open.
pub(crate) fn lab_relay_first_connector(
    lab: &common::natlab::Lab,
    home: &Path,
    ticket: &Value,
    relay: &str,
) -> (common::Guard, std::process::ChildStdin) {
    let events = home.join("connect.ndjson");
    let mut cmd = lab.command(
        home,
        "b",
        &bin!("p2p-pipe"),
        &[
            "connect",
            ticket["ticket"].as_str().unwrap(),
            "--relay",
            relay,
            "--relay-first",
            "--events",
            events.to_str().unwrap(),
        ],
    );
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(home.join("connector.err")).unwrap());
    let mut connector = common::Guard(cmd.spawn().unwrap());
    let stdin = connector.0.stdin.take().unwrap();
    (connector, stdin)
}
