//! `p2p-dns-rr serve` against the real `dig`, and `p2p-dns-rr query` against `serve`.

use crate::common;
use crate::common::dns::{WAIT, dig, plain_peer, serve, short, signed_peer, status, until};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn every_name_and_type_answers_dig() {
    if !common::have("every_name_and_type_answers_dig", "dig") {
        return;
    }
    let mut server = serve(&["--answers", "2"]);
    let (me, record, line) = signed_peer(
        1,
        &["udp://192.0.2.1:4000", "udp://[2001:db8::1]:4000"],
        Some("chat"),
    );
    server.process.send_line(&line);
    server
        .process
        .send_line(&plain_peer("198.51.100.1", 5000, Some("chat")));
    server
        .process
        .send_line(&plain_peer("198.51.100.2", 5000, None));
    let addr = server.addr;
    let id = me.id().to_string();
    let peer_name = format!("{id}.peers.test");

    // The apex: a rotating window of --answers addresses out of three.
    until(addr, "peers.test", "A", |got| got.len() == 2);
    let topic = until(addr, "chat.peers.test", "A", |got| got.len() == 2);
    assert!(
        topic
            .iter()
            .all(|ip| ip == "192.0.2.1" || ip == "198.51.100.1"),
        "{topic:?}"
    );
    assert_eq!(short(addr, "peers.test", "AAAA"), ["2001:db8::1"]);

    // PEER_ID.ZONE: all its addresses, and its signed record in TXT.
    assert_eq!(short(addr, &peer_name, "A"), ["192.0.2.1"]);
    assert_eq!(short(addr, &peer_name, "AAAA"), ["2001:db8::1"]);
    let txt = dig(addr, &["+short", &peer_name, "TXT"]);
    let json: String = txt
        .trim()
        .trim_matches('"')
        .split("\" \"")
        .collect::<String>()
        .replace("\\\"", "\"");
    let served: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(served["sig"], record.sig.clone().unwrap().as_str());
    assert_eq!(served, serde_json::from_str::<Value>(&line).unwrap());

    // SRV with the targets' addresses alongside, and TXT id= records.
    let srv = dig(addr, &["_p2p._udp.peers.test", "SRV"]);
    assert_eq!(status(&srv), "NOERROR");
    assert!(srv.contains(" aa"), "not authoritative: {srv}");
    let all_srv = until(addr, "_p2p._udp.peers.test", "SRV", |got| !got.is_empty());
    assert!(all_srv.iter().all(|l| l.starts_with("0 1 ")), "{all_srv:?}");
    let mut targets = BTreeSet::new();
    for _ in 0..4 {
        targets.extend(short(addr, "_p2p._udp.peers.test", "SRV"));
    }
    assert!(
        targets.contains(&format!("0 1 4000 {peer_name}.")),
        "{targets:?}"
    );
    assert!(
        targets.contains("0 1 5000 ip4-198-51-100-2.peers.test."),
        "{targets:?}"
    );
    assert!(
        srv.contains("ADDITIONAL SECTION"),
        "no target addresses: {srv}"
    );
    assert_eq!(
        short(addr, "ip4-198-51-100-2.peers.test", "A"),
        ["198.51.100.2"]
    );
    assert_eq!(
        short(addr, "_p2p._udp.peers.test", "TXT"),
        [format!("\"id={id}\"")]
    );

    // The zone itself, negative answers and names outside it.
    assert_eq!(short(addr, "peers.test", "NS"), ["ns.peers.test."]);
    let soa = short(addr, "peers.test", "SOA");
    assert!(
        soa[0].starts_with("ns.peers.test. hostmaster.peers.test. "),
        "{soa:?}"
    );
    assert!(soa[0].ends_with(" 5"), "negative TTL is not --ttl: {soa:?}");
    let missing = dig(addr, &["nobody.peers.test", "A"]);
    assert_eq!(status(&missing), "NXDOMAIN");
    assert!(missing.contains("AUTHORITY SECTION"), "{missing}");
    assert!(missing.contains("SOA"), "{missing}");
    let nodata = dig(addr, &[&peer_name, "MX"]);
    assert_eq!(status(&nodata), "NOERROR");
    assert!(nodata.contains("ANSWER: 0"), "{nodata}");
    assert_eq!(status(&dig(addr, &["example.com", "A"])), "REFUSED");
    // Zone transfers are refused (dig says only that the transfer failed).
    assert!(dig(addr, &["peers.test", "AXFR"]).contains("Transfer failed"));
    assert_eq!(
        status(&dig(addr, &["+opcode=status", "peers.test", "A"])),
        "NOTIMP"
    );
    assert_eq!(
        status(&dig(
            addr,
            &["+edns=1", "+noednsnegotiation", "peers.test", "A"]
        )),
        "BADVERS"
    );
    // Case does not matter.
    assert_eq!(short(addr, &peer_name.to_uppercase(), "A"), ["192.0.2.1"]);
}

#[test]
fn rotation_moves_over_every_peer() {
    if !common::have("rotation_moves_over_every_peer", "dig") {
        return;
    }
    let mut server = serve(&["--answers", "3"]);
    for i in 1..=10 {
        server
            .process
            .send_line(&plain_peer(&format!("198.51.100.{i}"), 5000, None));
    }
    let addr = server.addr;
    let first = until(addr, "peers.test", "A", |got| got.len() == 3);
    let mut seen: BTreeSet<String> = first.iter().cloned().collect();
    let mut last = first;
    // Wait until all ten are in (lines are applied as they come).
    for _ in 0..50 {
        let got = short(addr, "peers.test", "A");
        assert_eq!(got.len(), 3, "{got:?}");
        assert_ne!(got, last, "two queries in a row got the same subset");
        seen.extend(got.iter().cloned());
        last = got;
        if seen.len() == 10 {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        10,
        "rotation never reached every peer: {seen:?}"
    );
}

#[test]
fn a_large_answer_is_truncated_over_udp_and_whole_over_tcp() {
    if !common::have(
        "a_large_answer_is_truncated_over_udp_and_whole_over_tcp",
        "dig",
    ) {
        return;
    }
    let mut server = serve(&["--answers", "0"]);
    for i in 1..=60 {
        server.process.send_line(&plain_peer(
            &format!("10.0.{}.{}", i / 250, i % 250),
            5000,
            None,
        ));
    }
    let addr = server.addr;
    until(addr, "peers.test", "A", |got| got.len() == 60);
    let udp_only = dig(addr, &["+noedns", "+ignore", "peers.test", "A"]);
    assert!(
        udp_only.contains("flags: qr aa tc"),
        "not truncated: {udp_only}"
    );
    assert!(udp_only.contains("ANSWER: 0"), "{udp_only}");
    let retried = dig(addr, &["+noedns", "peers.test", "A"]);
    assert!(
        retried.contains("Truncated, retrying in TCP mode"),
        "{retried}"
    );
    assert!(retried.contains("ANSWER: 60"), "{retried}");
    assert!(retried.contains("(TCP)"), "{retried}");
    // An EDNS client with room for it gets it all over UDP.
    let edns = dig(addr, &["+bufsize=1232", "+ignore", "peers.test", "A"]);
    assert!(
        edns.contains("ANSWER: 60"),
        "EDNS size not honoured: {edns}"
    );
    assert!(!edns.contains(" tc"), "{edns}");
    assert!(edns.contains("(UDP)"), "{edns}");
}

#[test]
fn peers_expire_and_peer_gone_removes_them() {
    if !common::have("peers_expire_and_peer_gone_removes_them", "dig") {
        return;
    }
    let mut server = serve(&["--expire", "1s"]);
    let addr = server.addr;
    let (me, _, line) = signed_peer(2, &["udp://192.0.2.2:4000"], None);
    server.process.send_line(&line);
    server
        .process
        .send_line(&plain_peer("198.51.100.3", 5000, None));
    until(addr, "peers.test", "A", |got| got.len() == 2);
    server.process.send_line(&format!(
        "{{\"type\":\"peer_gone\",\"id\":\"{}\"}}",
        me.id()
    ));
    until(addr, "peers.test", "A", |got| got == ["198.51.100.3"]);
    let peer_name = format!("{}.peers.test", me.id());
    assert_eq!(status(&dig(addr, &[&peer_name, "A"])), "NXDOMAIN");
    // Not announced again: gone after --expire.
    until(addr, "peers.test", "A", <[String]>::is_empty);
}

#[test]
fn garbage_packets_and_lines_do_not_lose_the_table() {
    if !common::have("garbage_packets_and_lines_do_not_lose_the_table", "dig") {
        return;
    }
    let mut server = serve(&["--stats-every", "100ms"]);
    let addr = server.addr;
    server
        .process
        .send_line(&plain_peer("198.51.100.4", 5000, None));
    until(addr, "peers.test", "A", |got| got.len() == 1);

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A header that promises a question the packet does not hold: FORMERR, same id.
    socket
        .send_to(
            &[0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
            addr,
        )
        .unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert!(n >= 12);
    assert_eq!(&buf[..2], &[0xab, 0xcd]);
    assert_eq!(buf[2] & 0x80, 0x80, "not a response");
    assert_eq!(buf[3] & 0x0f, 1, "not FORMERR");
    // Too short for a header, and a response: no answer (checked through the stats).
    socket.send_to(&[1, 2, 3], addr).unwrap();
    socket.send_to(&buf[..n], addr).unwrap();

    server
        .process
        .send_line("{\"type\":\"peer\",\"addrs\":[\"udp://nonsense\"]}");
    server.process.send_line("not json at all");
    server
        .process
        .send_line(&plain_peer("198.51.100.5", 5000, None));
    until(addr, "peers.test", "A", |got| got.len() == 2);
    let stderr = server.process.stderr();
    assert!(
        stderr.contains("line 2: ") && stderr.contains("not an address"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: not valid JSON"), "{stderr}");
    // A stats line from before the last A queries may still be unread: wait for one
    // that counts them.
    let stats = server.process.wait_for(WAIT, |r| {
        r["type"] == "stats" && r["dropped"] == 2 && r["by_type"]["A"].as_u64() >= Some(2)
    });
    assert_eq!(stats["peers"], 2);
    assert!(stats["by_rcode"]["FORMERR"] == 1, "{stats}");
}

#[test]
fn a_peers_file_is_served_and_read_again_when_it_changes() {
    if !common::have(
        "a_peers_file_is_served_and_read_again_when_it_changes",
        "dig",
    ) {
        return;
    }
    let dir = common::tempdir();
    let file = dir.path().join("peers.ndjson");
    std::fs::write(&file, plain_peer("198.51.100.6", 5000, None) + "\n").unwrap();
    let server = serve(&["--peers", file.to_str().unwrap()]);
    let addr = server.addr;
    assert_eq!(short(addr, "peers.test", "A"), ["198.51.100.6"]);
    // Rewritten with another mtime: the new content replaces the old.
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::write(&file, plain_peer("198.51.100.7", 5000, None) + "\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    until(addr, "peers.test", "A", |got| got == ["198.51.100.7"]);
}

#[test]
fn query_turns_serve_answers_into_peer_records() {
    let mut server = serve(&[]);
    let (me, record, line) = signed_peer(3, &["udp://192.0.2.3:4000"], None);
    server.process.send_line(&line);
    server
        .process
        .send_line(&plain_peer("198.51.100.8", 5000, None));
    let addr = server.addr.to_string();
    let home = common::tempdir();
    let query = |args: &[&str]| {
        let mut cmd = common::command(&bin!("p2p-dns-rr"), home.path());
        cmd.args(["query", "--server", &addr, "--timeout", "2s"])
            .args(args);
        common::run(cmd, b"", WAIT)
    };
    // Lines are applied as they come: ask until both are in.
    let end = std::time::Instant::now() + WAIT;
    let srv = loop {
        let out = query(&["peers.test"]);
        if out.code() == 0 && out.records().len() == 2 {
            break out;
        }
        assert!(std::time::Instant::now() < end, "{}", out.stderr);
    };
    let peers = srv.records();
    let signed = peers
        .iter()
        .find(|p| p["id"] == me.id().to_string().as_str())
        .unwrap();
    assert_eq!(signed["addrs"], serde_json::json!(["udp://192.0.2.3:4000"]));
    assert_eq!(signed["via"], "dns");
    let other = peers.iter().find(|p| p.get("id").is_none()).unwrap();
    assert_eq!(
        other["addrs"],
        serde_json::json!(["udp://198.51.100.8:5000"])
    );

    let txt = query(&[&format!("{}.peers.test", me.id())]);
    assert_eq!(txt.code(), 0, "{}", txt.stderr);
    let got = &txt.records()[0];
    assert_eq!(got["sig"], record.sig.unwrap().as_str());
    assert_eq!(got["seq"], record.seq.unwrap());

    let no_port = query(&["peers.test", "--type", "a"]);
    assert_eq!(no_port.code(), 2);
    assert!(no_port.stderr.contains("--port"), "{}", no_port.stderr);
    let a = query(&["peers.test", "--type", "a", "--port", "7"]);
    assert_eq!(a.code(), 0, "{}", a.stderr);
    assert_eq!(a.records().len(), 2);
    let nx = query(&["nobody.peers.test", "--type", "txt"]);
    assert_eq!(nx.code(), 1, "{}", nx.stderr);
    assert_eq!(query(&["example.com"]).code(), 1);
}

#[test]
fn query_times_out_with_status_3() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let home = common::tempdir();
    let mut cmd = common::command(&bin!("p2p-dns-rr"), home.path());
    cmd.args(["query", "peers.test", "--server"])
        .arg(silent.local_addr().unwrap().to_string())
        .args(["--timeout", "300ms"]);
    let out = common::run(cmd, b"", WAIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(out.stderr.contains("no answer"), "{}", out.stderr);
}
