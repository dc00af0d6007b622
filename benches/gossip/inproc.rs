//! The benchmark's swarm as tasks of one process: each node is the real
//! [`Node`] state machine driven by the real [`Driver`] over its own QUIC endpoint
//! on loopback, exactly as `p2p-gossip` runs it, but 50 nodes share one process
//! (and the smol executor's threads) instead of being 50 processes contending for
//! the cores. Publishing is an event to the author's task; a delivery is reported
//! when the node hands the message out (where the tool would print it).
//!
//! A killed node's task stops at once and its endpoint closes: its neighbours
//! learn it at once from QUIC, where a process killed with SIGKILL is noticed
//! only after the 5 s idle timeout.
//!
//! For a diagnosis, each node's `stats` carry its views and links (by node
//! number), and each node keeps a trace of its membership events (connections,
//! membership and PRUNE/GRAFT frames received, neighbours up and down, and each
//! delivery more than 60 ms after its publication with the node's eager and lazy
//! links then), which [`Ev::Dump`] asks for.

use super::{Member, STATS_EVERY, Seen, Via};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::gossip::driver::{DRAIN, Driver};
use p2p_shared::gossip::net::{self, LinkEvent, Net};
use p2p_shared::gossip::rate::RateLimit;
use p2p_shared::gossip::{Config, Message, Mode, Node, Output, PeerInfo, Wire};
use p2p_shared::identity::Identity;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::now_millis;
use serde_json::{Value, json};
use smol::channel::Receiver;
use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Trace lines kept per node.
const TRACE: usize = 600;
/// A delivery this late after its publication (ms, by the message's timestamp)
/// is noted in the node's trace, with the node's links at that moment.
const LATE_MS: u64 = 60;

/// What a node's task waits for (short-lived, so not boxed).
#[allow(clippy::large_enum_variant)]
pub enum Ev {
    /// From its connections.
    Link(LinkEvent),
    /// Publish this.
    Publish(Value),
    /// Stop at once (no goodbye to the neighbours).
    Kill,
    /// Report the trace of membership events.
    Dump,
}

impl From<LinkEvent> for Ev {
    fn from(event: LinkEvent) -> Self {
        Ev::Link(event)
    }
}

/// Node `i`'s identity (the same as the process benchmark's `k{i}.json`).
fn identity(i: usize) -> Identity {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    Identity::from_seed(seed)
}

/// The node number of `id`, if it is one of the swarm's.
fn index(id: &PeerId) -> Option<usize> {
    static IDS: OnceLock<Vec<PeerId>> = OnceLock::new();
    let ids = IDS.get_or_init(|| (0..super::NODES).map(|i| identity(i).id()).collect());
    ids.iter().position(|p| p == id)
}

/// The node number of `id` (as `n7`), or the id itself for a stranger.
pub fn who(id: &PeerId) -> String {
    index(id).map_or_else(|| id.to_string(), |i| format!("n{i}"))
}

fn names(ids: &[PeerId]) -> Vec<String> {
    ids.iter().map(who).collect()
}

/// Milliseconds since the benchmark started (one clock for every node's trace).
pub fn stamp() -> u64 {
    static T0: OnceLock<Instant> = OnceLock::new();
    u64::try_from(T0.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A trace line for a link event worth keeping (not message traffic).
fn describe(event: &LinkEvent) -> Option<String> {
    Some(match event {
        LinkEvent::Frame { peer, wire } => {
            let what = match wire {
                Wire::Gossip { .. }
                | Wire::IHave(_)
                | Wire::History { .. }
                | Wire::Summary(_)
                | Wire::Graft(_) => return None,
                Wire::ForwardJoin { peer, ttl } => {
                    format!("forward_join({}, ttl {ttl})", who(&peer.id))
                }
                Wire::Neighbor { high, .. } => format!("neighbor(high {high})"),
                Wire::Disconnect { alive } => format!("disconnect(alive {alive})"),
                other => other.name().to_owned(),
            };
            format!("<- {} {what}", who(peer))
        }
        LinkEvent::LinkEnded { peer, link, why } => {
            format!("link #{link} with {} ended: {why}", who(peer))
        }
        LinkEvent::Dialed { peer, result } => match result {
            Ok(_) => format!("dialled {}", who(peer)),
            Err(e) => format!("dialling {} failed: {e}", who(peer)),
        },
        LinkEvent::Accepted { peer, .. } => format!("accepted {}", who(peer)),
        LinkEvent::Unreachable { addr } => format!("udp://{addr} port unreachable"),
    })
}
/// Late wake-ups of the executor: (stamp, how late in ms).
pub type Stalls = Arc<Mutex<Vec<(u64, u64)>>>;

/// How late the executor's threads ran a task that asks to wake every 5 ms:
/// (stamp, lateness ms) for each wake-up more than 5 ms late. Started by the
/// first call; tells a stall of the whole process from one node's.
pub fn stalls() -> Stalls {
    static STALLS: OnceLock<Stalls> = OnceLock::new();
    STALLS
        .get_or_init(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let out = log.clone();
            smol::spawn(async move {
                loop {
                    let due = Instant::now() + Duration::from_millis(5);
                    smol::Timer::at(due).await;
                    let late = u64::try_from(due.elapsed().as_millis()).unwrap_or(u64::MAX);
                    if late > 5
                        && let Ok(mut log) = out.lock()
                    {
                        log.push((stamp(), late));
                    }
                }
            })
            .detach();
            log
        })
        .clone()
}

/// A trace line for a delivery more than [`LATE_MS`] after its publication, with
/// the node's links then.
fn late(node: &Node, message: &Message, k: u64, hops: u16) -> Option<String> {
    let late = now_millis().saturating_sub(message.ts);
    (late >= LATE_MS).then(|| {
        format!(
            "late k={k} from {} hops {hops} after {late} ms; eager {:?} lazy {:?} grafts {}",
            who(&message.author),
            names(node.eager()),
            names(node.lazy()),
            node.stats().grafts
        )
    })
}

/// Starts node `i`, joining through `contact`; it reports to `seen`.
pub fn start(i: usize, mode: Mode, contact: Option<PeerInfo>, seen: Sender<Seen>) -> Member {
    let identity = identity(i);
    let mut cfg = Config::new("bench");
    cfg.mode = mode;
    cfg.tree = super::tree(&std::env::var("BENCH_GOSSIP_TREE").unwrap_or_default());
    cfg.rate = RateLimit {
        rate: 5000.0,
        burst: 10_000.0,
    };
    let bind = "127.0.0.1:0".parse().expect("a literal address");
    let endpoint = net::bind(&identity, bind).expect("binding a node");
    let addr = Addr::from_socket(Scheme::Udp, endpoint.local_addr().expect("bound"));
    let me = PeerInfo {
        id: identity.id(),
        addrs: vec![addr.clone()],
    };
    let (tx, rx) = smol::channel::bounded(4096);
    let net = Net::new(endpoint, tx.clone(), cfg.frame_max());
    net.spawn_acceptor();
    let node = Node::new(identity, vec![addr], cfg, i as u64 + 1, 0, now_millis());
    let mut driver = Driver::new(node, net, Instant::now());
    if let Some(contact) = contact {
        driver.node.add_peer(contact, 0);
    }
    smol::spawn(run(i, driver, rx, seen)).detach();
    Member::Task { tx, contact: me }
}

/// Hands a link event to the node; notes in `came` where each delivery it queued
/// came from. Returns the trace line the event is worth, if any.
fn take_link(
    driver: &mut Driver<Ev>,
    link: LinkEvent,
    came: &mut VecDeque<Option<Via>>,
) -> Option<String> {
    let line = describe(&link);
    let (from, new_link) = match &link {
        LinkEvent::Frame { peer, .. } => (index(peer), None),
        LinkEvent::Accepted { peer, .. } | LinkEvent::Dialed { peer, .. } => (None, Some(*peer)),
        LinkEvent::LinkEnded { .. } | LinkEvent::Unreachable { .. } => (None, None),
    };
    let (taken, before) = (Instant::now(), driver.node.stats().delivered);
    let _ = driver.link_event(link);
    for _ in before..driver.node.stats().delivered {
        came.push_back(from.map(|from| Via { from, taken }));
    }
    let mut line = line?;
    // Which link a new connection left current.
    if let Some(peer) = new_link {
        let current = driver.net.links().into_iter().find(|l| l.0 == peer);
        line += &current.map_or_else(|| ", no link".to_owned(), |l| format!(", current #{}", l.1));
    }
    Some(line)
}

/// A node's event loop, as the tool's: events (everything already queued before
/// timers), then due timers, then what the node asked for.
async fn run(i: usize, mut driver: Driver<Ev>, rx: Receiver<Ev>, seen: Sender<Seen>) {
    let mut next_stats = Instant::now() + STATS_EVERY;
    let mut trace: VecDeque<String> = VecDeque::new();
    // Where each delivery the node has queued came from: the neighbour whose frame
    // carried it and when this task took that frame, in delivery order.
    let mut came: VecDeque<Option<Via>> = VecDeque::new();
    let note = |trace: &mut VecDeque<String>, line: String| {
        if trace.len() == TRACE {
            trace.pop_front();
        }
        trace.push_back(format!("{:>7} n{i} {line}", stamp()));
    };
    loop {
        if let Some(first) = driver.next(&rx, Some(next_stats)).await {
            let mut event = Some(first);
            let mut handled = 0;
            while let Some(e) = event.take() {
                match e {
                    Ev::Link(link) => {
                        if let Some(line) = take_link(&mut driver, link, &mut came) {
                            note(&mut trace, line);
                        }
                    }
                    Ev::Publish(data) => {
                        let now = driver.now();
                        let _ = driver.node.publish(&data, now);
                    }
                    Ev::Kill => {
                        let endpoint = driver.net.endpoint();
                        endpoint.shut(0, b"killed", Duration::ZERO).await;
                        return;
                    }
                    Ev::Dump => {
                        let lines = trace.iter().cloned().collect();
                        if seen.send(Seen::Trace(i, lines)).is_err() {
                            return;
                        }
                    }
                }
                handled += 1;
                if handled < DRAIN {
                    event = rx.try_recv().ok();
                }
            }
        }
        driver.tick();
        if Instant::now() >= next_stats {
            next_stats += STATS_EVERY;
            let s = driver.node.stats();
            let record = json!({
                "duplicates": s.duplicates,
                "delivered": s.delivered,
                "bytes_sent": driver.net.traffic.bytes_sent,
                "grafts": s.grafts,
                "active": s.active,
                "passive": s.passive,
                "views": {
                    "active": names(&driver.node.active()),
                    "pending": names(&driver.node.pending()),
                    "passive": names(&driver.node.passive()),
                    "eager": names(driver.node.eager()),
                    "lazy": names(driver.node.lazy()),
                    "links": driver.net.links().iter()
                        .map(|(p, id, ours)| format!("{}{}#{id}", who(p), if *ours { ">" } else { "<" }))
                        .collect::<Vec<_>>(),
                },
            });
            if seen.send(Seen::Stats(i, record)).is_err() {
                return;
            }
        }
        let _ = driver.drive(|node: &Node, output| {
            match output {
                Output::Deliver(message, hops) => {
                    let k = message.data["k"].as_u64().unwrap_or(u64::MAX);
                    let via = came.pop_front().flatten();
                    let _ = seen.send(Seen::Message(i, k, Instant::now(), via));
                    if let Some(line) = late(node, &message, k, hops) {
                        note(&mut trace, line);
                    }
                }
                Output::PeerUp(peer) => note(&mut trace, format!("up {}", who(&peer))),
                Output::PeerDown(peer) => note(&mut trace, format!("down {}", who(&peer))),
                _ => {}
            }
            Ok(())
        });
    }
}
