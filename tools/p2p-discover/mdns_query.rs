//! A one-shot mDNS query (RFC 6762 section 5.1) beside the `mdns-sd` browser.
//!
//! `mdns-sd` browses with QM queries from port 5353, so answers come back by
//! multicast: delayed 10-50 ms as shared records, and at most once a second per
//! record and interface (section 6), so a browser that starts soon after another
//! waits about a second. The crate sets no QU bit and has no option for it. A query
//! sent from an ephemeral port instead must be answered at once by unicast to that
//! port (section 6.7), by every responder, free of the multicast rate limit. One
//! such query per interface at start finds the peers already there; the browser
//! goes on finding the ones that come later and the ones that leave.

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// The mDNS IPv4 group and port.
const GROUP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)), 5353);

/// One service instance as an answer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `INSTANCE._p2p._udp.local.`, lowercase.
    pub fullname: String,
    /// The SRV port.
    pub port: u16,
    /// The TXT `key=value` properties.
    pub props: HashMap<String, String>,
    /// The SRV target's addresses.
    pub ips: BTreeSet<IpAddr>,
}

/// The query for `service`, with a fresh random id.
pub fn query(service: &str) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(service).map_err(|e| e.to_string())?;
    let mut message = Message::query();
    message.metadata.id =
        u16::from_be_bytes(p2p_shared::random::bytes::<2>().map_err(|e| e.to_string())?);
    message.add_query(Query::query(name, RecordType::PTR));
    message.to_vec().map_err(|e| e.to_string())
}

/// The instances of `service` a response describes completely (PTR, SRV, TXT and
/// at least one address), from its answer and additional sections.
pub fn instances(response: &[u8], service: &str) -> Vec<Instance> {
    let Ok(message) = Message::from_vec(response) else {
        return Vec::new();
    };
    let Ok(service) = Name::from_ascii(service) else {
        return Vec::new();
    };
    if message.metadata.message_type != MessageType::Response {
        return Vec::new();
    }
    let records: Vec<_> = message.answers.iter().chain(&message.additionals).collect();
    let mut found = Vec::new();
    for record in &records {
        let RData::PTR(ptr) = &record.data else {
            continue;
        };
        if !record.name.eq_ignore_root(&service) {
            continue;
        }
        let instance = &ptr.0;
        let srv = records.iter().find_map(|r| match &r.data {
            RData::SRV(srv) if r.name.eq_ignore_root(instance) => Some(srv),
            _ => None,
        });
        let txt = records.iter().find_map(|r| match &r.data {
            RData::TXT(txt) if r.name.eq_ignore_root(instance) => Some(txt),
            _ => None,
        });
        let (Some(srv), Some(txt)) = (srv, txt) else {
            continue;
        };
        let ips: BTreeSet<IpAddr> = records
            .iter()
            .filter(|r| r.name.eq_ignore_root(&srv.target))
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            continue;
        }
        let props = txt
            .txt_data
            .iter()
            .filter_map(|s| {
                let text = std::str::from_utf8(s).ok()?;
                let (key, value) = text.split_once('=').unwrap_or((text, ""));
                Some((key.to_owned(), value.to_owned()))
            })
            .collect();
        found.push(Instance {
            fullname: instance.to_ascii().to_ascii_lowercase(),
            port: srv.port,
            props,
            ips,
        });
    }
    found
}

/// A socket on an ephemeral port that has sent `packet` to the mDNS group once on
/// each of `sources` (IPv4 interface addresses).
pub fn send(packet: &[u8], sources: &[Ipv4Addr]) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    // Section 11: mDNS packets carry an IP TTL of 255.
    socket.set_multicast_ttl_v4(255)?;
    let sock = socket2::SockRef::from(&socket);
    for source in sources {
        sock.set_multicast_if_v4(source)?;
        socket.send_to(packet, GROUP)?;
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, PTR, SRV, TXT};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn response(with_address: bool) -> Vec<u8> {
        let instance = name("Peer1._p2p._udp.local.");
        let mut message = Message::response(7, hickory_proto::op::OpCode::Query);
        message.add_answer(Record::from_rdata(
            name("_p2p._udp.local."),
            10,
            RData::PTR(PTR(instance.clone())),
        ));
        message.add_additional(Record::from_rdata(
            instance.clone(),
            10,
            RData::SRV(SRV::new(0, 0, 4000, name("p2p-host.local."))),
        ));
        message.add_additional(Record::from_rdata(
            instance,
            10,
            RData::TXT(TXT::new(vec!["topic=lan".into(), "flag".into()])),
        ));
        if with_address {
            message.add_additional(Record::from_rdata(
                name("P2P-HOST.local."),
                10,
                RData::A(A::new(192, 0, 2, 1)),
            ));
        }
        message.to_vec().unwrap()
    }

    #[test]
    fn a_complete_answer_is_an_instance() {
        let found = instances(&response(true), "_p2p._udp.local.");
        assert_eq!(found.len(), 1);
        let instance = &found[0];
        assert_eq!(instance.fullname, "peer1._p2p._udp.local.");
        assert_eq!(instance.port, 4000);
        assert_eq!(instance.props["topic"], "lan");
        assert_eq!(instance.props["flag"], "");
        assert_eq!(
            instance.ips,
            BTreeSet::from(["192.0.2.1".parse::<IpAddr>().unwrap()])
        );
    }

    #[test]
    fn incomplete_foreign_and_malformed_answers_are_skipped() {
        assert!(instances(&response(false), "_p2p._udp.local.").is_empty());
        assert!(instances(&response(true), "_other._udp.local.").is_empty());
        assert!(instances(b"\x00\x07garbage", "_p2p._udp.local.").is_empty());
        let asked = query("_p2p._udp.local.").unwrap();
        assert!(
            instances(&asked, "_p2p._udp.local.").is_empty(),
            "a query is not an answer"
        );
    }
}
