//! KRPC (BEP 5) over a socket of our own, for what mainline offers no way to do:
//! `ping` one node, and ask one node for a sample of its infohashes (`sample`, BEP 51).
//!
//! A query is `{"t": tid, "y": "q", "q": METHOD, "a": {"id": our 20-byte id, …}}`,
//! bencoded; the answer is `{"t": tid, "y": "r", "r": {"id": its id, …}}` or an error
//! `{"y": "e", "e": [code, message]}`.

use crate::args::PingArgs;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::bencode::{self, Value as Bencode};
use p2p_shared::{Error, Result, Status, random};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Instant;

/// A node's answer to a query.
#[derive(Debug)]
pub enum Answer {
    /// A response: the `r` dictionary (its `id` checked to be 20 bytes) and the
    /// client version tag `v`, if sent.
    Response {
        /// The `r` dictionary.
        fields: BTreeMap<Vec<u8>, Bencode>,
        /// The `v` field (client name and version), if present.
        version: Option<Vec<u8>>,
    },
    /// A KRPC error.
    Error(i64, String),
}

impl Answer {
    /// The answering node's id (present in every response).
    pub fn id(fields: &BTreeMap<Vec<u8>, Bencode>) -> &[u8] {
        fields
            .get(&b"id"[..])
            .and_then(Bencode::as_bytes)
            .unwrap_or_default()
    }
}

fn bytes(text: &[u8]) -> Bencode {
    Bencode::Bytes(text.to_vec())
}

/// The bencoded query `method` with arguments `args` (our `id` among them).
pub fn encode_query(tid: &[u8], method: &str, args: BTreeMap<Vec<u8>, Bencode>) -> Vec<u8> {
    let query = BTreeMap::from([
        (b"t".to_vec(), bytes(tid)),
        (b"y".to_vec(), bytes(b"q")),
        (b"q".to_vec(), bytes(method.as_bytes())),
        (b"a".to_vec(), Bencode::Dict(args)),
    ]);
    Bencode::Dict(query).encode()
}

/// Decodes a datagram into its transaction id and answer; `None` when it is not an
/// answer at all.
pub fn decode_answer(datagram: &[u8]) -> Option<(Vec<u8>, Answer)> {
    let Ok(Bencode::Dict(message)) = bencode::decode(datagram) else {
        return None;
    };
    let field = |key: &[u8]| message.get(key);
    let tid = field(b"t")?.as_bytes()?.to_vec();
    let version = field(b"v").and_then(Bencode::as_bytes).map(<[u8]>::to_vec);
    let answer = match (field(b"y"), field(b"r"), field(b"e")) {
        (Some(Bencode::Bytes(y)), Some(Bencode::Dict(r)), _) if y == b"r" => {
            if Answer::id(r).len() == 20 {
                Answer::Response {
                    fields: r.clone(),
                    version,
                }
            } else {
                Answer::Error(0, "a response without a valid id".to_owned())
            }
        }
        (Some(Bencode::Bytes(y)), _, Some(Bencode::List(e))) if y == b"e" => {
            let code = e.first().and_then(Bencode::as_int).unwrap_or(0);
            let text = e
                .get(1)
                .and_then(Bencode::as_bytes)
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .unwrap_or_default();
            Answer::Error(code, text)
        }
        _ => return None,
    };
    Some((tid, answer))
}

/// A UDP socket talking KRPC to one node.
pub struct Client {
    socket: UdpSocket,
    addr: SocketAddrV4,
    own_id: [u8; 20],
}

impl Client {
    /// Binds `bind` (or 127.0.0.1:0 for a loopback node, else 0.0.0.0:0) and talks to
    /// `addr` only.
    pub fn connect(addr: SocketAddrV4, bind: Option<SocketAddrV4>) -> Result<Client> {
        let bind = bind.unwrap_or_else(|| {
            let ip = if addr.ip().is_loopback() {
                Ipv4Addr::LOCALHOST
            } else {
                Ipv4Addr::UNSPECIFIED
            };
            SocketAddrV4::new(ip, 0)
        });
        let socket =
            UdpSocket::bind(bind).map_err(|e| Error::failure(format!("binding {bind}: {e}")))?;
        // Connected, so only `addr` is heard and a closed port is reported at once.
        socket
            .connect(addr)
            .map_err(|e| Error::failure(format!("connecting to {addr}: {e}")))?;
        Ok(Client {
            socket,
            addr,
            own_id: random::bytes::<20>()?,
        })
    }

    /// Sends the query `method` with `args` besides our id; returns its transaction id.
    pub fn send(&self, method: &str, args: &[(&str, Bencode)]) -> Result<Vec<u8>> {
        // Four bytes: mainline 8 ignores queries whose transaction id has another length.
        let tid = random::bytes::<4>()?.to_vec();
        let mut fields = BTreeMap::from([(b"id".to_vec(), bytes(&self.own_id))]);
        for (key, value) in args {
            fields.insert(key.as_bytes().to_vec(), value.clone());
        }
        self.socket
            .send(&encode_query(&tid, method, fields))
            .map_err(|e| Error::failure(format!("sending to {}: {e}", self.addr)))?;
        Ok(tid)
    }

    /// The next answer from the node, or `None` when `deadline` passes first.
    pub fn recv(&self, deadline: Instant) -> Result<Option<(Vec<u8>, Answer)>> {
        let mut buf = [0_u8; 2048];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    if let Some(answer) = decode_answer(&buf[..n]) {
                        return Ok(Some(answer));
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                // An ICMP "port unreachable" surfaces here.
                Err(e) => return Err(Error::failure(format!("asking {}: {e}", self.addr))),
            }
        }
    }

    /// Sends `method` and waits for its answer until `deadline`; `None` on silence.
    pub fn ask(
        &self,
        method: &str,
        args: &[(&str, Bencode)],
        deadline: Instant,
    ) -> Result<Option<Answer>> {
        let tid = self.send(method, args)?;
        while let Some((got, answer)) = self.recv(deadline)? {
            if got == tid {
                return Ok(Some(answer));
            }
        }
        Ok(None)
    }
}

/// `p2p-dht ping`.
pub fn run(args: &PingArgs, ctx: &Ctx) -> Result<Status> {
    let client = Client::connect(args.addr, args.bind)?;
    let started = Instant::now();
    let Some(answer) = client.ask("ping", &[], started + args.timeout)? else {
        return Err(Error::timeout(format!(
            "no answer from {} within {}",
            args.addr,
            p2p_shared::cli::duration::format(args.timeout)
        )));
    };
    let rtt_ms = started.elapsed().as_secs_f64() * 1000.0;
    match answer {
        Answer::Response { fields, version } => {
            let mut record = json!({
                "type": "pong",
                "addr": Addr::udp(args.addr),
                "node_id": hex::encode(Answer::id(&fields)),
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
        let args = BTreeMap::from([(b"id".to_vec(), bytes(b"abcdefghij0123456789"))]);
        assert_eq!(
            encode_query(b"aa", "ping", args),
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec()
        );
    }

    #[test]
    fn answers_carry_their_transaction_id() {
        let pong = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        let (tid, answer) = decode_answer(pong).unwrap();
        assert_eq!(tid, b"aa");
        let Answer::Response { fields, version } = answer else {
            panic!("not a response: {answer:?}");
        };
        assert_eq!(Answer::id(&fields), b"mnopqrstuvwxyz123456");
        assert_eq!(version, None);
        let error = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        assert!(matches!(
            decode_answer(error),
            Some((_, Answer::Error(201, _)))
        ));
        let no_id = b"d1:rd2:id3:abce1:t2:aa1:y1:re";
        assert!(matches!(
            decode_answer(no_id),
            Some((_, Answer::Error(0, _)))
        ));
        assert!(decode_answer(b"not bencode").is_none());
    }
}
