//! The BitTorrent tracker protocols, both directions: HTTP announces (BEP 3) with
//! compact peer lists (BEP 23, and BEP 7's `peers6` for IPv6) and the UDP tracker
//! protocol (BEP 15).
//!
//! One addition travels alongside the standard fields: `p2p`, a signed peer record
//! (JSON) in the announce, returned by the toolbox's tracker as a `p2p` list in the
//! response. Standard trackers and clients ignore keys they don't know.

use crate::codec::bencode::{self, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The UDP tracker protocol's connect magic (BEP 15).
pub const UDP_MAGIC: u64 = 0x0417_2710_1980;

/// A 20-byte infohash or BitTorrent peer id.
pub type Id20 = [u8; 20];

/// The `event` of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular re-announce.
    None,
    /// The first announce.
    Started,
    /// Leaving the swarm.
    Stopped,
    /// Download finished.
    Completed,
}

impl Event {
    fn udp_code(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    fn from_udp_code(code: u32) -> Event {
        match code {
            1 => Event::Completed,
            2 => Event::Started,
            3 => Event::Stopped,
            _ => Event::None,
        }
    }
}

/// An announce: who, for which infohash, on which port, asking for how many peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The swarm.
    pub info_hash: Id20,
    /// The announcing client's BitTorrent peer id.
    pub peer_id: Id20,
    /// Where the client listens; 0 asks for peers without joining (toolbox tracker).
    pub port: u16,
    /// How many peers the client wants.
    pub numwant: u32,
    /// Started, stopped, completed, or a plain re-announce.
    pub event: Event,
    /// Bytes left to download (0: a seeder).
    pub left: u64,
    /// A signed peer record (JSON) to hand to other peers.
    pub record: Option<String>,
}

/// A tracker's answer to an announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Peers with nothing left to download.
    pub complete: u32,
    /// Peers still downloading.
    pub incomplete: u32,
    /// Peer addresses.
    pub peers: Vec<SocketAddr>,
    /// Signed peer records (JSON), when the tracker carries them.
    pub records: Vec<String>,
}

/// Percent-encodes bytes for a URL query (unreserved characters stay as they are).
pub fn url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes a percent-encoded query component (`+` is a space).
pub fn url_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape at {i}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Splits a query string into decoded `(key, value)` pairs.
pub fn parse_query(query: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = String::from_utf8(url_decode(key)?).map_err(|_| "key is not UTF-8")?;
            Ok((key, url_decode(value)?))
        })
        .collect()
}

impl Announce {
    /// The query string of an HTTP announce.
    pub fn to_query(&self) -> String {
        let mut query = format!(
            "info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={}&compact=1&numwant={}",
            url_encode(&self.info_hash),
            url_encode(&self.peer_id),
            self.port,
            self.left,
            self.numwant
        );
        let event = match self.event {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
            Event::Completed => Some("completed"),
        };
        if let Some(event) = event {
            query.push_str("&event=");
            query.push_str(event);
        }
        if let Some(record) = &self.record {
            query.push_str("&p2p=");
            query.push_str(&url_encode(record.as_bytes()));
        }
        query
    }

    /// Reads an HTTP announce's query pairs.
    pub fn from_query(pairs: &[(String, Vec<u8>)]) -> Result<Announce, String> {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_slice())
        };
        let id20 = |key: &str| -> Result<Id20, String> {
            get(key)
                .ok_or_else(|| format!("missing {key}"))?
                .try_into()
                .map_err(|_| format!("{key} must be 20 bytes"))
        };
        let number = |key: &str| -> Result<Option<u64>, String> {
            get(key)
                .map(|v| {
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| format!("{key} is not a number"))
                })
                .transpose()
        };
        let port = number("port")?.ok_or("missing port")?;
        let event = match get("event") {
            Some(b"started") => Event::Started,
            Some(b"stopped") => Event::Stopped,
            Some(b"completed") => Event::Completed,
            _ => Event::None,
        };
        Ok(Announce {
            info_hash: id20("info_hash")?,
            peer_id: id20("peer_id")?,
            port: u16::try_from(port).map_err(|_| "port out of range")?,
            numwant: number("numwant")?.map_or(50, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            event,
            left: number("left")?.unwrap_or(0),
            record: get("p2p").map(|r| String::from_utf8_lossy(r).into_owned()),
        })
    }
}

/// Packs addresses compactly: 6 bytes per IPv4 peer, 18 per IPv6 peer.
pub fn compact(peers: &[SocketAddr], v6: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for peer in peers {
        match (peer.ip(), v6) {
            (IpAddr::V4(ip), false) => out.extend_from_slice(&ip.octets()),
            (IpAddr::V6(ip), true) => out.extend_from_slice(&ip.octets()),
            _ => continue,
        }
        out.extend_from_slice(&peer.port().to_be_bytes());
    }
    out
}

/// Unpacks a compact peer list.
pub fn parse_compact(bytes: &[u8], v6: bool) -> Vec<SocketAddr> {
    let size = if v6 { 18 } else { 6 };
    bytes
        .chunks_exact(size)
        .map(|chunk| {
            let port = u16::from_be_bytes([chunk[size - 2], chunk[size - 1]]);
            let ip = if v6 {
                let octets: [u8; 16] = chunk[..16].try_into().unwrap_or([0; 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            } else {
                IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3]))
            };
            SocketAddr::new(ip, port)
        })
        .collect()
}

fn int(n: impl Into<i64>) -> Value {
    Value::Int(n.into())
}

impl Reply {
    /// The bencoded HTTP response body.
    pub fn to_bencode(&self) -> Vec<u8> {
        let mut map = BTreeMap::new();
        map.insert(b"interval".to_vec(), int(self.interval));
        map.insert(b"min interval".to_vec(), int(self.interval / 2));
        map.insert(b"complete".to_vec(), int(self.complete));
        map.insert(b"incomplete".to_vec(), int(self.incomplete));
        map.insert(b"peers".to_vec(), Value::Bytes(compact(&self.peers, false)));
        map.insert(b"peers6".to_vec(), Value::Bytes(compact(&self.peers, true)));
        if !self.records.is_empty() {
            let records = self.records.iter().map(|r| Value::text(r)).collect();
            map.insert(b"p2p".to_vec(), Value::List(records));
        }
        Value::Dict(map).encode()
    }

    /// Reads a bencoded HTTP response: compact or dictionary peer lists, `peers6`,
    /// and `failure reason`.
    pub fn from_bencode(bytes: &[u8]) -> Result<Reply, String> {
        let value = bencode::decode(bytes).map_err(|e| format!("response is not bencode: {e}"))?;
        if let Some(reason) = value.get("failure reason").and_then(Value::as_bytes) {
            return Err(format!(
                "tracker refused: {}",
                String::from_utf8_lossy(reason)
            ));
        }
        let count = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_int)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0)
        };
        let mut peers = match value.get("peers") {
            Some(Value::Bytes(b)) => parse_compact(b, false),
            Some(Value::List(list)) => list.iter().filter_map(dict_peer).collect(),
            _ => Vec::new(),
        };
        if let Some(Value::Bytes(b)) = value.get("peers6") {
            peers.extend(parse_compact(b, true));
        }
        let records = match value.get("p2p") {
            Some(Value::List(list)) => list
                .iter()
                .filter_map(Value::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect(),
            _ => Vec::new(),
        };
        Ok(Reply {
            interval: count("interval"),
            complete: count("complete"),
            incomplete: count("incomplete"),
            peers,
            records,
        })
    }
}

/// A peer in the non-compact form: `{ip: "…", port: N}`.
fn dict_peer(value: &Value) -> Option<SocketAddr> {
    let ip = std::str::from_utf8(value.get("ip")?.as_bytes()?)
        .ok()?
        .parse()
        .ok()?;
    let port = u16::try_from(value.get("port")?.as_int()?).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// A bencoded HTTP failure response.
pub fn failure(reason: &str) -> Vec<u8> {
    bencode::dict([("failure reason", Value::text(reason))]).encode()
}

/// A UDP tracker request, as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpRequest {
    /// Asks for a connection id.
    Connect {
        /// Transaction id.
        tx: u32,
    },
    /// An announce.
    Announce {
        /// The connection id from a connect.
        conn: u64,
        /// Transaction id.
        tx: u32,
        /// The announce.
        announce: Announce,
    },
    /// A scrape of up to 74 infohashes.
    Scrape {
        /// The connection id from a connect.
        conn: u64,
        /// Transaction id.
        tx: u32,
        /// The infohashes.
        hashes: Vec<Id20>,
    },
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// Reads a UDP tracker request.
pub fn parse_udp_request(b: &[u8]) -> Result<UdpRequest, String> {
    if b.len() < 16 {
        return Err(format!("{} bytes is too short for a request", b.len()));
    }
    let conn = be_u64(b, 0);
    let tx = be_u32(b, 12);
    match be_u32(b, 8) {
        0 if conn == UDP_MAGIC => Ok(UdpRequest::Connect { tx }),
        0 => Err("connect without the protocol magic".to_owned()),
        1 if b.len() >= 98 => {
            let id20 = |at: usize| -> Id20 { b[at..at + 20].try_into().unwrap_or([0; 20]) };
            let numwant = be_u32(b, 92);
            Ok(UdpRequest::Announce {
                conn,
                tx,
                announce: Announce {
                    info_hash: id20(16),
                    peer_id: id20(36),
                    left: be_u64(b, 64),
                    event: Event::from_udp_code(be_u32(b, 80)),
                    numwant: if numwant == u32::MAX { 50 } else { numwant },
                    port: u16::from_be_bytes([b[96], b[97]]),
                    record: None,
                },
            })
        }
        1 => Err(format!("announce of {} bytes (needs 98)", b.len())),
        2 => {
            let hashes = b[16..]
                .chunks_exact(20)
                .take(74)
                .map(|c| c.try_into().unwrap_or([0; 20]))
                .collect();
            Ok(UdpRequest::Scrape { conn, tx, hashes })
        }
        action => Err(format!("unknown action {action}")),
    }
}

/// A connect request.
pub fn udp_connect(tx: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&UDP_MAGIC.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out
}

/// An announce request (98 bytes).
pub fn udp_announce(conn: u64, tx: u32, announce: &Announce, key: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(98);
    out.extend_from_slice(&conn.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(&announce.info_hash);
    out.extend_from_slice(&announce.peer_id);
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&announce.left.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&announce.event.udp_code().to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&key.to_be_bytes());
    out.extend_from_slice(&announce.numwant.to_be_bytes());
    out.extend_from_slice(&announce.port.to_be_bytes());
    out
}

/// The server's answer to a connect.
pub fn udp_connect_reply(tx: u32, conn: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(&conn.to_be_bytes());
    out
}

/// The server's answer to an announce; peers of the requester's address family.
pub fn udp_announce_reply(tx: u32, reply: &Reply, v6: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(&reply.interval.to_be_bytes());
    out.extend_from_slice(&reply.incomplete.to_be_bytes());
    out.extend_from_slice(&reply.complete.to_be_bytes());
    out.extend_from_slice(&compact(&reply.peers, v6));
    out
}

/// The server's answer to a scrape: (seeders, completed, leechers) per hash.
pub fn udp_scrape_reply(tx: u32, counts: &[(u32, u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    for (seeders, completed, leechers) in counts {
        for n in [seeders, completed, leechers] {
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out
}

/// An error answer.
pub fn udp_error(tx: u32, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&3u32.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(message.as_bytes());
    out
}

/// What a UDP tracker answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpReply {
    /// A connection id.
    Connected(u64),
    /// Peers.
    Announced(Reply),
    /// An error message.
    Error(String),
}

/// Reads a UDP tracker response to transaction `tx`; `None` if it belongs to
/// another transaction or is malformed.
pub fn parse_udp_reply(b: &[u8], tx: u32, v6: bool) -> Option<UdpReply> {
    if b.len() < 8 || be_u32(b, 4) != tx {
        return None;
    }
    match be_u32(b, 0) {
        0 if b.len() >= 16 => Some(UdpReply::Connected(be_u64(b, 8))),
        1 if b.len() >= 20 => Some(UdpReply::Announced(Reply {
            interval: be_u32(b, 8),
            incomplete: be_u32(b, 12),
            complete: be_u32(b, 16),
            peers: parse_compact(&b[20..], v6),
            records: Vec::new(),
        })),
        3 => Some(UdpReply::Error(
            String::from_utf8_lossy(&b[8..]).into_owned(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce() -> Announce {
        Announce {
            info_hash: [0xab; 20],
            peer_id: *b"-P2P010-abcdefghijkl",
            port: 6881,
            numwant: 30,
            event: Event::Started,
            left: 0,
            record: Some("{\"type\":\"peer\"}".to_owned()),
        }
    }

    #[test]
    fn http_announce_round_trips_through_the_query_string() {
        let query = announce().to_query();
        assert!(query.contains("info_hash=%AB%AB"), "{query}");
        let back = Announce::from_query(&parse_query(&query).unwrap()).unwrap();
        assert_eq!(back, announce());
    }

    #[test]
    fn reply_round_trips_with_v4_and_v6_peers_and_records() {
        let reply = Reply {
            interval: 60,
            complete: 2,
            incomplete: 1,
            peers: vec![
                "192.0.2.1:6881".parse().unwrap(),
                "[2001:db8::1]:7000".parse().unwrap(),
            ],
            records: vec!["{}".to_owned()],
        };
        assert_eq!(Reply::from_bencode(&reply.to_bencode()), Ok(reply));
        let refused = Reply::from_bencode(&failure("rate limited")).unwrap_err();
        assert!(refused.contains("rate limited"));
    }

    #[test]
    fn dictionary_peer_lists_are_read_too() {
        let body = b"d8:intervali30e5:peersld2:ip9:192.0.2.54:porti80eeee";
        let reply = Reply::from_bencode(body).unwrap();
        assert_eq!(reply.peers, vec!["192.0.2.5:80".parse().unwrap()]);
    }

    #[test]
    fn udp_announce_round_trips() {
        let mut expected = announce();
        expected.record = None;
        let packet = udp_announce(7, 9, &expected, 1);
        assert_eq!(packet.len(), 98);
        assert_eq!(
            parse_udp_request(&packet),
            Ok(UdpRequest::Announce {
                conn: 7,
                tx: 9,
                announce: expected
            })
        );
        assert_eq!(
            parse_udp_request(&udp_connect(5)),
            Ok(UdpRequest::Connect { tx: 5 })
        );
        assert!(parse_udp_request(&[0; 10]).is_err());
        let reply = Reply {
            interval: 10,
            peers: vec!["192.0.2.9:1".parse().unwrap()],
            ..Reply::default()
        };
        assert_eq!(
            parse_udp_reply(&udp_announce_reply(4, &reply, false), 4, false),
            Some(UdpReply::Announced(reply))
        );
        assert_eq!(parse_udp_reply(&udp_connect_reply(4, 77), 5, false), None);
    }
}
