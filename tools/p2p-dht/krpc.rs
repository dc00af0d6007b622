//! KRPC (BEP 5) over a socket of our own, for what mainline offers no way to do:
//! `ping` one node, and ask one node for a sample of its infohashes (`sample`, BEP 51).
//! The messages themselves are encoded and decoded by `p2p_shared::codec::krpc`.

use crate::args::PingArgs;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::bencode::Value as Bencode;
use p2p_shared::codec::krpc::{Answer, bytes, decode_answer, encode_query};
use p2p_shared::{Error, Result, Status, narrate, narrate_packet, random};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Instant;

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
        let asked = Instant::now();
        let tid = self.send(method, args)?;
        narrate!("asked udp://{} ({method})", self.addr);
        while let Some((got, answer)) = self.recv(deadline)? {
            if got == tid {
                narrate!(
                    "udp://{} answered {method} in {}{}",
                    self.addr,
                    p2p_shared::cli::figures::millis(asked.elapsed()),
                    match &answer {
                        Answer::Response { .. } => String::new(),
                        Answer::Error(code, message) => format!(": error {code} {message}"),
                    }
                );
                return Ok(Some(answer));
            }
            narrate_packet!(
                "ignored an answer from udp://{} to another request",
                self.addr
            );
        }
        narrate!("udp://{}: no answer to {method}", self.addr);
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
