//! Neighbours named on the command line (`--peer ID@ADDR`, or a `peer` record) or
//! on stdin (`peer` records, e.g. from `p2p-discover --watch`), and this node's own
//! addresses.
//!
//! QUIC here proves the peer's key during the handshake, so a neighbour must be
//! named by its id as well as an address: an address alone cannot be dialled.

use p2p_shared::addr::{Addr, Host, Scheme};
use p2p_shared::gossip::PeerInfo;
use p2p_shared::gossip::net::dialable;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use serde_json::{Map, Value};
use std::net::{IpAddr, SocketAddr};

/// Parses a `--peer` value: `ID@HOST:PORT`, `ID@udp://HOST:PORT`, or a `peer` record.
pub fn parse_arg(text: &str, topic: &str) -> Result<PeerInfo, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("'{text}': not JSON: {e}"))?;
        let Value::Object(object) = value else {
            return Err(format!("'{text}' is not a JSON object"));
        };
        return from_record(object, topic)?.ok_or_else(|| format!("'{text}' is for another topic"));
    }
    let Some((id, addr)) = text.split_once('@') else {
        return Err(if text.parse::<PeerId>().is_ok() {
            format!("'{text}' has no address: write ID@HOST:PORT")
        } else {
            format!(
                "'{text}' does not name the peer: QUIC checks the peer's key, so write ID@HOST:PORT"
            )
        });
    };
    let id: PeerId = id.parse()?;
    let addr = Addr::parse_with_default(addr, Scheme::Udp)?;
    dialable(&addr).ok_or_else(|| format!("'{addr}' is not a UDP address with an IP"))?;
    Ok(PeerInfo {
        id,
        addrs: vec![addr],
    })
}

/// Reads a `peer` record: `Ok(None)` when it is for another topic, an error when it
/// cannot be used (no id, no UDP address, a signature that does not verify).
pub fn from_record(object: Map<String, Value>, topic: &str) -> Result<Option<PeerInfo>, String> {
    let record = PeerRecord::from_object(object)?;
    if record.topic.as_deref().is_some_and(|t| t != topic) {
        return Ok(None);
    }
    if record.is_signed() {
        record
            .verify()
            .map_err(|e| format!("peer record refused: {e}"))?;
    }
    let id = record
        .id
        .ok_or("a peer record without an id cannot be dialled (QUIC checks the peer's key)")?;
    let addrs: Vec<Addr> = record
        .addrs
        .into_iter()
        .filter(|a| dialable(a).is_some())
        .collect();
    if addrs.is_empty() {
        return Err(format!("peer {id} has no udp:// address with an IP"));
    }
    Ok(Some(PeerInfo { id, addrs }))
}

/// The addresses this node tells others about: the bound one, or for a wildcard
/// bind every interface's address with the bound port.
pub fn own_addrs(bound: SocketAddr) -> Vec<Addr> {
    if !bound.ip().is_unspecified() {
        return vec![Addr::from_socket(Scheme::Udp, bound)];
    }
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        .collect();
    // Loopback last: reachable only from this host.
    ips.sort_by_key(IpAddr::is_loopback);
    ips.dedup();
    ips.into_iter()
        .take(p2p_shared::gossip::frame::MAX_ADDRS)
        .map(|ip| Addr {
            scheme: Scheme::Udp,
            host: Host::Ip(ip),
            port: bound.port(),
            path: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::identity::Identity;

    #[test]
    fn peer_arguments_need_an_id_and_an_address() {
        let id = Identity::from_seed([1; 32]).id();
        let peer = parse_arg(&format!("{id}@127.0.0.1:7000"), "t").unwrap();
        assert_eq!(peer.id, id);
        assert_eq!(peer.addrs[0].to_string(), "udp://127.0.0.1:7000");
        let same = parse_arg(&format!("{id}@udp://127.0.0.1:7000"), "t").unwrap();
        assert_eq!(same, peer);
        assert!(
            parse_arg(&id.to_string(), "t")
                .unwrap_err()
                .contains("no address")
        );
        assert!(
            parse_arg("127.0.0.1:7000", "t")
                .unwrap_err()
                .contains("ID@HOST:PORT")
        );
        let record =
            format!(r#"{{"type":"peer","id":"{id}","addrs":["udp://127.0.0.1:1"],"topic":"t"}}"#);
        assert_eq!(parse_arg(&record, "t").unwrap().id, id);
        assert!(
            parse_arg(&record, "u")
                .unwrap_err()
                .contains("another topic")
        );
    }

    #[test]
    fn a_forged_record_is_refused() {
        let me = Identity::from_seed([2; 32]);
        let addrs = vec!["udp://127.0.0.1:9".parse().unwrap()];
        let mut record = PeerRecord::signed(&me, addrs, Some("t".into())).unwrap();
        assert!(from_record(record.to_object(), "t").unwrap().is_some());
        record.addrs = vec!["udp://127.0.0.1:10".parse().unwrap()];
        assert!(
            from_record(record.to_object(), "t")
                .unwrap_err()
                .contains("refused")
        );
    }
}
