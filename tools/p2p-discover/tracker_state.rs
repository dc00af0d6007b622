//! The tracker's state: swarms of peers by infohash, each peer expiring after two
//! intervals, and what bounds it: at most `--max-swarms` infohashes, [`SWARM_PEERS`]
//! peers a swarm, records of at most [`MAX_RECORD`] bytes and [`REPLY_RECORDS`]
//! bytes of them in one reply, a full scrape of at most [`FULL_SCRAPE`] swarms.
//! Empty swarms go at once, expired peers on every touch and every sweep.

use p2p_shared::codec::tracker::{Announce, Event, Id20, Reply};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Limits and timing of the tracker.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How often peers should re-announce.
    pub interval: Duration,
    /// Most peers in one response.
    pub max_peers: usize,
    /// Most announces per source address per minute.
    pub rate: u32,
    /// Most infohashes tracked at once.
    pub max_swarms: usize,
    /// Most connections held at once (kept below the descriptor limit).
    pub max_connections: usize,
}

/// Most peers in one swarm.
pub const SWARM_PEERS: usize = 2000;
/// The longest signed peer record a peer may store (bytes).
pub const MAX_RECORD: usize = 2048;
/// Most bytes of signed records in one reply; past this, peers come without theirs.
pub const REPLY_RECORDS: usize = 16 * 1024;
/// Most swarms a scrape without `info_hash` reports.
pub const FULL_SCRAPE: usize = 1000;
/// What a full scrape costs against the source's announce rate, in announces.
pub const FULL_SCRAPE_COST: u32 = 10;
/// Most source addresses whose announce rate is tracked; past this the oldest
/// windows are forgotten.
const RATE_SOURCES: usize = 65_536;

struct Entry {
    addr: SocketAddr,
    left: u64,
    record: Option<String>,
    expires: Instant,
}

/// Everything the tracker holds.
pub struct State {
    limits: Limits,
    swarms: HashMap<Id20, HashMap<Id20, Entry>>,
    rate: HashMap<IpAddr, (Instant, u32)>,
    keys: std::hash::RandomState,
    started: Instant,
    /// What `--stats-every` reports.
    pub counts: Counts,
}

/// Requests since the start, for the `stats` record.
#[derive(Debug, Default)]
pub struct Counts {
    /// Announces received (HTTP and UDP), refused ones included.
    pub announces: u64,
    /// Scrape requests received.
    pub scrapes: u64,
    /// HTTP connections accepted.
    pub http_connections: u64,
    /// UDP connect requests answered (BEP 15).
    pub udp_connects: u64,
    /// Refused requests by reason.
    pub refused: BTreeMap<&'static str, u64>,
}

impl Counts {
    /// Counts one refusal: `why` is one of the refusal messages, or a reason key.
    pub fn refuse(&mut self, why: &'static str) {
        let key = match why {
            RATE_LIMITED => "rate_limited",
            TOO_MANY_SWARMS => "too_many_swarms",
            SWARM_FULL => "swarm_full",
            RECORD_TOO_LONG => "record_too_long",
            other => other,
        };
        *self.refused.entry(key).or_default() += 1;
    }
}

/// Why an announce was refused.
pub const RATE_LIMITED: &str = "rate limited: too many announces from this address";
/// Why a new infohash was refused.
pub const TOO_MANY_SWARMS: &str = "tracker full: too many infohashes tracked";
/// Why a new peer was refused.
pub const SWARM_FULL: &str = "swarm full: too many peers in this swarm";
/// Why a record was refused.
pub const RECORD_TOO_LONG: &str = "p2p record too long (at most 2048 bytes)";

impl State {
    /// An empty tracker.
    pub fn new(limits: Limits) -> State {
        State {
            limits,
            swarms: HashMap::new(),
            rate: HashMap::new(),
            keys: std::hash::RandomState::new(),
            started: Instant::now(),
            counts: Counts::default(),
        }
    }

    /// The `stats` record: swarms and live peers now, and the counts since the start.
    pub fn stats(&self, now: Instant) -> Value {
        let peers: usize = self
            .swarms
            .values()
            .map(|swarm| swarm.values().filter(|e| e.expires > now).count())
            .sum();
        let c = &self.counts;
        p2p_shared::ndjson::records::stats(json!({
            "swarms": self.swarms.len(),
            "peers": peers,
            "announces": c.announces,
            "scrapes": c.scrapes,
            "http_connections": c.http_connections,
            "udp_connects": c.udp_connects,
            "refused": c.refused,
        }))
    }

    /// Counts `cost` requests against `ip`'s budget of a minute.
    pub fn allow(&mut self, ip: IpAddr, cost: u32, now: Instant) -> bool {
        if self.rate.len() >= RATE_SOURCES && !self.rate.contains_key(&ip) {
            self.rate
                .retain(|_, w| now.duration_since(w.0) < Duration::from_mins(1));
            if self.rate.len() >= RATE_SOURCES {
                self.rate.clear();
            }
        }
        let window = self.rate.entry(ip).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_mins(1) {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(cost);
        window.1 <= self.limits.rate
    }

    /// Handles one announce from `from`, and counts it (and a refusal).
    pub fn announce(
        &mut self,
        from: SocketAddr,
        a: &Announce,
        now: Instant,
    ) -> Result<Reply, &'static str> {
        self.counts.announces += 1;
        let answer = self.answer_announce(from, a, now);
        if let Err(why) = answer {
            self.counts.refuse(why);
        }
        answer
    }

    fn answer_announce(
        &mut self,
        from: SocketAddr,
        a: &Announce,
        now: Instant,
    ) -> Result<Reply, &'static str> {
        if !self.allow(from.ip(), 1, now) {
            return Err(RATE_LIMITED);
        }
        if a.record.as_ref().is_some_and(|r| r.len() > MAX_RECORD) {
            return Err(RECORD_TOO_LONG);
        }
        let joins = a.event != Event::Stopped && a.port != 0;
        if !self.swarms.contains_key(&a.info_hash) {
            if !joins {
                return Ok(self.empty_reply());
            }
            if self.swarms.len() >= self.limits.max_swarms {
                self.sweep(now);
                if self.swarms.len() >= self.limits.max_swarms {
                    return Err(TOO_MANY_SWARMS);
                }
            }
        }
        let interval = self.limits.interval;
        let swarm = self.swarms.entry(a.info_hash).or_default();
        swarm.retain(|_, e| e.expires > now);
        if a.event == Event::Stopped {
            swarm.remove(&a.peer_id);
        } else if a.port != 0 {
            if swarm.len() >= SWARM_PEERS && !swarm.contains_key(&a.peer_id) {
                return Err(SWARM_FULL);
            }
            swarm.insert(
                a.peer_id,
                Entry {
                    addr: SocketAddr::new(from.ip(), a.port),
                    left: a.left,
                    record: a.record.clone(),
                    expires: now + interval * 2,
                },
            );
        }
        if swarm.is_empty() {
            self.swarms.remove(&a.info_hash);
            return Ok(self.empty_reply());
        }
        let want = (a.numwant as usize).min(self.limits.max_peers);
        let swarm = &self.swarms[&a.info_hash];
        let others: Vec<&Entry> = swarm
            .iter()
            .filter(|(id, _)| **id != a.peer_id)
            .map(|(_, e)| e)
            .collect();
        let start = if others.is_empty() {
            0
        } else {
            usize::try_from(
                self.keys.hash_one(now.duration_since(self.started)) % others.len() as u64,
            )
            .unwrap_or(0)
        };
        let chosen: Vec<&Entry> = others
            .iter()
            .cycle()
            .skip(start)
            .take(want.min(others.len()))
            .copied()
            .collect();
        let complete = swarm.values().filter(|e| e.left == 0).count();
        let mut room = REPLY_RECORDS;
        let records = chosen
            .iter()
            .filter_map(|e| e.record.as_ref())
            .filter(|r| {
                let fits = r.len() <= room;
                room = room.saturating_sub(r.len());
                fits
            })
            .cloned()
            .collect();
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Ok(Reply {
            interval: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
            complete: n(complete),
            incomplete: n(swarm.len() - complete),
            peers: chosen.iter().map(|e| e.addr).collect(),
            records,
        })
    }

    /// The reply to a peer of a swarm with no one else in it.
    fn empty_reply(&self) -> Reply {
        Reply {
            interval: u32::try_from(self.limits.interval.as_secs()).unwrap_or(u32::MAX),
            complete: 0,
            incomplete: 0,
            peers: Vec::new(),
            records: Vec::new(),
        }
    }

    /// (seeders, completed, leechers) of a swarm.
    pub fn scrape(&mut self, hash: &Id20, now: Instant) -> (u32, u32, u32) {
        let Some(swarm) = self.swarms.get_mut(hash) else {
            return (0, 0, 0);
        };
        swarm.retain(|_, e| e.expires > now);
        if swarm.is_empty() {
            self.swarms.remove(hash);
            return (0, 0, 0);
        }
        let seeders = swarm.values().filter(|e| e.left == 0).count();
        let total = swarm.len();
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        (n(seeders), 0, n(total - seeders))
    }

    /// Up to [`FULL_SCRAPE`] swarms with their counts: the answer to a scrape without
    /// `info_hash`, collected here and encoded by the caller outside the lock.
    pub fn full_scrape(&mut self, now: Instant) -> Vec<(Id20, (u32, u32, u32))> {
        let hashes: Vec<Id20> = self.swarms.keys().take(FULL_SCRAPE).copied().collect();
        hashes
            .into_iter()
            .map(|h| (h, self.scrape(&h, now)))
            .filter(|(_, counts)| *counts != (0, 0, 0))
            .collect()
    }

    /// Forgets expired peers, empty swarms and old rate windows.
    pub fn sweep(&mut self, now: Instant) {
        self.swarms.retain(|_, swarm| {
            swarm.retain(|_, e| e.expires > now);
            !swarm.is_empty()
        });
        self.rate
            .retain(|_, w| now.duration_since(w.0) < Duration::from_mins(1));
    }

    /// How many infohashes are tracked.
    #[cfg(test)]
    pub fn swarms(&self) -> usize {
        self.swarms.len()
    }

    /// A connection id bound to the source's IP address and the current two-minute
    /// window (BEP 15), so spoofed sources cannot announce. Not to its port: a
    /// client may reuse one id from several sockets (libtorrent keeps one per
    /// tracker for the whole process, shared by all its sessions and listen ports).
    pub fn connection_id(&self, from: IpAddr, window: u64) -> u64 {
        self.keys.hash_one((from, window))
    }

    /// The current two-minute window.
    pub fn window(&self, now: Instant) -> u64 {
        now.duration_since(self.started).as_secs() / 120
    }

    /// True when `conn` is a connection id this tracker gave `from` recently.
    pub fn valid_connection(&self, from: SocketAddr, conn: u64, now: Instant) -> bool {
        let window = self.window(now);
        conn == self.connection_id(from.ip(), window)
            || (window > 0 && conn == self.connection_id(from.ip(), window - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            interval: Duration::from_secs(30),
            max_peers: 2,
            rate: 5,
            max_swarms: 3,
            max_connections: 16,
        }
    }

    fn announce(peer: u8, port: u16) -> Announce {
        Announce {
            info_hash: [1; 20],
            peer_id: [peer; 20],
            port,
            numwant: 50,
            event: Event::Started,
            left: 0,
            record: None,
        }
    }

    #[test]
    fn peers_see_each_other_but_not_themselves_capped_at_max_peers() {
        let mut state = State::new(limits());
        let now = Instant::now();
        for peer in 1..=4 {
            let from: SocketAddr = format!("192.0.2.{peer}:999").parse().unwrap();
            state
                .announce(from, &announce(peer, 6000 + u16::from(peer)), now)
                .unwrap();
        }
        let reply = state
            .announce("192.0.2.1:999".parse().unwrap(), &announce(1, 6001), now)
            .unwrap();
        assert_eq!(reply.peers.len(), 2);
        assert!(!reply.peers.contains(&"192.0.2.1:6001".parse().unwrap()));
        assert_eq!((reply.complete, reply.incomplete), (4, 0));
    }

    #[test]
    fn expiry_stopped_and_port_zero() {
        let mut state = State::new(limits());
        let now = Instant::now();
        state
            .announce("192.0.2.1:1".parse().unwrap(), &announce(1, 7000), now)
            .unwrap();
        let query = announce(2, 0);
        let seen = state
            .announce("192.0.2.2:1".parse().unwrap(), &query, now)
            .unwrap();
        assert_eq!(seen.peers, vec!["192.0.2.1:7000".parse().unwrap()]);
        assert_eq!(
            state.scrape(&[1; 20], now),
            (1, 0, 0),
            "port 0 must not join"
        );
        let later = now + Duration::from_secs(61);
        let gone = state
            .announce("192.0.2.3:1".parse().unwrap(), &query, later)
            .unwrap();
        assert!(gone.peers.is_empty(), "expired peer still served");
        state
            .announce("192.0.2.1:1".parse().unwrap(), &announce(1, 7000), later)
            .unwrap();
        let mut stop = announce(1, 7000);
        stop.event = Event::Stopped;
        state
            .announce("192.0.2.1:1".parse().unwrap(), &stop, later)
            .unwrap();
        assert_eq!(state.scrape(&[1; 20], later), (0, 0, 0));
    }

    #[test]
    fn a_source_is_rate_limited() {
        let mut state = State::new(limits());
        let now = Instant::now();
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        for _ in 0..5 {
            state.announce(from, &announce(1, 1), now).unwrap();
        }
        assert_eq!(
            state.announce(from, &announce(1, 1), now),
            Err(RATE_LIMITED)
        );
        assert!(
            state
                .announce(from, &announce(1, 1), now + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn connection_ids_are_bound_to_the_source_address_not_its_port() {
        let state = State::new(limits());
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let a_again: SocketAddr = "192.0.2.1:2".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1".parse().unwrap();
        let id = state.connection_id(a.ip(), state.window(now));
        assert!(state.valid_connection(a, id, now));
        assert!(
            state.valid_connection(a_again, id, now),
            "one client, another socket"
        );
        assert!(!state.valid_connection(b, id, now));
        let later = now + Duration::from_mins(4);
        assert!(!state.valid_connection(a, id, later), "ids expire");
    }

    #[test]
    fn empty_swarms_go_and_infohashes_are_capped() {
        let mut state = State::new(Limits {
            rate: 1000,
            ..limits()
        });
        let now = Instant::now();
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        for hash in 1..=3u8 {
            let mut a = announce(1, 7000);
            a.info_hash = [hash; 20];
            state.announce(from, &a, now).unwrap();
        }
        let mut fourth = announce(1, 7000);
        fourth.info_hash = [4; 20];
        assert_eq!(state.announce(from, &fourth, now), Err(TOO_MANY_SWARMS));
        let mut stop = announce(1, 7000);
        stop.event = Event::Stopped;
        state.announce(from, &stop, now).unwrap();
        assert_eq!(state.swarms(), 2, "a swarm left empty is dropped");
        let mut fifth = announce(1, 7000);
        fifth.info_hash = [5; 20];
        state.announce(from, &fifth, now).unwrap();
        let later = now + Duration::from_secs(61);
        assert!(
            state.announce(from, &fourth, later).is_ok(),
            "expired swarms are swept for room"
        );
        assert_eq!(state.swarms(), 1);
        state.sweep(later + Duration::from_secs(61));
        assert_eq!(state.swarms(), 0);
        assert!(state.full_scrape(later).is_empty());
    }

    #[test]
    fn records_are_capped_in_size_and_per_reply() {
        let mut state = State::new(Limits {
            max_peers: 50,
            rate: 1000,
            ..limits()
        });
        let now = Instant::now();
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let mut big = announce(1, 7000);
        big.record = Some("x".repeat(MAX_RECORD + 1));
        assert_eq!(state.announce(from, &big, now), Err(RECORD_TOO_LONG));
        for peer in 1..=20u8 {
            let mut a = announce(peer, 7000);
            a.record = Some("y".repeat(MAX_RECORD));
            state.announce(from, &a, now).unwrap();
        }
        let reply = state.announce(from, &announce(99, 0), now).unwrap();
        assert_eq!(reply.peers.len(), 20);
        let bytes: usize = reply.records.iter().map(String::len).sum();
        assert!(bytes <= REPLY_RECORDS, "{bytes} bytes of records");
        assert_eq!(reply.records.len(), REPLY_RECORDS / MAX_RECORD);
    }
}
