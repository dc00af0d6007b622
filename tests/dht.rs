//! `p2p-dht` end to end: a `p2p-dht testnet` process on loopback, used by separate
//! `p2p-dht` processes through `--bootstrap`. Nothing here reaches the internet: every
//! command gets the testnet's addresses and `$P2P_DHT_BOOTSTRAP` is cleared.

use crate::common;
use crate::common::libtorrent::{Libtorrent, until};
use crate::common::{DEADLINE, Finished, Running};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A running `p2p-dht testnet`.
struct Testnet {
    _process: Running,
    /// Ids of its nodes (hex).
    ids: Vec<String>,
    /// Addresses of its nodes (`udp://…`).
    addrs: Vec<String>,
    /// What to pass to `--bootstrap`.
    bootstrap: String,
    home: tempfile::TempDir,
}

impl Testnet {
    fn start(nodes: usize) -> Testnet {
        let home = common::tempdir();
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(["testnet", &nodes.to_string(), "--bind", "127.0.0.1"]);
        let mut process = Running::start(cmd);
        let (mut ids, mut addrs) = (Vec::new(), Vec::new());
        let bootstrap = loop {
            let record = process
                .next_record(DEADLINE)
                .unwrap_or_else(|| panic!("testnet printed nothing: {}", process.stderr()));
            match record["type"].as_str() {
                Some("node") => {
                    ids.push(record["node_id"].as_str().unwrap().to_owned());
                    addrs.push(record["addr"].as_str().unwrap().to_owned());
                }
                Some("bootstrap") => {
                    let env = record["env"].as_str().unwrap();
                    break env.strip_prefix("P2P_DHT_BOOTSTRAP=").unwrap().to_owned();
                }
                _ => panic!("unexpected record {record}"),
            }
        };
        assert_eq!(ids.len(), nodes);
        Testnet {
            _process: process,
            ids,
            addrs,
            bootstrap,
            home,
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// A `p2p-dht` command bootstrapping from this testnet only.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = common::command(&bin!("p2p-dht"), self.home());
        cmd.args(args)
            .args(["--bootstrap", &self.bootstrap, "--timeout", "20s"])
            .current_dir(self.home());
        cmd
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Finished {
        common::run(self.command(args), stdin, DEADLINE)
    }

    /// Runs a command that must succeed; returns its records.
    fn ok(&self, args: &[&str]) -> Vec<Value> {
        let out = self.run(args, b"");
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr);
        out.records()
    }

    /// Pings a node (`ping` talks to one node and takes no bootstrap).
    fn ping(&self, addr: &str) -> Value {
        let mut cmd = common::command(&bin!("p2p-dht"), self.home());
        cmd.args(["ping", addr]);
        let out = common::run(cmd, b"", DEADLINE);
        assert_eq!(out.code(), 0, "ping {addr}: {}", out.stderr);
        out.records().remove(0)
    }

    /// Makes an identity file and returns its peer id.
    fn key(&self, name: &str) -> String {
        common::make_key(self.home(), name)
    }
}

fn sha1_hex(topic: &str) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(topic.as_bytes()))
}

#[test]
fn announced_peers_are_found_by_topic_and_by_infohash() {
    let net = Testnet::start(12);
    let announced = net.ok(&["announce", "--topic", "chat", "--port", "4000"]);
    assert_eq!(announced[0]["type"], "announced");
    assert_eq!(announced[0]["infohash"], sha1_hex("chat"));
    net.ok(&["announce", "--topic", "chat", "--port", "4001"]);

    let peers = net.ok(&["get-peers", "--topic", "chat"]);
    let mut addrs: Vec<_> = peers
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "peer");
            assert_eq!(p["via"], "dht");
            assert_eq!(p["topic"], "chat");
            p["addrs"][0].as_str().unwrap().to_owned()
        })
        .collect();
    addrs.sort();
    // Each node answers with the peers it holds: repeats are removed.
    assert_eq!(addrs, ["udp://127.0.0.1:4000", "udp://127.0.0.1:4001"]);

    let by_hash = net.ok(&["get-peers", &sha1_hex("chat"), "--count", "1"]);
    assert_eq!(by_hash.len(), 1, "--count 1 stops after one peer");
    assert_eq!(by_hash[0]["infohash"], sha1_hex("chat"));
}

#[test]
fn a_lookup_with_no_peers_finishes_quickly_and_exits_1() {
    let net = Testnet::start(12);
    let started = Instant::now();
    let out = net.run(&["get-peers", "--topic", "nobody-here"], b"");
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("no peers found"), "{}", out.stderr);
    // Every node of a healthy local DHT answers, so the lookup ends without waiting
    // for a 2 s request timeout.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn announce_every_repeats_until_stopped() {
    let net = Testnet::start(8);
    let mut process =
        Running::start(net.command(&["announce", "--topic", "again", "--every", "100ms"]));
    for _ in 0..2 {
        let record = process.wait_for(DEADLINE, |r| r["type"] == "announced");
        assert_eq!(record["implied_port"], true);
    }
}

#[test]
fn immutable_items_round_trip_as_json_and_raw() {
    let net = Testnet::start(10);
    let stored = net.ok(&["put", r#"{"hello": [1, 2]}"#]);
    assert_eq!(stored[0]["kind"], "immutable");
    let target = stored[0]["target"].as_str().unwrap();
    // BEP 44: the target is SHA-1 of the bencoded value (a byte string).
    let compact = r#"{"hello":[1,2]}"#;
    assert_eq!(target, sha1_hex(&format!("{}:{compact}", compact.len())));
    let got = net.ok(&["get", target]);
    assert_eq!(got[0]["value"], json!({"hello": [1, 2]}));

    let out = net.run(&["put", "--raw"], b"\x00\xffbytes");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let target = out.records()[0]["target"].as_str().unwrap().to_owned();
    let raw = net.run(&["get", &target, "--raw"], b"");
    assert_eq!(raw.stdout, b"\x00\xffbytes");
    let as_json = net.ok(&["get", &target]);
    assert_eq!(as_json[0]["value_b64"], "AP9ieXRlcw==");

    let missing = net.run(&["get", &"ab".repeat(20)], b"");
    assert_eq!(missing.code(), 1, "{}", missing.stderr);
}

#[test]
fn mutable_items_keep_the_highest_seq_and_report_conflicts() {
    let net = Testnet::start(10);
    let id = net.key("key.json");
    let put = |seq: &str, extra: &[&str], value: &str| {
        let mut args = vec!["put", "-i", "key.json", "--salt", "status", "--seq", seq];
        args.extend_from_slice(extra);
        args.push(value);
        net.run(&args, b"")
    };
    let first = put("5", &[], r#""away""#);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    assert_eq!(first.records()[0]["key"], id.as_str());

    let cas = put("6", &["--cas", "4"], r#""busy""#);
    assert_eq!(cas.code(), 1);
    assert!(cas.stderr.contains("CAS conflict"), "{}", cas.stderr);

    let stale = put("3", &[], r#""old""#);
    assert_eq!(stale.code(), 1);
    assert!(stale.stderr.contains("stale seq"), "{}", stale.stderr);

    let next = put("6", &["--cas", "5"], r#""here""#);
    assert_eq!(next.code(), 0, "{}", next.stderr);

    let got = net.ok(&["get", &id, "--salt", "status"]);
    assert_eq!(got[0]["seq"], 6);
    assert_eq!(got[0]["value"], "here");
    let unsalted = net.run(&["get", &id], b"");
    assert_eq!(unsalted.code(), 1, "the salt is part of the item's address");
}

#[test]
fn oversize_values_and_salts_are_refused_before_any_traffic() {
    let home = common::tempdir();
    let big = format!("\"{}\"", "x".repeat(1000));
    let mut cmd = common::command(&bin!("p2p-dht"), home.path());
    // Nothing listens at this bootstrap: a refusal must come before any lookup.
    cmd.args([
        "put",
        &big,
        "--bootstrap",
        "127.0.0.1:9",
        "--timeout",
        "20s",
    ]);
    let started = Instant::now();
    let out = common::run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("1002 bytes"), "{}", out.stderr);
    assert!(out.stderr.contains("at most 1000"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(2));

    let net = Testnet::start(4);
    net.key("key.json");
    let salt = "s".repeat(65);
    let out = net.run(&["put", "-i", "key.json", "--salt", &salt, "1"], b"");
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("salt is 65 bytes"), "{}", out.stderr);
    let out = net.run(&["put", "not json"], b"");
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
}

#[test]
fn published_peer_records_resolve_verified() {
    let net = Testnet::start(10);
    let id = net.key("key.json");
    let published = net.ok(&[
        "publish",
        "-i",
        "key.json",
        "--addr",
        "udp://192.0.2.7:4000",
        "--topic",
        "chat",
    ]);
    assert_eq!(published[0]["id"], id.as_str());
    let resolved = net.ok(&["resolve", &id]);
    assert_eq!(resolved[0]["type"], "peer");
    assert_eq!(resolved[0]["id"], id.as_str());
    assert_eq!(resolved[0]["addrs"], json!(["udp://192.0.2.7:4000"]));
    assert_eq!(resolved[0]["via"], "dht");
    // The same peer named by its libp2p id resolves to the same record.
    let mut convert = common::command(&bin!("p2p-keygen"), net.home());
    convert.args(["convert", "--to", "libp2p", &id]);
    let libp2p_id = common::run(convert, b"", DEADLINE).text();
    assert!(libp2p_id.starts_with("12D3KooW"), "{libp2p_id}");
    let by_libp2p_id = net.ok(&["resolve", libp2p_id.trim()]);
    assert_eq!(by_libp2p_id[0]["id"], id.as_str());
    // The record verifies with p2p-keygen, independently of p2p-dht.
    let mut verify = common::command(&bin!("p2p-keygen"), net.home());
    verify.arg("verify");
    let line = format!("{}\n", resolved[0]);
    let checked = common::run(verify, line.as_bytes(), DEADLINE);
    assert_eq!(checked.code(), 0, "{}", checked.stderr);

    let other = net.key("other.json");
    let missing = net.run(&["resolve", &other], b"");
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr.contains("no peer record"),
        "{}",
        missing.stderr
    );
}

#[test]
fn resolve_refuses_forged_records() {
    let net = Testnet::start(10);
    let mallory = net.key("mallory.json");
    net.key("alice.json");
    let mut peer = common::command(&bin!("p2p-keygen"), net.home());
    peer.args(["peer", "-i", "alice.json", "--addr", "udp://192.0.2.1:1"])
        .current_dir(net.home());
    let alices = common::run(peer, b"", DEADLINE).records().remove(0);

    // Alice's genuine record, replayed under Mallory's key.
    let replay = net.run(
        &[
            "put",
            "-i",
            "mallory.json",
            "--salt",
            "p2p/peer",
            &alices.to_string(),
        ],
        b"",
    );
    assert_eq!(replay.code(), 0, "{}", replay.stderr);
    let out = net.run(&["resolve", &mallory], b"");
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("names another peer"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    // Mallory's own record with an address changed after signing.
    let mut forged = alices.clone();
    forged["id"] = json!(mallory);
    forged["addrs"] = json!(["udp://203.0.113.66:1"]);
    let put = net.run(
        &[
            "put",
            "-i",
            "mallory.json",
            "--salt",
            "p2p/peer",
            "--seq",
            "99999999999999",
            &forged.to_string(),
        ],
        b"",
    );
    assert_eq!(put.code(), 0, "{}", put.stderr);
    let out = net.run(&["resolve", &mallory], b"");
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("signature does not verify"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn batch_answers_every_good_line_and_names_the_bad_one() {
    let net = Testnet::start(10);
    net.ok(&["announce", "--topic", "chat", "--port", "4000"]);
    net.ok(&["announce", "--topic", "news", "--port", "5000"]);
    let input = format!(
        "{{\"topic\":\"chat\"}}\n{{not json\n{}\n\nzzz\n",
        sha1_hex("news")
    );
    let out = net.run(&["get-peers"], input.as_bytes());
    assert_eq!(out.code(), 2, "a bad line makes the status 2");
    assert!(
        out.stderr.contains("line 2: not valid JSON"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("line 5: 'zzz' is not an infohash"),
        "{}",
        out.stderr
    );
    let records = out.records();
    let chat = records
        .iter()
        .find(|r| r["input"] == json!({"topic": "chat"}))
        .unwrap_or_else(|| panic!("no answer for line 1: {records:?}"));
    assert_eq!(chat["addrs"], json!(["udp://127.0.0.1:4000"]));
    let news = records
        .iter()
        .find(|r| r["input"] == json!(sha1_hex("news")))
        .unwrap_or_else(|| panic!("no answer for line 3: {records:?}"));
    assert_eq!(news["addrs"], json!(["udp://127.0.0.1:5000"]));
    assert_eq!(records.len(), 2);

    let topics = net.run(&["get-peers", "--topic-lines"], b"chat\nnobody\n");
    assert_eq!(topics.code(), 1, "one topic found nothing");
    assert!(
        topics.stderr.contains("line 2: no peers found"),
        "{}",
        topics.stderr
    );
    assert_eq!(topics.records()[0]["input"], "chat");
}

#[test]
fn ping_find_node_and_info_see_the_testnet() {
    let net = Testnet::start(10);
    let pong = net.ping(&net.addrs[3]);
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["node_id"], net.ids[3].as_str());

    let target = &net.ids[5];
    let nodes = net.ok(&["find-node", target]);
    assert!(!nodes.is_empty());
    assert_eq!(
        nodes[0]["node_id"],
        target.as_str(),
        "closest first: the node itself"
    );
    for node in &nodes {
        assert!(
            net.ids
                .contains(&node["node_id"].as_str().unwrap().to_owned())
        );
    }

    let info = net.ok(&["info"]);
    assert_eq!(info[0]["type"], "info");
    assert!(
        info[0]["addr"]
            .as_str()
            .unwrap()
            .starts_with("udp://127.0.0.1:")
    );
    assert!(info[0]["routing_table_size"].as_u64().unwrap() > 0);
    assert_eq!(info[0]["server_mode"], false);
}

#[test]
fn ping_reports_a_closed_port_and_silence() {
    let home = common::tempdir();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = format!("udp://{}", silent.local_addr().unwrap());
    let mut cmd = common::command(&bin!("p2p-dht"), home.path());
    cmd.args(["ping", &addr, "--timeout", "200ms"]);
    let out = common::run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    drop(silent);
    let mut cmd = common::command(&bin!("p2p-dht"), home.path());
    cmd.args(["ping", &addr, "--timeout", "5s"]);
    let out = common::run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn sample_lists_the_infohashes_a_libtorrent_node_stores() {
    let Some(node) = Libtorrent::start("sample_lists_the_infohashes_a_libtorrent_node_stores")
    else {
        return;
    };
    let home = common::tempdir();
    let p2p_dht = |args: &[&str]| {
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(args);
        common::run(cmd, b"", DEADLINE)
    };
    let empty = p2p_dht(&["sample", &node.addr]);
    assert_eq!(empty.code(), 1, "{}", empty.stderr);
    assert!(empty.stderr.contains("no infohashes"), "{}", empty.stderr);
    assert_eq!(empty.records()[0]["num"], 0);

    // The node is its own DHT: p2p-dht's announcements are stored there. It lists
    // the earlier (exited) p2p-dht clients as nodes, hence the short request timeout.
    let topics = ["alpha", "beta", "gamma"];
    for topic in topics {
        let out = p2p_dht(&[
            "announce",
            "--topic",
            topic,
            "--bootstrap",
            &node.addr,
            "--request-timeout",
            "250ms",
        ]);
        assert_eq!(out.code(), 0, "{}", out.stderr);
    }
    let out = p2p_dht(&["sample", &node.addr]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    let mut sampled: Vec<_> = records
        .iter()
        .filter(|r| r["type"] == "sample")
        .map(|r| {
            assert_eq!(r["addr"], node.addr.as_str());
            r["infohash"].as_str().unwrap().to_owned()
        })
        .collect();
    sampled.sort();
    let mut want: Vec<_> = topics.iter().map(|t| sha1_hex(t)).collect();
    want.sort();
    assert_eq!(sampled, want);
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "sampled");
    assert_eq!(summary["count"], 3);
    assert_eq!(summary["num"], 3);
    assert_eq!(summary["node_id"].as_str().unwrap().len(), 40);
}

#[test]
fn sample_tells_a_node_without_bep51_from_silence() {
    let net = Testnet::start(4);
    let sample = |addr: &str| {
        let mut cmd = common::command(&bin!("p2p-dht"), net.home());
        cmd.args(["sample", addr, "--timeout", "300ms"]);
        common::run(cmd, b"", DEADLINE)
    };
    // mainline 8 answers pings but ignores sample_infohashes.
    let out = sample(&net.addrs[0]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not support BEP 51"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = sample(&format!("udp://{}", silent.local_addr().unwrap()));
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(out.stderr.contains("no answer"), "{}", out.stderr);
}

/// Two libtorrent nodes and a `p2p-dht testnet` on loopback, as one DHT: p2p-dht
/// and libtorrent find each other's peers and items.
#[test]
fn libtorrent_and_p2p_dht_find_each_others_peers_and_items() {
    let test = "libtorrent_and_p2p_dht_find_each_others_peers_and_items";
    let (Some(mut a), Some(mut b)) = (Libtorrent::start(test), Libtorrent::start(test)) else {
        return;
    };
    a.add_node(&b.addr);
    b.add_node(&a.addr);
    let net = Testnet::start(8);
    let bootstrap = format!("{},{},{}", net.bootstrap, a.addr, b.addr);
    let p2p_dht = |args: &[&str]| {
        let mut cmd = common::command(&bin!("p2p-dht"), net.home());
        cmd.args(args)
            .args(["--bootstrap", &bootstrap, "--timeout", "10s"]);
        common::run(cmd, b"", DEADLINE)
    };
    let limit = Duration::from_secs(15);

    // libtorrent joins a swarm (announcing its own port) and stores an item, before
    // any p2p-dht client has been seen by its nodes: a libtorrent node keeps those
    // short-lived clients as contacts, and its own lookups then wait for them.
    let infohash = sha1_hex("from-libtorrent");
    let announced = a.ask(&json!({"cmd": "announce", "infohash": infohash}));
    let held = b.ask(&json!({"cmd": "wait_announced_here", "infohash": infohash, "timeout": 10}));
    assert_eq!(
        held["found"], true,
        "libtorrent did not announce to its neighbour"
    );
    let stored = a.ask(&json!({"cmd": "put", "value": "{\"from\":\"libtorrent\"}"}));
    assert!(stored["nodes"].as_i64() > Some(0), "{stored}");

    // p2p-dht finds libtorrent's peer.
    let out = p2p_dht(&["get-peers", &infohash]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let want = format!("udp://127.0.0.1:{}", announced["port"]);
    assert!(
        out.records().iter().any(|r| r["addrs"][0] == want.as_str()),
        "{want} not in {:?}",
        out.records()
    );

    // The immutable item libtorrent put is got by p2p-dht, under the same target.
    let target = stored["target"].as_str().unwrap();
    let out = p2p_dht(&["get", target]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.records()[0]["value"], json!({"from": "libtorrent"}));

    // p2p-dht announces; libtorrent finds the peer.
    let out = p2p_dht(&["announce", "--topic", "interop", "--port", "4321"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let ask = json!({"cmd": "get_peers", "infohash": sha1_hex("interop"), "timeout": 1});
    until(limit, "libtorrent finding p2p-dht's peer", || {
        let peers = b.ask(&ask)["peers"].clone();
        let peers = peers.as_array().unwrap();
        peers.contains(&json!("127.0.0.1:4321")).then_some(())
    });

    // And an item put by p2p-dht is got by libtorrent.
    let out = p2p_dht(&["put", "{\"from\":\"p2p-dht\"}"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let target = out.records()[0]["target"].as_str().unwrap().to_owned();
    let item = until(limit, "libtorrent getting p2p-dht's item", || {
        let item = b.ask(&json!({"cmd": "get", "target": target, "timeout": 2}));
        (item["type"] == "item").then_some(item)
    });
    assert_eq!(item["value"], "{\"from\":\"p2p-dht\"}");
}

/// A `p2p-dht serve` node (on a testnet) answers a query whose transaction id is 2
/// bytes long, as libtorrent's are, echoing the id; upstream mainline 8 dropped it
/// (patches/mainline).
#[test]
fn serve_echoes_transaction_ids_of_any_length() {
    let net = Testnet::start(2);
    let mut cmd = common::command(&bin!("p2p-dht"), net.home());
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--bootstrap",
        &net.bootstrap,
    ]);
    let mut server = Running::start(cmd);
    let listening = server.wait_for(DEADLINE, |r| r["type"] == "listening");
    let addr = listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for tid in [&b"ab"[..], b"x", b"12345678"] {
        let mut ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t".to_vec();
        ping.extend_from_slice(format!("{}:", tid.len()).as_bytes());
        ping.extend_from_slice(tid);
        ping.extend_from_slice(b"1:y1:qe");
        socket.send_to(&ping, addr).unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no answer to a {}-byte id: {e}", tid.len()));
        let mut echoed = format!("1:t{}:", tid.len()).into_bytes();
        echoed.extend_from_slice(tid);
        let answer = &buf[..n];
        let has = |want: &[u8]| answer.windows(want.len()).any(|w| w == want);
        assert!(
            has(&echoed) && has(b"1:y1:r"),
            "{} not echoed in {}",
            String::from_utf8_lossy(tid),
            String::from_utf8_lossy(answer)
        );
    }
}

/// A libtorrent node whose only contact is a `p2p-dht serve` node (itself on a
/// testnet) finds a peer `p2p-dht announce`d and gets an item `p2p-dht put`, which
/// takes answers from mainline nodes to libtorrent's 2-byte transaction ids; and the
/// nodes keep answering p2p-dht's own clients.
#[test]
fn libtorrent_bootstrapped_from_our_nodes_finds_our_peers_and_items() {
    let test = "libtorrent_bootstrapped_from_our_nodes_finds_our_peers_and_items";
    let Some(mut lt) = Libtorrent::start(test) else {
        return;
    };
    let net = Testnet::start(8);
    let mut cmd = common::command(&bin!("p2p-dht"), net.home());
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--bootstrap",
        &net.bootstrap,
    ]);
    let mut server = Running::start(cmd);
    let listening = server.wait_for(DEADLINE, |r| r["type"] == "listening");
    lt.add_node(listening["addr"].as_str().unwrap());
    let limit = Duration::from_secs(20);

    let out = net.run(
        &["announce", "--topic", "from-p2p-dht", "--port", "4321"],
        b"",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let ask = json!({"cmd": "get_peers", "infohash": sha1_hex("from-p2p-dht"), "timeout": 2});
    until(limit, "libtorrent finding p2p-dht's peer", || {
        let peers = lt.ask(&ask)["peers"].clone();
        peers
            .as_array()
            .unwrap()
            .contains(&json!("127.0.0.1:4321"))
            .then_some(())
    });

    let out = net.run(&["put", "{\"to\":\"libtorrent\"}"], b"");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let target = out.records()[0]["target"].as_str().unwrap().to_owned();
    let item = until(limit, "libtorrent getting p2p-dht's item", || {
        let item = lt.ask(&json!({"cmd": "get", "target": target, "timeout": 2}));
        (item["type"] == "item").then_some(item)
    });
    assert_eq!(item["value"], "{\"to\":\"libtorrent\"}");

    // Our own clients, on the same nodes, still find the peer and the item.
    let peers = net.ok(&["get-peers", "--topic", "from-p2p-dht"]);
    assert!(
        peers
            .iter()
            .any(|r| r["addrs"][0] == "udp://127.0.0.1:4321"),
        "{peers:?}"
    );
    let items = net.ok(&["get", &target]);
    assert_eq!(items[0]["value"], json!({"to": "libtorrent"}));
}

#[test]
fn serve_joins_the_testnet_and_prints_stats() {
    let net = Testnet::start(8);
    let mut cmd = common::command(&bin!("p2p-dht"), net.home());
    cmd.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--stats-every",
        "200ms",
        "--bootstrap",
        &net.bootstrap,
    ]);
    let mut server = Running::start(cmd);
    let listening = server.wait_for(DEADLINE, |r| r["type"] == "listening");
    let addr = listening["addr"].as_str().unwrap();
    let pong = net.ping(addr);
    assert_eq!(pong["node_id"], listening["node_id"]);
    let stats = server.wait_for(DEADLINE, |r| {
        r["type"] == "stats" && r["routing_table_size"].as_u64() > Some(0)
    });
    assert_eq!(stats["server_mode"], true);
}

#[test]
fn bad_arguments_are_usage_errors_with_the_reason() {
    let home = common::tempdir();
    for (args, want) in [
        (vec!["get-peers", "xyz"], "not an infohash"),
        (vec!["get", "short"], "not a peer id"),
        (vec!["resolve", "nope"], "not a peer id"),
        (vec!["put", "--salt", "s", "1"], "add -i KEY"),
        (
            vec!["get-peers", "--bootstrap", "nowhere"],
            "'nowhere' is not an address (no port)",
        ),
    ] {
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(&args).args(["--bootstrap", "127.0.0.1:9"]);
        let out = common::run(cmd, b"", DEADLINE);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    let mut help = common::command(&bin!("p2p-dht"), home.path());
    help.arg("--help");
    let out = common::run(help, b"", DEADLINE);
    assert_eq!(out.code(), 0);
    assert!(out.text().contains("Exit status"), "{}", out.text());
    assert!(out.text().contains("p2p-dht testnet"), "{}", out.text());
}
