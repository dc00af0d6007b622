//! The responder: one request packet in, one response packet out, as a function of
//! the zone alone, so it can be unit-tested and fuzzed without sockets.
//!
//! Malformed requests get FORMERR, opcodes other than QUERY NOTIMP, names outside the
//! zone (and zone transfers) REFUSED, unknown names NXDOMAIN with the SOA for negative
//! caching, and EDNS versions above 0 BADVERS. Responses that do not fit the client's
//! UDP size (512 bytes, or its EDNS size up to [`MAX_UDP`]) first lose their
//! additional records and then come back empty with TC set, to be asked again over TCP.
//!
//! What one answer costs is bounded by its size: at most as many records are taken
//! as could fit ([`MIN_RECORD`] bytes each), however large the set and `--answers`.
//! `ANY` over UDP gets the minimal answer of RFC 8482 (one synthesized HINFO), so
//! that it cannot be used to amplify; over TCP it gets every record set.
//!
//! A question in mixed case (a resolver's 0x20 randomisation) is answered as its
//! lowercase form, then given back its case in the echoed question: the answer's
//! names point at the question as they do for a lowercase one, so the reply has the
//! same layout and size whatever the case, and the fast path can serve it from the
//! cache of lowercase answers.

use super::zone::{Lookup, Zone};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use std::collections::HashSet;

/// The largest UDP response sent, whatever the client's EDNS size says (the DNS flag
/// day 2020 value, which avoids IP fragmentation).
pub const MAX_UDP: u16 = 1232;
/// The size of a DNS message header.
const HEADER: usize = 12;
/// The fewest bytes a record takes in an answer (an A record with a compressed
/// owner name): no more records than `limit / MIN_RECORD` can fit.
pub const MIN_RECORD: usize = 16;
/// The longest name on the wire.
const NAME_MAX: usize = 255;

/// How the request arrived, which bounds the response's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP stream (responses up to 65535 bytes).
    Tcp,
}

/// A response, with what the statistics count.
#[derive(Debug)]
pub struct Reply {
    /// The response's bytes.
    pub bytes: Vec<u8>,
    /// The question's type, when the request had one question.
    pub qtype: Option<RecordType>,
    /// The response code.
    pub rcode: ResponseCode,
    /// True when the answer did not fit and TC was set.
    pub truncated: bool,
}

/// Answers one request. `None` for packets that get no answer at all: shorter than a
/// header, or themselves responses (answering those could loop between servers).
pub fn answer(zone: &Zone, packet: &[u8], transport: Transport) -> Option<Reply> {
    answer_at(zone, packet, transport, None)
}

/// [`answer`], with a rotating record set answered with the window of `turn` (and
/// the rotation left where it is) when one is given: how the fast path's cache is
/// filled.
pub(super) fn answer_at(
    zone: &Zone,
    packet: &[u8],
    transport: Transport,
    turn: Option<usize>,
) -> Option<Reply> {
    if packet.len() < HEADER || packet[2] & 0x80 != 0 {
        return None;
    }
    if let Some(name_end) = first_name_end(packet)
        && packet[HEADER..name_end].iter().any(u8::is_ascii_uppercase)
    {
        let mut lower = packet.to_vec();
        lower[HEADER..name_end].make_ascii_lowercase();
        let mut reply = answer_lowercase(zone, &lower, transport, turn);
        restore_case(&mut reply.bytes, packet, name_end);
        return Some(reply);
    }
    Some(answer_lowercase(zone, packet, transport, turn))
}

/// Where the first question's name ends in `packet` (past its root label), when it
/// is there, one question is asked, and the name is uncompressed.
pub(super) fn first_name_end(packet: &[u8]) -> Option<usize> {
    if packet.get(4..6)? != [0, 1] {
        return None;
    }
    let mut at = HEADER;
    loop {
        let len = usize::from(*packet.get(at)?);
        // A compression pointer or an extended label type, or past the longest name.
        if len >= 64 || at - HEADER >= NAME_MAX {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            return Some(at);
        }
    }
}

/// Gives the echoed question of `reply` the case of the request's (`request` up to
/// `name_end`), when the reply echoes that name at the same place.
pub(super) fn restore_case(reply: &mut [u8], request: &[u8], name_end: usize) {
    let asked = &request[HEADER..name_end];
    if reply.get(4..6) == Some(&[0, 1])
        && reply
            .get(HEADER..name_end)
            .is_some_and(|echoed| echoed.eq_ignore_ascii_case(asked))
    {
        reply[HEADER..name_end].copy_from_slice(asked);
    }
}

/// [`answer_at`] for a request whose question is not in mixed case.
fn answer_lowercase(
    zone: &Zone,
    packet: &[u8],
    transport: Transport,
    turn: Option<usize>,
) -> Reply {
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let Ok(request) = Message::from_vec(packet) else {
        let op_code = OpCode::from_u8((packet[2] >> 3) & 0x0f);
        return error(id, op_code, ResponseCode::FormErr);
    };
    let mut response = Message::response(id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.queries.clone_from(&request.queries);
    let limit = match (transport, &request.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(edns)) => usize::from(edns.max_payload().clamp(512, MAX_UDP)),
    };
    if let Some(edns) = &request.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(MAX_UDP);
        response.set_edns(ours);
        if edns.version() > 0 {
            return finish(response, None, ResponseCode::BADVERS, limit);
        }
    }
    let qtype = (request.queries.len() == 1).then(|| request.queries[0].query_type());
    let rcode = if request.metadata.op_code != OpCode::Query {
        ResponseCode::NotImp
    } else if request.queries.len() != 1 {
        ResponseCode::FormErr
    } else {
        response.metadata.authoritative = true;
        resolve(zone, &request, &mut response, turn, transport, limit)
    };
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        response.metadata.authoritative = false;
    }
    finish(response, qtype, rcode, limit)
}

/// Fills the answer for the single question of `request`; returns the rcode.
fn resolve(
    zone: &Zone,
    request: &Message,
    response: &mut Message,
    turn: Option<usize>,
    transport: Transport,
    limit: usize,
) -> ResponseCode {
    let query = &request.queries[0];
    let qtype = query.query_type();
    if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY)
        || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
    {
        return ResponseCode::Refused;
    }
    let node = match zone.lookup(query.name()) {
        Lookup::Outside => return ResponseCode::Refused,
        Lookup::NxDomain => {
            response.authorities.push(zone.soa.clone());
            return ResponseCode::NXDomain;
        }
        Lookup::Found(node) => node,
    };
    if qtype == RecordType::ANY && transport == Transport::Udp {
        let hinfo = HINFO::new("RFC8482".to_owned(), String::new());
        response.answers.push(Record::from_rdata(
            query.name().clone(),
            zone.config.ttl,
            RData::HINFO(hinfo),
        ));
        return ResponseCode::NoError;
    }
    let room = limit / MIN_RECORD;
    let mut glued = HashSet::new();
    for (rtype, set) in &node.sets {
        if qtype != RecordType::ANY && qtype != *rtype {
            continue;
        }
        let left = room.saturating_sub(response.answers.len());
        for i in zone.pick(set, turn).take(left) {
            response.answers.extend(zone.record(query.name(), set, i));
            // The glue of one target is the same whichever record names it.
            if let Some(target) = set.target(i)
                && glued.insert(target)
            {
                response.additionals.extend(zone.glue(target));
            }
        }
    }
    if response.answers.is_empty() {
        response.authorities.push(zone.soa.clone());
    }
    ResponseCode::NoError
}

fn error(id: u16, op_code: OpCode, rcode: ResponseCode) -> Reply {
    let message = Message::error_msg(id, op_code, rcode);
    Reply {
        bytes: message.to_vec().unwrap_or_default(),
        qtype: None,
        rcode,
        truncated: false,
    }
}

/// Encodes the response within `limit` bytes: without additional records if they
/// do not fit, and empty with TC if the answer does not.
fn finish(
    mut response: Message,
    qtype: Option<RecordType>,
    rcode: ResponseCode,
    limit: usize,
) -> Reply {
    response.metadata.message_type = MessageType::Response;
    response.metadata.response_code = rcode;
    let fits = |m: &Message| m.to_vec().ok().filter(|b| b.len() <= limit);
    let mut bytes = fits(&response);
    if bytes.is_none() {
        response.additionals.clear();
        bytes = fits(&response);
    }
    let truncated = bytes.is_none();
    let bytes = bytes.unwrap_or_else(|| {
        response.answers.clear();
        response.authorities.clear();
        response.metadata.truncation = true;
        // The echoed questions alone can be too long (a request of many questions
        // gets FORMERR): then the reply goes without them.
        fits(&response).unwrap_or_else(|| {
            response.queries.clear();
            response.to_vec().unwrap_or_default()
        })
    });
    Reply {
        bytes,
        qtype,
        rcode,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::super::zone::Config;
    use super::*;
    use crate::ndjson::peer::PeerRecord;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn zone(peers: usize) -> Zone {
        let records: Vec<(PeerRecord, String)> = (0..peers)
            .map(|i| {
                let addr = format!("udp://10.1.{}.{}:7", i / 200, i % 200);
                let mut record = PeerRecord::new(None, vec![addr.parse().unwrap()]);
                record.topic = Some("t".into());
                let json = serde_json::to_string(&record).unwrap();
                (record, json)
            })
            .collect();
        let origin = Name::from_ascii("z.test.").unwrap();
        let config = Config {
            ns: Name::from_ascii("ns.z.test.").unwrap(),
            origin,
            ttl: 5,
            answers: 4,
        };
        Zone::build(config, records.iter().map(|(r, j)| (r, j.as_str())), 1)
    }

    fn ask(zone: &Zone, name: &str, rtype: RecordType, transport: Transport) -> Message {
        let mut request = Message::query();
        request.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        let reply = answer(zone, &request.to_vec().unwrap(), transport).unwrap();
        Message::from_vec(&reply.bytes).unwrap()
    }

    #[test]
    fn answers_a_window_and_negative_answers_carry_the_soa() {
        let zone = zone(10);
        let a = ask(&zone, "z.test.", RecordType::A, Transport::Udp);
        assert_eq!(a.answers.len(), 4);
        assert!(a.metadata.authoritative);
        let nx = ask(&zone, "nope.z.test.", RecordType::A, Transport::Udp);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
        let out = ask(&zone, "other.test.", RecordType::A, Transport::Udp);
        assert_eq!(out.metadata.response_code, ResponseCode::Refused);
    }

    /// With `--answers 0` (or a window as large as the set) every address comes back,
    /// the order rotating: each answer starts one record further on.
    #[test]
    fn a_whole_set_is_answered_in_rotating_order() {
        let mut all = zone(5);
        all.config.answers = 0;
        let firsts: Vec<_> = (0..5)
            .map(|_| {
                let reply = ask(&all, "z.test.", RecordType::A, Transport::Udp);
                assert_eq!(reply.answers.len(), 5);
                reply.answers[0].data.clone()
            })
            .collect();
        for (i, first) in firsts.iter().enumerate() {
            assert!(!firsts[..i].contains(first), "{firsts:?}");
        }
    }

    #[test]
    fn too_large_for_udp_is_truncated_and_whole_over_tcp() {
        let mut big = zone(100);
        big.config.answers = 0;
        let udp = ask(&big, "t.z.test.", RecordType::A, Transport::Udp);
        assert!(udp.metadata.truncation);
        assert!(udp.answers.is_empty());
        let tcp = ask(&big, "t.z.test.", RecordType::A, Transport::Tcp);
        assert!(!tcp.metadata.truncation);
        assert_eq!(tcp.answers.len(), 100);
    }

    /// Found by the `dns_answer` fuzz target: a request of many long questions got
    /// FORMERR with every question echoed, over 1232 bytes on UDP.
    #[test]
    fn many_questions_still_fit_a_udp_reply() {
        let zone = zone(3);
        let label = "a".repeat(60);
        for edns in [false, true] {
            let mut request = Message::query();
            for i in 0..32 {
                request.add_query(Query::query(
                    Name::from_ascii(format!("q{i}{label}.{label}.z.test.")).unwrap(),
                    RecordType::A,
                ));
            }
            if edns {
                request.set_edns(Edns::new());
            }
            let packet = request.to_vec().unwrap();
            assert!(packet.len() > usize::from(MAX_UDP));
            let reply = answer(&zone, &packet, Transport::Udp).unwrap();
            assert!(reply.bytes.len() <= 512, "{} bytes", reply.bytes.len());
            let decoded = Message::from_vec(&reply.bytes).unwrap();
            assert_eq!(decoded.metadata.response_code, ResponseCode::FormErr);
            assert!(decoded.metadata.truncation);
        }
    }

    /// A small fuzzer: random bytes and mutations of a valid query never panic, and
    /// every reply decodes as a response with the request's id.
    #[test]
    fn arbitrary_bytes_never_panic_and_replies_are_well_formed() {
        let zone = zone(20);
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii("t.z.test.").unwrap(),
            RecordType::SRV,
        ));
        request.set_edns(Edns::new());
        let valid = request.to_vec().unwrap();
        let mut next = super::super::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        for round in 0..20_000 {
            let mut packet = if round % 2 == 0 {
                let len = usize::try_from(next() % 64).unwrap();
                (0..len)
                    .map(|_| next().to_le_bytes()[0])
                    .collect::<Vec<u8>>()
            } else {
                valid.clone()
            };
            for _ in 0..(next() % 4) {
                if packet.is_empty() {
                    break;
                }
                let at = usize::try_from(next()).unwrap() % packet.len();
                packet[at] = next().to_le_bytes()[0];
            }
            for transport in [Transport::Udp, Transport::Tcp] {
                if let Some(reply) = answer(&zone, &packet, transport) {
                    assert!(!reply.bytes.is_empty());
                    assert_eq!(reply.bytes[..2], packet[..2]);
                    assert_eq!(reply.bytes[2] & 0x80, 0x80);
                    if transport == Transport::Udp {
                        assert!(reply.bytes.len() <= usize::from(MAX_UDP));
                    }
                }
            }
        }
    }

    /// Issue 16, item 6: with `--answers 0` every SRV query built all 3,000 records
    /// (256 ms of CPU each). Now an answer takes no more records than can fit.
    #[test]
    fn a_whole_set_costs_what_fits_not_what_the_zone_holds() {
        let mut big = zone(3000);
        big.config.answers = 0;
        let started = std::time::Instant::now();
        for _ in 0..100 {
            let udp = ask(&big, "_p2p._udp.z.test.", RecordType::SRV, Transport::Udp);
            assert!(udp.metadata.truncation);
        }
        let tcp = ask(&big, "_p2p._udp.z.test.", RecordType::SRV, Transport::Tcp);
        assert!(!tcp.answers.is_empty());
        assert!(tcp.answers.len() <= usize::from(u16::MAX) / MIN_RECORD);
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }

    /// Issue 16, item 9: `ANY` over UDP answered every record set (16.9x the query
    /// with EDNS). Now the minimal answer of RFC 8482; TCP still gets them all.
    #[test]
    fn any_over_udp_is_minimal_and_whole_over_tcp() {
        let zone = zone(10);
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii("z.test.").unwrap(),
            RecordType::ANY,
        ));
        request.set_edns(Edns::new());
        let packet = request.to_vec().unwrap();
        let reply = answer(&zone, &packet, Transport::Udp).unwrap();
        assert!(
            reply.bytes.len() < packet.len() * 2,
            "{} bytes",
            reply.bytes.len()
        );
        let decoded = Message::from_vec(&reply.bytes).unwrap();
        assert_eq!(decoded.answers.len(), 1);
        assert_eq!(decoded.answers[0].record_type(), RecordType::HINFO);
        let tcp = ask(&zone, "z.test.", RecordType::ANY, Transport::Tcp);
        assert!(tcp.answers.len() > 3, "{}", tcp.answers.len());
    }
}
