//! `p2p-gossip` end to end: ten processes on loopback in a line and in a random
//! graph, forged, replayed and seq-raised messages, a restart that catches up
//! through anti-entropy and from `--store`, a healed partition, an oversize line, a
//! flooding neighbour, a swarm formed from `p2p-discover --watch` against a local
//! tracker, an exit when stdout's reader goes away, and a node that keeps its
//! connections on its main thread.

mod rogue;
mod support;

use crate::common;
use p2p_shared::gossip::Message;
use p2p_shared::identity::Identity;
use rogue::Rogue;
use serde_json::{Value, json};
use std::process::Stdio;
use support::{Node, WAIT, broadcast_and_check, swarm};

#[test]
fn ten_nodes_in_a_line_deliver_every_message_to_all_exactly_once() {
    let home = common::tempdir();
    let mut nodes = swarm(
        home.path(),
        10,
        |i| if i == 0 { vec![] } else { vec![i - 1] },
    );
    broadcast_and_check(&mut nodes, &[0, 4, 9], 4, "line");
}

#[test]
fn ten_nodes_in_a_random_graph_deliver_every_message_to_all_exactly_once() {
    let home = common::tempdir();
    // A fixed pseudo-random graph: each node joins through one or two earlier ones.
    let mut nodes = swarm(home.path(), 10, |i| match i {
        0 => vec![],
        1 => vec![0],
        _ => {
            let a = (i * 7 + 3) % i;
            let b = (i * 13 + 5) % i;
            if a == b { vec![a] } else { vec![a, b] }
        }
    });
    broadcast_and_check(&mut nodes, &[1, 3, 6, 8], 3, "random");
    // In steady state (the tree pruned) a round of messages arrives about once.
    for node in &mut nodes {
        node.run.send_line(&json!({"steady": node.key}).to_string());
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let want: Vec<Value> = (0..10)
            .filter(|&j| j != i)
            .map(|j| json!({"steady": format!("n{j}.json")}))
            .collect();
        node.wait_data(&want);
        node.assert_no_duplicates();
    }
}

#[test]
fn forged_replayed_and_seq_raised_messages_are_dropped_with_a_record() {
    let home = common::tempdir();
    let mut nodes = swarm(home.path(), 2, |i| if i == 0 { vec![] } else { vec![0] });
    let author = Identity::from_seed([77; 32]);
    let mut rogue = Rogue::connect(&author, &nodes[0].id, &nodes[0].addr);
    let now = p2p_shared::ndjson::peer::now_millis();
    let genuine = Message::sign(&author, "t", 100, now, &json!("genuine"));
    rogue.push(&genuine.wire);
    for node in &mut nodes {
        node.wait_data(&[json!("genuine")]);
    }
    let text = String::from_utf8(genuine.wire.to_vec()).unwrap();
    // A relay raises seq (to silence the author's later messages): not signed so.
    rogue.push(text.replace("\"seq\":100", "\"seq\":999999").as_bytes());
    // Someone changes the payload of a new seq: the signature does not match.
    rogue.push(
        text.replace("\"seq\":100", "\"seq\":101")
            .replace("genuine", "forged")
            .as_bytes(),
    );
    // The same message again (a replay): a duplicate, never printed twice.
    rogue.push(&genuine.wire);
    // The author signs a different message under a seq already used: a replay.
    let rewritten = Message::sign(&author, "t", 100, now, &json!("rewritten"));
    rogue.push(&rewritten.wire);
    // A message for another topic, validly signed.
    let elsewhere = Message::sign(&author, "other", 102, now, &json!("elsewhere"));
    rogue.push(&elsewhere.wire);
    let after = Message::sign(&author, "t", 103, now, &json!("after"));
    rogue.push(&after.wire);
    nodes[0].wait_data(&[json!("after")]);
    nodes[0].until("three dropped records", |r| {
        r.iter().filter(|r| r["type"] == "dropped").count() >= 4
    });
    let dropped: Vec<&Value> = nodes[0]
        .records
        .iter()
        .filter(|r| r["type"] == "dropped")
        .collect();
    let reasons: Vec<&str> = dropped
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["bad_signature", "bad_signature", "replayed", "wrong_topic"],
        "{dropped:#?}"
    );
    assert_eq!(dropped[0]["seq"], 999_999);
    assert_eq!(dropped[0]["from"], author.id().to_string());
    assert_eq!(dropped[0]["author"], author.id().to_string());
    for node in &mut nodes {
        node.wait_data(&[json!("after")]);
        assert_eq!(node.data(), [json!("genuine"), json!("after")]);
        node.assert_no_duplicates();
    }
    assert!(rogue.is_open());
}

#[test]
fn a_killed_node_catches_up_on_restart_and_its_store_survives() {
    let home = common::tempdir();
    let mut nodes = swarm(home.path(), 2, |i| if i == 0 { vec![] } else { vec![0] });
    let store = home.path().join("c.ndjson");
    let store_arg = store.to_str().unwrap().to_owned();
    let contact = nodes[1].contact();
    let mut c = Node::start(
        home.path(),
        "c.json",
        &["--peer", &contact, "--store", &store_arg],
    );
    nodes[0].run.send_line("m1");
    c.wait_data(&[json!("m1")]);
    c.run.send_line("c's own");
    nodes[0].wait_data(&[json!("c's own")]);
    drop(c); // SIGKILL: no goodbye.
    nodes[0].run.send_line("m2");
    nodes[0].run.send_line("{\"m\":3}");
    nodes[1].wait_data(&[json!("m2"), json!({"m": 3})]);

    let mut c = Node::start(
        home.path(),
        "c.json",
        &["--peer", &contact, "--store", &store_arg],
    );
    assert_eq!(
        c.records[0]["restored"], 2,
        "m1 and its own message from the store"
    );
    c.wait_data(&[json!("m2"), json!({"m": 3})]);
    assert_eq!(
        c.data(),
        [json!("m2"), json!({"m": 3})],
        "m1 not printed again"
    );
    // Its next message continues its sequence: the others accept it.
    c.run.send_line("c again");
    nodes[1].wait_data(&[json!("c again")]);
    let seqs: Vec<u64> = nodes[1]
        .messages()
        .iter()
        .filter(|m| m["author"] == c.id.as_str())
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs[1] > seqs[0], "{seqs:?}");

    // With the others gone, a newcomer that knows only C gets everything from C's
    // store, including m1 from before the restart.
    drop(nodes);
    let contact = c.contact();
    let mut d = Node::start(home.path(), "d.json", &["--peer", &contact]);
    d.wait_data(&[json!("m1"), json!("m2"), json!({"m": 3}), json!("c's own")]);
    d.assert_no_duplicates();
    let lines = std::fs::read_to_string(&store).unwrap();
    assert!(
        lines
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).unwrap()["type"] == "gossip")
    );
}

#[test]
fn a_partition_heals_when_a_peer_record_bridges_it() {
    let home = common::tempdir();
    let line = |i: usize| {
        if i.is_multiple_of(4) {
            vec![]
        } else {
            vec![i - 1]
        }
    };
    let mut nodes = swarm(home.path(), 8, line);
    nodes[1].run.send_line("left side");
    nodes[6].run.send_line("right side");
    for (i, node) in nodes.iter_mut().enumerate() {
        let here = if i < 4 { "left side" } else { "right side" };
        if i != 1 && i != 6 {
            node.wait_data(&[json!(here)]);
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        let there = if i < 4 { "right side" } else { "left side" };
        assert!(
            !node.data().contains(&json!(there)),
            "no partition: node {i}"
        );
    }
    let bridge = nodes[4].peer_record();
    nodes[3].run.send_line(&bridge);
    for (i, node) in nodes.iter_mut().enumerate() {
        let there = if i < 4 { "right side" } else { "left side" };
        node.wait_data(&[json!(there)]);
        node.assert_no_duplicates();
    }
}

#[test]
fn an_oversize_line_is_refused_with_an_error_record_and_the_node_goes_on() {
    let home = common::tempdir();
    let mut nodes = swarm(home.path(), 2, |i| if i == 0 { vec![] } else { vec![0] });
    let mut small = Node::start(
        home.path(),
        "small.json",
        &["--max-size", "1024", "--peer", &nodes[0].contact()],
    );
    small.run.send_line("first");
    small.run.send_line(&"x".repeat(900));
    small.run.send_line(&"y".repeat(5000));
    small.run.send_line("last");
    small.until("two errors", |r| {
        r.iter().filter(|r| r["type"] == "error").count() >= 2
    });
    let errors: Vec<&Value> = small
        .records
        .iter()
        .filter(|r| r["type"] == "error")
        .collect();
    assert_eq!(errors[0]["line"], 2);
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("--max-size 1024"),
        "{errors:?}"
    );
    assert_eq!(errors[1]["line"], 3);
    nodes[1].wait_data(&[json!("first"), json!("last")]);
    assert_eq!(nodes[1].data(), [json!("first"), json!("last")]);
    assert!(
        small.run.stderr().contains("line 2:"),
        "{}",
        small.run.stderr()
    );
    small.run.terminate();
    let status = small.run.wait(WAIT).expect("stops on SIGTERM");
    // The signal sets the status, as in every tool (docs/cli.md); the refused
    // lines were reported above.
    assert_eq!(status.code(), Some(143), "SIGTERM ends with 143");
}

#[test]
fn a_flooding_neighbour_is_rate_limited_without_starving_the_others() {
    let home = common::tempdir();
    let mut victim = Node::start(
        home.path(),
        "victim.json",
        &["--rate", "100", "--stats-every", "200ms"],
    );
    let mut honest = Node::start(home.path(), "honest.json", &["--peer", &victim.contact()]);
    honest.until("neighbour", |r| r.iter().any(|r| r["type"] == "peer_up"));
    let flooder = Identity::from_seed([88; 32]);
    let mut rogue = Rogue::connect(&flooder, &victim.id, &victim.addr);
    let now = p2p_shared::ndjson::peer::now_millis();
    let flood: Vec<u8> = (1..=3000u64)
        .flat_map(|seq| {
            let m = Message::sign(&flooder, "t", seq, now, &json!(seq));
            p2p_shared::gossip::Wire::Gossip {
                hops: 1,
                message: m.wire,
            }
            .encode()
        })
        .collect();
    rogue.send_bytes(&flood);
    victim.until("a rate_limited record", |r| {
        r.iter()
            .any(|r| r["type"] == "dropped" && r["reason"] == "rate_limited")
    });
    let limited = victim
        .records
        .iter()
        .find(|r| r["reason"] == "rate_limited")
        .unwrap()
        .clone();
    assert_eq!(limited["from"], flooder.id().to_string());
    let honest_lines: Vec<Value> = (0..5).map(|k| json!({"honest": k})).collect();
    for line in &honest_lines {
        honest.run.send_line(&line.to_string());
    }
    victim.wait_data(&honest_lines);
    let stats = victim.next_stats();
    assert!(stats["rate_limited"].as_u64().unwrap() > 1000, "{stats}");
    let flooded = victim
        .messages()
        .iter()
        .filter(|m| m["author"] == flooder.id().to_string())
        .count();
    assert!(flooded < 1000, "{flooded} of the flood got through");
}

#[test]
fn p2p_discover_watching_a_local_tracker_feeds_a_swarm() {
    let home = common::tempdir();
    let mut tracker_cmd = common::command(&bin!("p2p-discover"), home.path());
    tracker_cmd.args(["tracker", "--bind", "127.0.0.1:0", "--interval", "1s"]);
    let mut tracker = common::Running::start(tracker_cmd);
    let announce = tracker.wait_for(WAIT, |r| r["type"] == "listening")["announce_http"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut nodes: Vec<Node> = (0..4)
        .map(|i| Node::start(home.path(), &format!("d{i}.json"), &[]))
        .collect();
    let mut feeders = Vec::new();
    for node in &mut nodes {
        let port = node.addr.rsplit(':').next().unwrap().to_owned();
        let mut cmd = common::command(&bin!("p2p-discover"), home.path());
        cmd.current_dir(home.path()).args([
            "t",
            "--tracker",
            &announce,
            "--announce",
            &port,
            "--addr",
            &node.addr,
            "-i",
            &node.key,
            "--watch",
        ]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = common::Guard(cmd.spawn().unwrap());
        let out = child.0.stdout.take().unwrap();
        // The pipe `p2p-discover … --watch | p2p-gossip`, relayed line by line.
        let mut to = node.run.stdin.take().unwrap();
        let relay = std::thread::spawn(move || {
            use std::io::{BufRead, Write};
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if to.write_all(format!("{line}\n").as_bytes()).is_err() {
                    break;
                }
            }
            to
        });
        feeders.push((child, relay));
    }
    for node in &mut nodes {
        node.until("neighbour", |r| r.iter().any(|r| r["type"] == "peer_up"));
    }
    // Every node's neighbours come from discovery; a message from the last node
    // reaches all the others.
    let (child, relay) = feeders.pop().unwrap();
    drop(child);
    let mut stdin = relay.join().unwrap();
    std::io::Write::write_all(&mut stdin, b"found you\n").unwrap();
    for node in &mut nodes[..3] {
        node.wait_data(&[json!("found you")]);
        node.assert_no_duplicates();
    }
}

#[test]
fn it_ends_when_its_stdout_reader_goes_away() {
    let home = common::tempdir();
    common::make_key(home.path(), "k.json");
    let mut cmd = common::command(&bin!("p2p-gossip"), home.path());
    cmd.current_dir(home.path())
        .args(["-i", "k.json", "--bind", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = common::Guard(cmd.spawn().unwrap());
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    assert!(first.contains("\"listening\""), "{first}");
    drop(out);
    let status = child
        .wait_until(WAIT)
        .expect("still running after its reader left");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let home = common::tempdir();
    common::make_key(home.path(), "k.json");
    for (args, want) in [
        (vec!["--peer", "127.0.0.1:1"], "ID@HOST:PORT"),
        (vec!["--max-size", "10"], "between 512"),
        (vec!["--bind", "nowhere"], "not an address"),
    ] {
        let mut cmd = common::command(&bin!("p2p-gossip"), home.path());
        cmd.current_dir(home.path())
            .args(["-i", "k.json"])
            .args(&args);
        let out = common::run(cmd, b"", common::DEADLINE);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
}

/// Two nodes join a third each through its own lossy link (5% loss each way, 1%
/// duplicates, 1-8 ms of delay that reorders): every message still reaches every
/// node exactly once.
#[test]
fn every_message_arrives_once_through_lossy_links() {
    use crate::common::lossy::{Faults, LossyLink};
    use std::sync::atomic::Ordering::Relaxed;
    let home = common::tempdir();
    let hub = Node::start(home.path(), "n0.json", &[]);
    let hub_addr = hub.addr.trim_start_matches("udp://").parse().unwrap();
    let links: Vec<LossyLink> = (0..2)
        .map(|seed| {
            LossyLink::start(
                hub_addr,
                Faults {
                    loss: 500,
                    duplicate: 100,
                    min_delay: std::time::Duration::from_millis(1),
                    max_delay: std::time::Duration::from_millis(8),
                    drop_first: 0,
                    seed,
                },
            )
        })
        .collect();
    let mut nodes = vec![hub];
    for (i, link) in links.iter().enumerate() {
        let contact = format!("{}@{}", nodes[0].id, link.addr());
        nodes.push(Node::start(
            home.path(),
            &format!("n{}.json", i + 1),
            &["--peer", &contact],
        ));
    }
    for node in &mut nodes {
        node.until("neighbour", |r| r.iter().any(|r| r["type"] == "peer_up"));
    }
    broadcast_and_check(&mut nodes, &[0, 1, 2], 20, "lossy");
    let dropped: u64 = links.iter().map(|l| l.counts.dropped.load(Relaxed)).sum();
    let forwarded: u64 = links.iter().map(|l| l.counts.received.load(Relaxed)).sum();
    assert!(
        dropped > 0,
        "the links dropped nothing: {forwarded} datagrams"
    );
    eprintln!(
        "gossip through lossy links: {}",
        links
            .iter()
            .map(LossyLink::summary)
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// The names of process `pid`'s threads.
fn thread_names(pid: u32) -> Vec<String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the node's /proc entry");
    dir.filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn a_node_runs_its_connections_on_its_main_thread() {
    let home = common::tempdir();
    let mut nodes = swarm(home.path(), 2, |i| if i == 0 { vec![] } else { vec![0] });
    nodes[1].run.send_line("over one thread");
    nodes[0].wait_data(&[json!("over one thread")]);
    for node in &nodes {
        let names = thread_names(node.run.pid());
        // smol's executor threads are named smol-N: quinn's drivers and the link
        // tasks would run there (a wake-up per frame each way) if not on main.
        assert!(
            !names.iter().any(|name| name.starts_with("smol-")),
            "threads of {}: {names:?}",
            node.key
        );
        assert!(names.iter().any(|name| name == "p2p-gossip"), "{names:?}");
    }
}

#[test]
fn a_killed_neighbour_is_noticed_when_its_port_answers_unreachable() {
    let home = common::tempdir();
    let mut nodes = swarm(home.path(), 2, |i| if i == 0 { vec![] } else { vec![0] });
    nodes[1].run.send_line("hello");
    nodes[0].wait_data(&[json!("hello")]);
    let gone = nodes.pop().unwrap();
    let gone_id = gone.id.clone();
    let killed = std::time::Instant::now();
    drop(gone); // SIGKILL: no goodbye.
    // What it sends to the dead port comes back as ICMP port unreachable.
    nodes[0].run.send_line("anyone there?");
    nodes[0].until("peer_down", |records| {
        records
            .iter()
            .any(|r| r["type"] == "peer_down" && r["id"] == gone_id.as_str())
    });
    // QUIC alone would wait for the 5 s idle timeout.
    let took = killed.elapsed();
    assert!(
        took < std::time::Duration::from_secs(3),
        "noticed after {took:?}"
    );
}
