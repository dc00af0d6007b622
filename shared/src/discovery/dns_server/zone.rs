//! The zone: an immutable snapshot of the live table, shared by every server thread.
//!
//! Names are looked up by their labels below the zone's origin, lowercased and
//! joined with dots (`""` is the apex, `chat` the topic chat, `_p2p._udp` the SRV
//! name). Record sets marked `rotate` are answered a `--answers`-sized window at a
//! time, the window moving on with every query.
//!
//! The snapshot is compact: a record set holds what its records differ in (an
//! address, a port and target, a peer's JSON shared with the table) rather than
//! encoded records, and records are made when an answer takes them ([`Zone::record`],
//! [`Zone::glue`]); what one answer takes is bounded by its size. The name of a
//! peer without an id (`ip4-…`) is held as its address alone, so such a peer costs
//! the zone well under 100 bytes, and the two snapshots alive while one replaces
//! the other cost little.

use crate::addr::{Addr, Host, Scheme};
use crate::discovery::dns::txt_chunks;
use crate::identity::peer_id::PeerId;
use crate::ndjson::peer::PeerRecord;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What every snapshot of one served zone shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The zone's origin (lowercase, fully qualified).
    pub origin: Name,
    /// TTL of every record and of negative answers.
    pub ttl: u32,
    /// Window size of rotating record sets (0: all records, order rotating).
    pub answers: usize,
    /// The zone's name server.
    pub ns: Name,
}

/// One TXT record of the zone.
#[derive(Debug, Clone)]
enum Txt {
    /// A peer's record as received (in 255-byte strings).
    Json(Arc<str>),
    /// `id=KEY`, naming a peer's node.
    Id(Arc<str>),
}

/// What the records of a set differ in; the owner, class and TTL they share.
#[derive(Debug, Clone)]
enum Data {
    /// Records as they are (the apex's SOA and NS).
    Records(Vec<Record>),
    /// A records.
    V4(Vec<Ipv4Addr>),
    /// AAAA records.
    V6(Vec<Ipv6Addr>),
    /// SRV records: the port and the target (priority 0, weight 1).
    Srv(Vec<(u16, Target)>),
    /// TXT records.
    Txt(Vec<Txt>),
}

/// The target of an SRV record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A node of the zone, by its key: `PEER_ID`.
    Node(Arc<str>),
    /// The name made of an address (`ip4-192-0-2-1`), for a peer without an id: a
    /// name with that one address, held as the address alone.
    Host(IpAddr),
}

/// A record set. Records are made from it when an answer takes them.
#[derive(Debug, Clone)]
pub struct RrSet {
    data: Data,
    /// Answer a rotating window of `answers` records rather than all of them.
    pub rotate: bool,
}

impl RrSet {
    fn new(rtype: RecordType, rotate: bool) -> RrSet {
        let data = match rtype {
            RecordType::A => Data::V4(Vec::new()),
            RecordType::AAAA => Data::V6(Vec::new()),
            RecordType::SRV => Data::Srv(Vec::new()),
            RecordType::TXT => Data::Txt(Vec::new()),
            _ => Data::Records(Vec::new()),
        };
        RrSet { data, rotate }
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Records(v) => v.len(),
            Data::V4(v) => v.len(),
            Data::V6(v) => v.len(),
            Data::Srv(v) => v.len(),
            Data::Txt(v) => v.len(),
        }
    }

    /// True when the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target the `i`th record names, when it is an SRV record: its addresses go
    /// along as additional records ([`Zone::glue`]).
    pub fn target(&self, i: usize) -> Option<&Target> {
        match &self.data {
            Data::Srv(v) => v.get(i).map(|(_, target)| target),
            _ => None,
        }
    }

    fn shrink(&mut self) {
        match &mut self.data {
            Data::Records(v) => v.shrink_to_fit(),
            Data::V4(v) => v.shrink_to_fit(),
            Data::V6(v) => v.shrink_to_fit(),
            Data::Srv(v) => v.shrink_to_fit(),
            Data::Txt(v) => v.shrink_to_fit(),
        }
    }
}

/// One name of the zone and its record sets.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Record sets by type, in the order they were first given a record.
    pub sets: Vec<(RecordType, RrSet)>,
}

impl Node {
    fn set(&mut self, rtype: RecordType, rotate: bool) -> &mut RrSet {
        if let Some(i) = self.sets.iter().position(|(t, _)| *t == rtype) {
            return &mut self.sets[i].1;
        }
        self.sets.push((rtype, RrSet::new(rtype, rotate)));
        &mut self.sets.last_mut().expect("just pushed").1
    }
}

/// What the zone takes of one peer.
#[derive(Debug, Clone)]
pub struct Peer<'p> {
    /// Its id: its node is `PEER_ID.ZONE`, the target of its SRV records.
    pub id: Option<&'p PeerId>,
    /// Its topic: its addresses are served under `TOPIC.ZONE` too.
    pub topic: Option<&'p str>,
    /// Its addresses.
    pub addrs: &'p [Addr],
    /// Its record as received, served in TXT when it has an id.
    pub json: Arc<str>,
}

/// A snapshot of the zone.
#[derive(Debug)]
pub struct Zone {
    /// The configuration it was built with.
    pub config: Config,
    /// The SOA record (also the authority of negative answers).
    pub soa: Record,
    nodes: HashMap<Arc<str>, Node>,
    /// The addresses named by `ip4-…` and `ip6-…` names that are not nodes: a
    /// peer without an id costs the zone a few dozen bytes.
    hosts: HashSet<IpAddr>,
    rotation: AtomicUsize,
}

/// Where a name falls.
pub enum Lookup<'z> {
    /// Outside the zone.
    Outside,
    /// Inside, but no such name.
    NxDomain,
    /// A name of the zone (made for the lookup when it is an address's name).
    Found(Cow<'z, Node>),
}

impl Zone {
    /// Builds the zone from the live peers: each record with its JSON as received
    /// (served in TXT; an `Arc<str>` is shared, not copied). `serial` is the SOA
    /// serial (it should grow with every change). Takes time linear in the peers.
    pub fn build<'p, J: Into<Arc<str>>>(
        config: Config,
        peers: impl IntoIterator<Item = (&'p PeerRecord, J)>,
        serial: u32,
    ) -> Zone {
        let peers = peers.into_iter().map(|(record, json)| Peer {
            id: record.id.as_ref(),
            topic: record.topic.as_deref(),
            addrs: &record.addrs,
            json: json.into(),
        });
        Self::build_from(config, peers, serial)
    }

    /// [`Zone::build`], from what the zone takes of each peer.
    pub fn build_from<'p>(
        config: Config,
        peers: impl IntoIterator<Item = Peer<'p>>,
        serial: u32,
    ) -> Zone {
        let mut b = Builder {
            origin_labels: config.origin.num_labels(),
            config: &config,
            nodes: HashMap::new(),
            hosts: HashSet::new(),
            big: HashSet::new(),
            services: HashSet::new(),
            topics: HashMap::new(),
            host_like: false,
        };
        let origin = config.origin.clone();
        let hostmaster = Name::from_ascii("hostmaster")
            .and_then(|h| h.append_domain(&origin))
            .unwrap_or_else(|_| origin.clone());
        // Refresh, retry and expire only matter to secondaries, which this zone has
        // none of; the minimum is the negative-caching TTL.
        let soa_data = SOA::new(
            config.ns.clone(),
            hostmaster,
            serial,
            3600,
            600,
            86_400,
            config.ttl,
        );
        let soa = Record::from_rdata(origin.clone(), config.ttl, RData::SOA(soa_data));
        let ns = Record::from_rdata(origin, config.ttl, RData::NS(NS(config.ns.clone())));
        let apex = b.key("");
        let apex = b.nodes.entry(apex).or_default();
        for record in [soa.clone(), ns] {
            if let Data::Records(records) = &mut apex.set(record.record_type(), false).data {
                records.push(record);
            }
        }
        // Empty non-terminals answer NODATA rather than NXDOMAIN (RFC 8020).
        for ent in ["_udp", "_tcp"] {
            b.key(ent);
        }
        for peer in peers {
            b.add_peer(peer);
        }
        let mut nodes = b.nodes;
        for node in nodes.values_mut() {
            node.sets.shrink_to_fit();
            for (_, set) in &mut node.sets {
                set.shrink();
            }
        }
        nodes.shrink_to_fit();
        let mut hosts = b.hosts;
        hosts.shrink_to_fit();
        Zone {
            nodes,
            hosts,
            soa,
            config,
            rotation: AtomicUsize::new(0),
        }
    }

    /// Finds the node for `name`.
    pub fn lookup(&self, name: &Name) -> Lookup<'_> {
        let origin = &self.config.origin;
        if !origin.zone_of(name) {
            return Lookup::Outside;
        }
        let below = usize::from(name.num_labels()) - usize::from(origin.num_labels());
        // The key, built on the stack: a name is at most 255 bytes long.
        let mut key = [0u8; 255];
        let mut len = 0;
        for (i, label) in name.iter().take(below).enumerate() {
            let dot = usize::from(i > 0);
            let Some(room) = key.get_mut(len..len + dot + label.len()) else {
                return Lookup::NxDomain;
            };
            room[..dot].fill(b'.');
            room[dot..].copy_from_slice(label);
            len += dot + label.len();
        }
        let key = &mut key[..len];
        // Every name of the zone is ASCII, so any other name is not one of them.
        if !key.is_ascii() {
            return Lookup::NxDomain;
        }
        key.make_ascii_lowercase();
        let Ok(key) = std::str::from_utf8(key) else {
            return Lookup::NxDomain;
        };
        if let Some(node) = self.nodes.get(key) {
            return Lookup::Found(Cow::Borrowed(node));
        }
        match host_of_label(key) {
            Some(ip) if self.hosts.contains(&ip) => Lookup::Found(Cow::Owned(host_node(ip))),
            _ => Lookup::NxDomain,
        }
    }

    /// How many different windows `set` is answered with: the number of its records
    /// when it rotates (the window at turn `t` is the one at `t % period`), else 1.
    pub fn period(set: &RrSet) -> usize {
        if set.rotate && set.len() > 1 {
            set.len()
        } else {
            1
        }
    }

    /// Takes the next turn of the rotation (every answer from a rotating set takes one).
    pub fn next_turn(&self) -> usize {
        self.rotation.fetch_add(1, Ordering::Relaxed)
    }

    /// The positions in `set` of the records to answer now: a window of `answers`
    /// for rotating sets, moving on at every call. With `turn`, the window of that
    /// turn, and the rotation does not move. Make the records with [`Zone::record`].
    pub fn pick(&self, set: &RrSet, turn: Option<usize>) -> impl Iterator<Item = usize> + use<> {
        let n = set.len();
        let (start, take) = if Self::period(set) == 1 {
            (0, n)
        } else {
            let take = if self.config.answers == 0 {
                n
            } else {
                self.config.answers.min(n)
            };
            let turn = turn.unwrap_or_else(|| self.next_turn());
            // A window of all the records moves by one, so that the order rotates.
            let step = if take == n { 1 } else { take };
            (turn.wrapping_mul(step) % n, take)
        };
        (0..take).map(move |i| (start + i) % n)
    }

    /// The `i`th record of `set`, owned by `owner` (the name of the set's node).
    pub fn record(&self, owner: &Name, set: &RrSet, i: usize) -> Option<Record> {
        let ttl = self.config.ttl;
        let data = match &set.data {
            Data::Records(records) => return records.get(i).cloned(),
            Data::V4(v) => RData::A(A(*v.get(i)?)),
            Data::V6(v) => RData::AAAA(AAAA(*v.get(i)?)),
            Data::Srv(v) => {
                let (port, target) = v.get(i)?;
                let name = match target {
                    Target::Node(key) => self.name(key)?,
                    Target::Host(ip) => self.name(&host_label(*ip))?,
                };
                RData::SRV(SRV::new(0, 1, *port, name))
            }
            Data::Txt(v) => RData::TXT(match v.get(i)? {
                Txt::Json(json) => TXT::from_bytes(txt_chunks(json)),
                Txt::Id(key) => TXT::new(vec![format!("id={key}")]),
            }),
        };
        Some(Record::from_rdata(owner.clone(), ttl, data))
    }

    /// The addresses (A and AAAA records) of an SRV record's target: its additional
    /// records.
    pub fn glue(&self, target: &Target) -> Vec<Record> {
        let key = match target {
            Target::Node(key) => key,
            Target::Host(ip) => {
                let Some(owner) = self.name(&host_label(*ip)) else {
                    return Vec::new();
                };
                let node = host_node(*ip);
                return self
                    .record(&owner, &node.sets[0].1, 0)
                    .into_iter()
                    .collect();
            }
        };
        let (Some(node), Some(owner)) = (self.nodes.get(&**key), self.name(key)) else {
            return Vec::new();
        };
        node.sets
            .iter()
            .filter(|(t, _)| matches!(t, RecordType::A | RecordType::AAAA))
            .flat_map(|(_, set)| (0..set.len()).filter_map(|i| self.record(&owner, set, i)))
            .collect()
    }

    /// The full name for a key below the origin.
    fn name(&self, key: &str) -> Option<Name> {
        full_name(&self.config.origin, key)
    }
}

/// The full name for a key below `origin`.
fn full_name(origin: &Name, key: &str) -> Option<Name> {
    Name::from_ascii(key).ok()?.append_domain(origin).ok()
}

/// Sets at least this long are deduplicated through [`Builder::big`]; shorter ones
/// are searched.
const SEARCHED: usize = 16;

/// Builds the nodes in time linear in the peers: addresses already in a long set are
/// remembered in a hash set rather than searched for.
struct Builder<'c> {
    config: &'c Config,
    origin_labels: u8,
    nodes: HashMap<Arc<str>, Node>,
    hosts: HashSet<IpAddr>,
    /// (node key, address) of every address in a set of [`SEARCHED`] or more; the
    /// key by the address of its one allocation.
    big: HashSet<(usize, IpAddr)>,
    /// (TCP, port, target) of every SRV record added.
    services: HashSet<(bool, u16, Target)>,
    /// Topics seen, and the key each is served under (none when it names no node).
    topics: HashMap<String, Option<Arc<str>>>,
    /// True once a node's key looks like an address's name (a topic named so): only
    /// then must an address's name be looked for among the nodes.
    host_like: bool,
}

impl Builder<'_> {
    /// The shared key of a node, the node made if there was none.
    fn key(&mut self, key: &str) -> Arc<str> {
        if let Some((key, _)) = self.nodes.get_key_value(key) {
            return Arc::clone(key);
        }
        let new: Arc<str> = Arc::from(key);
        self.nodes.insert(Arc::clone(&new), Node::default());
        self.host_like |= key.starts_with("ip4-") || key.starts_with("ip6-");
        // An address's name that was held as the address alone becomes a node.
        if let Some(ip) = host_of_label(key)
            && self.hosts.remove(&ip)
        {
            self.add_address(&new, ip, false);
        }
        new
    }

    fn add_address(&mut self, key: &Arc<str>, ip: IpAddr, rotate: bool) {
        let rtype = match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::AAAA,
        };
        let Some(node) = self.nodes.get_mut(key) else {
            return;
        };
        let set = node.set(rtype, rotate);
        let id = Arc::as_ptr(key).cast::<u8>() as usize;
        let len = set.len();
        let present = if len >= SEARCHED {
            !self.big.insert((id, ip))
        } else {
            let present = match (&set.data, ip) {
                (Data::V4(v), IpAddr::V4(ip)) => v.contains(&ip),
                (Data::V6(v), IpAddr::V6(ip)) => v.contains(&ip),
                _ => true,
            };
            if !present && len + 1 == SEARCHED {
                self.big.insert((id, ip));
                match &set.data {
                    Data::V4(v) => self.big.extend(v.iter().map(|a| (id, IpAddr::V4(*a)))),
                    Data::V6(v) => self.big.extend(v.iter().map(|a| (id, IpAddr::V6(*a)))),
                    _ => {}
                }
            }
            present
        };
        if present {
            return;
        }
        match (&mut set.data, ip) {
            (Data::V4(v), IpAddr::V4(ip)) => v.push(ip),
            (Data::V6(v), IpAddr::V6(ip)) => v.push(ip),
            _ => {}
        }
    }

    /// The key a topic is served under, when it names a node of its own.
    fn topic(&mut self, topic: &str) -> Option<Arc<str>> {
        if let Some(known) = self.topics.get(topic) {
            return known.clone();
        }
        let lower = topic.to_ascii_lowercase();
        let key = full_name(&self.config.origin, &lower)
            .filter(|owner| owner.num_labels() > self.origin_labels && !lower.starts_with('_'))
            .map(|_| self.key(&lower));
        self.topics.insert(topic.to_owned(), key.clone());
        key
    }

    fn add_peer(&mut self, peer: Peer<'_>) {
        let ips: Vec<IpAddr> = peer
            .addrs
            .iter()
            .filter(|a| a.scheme != Scheme::Relay)
            .filter_map(|a| match a.host {
                Host::Ip(ip) => Some(ip),
                Host::Name(_) => None,
            })
            .collect();
        let apex = self.key("");
        for &ip in &ips {
            self.add_address(&apex, ip, true);
        }
        if let Some(topic) = peer.topic.and_then(|t| self.topic(t)) {
            for &ip in &ips {
                self.add_address(&topic, ip, true);
            }
        }
        let id_key = peer.id.map(ToString::to_string).and_then(|key| {
            full_name(&self.config.origin, &key)?;
            Some(self.key(&key))
        });
        if let Some(key) = &id_key {
            for &ip in &ips {
                self.add_address(key, ip, false);
            }
            let json = Txt::Json(peer.json);
            if let Some(Data::Txt(txt)) = self
                .nodes
                .get_mut(key)
                .map(|n| &mut n.set(RecordType::TXT, false).data)
            {
                txt.push(json);
            }
        }
        for addr in peer.addrs {
            let (tcp, Host::Ip(ip)) = (
                match addr.scheme {
                    Scheme::Udp => false,
                    Scheme::Tcp => true,
                    _ => continue,
                },
                &addr.host,
            ) else {
                continue;
            };
            // The SRV target: PEER_ID.ZONE, or a name made of the address for peers
            // without an id.
            let target = match &id_key {
                Some(key) => Target::Node(Arc::clone(key)),
                None => {
                    let node = self
                        .host_like
                        .then(|| self.nodes.get_key_value(host_label(*ip).as_str()))
                        .flatten()
                        .map(|(key, _)| Arc::clone(key));
                    if let Some(key) = node {
                        // A node of that name already (a topic named so).
                        self.add_address(&key, *ip, false);
                        Target::Node(key)
                    } else {
                        self.hosts.insert(*ip);
                        Target::Host(*ip)
                    }
                }
            };
            if !self.services.insert((tcp, addr.port, target.clone())) {
                continue;
            }
            let label = self.key(if tcp { "_p2p._tcp" } else { "_p2p._udp" });
            if let Some(Data::Srv(srv)) = self
                .nodes
                .get_mut(&label)
                .map(|n| &mut n.set(RecordType::SRV, true).data)
            {
                srv.push((addr.port, target));
            }
        }
        if let Some(key) = id_key {
            let label = self.key("_p2p._udp");
            if let Some(Data::Txt(txt)) = self
                .nodes
                .get_mut(&label)
                .map(|n| &mut n.set(RecordType::TXT, true).data)
            {
                txt.push(Txt::Id(key));
            }
        }
    }
}

/// The node of an address's name: its one address.
fn host_node(ip: IpAddr) -> Node {
    let mut node = Node::default();
    let set = node.set(
        match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::AAAA,
        },
        false,
    );
    match (&mut set.data, ip) {
        (Data::V4(v), IpAddr::V4(ip)) => v.push(ip),
        (Data::V6(v), IpAddr::V6(ip)) => v.push(ip),
        _ => {}
    }
    node
}

/// The address an address's name names, when `label` is one exactly as
/// [`host_label`] writes it.
fn host_of_label(label: &str) -> Option<IpAddr> {
    let ip = if let Some(rest) = label.strip_prefix("ip4-") {
        let mut octets = [0u8; 4];
        let mut parts = rest.split('-');
        for octet in &mut octets {
            *octet = parts.next()?.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        IpAddr::from(octets)
    } else if let Some(rest) = label.strip_prefix("ip6-") {
        let bytes: [u8; 16] = hex::decode(rest).ok()?.try_into().ok()?;
        IpAddr::from(bytes)
    } else {
        return None;
    };
    // Only the one spelling: no leading zeros, no capitals.
    (host_label(ip) == label).then_some(ip)
}

/// The label naming an address, for SRV targets of peers without an id:
/// `ip4-192-0-2-1`, `ip6-20010db8000000000000000000000001`.
fn host_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("ip4-{a}-{b}-{c}-{d}")
        }
        IpAddr::V6(v6) => format!("ip6-{}", hex::encode(v6.octets())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(n: u32) -> Vec<(PeerRecord, String)> {
        (0..n)
            .map(|i| {
                let [_, a, b, c] = i.to_be_bytes();
                let addr = format!("udp://10.{a}.{b}.{c}:7").parse().unwrap();
                let mut record = PeerRecord::new(None, vec![addr]);
                record.topic = Some("t".into());
                let json = serde_json::to_string(&record).unwrap();
                (record, json)
            })
            .collect()
    }

    fn config() -> Config {
        Config {
            origin: Name::from_ascii("z.test.").unwrap(),
            ns: Name::from_ascii("ns.z.test.").unwrap(),
            ttl: 5,
            answers: 4,
        }
    }

    fn set_len(zone: &Zone, name: &str, rtype: RecordType) -> usize {
        let Lookup::Found(node) = zone.lookup(&Name::from_ascii(name).unwrap()) else {
            panic!("{name} not found");
        };
        node.sets
            .iter()
            .find(|(t, _)| *t == rtype)
            .map_or(0, |(_, s)| s.len())
    }

    /// Issue 16, item 3: building took quadratic time (16k peers: 93 s). Counted in
    /// allocations rather than seconds, so the test does not depend on the machine's
    /// load: 20,000 peers take at most 2.5 times what 10,000 take (quadratic would be
    /// 4 times), and sets stay deduplicated.
    #[test]
    fn building_is_linear_in_the_peers_and_still_deduplicates() {
        let cost = |n: u32| {
            let many = peers(n);
            let started = std::time::Instant::now();
            let zone = Zone::build(config(), many.iter().map(|(r, j)| (r, j.as_str())), 1);
            let took = started.elapsed();
            assert_eq!(set_len(&zone, "z.test.", RecordType::A), n as usize);
            assert_eq!(
                set_len(&zone, "_p2p._udp.z.test.", RecordType::SRV),
                n as usize
            );
            took
        };
        // The best of three of each, interleaved, so one slow moment does not decide.
        let mut small = std::time::Duration::MAX;
        let mut large = std::time::Duration::MAX;
        for _ in 0..3 {
            small = small.min(cost(10_000));
            large = large.min(cost(20_000));
        }
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        assert!(
            ratio < 3.0,
            "20,000 peers took {ratio:.1}x 10,000 ({large:?})"
        );
        let many = peers(3);
        let twice: Vec<_> = many.iter().chain(&many).collect();
        let zone = Zone::build(config(), twice.iter().map(|(r, j)| (r, j.as_str())), 1);
        assert_eq!(set_len(&zone, "t.z.test.", RecordType::A), 3);
        assert_eq!(set_len(&zone, "_p2p._udp.z.test.", RecordType::SRV), 3);
    }

    /// A topic named like an address's name shares that name's node, whichever
    /// comes first, as when every name was a node.
    #[test]
    fn a_topic_named_like_an_address_shares_its_node() {
        let plain = |addr: &str, topic: Option<&str>| {
            let mut record = PeerRecord::new(None, vec![addr.parse().unwrap()]);
            record.topic = topic.map(str::to_owned);
            let json = serde_json::to_string(&record).unwrap();
            (record, json)
        };
        let host = plain("udp://10.0.0.1:7", None);
        let topic = plain("udp://10.0.0.2:7", Some("ip4-10-0-0-1"));
        for order in [[&host, &topic], [&topic, &host]] {
            let zone = Zone::build(config(), order.map(|(r, j)| (r, j.as_str())), 1);
            assert_eq!(set_len(&zone, "ip4-10-0-0-1.z.test.", RecordType::A), 2);
            assert_eq!(set_len(&zone, "ip4-10-0-0-2.z.test.", RecordType::A), 1);
        }
        assert_eq!(
            host_of_label("ip4-10-0-0-1"),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(host_of_label("ip4-10-0-0-01"), None);
        assert_eq!(host_of_label("ip4-10-0-0-1-2"), None);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(host_of_label(&host_label(v6)), Some(v6));
    }

    /// Long sets are deduplicated through the hash set, short ones by searching,
    /// and the switch between the two loses nothing.
    #[test]
    fn addresses_repeated_across_the_switch_are_kept_once() {
        let many = peers(40);
        let order = many.iter().chain(many.iter().rev()).chain(&many);
        let zone = Zone::build(config(), order.map(|(r, j)| (r, j.as_str())), 1);
        assert_eq!(set_len(&zone, "z.test.", RecordType::A), 40);
        assert_eq!(set_len(&zone, "t.z.test.", RecordType::A), 40);
        assert_eq!(set_len(&zone, "ip4-10-0-0-7.z.test.", RecordType::A), 1);
    }
}
