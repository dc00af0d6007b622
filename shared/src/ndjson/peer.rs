//! The `peer` record, the toolbox's unit of exchange, and the signed peer record.
//!
//! `{"type":"peer","id":"<peer-id>","addrs":["udp://…"],"topic":"…","via":"mdns"}`;
//! `id` is absent where the mechanism does not know it, and `foreign_id` holds an id
//! the toolbox cannot verify (a libp2p `Qm…` id, say) as it was given. A signed peer record adds
//! `seq` (unix milliseconds, so newer records win) and `sig` (see [`crate::identity::signing`]).

use crate::addr::Addr;
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::identity::signing::{self, VerifyError};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// A peer: who (if known), where, for what topic, and how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// Always `peer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The peer's id, when the mechanism knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<PeerId>,
    /// An id given for the peer that is not a toolbox peer id and names no ed25519
    /// key (a libp2p `Qm…` id, say), kept as given; nothing here can verify it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_id: Option<String>,
    /// Where to reach it.
    #[serde(default)]
    pub addrs: Vec<Addr>,
    /// The topic it was found for or announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// How it was found: `mdns`, `dht`, `tracker`, `bootstrap`, `dns`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Sequence number of a signed record (unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Signature by `id` (hex), for a signed record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// Fields this version does not know, kept so signatures still verify.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PeerRecord {
    /// An unsigned record.
    pub fn new(id: Option<PeerId>, addrs: Vec<Addr>) -> Self {
        PeerRecord {
            kind: "peer".to_owned(),
            id,
            foreign_id: None,
            addrs,
            topic: None,
            via: None,
            seq: None,
            sig: None,
            extra: Map::new(),
        }
    }

    /// A record for `identity`, signed by it, with `seq` = now in unix milliseconds.
    pub fn signed(identity: &Identity, addrs: Vec<Addr>, topic: Option<String>) -> Result<Self> {
        let mut record = PeerRecord::new(Some(identity.id()), addrs);
        record.topic = topic;
        record.seq = Some(now_millis());
        record.sign(identity)?;
        Ok(record)
    }

    /// Signs the record (its `id` must be `identity`'s).
    pub fn sign(&mut self, identity: &Identity) -> Result<()> {
        if self.id != Some(identity.id()) {
            return Err(Error::usage(
                "a peer record can only be signed by the peer it names",
            ));
        }
        let mut object = self.to_object();
        signing::sign(&mut object, identity)?;
        self.sig = object
            .get(signing::SIG)
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(())
    }

    /// Checks the signature; returns the signer. Unsigned records are an error.
    pub fn verify(&self) -> Result<PeerId, VerifyError> {
        signing::verify(&self.to_object())
    }

    /// True when the record carries a signature.
    pub fn is_signed(&self) -> bool {
        self.sig.is_some()
    }

    /// The record as a JSON object.
    pub fn to_object(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("a peer record always serializes to an object"),
        }
    }

    /// Reads a `peer` record from a JSON object.
    pub fn from_object(object: Map<String, Value>) -> Result<Self, String> {
        match object.get("type").and_then(Value::as_str) {
            Some("peer") => {}
            Some(other) => return Err(format!("a record of type '{other}', not a peer")),
            None => return Err("no \"type\" field".to_owned()),
        }
        serde_json::from_value(Value::Object(object)).map_err(|e| format!("bad peer record: {e}"))
    }
}

/// Now, in unix milliseconds.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signed_record_verifies_and_survives_json() {
        let me = Identity::from_seed([4; 32]);
        let addrs = vec!["udp://192.0.2.7:4000".parse().unwrap()];
        let record = PeerRecord::signed(&me, addrs, Some("chat".into())).unwrap();
        assert_eq!(record.verify(), Ok(me.id()));
        let text = serde_json::to_string(&record).unwrap();
        let Value::Object(back) = serde_json::from_str(&text).unwrap() else {
            panic!()
        };
        let mut back = PeerRecord::from_object(back).unwrap();
        back.via = Some("dht".into());
        assert_eq!(back.verify(), Ok(me.id()));
    }

    #[test]
    fn a_forged_record_fails() {
        let me = Identity::from_seed([4; 32]);
        let mut record = PeerRecord::signed(&me, vec![], None).unwrap();
        record.addrs.push("udp://203.0.113.9:1".parse().unwrap());
        assert!(matches!(record.verify(), Err(VerifyError::Mismatch(_))));
    }

    #[test]
    fn unknown_fields_are_kept() {
        let Value::Object(obj) = json!({"type": "peer", "addrs": [], "rtt_ms": 3}) else {
            panic!()
        };
        let record = PeerRecord::from_object(obj).unwrap();
        assert_eq!(record.extra.get("rtt_ms"), Some(&json!(3)));
        let Value::Object(wrong) = json!({"type": "stats"}) else {
            panic!()
        };
        assert!(
            PeerRecord::from_object(wrong)
                .unwrap_err()
                .contains("'stats'")
        );
    }
}
