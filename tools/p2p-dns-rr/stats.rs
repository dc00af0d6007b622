//! Query counters for `--stats-every`: each server thread counts into its own shard
//! (no cache line shared between threads on the fast path); a `stats` record sums them.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use p2p_shared::discovery::dns_server::respond::Transport;
use p2p_shared::ndjson::records;
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Query types counted by name; the rest count as `other`.
const TYPES: [(RecordType, &str); 7] = [
    (RecordType::A, "A"),
    (RecordType::AAAA, "AAAA"),
    (RecordType::SRV, "SRV"),
    (RecordType::TXT, "TXT"),
    (RecordType::SOA, "SOA"),
    (RecordType::NS, "NS"),
    (RecordType::ANY, "ANY"),
];
/// Response codes counted by name; the rest count as `other`.
const RCODES: [(ResponseCode, &str); 6] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::Refused, "REFUSED"),
];

/// One thread's counters, padded to its own cache lines.
#[repr(align(128))]
#[derive(Default)]
pub struct Shard {
    by_type: [AtomicU64; TYPES.len() + 1],
    by_rcode: [AtomicU64; RCODES.len() + 1],
    udp: AtomicU64,
    tcp: AtomicU64,
    truncated: AtomicU64,
    dropped: AtomicU64,
    rate_limited: AtomicU64,
    slipped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Shard {
    /// Counts one packet: its question type, response code and truncation, or
    /// `None` when it got no answer.
    pub fn record(
        &self,
        reply: Option<(Option<RecordType>, ResponseCode, bool)>,
        transport: Transport,
    ) {
        bump(match transport {
            Transport::Udp => &self.udp,
            Transport::Tcp => &self.tcp,
        });
        let Some((qtype, rcode, truncated)) = reply else {
            bump(&self.dropped);
            return;
        };
        let t = qtype
            .and_then(|q| TYPES.iter().position(|(t, _)| *t == q))
            .unwrap_or(TYPES.len());
        bump(&self.by_type[t]);
        let r = RCODES
            .iter()
            .position(|(r, _)| *r == rcode)
            .unwrap_or(RCODES.len());
        bump(&self.by_rcode[r]);
        if truncated {
            bump(&self.truncated);
        }
    }
}

impl Shard {
    /// Counts one UDP query whose answer the rate limit withheld: dropped, or
    /// `slipped` as an empty truncated reply.
    pub fn limited(&self, slipped: bool) {
        bump(&self.udp);
        bump(&self.rate_limited);
        if slipped {
            bump(&self.slipped);
        }
    }
}

/// All threads' counters.
#[derive(Default)]
pub struct Counters {
    shards: Mutex<Vec<Arc<Shard>>>,
}

impl Counters {
    /// A new shard for one thread.
    pub fn shard(&self) -> Arc<Shard> {
        let shard = Arc::new(Shard::default());
        self.shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&shard));
        shard
    }

    /// The `stats` record: totals since the start, and the live peer count.
    pub fn record(&self, peers: usize) -> Value {
        let shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
        let sum = |f: &dyn Fn(&Shard) -> &AtomicU64| -> u64 {
            shards.iter().map(|s| f(s).load(Ordering::Relaxed)).sum()
        };
        let named = |names: &mut dyn Iterator<Item = &str>,
                     f: &dyn Fn(&Shard, usize) -> &AtomicU64| {
            let mut map = Map::new();
            for (i, name) in names.chain(std::iter::once("other")).enumerate() {
                let n: u64 = shards.iter().map(|s| f(s, i).load(Ordering::Relaxed)).sum();
                if n > 0 {
                    map.insert(name.to_owned(), json!(n));
                }
            }
            Value::Object(map)
        };
        let udp = sum(&|s| &s.udp);
        let tcp = sum(&|s| &s.tcp);
        records::stats(json!({
            "queries": udp + tcp,
            "udp": udp,
            "tcp": tcp,
            "truncated": sum(&|s| &s.truncated),
            "dropped": sum(&|s| &s.dropped),
            "rate_limited": sum(&|s| &s.rate_limited),
            "slipped": sum(&|s| &s.slipped),
            "by_type": named(&mut TYPES.iter().map(|(_, n)| *n), &|s, i| &s.by_type[i]),
            "by_rcode": named(&mut RCODES.iter().map(|(_, n)| *n), &|s, i| &s.by_rcode[i]),
            "peers": peers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_add_up_by_type_and_rcode() {
        let counters = Counters::default();
        let (a, b) = (counters.shard(), counters.shard());
        a.record(
            Some((Some(RecordType::A), ResponseCode::NoError, false)),
            Transport::Udp,
        );
        b.record(
            Some((Some(RecordType::A), ResponseCode::NXDomain, true)),
            Transport::Udp,
        );
        b.record(
            Some((Some(RecordType::MX), ResponseCode::BADVERS, false)),
            Transport::Tcp,
        );
        b.record(None, Transport::Udp);
        a.limited(true);
        b.limited(false);
        let got = counters.record(7);
        assert_eq!(got["queries"], 6);
        assert_eq!(got["rate_limited"], 2);
        assert_eq!(got["slipped"], 1);
        assert_eq!(got["tcp"], 1);
        assert_eq!(got["truncated"], 1);
        assert_eq!(got["dropped"], 1);
        assert_eq!(got["by_type"], json!({"A": 2, "other": 1}));
        assert_eq!(
            got["by_rcode"],
            json!({"NOERROR": 1, "NXDOMAIN": 1, "other": 1})
        );
        assert_eq!(got["peers"], 7);
    }
}
