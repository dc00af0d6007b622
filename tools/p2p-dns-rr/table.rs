//! The live table: peers announced on stdin (each expiring unless announced again)
//! and peers from a `--peers` file (kept while they are in it).
//!
//! A peer is keyed by its id, or by its addresses when it has none. A signed record
//! must verify, and a signed record older (lower `seq`) than the one held is ignored,
//! so a replayed announcement cannot roll a peer back.

use p2p_shared::Status;
use p2p_shared::addr::Addr;
use p2p_shared::discovery::dns_server::zone::Peer;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::input::{self, LineError, LineReader};
use p2p_shared::ndjson::peer::PeerRecord;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One live peer: what the zone and the table take of its record, and the record
/// as received (a parsed `PeerRecord` is 432 bytes; this is about 100).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id (boxed: a key is large, and most peers may have none).
    pub id: Option<Box<PeerId>>,
    /// The sequence number of a signed record.
    pub seq: Option<u64>,
    /// Its topic.
    pub topic: Option<Box<str>>,
    /// Its addresses.
    pub addrs: Box<[Addr]>,
    /// The record as received, re-encoded compactly (field order kept), for TXT;
    /// shared with the zone snapshots.
    pub json: Arc<str>,
    /// When it was first announced (used to pick the newest peers).
    pub first_seen: Instant,
    /// When it was last announced.
    pub last_seen: Instant,
}

impl Entry {
    /// What the zone takes of it.
    pub fn peer(&self) -> Peer<'_> {
        Peer {
            id: self.id.as_deref(),
            topic: self.topic.as_deref(),
            addrs: &self.addrs,
            json: Arc::clone(&self.json),
        }
    }
}

/// What a line did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A peer was added or its record changed.
    Changed,
    /// A known peer was announced again, unchanged (its expiry was pushed back).
    Refreshed,
    /// Nothing: a line of another type, an older signed record, an unknown peer gone.
    Nothing,
}

/// The live peers.
#[derive(Debug)]
pub struct Table {
    expire: Duration,
    /// Ordered by key, so the zone is built in one order without sorting.
    announced: BTreeMap<String, Entry>,
    file: BTreeMap<String, Entry>,
    /// No announced peer expires before this (it may be early, never late), so
    /// the table is only searched for expired peers when one may be due.
    next_expiry: Option<Instant>,
    /// When the table was last searched for expired peers.
    swept: Option<Instant>,
}

/// The least time between two searches for expired peers: a peer goes at most this
/// late, and a table of 200,000 peers costs a few milliseconds a search.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

impl Table {
    /// An empty table whose announced peers expire after `expire`.
    pub fn new(expire: Duration) -> Self {
        Table {
            expire,
            announced: BTreeMap::new(),
            file: BTreeMap::new(),
            next_expiry: None,
            swept: None,
        }
    }

    /// Applies one input object: a `peer` record adds or refreshes a peer,
    /// `peer_gone` removes one, other types are ignored.
    pub fn apply(&mut self, object: Map<String, Value>, now: Instant) -> Result<Change, String> {
        match object.get("type").and_then(Value::as_str) {
            Some("peer") => {
                let entry = entry_of(object, now)?;
                let due = now + self.expire;
                self.next_expiry = Some(self.next_expiry.map_or(due, |at| at.min(due)));
                Ok(upsert(&mut self.announced, entry, now))
            }
            Some("peer_gone") => {
                let key = gone_key(&object)?;
                Ok(if self.announced.remove(&key).is_some() {
                    Change::Changed
                } else {
                    Change::Nothing
                })
            }
            Some(_) => Ok(Change::Nothing),
            None => Err("no \"type\" field (expected a peer or peer_gone record)".to_owned()),
        }
    }

    /// Forgets announced peers not seen for the expiry time; returns how many went.
    /// Looks at every peer only when one may be due, and at most every
    /// [`SWEEP_EVERY`], so calling it often costs nothing.
    pub fn expire(&mut self, now: Instant) -> usize {
        if self.next_expiry.is_none_or(|at| now < at)
            || self
                .swept
                .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
        {
            return 0;
        }
        self.swept = Some(now);
        let before = self.announced.len();
        let expire = self.expire;
        let mut next: Option<Instant> = None;
        self.announced.retain(|_, e| {
            let keep = now.saturating_duration_since(e.last_seen) < expire;
            if keep {
                let due = e.last_seen + expire;
                next = Some(next.map_or(due, |at| at.min(due)));
            }
            keep
        });
        self.next_expiry = next;
        before - self.announced.len()
    }

    /// The earliest moment an announced peer may expire, if any (never later than
    /// the real one; the search for expired peers waits [`SWEEP_EVERY`] between runs).
    pub fn next_expiry(&self) -> Option<Instant> {
        let at = self.next_expiry?;
        Some(self.swept.map_or(at, |swept| at.max(swept + SWEEP_EVERY)))
    }

    /// Replaces the file's peers with `entries`; returns true when anything changed.
    pub fn set_file(&mut self, entries: Vec<Entry>, now: Instant) -> bool {
        let mut next = BTreeMap::new();
        for entry in entries {
            let key = key_of(entry.id.as_deref(), &entry.addrs);
            let first_seen = self.file.get(&key).map_or(now, |e| e.first_seen);
            next.insert(
                key,
                Entry {
                    first_seen,
                    ..entry
                },
            );
        }
        let changed = next.len() != self.file.len()
            || next
                .iter()
                .any(|(k, e)| self.file.get(k).is_none_or(|old| old.json != e.json));
        self.file = next;
        changed
    }

    /// Every live peer, once (an announced record wins over the file's for one key),
    /// in a stable order (by key).
    pub fn live(&self) -> Vec<&Entry> {
        let mut all = Vec::with_capacity(self.announced.len() + self.file.len());
        let mut file = self.file.iter().peekable();
        for (key, entry) in &self.announced {
            while let Some((_, from_file)) = file.next_if(|(k, _)| *k < key) {
                all.push(from_file);
            }
            file.next_if(|(k, _)| *k == key);
            all.push(entry);
        }
        all.extend(file.map(|(_, e)| e));
        all
    }

    /// How many peers are live.
    pub fn len(&self) -> usize {
        self.announced.len()
            + self
                .file
                .keys()
                .filter(|k| !self.announced.contains_key(*k))
                .count()
    }
}

fn upsert(map: &mut BTreeMap<String, Entry>, entry: Entry, now: Instant) -> Change {
    let key = key_of(entry.id.as_deref(), &entry.addrs);
    match map.get_mut(&key) {
        Some(old) if old.seq.is_some() && entry.seq < old.seq => Change::Nothing,
        Some(old) if old.json == entry.json => {
            old.last_seen = now;
            Change::Refreshed
        }
        Some(old) => {
            let first_seen = old.first_seen;
            *old = Entry {
                first_seen,
                ..entry
            };
            Change::Changed
        }
        None => {
            map.insert(key, entry);
            Change::Changed
        }
    }
}

/// The table key of a record: its id, or its sorted addresses.
fn key_of(id: Option<&PeerId>, addrs: &[Addr]) -> String {
    match id {
        Some(id) => id.to_string(),
        None => {
            let mut addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            addrs.sort();
            format!("addrs:{}", addrs.join(","))
        }
    }
}

fn gone_key(object: &Map<String, Value>) -> Result<String, String> {
    if let Some(id) = object.get("id") {
        let id: PeerId = id
            .as_str()
            .ok_or("peer_gone: \"id\" is not a string")?
            .parse()
            .map_err(|e| format!("peer_gone: {e}"))?;
        return Ok(id.to_string());
    }
    let mut as_peer = object.clone();
    as_peer.insert("type".into(), Value::String("peer".into()));
    let record = PeerRecord::from_object(as_peer).map_err(|e| format!("peer_gone: {e}"))?;
    if record.addrs.is_empty() {
        return Err("peer_gone names no peer (give \"id\" or \"addrs\")".to_owned());
    }
    Ok(key_of(record.id.as_ref(), &record.addrs))
}

/// Checks a `peer` object and makes a table entry of it.
pub fn entry_of(object: Map<String, Value>, now: Instant) -> Result<Entry, String> {
    let json = serde_json::to_string(&object).map_err(|e| e.to_string())?;
    let record = PeerRecord::from_object(object)?;
    if record.id.is_none() && record.addrs.is_empty() {
        return Err("a peer record with neither \"id\" nor \"addrs\"".to_owned());
    }
    if record.is_signed() {
        record
            .verify()
            .map_err(|e| format!("signed peer record does not verify: {e}"))?;
    }
    Ok(Entry {
        id: record.id.map(Box::new),
        seq: record.seq,
        topic: record.topic.map(String::into_boxed_str),
        addrs: record.addrs.into_boxed_slice(),
        json: Arc::from(json),
        first_seen: now,
        last_seen: now,
    })
}

/// Reads a file of peer records; bad lines come back as problems with their numbers.
pub fn read_file(
    reader: impl BufRead,
    max_line: usize,
    now: Instant,
) -> std::io::Result<(Vec<Entry>, Vec<LineError>)> {
    let mut lines = LineReader::new(reader, max_line);
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    while let Some(line) = lines.next_line()? {
        if line.bytes.as_deref().is_some_and(input::is_blank) {
            continue;
        }
        let parsed = input::parse_object(&line, max_line).and_then(|object| {
            match object.get("type").and_then(Value::as_str) {
                Some("peer") => entry_of(object, now).map(Some),
                _ => Ok(None),
            }
            .map_err(|e| LineError::new(line.number, Status::Usage, e))
        });
        match parsed {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    Ok((entries, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::identity::Identity;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else { panic!() };
        map
    }

    #[test]
    fn peers_come_refresh_expire_and_go() {
        let t0 = Instant::now();
        let mut table = Table::new(Duration::from_secs(10));
        let peer = json!({"type":"peer","addrs":["udp://192.0.2.1:1"]});
        assert_eq!(table.apply(object(peer.clone()), t0), Ok(Change::Changed));
        assert_eq!(
            table.apply(object(peer.clone()), t0 + Duration::from_secs(8)),
            Ok(Change::Refreshed)
        );
        assert_eq!(table.expire(t0 + Duration::from_secs(12)), 0);
        assert_eq!(table.expire(t0 + Duration::from_secs(18)), 1);
        table.apply(object(peer), t0).unwrap();
        let gone = json!({"type":"peer_gone","addrs":["udp://192.0.2.1:1"]});
        assert_eq!(table.apply(object(gone), t0), Ok(Change::Changed));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn forged_and_older_signed_records_are_refused() {
        let me = Identity::from_seed([3; 32]);
        let now = Instant::now();
        let mut table = Table::new(Duration::from_secs(10));
        let mut record =
            PeerRecord::signed(&me, vec!["udp://192.0.2.1:1".parse().unwrap()], None).unwrap();
        record.seq = Some(100);
        record.sign(&me).unwrap();
        table.apply(record.to_object(), now).unwrap();
        let mut older = record.clone();
        older.seq = Some(99);
        older.addrs = vec!["udp://192.0.2.2:1".parse().unwrap()];
        older.sign(&me).unwrap();
        assert_eq!(table.apply(older.to_object(), now), Ok(Change::Nothing));
        let mut forged = record.clone();
        forged.addrs = vec!["udp://203.0.113.1:1".parse().unwrap()];
        assert!(
            table
                .apply(forged.to_object(), now)
                .unwrap_err()
                .contains("does not verify")
        );
        assert_eq!(table.live()[0].addrs[0].to_string(), "udp://192.0.2.1:1");
    }

    /// Issue 16, item 3: every batch of lines looked at every peer for expiry (and
    /// again for the next expiry), so taking in N peers cost N²/4096 looks. Now a
    /// call with no peer due costs the same for 100,000 peers as for 100: the ratio of
    /// the two (best of three) stays far below the 1,000 a search of every peer gives.
    #[test]
    fn looking_for_expired_peers_costs_nothing_until_one_is_due() {
        let now = Instant::now();
        let table = |n: u32| {
            let mut table = Table::new(Duration::from_mins(1));
            for i in 0..n {
                let [_, a, b, c] = i.to_be_bytes();
                let line = json!({"type":"peer","addrs":[format!("udp://10.{a}.{b}.{c}:1")]});
                table.apply(object(line), now).unwrap();
            }
            table
        };
        let cost = |table: &mut Table| {
            let started = Instant::now();
            for i in 0..2_000u64 {
                let at = now + Duration::from_millis(i);
                assert_eq!(table.expire(at), 0);
                assert!(table.next_expiry().is_some_and(|due| due > at));
            }
            started.elapsed().as_secs_f64()
        };
        let (mut small, mut large) = (table(100), table(100_000));
        let ratio = (0..3)
            .map(|_| cost(&mut large) / cost(&mut small))
            .fold(f64::MAX, f64::min);
        assert!(ratio < 20.0, "100,000 peers cost {ratio:.0}x 100 peers");
        assert_eq!(large.expire(now + Duration::from_secs(61)), 100_000);
        assert_eq!(large.next_expiry(), None);
    }

    /// The live peers come in key order, the file's and the announced ones merged,
    /// an announced record winning over the file's for one key.
    #[test]
    fn live_peers_merge_in_key_order() {
        let now = Instant::now();
        let mut table = Table::new(Duration::from_secs(10));
        let peer = |last: u8, port: u16| {
            object(json!({"type":"peer","addrs":[format!("udp://192.0.2.{last}:{port}")]}))
        };
        let from_file: Vec<Entry> = [(1, 1), (3, 1), (5, 1)]
            .into_iter()
            .map(|(l, p)| entry_of(peer(l, p), now).unwrap())
            .collect();
        table.set_file(from_file, now);
        for last in [4, 3, 2] {
            table.apply(peer(last, 1), now).unwrap();
        }
        let hosts: Vec<String> = table
            .live()
            .iter()
            .map(|e| e.addrs[0].to_string())
            .collect();
        let want: Vec<String> = (1..=5).map(|l| format!("udp://192.0.2.{l}:1")).collect();
        assert_eq!(hosts, want);
        assert_eq!(table.len(), 5);
    }

    #[test]
    fn other_types_are_ignored_and_nonsense_explained() {
        let now = Instant::now();
        let mut table = Table::new(Duration::from_secs(10));
        assert_eq!(
            table.apply(object(json!({"type":"stats"})), now),
            Ok(Change::Nothing)
        );
        assert!(
            table
                .apply(object(json!({"addrs":[]})), now)
                .unwrap_err()
                .contains("type")
        );
        assert!(
            table
                .apply(object(json!({"type":"peer"})), now)
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            table
                .apply(object(json!({"type":"peer","addrs":["x"]})), now)
                .unwrap_err()
                .contains("not an address")
        );
    }
}
