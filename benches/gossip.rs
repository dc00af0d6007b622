//! `p2p-gossip` with Plumtree beside `--mode flood`, in one run: first the protocol
//! alone in the deterministic simulation (50 nodes, 1 ms ± 1 ms links, virtual time,
//! so the figures do not depend on how loaded the machine is), then 50 processes on
//! loopback (QUIC): 1,000 messages from random authors, then 1,000 more with 20% of
//! the nodes killed halfway (set `BENCH_GOSSIP_PROCESSES=0` to skip the processes). Run by `scripts/bench-gossip`; prints per mode the
//! delivery ratio, p50/p99 time for a message to reach every live node, relative
//! message redundancy (copies received per delivered message, minus one) and frame
//! bytes sent per delivered payload byte.
//!
//! Times are measured by this harness: from writing the line to the author's stdin
//! to reading the `message` record from each receiver's stdout, so both pipes count.
//! Counters come from the nodes' `stats` records (differences over each phase).

// A benchmark's output is its figures, for a person to read.
#![allow(clippy::print_stdout)]
// Counts become ratios and percentiles; precision far beyond what is printed.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use p2p_shared::gossip::rng::Rng;
use p2p_shared::gossip::sim::{NetConfig, Sim};
use p2p_shared::gossip::{Config, Mode};
use p2p_shared::identity::Identity;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

const NODES: usize = 50;
const MESSAGES: usize = 1000;
const KILLED: usize = NODES / 5;
/// Time between two published messages (the whole swarm: 100 messages/s).
const PACE: Duration = Duration::from_millis(10);
const PAD: usize = 100;

enum Seen {
    Listening(usize, String),
    Message(usize, u64, Instant),
    Stats(usize, Value),
}

struct Node {
    child: Child,
    stdin: ChildStdin,
    contact: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, i: usize, mode: &str, peers: &[String], tx: Sender<Seen>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p2p-gossip"));
    cmd.current_dir(dir)
        .args([
            "-q",
            "-i",
            &format!("k{i}.json"),
            "--bind",
            "127.0.0.1:0",
            "--topic",
            "bench",
        ])
        .args(["--mode", mode, "--stats-every", "500ms", "--rate", "5000"])
        .env_remove("P2P_IDENTITY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for p in peers {
        cmd.args(["--peer", p]);
    }
    let mut child = cmd.spawn().expect("starting p2p-gossip");
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let now = Instant::now();
            let Ok(record) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let seen = match record["type"].as_str() {
                Some("listening") => {
                    let contact = format!(
                        "{}@{}",
                        record["id"].as_str().unwrap(),
                        record["addr"].as_str().unwrap()
                    );
                    Seen::Listening(i, contact)
                }
                Some("message") => {
                    Seen::Message(i, record["data"]["k"].as_u64().unwrap_or(u64::MAX), now)
                }
                Some("stats") => Seen::Stats(i, record),
                _ => continue,
            };
            if tx.send(seen).is_err() {
                break;
            }
        }
    });
    child
}

struct Phase {
    delivered: f64,
    p50: f64,
    p99: f64,
    redundancy: f64,
    bytes_per_byte: f64,
}

struct Swarm {
    nodes: Vec<Option<Node>>,
    rx: Receiver<Seen>,
    stats: HashMap<usize, Value>,
    received: HashMap<u64, HashMap<usize, Instant>>,
}

impl Swarm {
    fn new(dir: &Path, mode: &str, rng: &mut Rng) -> Swarm {
        let (tx, rx) = mpsc::channel();
        let mut swarm = Swarm {
            nodes: Vec::new(),
            rx,
            stats: HashMap::new(),
            received: HashMap::new(),
        };
        for i in 0..NODES {
            let peers: Vec<String> = if i == 0 {
                vec![]
            } else {
                let c = rng.below(i);
                vec![swarm.nodes[c].as_ref().unwrap().contact.clone()]
            };
            let mut child = start(dir, i, mode, &peers, tx.clone());
            let stdin = child.stdin.take().unwrap();
            let contact = loop {
                match swarm
                    .rx
                    .recv_timeout(Duration::from_secs(20))
                    .expect("a node did not start")
                {
                    Seen::Listening(j, c) if j == i => break c,
                    other => swarm.note(other),
                }
            };
            swarm.nodes.push(Some(Node {
                child,
                stdin,
                contact,
            }));
        }
        // Let the overlay settle: joins, neighbour requests, first shuffles.
        swarm.pump_for(Duration::from_secs(3));
        swarm
    }

    fn note(&mut self, seen: Seen) {
        match seen {
            Seen::Listening(..) => {}
            Seen::Message(node, k, at) => {
                self.received
                    .entry(k)
                    .or_default()
                    .entry(node)
                    .or_insert(at);
            }
            Seen::Stats(node, record) => {
                self.stats.insert(node, record);
            }
        }
    }

    fn pump_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Ok(seen) = self
            .rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            self.note(seen);
        }
    }

    fn alive(&self) -> Vec<usize> {
        (0..NODES).filter(|&i| self.nodes[i].is_some()).collect()
    }

    fn totals(&self) -> (u64, u64, u64) {
        self.alive()
            .iter()
            .filter_map(|i| self.stats.get(i))
            .fold((0, 0, 0), |(d, n, b), s| {
                (
                    d + s["duplicates"].as_u64().unwrap_or(0),
                    n + s["delivered"].as_u64().unwrap_or(0),
                    b + s["bytes_sent"].as_u64().unwrap_or(0),
                )
            })
    }

    /// Publishes messages `first..first + MESSAGES`, killing `kill` halfway.
    fn phase(&mut self, first: u64, kill: &[usize], rng: &mut Rng) -> Phase {
        let survivors: Vec<usize> = self
            .alive()
            .into_iter()
            .filter(|i| !kill.contains(i))
            .collect();
        let before = self.totals();
        let mut sent: HashMap<u64, (usize, Instant)> = HashMap::new();
        let pad = "x".repeat(PAD);
        for n in 0..MESSAGES {
            if n == MESSAGES / 2 {
                for &k in kill {
                    self.nodes[k] = None;
                }
            }
            let k = first + n as u64;
            let author = survivors[rng.below(survivors.len())];
            let line = json!({"k": k, "pad": pad}).to_string();
            let node = self.nodes[author].as_mut().unwrap();
            node.stdin
                .write_all(format!("{line}\n").as_bytes())
                .unwrap();
            sent.insert(k, (author, Instant::now()));
            let until = Instant::now() + PACE;
            self.pump_for(until.saturating_duration_since(Instant::now()));
        }
        // Wait until everything has arrived everywhere (or 20 s pass), and for one more
        // round of stats.
        let end = Instant::now() + Duration::from_secs(20);
        let complete = |s: &Swarm| {
            sent.iter().all(|(k, (author, _))| {
                let got = s.received.get(k);
                survivors
                    .iter()
                    .all(|n| n == author || got.is_some_and(|g| g.contains_key(n)))
            })
        };
        while !complete(self) && Instant::now() < end {
            self.pump_for(Duration::from_millis(100));
        }
        self.pump_for(Duration::from_millis(1200));
        let after = self.totals();
        let mut reach_ms = Vec::new();
        let (mut got, mut want) = (0usize, 0usize);
        for (k, (author, at)) in &sent {
            let receivers: HashSet<usize> =
                survivors.iter().copied().filter(|n| n != author).collect();
            let times = self.received.get(k);
            let arrived: Vec<Instant> = receivers
                .iter()
                .filter_map(|n| times.and_then(|t| t.get(n)).copied())
                .collect();
            got += arrived.len();
            want += receivers.len();
            if arrived.len() == receivers.len() {
                let last = arrived.into_iter().max().unwrap();
                reach_ms.push(last.duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
        reach_ms.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if reach_ms.is_empty() {
                f64::NAN
            } else {
                reach_ms[((reach_ms.len() - 1) as f64 * p).round() as usize]
            }
        };
        let dups = after.0.saturating_sub(before.0) as f64;
        let delivered = after.1.saturating_sub(before.1) as f64;
        let bytes = after.2.saturating_sub(before.2) as f64;
        let payload = json!({"k": first, "pad": pad}).to_string().len() as f64;
        Phase {
            delivered: got as f64 / want as f64,
            p50: pct(0.5),
            p99: pct(0.99),
            redundancy: dups / delivered.max(1.0),
            bytes_per_byte: bytes / (delivered.max(1.0) * payload),
        }
    }
}

/// One phase in the simulation: `MESSAGES` messages at the same pace as the
/// processes, killing `kill` halfway; figures over the nodes alive at the end.
fn sim_phase(sim: &mut Sim, kill: &[usize], rng: &mut Rng) -> Phase {
    let survivors: Vec<usize> = sim
        .alive()
        .into_iter()
        .filter(|i| !kill.contains(i))
        .collect();
    let totals = |sim: &Sim| {
        sim.alive().iter().fold((0u64, 0u64), |(d, n), &i| {
            let s = sim.stats(i).unwrap();
            (d + s.duplicates, n + s.delivered)
        })
    };
    let before = totals(sim);
    let bytes_before = sim.traffic.bytes;
    let pad = "x".repeat(PAD);
    let mut ids = Vec::new();
    for n in 0..MESSAGES {
        if n == MESSAGES / 2 {
            for &k in kill {
                sim.kill(k);
            }
        }
        let author = survivors[rng.below(survivors.len())];
        ids.push(sim.publish(author, &json!({"k": n, "pad": pad})).unwrap());
        sim.run_for(PACE.as_millis() as u64);
    }
    sim.run_for(20_000);
    let after = totals(sim);
    let (mut got, mut want, mut reach) = (0usize, 0usize, Vec::new());
    for id in &ids {
        let (author, at) = sim.published[id];
        let receivers: Vec<usize> = survivors.iter().copied().filter(|&n| n != author).collect();
        let arrived: Vec<u64> = sim.deliveries.get(id).map_or_else(Vec::new, |d| {
            d.iter()
                .filter(|d| receivers.contains(&d.node))
                .map(|d| d.at)
                .collect()
        });
        got += arrived.len();
        want += receivers.len();
        if arrived.len() == receivers.len() {
            reach.push((arrived.into_iter().max().unwrap() - at) as f64);
        }
    }
    reach.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        reach
            .get(((reach.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let delivered = after.1.saturating_sub(before.1) as f64;
    let payload = json!({"k": 0, "pad": pad}).to_string().len() as f64;
    Phase {
        delivered: got as f64 / want as f64,
        p50: pct(0.5),
        p99: pct(0.99),
        redundancy: after.0.saturating_sub(before.0) as f64 / delivered.max(1.0),
        bytes_per_byte: (sim.traffic.bytes - bytes_before) as f64 / (delivered.max(1.0) * payload),
    }
}

fn simulated() {
    println!(
        "simulation: {NODES} nodes, links 1 ms + up to 1 ms jitter, a killed node noticed after 5 s (QUIC idle timeout); virtual time"
    );
    println!(
        "{:<9} {:<14} {:>10} {:>8} {:>8} {:>11} {:>12}",
        "mode", "phase", "delivered", "p50 ms", "p99 ms", "redundancy", "bytes/byte"
    );
    for mode in [Mode::Plumtree, Mode::Flood] {
        let name = if mode == Mode::Plumtree {
            "plumtree"
        } else {
            "flood"
        };
        let mut sim = Sim::new(NetConfig {
            latency_ms: 1,
            jitter_ms: 1,
            detect_ms: 5_000,
            seed: 7,
        });
        let mut cfg = Config::new("bench");
        cfg.mode = mode;
        let mut rng = Rng::new(42);
        for i in 0..NODES {
            sim.add_node(cfg.clone());
            if i > 0 {
                sim.join(i, rng.below(i));
            }
            sim.run_for(20);
        }
        sim.run_for(3_000);
        sim_phase(&mut sim, &[], &mut rng);
        row(name, "steady", &sim_phase(&mut sim, &[], &mut rng));
        let kill: Vec<usize> = rng.sample(&(1..NODES).collect::<Vec<_>>(), KILLED);
        row(name, "20% killed", &sim_phase(&mut sim, &kill, &mut rng));
    }
    println!();
}

fn row(mode: &str, phase: &str, p: &Phase) {
    println!(
        "{mode:<9} {phase:<14} {:>9.2}% {:>8.1} {:>8.1} {:>11.3} {:>12.2}",
        p.delivered * 100.0,
        p.p50,
        p.p99,
        p.redundancy,
        p.bytes_per_byte
    );
}

fn main() {
    simulated();
    if std::env::var("BENCH_GOSSIP_PROCESSES").is_ok_and(|v| v == "0") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for i in 0..NODES {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        Identity::from_seed(seed)
            .save(&dir.path().join(format!("k{i}.json")), true)
            .unwrap();
    }
    println!(
        "p2p-gossip: {NODES} processes on loopback QUIC, {MESSAGES} messages of {PAD}+ bytes from random authors at {} msg/s",
        1000 / PACE.as_millis()
    );
    println!(
        "steady: all nodes up; killed: {KILLED} random nodes killed after {} messages",
        MESSAGES / 2
    );
    println!(
        "{:<9} {:<14} {:>10} {:>8} {:>8} {:>11} {:>12}",
        "mode", "phase", "delivered", "p50 ms", "p99 ms", "redundancy", "bytes/byte"
    );
    let mut results = Vec::new();
    for mode in ["plumtree", "flood"] {
        let mut rng = Rng::new(42);
        let mut swarm = Swarm::new(dir.path(), mode, &mut rng);
        // A warm-up round lets Plumtree prune its tree (the paper's steady state).
        swarm.phase(1_000_000, &[], &mut rng);
        let steady = swarm.phase(0, &[], &mut rng);
        row(mode, "steady", &steady);
        let kill: Vec<usize> = rng.sample(&(1..NODES).collect::<Vec<_>>(), KILLED);
        let killed = swarm.phase(MESSAGES as u64, &kill, &mut rng);
        row(mode, "20% killed", &killed);
        results.push((steady, killed));
    }
    let (p, f) = (&results[0], &results[1]);
    println!(
        "flood/plumtree: bytes {:.1}x (steady), {:.1}x (killed); p99 {:.2}x (steady), {:.2}x (killed)",
        f.0.bytes_per_byte / p.0.bytes_per_byte,
        f.1.bytes_per_byte / p.1.bytes_per_byte,
        f.0.p99 / p.0.p99,
        f.1.p99 / p.1.p99
    );
}
