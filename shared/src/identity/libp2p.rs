//! libp2p's names for an ed25519 key: the peer id `12D3KooW…` (base58btc of the
//! identity multihash of the protobuf-encoded public key) and its CIDv1 form `k51…`
//! (multibase base36 of a CID with the `libp2p-key` codec). Both name the same key as
//! the toolbox's z-base-32 peer id, so they convert both ways without loss.

use super::base_x::{self, BASE36, BASE58BTC};

/// How every libp2p Ed25519 peer id starts (the fixed prefix bytes in base58btc).
pub const PEER_ID_PREFIX: &str = "12D3KooW";

/// The protobuf `PublicKey { Type: Ed25519, Data: <32 bytes> }` before the key bytes.
const PROTOBUF_ED25519: [u8; 4] = [0x08, 0x01, 0x12, 0x20];

/// Identity multihash (code 0x00) of 36 bytes: the protobuf-encoded key.
const IDENTITY_MULTIHASH: [u8; 2] = [0x00, 0x24];

/// CID version 1, multicodec `libp2p-key` (0x72).
const CID_V1_LIBP2P_KEY: [u8; 2] = [0x01, 0x72];

/// The multibase prefix of base36 lowercase.
const MULTIBASE_BASE36: char = 'k';

/// The protobuf encoding libp2p gives an ed25519 public key (36 bytes).
pub fn protobuf_public_key(key: &[u8; 32]) -> Vec<u8> {
    [&PROTOBUF_ED25519[..], key].concat()
}

/// The libp2p peer id (`12D3KooW…`) of an ed25519 public key.
pub fn peer_id(key: &[u8; 32]) -> String {
    base_x::encode(&multihash(key), BASE58BTC)
}

/// The CIDv1 form of the libp2p peer id (`k51…`), as IPNS names are written.
pub fn cid(key: &[u8; 32]) -> String {
    let bytes = [&CID_V1_LIBP2P_KEY[..], &multihash(key)].concat();
    format!("{MULTIBASE_BASE36}{}", base_x::encode(&bytes, BASE36))
}

fn multihash(key: &[u8; 32]) -> Vec<u8> {
    [&IDENTITY_MULTIHASH[..], &protobuf_public_key(key)].concat()
}

/// The ed25519 key a libp2p peer id or its CIDv1 form names. `None` when `text` has
/// neither form's shape; an error when it has but is not an Ed25519 id (an RSA or
/// secp256k1 id, or a `Qm…` SHA-256 id, which hides its key).
pub fn parse(text: &str) -> Option<Result<[u8; 32], String>> {
    let bytes = if text.starts_with(PEER_ID_PREFIX) || text.starts_with("Qm") {
        base_x::decode(text, BASE58BTC)
    } else if let Some(base36) = text.strip_prefix(MULTIBASE_BASE36)
        && base36.starts_with("51")
        // A z-base-32 peer id may start with `k51` too; it is shorter.
        && text.len() > super::peer_id::ZBASE32_LEN
    {
        base_x::decode(base36, BASE36)
            .map(|b| b.strip_prefix(&CID_V1_LIBP2P_KEY[..]).map(<[u8]>::to_vec))
            .map(Option::unwrap_or_default)
    } else {
        return None;
    };
    let Some(bytes) = bytes else {
        return Some(Err(format!("'{text}' is not base58btc/base36")));
    };
    Some(
        bytes
            .strip_prefix(&IDENTITY_MULTIHASH[..])
            .and_then(|rest| rest.strip_prefix(&PROTOBUF_ED25519[..]))
            .and_then(|key| <[u8; 32]>::try_from(key).ok())
            .ok_or_else(|| {
                format!(
                    "'{text}' is a libp2p id but not of an Ed25519 key, so it cannot name a toolbox peer"
                )
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 8032 test 1 public key, and its libp2p forms as computed independently
    /// with the PyPI packages `multiformats` 0.3.1 (identity multihash, CIDv1 in
    /// base36) and `base58` 2.1.1 (base58btc of the multihash).
    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const PEER_ID: &str = "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV";
    const CID: &str = "k51qzi5uqu5dljtg5upm7x7ugan9lql3ewyknv4r4mhhkwzn8n7cnbd1unfwgq";

    fn key() -> [u8; 32] {
        hex::decode(KEY).unwrap().try_into().unwrap()
    }

    #[test]
    fn matches_the_independent_implementation() {
        assert_eq!(peer_id(&key()), PEER_ID);
        assert_eq!(cid(&key()), CID);
    }

    #[test]
    fn parses_both_forms_back() {
        assert_eq!(parse(PEER_ID), Some(Ok(key())));
        assert_eq!(parse(CID), Some(Ok(key())));
        assert_eq!(parse("ybndrfg8"), None);
        let z32_like = format!("k51{}", "y".repeat(49));
        assert_eq!(parse(&z32_like), None);
    }

    #[test]
    fn refuses_ids_that_hide_or_lack_an_ed25519_key() {
        let sha256_id = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
        assert!(
            parse(sha256_id)
                .unwrap()
                .unwrap_err()
                .contains("not of an Ed25519")
        );
        assert!(
            parse("12D3KooW0000")
                .unwrap()
                .unwrap_err()
                .contains("base58")
        );
    }
}
