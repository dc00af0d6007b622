//! Ed25519 public keys as other projects write them, read leniently where peers come
//! from files written for other tools (bootstrap lists): `did:key:z6Mk…` (multibase
//! base58btc of the `ed25519-pub` multicodec), base64 or base64url of the 32 key bytes
//! or of libp2p's protobuf-encoded key (`CAESI…`), and base58btc of the 32 key bytes.
//! The strict forms every tool accepts are in [`super::peer_id`].

use super::base_x::{self, BASE58BTC};
use super::libp2p;
use super::peer_id::PeerId;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// The multicodec `ed25519-pub` (0xed) as a varint, before the key in a `did:key`.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// The peer `text` names when it is an ed25519 public key in one of the encodings
/// above and a valid key; `None` otherwise.
pub fn parse(text: &str) -> Option<PeerId> {
    let text = text.trim();
    let key = if let Some(multibase) = text.strip_prefix("did:key:").or(Some(text))
        && let Some(z) = multibase.strip_prefix('z')
        && let Some(key) = base_x::decode(z, BASE58BTC)
            .and_then(|bytes| bytes.strip_prefix(&ED25519_PUB[..]).map(<[u8]>::to_vec))
    {
        key
    } else if let Some(bytes) = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .filter(|b| b.len() == 32 || b.len() == 36)
    {
        let protobuf_prefix = libp2p::protobuf_public_key(&[0; 32]);
        match bytes.strip_prefix(&protobuf_prefix[..4]) {
            Some(key) => key.to_vec(),
            None => bytes,
        }
    } else {
        base_x::decode(text, BASE58BTC)?
    };
    PeerId::from_bytes(&<[u8; 32]>::try_from(key.as_slice()).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 test 1's public key in each encoding (computed with the PyPI
    /// `multiformats` and `base58` packages and Python's base64).
    const HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn reads_every_listed_encoding() {
        let want: PeerId = HEX.parse().unwrap();
        for text in [
            "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
            "z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "CAESINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
            &base_x::encode(&want.to_bytes(), BASE58BTC),
        ] {
            assert_eq!(parse(text), Some(want), "{text}");
        }
    }

    #[test]
    fn ignores_what_is_not_a_key() {
        for text in [
            "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
            "Qm…",
            "",
            "c2hvcnQ=",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
