//! Tickets: everything a dialer needs to reach a listener, as one copy-pasteable
//! string or as an NDJSON `ticket` record.
//!
//! The string is `p2pt` followed by the z-base-32 encoding (the alphabet of peer ids:
//! lowercase letters and digits, so a double click selects it whole) of:
//!
//! ```text
//! version (1 byte, = 1) · peer id (32 bytes) · entries…
//! entry = tag (1 byte) · IPv4 (4) or IPv6 (16) · port (2, big-endian)
//! tag   = kind << 1 | is_ipv6;  kind 0 = direct UDP address, 1 = rendezvous, 2 = relay
//! ```
//!
//! A ticket with one IPv4 address is 91 characters. The record form is
//! `{"type":"ticket","id":…,"addrs":["udp://…"],"rendezvous":"udp://…"|null,
//! "relay":"udp://…"|null,"ticket":"p2pt…"}`. A ticket is not signed: the key it
//! names is proven by the QUIC handshake, and the addresses are only hints.

use crate::addr::{Addr, Scheme};
use crate::identity::peer_id::PeerId;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What every ticket string starts with.
pub const PREFIX: &str = "p2pt";
/// The encoding version this code writes and reads.
const VERSION: u8 = 1;
/// The most entries a ticket may hold (a longer string is refused unread).
pub const MAX_ENTRIES: usize = 32;

/// A listener's ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The listener's peer id.
    pub id: PeerId,
    /// Its direct UDP addresses.
    pub addrs: Vec<SocketAddr>,
    /// The rendezvous it is registered at, for a punched path.
    pub rendezvous: Option<SocketAddr>,
    /// The relay it is reachable through.
    pub relay: Option<SocketAddr>,
}

/// The kinds of entries, by tag >> 1.
const DIRECT: u8 = 0;
const RENDEZVOUS: u8 = 1;
const RELAY: u8 = 2;

impl Ticket {
    /// The ticket string.
    pub fn encode(&self) -> String {
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&self.id.to_bytes());
        let entries = self
            .addrs
            .iter()
            .map(|a| (DIRECT, a))
            .chain(self.rendezvous.iter().map(|a| (RENDEZVOUS, a)))
            .chain(self.relay.iter().map(|a| (RELAY, a)));
        for (kind, addr) in entries.take(MAX_ENTRIES) {
            match addr.ip() {
                IpAddr::V4(ip) => {
                    bytes.push(kind << 1);
                    bytes.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    bytes.push(kind << 1 | 1);
                    bytes.extend_from_slice(&ip.octets());
                }
            }
            bytes.extend_from_slice(&addr.port().to_be_bytes());
        }
        format!("{PREFIX}{}", z32::encode(&bytes))
    }

    /// Parses a ticket string, saying what is wrong with a bad one.
    pub fn decode(text: &str) -> Result<Ticket, String> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("a ticket starts with '{PREFIX}'"))?;
        if body.len() > (1 + 32 + MAX_ENTRIES * 19) * 8 / 5 + 2 {
            return Err("the ticket is too long".to_owned());
        }
        let bytes =
            z32::decode(body.as_bytes()).map_err(|_| "the ticket is not z-base-32".to_owned())?;
        let (&version, rest) = bytes.split_first().ok_or("the ticket is empty")?;
        if version != VERSION {
            return Err(format!(
                "ticket version {version} is not known (this is version {VERSION})"
            ));
        }
        let (key, mut rest) = rest
            .split_at_checked(32)
            .ok_or("the ticket ends inside the peer id")?;
        let key: &[u8; 32] = key.try_into().map_err(|_| "bad peer id")?;
        let mut ticket = Ticket {
            id: PeerId::from_bytes(key)?,
            addrs: Vec::new(),
            rendezvous: None,
            relay: None,
        };
        let mut entries = 0;
        while let Some((&tag, tail)) = rest.split_first() {
            entries += 1;
            if entries > MAX_ENTRIES {
                return Err(format!(
                    "the ticket holds more than {MAX_ENTRIES} addresses"
                ));
            }
            let ip_len = if tag & 1 == 1 { 16 } else { 4 };
            let (entry, tail) = tail
                .split_at_checked(ip_len + 2)
                .ok_or("the ticket ends inside an address")?;
            let ip = if let Ok(v4) = <[u8; 4]>::try_from(&entry[..ip_len]) {
                IpAddr::V4(Ipv4Addr::from(v4))
            } else {
                let v6: [u8; 16] = entry[..ip_len].try_into().map_err(|_| "bad address")?;
                IpAddr::V6(Ipv6Addr::from(v6))
            };
            let port = u16::from_be_bytes([entry[ip_len], entry[ip_len + 1]]);
            let addr = SocketAddr::new(ip, port);
            match tag >> 1 {
                DIRECT => ticket.addrs.push(addr),
                RENDEZVOUS => ticket.rendezvous = Some(addr),
                RELAY => ticket.relay = Some(addr),
                other => return Err(format!("the ticket holds an entry of unknown kind {other}")),
            }
            rest = tail;
        }
        Ok(ticket)
    }

    /// The NDJSON `ticket` record (with the string form in `ticket`).
    pub fn to_record(&self) -> Value {
        let udp = |a: &SocketAddr| Addr::from_socket(Scheme::Udp, *a);
        json!({
            "type": "ticket",
            "id": self.id,
            "addrs": self.addrs.iter().map(udp).collect::<Vec<_>>(),
            "rendezvous": self.rendezvous.as_ref().map(udp),
            "relay": self.relay.as_ref().map(udp),
            "ticket": self.encode(),
        })
    }

    /// Reads a `ticket` record; `id` and the addresses are taken from the fields (the
    /// `ticket` string, if present, is not needed).
    pub fn from_record(object: &Map<String, Value>) -> Result<Ticket, String> {
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or("the ticket record has no \"id\"")?
            .parse::<PeerId>()?;
        let addr = |value: &Value| -> Result<SocketAddr, String> {
            let text = value.as_str().ok_or("an address is not a string")?;
            let addr = Addr::parse_with_default(text, Scheme::Udp)?;
            addr.socket_addr()
                .ok_or_else(|| format!("{text} is not an IP address with a port"))
        };
        let optional = |name: &str| -> Result<Option<SocketAddr>, String> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => addr(value)
                    .map(Some)
                    .map_err(|e| format!("\"{name}\": {e}")),
            }
        };
        let addrs = match object.get("addrs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) if list.len() <= MAX_ENTRIES => list
                .iter()
                .map(addr)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("\"addrs\": {e}"))?,
            Some(_) => return Err(format!("\"addrs\" is not a list of at most {MAX_ENTRIES}")),
        };
        Ok(Ticket {
            id,
            addrs,
            rendezvous: optional("rendezvous")?,
            relay: optional("relay")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn sample() -> Ticket {
        Ticket {
            id: Identity::from_seed([4; 32]).id(),
            addrs: vec![
                "192.0.2.1:4000".parse().unwrap(),
                "[2001:db8::1]:4001".parse().unwrap(),
            ],
            rendezvous: Some("203.0.113.1:3478".parse().unwrap()),
            relay: None,
        }
    }

    #[test]
    fn string_and_record_round_trip() {
        let ticket = sample();
        let text = ticket.encode();
        assert!(text.starts_with(PREFIX));
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(Ticket::decode(&text).unwrap(), ticket);
        let record = ticket.to_record();
        assert_eq!(record["addrs"][1], "udp://[2001:db8::1]:4001");
        assert_eq!(
            Ticket::from_record(record.as_object().unwrap()).unwrap(),
            ticket
        );
    }

    #[test]
    fn bad_tickets_say_what_is_wrong() {
        let text = sample().encode();
        assert!(Ticket::decode("hello").unwrap_err().contains("starts with"));
        assert!(Ticket::decode(&text[..30]).unwrap_err().contains("peer id"));
        assert!(
            Ticket::decode(&text[..text.len() - 3])
                .unwrap_err()
                .contains("ends inside")
        );
        assert!(Ticket::decode("p2pt0l").unwrap_err().contains("z-base-32"));
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&sample().id.to_bytes());
        for _ in 0..=MAX_ENTRIES {
            bytes.extend_from_slice(&[0, 192, 0, 2, 1, 0, 80]);
        }
        let crowded = format!("{PREFIX}{}", z32::encode(&bytes));
        assert!(Ticket::decode(&crowded).unwrap_err().contains("more than"));
        let long = format!("{PREFIX}{}", "y".repeat(2000));
        assert!(Ticket::decode(&long).unwrap_err().contains("too long"));
    }
}
