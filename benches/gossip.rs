//! `p2p-gossip` with Plumtree beside `--mode flood`, in one run, in three parts:
//!
//! 1. the protocol alone in the deterministic simulation (50 nodes, virtual time),
//!    on an idle profile (links of 1-2 ms) and a loaded one (nodes descheduled now
//!    and then, as 50 processes on 2 busy cores are), with Plumtree's adaptive
//!    timers and with the paper's fixed ones;
//! 2. 50 nodes as tasks of this one process, each the real node over its own QUIC
//!    endpoint on loopback (`inproc`), so 50 nodes are not 50 processes;
//! 3. 50 `p2p-gossip` processes on loopback QUIC.
//!
//! Each runs 1,000 messages from random authors, then 1,000 more with 20% of the
//! nodes killed halfway (`BENCH_GOSSIP_PARTS=sim,inproc,processes` picks parts,
//! `BENCH_GOSSIP_MODES=plumtree,flood` modes).
//! Run by `scripts/bench-gossip`; prints per mode the delivery ratio, p50/p99 time
//! for a message to reach every live node, relative message redundancy (copies
//! received per delivered message, minus one), frame bytes sent per delivered
//! payload byte and GRAFTs per delivered message.
//!
//! Times are measured by this harness: for processes from writing the line to the
//! author's stdin to reading the `message` record from each receiver's stdout (both
//! pipes count), in one process from handing the message to the author's task to
//! each receiver's node delivering it. Counters come from the nodes' `stats`
//! (differences over each phase).

// A benchmark's output is its figures, for a person to read.
#![allow(clippy::print_stdout)]
// Counts become ratios and percentiles; precision far beyond what is printed.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use p2p_shared::gossip::plumtree::TreeConfig;
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

#[path = "gossip/inproc.rs"]
mod inproc;
use p2p_shared::gossip::PeerInfo;

/// How often nodes report their counters.
const STATS_EVERY: Duration = Duration::from_millis(500);

const NODES: usize = 50;
const MESSAGES: usize = 1000;
const KILLED: usize = NODES / 5;
/// Time between two published messages (the whole swarm: 100 messages/s).
const PACE: Duration = Duration::from_millis(10);
const PAD: usize = 100;

enum Seen {
    Listening(usize, String),
    /// Node, message `k`, when the node handed it out, and (in one process) the
    /// link it came over.
    Message(usize, u64, Instant, Option<Via>),
    Stats(usize, Value),
    /// A node's trace of membership events (in one process only).
    Trace(usize, Vec<String>),
}

/// The link a delivered message came over: the neighbour whose frame carried it,
/// and when the receiving node's task took that frame.
#[derive(Clone, Copy)]
struct Via {
    from: usize,
    taken: Instant,
}

/// One node of the swarm: a process, or a task of this process.
enum Member {
    Process {
        child: Child,
        stdin: ChildStdin,
        contact: String,
    },
    Task {
        tx: smol::channel::Sender<inproc::Ev>,
        contact: PeerInfo,
    },
}

impl Member {
    fn publish(&mut self, data: &Value) {
        match self {
            Member::Process { stdin, .. } => stdin
                .write_all(format!("{data}\n").as_bytes())
                .expect("writing to a node"),
            Member::Task { tx, .. } => tx
                .send_blocking(inproc::Ev::Publish(data.clone()))
                .expect("a node task ended"),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        match self {
            Member::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Member::Task { tx, .. } => {
                let _ = tx.send_blocking(inproc::Ev::Kill);
            }
        }
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
        .env_remove("SMOL_THREADS")
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
                    let k = record["data"]["k"].as_u64().unwrap_or(u64::MAX);
                    Seen::Message(i, k, now, None)
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

/// How long one message took to reach every live node, and who was last.
struct Slow {
    k: u64,
    ms: f64,
    author: usize,
    at: Instant,
    last: usize,
    /// Receivers that got it more than 60 ms after it was sent.
    late: usize,
}

impl Slow {
    /// Message `k` from `author`, sent `at`, arrived at every one of `receivers`
    /// at `times`.
    fn of(
        k: u64,
        author: usize,
        at: Instant,
        receivers: &HashSet<usize>,
        times: Option<&HashMap<usize, Instant>>,
    ) -> Slow {
        let time = |n: &usize| times.and_then(|t| t.get(n)).copied();
        let last = receivers
            .iter()
            .copied()
            .max_by_key(time)
            .unwrap_or(usize::MAX);
        let ms = time(&last).map_or(f64::NAN, |t| t.duration_since(at).as_secs_f64() * 1000.0);
        let late = receivers
            .iter()
            .filter(|n| time(n).is_some_and(|t| t.duration_since(at) > Duration::from_millis(60)))
            .count();
        Slow {
            k,
            ms,
            author,
            at,
            last,
            late,
        }
    }
}

/// Slowest messages named after a phase with kills.
const SLOWEST: usize = 12;

struct Phase {
    grafts: f64,
    delivered: f64,
    p50: f64,
    p99: f64,
    redundancy: f64,
    bytes_per_byte: f64,
}

struct Swarm {
    nodes: Vec<Option<Member>>,
    rx: Receiver<Seen>,
    stats: HashMap<usize, Value>,
    received: HashMap<u64, HashMap<usize, Instant>>,
    /// In one process: the link each delivery came over, by message and node.
    vias: HashMap<u64, HashMap<usize, Via>>,
    traces: HashMap<usize, Vec<String>>,
}

impl Swarm {
    fn new(dir: &Path, mode: &str, rng: &mut Rng) -> Swarm {
        let (tx, rx) = mpsc::channel();
        let mut swarm = Swarm {
            nodes: Vec::new(),
            rx,
            stats: HashMap::new(),
            received: HashMap::new(),
            vias: HashMap::new(),
            traces: HashMap::new(),
        };
        for i in 0..NODES {
            let peers: Vec<String> = if i == 0 {
                vec![]
            } else {
                let c = rng.below(i);
                match swarm.nodes[c].as_ref() {
                    Some(Member::Process { contact, .. }) => vec![contact.clone()],
                    _ => unreachable!("a swarm of processes"),
                }
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
            swarm.nodes.push(Some(Member::Process {
                child,
                stdin,
                contact,
            }));
        }
        // Let the overlay settle: joins, neighbour requests, first shuffles.
        swarm.pump_for(Duration::from_secs(3));
        swarm
    }

    /// The same swarm as tasks of this process (one QUIC endpoint each).
    fn in_process(mode: Mode, rng: &mut Rng) -> Swarm {
        inproc::stalls();
        let (tx, rx) = mpsc::channel();
        let mut swarm = Swarm {
            nodes: Vec::new(),
            rx,
            stats: HashMap::new(),
            received: HashMap::new(),
            vias: HashMap::new(),
            traces: HashMap::new(),
        };
        for i in 0..NODES {
            let contact = if i == 0 {
                None
            } else {
                let c = rng.below(i);
                match swarm.nodes[c].as_ref() {
                    Some(Member::Task { contact, .. }) => Some(contact.clone()),
                    _ => unreachable!("a swarm of tasks"),
                }
            };
            swarm
                .nodes
                .push(Some(inproc::start(i, mode, contact, tx.clone())));
        }
        swarm.pump_for(Duration::from_secs(3));
        swarm
    }

    fn note(&mut self, seen: Seen) {
        match seen {
            Seen::Listening(..) => {}
            Seen::Message(node, k, at, via) => {
                self.received
                    .entry(k)
                    .or_default()
                    .entry(node)
                    .or_insert(at);
                if let Some(via) = via {
                    self.vias.entry(k).or_default().entry(node).or_insert(via);
                }
            }
            Seen::Stats(node, record) => {
                self.stats.insert(node, record);
            }
            Seen::Trace(node, lines) => {
                self.traces.insert(node, lines);
            }
        }
    }

    /// Takes in what the nodes report for `d`. Reports carry their own times, so
    /// they are read every 2 ms rather than each as it comes: a blocked reader is
    /// woken by every delivery (5,000 wake-ups a second), which costs the swarm
    /// CPU that it does not spend when it runs as 50 processes.
    fn pump_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        loop {
            while let Ok(seen) = self.rx.try_recv() {
                self.note(seen);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(2)));
        }
    }

    /// Names each receiver that missed messages, with its views and links and who
    /// counts it as a neighbour; in one process, also the trace of its membership
    /// events (its own, and every other node's lines that name it).
    fn diagnose(&mut self, missed: &[(usize, usize)], sent: usize) {
        if missed.is_empty() {
            return;
        }
        let tasks = self
            .nodes
            .iter()
            .flatten()
            .any(|m| matches!(m, Member::Task { .. }));
        if tasks {
            for member in self.nodes.iter().flatten() {
                if let Member::Task { tx, .. } = member {
                    let _ = tx.send_blocking(inproc::Ev::Dump);
                }
            }
            self.pump_for(Duration::from_millis(500));
        }
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        for &(n, count) in missed {
            let s = self.stats.get(&n);
            let view = |f: &str| s.and_then(|s| s[f].as_u64()).unwrap_or(0);
            eprintln!(
                "node {n} missed {count} of {sent} messages (active view {}, passive {})",
                view("active"),
                view("passive")
            );
            if let Some(views) = s.map(|s| &s["views"]).filter(|v| v.is_object()) {
                eprintln!("  its views: {views}");
            }
            let name = format!("n{n}");
            for field in ["active", "eager", "lazy", "links"] {
                let holders: Vec<String> = self
                    .alive()
                    .into_iter()
                    .filter(|m| {
                        self.stats.get(m).is_some_and(|s| {
                            list(&s["views"][field])
                                .iter()
                                .any(|p| p.split(['<', '>']).next() == Some(name.as_str()))
                        })
                    })
                    .map(|m| format!("n{m}"))
                    .collect();
                eprintln!("  in the {field} view of: {holders:?}");
            }
            if tasks {
                let name = name.as_str();
                let mut lines: Vec<&String> = self
                    .traces
                    .iter()
                    .flat_map(|(&m, lines)| {
                        lines.iter().filter(move |l| {
                            m == n || l.split(|c: char| !c.is_alphanumeric()).any(|w| w == name)
                        })
                    })
                    .collect();
                lines.sort_by_key(|l| {
                    l.split_whitespace()
                        .next()
                        .and_then(|t| t.parse::<u64>().ok())
                });
                eprintln!("  trace:");
                for line in lines {
                    eprintln!("    {line}");
                }
            }
        }
    }

    /// In one process, after a phase with kills: how long one link took (the
    /// receiver's task taking the frame, minus the sender handing the message out
    /// or publishing it) for the messages sent in the half second before the kills
    /// and in the half second after, and the path of the slowest message. Tells
    /// the tree's repair (a long wait on one link) from slower hops everywhere.
    fn report_links(
        &self,
        sent: &HashMap<u64, (usize, Instant)>,
        killed_at: Instant,
        slowest: Option<&Slow>,
    ) {
        if self.vias.is_empty() {
            return;
        }
        let handed = |k: u64, node: usize| -> Option<Instant> {
            let (author, at) = sent.get(&k)?;
            if node == *author {
                Some(*at)
            } else {
                self.received.get(&k)?.get(&node).copied()
            }
        };
        let link_ms = |k: u64, via: &Via| {
            handed(k, via.from).map(|t| via.taken.saturating_duration_since(t).as_secs_f64() * 1e3)
        };
        let window = Duration::from_millis(500);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (&k, &(_, at)) in sent {
            let bucket = if at < killed_at && at + window >= killed_at {
                &mut before
            } else if at >= killed_at && at < killed_at + window {
                &mut after
            } else {
                continue;
            };
            for via in self.vias.get(&k).into_iter().flat_map(HashMap::values) {
                bucket.extend(link_ms(k, via));
            }
        }
        let spread = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let at = |p: f64| v.get(((v.len().max(1) - 1) as f64 * p).round() as usize);
            match (at(0.5), at(0.9), v.last()) {
                (Some(m), Some(p90), Some(max)) => {
                    format!(
                        "median {m:.1}, p90 {p90:.1}, max {max:.1} ms over {} links",
                        v.len()
                    )
                }
                _ => "no links".to_owned(),
            }
        };
        eprintln!(
            "one link's delay (frame taken minus handed out), messages sent in the 500 ms before the kills: {}; in the 500 ms after: {}",
            spread(&mut before),
            spread(&mut after)
        );
        let Some(slow) = slowest else {
            return;
        };
        let mut path = Vec::new();
        let mut node = slow.last;
        while let Some(via) = self.vias.get(&slow.k).and_then(|v| v.get(&node)) {
            let link = link_ms(slow.k, via).unwrap_or(f64::NAN);
            let reached = via.taken.saturating_duration_since(slow.at).as_secs_f64() * 1e3;
            path.push(format!("n{node} at {reached:.0} ms (link {link:.0} ms)"));
            if via.from == slow.author || path.len() > NODES {
                break;
            }
            node = via.from;
        }
        path.push(format!("n{}", slow.author));
        path.reverse();
        eprintln!("path of the slowest, k={}: {}", slow.k, path.join(" -> "));
    }

    /// Names the slowest messages of a phase with kills: when each was sent
    /// relative to the kills, its author, its last receiver and how many receivers
    /// got it more than 60 ms late; in one process, also the trace of the last
    /// receivers from the kills on (deliveries more than 60 ms late are in it).
    fn report_slow(&mut self, slow: &mut [Slow], kill: &[usize], killed_at: (Instant, u64)) {
        slow.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        let top = &slow[..slow.len().min(SLOWEST)];
        eprintln!(
            "killed: {:?}",
            kill.iter().map(|k| format!("n{k}")).collect::<Vec<_>>()
        );
        eprintln!("slowest {} messages:", top.len());
        for s in top {
            let sent = if s.at >= killed_at.0 {
                format!(
                    "+{:.0}",
                    s.at.duration_since(killed_at.0).as_secs_f64() * 1000.0
                )
            } else {
                format!(
                    "-{:.0}",
                    killed_at.0.duration_since(s.at).as_secs_f64() * 1000.0
                )
            };
            eprintln!(
                "  k={} {:.1} ms, sent {sent} ms after the kills by n{}, last n{}, {} receivers over 60 ms",
                s.k, s.ms, s.author, s.last, s.late
            );
        }
        let tasks = self
            .nodes
            .iter()
            .flatten()
            .any(|m| matches!(m, Member::Task { .. }));
        if !tasks {
            return;
        }
        for member in self.nodes.iter().flatten() {
            if let Member::Task { tx, .. } = member {
                let _ = tx.send_blocking(inproc::Ev::Dump);
            }
        }
        self.pump_for(Duration::from_millis(500));
        let at = killed_at.1;
        let stalls: Vec<(u64, u64)> = inproc::stalls()
            .lock()
            .map(|log| {
                log.iter()
                    .filter(|(t, _)| *t + 100 >= at)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let first: Vec<String> = stalls
            .iter()
            .filter(|(t, _)| *t < at + 1_000)
            .map(|(t, late)| format!("+{}:{late}", t.saturating_sub(at)))
            .collect();
        eprintln!(
            "executor wake-ups over 5 ms late in the second after the kills (ms after: ms late): {first:?}; worst of the phase's rest {:?}",
            stalls
                .iter()
                .filter(|(t, _)| *t >= at + 1_000)
                .map(|s| s.1)
                .max()
        );
        let mut lasts: Vec<usize> = Vec::new();
        for s in top {
            if !lasts.contains(&s.last) && lasts.len() < 4 {
                lasts.push(s.last);
            }
        }
        let since = killed_at.1.saturating_sub(50);
        for n in lasts {
            eprintln!("  trace of n{n} from the kills on:");
            for line in self.traces.get(&n).into_iter().flatten() {
                let at = line
                    .split_whitespace()
                    .next()
                    .and_then(|t| t.parse::<u64>().ok());
                if at.is_some_and(|t| t >= since) {
                    eprintln!("    {line}");
                }
            }
        }
    }

    fn alive(&self) -> Vec<usize> {
        (0..NODES).filter(|&i| self.nodes[i].is_some()).collect()
    }

    /// The counters of `nodes` summed: duplicates, delivered, bytes, grafts. A
    /// phase compares them over the same nodes (its survivors) before and after.
    fn totals(&self, nodes: &[usize]) -> (u64, u64, u64, u64) {
        nodes
            .iter()
            .filter_map(|i| self.stats.get(i))
            .fold((0, 0, 0, 0), |(d, n, b, g), s| {
                (
                    d + s["duplicates"].as_u64().unwrap_or(0),
                    n + s["delivered"].as_u64().unwrap_or(0),
                    b + s["bytes_sent"].as_u64().unwrap_or(0),
                    g + s["grafts"].as_u64().unwrap_or(0),
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
        let before = self.totals(&survivors);
        let mut sent: HashMap<u64, (usize, Instant)> = HashMap::new();
        let pad = "x".repeat(PAD);
        let mut killed_at = None;
        for n in 0..MESSAGES {
            if n == MESSAGES / 2 && !kill.is_empty() {
                killed_at = Some((Instant::now(), inproc::stamp()));
                for &k in kill {
                    self.nodes[k] = None;
                }
            }
            let k = first + n as u64;
            let author = survivors[rng.below(survivors.len())];
            let data = json!({"k": k, "pad": pad});
            self.nodes[author].as_mut().unwrap().publish(&data);
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
        let after = self.totals(&survivors);
        let mut reach_ms = Vec::new();
        let mut slow: Vec<Slow> = Vec::new();
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
                let reach = Slow::of(*k, *author, *at, &receivers, times);
                reach_ms.push(reach.ms);
                slow.push(reach);
            }
        }
        if let Some(killed_at) = killed_at {
            self.report_slow(&mut slow, kill, killed_at);
            self.report_links(&sent, killed_at.0, slow.first());
        }
        let missed: Vec<(usize, usize)> = survivors
            .iter()
            .map(|n| {
                let count = sent
                    .iter()
                    .filter(|(k, (author, _))| {
                        author != n && !self.received.get(k).is_some_and(|g| g.contains_key(n))
                    })
                    .count();
                (*n, count)
            })
            .filter(|&(_, count)| count > 0)
            .collect();
        self.diagnose(&missed, sent.len());
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
            grafts: after.3.saturating_sub(before.3) as f64 / delivered.max(1.0),
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
    // Over the survivors before and after (the killed nodes' counters would make
    // the differences too small).
    let totals = |sim: &Sim| {
        survivors.iter().fold((0u64, 0u64, 0u64), |(d, n, g), &i| {
            let s = sim.stats(i).unwrap();
            (d + s.duplicates, n + s.delivered, g + s.grafts)
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
        grafts: after.2.saturating_sub(before.2) as f64 / delivered.max(1.0),
        delivered: got as f64 / want as f64,
        p50: pct(0.5),
        p99: pct(0.99),
        redundancy: after.0.saturating_sub(before.0) as f64 / delivered.max(1.0),
        bytes_per_byte: (sim.traffic.bytes - bytes_before) as f64 / (delivered.max(1.0) * payload),
    }
}

/// The machine profiles simulated: an idle one (links of 1-2 ms), and a loaded one
/// where each node is descheduled now and then as each of 50 processes is on 2
/// busy cores (`BENCH_GOSSIP_LOAD=PAUSE/RUN` sets the mean pause and the mean run
/// between pauses, milliseconds).
fn profiles() -> Vec<(&'static str, NetConfig)> {
    let (pause_ms, run_ms) = std::env::var("BENCH_GOSSIP_LOAD")
        .ok()
        .and_then(|v| {
            let (p, r) = v.split_once('/')?;
            Some((p.parse().ok()?, r.parse().ok()?))
        })
        .unwrap_or((LOADED_PAUSE_MS, LOADED_RUN_MS));
    let idle = NetConfig {
        latency_ms: 1,
        jitter_ms: 1,
        detect_ms: 5_000,
        seed: 7 + sim_seed(),
        pause_ms: 0,
        run_ms: 0,
    };
    let loaded = NetConfig {
        pause_ms,
        run_ms,
        ..idle.clone()
    };
    vec![("idle", idle), ("loaded", loaded)]
}

/// Plumtree's timers by name: `paper` (the default), `undo`, `adaptive`;
/// `BENCH_GOSSIP_WAIT_MAX` caps the adaptive wait (ms), `BENCH_GOSSIP_GRAFT_MS` sets
/// the wait for an announced message before a graft and `BENCH_GOSSIP_IHAVE_MS` how
/// often IHAVEs go out (ms), to try other values without a rebuild.
pub fn tree(name: &str) -> TreeConfig {
    let mut tree = match name {
        "adaptive" => TreeConfig::adaptive(),
        "undo" => TreeConfig {
            undo_grafts: true,
            ..TreeConfig::default()
        },
        _ => TreeConfig::default(),
    };
    if let Some(max) = env_ms("BENCH_GOSSIP_WAIT_MAX") {
        tree.graft_timeout_max_ms = max;
    }
    if let Some(wait) = env_ms("BENCH_GOSSIP_GRAFT_MS") {
        tree.graft_timeout_ms = wait;
    }
    if let Some(every) = env_ms("BENCH_GOSSIP_IHAVE_MS") {
        tree.ihave_every_ms = every;
    }
    tree
}

/// Added to the simulation's seeds (`BENCH_GOSSIP_SEED`, default 0), to run it on
/// other random draws than the reference tables'.
fn sim_seed() -> u64 {
    std::env::var("BENCH_GOSSIP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A number of milliseconds from the environment variable `name`, if set.
fn env_ms(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The loaded profile's mean pause and mean run, milliseconds.
const LOADED_PAUSE_MS: u64 = 40;
const LOADED_RUN_MS: u64 = 20;

fn simulated() {
    println!(
        "simulation: {NODES} nodes, links 1 ms + up to 1 ms jitter, a killed node noticed after 5 s (QUIC idle timeout); virtual time"
    );
    for (name, net) in profiles() {
        if net.pause_ms > 0 {
            println!(
                "{name}: each node paused for {} ms on average after running {} ms on average (exponential)",
                net.pause_ms, net.run_ms
            );
        } else {
            println!("{name}: never paused");
        }
    }
    header("profile mode");
    for (profile, net) in profiles() {
        let variants = std::env::var("BENCH_GOSSIP_SIM")
            .unwrap_or_else(|_| "adaptive,undo,paper,flood".to_owned());
        for (name, mode, tree) in [
            ("adaptive", Mode::Plumtree, tree("adaptive")),
            ("undo", Mode::Plumtree, tree("undo")),
            ("paper", Mode::Plumtree, tree("paper")),
            ("flood", Mode::Flood, tree("paper")),
        ] {
            if !variants.split(',').any(|v| v == name) {
                continue;
            }
            let mut sim = Sim::new(net.clone());
            let mut cfg = Config::new("bench");
            cfg.mode = mode;
            cfg.tree = tree;
            let mut rng = Rng::new(42 + sim_seed());
            for i in 0..NODES {
                sim.add_node(cfg.clone());
                if i > 0 {
                    sim.join(i, rng.below(i));
                }
                sim.run_for(20);
            }
            sim.run_for(3_000);
            sim_phase(&mut sim, &[], &mut rng);
            let label = format!("{profile:<9} {name}");
            row(&label, "steady", &sim_phase(&mut sim, &[], &mut rng));
            let kill: Vec<usize> = rng.sample(&(1..NODES).collect::<Vec<_>>(), KILLED);
            row(&label, "20% killed", &sim_phase(&mut sim, &kill, &mut rng));
        }
    }
    println!(
        "paper (the default): fixed waits, 80 ms before a graft and 40 ms between grafts; undo: the same, unneeded grafts undone by a PRUNE; adaptive: waits follow measured delays, unneeded grafts undone"
    );
    println!();
}

fn row(mode: &str, phase: &str, p: &Phase) {
    println!(
        "{mode:<19} {phase:<14} {:>9.2}% {:>8.1} {:>8.1} {:>11.3} {:>12.2} {:>10.3}",
        p.delivered * 100.0,
        p.p50,
        p.p99,
        p.redundancy,
        p.bytes_per_byte,
        p.grafts
    );
}

fn header(first: &str) {
    println!(
        "{first:<19} {:<14} {:>10} {:>8} {:>8} {:>11} {:>12} {:>10}",
        "phase", "delivered", "p50 ms", "p99 ms", "redundancy", "bytes/byte", "grafts/msg"
    );
}

/// Runs both modes (or those `BENCH_GOSSIP_MODES` names) on swarms made by
/// `make`, prints their rows under `label`.
fn real(label: &str, make: &mut dyn FnMut(Mode, &mut Rng) -> Swarm) {
    let modes = std::env::var("BENCH_GOSSIP_MODES").unwrap_or_else(|_| "plumtree,flood".to_owned());
    let mut results = Vec::new();
    for (name, mode) in [("plumtree", Mode::Plumtree), ("flood", Mode::Flood)] {
        if !modes.split(',').any(|m| m.trim() == name) {
            continue;
        }
        let mut rng = Rng::new(42);
        let mut swarm = make(mode, &mut rng);
        let row_label = format!("{label:<9} {name}");
        // A warm-up round lets Plumtree prune its tree (the paper's steady state).
        let warm_up = swarm.phase(1_000_000, &[], &mut rng);
        row(&row_label, "warm-up", &warm_up);
        let steady = swarm.phase(0, &[], &mut rng);
        row(&row_label, "steady", &steady);
        let kill: Vec<usize> = rng.sample(&(1..NODES).collect::<Vec<_>>(), KILLED);
        let killed = swarm.phase(MESSAGES as u64, &kill, &mut rng);
        row(&row_label, "20% killed", &killed);
        results.push((steady, killed));
    }
    if let [p, f] = &results[..] {
        println!(
            "{label}: flood/plumtree: bytes {:.1}x (steady), {:.1}x (killed); p99 {:.2}x (steady), {:.2}x (killed)",
            f.0.bytes_per_byte / p.0.bytes_per_byte,
            f.1.bytes_per_byte / p.1.bytes_per_byte,
            f.0.p99 / p.0.p99,
            f.1.p99 / p.1.p99
        );
    }
    println!();
}

fn main() {
    let parts =
        std::env::var("BENCH_GOSSIP_PARTS").unwrap_or_else(|_| "sim,inproc,processes".to_owned());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    if part("sim") {
        simulated();
    }
    println!(
        "{NODES} nodes on loopback QUIC, {MESSAGES} messages of {PAD}+ bytes from random authors at {} msg/s",
        1000 / PACE.as_millis()
    );
    println!(
        "steady: all nodes up; killed: {KILLED} random nodes killed after {} messages",
        MESSAGES / 2
    );
    if part("inproc") {
        let timers = std::env::var("BENCH_GOSSIP_TREE").unwrap_or_else(|_| "paper".to_owned());
        let chosen = tree(&timers);
        println!(
            "in one process: {NODES} nodes as tasks on {} executor threads (SMOL_THREADS); a killed node closes its connections; Plumtree timers: {} (graft wait {} ms, IHAVE every {} ms)",
            std::env::var("SMOL_THREADS").unwrap_or_else(|_| "1".to_owned()),
            timers,
            chosen.graft_timeout_ms,
            chosen.ihave_every_ms
        );
        header("run mode");
        real("1 process", &mut |mode, rng| Swarm::in_process(mode, rng));
    }
    if part("processes") {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..NODES {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            Identity::from_seed(seed)
                .save(&dir.path().join(format!("k{i}.json")), true)
                .unwrap();
        }
        println!("{NODES} p2p-gossip processes; a killed node gets SIGKILL");
        header("run mode");
        real("processes", &mut |mode, rng| {
            let name = if mode == Mode::Plumtree {
                "plumtree"
            } else {
                "flood"
            };
            Swarm::new(dir.path(), name, rng)
        });
    }
}
