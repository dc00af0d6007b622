//! DNS as a source of peers: ask any DNS server a question (over UDP, retried over
//! TCP when the answer comes back truncated) and turn its answers into `peer` records.
//!
//! The conversion follows the names `p2p-dns-rr serve` answers, and works on any
//! server that publishes the same shapes:
//!
//! - A/AAAA: one peer per address, `udp://IP:PORT` with a port the caller supplies
//!   (address records carry none). When the owner name's first label is a peer id
//!   (`PEER_ID.ZONE`), the addresses are grouped into one peer with that id.
//! - SRV (`_p2p._udp.ZONE`, `_p2p._tcp.ZONE`): one peer per target, with the target's
//!   addresses from the additional section (or the target name itself when the server
//!   sent none), the SRV port, and `udp`/`tcp` from the owner's protocol label. A
//!   target whose first label is a peer id gives the peer its id.
//! - TXT: a JSON `peer` object (split over several character-strings when longer than
//!   255 bytes) is that record, verified when signed; `id=PEER_ID` names a peer
//!   without addresses. Other TXT strings are not peers and are skipped.
//!
//! Every peer gets `"via":"dns"`.

use crate::addr::{Addr, Host, Scheme};
use crate::identity::peer_id::PeerId;
use crate::ndjson::peer::PeerRecord;
use crate::{Error, Result, narrate, narrate_packet};
use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The UDP payload size this client advertises with EDNS0 (the DNS flag day 2020 value,
/// which avoids IP fragmentation).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Longest character-string in a TXT record.
pub const TXT_CHUNK: usize = 255;
/// The `via` value of peers found through DNS.
pub const VIA: &str = "dns";

/// A question for `name` of type `rtype`, with EDNS0 and recursion desired (so a
/// recursive resolver answers too).
pub fn query_message(name: &Name, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
}

/// Sends `request` to `server` over UDP and returns the response's bytes; when the
/// response is truncated (TC), asks again over TCP and returns that answer.
pub fn exchange(server: SocketAddr, request: &Message, timeout: Duration) -> Result<Message> {
    let bytes = encode(request)?;
    let question = request
        .queries
        .first()
        .map_or_else(String::new, |q| format!("{} {}", q.name(), q.query_type()));
    narrate!(
        "asking udp://{server}: {question} (id {}, {} bytes)",
        request.metadata.id,
        bytes.len()
    );
    let started = Instant::now();
    let response = exchange_udp(server, &bytes, request.metadata.id, timeout)
        .inspect_err(|e| narrate!("udp://{server}: {e}"))?;
    narrate_response("udp", server, &response, started);
    if response.metadata.truncation {
        narrate!("the answer is truncated (TC): asking again over tcp://{server}");
        let started = Instant::now();
        let response = exchange_tcp(server, &bytes, request.metadata.id, timeout)
            .inspect_err(|e| narrate!("tcp://{server}: {e}"))?;
        narrate_response("tcp", server, &response, started);
        return Ok(response);
    }
    Ok(response)
}

/// Tells an answer under `-v`: from where, how fast, its code and size.
fn narrate_response(scheme: &str, server: SocketAddr, response: &Message, started: Instant) {
    narrate!(
        "{scheme}://{server} answered in {}: {}, {} answer(s), {} additional{}",
        crate::cli::figures::millis(started.elapsed()),
        // As dig names them: NOERROR, NXDOMAIN, SERVFAIL.
        format!("{:?}", response.metadata.response_code).to_uppercase(),
        response.answers.len(),
        response.additionals.len(),
        if response.metadata.truncation {
            ", truncated"
        } else {
            ""
        }
    );
}

/// Encodes a message, with an error that says so.
pub fn encode(message: &Message) -> Result<Vec<u8>> {
    message
        .to_vec()
        .map_err(|e| Error::failure(format!("encoding a DNS message: {e}")))
}

fn timed_out(server: SocketAddr, timeout: Duration) -> Error {
    Error::timeout(format!(
        "no answer from {server} within {}",
        crate::cli::duration::format(timeout)
    ))
}

fn io_error(server: SocketAddr, e: &std::io::Error, timeout: Duration) -> Error {
    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        timed_out(server, timeout)
    } else {
        Error::failure(format!("talking to {server}: {e}"))
    }
}

/// One UDP exchange; answers with another id (strays, spoofs) are skipped.
pub fn exchange_udp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(|e| io_error(server, &e, timeout))?;
    socket
        .connect(server)
        .map_err(|e| io_error(server, &e, timeout))?;
    socket
        .send(request)
        .map_err(|e| io_error(server, &e, timeout))?;
    let end = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(server, timeout));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| io_error(server, &e, timeout))?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                return Err(Error::failure(format!(
                    "{server} refused the connection (no DNS server there?)"
                )));
            }
            Err(e) => return Err(io_error(server, &e, timeout)),
        };
        if let Some(message) = decode_response(&buf[..n], id) {
            return Ok(message);
        }
        narrate_packet!("skipped {n} bytes from {server}: not the answer to id {id}");
    }
}

/// One TCP exchange (two-byte length prefix, RFC 1035 4.2.2).
pub fn exchange_tcp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message> {
    let bytes = exchange_tcp_raw(server, request, timeout)?;
    decode_response(&bytes, id).ok_or_else(|| {
        Error::failure(format!(
            "{server} sent a malformed or mismatched answer over TCP"
        ))
    })
}

/// One TCP exchange, returning the response's raw bytes (for callers that must check
/// a signature over them).
pub fn exchange_tcp_raw(server: SocketAddr, request: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| io_error(server, &e, timeout);
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    let len = u16::try_from(request.len())
        .map_err(|_| Error::failure("a DNS message longer than 65535 bytes"))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).map_err(fail)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(fail)?;
    let mut bytes = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut bytes).map_err(fail)?;
    Ok(bytes)
}

fn decode_response(bytes: &[u8], id: u16) -> Option<Message> {
    let message = Message::from_vec(bytes).ok()?;
    (message.metadata.id == id && message.metadata.message_type == MessageType::Response)
        .then_some(message)
}

/// Asks `server` for `name`/`rtype` and returns the response, or an error for a
/// response code other than NOERROR and NXDOMAIN.
pub fn resolve(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message> {
    let response = exchange(server, &query_message(name, rtype), timeout)?;
    match response.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok(response),
        code => Err(Error::failure(format!(
            "{server} answered {code} for {name} {rtype}"
        ))),
    }
}

/// Splits text into TXT character-strings of at most 255 bytes.
pub fn txt_chunks(text: &str) -> Vec<&[u8]> {
    text.as_bytes().chunks(TXT_CHUNK).collect()
}

/// The peer id named by the first label of `name`, if it is one.
pub fn peer_id_label(name: &Name) -> Option<PeerId> {
    let first = name.iter().next()?;
    let text = std::str::from_utf8(first).ok()?.to_ascii_lowercase();
    (text.len() == crate::identity::peer_id::ZBASE32_LEN)
        .then(|| text.parse().ok())
        .flatten()
}

/// Turns the answers in `message` into peers. A/AAAA answers need `port`; without
/// it they are reported as errors. Each item is a peer or what was wrong with a record.
pub fn peers(message: &Message, port: Option<u16>) -> Vec<Result<PeerRecord, String>> {
    let mut out = Vec::new();
    let mut grouped: BTreeMap<String, PeerRecord> = BTreeMap::new();
    let mut missing_port = false;
    for record in &message.answers {
        match &record.data {
            RData::A(a) => address_peer(
                record,
                IpAddr::V4(a.0),
                port,
                &mut grouped,
                &mut out,
                &mut missing_port,
            ),
            RData::AAAA(a) => address_peer(
                record,
                IpAddr::V6(a.0),
                port,
                &mut grouped,
                &mut out,
                &mut missing_port,
            ),
            RData::SRV(srv) => {
                let scheme = srv_scheme(&record.name);
                let target = srv.target.clone();
                let ips = addresses_of(message, &target);
                let addrs = if ips.is_empty() {
                    let name = target.to_ascii().trim_end_matches('.').to_ascii_lowercase();
                    vec![Addr {
                        scheme,
                        host: Host::Name(name),
                        port: srv.port,
                        path: None,
                    }]
                } else {
                    ips.into_iter()
                        .map(|ip| Addr::from_socket(scheme, SocketAddr::new(ip, srv.port)))
                        .collect()
                };
                let mut peer = PeerRecord::new(peer_id_label(&target), addrs);
                peer.via = Some(VIA.to_owned());
                out.push(Ok(peer));
            }
            RData::TXT(txt) => {
                let text: Vec<u8> = txt
                    .txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                if let Some(peer) = txt_peer(&text) {
                    out.push(peer);
                }
            }
            _ => {}
        }
    }
    if missing_port {
        out.push(Err(
            "A/AAAA records carry no port: give one (--port), or ask for SRV".to_owned(),
        ));
    }
    out.extend(grouped.into_values().map(Ok));
    out
}

fn address_peer(
    record: &Record,
    ip: IpAddr,
    port: Option<u16>,
    grouped: &mut BTreeMap<String, PeerRecord>,
    out: &mut Vec<Result<PeerRecord, String>>,
    missing_port: &mut bool,
) {
    let Some(port) = port else {
        *missing_port = true;
        return;
    };
    let addr = Addr::from_socket(Scheme::Udp, SocketAddr::new(ip, port));
    if let Some(id) = peer_id_label(&record.name) {
        let peer = grouped.entry(id.to_string()).or_insert_with(|| {
            let mut peer = PeerRecord::new(Some(id), Vec::new());
            peer.via = Some(VIA.to_owned());
            peer
        });
        if !peer.addrs.contains(&addr) {
            peer.addrs.push(addr);
        }
    } else {
        let mut peer = PeerRecord::new(None, vec![addr]);
        peer.via = Some(VIA.to_owned());
        out.push(Ok(peer));
    }
}

fn srv_scheme(owner: &Name) -> Scheme {
    let proto = owner.iter().nth(1).map(<[u8]>::to_ascii_lowercase);
    if proto.as_deref() == Some(b"_tcp") {
        Scheme::Tcp
    } else {
        Scheme::Udp
    }
}

/// The addresses the message gives for `target` (answers and additional section).
fn addresses_of(message: &Message, target: &Name) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .chain(&message.additionals)
        .filter(|r| r.name.eq_ignore_root(target))
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// The peer a TXT record's text stands for, if any.
fn txt_peer(text: &[u8]) -> Option<Result<PeerRecord, String>> {
    if let Some(id) = text.strip_prefix(b"id=") {
        let id = std::str::from_utf8(id).unwrap_or_default();
        return Some(match id.parse::<PeerId>() {
            Ok(id) => {
                let mut peer = PeerRecord::new(Some(id), Vec::new());
                peer.via = Some(VIA.to_owned());
                Ok(peer)
            }
            Err(e) => Err(format!("TXT id= record: {e}")),
        });
    }
    let Ok(Value::Object(object)) = crate::identity::strict::from_slice(text) else {
        return None;
    };
    if object.get("type").and_then(Value::as_str) != Some("peer") {
        return None;
    }
    Some(PeerRecord::from_object(object).and_then(|mut peer| {
        if peer.is_signed() {
            peer.verify()
                .map_err(|e| format!("TXT peer record fails verification: {e}"))?;
        }
        peer.via = Some(VIA.to_owned());
        Ok(peer)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use hickory_proto::rr::rdata::{A, AAAA, SRV, TXT};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn srv_answers_become_peers_with_glue_addresses() {
        let me = Identity::from_seed([7; 32]);
        let target = name(&format!("{}.peers.test.", me.id()));
        let mut message = Message::response(1, hickory_proto::op::OpCode::Query);
        message.add_answer(Record::from_rdata(
            name("_p2p._udp.peers.test."),
            5,
            RData::SRV(SRV::new(0, 1, 4000, target.clone())),
        ));
        message.add_additional(Record::from_rdata(
            target.clone(),
            5,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        message.add_additional(Record::from_rdata(
            target,
            5,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ));
        let got: Vec<_> = peers(&message, None)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, Some(me.id()));
        let addrs: Vec<String> = got[0].addrs.iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["udp://192.0.2.1:4000", "udp://[2001:db8::1]:4000"]);
        assert_eq!(got[0].via.as_deref(), Some("dns"));
    }

    #[test]
    fn address_answers_need_a_port_and_group_by_peer_id() {
        let me = Identity::from_seed([8; 32]);
        let mut message = Message::response(1, hickory_proto::op::OpCode::Query);
        let owner = name(&format!("{}.z.test.", me.id()));
        for last in [1, 2] {
            message.add_answer(Record::from_rdata(
                owner.clone(),
                5,
                RData::A(A::new(192, 0, 2, last)),
            ));
        }
        message.add_answer(Record::from_rdata(
            name("z.test."),
            5,
            RData::A(A::new(198, 51, 100, 1)),
        ));
        let without = peers(&message, None);
        assert_eq!(without.len(), 1);
        assert!(without[0].as_ref().unwrap_err().contains("no port"));
        let with: Vec<_> = peers(&message, Some(9))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(with.len(), 2);
        assert_eq!(with[0].addrs[0].to_string(), "udp://198.51.100.1:9");
        assert_eq!(with[1].id, Some(me.id()));
        assert_eq!(with[1].addrs.len(), 2);
    }

    #[test]
    fn txt_records_carry_signed_peers_and_forgeries_are_refused() {
        let me = Identity::from_seed([9; 32]);
        let record = PeerRecord::signed(
            &me,
            vec!["udp://192.0.2.9:1".parse().unwrap()],
            Some("chat".into()),
        )
        .unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            json.len() > TXT_CHUNK,
            "the test wants a record split in chunks"
        );
        let mut message = Message::response(1, hickory_proto::op::OpCode::Query);
        let owner = name("x.test.");
        message.add_answer(Record::from_rdata(
            owner.clone(),
            5,
            RData::TXT(TXT::from_bytes(txt_chunks(&json))),
        ));
        let forged = json.replace("192.0.2.9", "192.0.2.8");
        message.add_answer(Record::from_rdata(
            owner.clone(),
            5,
            RData::TXT(TXT::from_bytes(txt_chunks(&forged))),
        ));
        message.add_answer(Record::from_rdata(
            owner.clone(),
            5,
            RData::TXT(TXT::new(vec![format!("id={}", me.id())])),
        ));
        message.add_answer(Record::from_rdata(
            owner,
            5,
            RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
        ));
        let got = peers(&message, None);
        assert_eq!(got.len(), 3);
        let first = got[0].as_ref().unwrap();
        assert_eq!(first.sig, record.sig);
        assert_eq!(first.verify(), Ok(me.id()));
        assert!(got[1].as_ref().unwrap_err().contains("verification"));
        assert_eq!(got[2].as_ref().unwrap().id, Some(me.id()));
    }
}
