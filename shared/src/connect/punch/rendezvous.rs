//! The rendezvous protocol: peers register by peer id, proving their key, and a
//! connect request hands both sides each other's candidates, a session id and a
//! common start time.
//!
//! Messages are UDP datagrams: the four bytes `p2pR` and one JSON object with an
//! `op`. They share the STUN server's port (STUN messages start with two zero bits,
//! these with `p`), and are sent from the socket that will punch, so the address the
//! server observes is the mapping the punch uses.
//!
//! ```text
//! peer → server  {"op":"hello","id":ID}
//! server → peer  {"op":"challenge","challenge":HEX}         bound to the peer's address
//! peer → server  {"op":"register","candidate":{…},"challenge":HEX,"proof":SIG}
//! server → peer  {"op":"registered","observed":"udp://…","ttl_s":60}
//! peer → server  {"op":"connect","from":ID,"to":ID}          from a registered address
//! server → both  {"op":"introduce","session":HEX,"peer":{candidate},"observed":"udp://…","start_in_ms":N}
//! server → peer  {"op":"error","reason":"…"}
//! ```

use super::binding::{timed_out, transient};
use super::candidate::Candidate;
use crate::addr::Addr;
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Error, Result, narrate, narrate_packet};
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The first four bytes of every rendezvous message.
pub const MAGIC: &[u8; 4] = b"p2pR";
/// How long a registration lasts; peers renew it at a third of this.
pub const TTL: Duration = Duration::from_mins(1);
/// How often a request is resent until answered.
const RESEND: Duration = Duration::from_millis(200);
const PROOF_LABEL: &[u8] = b"p2p-punch register v1\0";

/// One rendezvous message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Message {
    /// A peer asks for a challenge.
    Hello {
        /// Who it says it is.
        id: PeerId,
    },
    /// The server's challenge, bound to the address the hello came from.
    Challenge {
        /// Hex.
        challenge: String,
    },
    /// A peer registers its signed candidate and proves its key.
    Register {
        /// The signed candidate record.
        candidate: Map<String, Value>,
        /// The challenge being answered.
        challenge: String,
        /// Signature (hex) over the challenge.
        proof: String,
    },
    /// The registration was accepted.
    Registered {
        /// The address the server saw.
        observed: Addr,
        /// Seconds until it expires.
        ttl_s: u64,
    },
    /// A registered peer asks to be introduced to another.
    Connect {
        /// The asking peer.
        from: PeerId,
        /// The peer it wants.
        to: PeerId,
    },
    /// Each side learns the other's candidates.
    Introduce {
        /// The punch session id (hex).
        session: String,
        /// The other side's signed candidate record.
        peer: Map<String, Value>,
        /// The other side's address as the server saw it.
        observed: Addr,
        /// Start punching after this many milliseconds.
        start_in_ms: u64,
    },
    /// A request was refused.
    Error {
        /// Why.
        reason: String,
    },
}

impl Message {
    /// The message's `op`, for narration.
    pub fn op(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "hello",
            Message::Challenge { .. } => "challenge",
            Message::Register { .. } => "register",
            Message::Registered { .. } => "registered",
            Message::Connect { .. } => "connect",
            Message::Introduce { .. } => "introduce",
            Message::Error { .. } => "error",
        }
    }

    /// The message as a datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        // A message of plain data always serializes.
        bytes.extend_from_slice(&serde_json::to_vec(self).unwrap_or_default());
        bytes
    }

    /// Reads a datagram.
    pub fn decode(bytes: &[u8]) -> Result<Message, String> {
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or("not a rendezvous message")?;
        crate::identity::strict::from_slice(body)
            .and_then(serde_json::from_value)
            .map_err(|e| format!("bad rendezvous message: {e}"))
    }
}

/// True when `bytes` start like a rendezvous message.
pub fn is_rendezvous(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The signature that proves `identity` answers `challenge`.
pub fn prove(identity: &Identity, challenge: &[u8]) -> String {
    hex::encode(identity.sign(&proof_message(challenge)).to_bytes())
}

/// Checks a proof by `id` over `challenge`.
pub fn check_proof(id: &PeerId, challenge: &[u8], proof: &str) -> bool {
    let Ok(sig) = hex::decode(proof) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    id.key()
        .verify_strict(&proof_message(challenge), &Signature::from_bytes(&sig))
        .is_ok()
}

fn proof_message(challenge: &[u8]) -> Vec<u8> {
    [PROOF_LABEL, challenge].concat()
}

/// What a connect hands each side.
#[derive(Debug, Clone)]
pub struct Introduction {
    /// The session id.
    pub session: [u8; 16],
    /// The other side, with `observed` as the server saw it.
    pub peer: Candidate,
    /// When to start.
    pub start_in: Duration,
}

/// A client of one rendezvous server on the punching socket.
pub struct Client<'a> {
    socket: &'a UdpSocket,
    server: SocketAddr,
    identity: &'a Identity,
    /// Datagrams that were not rendezvous messages from the server.
    pub ignored: u64,
}

impl<'a> Client<'a> {
    /// A client that talks to `server` from `socket` as `identity`.
    pub fn new(socket: &'a UdpSocket, server: SocketAddr, identity: &'a Identity) -> Self {
        Client {
            socket,
            server,
            identity,
            ignored: 0,
        }
    }

    /// Registers `candidate`; returns the address the server observed.
    pub fn register(&mut self, candidate: &Candidate, timeout: Duration) -> Result<SocketAddr> {
        let deadline = Instant::now() + timeout;
        let hello = Message::Hello {
            id: self.identity.id(),
        };
        let challenge = self.request(&hello, deadline, |m| match m {
            Message::Challenge { challenge } => Some(challenge.clone()),
            _ => None,
        })?;
        let raw = hex::decode(&challenge)
            .map_err(|_| Error::failure("the rendezvous sent a challenge that is not hex"))?;
        let register = Message::Register {
            candidate: candidate.to_record(self.identity)?,
            proof: prove(self.identity, &raw),
            challenge,
        };
        self.request(&register, deadline, |m| match m {
            Message::Registered { observed, .. } => observed.socket_addr(),
            _ => None,
        })
    }

    /// Asks to be introduced to `to`.
    pub fn connect(&mut self, to: &PeerId, timeout: Duration) -> Result<Introduction> {
        let deadline = Instant::now() + timeout;
        let connect = Message::Connect {
            from: self.identity.id(),
            to: *to,
        };
        let message = self.request(&connect, deadline, |m| {
            matches!(m, Message::Introduce { .. }).then(|| m.clone())
        })?;
        introduction(&message).map_err(Error::failure)
    }

    /// Waits for an introduction, renewing the registration every third of its TTL.
    pub fn wait_for_introduction(
        &mut self,
        candidate: &Candidate,
        timeout: Option<Duration>,
    ) -> Result<Introduction> {
        let start = Instant::now();
        let mut renew = start + TTL / 3;
        loop {
            let now = Instant::now();
            if timeout.is_some_and(|t| now >= start + t) {
                return Err(Error::timeout("no peer asked to connect in time"));
            }
            if now >= renew {
                self.register(candidate, Duration::from_secs(5))?;
                renew = Instant::now() + TTL / 3;
            }
            let mut wait = renew.saturating_duration_since(Instant::now());
            if let Some(t) = timeout {
                wait = wait.min((start + t).saturating_duration_since(Instant::now()));
            }
            if let Some(message @ Message::Introduce { .. }) =
                self.receive(wait.max(Duration::from_millis(1)))?
            {
                return introduction(&message).map_err(Error::failure);
            }
        }
    }

    /// Sends `message` every [`RESEND`] until `pick` accepts an answer.
    fn request<T>(
        &mut self,
        message: &Message,
        deadline: Instant,
        pick: impl Fn(&Message) -> Option<T>,
    ) -> Result<T> {
        let bytes = message.encode();
        let mut tries = 0;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::timeout(format!(
                    "the rendezvous at {} did not answer",
                    self.server
                )));
            }
            tries += 1;
            if tries == 1 {
                narrate!(
                    "sent {} to the rendezvous udp://{}",
                    message.op(),
                    self.server
                );
            } else {
                narrate!(
                    "no answer from the rendezvous udp://{}: sending {} again (try {tries})",
                    self.server,
                    message.op()
                );
            }
            match self.socket.send_to(&bytes, self.server) {
                Ok(_) => {}
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let until = (now + RESEND).min(deadline);
            while let Some(wait) = until.checked_duration_since(Instant::now()) {
                match self.receive(wait.max(Duration::from_millis(1)))? {
                    Some(Message::Error { reason }) => {
                        return Err(Error::failure(format!("rendezvous: {reason}")));
                    }
                    Some(answer) => {
                        if let Some(value) = pick(&answer) {
                            return Ok(value);
                        }
                    }
                    None => break,
                }
            }
        }
    }

    /// The next rendezvous message from the server within `wait`, or `None`.
    fn receive(&mut self, wait: Duration) -> Result<Option<Message>> {
        let end = Instant::now() + wait;
        let mut buf = [0u8; 4096];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) if from == self.server => match Message::decode(&buf[..len]) {
                    Ok(message) => {
                        narrate_answer(&message, from);
                        return Ok(Some(message));
                    }
                    Err(_) => self.ignored += 1,
                },
                Ok((len, from)) => {
                    narrate_packet!("ignored {len} bytes from {from}: not the rendezvous");
                    self.ignored += 1;
                }
                Err(e) if timed_out(&e) => return Ok(None),
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Tells what the rendezvous said, under `-v`.
fn narrate_answer(message: &Message, from: SocketAddr) {
    match message {
        Message::Registered { observed, ttl_s } => {
            narrate!("the rendezvous udp://{from} registered us as {observed} for {ttl_s} s");
        }
        Message::Introduce {
            observed,
            start_in_ms,
            ..
        } => narrate!(
            "the rendezvous udp://{from} introduced the peer seen at {observed}: punching in {start_in_ms} ms"
        ),
        Message::Error { reason } => narrate!("the rendezvous udp://{from} refused: {reason}"),
        other => narrate!("the rendezvous udp://{from} answered {}", other.op()),
    }
}

fn introduction(message: &Message) -> Result<Introduction, String> {
    let Message::Introduce {
        session,
        peer,
        observed,
        start_in_ms,
    } = message
    else {
        return Err("not an introduction".to_owned());
    };
    let session = hex::decode(session)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or("the session id is not 32 hex digits")?;
    let mut peer = Candidate::from_record(peer)?;
    if let Some(seen) = observed.socket_addr() {
        peer.observed = Some(seen);
    }
    Ok(Introduction {
        session,
        peer,
        start_in: Duration::from_millis((*start_in_ms).min(10_000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_proofs_bind_the_key() {
        let me = Identity::from_seed([1; 32]);
        let message = Message::Connect {
            from: me.id(),
            to: Identity::from_seed([2; 32]).id(),
        };
        let bytes = message.encode();
        assert!(is_rendezvous(&bytes));
        assert_eq!(Message::decode(&bytes), Ok(message));
        assert!(Message::decode(b"p2pR{\"op\":\"nope\"}").is_err());
        let proof = prove(&me, b"abc");
        assert!(check_proof(&me.id(), b"abc", &proof));
        assert!(!check_proof(&me.id(), b"abd", &proof));
        assert!(!check_proof(
            &Identity::from_seed([2; 32]).id(),
            b"abc",
            &proof
        ));
        assert!(!check_proof(&me.id(), b"abc", "zz"));
    }
}
