//! `ping`: one KRPC ping (BEP 5) over a socket of our own, since mainline offers no
//! way to ping a single node.
//!
//! A query is `{"t": tid, "y": "q", "q": "ping", "a": {"id": our 20-byte id}}`,
//! bencoded; the answer is `{"t": tid, "y": "r", "r": {"id": its id}}` or an error
//! `{"y": "e", "e": [code, message]}`.

use crate::args::PingArgs;
use p2p_shared::bencode::{self, Value as Bencode};
use p2p_shared::dht::udp_addr;
use p2p_shared::entry::Ctx;
use p2p_shared::{Error, Result, Status, random};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// A node's answer to a ping.
#[derive(Debug)]
pub enum Answer {
    /// A response, with the node's id and its client version tag if it sent one.
    Pong {
        /// The node id.
        id: Vec<u8>,
        /// The `v` field (client name and version), if present.
        version: Option<Vec<u8>>,
    },
    /// A KRPC error.
    Error(i64, String),
}

fn bytes(text: &[u8]) -> Bencode {
    Bencode::Bytes(text.to_vec())
}

/// The bencoded ping query.
pub fn encode_ping(tid: &[u8], own_id: &[u8; 20]) -> Vec<u8> {
    let args = BTreeMap::from([(b"id".to_vec(), bytes(own_id))]);
    let query = BTreeMap::from([
        (b"t".to_vec(), bytes(tid)),
        (b"y".to_vec(), bytes(b"q")),
        (b"q".to_vec(), bytes(b"ping")),
        (b"a".to_vec(), Bencode::Dict(args)),
    ]);
    Bencode::Dict(query).encode()
}

/// Decodes a datagram; `None` when it is not an answer to `tid`.
pub fn decode_answer(datagram: &[u8], tid: &[u8]) -> Option<Answer> {
    let Ok(Bencode::Dict(message)) = bencode::decode(datagram) else {
        return None;
    };
    let field = |key: &[u8]| message.get(key);
    if !matches!(field(b"t"), Some(Bencode::Bytes(t)) if t == tid) {
        return None;
    }
    let version = match field(b"v") {
        Some(Bencode::Bytes(v)) => Some(v.clone()),
        _ => None,
    };
    match (field(b"y"), field(b"r"), field(b"e")) {
        (Some(Bencode::Bytes(y)), Some(Bencode::Dict(r)), _) if y == b"r" => {
            match r.get(&b"id"[..]) {
                Some(Bencode::Bytes(id)) if id.len() == 20 => Some(Answer::Pong {
                    id: id.clone(),
                    version,
                }),
                _ => Some(Answer::Error(0, "a response without a valid id".to_owned())),
            }
        }
        (Some(Bencode::Bytes(y)), _, Some(Bencode::List(e))) if y == b"e" => {
            let code = match e.first() {
                Some(Bencode::Int(code)) => *code,
                _ => 0,
            };
            let text = match e.get(1) {
                Some(Bencode::Bytes(text)) => String::from_utf8_lossy(text).into_owned(),
                _ => String::new(),
            };
            Some(Answer::Error(code, text))
        }
        _ => None,
    }
}

/// Pings `addr` from `bind`; `None` when nothing answered within `timeout`.
pub fn ping(
    addr: SocketAddrV4,
    bind: SocketAddrV4,
    timeout: Duration,
) -> Result<Option<(Answer, Duration)>> {
    let socket =
        UdpSocket::bind(bind).map_err(|e| Error::failure(format!("binding {bind}: {e}")))?;
    // Four bytes: mainline 8 ignores queries whose transaction id has another length.
    let tid = random::bytes::<4>()?;
    let own_id = random::bytes::<20>()?;
    let started = Instant::now();
    // Connected, so only `addr` is heard and a closed port is reported at once.
    socket
        .connect(addr)
        .and_then(|()| socket.send(&encode_ping(&tid, &own_id)))
        .map_err(|e| Error::failure(format!("sending to {addr}: {e}")))?;
    let mut buf = [0_u8; 2048];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                if let Some(answer) = decode_answer(&buf[..n], &tid) {
                    return Ok(Some((answer, started.elapsed())));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // An ICMP "port unreachable" surfaces here.
            Err(e) => return Err(Error::failure(format!("pinging {addr}: {e}"))),
        }
    }
}

/// `p2p-dht ping`.
pub fn run(args: &PingArgs, ctx: &Ctx) -> Result<Status> {
    let bind = args.bind.unwrap_or_else(|| {
        let ip = if args.addr.ip().is_loopback() {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        SocketAddrV4::new(ip, 0)
    });
    let Some((answer, rtt)) = ping(args.addr, bind, args.timeout)? else {
        return Err(Error::timeout(format!(
            "no answer from {} within {}",
            args.addr,
            p2p_shared::duration::format(args.timeout)
        )));
    };
    let rtt_ms = rtt.as_secs_f64() * 1000.0;
    match answer {
        Answer::Pong { id, version } => {
            let mut record = json!({
                "type": "pong",
                "addr": udp_addr(args.addr),
                "id": hex::encode(id),
                "rtt_ms": (rtt_ms * 1000.0).round() / 1000.0,
            });
            if let Some(version) = version {
                record["version"] = json!(hex::encode(version));
            }
            ctx.out.record(&record)?;
            Ok(Status::Success)
        }
        Answer::Error(code, message) => Err(Error::failure(format!(
            "{} answered with error {code}: {message}",
            args.addr
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_is_the_bep5_example_shape() {
        let encoded = encode_ping(b"aa", b"abcdefghij0123456789");
        assert_eq!(
            encoded,
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec()
        );
    }

    #[test]
    fn answers_are_matched_by_transaction_id() {
        let pong = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        assert!(matches!(
            decode_answer(pong, b"aa"),
            Some(Answer::Pong { .. })
        ));
        assert!(decode_answer(pong, b"bb").is_none());
        let error = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        assert!(matches!(
            decode_answer(error, b"aa"),
            Some(Answer::Error(201, _))
        ));
        assert!(decode_answer(b"not bencode", b"aa").is_none());
    }
}
