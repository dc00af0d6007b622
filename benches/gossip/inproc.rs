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

use super::{Member, STATS_EVERY, Seen};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::gossip::driver::{DRAIN, Driver};
use p2p_shared::gossip::net::{self, LinkEvent, Net};
use p2p_shared::gossip::rate::RateLimit;
use p2p_shared::gossip::{Config, Mode, Node, Output, PeerInfo};
use p2p_shared::identity::Identity;
use p2p_shared::ndjson::peer::now_millis;
use serde_json::{Value, json};
use smol::channel::Receiver;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// What a node's task waits for (short-lived, so not boxed).
#[allow(clippy::large_enum_variant)]
pub enum Ev {
    /// From its connections.
    Link(LinkEvent),
    /// Publish this.
    Publish(Value),
    /// Stop at once (no goodbye to the neighbours).
    Kill,
}

impl From<LinkEvent> for Ev {
    fn from(event: LinkEvent) -> Self {
        Ev::Link(event)
    }
}

/// Starts node `i` (the same identity as the process benchmark's `k{i}.json`),
/// joining through `contact`; it reports to `seen`.
pub fn start(i: usize, mode: Mode, contact: Option<PeerInfo>, seen: Sender<Seen>) -> Member {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    let identity = Identity::from_seed(seed);
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

/// A node's event loop, as the tool's: events (everything already queued before
/// timers), then due timers, then what the node asked for.
async fn run(i: usize, mut driver: Driver<Ev>, rx: Receiver<Ev>, seen: Sender<Seen>) {
    let mut next_stats = Instant::now() + STATS_EVERY;
    loop {
        if let Some(first) = driver.next(&rx, Some(next_stats)).await {
            let mut event = Some(first);
            let mut handled = 0;
            while let Some(e) = event.take() {
                match e {
                    Ev::Link(link) => {
                        let _ = driver.link_event(link);
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
            });
            if seen.send(Seen::Stats(i, record)).is_err() {
                return;
            }
        }
        let _ = driver.drive(|_: &Node, output| {
            if let Output::Deliver(message, _) = output {
                let k = message.data["k"].as_u64().unwrap_or(u64::MAX);
                let _ = seen.send(Seen::Message(i, k, Instant::now()));
            }
            Ok(())
        });
    }
}
