//! Signatures over JSON objects: ed25519 over the RFC 8785 canonical form of the
//! object without its `sig` field.
//!
//! Who signed is named by `signer` (added by `p2p-keygen sign`) or, for a `peer`
//! record, by its `id`. A `peer` record's `via` is not covered either: it is how the
//! receiver found the record (mdns, dht, …), added after signing, so a record stays
//! valid however it travelled.

use crate::identity::Identity;
use crate::identity::canonical;
use crate::identity::peer_id::PeerId;
use crate::{Error, Result};
use ed25519_dalek::Signature;
use serde_json::{Map, Value};
use std::fmt;

/// The field that holds the signature (hex).
pub const SIG: &str = "sig";
/// The field that names the signer when the record's `id` does not.
pub const SIGNER: &str = "signer";

/// True for a field the signature over `object` does not cover.
fn uncovered(object: &Map<String, Value>, key: &str) -> bool {
    key == SIG || (key == "via" && object.get("type").and_then(Value::as_str) == Some("peer"))
}

/// The bytes a signature over `object` covers.
pub fn signed_bytes(object: &Map<String, Value>) -> Vec<u8> {
    canonical::object_to_vec(object, |key| uncovered(object, key))
}

/// Signs `object` in place, setting `sig`. The signer must already be named by
/// `signer` or (for peer records) `id`, or the signature will not verify.
pub fn sign(object: &mut Map<String, Value>, identity: &Identity) -> Result<()> {
    object.remove(SIG);
    let sig = identity.sign(&signed_bytes(object));
    object.insert(SIG.to_owned(), Value::String(hex::encode(sig.to_bytes())));
    Ok(())
}

/// Adds `signer` (this identity's id) and `sig` to `object`.
pub fn sign_as_signer(object: &mut Map<String, Value>, identity: &Identity) -> Result<()> {
    object.insert(SIGNER.to_owned(), Value::String(identity.id().to_string()));
    sign(object, identity)
}

/// Why an object's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// There is no `sig` field.
    Unsigned,
    /// Neither `signer` nor (for a peer record) `id` names who signed.
    NoSigner,
    /// The field that names the signer is not a peer id.
    BadSigner(String),
    /// `sig` is not 128 hex digits.
    BadEncoding,
    /// The signature is valid but by someone other than required.
    WrongSigner {
        /// Who signed.
        found: PeerId,
        /// Who was required.
        expected: PeerId,
    },
    /// The signature does not match the object and the signer.
    Mismatch(PeerId),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Unsigned => f.write_str("not signed (no sig field)"),
            VerifyError::NoSigner => f.write_str("no signer field names who signed"),
            VerifyError::BadSigner(why) => write!(f, "bad signer: {why}"),
            VerifyError::BadEncoding => f.write_str("sig is not 128 hex digits"),
            VerifyError::WrongSigner { found, expected } => {
                write!(f, "signed by {found}, not by the required {expected}")
            }
            VerifyError::Mismatch(signer) => write!(
                f,
                "signature does not match (altered after signing, or not signed by {signer})"
            ),
        }
    }
}

/// Who claims to have signed `object`: its `signer`, or a peer record's `id`.
pub fn claimed_signer(object: &Map<String, Value>) -> Result<PeerId, VerifyError> {
    let field = match object.get(SIGNER) {
        Some(v) => v,
        None if object.get("type").and_then(Value::as_str) == Some("peer") => {
            object.get("id").ok_or(VerifyError::NoSigner)?
        }
        None => return Err(VerifyError::NoSigner),
    };
    let text = field
        .as_str()
        .ok_or_else(|| VerifyError::BadSigner("not a string".to_owned()))?;
    text.parse().map_err(VerifyError::BadSigner)
}

/// Checks `object`'s signature and returns who signed it.
pub fn verify(object: &Map<String, Value>) -> Result<PeerId, VerifyError> {
    let sig_text = object
        .get(SIG)
        .ok_or(VerifyError::Unsigned)?
        .as_str()
        .ok_or(VerifyError::BadEncoding)?;
    let signer = claimed_signer(object)?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_text, &mut sig).map_err(|_| VerifyError::BadEncoding)?;
    let bytes = signed_bytes(object);
    signer
        .key()
        .verify_strict(&bytes, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::Mismatch(signer))?;
    Ok(signer)
}

/// Checks the signature and, when `expected` is given, that it is that peer's.
pub fn verify_by(
    object: &Map<String, Value>,
    expected: Option<&PeerId>,
) -> Result<PeerId, VerifyError> {
    let signer = verify(object)?;
    match expected {
        Some(expected) if *expected != signer => Err(VerifyError::WrongSigner {
            found: signer,
            expected: *expected,
        }),
        _ => Ok(signer),
    }
}

impl From<VerifyError> for Error {
    fn from(err: VerifyError) -> Self {
        Error::failure(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn signs_and_verifies_whatever_the_field_order() {
        let me = Identity::from_seed([9; 32]);
        let mut record = object(json!({"type": "message", "b": 1, "a": [true, null]}));
        sign_as_signer(&mut record, &me).unwrap();
        assert_eq!(verify(&record), Ok(me.id()));
        let reordered: Map<String, Value> = record.clone().into_iter().rev().collect();
        assert_eq!(verify(&reordered), Ok(me.id()));
    }

    #[test]
    fn tampering_and_wrong_signers_are_caught() {
        let me = Identity::from_seed([9; 32]);
        let other = Identity::from_seed([10; 32]);
        let mut record = object(json!({"type": "message", "text": "hi"}));
        sign_as_signer(&mut record, &me).unwrap();
        let mut tampered = record.clone();
        tampered.insert("text".into(), "bye".into());
        assert_eq!(verify(&tampered), Err(VerifyError::Mismatch(me.id())));
        assert_eq!(
            verify_by(&record, Some(&other.id())),
            Err(VerifyError::WrongSigner {
                found: me.id(),
                expected: other.id()
            })
        );
        let mut claimed = record.clone();
        claimed.insert(SIGNER.into(), other.id().to_string().into());
        assert_eq!(verify(&claimed), Err(VerifyError::Mismatch(other.id())));
        record.remove(SIG);
        assert_eq!(verify(&record), Err(VerifyError::Unsigned));
    }

    #[test]
    fn a_peer_record_is_signed_by_its_id_and_via_is_not_covered() {
        let me = Identity::from_seed([11; 32]);
        let mut record =
            object(json!({"type": "peer", "id": me.id(), "addrs": ["udp://192.0.2.1:1"]}));
        sign(&mut record, &me).unwrap();
        record.insert("via".into(), "dht".into());
        assert_eq!(verify(&record), Ok(me.id()));
        record.insert("topic".into(), "added".into());
        assert!(matches!(verify(&record), Err(VerifyError::Mismatch(_))));
    }
}
