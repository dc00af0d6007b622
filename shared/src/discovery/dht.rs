//! The BitTorrent mainline DHT, set up the toolbox's way: bootstrap addresses from the
//! command line or `$P2P_DHT_BOOTSTRAP`, topic → infohash, and a local testnet whose
//! lookups finish as soon as every node has answered.
//!
//! `p2p-dht` uses all of it; `p2p-discover` announces and looks up SHA-1(topic)
//! through [`DhtOptions::start`].
//!
//! Why a testnet of our own instead of `mainline::Testnet`: a mainline node started
//! without bootstrap nodes adds every node that asks it a `find_node` to its routing
//! table — even read-only clients, which never answer requests. In `mainline::Testnet`
//! every node is started that way, so each client that ever bootstraps against it
//! (and every client process that has since exited) is handed out as a "close node";
//! lookups then wait a full request timeout (2 s) for those silent addresses before
//! they count as finished. [`local_testnet`] gives every node a few other nodes as
//! bootstrap, so its routing tables hold only nodes that answer, and a finished lookup
//! on loopback takes tens of milliseconds.

use crate::addr::Addr;
use crate::identity::peer_id::PeerId;
use crate::ndjson::peer::PeerRecord;
use crate::{Error, Result, cli::duration, narrate};
use mainline::Id;
use mainline::async_dht::AsyncDht;
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The environment variable holding bootstrap nodes, comma-separated.
pub const BOOTSTRAP_ENV: &str = "P2P_DHT_BOOTSTRAP";

/// The salt under which signed peer records are stored as BEP 44 mutable items.
pub const PEER_RECORD_SALT: &[u8] = b"p2p/peer";

/// How many of a local testnet's nodes are enough to bootstrap from.
pub const TESTNET_BOOTSTRAP_COUNT: usize = 4;

/// How a DHT node of the toolbox finds the network.
#[derive(Debug, Clone, clap::Args)]
pub struct DhtOptions {
    /// A DHT node to bootstrap from (udp://IP:PORT or HOST:PORT); repeatable.
    /// $P2P_DHT_BOOTSTRAP holds a comma-separated list [default: the public
    /// mainline routers]
    #[arg(
        long = "bootstrap",
        value_name = "ADDR",
        env = BOOTSTRAP_ENV,
        value_delimiter = ',',
        value_parser = parse_node_addr,
        hide_env_values = true
    )]
    pub bootstrap: Vec<SocketAddrV4>,
    /// How long to wait for one node's answer; a lookup is finished when every node
    /// it asked has answered or run out of this time
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration::parse)]
    pub request_timeout: Duration,
}

impl DhtOptions {
    /// True when every bootstrap node is on loopback (a local testnet).
    pub fn is_local(&self) -> bool {
        !self.bootstrap.is_empty() && self.bootstrap.iter().all(|a| a.ip().is_loopback())
    }

    /// The address a node binds when the user gave none: loopback for a local
    /// testnet, all interfaces otherwise; always an ephemeral port.
    pub fn default_bind(&self) -> SocketAddrV4 {
        let ip = if self.is_local() {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        SocketAddrV4::new(ip, 0)
    }

    /// Starts a client node for a short-lived command, with a [`Nudger`] that keeps
    /// its answers prompt; keep the nudger as long as the node works.
    pub fn start_client(&self, bind: Option<SocketAddrV4>) -> Result<(AsyncDht, Nudger)> {
        let mut bind = bind.unwrap_or_else(|| self.default_bind());
        if bind.port() == 0 {
            // The nudger needs the port before the node binds it.
            let probe = UdpSocket::bind(bind)
                .and_then(|s| s.local_addr())
                .map_err(|e| Error::failure(format!("binding {bind}: {e}")))?;
            bind.set_port(probe.port());
        }
        let dht = self.start(Some(bind), false)?;
        Ok((dht, Nudger::start(bind)?))
    }

    /// Starts a DHT node bound to `bind` (or [`Self::default_bind`]); `server` makes it
    /// answer other nodes' requests from the start.
    pub fn start(&self, bind: Option<SocketAddrV4>, server: bool) -> Result<AsyncDht> {
        let bind = bind.unwrap_or_else(|| self.default_bind());
        if bind.port() != 0 {
            // mainline panics when its socket cannot be bound: find out first.
            drop(
                UdpSocket::bind(bind)
                    .map_err(|e| Error::failure(format!("binding {bind}: {e}")))?,
            );
        }
        crate::discovery::dht_wire::install(&self.bootstrap);
        narrate!(
            "starting a DHT {} node on udp://{bind}, bootstrapping from {}",
            if server { "server" } else { "client" },
            if self.bootstrap.is_empty() {
                "the public routers".to_owned()
            } else {
                self.bootstrap
                    .iter()
                    .map(|a| format!("udp://{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        let mut builder = mainline::Dht::builder();
        if !self.bootstrap.is_empty() {
            builder.bootstrap(&self.bootstrap);
        }
        builder
            .request_timeout(self.request_timeout)
            .bind_address(*bind.ip())
            .port(bind.port());
        if server {
            builder.server_mode();
        }
        builder
            .build()
            .map(mainline::Dht::as_async)
            .map_err(|e| Error::failure(format!("starting a DHT node on {bind}: {e}")))
    }
}

/// The verdict on a DHT command that failed: when no node ever answered (the
/// routing table is still empty), it was not an empty swarm but a dead bootstrap,
/// reported as a timeout naming what was asked; any other outcome is kept.
pub async fn unless_unanswered<T>(
    dht: &AsyncDht,
    options: &DhtOptions,
    outcome: Result<T>,
) -> Result<T> {
    match outcome {
        Err(e) if e.status() == crate::Status::Failure && dht.to_bootstrap().await.is_empty() => {
            let asked = if options.bootstrap.is_empty() {
                "the public routers".to_owned()
            } else {
                let list: Vec<String> = options.bootstrap.iter().map(ToString::to_string).collect();
                format!("{}: {}", list.len(), list.join(", "))
            };
            Err(Error::timeout(format!(
                "no DHT node answered (asked {asked})"
            )))
        }
        other => other,
    }
}

/// Keeps a mainline node's actor loop turning while a short-lived command runs.
///
/// mainline 8's actor thread looks at its command channel only between socket reads,
/// and a read waits up to 50 ms when no datagram comes; it also reports a finished
/// query only after the next read. On a quiet network each command and each
/// finished query therefore waits up to 50 ms. A tiny datagram to the node's own
/// socket every [`NUDGE_INTERVAL`] ends those waits (mainline drops it as not
/// bencode). Stops when dropped.
pub struct Nudger {
    stop: Arc<AtomicBool>,
}

/// How often a [`Nudger`] wakes its node.
pub const NUDGE_INTERVAL: Duration = Duration::from_millis(2);

impl Nudger {
    /// Starts waking the node listening at `node` (on loopback when bound to all
    /// interfaces).
    pub fn start(node: SocketAddrV4) -> Result<Nudger> {
        let ip = if node.ip().is_unspecified() {
            Ipv4Addr::LOCALHOST
        } else {
            *node.ip()
        };
        let target = SocketAddrV4::new(ip, node.port());
        let socket = UdpSocket::bind((ip, 0))
            .and_then(|s| s.connect(target).map(|()| s))
            .map_err(|e| Error::failure(format!("waking the DHT node at {target}: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let _ = socket.send(b"\0");
                std::thread::sleep(NUDGE_INTERVAL);
            }
        });
        Ok(Nudger { stop })
    }
}

impl Drop for Nudger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Parses a DHT node address: `udp://IP:PORT`, `IP:PORT` or `HOST:PORT` (resolved now,
/// IPv4 only, as mainline speaks IPv4).
pub fn parse_node_addr(text: &str) -> Result<SocketAddrV4, String> {
    crate::cli::address::server_v4(text, None)
}

/// The infohash a topic is found under: SHA-1 of its UTF-8 bytes.
pub fn topic_infohash(topic: &str) -> Id {
    let digest: [u8; 20] = Sha1::digest(topic.as_bytes()).into();
    Id::from(digest)
}

/// Parses an infohash or node id: 40 hex digits.
pub fn parse_id(text: &str) -> Result<Id, String> {
    let text = text.trim();
    let bytes: [u8; 20] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("'{text}' is not an infohash (40 hex digits)"))?;
    Ok(Id::from(bytes))
}

/// An id as lowercase hex.
pub fn id_hex(id: &Id) -> String {
    hex::encode(id.as_bytes())
}

/// The `peer` record for a peer found on the DHT under `infohash` (and `topic`).
pub fn found_peer(addr: SocketAddrV4, infohash: &Id, topic: Option<&str>) -> PeerRecord {
    let mut record = PeerRecord::new(None, vec![Addr::udp(addr)]);
    record.topic = topic.map(str::to_owned);
    record.via = Some("dht".to_owned());
    record
        .extra
        .insert("infohash".to_owned(), Value::String(id_hex(infohash)));
    record
}

/// A peer record as stored in the DHT: its RFC 8785 canonical JSON.
pub fn record_bytes(record: &PeerRecord) -> Vec<u8> {
    crate::identity::canonical::to_vec(&Value::Object(record.to_object()))
}

/// Looks up `id`'s signed peer record (a BEP 44 mutable item under its key, salt
/// [`PEER_RECORD_SALT`]), as `p2p-dht resolve` does: the newest one, accepted only if
/// it names `id` and its own signature verifies.
pub async fn resolve_peer(dht: &AsyncDht, id: PeerId) -> Result<PeerRecord> {
    let item = dht
        .get_mutable_most_recent(&id.to_bytes(), Some(PEER_RECORD_SALT))
        .await
        .ok_or_else(|| Error::failure(format!("no peer record of {id} found")))?;
    verified_record(item.value(), id)
        .map_err(|why| Error::failure(format!("refusing the record stored by {id}: {why}")))
}

/// The peer record in a stored `value`, if it is one, names `id` and is signed by it.
fn verified_record(value: &[u8], id: PeerId) -> Result<PeerRecord, String> {
    let Ok(Value::Object(object)) = crate::identity::strict::from_slice(value) else {
        return Err("it is not a JSON object".to_owned());
    };
    let mut record = PeerRecord::from_object(object)?;
    if record.id != Some(id) {
        return Err(match record.id {
            Some(other) => format!("it names another peer ({other})"),
            None => "it names no peer".to_owned(),
        });
    }
    record
        .verify()
        .map_err(|e| format!("its signature does not verify ({e})"))?;
    record.via = Some("dht".to_owned());
    Ok(record)
}

/// A DHT of server nodes on one machine, for tests and demos.
pub struct LocalTestnet {
    /// The running nodes; they stop when this is dropped.
    pub nodes: Vec<AsyncDht>,
    /// Where each node listens.
    pub addrs: Vec<SocketAddrV4>,
}

impl LocalTestnet {
    /// A few nodes to bootstrap from (all a client needs).
    pub fn bootstrap(&self) -> Vec<SocketAddrV4> {
        self.addrs
            .iter()
            .take(TESTNET_BOOTSTRAP_COUNT)
            .copied()
            .collect()
    }

    /// [`Self::bootstrap`] as the value of `$P2P_DHT_BOOTSTRAP`.
    pub fn bootstrap_env(&self) -> String {
        self.bootstrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Starts `count` server nodes on `ip` (a loopback address), each bootstrapping from
/// the next few nodes in a ring, then has every node look up a random id so its
/// routing table fills with nodes that answer.
pub async fn local_testnet(count: usize, ip: Ipv4Addr) -> Result<LocalTestnet> {
    if count == 0 {
        return Err(Error::usage("a testnet needs at least one node"));
    }
    let mut last_error = None;
    // The ports are picked before the nodes bind them; another program may take one
    // in between, so a few attempts are allowed.
    for _ in 0..5 {
        match start_ring(count, ip) {
            Ok(testnet) => {
                let lookups: Vec<_> = testnet
                    .nodes
                    .iter()
                    .cloned()
                    .map(|node| smol::spawn(async move { node.find_node(Id::random()).await }))
                    .collect();
                for lookup in lookups {
                    lookup.await;
                }
                return Ok(testnet);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(Error::failure(format!(
        "starting a testnet on {ip}: {}",
        last_error.map_or_else(String::new, |e| e.to_string())
    )))
}

fn start_ring(count: usize, ip: Ipv4Addr) -> std::io::Result<LocalTestnet> {
    let sockets = (0..count)
        .map(|_| UdpSocket::bind((ip, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs = sockets
        .iter()
        .map(|s| match s.local_addr()? {
            SocketAddr::V4(a) => Ok(a),
            SocketAddr::V6(_) => Err(std::io::Error::other("bound an IPv6 address")),
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    drop(sockets);
    let neighbours = TESTNET_BOOTSTRAP_COUNT.min(count.saturating_sub(1)).max(1);
    let nodes = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            // A single node bootstraps from itself: never from nothing (see the module
            // documentation).
            let bootstrap: Vec<SocketAddrV4> =
                (1..=neighbours).map(|k| addrs[(i + k) % count]).collect();
            mainline::Dht::builder()
                .server_mode()
                .bind_address(*addr.ip())
                .port(addr.port())
                .bootstrap(&bootstrap)
                .build()
                .map(mainline::Dht::as_async)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(LocalTestnet { nodes, addrs })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_record_signed_by_and_naming_the_key_is_accepted() {
        use crate::identity::key::Identity;
        let me = Identity::from_seed([1; 32]);
        let other = Identity::from_seed([2; 32]);
        let addrs = vec!["udp://192.0.2.1:4000".parse().unwrap()];
        let good = PeerRecord::signed(&me, addrs.clone(), None).unwrap();
        let found = verified_record(&record_bytes(&good), me.id()).unwrap();
        assert_eq!(found.via.as_deref(), Some("dht"));
        let replayed = PeerRecord::signed(&other, addrs, None).unwrap();
        let err = verified_record(&record_bytes(&replayed), me.id()).unwrap_err();
        assert!(err.contains("another peer"), "{err}");
        let mut altered = good;
        altered.addrs.push("udp://203.0.113.9:1".parse().unwrap());
        let err = verified_record(&record_bytes(&altered), me.id()).unwrap_err();
        assert!(err.contains("signature"), "{err}");
    }

    use super::*;

    #[test]
    fn topics_hash_with_sha1() {
        // SHA-1("abc") from FIPS 180-1.
        assert_eq!(
            id_hex(&topic_infohash("abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn node_addresses_take_a_scheme_or_none() {
        let want: SocketAddrV4 = "127.0.0.1:6881".parse().unwrap();
        assert_eq!(parse_node_addr("udp://127.0.0.1:6881"), Ok(want));
        assert_eq!(parse_node_addr("127.0.0.1:6881"), Ok(want));
        assert!(
            parse_node_addr("127.0.0.1")
                .unwrap_err()
                .contains("'127.0.0.1'")
        );
        assert!(parse_node_addr("[::1]:6881").unwrap_err().contains("IPv4"));
    }

    #[test]
    fn ids_are_40_hex_digits() {
        let id = parse_id("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap();
        assert_eq!(id, topic_infohash("abc"));
        assert!(parse_id("abc").unwrap_err().contains("40 hex"));
    }

    #[test]
    fn a_local_testnet_answers_lookups_quickly() {
        smol::block_on(async {
            let testnet = local_testnet(8, Ipv4Addr::LOCALHOST).await.unwrap();
            let options = DhtOptions {
                bootstrap: testnet.bootstrap(),
                request_timeout: Duration::from_secs(2),
            };
            let client = options.start(None, false).unwrap();
            let started = std::time::Instant::now();
            let nodes = client.find_node(Id::random()).await;
            assert!(nodes.len() >= 4, "found only {} nodes", nodes.len());
            // Every node answers, so the lookup ends long before a request timeout.
            assert!(started.elapsed() < Duration::from_millis(1500));
        });
    }
}
