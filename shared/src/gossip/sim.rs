//! A deterministic in-process network of gossip nodes, for tests and the
//! benchmark: virtual time, per-link FIFO delivery after a latency, connections
//! that open on first send and close when either side closes, killed nodes whose
//! neighbours notice after a detection delay, and killed nodes restarted with the
//! same identity. The same seed gives the same run.
//!
//! A killed node's neighbours hold *stale* links to it: what they send on one is
//! lost, and they learn of the kill after the detection delay (or 50 ms after they
//! send on it, at most). When the node is restarted and connects to such a
//! neighbour, its new connection replaces the stale link there at once (as
//! [`super::net`] does), so the old one's end is never reported.
//!
//! Optionally each node is *descheduled* now and then, as a process is on a machine
//! with far more runnable processes than cores: it runs for a random time, then
//! pauses for a random time (both exponential), and whatever reaches it during a
//! pause (frames, its own timers) waits until it runs again, in the order it came.

use super::frame::{PeerInfo, Wire};
use super::message::MessageId;
use super::node::{Config, Node, Output, Stats};
use super::rng::Rng;
use crate::addr::Addr;
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

/// Network behaviour.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// One-way latency of a frame, milliseconds.
    pub latency_ms: u64,
    /// Extra random latency up to this, milliseconds.
    pub jitter_ms: u64,
    /// How long until the neighbours of a killed node notice, milliseconds.
    pub detect_ms: u64,
    /// Seed for the network's and the nodes' random choices.
    pub seed: u64,
    /// Mean length of a node's pauses (descheduled), milliseconds; 0: never paused.
    pub pause_ms: u64,
    /// Mean time a node runs between two pauses, milliseconds.
    pub run_ms: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency_ms: 1,
            jitter_ms: 1,
            detect_ms: 500,
            seed: 1,
            pause_ms: 0,
            run_ms: 0,
        }
    }
}

#[derive(Debug)]
enum Event {
    Frame {
        from: usize,
        to: usize,
        wire: Box<Wire>,
    },
    Closed {
        at: usize,
        peer: usize,
        /// The end of a stale link to a killed node: ignored if the link was
        /// replaced (or its end reported) meanwhile.
        stale: bool,
    },
    Tick(usize),
}

/// Where and when one message reached a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The node.
    pub node: usize,
    /// Virtual time, milliseconds.
    pub at: u64,
    /// Hops travelled.
    pub hops: u16,
}

/// Traffic counters of a run.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// Frames sent.
    pub frames: u64,
    /// Bytes of all frames.
    pub bytes: u64,
    /// Bytes per frame kind.
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// A simulated network.
pub struct Sim {
    net: NetConfig,
    nodes: Vec<Option<Node>>,
    infos: Vec<PeerInfo>,
    index: HashMap<PeerId, usize>,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    pauses: Vec<Pauses>,
    events: HashMap<usize, Event>,
    next_event: usize,
    link_clock: HashMap<(usize, usize), u64>,
    /// Links (holder, killed peer) that carry nothing any more.
    stale: HashSet<(usize, usize)>,
    tick_at: Vec<Option<u64>>,
    now: u64,
    rng: Rng,
    /// Every delivery, per message.
    pub deliveries: HashMap<MessageId, Vec<Delivery>>,
    /// When each message was published, and by which node.
    pub published: HashMap<MessageId, (usize, u64)>,
    /// Traffic so far.
    pub traffic: Traffic,
    /// Deliveries of a message a node had already delivered (must stay zero).
    pub redelivered: u64,
}

impl Sim {
    /// An empty network.
    pub fn new(net: NetConfig) -> Self {
        Sim {
            rng: Rng::new(net.seed),
            net,
            nodes: Vec::new(),
            infos: Vec::new(),
            index: HashMap::new(),
            queue: BinaryHeap::new(),
            pauses: Vec::new(),
            events: HashMap::new(),
            next_event: 0,
            link_clock: HashMap::new(),
            stale: HashSet::new(),
            tick_at: Vec::new(),
            now: 0,
            deliveries: HashMap::new(),
            published: HashMap::new(),
            traffic: Traffic::default(),
            redelivered: 0,
        }
    }

    /// Virtual time now, milliseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Adds a node with a fresh identity; returns its index.
    pub fn add_node(&mut self, cfg: Config) -> usize {
        let i = self.nodes.len();
        let (node, info) = self.make_node(i, cfg);
        self.index.insert(info.id, i);
        self.infos.push(info);
        self.nodes.push(Some(node));
        self.tick_at.push(None);
        self.pauses.push(Pauses::new(
            self.net.seed ^ ((i as u64 + 1) << 32),
            self.now,
        ));
        self.after_call(i);
        i
    }

    /// Node `i`, with the identity and address every run gives it.
    fn make_node(&mut self, i: usize, cfg: Config) -> (Node, PeerInfo) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.net.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        let identity = Identity::from_seed(seed);
        let port = u16::try_from(10_000 + i).unwrap_or(u16::MAX);
        let addr: Addr = format!("udp://127.0.0.1:{port}")
            .parse()
            .unwrap_or_else(|_| unreachable!("a literal address parses"));
        let info = PeerInfo {
            id: identity.id(),
            addrs: vec![addr.clone()],
        };
        let node = Node::new(
            identity,
            vec![addr],
            cfg,
            self.rng.next_u64(),
            self.now,
            1_700_000_000_000 + self.now,
        );
        (node, info)
    }

    /// Starts killed node `i` again with its identity and nothing else (a process
    /// restarted without `--store`). Its old neighbours still hold stale links to
    /// it until they notice the kill, or until it connects to them again.
    pub fn restart(&mut self, i: usize, cfg: Config) {
        if self.nodes[i].is_some() {
            return;
        }
        let (node, _) = self.make_node(i, cfg);
        self.nodes[i] = Some(node);
        self.after_call(i);
    }

    /// The node at `i`, unless killed.
    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i).and_then(Option::as_ref)
    }

    /// The number of nodes ever added.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True before the first node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Indices of the nodes alive.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// Node `i` joins through node `contact`.
    pub fn join(&mut self, i: usize, contact: usize) {
        let info = self.infos[contact].clone();
        let now = self.now;
        if let Some(node) = self.nodes[i].as_mut() {
            node.add_peer(info, now);
        }
        self.after_call(i);
    }

    /// Node `i` publishes `data`; returns the message id.
    pub fn publish(&mut self, i: usize, data: &Value) -> Option<MessageId> {
        let now = self.now;
        let id = self.nodes[i].as_mut()?.publish(data, now).ok()?.id;
        self.published.insert(id, (i, now));
        self.after_call(i);
        Some(id)
    }

    /// Kills node `i`: it stops at once; its neighbours notice after `detect_ms`.
    pub fn kill(&mut self, i: usize) {
        if self.nodes[i].take().is_none() {
            return;
        }
        let mut peers: Vec<usize> = self
            .link_clock
            .keys()
            .filter(|(a, b)| *a == i || *b == i)
            .map(|&(a, b)| if a == i { b } else { a })
            .collect();
        // In a fixed order: the same seed gives the same run.
        peers.sort_unstable();
        for peer in peers {
            let at = self.now + self.net.detect_ms;
            self.stale.insert((peer, i));
            self.schedule(
                at,
                Event::Closed {
                    at: peer,
                    peer: i,
                    stale: true,
                },
            );
        }
        self.link_clock.retain(|(a, b), _| *a != i && *b != i);
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: u64) {
        while let Some(&Reverse((at, _, key))) = self.queue.peek() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            let Some(event) = self.events.remove(&key) else {
                continue;
            };
            self.process(event);
        }
        self.now = until;
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// A node's counters.
    pub fn stats(&self, i: usize) -> Option<Stats> {
        self.node(i).map(Node::stats)
    }

    fn schedule(&mut self, at: u64, event: Event) {
        let node = match &event {
            Event::Frame { to, .. } => *to,
            Event::Closed { at, .. } => *at,
            Event::Tick(i) => *i,
        };
        // A node that is paused at `at` handles the event when it runs again; events
        // that waited are handled in the order they came (`at` breaks the tie).
        let runs_at = if self.net.pause_ms > 0 {
            let (pause, run) = (self.net.pause_ms, self.net.run_ms);
            self.pauses[node].resume(at, self.now, pause, run)
        } else {
            at
        };
        let key = self.next_event;
        self.next_event += 1;
        self.events.insert(key, event);
        self.queue.push(Reverse((runs_at, at, key)));
    }

    fn process(&mut self, event: Event) {
        let now = self.now;
        match event {
            Event::Frame { from, to, wire } => {
                let from_id = self.infos[from].id;
                let Some(node) = self.nodes[to].as_mut() else {
                    return;
                };
                node.handle(from_id, *wire, now);
                self.after_call(to);
            }
            Event::Closed { at, peer, stale } => {
                if stale && !self.stale.remove(&(at, peer)) {
                    return;
                }
                let peer_id = self.infos[peer].id;
                let Some(node) = self.nodes[at].as_mut() else {
                    return;
                };
                node.closed(peer_id, now);
                self.after_call(at);
            }
            Event::Tick(i) => {
                self.tick_at[i] = None;
                let Some(node) = self.nodes[i].as_mut() else {
                    return;
                };
                node.tick(now);
                self.after_call(i);
            }
        }
    }

    fn link(a: usize, b: usize) -> (usize, usize) {
        (a.min(b), a.max(b))
    }

    /// Carries out what node `i` asked for, and schedules its next tick.
    fn after_call(&mut self, i: usize) {
        let now = self.now;
        loop {
            let Some(output) = self.nodes[i].as_mut().and_then(Node::poll) else {
                break;
            };
            match output {
                Output::Send(to, wire) => {
                    let Some(&j) = self.index.get(&to) else {
                        continue;
                    };
                    let size = wire.encode().len() as u64;
                    self.traffic.frames += 1;
                    self.traffic.bytes += size;
                    *self.traffic.by_kind.entry(wire.name()).or_default() += size;
                    // A restarted node's new connection replaces the stale link.
                    self.stale.remove(&(j, i));
                    if self.nodes[j].is_none() || self.stale.contains(&(i, j)) {
                        let at = now + self.net.detect_ms.min(50);
                        self.stale.insert((i, j));
                        self.schedule(
                            at,
                            Event::Closed {
                                at: i,
                                peer: j,
                                stale: true,
                            },
                        );
                        continue;
                    }
                    let jitter = if self.net.jitter_ms > 0 {
                        self.rng.next_u64() % (self.net.jitter_ms + 1)
                    } else {
                        0
                    };
                    let clock = self.link_clock.entry(Self::link(i, j)).or_insert(0);
                    let at = (now + self.net.latency_ms + jitter).max(*clock);
                    *clock = at;
                    self.schedule(
                        at,
                        Event::Frame {
                            from: i,
                            to: j,
                            wire: Box::new(wire),
                        },
                    );
                }
                Output::Close(peer) => {
                    let Some(&j) = self.index.get(&peer) else {
                        continue;
                    };
                    if let Some(at) = self.link_clock.remove(&Self::link(i, j)) {
                        let at = at.max(now) + self.net.latency_ms;
                        self.schedule(
                            at,
                            Event::Closed {
                                at: j,
                                peer: i,
                                stale: false,
                            },
                        );
                    }
                }
                Output::Deliver(message, hops) => {
                    let list = self.deliveries.entry(message.id).or_default();
                    if list.iter().any(|d| d.node == i) {
                        self.redelivered += 1;
                    }
                    list.push(Delivery {
                        node: i,
                        at: now,
                        hops,
                    });
                }
                Output::Store(..)
                | Output::PeerUp(_)
                | Output::PeerDown(_)
                | Output::Dropped { .. } => {}
            }
        }
        if let Some(node) = self.nodes[i].as_ref() {
            let next = node.next_deadline().max(now);
            if self.tick_at[i].is_none_or(|t| next < t) {
                self.tick_at[i] = Some(next);
                self.schedule(next, Event::Tick(i));
            }
        }
    }

    /// Sends a raw frame to node `to` as if from node `from` (for attack tests).
    pub fn inject(&mut self, from: usize, to: usize, wire: Wire) {
        let at = self.now + self.net.latency_ms;
        self.schedule(
            at,
            Event::Frame {
                from,
                to,
                wire: Box::new(wire),
            },
        );
    }
}

/// One node's pauses: alternating run and pause periods, drawn as needed.
#[derive(Debug)]
struct Pauses {
    rng: Rng,
    /// Pauses (start, end) not yet over, in order; drawn up to `drawn`.
    spans: std::collections::VecDeque<(u64, u64)>,
    drawn: u64,
}

impl Pauses {
    fn new(seed: u64, now: u64) -> Self {
        Pauses {
            rng: Rng::new(seed),
            spans: std::collections::VecDeque::new(),
            drawn: now,
        }
    }

    /// An exponential draw with mean `mean` (at least 0).
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    fn exp(&mut self, mean: u64) -> u64 {
        let u = ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        (-u.ln() * mean as f64).round() as u64
    }

    /// When the node handles something that reaches it at `at` (`at` >= `now`).
    fn resume(&mut self, at: u64, now: u64, pause: u64, run: u64) -> u64 {
        while self.spans.front().is_some_and(|&(_, end)| end <= now) {
            self.spans.pop_front();
        }
        while self.drawn <= at {
            let start = self.drawn + self.exp(run);
            let end = start + self.exp(pause).max(1);
            self.spans.push_back((start, end));
            self.drawn = end;
        }
        self.spans
            .iter()
            .find(|&&(start, end)| start <= at && at < end)
            .map_or(at, |&(_, end)| end)
    }
}
