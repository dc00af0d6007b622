//! The zone: an immutable snapshot of the live table as DNS records, rebuilt whenever
//! the table changes and shared by every server thread.
//!
//! Names are looked up by their labels below the zone's origin, lowercased and
//! joined with dots (`""` is the apex, `chat` the topic chat, `_p2p._udp` the SRV
//! name). Record sets marked `rotate` are answered a `--answers`-sized window at a
//! time, the window moving on with every query.

use crate::addr::{Host, Scheme};
use crate::discovery::dns::txt_chunks;
use crate::ndjson::peer::PeerRecord;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
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

/// A record set, with the additional records each of its records brings along.
#[derive(Debug, Default)]
pub struct RrSet {
    /// The records.
    pub records: Vec<Record>,
    /// Additional records per record (addresses of SRV targets); empty or as long as
    /// `records`.
    pub glue: Vec<Vec<Record>>,
    /// Answer a rotating window of `answers` records rather than all of them.
    pub rotate: bool,
}

/// One name of the zone and its record sets.
#[derive(Debug, Default)]
pub struct Node {
    /// Record sets by type.
    pub sets: Vec<(RecordType, RrSet)>,
}

impl Node {
    fn set(&mut self, rtype: RecordType, rotate: bool) -> &mut RrSet {
        if let Some(i) = self.sets.iter().position(|(t, _)| *t == rtype) {
            return &mut self.sets[i].1;
        }
        self.sets.push((
            rtype,
            RrSet {
                rotate,
                ..RrSet::default()
            },
        ));
        &mut self.sets.last_mut().expect("just pushed").1
    }
}

/// A snapshot of the zone.
#[derive(Debug)]
pub struct Zone {
    /// The configuration it was built with.
    pub config: Config,
    /// The SOA record (also the authority of negative answers).
    pub soa: Record,
    nodes: HashMap<String, Node>,
    rotation: AtomicUsize,
}

/// Where a name falls.
pub enum Lookup<'z> {
    /// Outside the zone.
    Outside,
    /// Inside, but no such name.
    NxDomain,
    /// A name of the zone.
    Found(&'z Node),
}

impl Zone {
    /// Builds the zone from the live peers: each record with its JSON as received
    /// (served in TXT). `serial` is the SOA serial (it should grow with every change).
    pub fn build<'p>(
        config: Config,
        peers: impl IntoIterator<Item = (&'p PeerRecord, &'p str)>,
        serial: u32,
    ) -> Zone {
        let mut b = Builder {
            config: &config,
            nodes: HashMap::new(),
            addresses: HashSet::new(),
            services: HashSet::new(),
        };
        let apex = b.node("");
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
        apex.set(RecordType::SOA, false).records.push(soa.clone());
        apex.set(RecordType::NS, false)
            .records
            .push(Record::from_rdata(
                origin,
                config.ttl,
                RData::NS(NS(config.ns.clone())),
            ));
        // Empty non-terminals answer NODATA rather than NXDOMAIN (RFC 8020).
        for ent in ["_udp", "_tcp"] {
            b.node(ent);
        }
        for (record, json) in peers {
            b.add_peer(record, json);
        }
        Zone {
            nodes: b.nodes,
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
        self.nodes.get(key).map_or(Lookup::NxDomain, Lookup::Found)
    }

    /// How many different windows `set` is answered with: the number of its records
    /// when it rotates (the window at turn `t` is the one at `t % period`), else 1.
    pub fn period(set: &RrSet) -> usize {
        if set.rotate && set.records.len() > 1 {
            set.records.len()
        } else {
            1
        }
    }

    /// Takes the next turn of the rotation (every answer from a rotating set takes one).
    pub fn next_turn(&self) -> usize {
        self.rotation.fetch_add(1, Ordering::Relaxed)
    }

    /// The records of `set` to answer now, with their additional records: a window
    /// of `answers` for rotating sets, moving on at every call. With `turn`, the window
    /// of that turn, and the rotation does not move.
    pub fn pick<'z>(
        &self,
        set: &'z RrSet,
        turn: Option<usize>,
    ) -> impl Iterator<Item = (&'z Record, Option<&'z Vec<Record>>)> + use<'z> {
        let n = set.records.len();
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
        (0..take).map(move |i| {
            let i = (start + i) % n;
            (&set.records[i], set.glue.get(i))
        })
    }
}

/// Builds the nodes in time linear in the peers: the records already added are
/// remembered in hash sets rather than searched for in the record sets.
struct Builder<'c> {
    config: &'c Config,
    nodes: HashMap<String, Node>,
    /// (node key, address) of every A and AAAA record added.
    addresses: HashSet<(String, IpAddr)>,
    /// (SRV node key, port, target) of every SRV record added.
    services: HashSet<(&'static str, u16, Name)>,
}

impl Builder<'_> {
    fn node(&mut self, key: &str) -> &mut Node {
        self.nodes.entry(key.to_owned()).or_default()
    }

    /// The full name for a key below the origin.
    fn name(&self, key: &str) -> Option<Name> {
        Name::from_ascii(key)
            .ok()?
            .append_domain(&self.config.origin)
            .ok()
    }

    fn address(&self, owner: &Name, ip: IpAddr) -> Record {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        Record::from_rdata(owner.clone(), self.config.ttl, data)
    }

    fn add_address(&mut self, key: &str, owner: &Name, ip: IpAddr, rotate: bool) {
        if !self.addresses.insert((key.to_owned(), ip)) {
            return;
        }
        let record = self.address(owner, ip);
        let rtype = record.record_type();
        self.node(key).set(rtype, rotate).records.push(record);
    }

    fn add_peer(&mut self, record: &PeerRecord, json: &str) {
        let ttl = self.config.ttl;
        let origin = self.config.origin.clone();
        let ips: Vec<IpAddr> = record
            .addrs
            .iter()
            .filter(|a| a.scheme != Scheme::Relay)
            .filter_map(|a| match a.host {
                Host::Ip(ip) => Some(ip),
                Host::Name(_) => None,
            })
            .collect();
        for &ip in &ips {
            self.add_address("", &origin, ip, true);
        }
        if let Some(topic) = record.topic.as_deref().map(str::to_ascii_lowercase)
            && let Some(owner) = self.name(&topic)
            && owner.num_labels() > origin.num_labels()
            && !topic.starts_with('_')
        {
            for &ip in &ips {
                self.add_address(&topic, &owner, ip, true);
            }
        }
        let id_key = record.id.map(|id| id.to_string());
        let id_owner = id_key.as_deref().and_then(|k| self.name(k));
        if let (Some(key), Some(owner)) = (&id_key, &id_owner) {
            for &ip in &ips {
                self.add_address(key, owner, ip, false);
            }
            let txt = TXT::from_bytes(txt_chunks(json));
            self.node(key)
                .set(RecordType::TXT, false)
                .records
                .push(Record::from_rdata(owner.clone(), ttl, RData::TXT(txt)));
        }
        for addr in &record.addrs {
            let (label, Host::Ip(ip)) = (
                match addr.scheme {
                    Scheme::Udp => "_p2p._udp",
                    Scheme::Tcp => "_p2p._tcp",
                    _ => continue,
                },
                &addr.host,
            ) else {
                continue;
            };
            // The SRV target: PEER_ID.ZONE, or a name made of the address for peers
            // without an id.
            let (target_key, target) = match (&id_key, &id_owner) {
                (Some(key), Some(owner)) => (key.clone(), owner.clone()),
                _ => {
                    let key = host_label(*ip);
                    let Some(owner) = self.name(&key) else {
                        continue;
                    };
                    self.add_address(&key, &owner, *ip, false);
                    (key, owner)
                }
            };
            let glue: Vec<Record> = self.nodes[&target_key]
                .sets
                .iter()
                .filter(|(t, _)| matches!(t, RecordType::A | RecordType::AAAA))
                .flat_map(|(_, s)| s.records.iter().cloned())
                .collect();
            let Some(srv_owner) = self.name(label) else {
                continue;
            };
            if !self.services.insert((label, addr.port, target.clone())) {
                continue;
            }
            let srv = Record::from_rdata(
                srv_owner,
                ttl,
                RData::SRV(SRV::new(0, 1, addr.port, target)),
            );
            let set = self.node(label).set(RecordType::SRV, true);
            set.records.push(srv);
            set.glue.push(glue);
        }
        if let (Some(key), Some(owner)) = (&id_key, self.name("_p2p._udp")) {
            let txt = TXT::new(vec![format!("id={key}")]);
            self.node("_p2p._udp")
                .set(RecordType::TXT, true)
                .records
                .push(Record::from_rdata(owner, ttl, RData::TXT(txt)));
        }
    }
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
    use std::time::{Duration, Instant};

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
            .map_or(0, |(_, s)| s.records.len())
    }

    /// Issue 16, item 3: building took quadratic time (16k peers: 93 s). 20,000 peers
    /// now take well under a second in release, a few in a debug build.
    #[test]
    fn building_is_linear_in_the_peers_and_still_deduplicates() {
        let many = peers(20_000);
        let started = Instant::now();
        let zone = Zone::build(config(), many.iter().map(|(r, j)| (r, j.as_str())), 1);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(20), "{took:?} for 20,000 peers");
        assert_eq!(set_len(&zone, "z.test.", RecordType::A), 20_000);
        assert_eq!(set_len(&zone, "_p2p._udp.z.test.", RecordType::SRV), 20_000);
        let twice: Vec<_> = many[..3].iter().chain(&many[..3]).collect();
        let zone = Zone::build(config(), twice.iter().map(|(r, j)| (r, j.as_str())), 1);
        assert_eq!(set_len(&zone, "t.z.test.", RecordType::A), 3);
        assert_eq!(set_len(&zone, "_p2p._udp.z.test.", RecordType::SRV), 3);
    }
}
