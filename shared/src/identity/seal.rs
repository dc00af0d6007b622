//! Sealed boxes: encrypt to a peer id so only that peer can read it.
//!
//! The recipient's ed25519 key is mapped to X25519 (Edwards to Montgomery), a fresh
//! ephemeral X25519 key is made per message, and the shared secret is stretched with
//! HKDF-SHA256 (salt: ephemeral public key ‖ recipient X25519 key; info:
//! [`INFO`]) into a one-time ChaCha20-Poly1305 key. The nonce is zero because the
//! key is never reused; the recipient's ed25519 key is the associated data. The
//! result is one NDJSON record:
//! `{"type":"sealed","to":"<peer-id>","ephemeral":"<hex>","ciphertext_b64":"…"}`.

use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Error, Result, random};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// HKDF info string, naming the scheme and its version.
pub const INFO: &[u8] = b"p2p-toolbox sealed box v1";

/// A sealed message, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Always `sealed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The recipient.
    pub to: PeerId,
    /// The ephemeral X25519 public key (hex).
    pub ephemeral: String,
    /// Ciphertext and tag.
    pub ciphertext_b64: String,
}

fn cipher(
    shared: &MontgomeryPoint,
    ephemeral: &[u8; 32],
    recipient: &MontgomeryPoint,
) -> Result<ChaCha20Poly1305> {
    if shared.as_bytes().iter().all(|&b| b == 0) {
        return Err(Error::failure("degenerate key exchange (low-order point)"));
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient.as_bytes());
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
        .expand(INFO, &mut key)
        .map_err(|_| Error::failure("HKDF expand failed"))?;
    Ok(ChaCha20Poly1305::new(&Key::from(key)))
}

/// Encrypts `plaintext` so that only `to` can open it.
pub fn seal(to: &PeerId, plaintext: &[u8]) -> Result<Sealed> {
    let recipient = to.key().to_montgomery();
    let secret: [u8; 32] = random::bytes()?;
    let ephemeral = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
    let shared = recipient.mul_clamped(secret);
    let ciphertext = cipher(&shared, &ephemeral, &recipient)?
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plaintext,
                aad: to.key().as_bytes(),
            },
        )
        .map_err(|_| Error::failure("encryption failed"))?;
    Ok(Sealed {
        kind: "sealed".to_owned(),
        to: *to,
        ephemeral: hex::encode(ephemeral),
        ciphertext_b64: B64.encode(ciphertext),
    })
}

/// Decrypts a sealed message with the recipient's identity.
pub fn open(identity: &Identity, sealed: &Sealed) -> Result<Vec<u8>> {
    if sealed.to != identity.id() {
        return Err(Error::failure(format!(
            "sealed to {}, not to this identity ({})",
            sealed.to,
            identity.id()
        )));
    }
    let ephemeral: [u8; 32] = hex::decode(&sealed.ephemeral)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::usage("ephemeral is not 64 hex digits"))?;
    let ciphertext = B64
        .decode(&sealed.ciphertext_b64)
        .map_err(|e| Error::usage(format!("ciphertext_b64 is not base64: {e}")))?;
    let recipient = identity.id().key().to_montgomery();
    let shared = MontgomeryPoint(ephemeral).mul_clamped(identity.signing_key().to_scalar_bytes());
    cipher(&shared, &ephemeral, &recipient)?
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: &ciphertext,
                aad: identity.id().key().as_bytes(),
            },
        )
        .map_err(|_| {
            Error::failure("cannot open: the sealed message was altered or is not for this key")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bob = Identity::from_seed([5; 32]);
        let sealed = seal(&bob.id(), b"hello bob").unwrap();
        assert_eq!(open(&bob, &sealed).unwrap(), b"hello bob");
    }

    #[test]
    fn each_seal_is_different() {
        let bob = Identity::from_seed([5; 32]);
        assert_ne!(
            seal(&bob.id(), b"x").unwrap(),
            seal(&bob.id(), b"x").unwrap()
        );
    }

    #[test]
    fn tampering_and_the_wrong_key_fail() {
        let bob = Identity::from_seed([5; 32]);
        let eve = Identity::from_seed([6; 32]);
        let mut sealed = seal(&bob.id(), b"secret").unwrap();
        assert!(open(&eve, &sealed).is_err());
        let mut bytes = B64.decode(&sealed.ciphertext_b64).unwrap();
        bytes[0] ^= 1;
        sealed.ciphertext_b64 = B64.encode(bytes);
        let err = open(&bob, &sealed).unwrap_err();
        assert!(err.message().contains("altered"), "{err}");
    }

    #[test]
    fn retargeting_to_another_peer_fails() {
        let bob = Identity::from_seed([5; 32]);
        let eve = Identity::from_seed([6; 32]);
        let mut sealed = seal(&bob.id(), b"secret").unwrap();
        sealed.to = eve.id();
        assert!(open(&eve, &sealed).is_err());
    }
}
