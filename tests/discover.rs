//! `p2p-discover` end to end: its own tracker over HTTP and UDP, bootstrap files, a
//! local DHT testnet, `p2p-dns-rr` as the DNS server, and mDNS between two hosts in
//! network namespaces. Nothing leaves loopback or the namespaces.

use crate::common;
use crate::common::netns::Pair;
use crate::common::{DEADLINE, Finished, Running};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn discover(home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command(&bin!("p2p-discover"), home);
    cmd.current_dir(home).args(args);
    cmd
}

fn run(home: &Path, args: &[&str]) -> Finished {
    common::run(discover(home, args), b"", DEADLINE)
}

/// A running tracker and its two announce URLs.
struct Tracker {
    _process: Running,
    http: String,
    udp: String,
}

fn tracker(home: &Path, extra: &[&str]) -> Tracker {
    let mut cmd = discover(home, &["tracker", "--bind", "127.0.0.1:0"]);
    cmd.args(extra);
    let mut process = Running::start(cmd);
    let listening = process.wait_for(WAIT, |r| r["type"] == "listening");
    Tracker {
        http: listening["announce_http"].as_str().unwrap().to_owned(),
        udp: listening["announce_udp"].as_str().unwrap().to_owned(),
        _process: process,
    }
}

#[test]
fn a_tracker_hands_out_signed_records_over_http_and_plain_peers_over_udp() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "alice.json");
    let t = tracker(home.path(), &[]);
    let mut alice = Running::start(discover(
        home.path(),
        &[
            "chat",
            "--tracker",
            &t.http,
            "--announce",
            "4000",
            "--addr",
            "udp://192.0.2.1:4000",
            "-i",
            "alice.json",
        ],
    ));
    // Bob asks until Alice's announce has landed.
    let found = (0..50)
        .find_map(|_| {
            let out = run(
                home.path(),
                &[
                    "chat",
                    "--tracker",
                    &t.http,
                    "--count",
                    "1",
                    "--timeout",
                    "2s",
                ],
            );
            (out.code() == 0).then(|| out.records().remove(0))
        })
        .unwrap_or_else(|| panic!("bob never found alice; alice said: {}", alice.stderr()));
    assert_eq!(found["id"], id.as_str());
    assert_eq!(found["addrs"], json!(["udp://192.0.2.1:4000"]));
    assert_eq!(found["via"], "tracker");
    assert_eq!(found["sig"].as_str().unwrap().len(), 128);

    let over_udp = run(home.path(), &["chat", "--tracker", &t.udp, "--count", "1"]);
    assert_eq!(over_udp.code(), 0, "{}", over_udp.stderr);
    assert_eq!(
        over_udp.records()[0]["addrs"],
        json!(["udp://127.0.0.1:4000"])
    );

    let other_topic = run(home.path(), &["lonely", "--tracker", &t.udp]);
    assert_eq!(other_topic.code(), 1);
    assert!(
        other_topic.stderr.contains("no peer found"),
        "{}",
        other_topic.stderr
    );
    alice.terminate();
    assert!(alice.wait(WAIT).is_some(), "alice did not stop on SIGTERM");
}

#[test]
fn watching_a_tracker_reports_a_peer_that_leaves() {
    let home = common::tempdir();
    let t = tracker(home.path(), &["--interval", "1s"]);
    let mut bob = Running::start(discover(
        home.path(),
        &["room", "--tracker", &t.http, "--watch"],
    ));
    let mut alice = Running::start(discover(
        home.path(),
        &[
            "room",
            "--tracker",
            &t.udp,
            "--announce",
            "5000",
            "--anonymous",
        ],
    ));
    let found = bob.wait_for(WAIT, |r| r["type"] == "peer");
    assert_eq!(found["addrs"], json!(["udp://127.0.0.1:5000"]));
    alice.terminate();
    assert!(alice.wait(WAIT).is_some());
    let gone = bob.wait_for(WAIT, |r| r["type"] == "peer_gone");
    assert_eq!(gone["addrs"], json!(["udp://127.0.0.1:5000"]));
    assert_eq!(gone["via"], "tracker");
}

#[test]
fn bootstrap_files_in_all_three_forms_with_a_bad_line_reported() {
    let home = common::tempdir();
    let a = common::make_key(home.path(), "a.json");
    let b = common::make_key(home.path(), "b.json");
    std::fs::write(
        home.path().join("map.json"),
        format!("{{\n  \"{a}\": \"tcp://192.0.2.10:4000\"\n}}\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join("peers.ndjson"),
        format!(
            "{}\n",
            json!({"type": "peer", "id": b, "addrs": ["udp://192.0.2.11:4000"]})
        ),
    )
    .unwrap();
    std::fs::write(
        home.path().join("plain.txt"),
        "# a comment\n192.0.2.12:4000\nudp://[2001:db8::12]:4000\nnot-an-address\n",
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "chat",
            "--peers",
            "map.json",
            "--peers",
            "peers.ndjson",
            "--peers",
            "plain.txt",
        ],
    );
    assert_eq!(
        out.code(),
        2,
        "a bad line makes the exit status 2: {}",
        out.stderr
    );
    let addrs: Vec<Value> = out
        .records()
        .iter()
        .map(|r| r["addrs"][0].clone())
        .collect();
    assert_eq!(
        addrs,
        vec![
            json!("tcp://192.0.2.10:4000"),
            json!("udp://192.0.2.11:4000"),
            json!("udp://192.0.2.12:4000"),
            json!("udp://[2001:db8::12]:4000"),
        ]
    );
    assert!(
        out.records()
            .iter()
            .all(|r| r["via"] == "bootstrap" && r["topic"] == "chat")
    );
    assert!(out.stderr.contains("plain.txt: line 4:"), "{}", out.stderr);
}

/// The handbook's bootstrap list, copied as printed (a map in brackets, libp2p `Qm…`
/// ids, a `utp://` address), yields its three peers, with a note on stderr. Nothing
/// is dialled: the addresses are only printed.
#[test]
fn the_handbooks_bootstrap_list_verbatim_yields_its_three_peers() {
    let home = common::tempdir();
    std::fs::write(
        home.path().join("handbook.txt"),
        r#"[ "Qm…": "tcp://12.62.93.214:9090", "Qm…": "udp://24.243.12.9:1234", "Qm…": "utp://99.4.78.181:97" ]"#,
    )
    .unwrap();
    let out = run(home.path(), &["chat", "--peers", "handbook.txt"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    let addrs: Vec<&Value> = records.iter().map(|r| &r["addrs"][0]).collect();
    assert_eq!(
        addrs,
        [
            "tcp://12.62.93.214:9090",
            "udp://24.243.12.9:1234",
            "utp://99.4.78.181:97"
        ]
    );
    for record in &records {
        assert_eq!(record["foreign_id"], "Qm…", "{record}");
        assert!(record.get("id").is_none(), "{record}");
    }
    assert!(out.stderr.contains("read leniently"), "{}", out.stderr);
}

#[test]
fn a_forged_signed_record_is_dropped_and_counted() {
    let home = common::tempdir();
    common::make_key(home.path(), "key.json");
    let mut keygen = common::command(&bin!("p2p-keygen"), home.path());
    keygen.current_dir(home.path()).args([
        "peer",
        "-i",
        "key.json",
        "--addr",
        "udp://192.0.2.20:4000",
        "--topic",
        "chat",
    ]);
    let good = common::run(keygen, b"", DEADLINE).records().remove(0);
    let mut forged = good.clone();
    forged["addrs"] = json!(["udp://203.0.113.66:4000"]);
    std::fs::write(
        home.path().join("peers.ndjson"),
        format!("{forged}\n{good}\n"),
    )
    .unwrap();
    let out = run(home.path(), &["chat", "--peers", "peers.ndjson"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.records().len(), 1);
    assert_eq!(out.records()[0]["addrs"], good["addrs"]);
    assert!(
        out.stderr.contains("dropped 1 forged peer record"),
        "{}",
        out.stderr
    );
}

#[test]
fn count_and_timeout_decide_the_exit_status() {
    let home = common::tempdir();
    std::fs::write(home.path().join("two.txt"), "192.0.2.1:1\n192.0.2.2:2\n").unwrap();
    let one = run(
        home.path(),
        &["t", "--peers", "two.txt", "--count", "1", "--watch"],
    );
    assert_eq!(one.code(), 0, "{}", one.stderr);
    assert_eq!(one.records().len(), 1);
    let t = tracker(home.path(), &[]);
    let started = std::time::Instant::now();
    let none = run(
        home.path(),
        &["t", "--tracker", &t.http, "--watch", "--timeout", "1s"],
    );
    assert_eq!(
        none.code(),
        3,
        "out of time with nothing found is a timeout"
    );
    assert!(
        none.stderr.contains("no peer found within 1s"),
        "{}",
        none.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let usage = run(home.path(), &["t", "--timeout", "soon"]);
    assert_eq!(usage.code(), 2);
}

#[test]
fn peers_announced_on_a_local_dht_testnet_are_found() {
    let home = common::tempdir();
    let mut testnet = Running::start({
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(["testnet", "10", "--bind", "127.0.0.1"]);
        cmd
    });
    let bootstrap = testnet.wait_for(WAIT, |r| r["type"] == "bootstrap");
    let env = bootstrap["env"]
        .as_str()
        .unwrap()
        .strip_prefix("P2P_DHT_BOOTSTRAP=")
        .unwrap()
        .to_owned();
    let mut alice = Running::start({
        let mut cmd = discover(
            home.path(),
            &["swarm", "--dht", "--announce", "4100", "--anonymous"],
        );
        cmd.env("P2P_DHT_BOOTSTRAP", &env);
        cmd
    });
    let found = (0..50)
        .find_map(|_| {
            let out = run(
                home.path(),
                &[
                    "swarm",
                    "--dht",
                    "--bootstrap",
                    &env,
                    "--count",
                    "1",
                    "--timeout",
                    "3s",
                ],
            );
            (out.code() == 0).then(|| out.records().remove(0))
        })
        .unwrap_or_else(|| panic!("never found on the DHT; alice said: {}", alice.stderr()));
    assert_eq!(found["via"], "dht");
    assert_eq!(found["addrs"], json!(["udp://127.0.0.1:4100"]));
    assert_eq!(found["topic"], "swarm");
    alice.terminate();
    assert!(alice.wait(WAIT).is_some());
}

#[test]
fn dns_answers_from_p2p_dns_rr_become_peers() {
    let home = common::tempdir();
    let mut server = Running::start({
        let mut cmd = common::command(&bin!("p2p-dns-rr"), home.path());
        cmd.args(["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"]);
        cmd
    });
    let listening = server.wait_for(WAIT, |r| r["type"] == "listening");
    let addr = listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://")
        .to_owned();
    common::make_key(home.path(), "key.json");
    let mut keygen = common::command(&bin!("p2p-keygen"), home.path());
    keygen.current_dir(home.path()).args([
        "peer",
        "-i",
        "key.json",
        "--addr",
        "udp://192.0.2.30:4000",
        "--topic",
        "chat",
    ]);
    let record = common::run(keygen, b"", DEADLINE).records().remove(0);
    server.send_line(&record.to_string());
    let found = (0..50)
        .find_map(|_| {
            let out = run(
                home.path(),
                &[
                    "chat",
                    "--dns",
                    "peers.test:4000",
                    "--dns-server",
                    &addr,
                    "--count",
                    "1",
                ],
            );
            (out.code() == 0).then(|| out.records().remove(0))
        })
        .expect("no peer from DNS");
    assert_eq!(found["via"], "dns");
    assert_eq!(found["id"], record["id"]);
    assert!(found["addrs"].to_string().contains("192.0.2.30"), "{found}");
}

#[test]
fn mdns_finds_peers_both_ways_across_two_hosts_and_sees_them_leave() {
    let Some(lab) = Pair::new("mdns_finds_peers_both_ways_across_two_hosts_and_sees_them_leave")
    else {
        return;
    };
    let home = common::tempdir();
    let ids = [
        common::make_key(home.path(), "a.json"),
        common::make_key(home.path(), "b.json"),
    ];
    let start = |i: usize| {
        let mut cmd = lab.command(i, &bin!("p2p-discover"), home.path());
        cmd.current_dir(home.path()).args([
            "lan",
            "--mdns",
            "--interface",
            &lab.iface[i],
            "--announce",
            "4000",
            "-i",
            if i == 0 { "a.json" } else { "b.json" },
            "--watch",
        ]);
        Running::start(cmd)
    };
    let mut a = start(0);
    let mut b = start(1);
    let seen_by_a = a.wait_for(WAIT, |r| r["type"] == "peer");
    let seen_by_b = b.wait_for(WAIT, |r| r["type"] == "peer");
    assert_eq!(seen_by_a["id"], ids[1].as_str());
    assert_eq!(seen_by_b["id"], ids[0].as_str());
    assert_eq!(seen_by_b["addrs"], json!(["udp://192.0.2.1:4000"]));
    assert_eq!(seen_by_a["via"], "mdns");
    assert!(
        seen_by_a["sig"].is_string(),
        "the TXT record carries a signed record"
    );
    b.terminate();
    assert!(b.wait(WAIT).is_some(), "b did not stop: {}", b.stderr());
    let gone = a.wait_for(WAIT, |r| r["type"] == "peer_gone");
    assert_eq!(gone["id"], ids[1].as_str());
}

/// An mDNS announcer for `topic` in namespace `i` of `lab`, signed by `key`.
fn mdns_announcer(lab: &Pair, i: usize, home: &Path, topic: &str, key: &str) -> Running {
    let mut cmd = lab.command(i, &bin!("p2p-discover"), home);
    cmd.current_dir(home).args([
        topic,
        "--mdns",
        "--interface",
        &lab.iface[i],
        "--announce",
        "4000",
        "-i",
        key,
    ]);
    Running::start(cmd)
}

/// The one-shot query alone: host b drops every packet to port 5353 (IPv4 and IPv6),
/// so the browser's multicast answers never arrive and only the unicast answers to
/// the one-shot query's ephemeral port do. b finds a's signed record anyway; with the
/// one-shot query taken out of the build, it finds nothing (checked by hand).
#[test]
fn the_mdns_one_shot_query_alone_finds_a_peer() {
    let test = "the_mdns_one_shot_query_alone_finds_a_peer";
    if !common::have(test, "iptables") {
        return;
    }
    let Some(lab) = Pair::new(test) else {
        return;
    };
    // IPv4 and IPv6: the browser also hears answers over ff02::fb.
    for iptables in ["iptables", "ip6tables"] {
        let drop_mdns = Command::new("ip")
            .args(["netns", "exec", &lab.ns[1], iptables, "-A", "INPUT"])
            .args(["-p", "udp", "--dport", "5353", "-j", "DROP"])
            .status()
            .unwrap();
        assert!(drop_mdns.success(), "{iptables} in the namespace");
    }
    let home = common::tempdir();
    let id = common::make_key(home.path(), "a.json");
    let _a = mdns_announcer(&lab, 0, home.path(), "lan", "a.json");
    // Each run sends one one-shot query at its start: ask until a's service is up.
    let found = crate::common::libtorrent::until(WAIT, "b finding a by the one-shot query", || {
        let mut cmd = lab.command(1, &bin!("p2p-discover"), home.path());
        cmd.current_dir(home.path()).args([
            "lan",
            "--mdns",
            "--interface",
            &lab.iface[1],
            "--count",
            "1",
            "--timeout",
            "2s",
        ]);
        let out = common::run(cmd, b"", DEADLINE);
        (out.code() == 0).then(|| out.records().remove(0))
    });
    assert_eq!(found["id"], id.as_str());
    assert_eq!(found["via"], "mdns");
    assert_eq!(found["addrs"], json!(["udp://192.0.2.1:4000"]));
    assert!(found["sig"].is_string(), "{found}");
}

/// `--announce` signs one record, capped at 8 addresses: the one host b gets over
/// mDNS and the one it gets from a tracker (both announced by host a, with 10
/// addresses) are the same, `seq` and `sig` included.
#[test]
fn one_signed_record_travels_by_mdns_and_tracker_alike() {
    let test = "one_signed_record_travels_by_mdns_and_tracker_alike";
    let Some(lab) = Pair::new(test) else {
        return;
    };
    let home = common::tempdir();
    common::make_key(home.path(), "a.json");
    let mut tracker = lab.command(0, &bin!("p2p-discover"), home.path());
    tracker.args(["tracker", "--bind", "192.0.2.1:0"]);
    let mut tracker = Running::start(tracker);
    let listening = tracker.wait_for(WAIT, |r| r["type"] == "listening");
    let http = listening["announce_http"].as_str().unwrap().to_owned();
    let mut a = lab.command(0, &bin!("p2p-discover"), home.path());
    a.current_dir(home.path()).args([
        "lan",
        "--mdns",
        "--interface",
        &lab.iface[0],
        "--tracker",
        &http,
        "--announce",
        "4000",
        "-i",
        "a.json",
    ]);
    // More addresses than mDNS TXT carries: the one record keeps the first 8.
    for i in 1..=10 {
        a.args(["--addr", &format!("udp://198.51.100.{i}:4000")]);
    }
    let _a = Running::start(a);
    let find = |mechanism: &[&str]| {
        crate::common::libtorrent::until(WAIT, "b finding a", || {
            let mut cmd = lab.command(1, &bin!("p2p-discover"), home.path());
            cmd.current_dir(home.path())
                .args([
                    "lan",
                    "--interface",
                    &lab.iface[1],
                    "--count",
                    "1",
                    "--timeout",
                    "2s",
                ])
                .args(mechanism);
            let out = common::run(cmd, b"", DEADLINE);
            (out.code() == 0).then(|| out.records().remove(0))
        })
    };
    let by_mdns = find(&["--mdns"]);
    let by_tracker = find(&["--tracker", &http]);
    assert_eq!(by_mdns["via"], "mdns");
    assert_eq!(by_tracker["via"], "tracker");
    assert!(by_mdns["sig"].is_string(), "{by_mdns}");
    assert_eq!(by_mdns["sig"], by_tracker["sig"]);
    assert_eq!(by_mdns["seq"], by_tracker["seq"]);
    assert_eq!(by_mdns["addrs"], by_tracker["addrs"]);
    assert_eq!(by_tracker["addrs"].as_array().unwrap().len(), 8);
}

/// Without a topic, or with `--all`, mDNS lists the peers of every topic on the link,
/// each with its own topic.
#[test]
fn mdns_without_a_topic_lists_every_peer_on_the_link() {
    let test = "mdns_without_a_topic_lists_every_peer_on_the_link";
    let Some(lab) = Pair::new(test) else {
        return;
    };
    let home = common::tempdir();
    let ids = [
        common::make_key(home.path(), "a.json"),
        common::make_key(home.path(), "b.json"),
    ];
    let _lan = mdns_announcer(&lab, 0, home.path(), "lan", "a.json");
    let _files = mdns_announcer(&lab, 0, home.path(), "files", "b.json");
    for all in [&[][..], &["--all"]] {
        let mut cmd = lab.command(1, &bin!("p2p-discover"), home.path());
        cmd.current_dir(home.path())
            .args([
                "--mdns",
                "--interface",
                &lab.iface[1],
                "--count",
                "2",
                "--timeout",
                "15s",
            ])
            .args(all);
        let out = common::run(cmd, b"", DEADLINE);
        assert_eq!(out.code(), 0, "{all:?}: {}", out.stderr);
        let mut seen: Vec<(String, String)> = out
            .records()
            .iter()
            .map(|r| {
                (
                    r["topic"].as_str().unwrap().into(),
                    r["id"].as_str().unwrap().into(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("files".into(), ids[1].clone()),
                ("lan".into(), ids[0].clone())
            ],
            "{all:?}"
        );
    }
    // Mechanisms that look a topic up need one.
    let out = run(home.path(), &["--dht"]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("--dht needs a topic"), "{}", out.stderr);
}

/// tests/common/libtorrent_client.py in `mode`, a standard BitTorrent client on 127.0.0.1.
fn libtorrent_client(home: &Path, mode: &str, tracker: &str, arg: &str) -> Running {
    let mut cmd = common::command(Path::new(common::PYTHON), home);
    cmd.current_dir(home)
        .arg(common::repo_root().join("tests/common/libtorrent_client.py"))
        .args([mode, tracker, arg]);
    Running::start(cmd)
}

/// The next record of a libtorrent client, which must have the `type` `want`.
fn client_says(client: &mut Running, want: &str) -> Value {
    let Some(record) = client.next_record(WAIT) else {
        let status = client.wait(Duration::from_secs(5));
        panic!(
            "libtorrent said nothing more (exit status {status:?}); stderr:\n{}",
            client.stderr()
        );
    };
    assert_eq!(
        record["type"],
        want,
        "{record}; stderr:\n{}",
        client.stderr()
    );
    record
}

#[test]
fn libtorrent_announces_to_and_scrapes_the_tracker_over_http_and_udp() {
    if !common::libtorrent_available(
        "libtorrent_announces_to_and_scrapes_the_tracker_over_http_and_udp",
    ) {
        return;
    }
    let home = common::tempdir();
    let t = tracker(home.path(), &[]);
    for (url, topic) in [(&t.http, "lt-over-http"), (&t.udp, "lt-over-udp")] {
        // A magnet for SHA-1(topic): p2p-discover asks for the same swarm.
        let infohash = hex::encode(Sha1::digest(topic.as_bytes()));
        let mut client = libtorrent_client(home.path(), "announce", url, &infohash);
        let announced = client_says(&mut client, "announced");
        assert_eq!(announced["num_peers"], 0, "{url}: a fresh swarm is empty");
        let scraped = client_says(&mut client, "scraped");
        assert_eq!(
            (&scraped["complete"], &scraped["incomplete"]),
            (&json!(0), &json!(1)),
            "{url}: the scrape counts libtorrent, still downloading"
        );
        let port = announced["port"].as_u64().unwrap();
        let found = run(home.path(), &[topic, "--tracker", url, "--count", "1"]);
        assert_eq!(found.code(), 0, "{url}: {}", found.stderr);
        assert_eq!(
            found.records()[0]["addrs"],
            json!([format!("udp://127.0.0.1:{port}")]),
            "{url}: the tracker holds libtorrent's listen address"
        );
        client.close_stdin();
        assert!(client.wait(WAIT).is_some(), "libtorrent did not stop");
    }
}

#[test]
fn two_libtorrent_clients_find_each_other_through_the_tracker() {
    if !common::libtorrent_available("two_libtorrent_clients_find_each_other_through_the_tracker") {
        return;
    }
    let home = common::tempdir();
    for udp in [false, true] {
        // A fresh tracker each time, so the swarm holds just the two clients.
        let t = tracker(home.path(), &[]);
        let url = if udp { &t.udp } else { &t.http };
        let dir = tempfile::tempdir_in(home.path()).unwrap();
        let mut client = libtorrent_client(home.path(), "swarm", url, dir.path().to_str().unwrap());
        let ports = client_says(&mut client, "ports");
        let seeder = client_says(&mut client, "announced");
        assert_eq!(
            (&seeder["who"], &seeder["num_peers"]),
            (&json!("seeder"), &json!(0))
        );
        let leecher = client_says(&mut client, "announced");
        assert_eq!(
            (&leecher["who"], &leecher["num_peers"]),
            (&json!("leecher"), &json!(1))
        );
        let connected = client_says(&mut client, "connected");
        assert_eq!(
            connected["addr"],
            format!("127.0.0.1:{}", ports["seeder"]),
            "{url}: the leecher dials the seeder's address from the tracker"
        );
        client_says(&mut client, "downloaded");
        for who in ["seeder", "leecher"] {
            // The tracker never returns the asker itself: the one peer is the other.
            let again = client_says(&mut client, "reannounced");
            assert_eq!(
                (&again["who"], &again["num_peers"]),
                (&json!(who), &json!(1)),
                "{url}"
            );
        }
        let scraped = client_says(&mut client, "scraped");
        assert_eq!(
            (&scraped["complete"], &scraped["incomplete"]),
            (&json!(2), &json!(0)),
            "{url}: both are seeders now"
        );
        assert_eq!(client.wait(WAIT).and_then(|s| s.code()), Some(0));
    }
}

/// Makes a throwaway CA and a certificate for 127.0.0.1 signed by it, with openssl,
/// in `dir`: `ca.pem`, `server.pem`, `server.key`.
fn make_test_ca(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=p2p-discover test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "server.ext",
    ]);
}

/// An HTTPS tracker: `p2p-discover tracker` behind socat terminating TLS with a
/// certificate from a CA made for the test. Trusted through `--ca-file` (or
/// `$SSL_CERT_FILE`), a peer announced over HTTPS is found over HTTPS; without the CA
/// the certificate is refused.
#[test]
fn an_https_tracker_is_used_with_its_ca_trusted_and_refused_without() {
    let test = "an_https_tracker_is_used_with_its_ca_trusted_and_refused_without";
    if !common::have(test, "socat") || !common::have(test, "openssl") {
        return;
    }
    let home = common::tempdir();
    make_test_ca(home.path());
    let t = tracker(home.path(), &[]);
    let plain = t.http.trim_start_matches("http://");
    let plain = &plain[..plain.find('/').unwrap()];
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut socat = Command::new("socat");
    socat.current_dir(home.path()).args([
        &format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert=server.pem,key=server.key,verify=0"
        ),
        &format!("TCP:{plain}"),
    ]);
    let _socat = Running::start(socat);
    let ready = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < ready, "socat did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let https = format!("https://127.0.0.1:{port}/announce");

    let mut announcer = discover(
        home.path(),
        &[
            "chat",
            "--tracker",
            &https,
            "--ca-file",
            "ca.pem",
            "--announce",
            "4321",
            "--anonymous",
        ],
    );
    announcer
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    let _announcer = Running::start(announcer);
    let find = |extra: &[&str], ssl_cert_file: Option<&str>| {
        let mut cmd = discover(
            home.path(),
            &[
                &[
                    "chat",
                    "--tracker",
                    &https,
                    "--count",
                    "1",
                    "--timeout",
                    "10s",
                ][..],
                extra,
            ]
            .concat(),
        );
        cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        if let Some(file) = ssl_cert_file {
            cmd.env("SSL_CERT_FILE", home.path().join(file));
        }
        common::run(cmd, b"", DEADLINE)
    };
    // The announcer's first announce may still be on its way: ask until it is there.
    let found = crate::common::libtorrent::until(WAIT, "finding the HTTPS announcer", || {
        let found = find(&["--ca-file", "ca.pem"], None);
        assert!(!found.stderr.contains("certificate"), "{}", found.stderr);
        (found.code() == 0).then_some(found)
    });
    assert_eq!(found.records()[0]["via"], "tracker");
    assert_eq!(found.records()[0]["addrs"][0], "udp://127.0.0.1:4321");
    let by_env = find(&[], Some("ca.pem"));
    assert_eq!(by_env.code(), 0, "{}", by_env.stderr);

    // Without the test CA, the system's roots do not vouch for the certificate.
    let refused = find(&[], None);
    assert_eq!(refused.code(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("certificate"), "{}", refused.stderr);
    // A CA file that holds no certificate is a usage error.
    std::fs::write(home.path().join("empty.pem"), "").unwrap();
    let bad = find(&["--ca-file", "empty.pem"], None);
    assert_eq!(bad.code(), 2, "{}", bad.stderr);
}

/// Sends one HTTP GET for `target` to the tracker at `addr` and returns the body.
fn http_get(addr: &str, target: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn tracker_stats_count_swarms_peers_announces_scrapes_and_refusals() {
    let home = common::tempdir();
    let mut cmd = discover(
        home.path(),
        &["tracker", "--bind", "127.0.0.1:0", "--stats-every", "100ms"],
    );
    cmd.args(["--rate", "3"]);
    let mut tracker = Running::start(cmd);
    let listening = tracker.wait_for(WAIT, |r| r["type"] == "listening");
    let addr = listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("tcp://");
    let mut stats =
        |want: &dyn Fn(&Value) -> bool| tracker.wait_for(WAIT, |r| r["type"] == "stats" && want(r));
    let first = stats(&|_| true);
    for counter in [
        "swarms",
        "peers",
        "announces",
        "scrapes",
        "http_connections",
    ] {
        assert_eq!(first[counter], 0, "{first}");
    }
    assert_eq!(first["refused"], serde_json::json!({}), "{first}");

    let announce =
        "/announce?info_hash=AAAAAAAAAAAAAAAAAAAA&peer_id=BBBBBBBBBBBBBBBBBBBB&port=4000";
    assert!(http_get(addr, announce).contains("interval"));
    let moved = stats(&|s| s["announces"] == 1);
    assert_eq!(moved["swarms"], 1, "{moved}");
    assert_eq!(moved["peers"], 1, "{moved}");
    assert!(moved["http_connections"].as_u64() >= Some(1), "{moved}");

    http_get(addr, "/scrape?info_hash=AAAAAAAAAAAAAAAAAAAA");
    stats(&|s| s["scrapes"] == 1);
    http_get(addr, "/announce?info_hash=short&peer_id=x&port=1");
    stats(&|s| s["refused"]["bad_request"] == 1);
    // --rate 3: the third announce from this address in a minute is the last.
    http_get(addr, announce);
    http_get(addr, announce);
    assert!(http_get(addr, announce).contains("rate limited"));
    stats(&|s| s["refused"]["rate_limited"].as_u64() >= Some(1));
    // A UDP announce with a connection id the tracker never gave.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut packet = vec![0u8; 98];
    packet[11] = 1; // action: announce
    udp.send_to(&packet, addr).unwrap();
    stats(&|s| s["refused"]["unknown_connection"] == 1);
}
