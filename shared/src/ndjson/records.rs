//! The typed records that several tools emit, so each has one shape everywhere:
//! `listening` (the readiness signal of every server), `stats`, `event` and
//! `peer_gone`. Signed `peer` records live in [`crate::ndjson::peer`]. Every record
//! type any tool prints is listed in `docs/ndjson.md`, and a test keeps that list
//! complete.

use crate::addr::Addr;
use crate::ndjson::peer::PeerRecord;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Extra fields of a record beyond its fixed ones, in insertion order.
pub type Fields = Map<String, Value>;

/// `{"type":"listening","addr":…,"addrs":[…],…}`: printed once, first, when a server's
/// sockets are bound and serving, so scripts and tests wait for it instead of
/// guessing ports. `addr` is the main address; `addrs` lists every address the server
/// answers on (its UDP and TCP sockets alike), `addr` first.
#[derive(Debug, Clone)]
pub struct Listening {
    addrs: Vec<Addr>,
    fields: Fields,
}

impl Listening {
    /// A record for a server listening on `main` and the `others`.
    pub fn new(main: Addr, others: impl IntoIterator<Item = Addr>) -> Self {
        let mut addrs = vec![main];
        addrs.extend(others);
        Listening {
            addrs,
            fields: Fields::new(),
        }
    }

    /// Adds a tool-specific field (the node id of a DHT node, a DNS zone, …).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.fields.insert(key.to_owned(), json!(value));
        self
    }

    /// The JSON object.
    pub fn to_value(&self) -> Value {
        let mut object = json!({"type": "listening", "addr": self.addrs[0], "addrs": self.addrs});
        object
            .as_object_mut()
            .expect("an object")
            .extend(self.fields.clone());
        object
    }
}

impl Serialize for Listening {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// `{"type":"stats",…}`: a long-running tool's counters (the fields of `counters`, an
/// object), printed every `--stats-every`.
pub fn stats(counters: Value) -> Value {
    tagged(json!({"type": "stats"}), counters)
}

/// `{"type":"event","event":NAME,…}`: something a server did or saw (a registration,
/// an introduction, a refusal, a path change), with the fields of `details` (an
/// object).
pub fn event(name: &str, details: Value) -> Value {
    tagged(json!({"type": "event", "event": name}), details)
}

/// `{"type":KIND,…}` with the fields of `fields` (an object): for a record type one
/// tool alone prints, built from fields it shares with a typed record.
pub fn typed(kind: &str, fields: Value) -> Value {
    tagged(json!({ "type": kind }), fields)
}

/// `head` followed by the fields of `rest` (when it is an object).
fn tagged(mut head: Value, rest: Value) -> Value {
    if let (Some(map), Value::Object(rest)) = (head.as_object_mut(), rest) {
        map.extend(rest);
    }
    head
}

/// `{"type":"peer_gone",…}`: a peer that left (an mDNS goodbye, an expired entry),
/// with what was known of it: `id`, `addrs`, `topic`, `via`.
pub fn peer_gone(peer: &PeerRecord) -> Value {
    json!({"type": "peer_gone", "id": peer.id, "addrs": peer.addrs, "topic": peer.topic, "via": peer.via})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Scheme;

    #[test]
    fn listening_lists_every_address_with_the_main_one_first() {
        let udp = Addr::from_socket(Scheme::Udp, "127.0.0.1:5".parse().unwrap());
        let tcp = Addr::from_socket(Scheme::Tcp, "127.0.0.1:5".parse().unwrap());
        let record = Listening::new(udp, [tcp]).with("zone", "p2p.test.");
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"type":"listening","addr":"udp://127.0.0.1:5","addrs":["udp://127.0.0.1:5","tcp://127.0.0.1:5"],"zone":"p2p.test."}"#
        );
    }

    #[test]
    fn event_and_stats_keep_their_type_first() {
        let fields = json!({"id": "x"});
        assert_eq!(
            event("registered", fields.clone()).to_string(),
            r#"{"type":"event","event":"registered","id":"x"}"#
        );
        assert_eq!(stats(fields).to_string(), r#"{"type":"stats","id":"x"}"#);
    }
}
