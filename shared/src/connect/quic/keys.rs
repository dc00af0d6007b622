//! Identity keys in the shapes TLS wants: an ed25519 public key as a DER
//! SubjectPublicKeyInfo (the RFC 7250 "certificate"), the seed as PKCS #8, and the
//! way back from a peer's SubjectPublicKeyInfo to its [`PeerId`].

use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, AlgorithmIdentifier
/// { id-Ed25519 }, BIT STRING of 32 bytes. The key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER prefix of an ed25519 PKCS #8 private key (RFC 8410, version 0): the 32-byte
/// seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The DER SubjectPublicKeyInfo of `id`'s key.
pub fn spki(id: &PeerId) -> Vec<u8> {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(&id.to_bytes());
    der
}

/// The peer id in a DER SubjectPublicKeyInfo, or why it is not an ed25519 key.
pub fn peer_of_spki(der: &[u8]) -> Result<PeerId, String> {
    let key = der
        .strip_prefix(&SPKI_PREFIX)
        .ok_or("the peer's raw public key is not an ed25519 key")?;
    let bytes: &[u8; 32] = key
        .try_into()
        .map_err(|_| "the peer's ed25519 key has the wrong length")?;
    PeerId::from_bytes(bytes)
}

/// The identity as rustls' certified key: its raw public key and its signer.
pub fn certified_key(identity: &Identity) -> Result<Arc<CertifiedKey>, rustls::Error> {
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&identity.seed());
    let signer = rustls::crypto::ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(der))?;
    let cert = CertificateDer::from(spki(&identity.id()));
    Ok(Arc::new(CertifiedKey::new(vec![cert], signer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trips_and_rejects_other_keys() {
        let identity = Identity::from_seed([7; 32]);
        let der = spki(&identity.id());
        assert_eq!(der.len(), 44);
        assert_eq!(peer_of_spki(&der).unwrap(), identity.id());
        let mut other = der.clone();
        other[8] = 0x71; // id-Ed448
        assert!(peer_of_spki(&other).is_err());
        assert!(peer_of_spki(&der[..40]).is_err());
    }

    #[test]
    fn certified_key_signs_with_the_identity() {
        let identity = Identity::from_seed([9; 32]);
        let key = certified_key(&identity).unwrap();
        assert_eq!(key.cert[0].as_ref(), spki(&identity.id()).as_slice());
        let signer = key
            .key
            .choose_scheme(&[rustls::SignatureScheme::ED25519])
            .unwrap();
        let sig = signer.sign(b"hello").unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        identity.id().key().verify_strict(b"hello", &sig).unwrap();
    }
}
