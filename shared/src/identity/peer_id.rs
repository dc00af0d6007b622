//! Peer ids: an ed25519 public key, written as z-base-32 (52 characters, the encoding
//! pkarr and the mainline DHT ecosystem use). Parsing also accepts 64 hex digits and
//! libp2p's names for the same key, `12D3KooW…` and the CIDv1 `k51…`
//! ([`super::libp2p`]).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The length of a peer id in z-base-32.
pub const ZBASE32_LEN: usize = 52;

/// An ed25519 public key that names a peer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(VerifyingKey);

impl PeerId {
    /// The peer id of a verifying key.
    pub fn from_key(key: VerifyingKey) -> Self {
        PeerId(key)
    }

    /// The peer id of 32 public-key bytes, if they are a valid ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, String> {
        VerifyingKey::from_bytes(bytes)
            .map(PeerId)
            .map_err(|_| "not a valid ed25519 public key".to_owned())
    }

    /// The key, for verifying signatures.
    pub fn key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The 32 public-key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }
}

impl PartialOrd for PeerId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered by the key bytes, so sets of peers iterate in a stable order.
impl Ord for PeerId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&z32::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl FromStr for PeerId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(key) = super::libp2p::parse(text) {
            return PeerId::from_bytes(&key?).map_err(|e| format!("'{text}': {e}"));
        }
        let bytes = match text.len() {
            ZBASE32_LEN => {
                z32::decode(text.as_bytes()).map_err(|_| format!("'{text}' is not z-base-32"))?
            }
            64 => hex::decode(text).map_err(|_| format!("'{text}' is not hex"))?,
            n => {
                return Err(format!(
                    "'{text}' is not a peer id (expected 52 z-base-32 or 64 hex characters, or a libp2p id 12D3KooW…, got {n} characters)"
                ));
            }
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("'{text}' does not decode to 32 bytes"))?;
        PeerId::from_bytes(&bytes).map_err(|e| format!("'{text}': {e}"))
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn z32_and_hex_name_the_same_peer() {
        let from_hex: PeerId = HEX.parse().unwrap();
        let z = from_hex.to_string();
        assert_eq!(z.len(), ZBASE32_LEN);
        let from_z: PeerId = z.parse().unwrap();
        assert_eq!(from_hex, from_z);
        assert_eq!(from_z.to_hex(), HEX);
    }

    #[test]
    fn libp2p_ids_name_the_same_peer() {
        let id: PeerId = HEX.parse().unwrap();
        let libp2p = super::super::libp2p::peer_id(&id.to_bytes());
        assert!(libp2p.starts_with("12D3KooW"), "{libp2p}");
        assert_eq!(libp2p.parse::<PeerId>(), Ok(id));
        let cid = super::super::libp2p::cid(&id.to_bytes());
        assert_eq!(cid.parse::<PeerId>(), Ok(id));
    }

    #[test]
    fn bad_ids_are_refused_with_a_reason() {
        assert!("abc".parse::<PeerId>().unwrap_err().contains("got 3"));
        let not_z32 = "0".repeat(52);
        assert!(not_z32.parse::<PeerId>().unwrap_err().contains("z-base-32"));
        let not_hex = "g".repeat(64);
        assert!(not_hex.parse::<PeerId>().unwrap_err().contains("hex"));
    }
}
