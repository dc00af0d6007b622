//! Authenticated probe packets, the only packets the hole-punching engine acts on.
//!
//! Layout (101 bytes): `p2pP`, kind (1), session (16), nonce (8), echo (8), and an
//! ed25519 signature (64) by the sender over a domain-separation label and the 37
//! bytes before it. The kind byte's high bit says the packet left one of the
//! sender's birthday sockets, so both sides of a pair name the same technique. A receiver accepts a probe only when it is signed by the peer it
//! expects and carries this punch's session id, so a third party can neither inject
//! probes nor replay them into another session; an ack must echo a nonce this side
//! sent, which proves a round trip.

use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use ed25519_dalek::Signature;

/// The first four bytes of every probe.
pub const MAGIC: &[u8; 4] = b"p2pP";
/// The length of a probe.
pub const LEN: usize = 4 + 1 + 16 + 8 + 8 + 64;
const SIGNED_LEN: usize = LEN - 64;
const LABEL: &[u8] = b"p2p-punch probe v1\0";
/// The kind byte's flag for a packet sent from a birthday socket.
const BIRTHDAY_BIT: u8 = 0x80;

/// What a probe asks of its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "Can you hear me?": answer with an [`Kind::Ack`].
    Probe,
    /// "I heard your probe `echo`": the receiver has a working path.
    Ack,
    /// An ack sent by a side that already has its path: answer with [`Kind::Done`].
    FinalAck,
    /// "I have my path too": nothing more is needed.
    Done,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Probe => 1,
            Kind::Ack => 2,
            Kind::FinalAck => 3,
            Kind::Done => 4,
        }
    }

    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::Probe,
            2 => Kind::Ack,
            3 => Kind::FinalAck,
            4 => Kind::Done,
            _ => return None,
        })
    }
}

/// A probe's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// What it asks.
    pub kind: Kind,
    /// The punch session it belongs to.
    pub session: [u8; 16],
    /// A fresh number the answer will echo.
    pub nonce: u64,
    /// The nonce of the probe this answers (0 for a probe).
    pub echo: u64,
    /// Sent from one of the sender's birthday sockets: a path through it is the
    /// birthday technique's doing on both sides.
    pub birthday: bool,
}

/// Why a packet was not accepted as a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeError {
    /// Wrong length, magic or kind.
    Malformed,
    /// Another session's probe.
    WrongSession,
    /// Not signed by the expected peer.
    BadSignature,
}

impl Probe {
    /// The probe as signed bytes.
    pub fn seal(&self, identity: &Identity) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.extend_from_slice(MAGIC);
        let flag = if self.birthday { BIRTHDAY_BIT } else { 0 };
        bytes.push(self.kind.byte() | flag);
        bytes.extend_from_slice(&self.session);
        bytes.extend_from_slice(&self.nonce.to_be_bytes());
        bytes.extend_from_slice(&self.echo.to_be_bytes());
        let sig = identity.sign(&signed_message(&bytes));
        bytes.extend_from_slice(&sig.to_bytes());
        bytes
    }

    /// Reads a probe of `session` signed by `peer`.
    pub fn open(bytes: &[u8], session: &[u8; 16], peer: &PeerId) -> Result<Probe, ProbeError> {
        if !is_probe(bytes) || bytes.len() != LEN {
            return Err(ProbeError::Malformed);
        }
        let kind = Kind::from_byte(bytes[4] & !BIRTHDAY_BIT).ok_or(ProbeError::Malformed)?;
        if &bytes[5..21] != session {
            return Err(ProbeError::WrongSession);
        }
        let sig: [u8; 64] = bytes[SIGNED_LEN..]
            .try_into()
            .map_err(|_| ProbeError::Malformed)?;
        peer.key()
            .verify_strict(
                &signed_message(&bytes[..SIGNED_LEN]),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| ProbeError::BadSignature)?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(w)
        };
        Ok(Probe {
            kind,
            session: *session,
            nonce: word(21),
            echo: word(29),
            birthday: bytes[4] & BIRTHDAY_BIT != 0,
        })
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(LABEL.len() + body.len());
    message.extend_from_slice(LABEL);
    message.extend_from_slice(body);
    message
}

/// True when `bytes` start like a probe (cheap demultiplexing test).
pub fn is_probe(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_opens_only_for_its_session_and_signer() {
        let alice = Identity::from_seed([1; 32]);
        let mallory = Identity::from_seed([2; 32]);
        let probe = Probe {
            kind: Kind::Ack,
            session: [9; 16],
            nonce: 42,
            echo: 7,
            birthday: false,
        };
        let bytes = probe.seal(&alice);
        assert_eq!(bytes.len(), LEN);
        assert_eq!(Probe::open(&bytes, &[9; 16], &alice.id()), Ok(probe));
        assert_eq!(
            Probe::open(&bytes, &[8; 16], &alice.id()),
            Err(ProbeError::WrongSession)
        );
        assert_eq!(
            Probe::open(&bytes, &[9; 16], &mallory.id()),
            Err(ProbeError::BadSignature)
        );
        let mut steered = bytes.clone();
        steered[30] ^= 1;
        assert_eq!(
            Probe::open(&steered, &[9; 16], &alice.id()),
            Err(ProbeError::BadSignature)
        );
        assert_eq!(
            Probe::open(&bytes[..50], &[9; 16], &alice.id()),
            Err(ProbeError::Malformed)
        );
        let flagged = Probe {
            birthday: true,
            ..probe
        };
        let sealed = flagged.seal(&alice);
        assert_eq!(Probe::open(&sealed, &[9; 16], &alice.id()), Ok(flagged));
        let mut unflagged = sealed;
        unflagged[4] &= !BIRTHDAY_BIT;
        assert_eq!(
            Probe::open(&unflagged, &[9; 16], &alice.id()),
            Err(ProbeError::BadSignature),
            "the birthday flag is signed"
        );
    }
}
