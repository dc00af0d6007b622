//! A peer's candidate record: everything the other side needs to punch to it.
//!
//! `{"type":"candidate","id":…,"local":["udp://…"],"observed":"udp://…",
//! "mapping":"endpoint-independent","ports":[…],"nonce":…,"signer":…,"sig":…}`,
//! signed by the peer (see [`crate::identity::signing`]), so whatever carries it (a rendezvous,
//! a chat message, `--signal stdio`) cannot alter it unnoticed.

use crate::addr::{Addr, Scheme};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Result, identity::signing};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// How a NAT maps one internal address to public ones (RFC 4787 / RFC 5780 terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Not behind a NAT (or a NAT that keeps address and port).
    None,
    /// The same public address whatever the destination (a "cone").
    EndpointIndependent,
    /// A new mapping per destination address.
    AddressDependent,
    /// A new mapping per destination address and port ("symmetric").
    AddressAndPortDependent,
    /// Differs per destination, but the test could not tell which of the two.
    EndpointDependent,
    /// Not measured.
    Unknown,
}

impl Behaviour {
    /// The name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::None => "none",
            Behaviour::EndpointIndependent => "endpoint-independent",
            Behaviour::AddressDependent => "address-dependent",
            Behaviour::AddressAndPortDependent => "address-and-port-dependent",
            Behaviour::EndpointDependent => "endpoint-dependent",
            Behaviour::Unknown => "unknown",
        }
    }

    /// Parses a name written by [`Behaviour::as_str`].
    pub fn parse(text: &str) -> Option<Behaviour> {
        [
            Behaviour::None,
            Behaviour::EndpointIndependent,
            Behaviour::AddressDependent,
            Behaviour::AddressAndPortDependent,
            Behaviour::EndpointDependent,
            Behaviour::Unknown,
        ]
        .into_iter()
        .find(|b| b.as_str() == text)
    }

    /// True for mappings that change per destination: the "hard" side of a punch.
    pub fn is_dependent(self) -> bool {
        matches!(
            self,
            Behaviour::AddressDependent
                | Behaviour::AddressAndPortDependent
                | Behaviour::EndpointDependent
        )
    }
}

/// One side's candidates for a punch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Who.
    pub id: PeerId,
    /// The socket's own addresses (reachable on the same network).
    pub local: Vec<SocketAddr>,
    /// The public address a server saw.
    pub observed: Option<SocketAddr>,
    /// The NAT's mapping behaviour, as far as measured.
    pub mapping: Behaviour,
    /// The public ports seen by successive servers, in order (for port prediction).
    pub ports: Vec<u16>,
    /// A fresh random value per attempt (ties a `--signal stdio` session together).
    pub nonce: [u8; 16],
}

impl Candidate {
    /// The candidate as a signed `candidate` record.
    pub fn to_record(&self, identity: &Identity) -> Result<Map<String, Value>> {
        let addr = |a: &SocketAddr| Addr::from_socket(Scheme::Udp, *a).to_string();
        let mut record = json!({
            "type": "candidate",
            "id": self.id,
            "local": self.local.iter().map(addr).collect::<Vec<_>>(),
            "observed": self.observed.as_ref().map(addr),
            "mapping": self.mapping.as_str(),
            "ports": self.ports,
            "nonce": hex::encode(self.nonce),
        });
        let Value::Object(object) = &mut record else {
            unreachable!("json! of an object is an object")
        };
        let mut object = std::mem::take(object);
        signing::sign_as_signer(&mut object, identity)?;
        Ok(object)
    }

    /// Reads a signed `candidate` record; the signature must be valid and by `id`.
    pub fn from_record(object: &Map<String, Value>) -> Result<Candidate, String> {
        match object.get("type").and_then(Value::as_str) {
            Some("candidate") => {}
            Some(other) => return Err(format!("a record of type '{other}', not a candidate")),
            None => return Err("no \"type\" field".to_owned()),
        }
        let id: PeerId = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or("no id")?
            .parse()?;
        signing::verify_by(object, Some(&id)).map_err(|e| format!("candidate: {e}"))?;
        let socket = |v: &Value| -> Result<SocketAddr, String> {
            let text = v.as_str().ok_or("an address is not a string")?;
            let addr: Addr = text.parse()?;
            addr.socket_addr()
                .ok_or_else(|| format!("{text} is not an IP address"))
        };
        let local = match object.get("local") {
            Some(Value::Array(items)) => items.iter().map(socket).collect::<Result<_, _>>()?,
            None => Vec::new(),
            Some(_) => return Err("local is not an array".to_owned()),
        };
        let observed = match object.get("observed") {
            None | Some(Value::Null) => None,
            Some(v) => Some(socket(v)?),
        };
        let mapping = object
            .get("mapping")
            .and_then(Value::as_str)
            .map_or(Some(Behaviour::Unknown), Behaviour::parse)
            .ok_or("unknown mapping behaviour")?;
        let ports = match object.get("ports") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| {
                    p.as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or("a port is not 0-65535")
                })
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let nonce = object
            .get("nonce")
            .and_then(Value::as_str)
            .and_then(|t| hex::decode(t).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or("nonce is not 32 hex digits")?;
        Ok(Candidate {
            id,
            local,
            observed,
            mapping,
            ports,
            nonce,
        })
    }
}

/// The session id two sides derive from their candidates when no rendezvous hands
/// them one: SHA-256 over both nonces in sorted order, first 16 bytes.
pub fn session_from(a: &Candidate, b: &Candidate) -> [u8; 16] {
    let (lo, hi) = if a.nonce <= b.nonce {
        (a.nonce, b.nonce)
    } else {
        (b.nonce, a.nonce)
    };
    let mut hash = Sha256::new();
    hash.update(b"p2p-punch session v1\0");
    hash.update(lo);
    hash.update(hi);
    let digest = hash.finalize();
    let mut session = [0u8; 16];
    session.copy_from_slice(&digest[..16]);
    session
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(identity: &Identity) -> Candidate {
        Candidate {
            id: identity.id(),
            local: vec!["192.0.2.2:4000".parse().unwrap()],
            observed: Some("198.51.100.10:4000".parse().unwrap()),
            mapping: Behaviour::EndpointIndependent,
            ports: vec![4000, 4000],
            nonce: [5; 16],
        }
    }

    #[test]
    fn a_candidate_round_trips_and_tampering_is_caught() {
        let me = Identity::from_seed([3; 32]);
        let candidate = sample(&me);
        let mut record = candidate.to_record(&me).unwrap();
        assert_eq!(Candidate::from_record(&record), Ok(candidate));
        record.insert("observed".into(), "udp://203.0.113.66:1".into());
        assert!(
            Candidate::from_record(&record)
                .unwrap_err()
                .contains("does not match")
        );
    }

    #[test]
    fn both_sides_derive_the_same_session() {
        let a = sample(&Identity::from_seed([3; 32]));
        let mut b = sample(&Identity::from_seed([4; 32]));
        b.nonce = [6; 16];
        assert_eq!(session_from(&a, &b), session_from(&b, &a));
        b.nonce = [7; 16];
        assert_ne!(session_from(&a, &b), session_from(&b, &a).map(|x| x ^ 1));
    }
}
