//! `-v/--verbose` (issue 10): every network tool, run against local peers, tells on
//! stderr what happened on the wire (the servers and nodes it asked and what they
//! answered), while its stdout stays the same NDJSON as without `-v`, and without
//! `-v` it tells nothing.

use crate::common::{self, DEADLINE, Finished, Running};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The mark every narration line starts with.
const MARK: &str = ";; +";

fn tool(program: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command(program, home);
    cmd.current_dir(home).args(args);
    cmd
}

/// Runs `args` with `-v` and without; checks that the narration went to stderr only,
/// that stdout carries records of the same types either way, and that without `-v`
/// nothing was narrated. Returns the narration (the `;;` lines).
fn narrated(program: &Path, home: &Path, args: &[&str]) -> String {
    let quiet = common::run(tool(program, home, args), b"", DEADLINE);
    let mut loud_args = vec!["-v"];
    loud_args.extend_from_slice(args);
    let loud = common::run(tool(program, home, &loud_args), b"", DEADLINE);
    compare(&loud, &quiet, args);
    narration(&loud.stderr)
}

/// The checks of [`narrated`] on two finished runs, `-v` and not.
fn compare(loud: &Finished, quiet: &Finished, args: &[&str]) {
    assert_eq!(
        loud.code(),
        quiet.code(),
        "{args:?}: -v changed the exit status: {}\n---\n{}",
        loud.stderr,
        quiet.stderr
    );
    // `records()` fails on any line that is not a documented NDJSON record.
    assert_eq!(
        types(&loud.records()),
        types(&quiet.records()),
        "{args:?}: -v changed what stdout carries"
    );
    assert!(
        !loud.text().contains(";;"),
        "{args:?}: narration on stdout: {}",
        loud.text()
    );
    assert!(
        !quiet.stderr.contains(MARK),
        "{args:?}: narrated without -v: {}",
        quiet.stderr
    );
    assert!(
        loud.stderr.contains(MARK),
        "{args:?}: nothing narrated with -v: {}",
        loud.stderr
    );
}

fn types(records: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.sort();
    types.dedup();
    types
}

/// The narration lines of a stderr text.
fn narration(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.starts_with(MARK))
        .collect::<Vec<_>>()
        .join("\n")
}

fn has(narration: &str, what: &str) {
    assert!(
        narration.contains(what),
        "the narration does not say {what:?}:\n{narration}"
    );
}

fn listening(server: &mut Running) -> String {
    server.wait_for(WAIT, |r| r["type"] == "listening")["addr"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn p2p_dht_tells_the_bootstrap_nodes_that_answered_and_each_lookup() {
    let home = common::tempdir();
    let home = home.path();
    let dht = crate::bin!("p2p-dht");
    let mut testnet = Running::start(tool(&dht, home, &["testnet", "5"]));
    let boot = testnet.wait_for(WAIT, |r| r["type"] == "bootstrap");
    let addrs: Vec<String> = boot["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let bootstrap = addrs.join(",");
    let announce = common::run(
        tool(
            &dht,
            home,
            &[
                "announce",
                "--topic",
                "verbose",
                "--port",
                "4000",
                "--bootstrap",
                &bootstrap,
            ],
        ),
        b"",
        DEADLINE,
    );
    assert_eq!(announce.code(), 0, "{}", announce.stderr);
    // The announced peer looked up through `bootstrap`, with `extra` arguments.
    let get_peers = |bootstrap: &str, extra: &[&str]| {
        let mut args = vec!["get-peers", "--topic", "verbose", "--count", "1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bootstrap", bootstrap]);
        narrated(&dht, home, &args)
    };
    let told = get_peers(&bootstrap, &[]);
    has(&told, "bootstrapping from udp://");
    assert!(
        addrs
            .iter()
            .any(|a| told.contains(&format!("asked bootstrap node {a} (find_node of "))),
        "no bootstrap node's answer told:\n{told}"
    );
    has(&told, "-> answered in ");
    has(&told, "lookup get_peers of");
    has(&told, "answered in ");
    has(&told, "node(s), 1 peer(s)");
    has(&told, "with 1 peer(s)");

    // A bootstrap node that never answers is named when its lookup is done. It is the
    // only one given: beside live ones, the lookup may start once their answers have
    // filled the routing table, never ask the silent node, and end first.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = format!("udp://{}", closed.local_addr().unwrap());
    drop(closed);
    let told = narrated(
        &dht,
        home,
        &[
            "find-node",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "--request-timeout",
            "300ms",
            "--bootstrap",
            &dead,
        ],
    );
    has(&told, &format!("no answer from {dead} (find_node of "));
    has(&told, "timed out");
    has(&told, "lookup of a9993e36… done: ");

    // Beside live nodes, with a long timeout, the silent node's request is still out
    // when the lookup has its peer and the tool ends: it is named then.
    let told = get_peers(
        &format!("{bootstrap},{dead}"),
        &["--request-timeout", "20s"],
    );
    has(&told, "with 1 peer(s)");
    // Live nodes whose answers were still on their way are named too, each node
    // once with its requests, the node asked earliest first.
    let Some((_, unanswered)) = told
        .lines()
        .find_map(|l| l.split_once("still unanswered when the tool ended: "))
    else {
        panic!("no request named as unanswered:\n{told}");
    };
    assert!(
        unanswered.contains(&format!("{dead} (find_node of ")),
        "the silent node is not among the unanswered: {unanswered}"
    );
    assert_eq!(
        unanswered.matches(&format!("{dead} (")).count(),
        1,
        "the silent node is named more than once: {unanswered}"
    );

    let told = narrated(&dht, home, &["ping", &addrs[0]]);
    has(&told, &format!("asked {} (ping)", addrs[0]));
    has(&told, &format!("{} answered ping in", addrs[0]));
}

#[test]
fn p2p_discover_tells_the_mechanisms_and_the_dns_server_it_asked() {
    let home = common::tempdir();
    let home = home.path();
    let mut server = Running::start(tool(
        &crate::bin!("p2p-dns-rr"),
        home,
        &["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"],
    ));
    let dns = listening(&mut server);
    server.send_line(r#"{"type":"peer","addrs":["udp://192.0.2.31:4000"],"topic":"verbose"}"#);
    let mut tracker = Running::start(tool(
        &crate::bin!("p2p-discover"),
        home,
        &["tracker", "--bind", "127.0.0.1:0"],
    ));
    let tracker_addr = listening(&mut tracker);
    let tracker_url = format!(
        "http://{}/announce",
        tracker_addr.trim_start_matches("tcp://")
    );
    let discover = crate::bin!("p2p-discover");
    // The server takes the peer in asynchronously: ask until it is served.
    let served = (0..50).any(|_| {
        let args = ["verbose", "--dns", "peers.test:4000", "--dns-server", &dns];
        let out = common::run(tool(&discover, home, &args), b"", DEADLINE);
        out.code() == 0
    });
    assert!(served, "the DNS server never served the peer");
    // Without --count the run lasts until both mechanisms are done (or the generous
    // timeout), so both have their say in both runs.
    let args = [
        "verbose",
        "--dns",
        "peers.test:4000",
        "--dns-server",
        &dns,
        "--tracker",
        &tracker_url,
        "--timeout",
        "10s",
    ];
    let told = narrated(&discover, home, &args);
    has(&told, "starting: 1 tracker(s), DNS (peers.test)");
    has(&told, &format!("asking {dns}: _p2p._udp.peers.test"));
    has(&told, " SRV (id ");
    has(&told, &format!("{dns} answered in"));
    has(&told, "announcing to tracker http://");
    has(&told, "answered in");
    has(&told, "peer(s), announce again in");
}

#[test]
fn p2p_dns_rr_query_tells_the_server_asked_and_its_answer() {
    let home = common::tempdir();
    let home = home.path();
    let dns_rr = crate::bin!("p2p-dns-rr");
    let mut server = Running::start(tool(
        &dns_rr,
        home,
        &["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"],
    ));
    let dns = listening(&mut server);
    server.send_line(r#"{"type":"peer","addrs":["udp://192.0.2.32:4000"]}"#);
    let args = ["query", "peers.test", "--server", &dns];
    let served =
        (0..50).any(|_| common::run(tool(&dns_rr, home, &args), b"", DEADLINE).code() == 0);
    assert!(served, "the DNS server never served the peer");
    let told = narrated(&dns_rr, home, &args);
    has(&told, &format!("asking {dns}: _p2p._udp.peers.test"));
    has(&told, " SRV (id ");
    has(&told, &format!("{dns} answered in"));
    has(&told, "NOERROR, 1 answer(s)");

    // A closed port is told too, and still fails the same way.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let gone = format!("udp://{}", closed.local_addr().unwrap());
    drop(closed);
    let told = narrated(&dns_rr, home, &["query", "peers.test", "--server", &gone]);
    has(&told, &format!("{gone}: "));
}

#[test]
fn p2p_punch_tells_the_stun_answers_the_nat_tests_and_the_punch() {
    let home = common::tempdir();
    let home = home.path();
    let punch = crate::bin!("p2p-punch");
    let mut server = Running::start(tool(&punch, home, &["serve", "--bind", "127.0.0.1:0"]));
    let stun = listening(&mut server);
    let told = narrated(&punch, home, &["stun", &stun]);
    has(&told, &format!("asking {stun} (binding request)"));
    has(&told, &format!("{stun} answered binding request in"));
    has(&told, "you are 127.0.0.1:");

    let told = narrated(&punch, home, &["nat", "--server", &stun]);
    has(&told, "asking 1 STUN server(s) at once");
    has(&told, "filtering: ");
    has(&told, "mapping: none");
    has(&told, "hairpinning: ");

    // A punch through the rendezvous, both sides narrating.
    let id = common::make_key(home, "key.json");
    let mut listener = Running::start(tool(
        &punch,
        home,
        &[
            "listen",
            "-v",
            "-i",
            "key.json",
            "--rendezvous",
            &stun,
            "--bind",
            "127.0.0.1:0",
        ],
    ));
    listener.wait_for(WAIT, |r| r["type"] == "listening");
    server.wait_for(WAIT, |r| {
        r["event"] == "registered" && r["id"] == id.as_str()
    });
    let out = common::run(
        tool(
            &punch,
            home,
            &[
                "connect",
                "-v",
                &id,
                "--rendezvous",
                &stun,
                "--bind",
                "127.0.0.1:0",
            ],
        ),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(types(&out.records()), ["punch"]);
    let told = narration(&out.stderr);
    has(&told, &format!("sent hello to the rendezvous {stun}"));
    has(&told, &format!("the rendezvous {stun} registered us as"));
    has(&told, "introduced the peer seen at");
    has(&told, "this side's candidate: local 127.0.0.1:");
    has(&told, "path proven: ");
    listener.wait_for(WAIT, |r| r["type"] == "punch");
    assert!(listener.wait(WAIT).is_some());
    let theirs = narration(&listener.stderr());
    has(&theirs, "the peer's probe arrived from 127.0.0.1:");
}

#[test]
fn p2p_relay_probe_tells_the_challenge_and_each_grant() {
    let home = common::tempdir();
    let home = home.path();
    let relay = crate::bin!("p2p-relay");
    let mut server = Running::start(tool(
        &relay,
        home,
        &[
            "serve",
            "-vv",
            "--bind",
            "127.0.0.1:0",
            "--auth-secret",
            "verbose-secret",
            "--allow-loopback-peers",
        ],
    ));
    let addr = listening(&mut server);
    let turn = addr.replace("udp://", "turn://");
    let told = narrated(
        &relay,
        home,
        &[
            "probe",
            &turn,
            "--auth-secret",
            "verbose-secret",
            "--peer",
            "127.0.0.1:9",
        ],
    );
    has(
        &told,
        &format!("Allocate request to {turn} (unauthenticated)"),
    );
    has(&told, &format!("{turn} answered Allocate with 401"));
    has(&told, "challenged: realm");
    has(&told, &format!("{turn} granted Allocate in"));
    has(&told, "relayed address 127.0.0.1:");
    has(&told, &format!("{turn} granted CreatePermission"));
    has(&told, &format!("{turn} granted ChannelBind"));
    has(&told, &format!("{turn} granted Refresh"));
    // The server, at -vv, told each request it answered.
    let served = narration(&server.stderr());
    has(&served, "Allocate from 127.0.0.1:");
    has(&served, ": 401 no credentials");
    has(&served, ": granted");
}

/// A `p2p-pipe listen` on loopback that writes its ticket to a file; returns it and
/// the ticket.
fn pipe_listener(home: &Path, verbose: bool, n: usize) -> (Running, String) {
    let ticket_file: PathBuf = home.join(format!("ticket-{n}.json"));
    let mut args = vec!["listen", "-i", "a.json", "--bind", "127.0.0.1:0"];
    let file = ticket_file.display().to_string();
    args.extend(["--ticket-file", &file]);
    if verbose {
        args.push("-v");
    }
    let listener =
        Running::start_reading(tool(&crate::bin!("p2p-pipe"), home, &args), Stdio::null());
    let end = std::time::Instant::now() + WAIT;
    let ticket = loop {
        if let Ok(text) = std::fs::read_to_string(&ticket_file)
            && let Ok(ticket) = serde_json::from_str::<Value>(text.trim())
        {
            break ticket["ticket"].as_str().unwrap().to_owned();
        }
        assert!(
            std::time::Instant::now() < end,
            "no ticket: {}",
            listener.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (listener, ticket)
}

#[test]
fn p2p_pipe_tells_the_paths_tried_and_the_path_chosen() {
    let home = common::tempdir();
    let home = home.path();
    common::make_key(home, "a.json");
    common::make_key(home, "b.json");
    let pipe = crate::bin!("p2p-pipe");
    let mut outs = Vec::new();
    for (n, verbose) in [(0, false), (1, true)] {
        let (mut listener, ticket) = pipe_listener(home, verbose, n);
        let mut args = vec!["connect", ticket.as_str(), "-i", "b.json"];
        if verbose {
            args.push("-v");
        }
        let out = common::run(tool(&pipe, home, &args), b"hello over the pipe\n", DEADLINE);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        assert!(listener.wait(WAIT).is_some(), "{}", listener.stderr());
        let got = listener.next_line(WAIT);
        assert_eq!(got.as_deref(), Some("hello over the pipe"));
        outs.push((out, listener.stderr()));
    }
    let (quiet, quiet_listener) = &outs[0];
    let (loud, loud_listener) = &outs[1];
    assert_eq!(quiet.stdout, loud.stdout, "-v changed the stream");
    assert!(!quiet.stderr.contains(MARK), "{}", quiet.stderr);
    assert!(!quiet_listener.contains(MARK), "{quiet_listener}");
    let told = narration(&loud.stderr);
    has(&told, "paths to ");
    has(&told, "trying direct to udp://127.0.0.1:");
    has(&told, "path chosen: direct to udp://127.0.0.1:");
    has(&told, "key proven in");
    let theirs = narration(loud_listener);
    has(&theirs, "candidates in the ticket: direct");
    has(&theirs, "QUIC handshake from udp://127.0.0.1:");
    has(&theirs, "connection up (direct)");
}

#[test]
fn p2p_gossip_tells_its_dials_and_accepts() {
    let home = common::tempdir();
    let home = home.path();
    let gossip = crate::bin!("p2p-gossip");
    let node = |key: &str, extra: &[&str]| {
        common::make_key(home, key);
        let mut args = vec!["-i", key, "--bind", "127.0.0.1:0", "--topic", "t"];
        args.extend_from_slice(extra);
        let mut run = Running::start(tool(&gossip, home, &args));
        let ready = run.wait_for(WAIT, |r| r["type"] == "listening");
        let id = ready["id"].as_str().unwrap().to_owned();
        let addr = ready["addr"].as_str().unwrap().to_owned();
        (run, id, addr)
    };
    let (mut a, a_id, a_addr) = node("a.json", &["-v"]);
    let contact = format!("{a_id}@{a_addr}");
    let (mut b, b_id, _) = node("b.json", &["-v", "--peer", &contact]);
    let (mut c, _, _) = node("c.json", &["--peer", &contact]);
    for run in [&mut a, &mut b, &mut c] {
        run.wait_for(WAIT, |r| r["type"] == "peer_up");
    }
    let told = narration(&b.stderr());
    has(&told, &format!("dialling {a_id} at ["));
    has(&told, &format!("connected to {a_id} at {a_addr}"));
    let theirs = narration(&a.stderr());
    has(&theirs, &format!("accepted {b_id} from udp://127.0.0.1:"));
    assert!(
        !c.stderr().contains(MARK),
        "narrated without -v: {}",
        c.stderr()
    );
}

/// A DNS server that answers every UDP question truncated (TC, no answers) and every
/// TCP question in full (no answers either), until `until`; returns its address.
fn truncating_dns_server(until: std::time::Instant) -> String {
    use std::io::{Read, Write};
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap();
    let udp = std::net::UdpSocket::bind(addr).unwrap();
    // A response to `query`: the same id and question, QR set, `tc` as asked.
    let respond = |query: &[u8], tc: bool| {
        let mut reply = query.to_vec();
        reply[2] |= 0x80 | if tc { 0x02 } else { 0 };
        reply[3] &= 0xf0;
        reply
    };
    std::thread::spawn(move || {
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 1500];
        while std::time::Instant::now() < until {
            if let Ok((n, from)) = udp.recv_from(&mut buf)
                && n >= 12
            {
                let _ = udp.send_to(&respond(&buf[..n], true), from);
            }
        }
    });
    std::thread::spawn(move || {
        tcp.set_nonblocking(true).unwrap();
        while std::time::Instant::now() < until {
            let Ok((mut stream, _)) = tcp.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).is_err() || query.len() < 12 {
                continue;
            }
            let reply = respond(&query, false);
            let mut framed = u16::try_from(reply.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            let _ = stream.write_all(&framed);
        }
    });
    format!("udp://{addr}")
}

#[test]
fn p2p_dns_rr_query_tells_the_retry_over_tcp_after_a_truncated_answer() {
    let home = common::tempdir();
    let server = truncating_dns_server(std::time::Instant::now() + WAIT);
    let told = narrated(
        &crate::bin!("p2p-dns-rr"),
        home.path(),
        &["query", "peers.test", "--server", &server],
    );
    has(&told, &format!("{server} answered in"));
    has(&told, ", truncated");
    let tcp = server.replace("udp://", "tcp://");
    has(
        &told,
        &format!("the answer is truncated (TC): asking again over {tcp}"),
    );
    has(&told, &format!("{tcp} answered in"));
}

#[test]
fn p2p_punch_stun_tells_each_retransmission() {
    use p2p_shared::codec::stun::{self, Attribute, Class, Message};
    let home = common::tempdir();
    // A STUN server that lets the first sending of each transaction go unanswered
    // (two copies: the client's, and its sentinel's that watches for ICMP refusals).
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = format!("udp://{}", server.local_addr().unwrap());
    let until = std::time::Instant::now() + WAIT;
    std::thread::spawn(move || {
        server
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut seen = std::collections::HashMap::new();
        let mut buf = [0u8; 1500];
        while std::time::Instant::now() < until {
            let Ok((n, from)) = server.recv_from(&mut buf) else {
                continue;
            };
            let Ok(request) = stun::decode(&buf[..n]) else {
                continue;
            };
            let copies = seen.entry(request.transaction_id).or_insert(0);
            *copies += 1;
            if *copies <= 2 {
                continue;
            }
            let mut response = Message::response_to(&request, Class::Success);
            response.attributes.push(Attribute::XorMappedAddress(from));
            let _ = server.send_to(&response.encode(), from);
        }
    });
    let told = narrated(&crate::bin!("p2p-punch"), home.path(), &["stun", &addr]);
    has(&told, &format!("asking {addr} (binding request)"));
    has(&told, &format!("no answer from {addr} within "));
    has(&told, ": sending again (try 2)");
    has(&told, &format!("{addr} answered binding request in"));
}
