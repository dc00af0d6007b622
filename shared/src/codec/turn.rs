//! TURN (RFC 8656) on top of the STUN codec: the methods, the attributes, error codes,
//! MESSAGE-INTEGRITY with long-term credentials, coturn's shared-secret ("REST")
//! credentials, ChannelData framing, and this toolbox's peer-key authentication.
//!
//! TURN attributes travel as [`Attribute::Other`] in a [`Message`]: the constructors
//! here build them and the [`Turn`] trait reads them, so the STUN decoder stays the
//! one place that parses the message format. MESSAGE-INTEGRITY covers the bytes
//! before it, so it is computed on encoding ([`encode_with_integrity`]) and checked
//! on the received bytes ([`check_integrity`]).
//!
//! Peer-key authentication: the comprehension-optional attribute PEER-AUTH (0xC0A1,
//! in the designated-expert range, so standard servers ignore it) holds the client's
//! ed25519 public key and a signature over the message up to that attribute (the
//! header's length counting PEER-AUTH, as for MESSAGE-INTEGRITY). The message carries
//! the server's NONCE and REALM, so the signature answers the server's challenge and
//! protects the request's contents at once.

use crate::codec::stun::{self, Attribute, Message};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use md5::{Digest as _, Md5};
use sha1::Sha1;
use std::net::SocketAddr;

/// TURN method numbers (RFC 8656 section 17).
pub mod method {
    /// Allocate (request/response).
    pub const ALLOCATE: u16 = 0x003;
    /// Refresh (request/response).
    pub const REFRESH: u16 = 0x004;
    /// Send (indication, client to server).
    pub const SEND: u16 = 0x006;
    /// Data (indication, server to client).
    pub const DATA: u16 = 0x007;
    /// CreatePermission (request/response).
    pub const CREATE_PERMISSION: u16 = 0x008;
    /// ChannelBind (request/response).
    pub const CHANNEL_BIND: u16 = 0x009;
}

/// TURN and authentication attribute types (RFC 8656 section 18, RFC 8489).
pub mod attr {
    /// USERNAME (RFC 8489).
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY: HMAC-SHA1 (RFC 8489).
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// CHANNEL-NUMBER.
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// LIFETIME, in seconds.
    pub const LIFETIME: u16 = 0x000D;
    /// XOR-PEER-ADDRESS.
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// DATA.
    pub const DATA: u16 = 0x0013;
    /// REALM (RFC 8489).
    pub const REALM: u16 = 0x0014;
    /// NONCE (RFC 8489).
    pub const NONCE: u16 = 0x0015;
    /// XOR-RELAYED-ADDRESS.
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// REQUESTED-ADDRESS-FAMILY.
    pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
    /// EVEN-PORT.
    pub const EVEN_PORT: u16 = 0x0018;
    /// REQUESTED-TRANSPORT.
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    /// DONT-FRAGMENT.
    pub const DONT_FRAGMENT: u16 = 0x001A;
    /// RESERVATION-TOKEN.
    pub const RESERVATION_TOKEN: u16 = 0x0022;
    /// PEER-AUTH: this toolbox's peer-key proof (comprehension-optional).
    pub const PEER_AUTH: u16 = 0xC0A1;
}

/// STUN/TURN error codes a relay answers with.
pub mod code {
    /// 400 Bad Request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthenticated.
    pub const UNAUTHENTICATED: u16 = 401;
    /// 403 Forbidden.
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 437 Allocation Mismatch.
    pub const ALLOCATION_MISMATCH: u16 = 437;
    /// 438 Stale Nonce.
    pub const STALE_NONCE: u16 = 438;
    /// 440 Address Family not Supported.
    pub const ADDRESS_FAMILY: u16 = 440;
    /// 441 Wrong Credentials.
    pub const WRONG_CREDENTIALS: u16 = 441;
    /// 442 Unsupported Transport Protocol.
    pub const UNSUPPORTED_TRANSPORT: u16 = 442;
    /// 486 Allocation Quota Reached.
    pub const ALLOCATION_QUOTA: u16 = 486;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;
    /// 508 Insufficient Capacity.
    pub const INSUFFICIENT_CAPACITY: u16 = 508;
}

/// The reason phrase RFC 8489/8656 give for `code`.
pub fn reason(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthenticated",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        486 => "Allocation Quota Reached",
        508 => "Insufficient Capacity",
        _ => "Server Error",
    }
}

/// The protocol number of UDP, the only transport RFC 8656 relays over.
pub const UDP: u8 = 17;
/// The lowest channel number.
pub const CHANNEL_MIN: u16 = 0x4000;
/// The highest channel number RFC 8656 allows (and this toolbox's client uses).
pub const CHANNEL_MAX: u16 = 0x4FFF;
/// The highest channel number RFC 5766 allowed; older clients (coturn's
/// `turnutils_uclient` among them) pick numbers up to it, so a server accepts them.
pub const CHANNEL_MAX_RFC5766: u16 = 0x7FFE;
/// An allocation's default lifetime in seconds (RFC 8656 section 3.2).
pub const DEFAULT_LIFETIME: u32 = 600;
/// How long a permission lives without refresh, in seconds.
pub const PERMISSION_LIFETIME: u32 = 300;
/// How long a channel binding lives without refresh, in seconds.
pub const CHANNEL_LIFETIME: u32 = 600;
/// The length of a MESSAGE-INTEGRITY attribute with its header.
const INTEGRITY_LEN: usize = 24;
/// The length of a PEER-AUTH value: public key and signature.
const PEER_AUTH_LEN: usize = 96;
/// What a PEER-AUTH signature signs before the message bytes.
const PEER_AUTH_CONTEXT: &[u8] = b"p2p-relay peer-auth v1\n";

/// LIFETIME.
pub fn lifetime(seconds: u32) -> Attribute {
    other(attr::LIFETIME, seconds.to_be_bytes().to_vec())
}

/// REQUESTED-TRANSPORT for UDP.
pub fn requested_transport_udp() -> Attribute {
    other(attr::REQUESTED_TRANSPORT, vec![UDP, 0, 0, 0])
}

/// XOR-PEER-ADDRESS, XORed for a message with `transaction_id`.
pub fn xor_peer_address(addr: SocketAddr, transaction_id: &[u8; 12]) -> Attribute {
    other(
        attr::XOR_PEER_ADDRESS,
        stun::address_value(addr, Some(transaction_id)),
    )
}

/// XOR-RELAYED-ADDRESS, XORed for a message with `transaction_id`.
pub fn xor_relayed_address(addr: SocketAddr, transaction_id: &[u8; 12]) -> Attribute {
    other(
        attr::XOR_RELAYED_ADDRESS,
        stun::address_value(addr, Some(transaction_id)),
    )
}

/// DATA.
pub fn data(bytes: &[u8]) -> Attribute {
    other(attr::DATA, bytes.to_vec())
}

/// CHANNEL-NUMBER.
pub fn channel_number(channel: u16) -> Attribute {
    let [hi, lo] = channel.to_be_bytes();
    other(attr::CHANNEL_NUMBER, vec![hi, lo, 0, 0])
}

/// USERNAME.
pub fn username(text: &str) -> Attribute {
    other(attr::USERNAME, text.as_bytes().to_vec())
}

/// REALM.
pub fn realm(text: &str) -> Attribute {
    other(attr::REALM, text.as_bytes().to_vec())
}

/// NONCE.
pub fn nonce(text: &str) -> Attribute {
    other(attr::NONCE, text.as_bytes().to_vec())
}

/// ERROR-CODE with the standard reason phrase.
pub fn error(code: u16) -> Attribute {
    Attribute::ErrorCode {
        code,
        reason: reason(code).to_owned(),
    }
}

fn other(kind: u16, value: Vec<u8>) -> Attribute {
    Attribute::Other { kind, value }
}

/// Reading TURN attributes from a decoded message.
pub trait Turn {
    /// The value of the first attribute of type `kind`.
    fn raw(&self, kind: u16) -> Option<&[u8]>;

    /// LIFETIME in seconds.
    fn lifetime(&self) -> Option<u32> {
        let v: [u8; 4] = self.raw(attr::LIFETIME)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// REQUESTED-TRANSPORT's protocol number.
    fn requested_transport(&self) -> Option<u8> {
        self.raw(attr::REQUESTED_TRANSPORT)
            .filter(|v| v.len() == 4)
            .map(|v| v[0])
    }

    /// XOR-RELAYED-ADDRESS.
    fn relayed_address(&self) -> Option<SocketAddr>;

    /// Every XOR-PEER-ADDRESS (CreatePermission may carry several); `None` when one
    /// of them is malformed.
    fn peer_addresses(&self) -> Option<Vec<SocketAddr>>;

    /// DATA.
    fn data(&self) -> Option<&[u8]> {
        self.raw(attr::DATA)
    }

    /// CHANNEL-NUMBER.
    fn channel(&self) -> Option<u16> {
        self.raw(attr::CHANNEL_NUMBER)
            .filter(|v| v.len() == 4)
            .map(|v| u16::from_be_bytes([v[0], v[1]]))
    }

    /// A text attribute (USERNAME, REALM, NONCE) when it is UTF-8.
    fn text(&self, kind: u16) -> Option<&str> {
        std::str::from_utf8(self.raw(kind)?).ok()
    }
}

impl Turn for Message {
    fn raw(&self, kind: u16) -> Option<&[u8]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Other { kind: k, value } if *k == kind => Some(value.as_slice()),
            _ => None,
        })
    }

    fn relayed_address(&self) -> Option<SocketAddr> {
        let value = self.raw(attr::XOR_RELAYED_ADDRESS)?;
        stun::decode_address(attr::XOR_RELAYED_ADDRESS, value, Some(&self.transaction_id)).ok()
    }

    fn peer_addresses(&self) -> Option<Vec<SocketAddr>> {
        self.attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Other { kind, value } if *kind == attr::XOR_PEER_ADDRESS => {
                    Some(stun::decode_address(*kind, value, Some(&self.transaction_id)).ok())
                }
                _ => None,
            })
            .collect()
    }
}

/// The long-term credential key: MD5 of `username:realm:password` (RFC 8489
/// section 9.2.2). Passwords are used as given (no SASLprep: ASCII passwords, as
/// coturn's shared-secret ones are, are unchanged by it).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(format!("{username}:{realm}:{password}").as_bytes());
    md5.finalize().into()
}

/// The password of coturn's shared-secret ("TURN REST API") credentials: base64 of
/// HMAC-SHA1(secret, username), where the username is `expiry:name`.
pub fn rest_password(secret: &str, username: &str) -> String {
    let mut mac = hmac_sha1(secret.as_bytes());
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    // HMAC takes keys of any length.
    Hmac::<Sha1>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// `message` as bytes with MESSAGE-INTEGRITY (HMAC-SHA1 under `key`) appended, and
/// then FINGERPRINT when `fingerprint`. The message itself must carry neither.
pub fn encode_with_integrity(message: &Message, key: &[u8], fingerprint: bool) -> Vec<u8> {
    let mut signed = message.clone();
    signed
        .attributes
        .push(other(attr::MESSAGE_INTEGRITY, vec![0; 20]));
    let mut bytes = signed.encode();
    let at = bytes.len() - INTEGRITY_LEN;
    let mut mac = hmac_sha1(key);
    mac.update(&bytes[..at]);
    let tag = mac.finalize().into_bytes();
    bytes[at + 4..].copy_from_slice(&tag);
    if fingerprint {
        if let Some(Attribute::Other { value, .. }) = signed.attributes.last_mut() {
            value.copy_from_slice(&tag);
        }
        signed.attributes.push(Attribute::Fingerprint);
        bytes = signed.encode();
    }
    bytes
}

/// What [`check_integrity`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// The message has no MESSAGE-INTEGRITY.
    Absent,
    /// MESSAGE-INTEGRITY matches the key.
    Valid,
    /// MESSAGE-INTEGRITY does not match.
    Invalid,
}

/// Where the attribute of type `kind` starts in the encoded message `bytes`.
fn attribute_offset(bytes: &[u8], kind: u16) -> Option<(usize, usize)> {
    let mut at = stun::HEADER_LEN;
    while bytes.len().saturating_sub(at) >= 4 {
        let k = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if k == kind {
            return (bytes.len() >= at + 4 + len).then_some((at, len));
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// The bytes before offset `at` with the header length rewritten to end `extra`
/// bytes after it, as MESSAGE-INTEGRITY and PEER-AUTH are computed.
fn covered(bytes: &[u8], at: usize, extra: usize) -> Vec<u8> {
    let mut head = bytes[..at].to_vec();
    let len = u16::try_from(at + extra - stun::HEADER_LEN).unwrap_or(u16::MAX);
    head[2..4].copy_from_slice(&len.to_be_bytes());
    head
}

/// Checks the MESSAGE-INTEGRITY of the received message `bytes` (already decoded
/// without error) under `key`, in constant time.
pub fn check_integrity(bytes: &[u8], key: &[u8]) -> Integrity {
    let Some((at, len)) = attribute_offset(bytes, attr::MESSAGE_INTEGRITY) else {
        return Integrity::Absent;
    };
    if len != 20 {
        return Integrity::Invalid;
    }
    let mut mac = hmac_sha1(key);
    mac.update(&covered(bytes, at, INTEGRITY_LEN));
    match mac.verify_slice(&bytes[at + 4..at + INTEGRITY_LEN]) {
        Ok(()) => Integrity::Valid,
        Err(_) => Integrity::Invalid,
    }
}

/// `message` as bytes with PEER-AUTH appended: `identity`'s public key and its
/// signature over the message so far (then FINGERPRINT when `fingerprint`).
pub fn encode_with_peer_auth(message: &Message, identity: &Identity, fingerprint: bool) -> Vec<u8> {
    let mut signed = message.clone();
    signed
        .attributes
        .push(other(attr::PEER_AUTH, vec![0; PEER_AUTH_LEN]));
    let bytes = signed.encode();
    let at = bytes.len() - 4 - PEER_AUTH_LEN;
    let mut to_sign = PEER_AUTH_CONTEXT.to_vec();
    to_sign.extend_from_slice(&bytes[..at]);
    let mut value = identity.id().to_bytes().to_vec();
    value.extend_from_slice(&identity.sign(&to_sign).to_bytes());
    if let Some(Attribute::Other { value: v, .. }) = signed.attributes.last_mut() {
        *v = value;
    }
    if fingerprint {
        signed.attributes.push(Attribute::Fingerprint);
    }
    signed.encode()
}

/// What [`check_peer_auth`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAuth {
    /// The message has no PEER-AUTH.
    Absent,
    /// A valid signature by this peer.
    Valid(PeerId),
    /// PEER-AUTH is malformed or its signature does not verify.
    Invalid,
}

/// Checks the PEER-AUTH of the received message `bytes`.
pub fn check_peer_auth(bytes: &[u8]) -> PeerAuth {
    let Some((at, len)) = attribute_offset(bytes, attr::PEER_AUTH) else {
        return PeerAuth::Absent;
    };
    if len != PEER_AUTH_LEN {
        return PeerAuth::Invalid;
    }
    let value = &bytes[at + 4..at + 4 + PEER_AUTH_LEN];
    let key: [u8; 32] = value[..32].try_into().unwrap_or([0; 32]);
    let Ok(id) = PeerId::from_bytes(&key) else {
        return PeerAuth::Invalid;
    };
    let sig: [u8; 64] = value[32..].try_into().unwrap_or([0; 64]);
    let mut signed = PEER_AUTH_CONTEXT.to_vec();
    signed.extend_from_slice(&covered(bytes, at, 4 + PEER_AUTH_LEN));
    match id.key().verify(&signed, &Signature::from_bytes(&sig)) {
        Ok(()) => PeerAuth::Valid(id),
        Err(_) => PeerAuth::Invalid,
    }
}

/// True when `bytes` start like a ChannelData message (channel 0x4000-0x7FFE:
/// RFC 5766's range, which includes RFC 8656's 0x4000-0x4FFF).
pub fn is_channel_data(bytes: &[u8]) -> bool {
    bytes.len() >= 4
        && (CHANNEL_MIN..=CHANNEL_MAX_RFC5766).contains(&u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Appends a ChannelData message carrying `payload` on `channel` to `buf` (no
/// padding: over UDP it is optional, RFC 8656 section 12.5).
pub fn encode_channel_data(channel: u16, payload: &[u8], buf: &mut Vec<u8>) {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&channel.to_be_bytes());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&payload[..usize::from(len)]);
}

/// The channel and payload of a ChannelData message; `None` when the channel number
/// is out of range or the datagram is shorter than its length field says (padding
/// after the payload is allowed).
pub fn decode_channel_data(bytes: &[u8]) -> Option<(u16, &[u8])> {
    if !is_channel_data(bytes) {
        return None;
    }
    let channel = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    let payload = bytes.get(4..4 + len)?;
    Some((channel, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::stun::{Class, decode};

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text.split_whitespace().collect::<String>()).unwrap()
    }

    /// RFC 5769 section 2.2, whose MESSAGE-INTEGRITY uses the short-term password
    /// below as its key.
    const RFC5769_IPV4_RESPONSE: &str = "0101003c2112a442b7e7a701bc34d686fa87dfae\
        8022000b7465737420766563746f7220\
        002000080001a147e112a643\
        000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
        80280004c07d4c96";
    const RFC5769_PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

    /// RFC 5769 section 2.4: a request with long-term authentication (username
    /// "マトリックス", password "TheMatrIX", realm "example.org").
    const RFC5769_LONG_TERM: &str = "000100602112a44278ad3433c6ad72c029da412e\
        00060012e3839ee38388e383aae38383e382afe382b90000\
        0015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b\
        6578616d706c652e6f726700\
        00080014f67024656dd64a3e02b8e0712e85c9a28ca89666";

    #[test]
    fn checks_the_rfc5769_short_term_integrity() {
        let bytes = unhex(RFC5769_IPV4_RESPONSE);
        assert!(decode(&bytes).is_ok());
        assert_eq!(
            check_integrity(&bytes, RFC5769_PASSWORD.as_bytes()),
            Integrity::Valid
        );
        assert_eq!(check_integrity(&bytes, b"wrong"), Integrity::Invalid);
    }

    #[test]
    fn checks_the_rfc5769_long_term_integrity() {
        let bytes = unhex(RFC5769_LONG_TERM);
        let msg = decode(&bytes).unwrap();
        let user = msg.text(attr::USERNAME).unwrap();
        assert_eq!(user, "マトリックス");
        assert_eq!(msg.text(attr::REALM), Some("example.org"));
        assert_eq!(msg.text(attr::NONCE), Some("f//499k954d6OL34oL9FSTvy64sA"));
        let key = long_term_key(user, "example.org", "TheMatrIX");
        assert_eq!(check_integrity(&bytes, &key), Integrity::Valid);
        let wrong = long_term_key(user, "example.org", "thematrix");
        assert_eq!(check_integrity(&bytes, &wrong), Integrity::Invalid);
    }

    #[test]
    fn integrity_we_write_is_integrity_we_accept_and_a_flipped_bit_is_not() {
        let key = long_term_key("1700000000:alice", "p2p-relay", "pw");
        let mut msg = Message {
            class: Class::Request,
            method: method::ALLOCATE,
            transaction_id: [3; 12],
            attributes: vec![requested_transport_udp(), lifetime(600), username("u")],
        };
        for fingerprint in [false, true] {
            let bytes = encode_with_integrity(&msg, &key, fingerprint);
            let decoded = decode(&bytes).unwrap();
            assert_eq!(decoded.lifetime(), Some(600));
            assert_eq!(decoded.requested_transport(), Some(UDP));
            assert_eq!(check_integrity(&bytes, &key), Integrity::Valid);
            let mut bad = bytes.clone();
            bad[24] ^= 1;
            assert_eq!(check_integrity(&bad, &key), Integrity::Invalid);
        }
        msg.attributes.clear();
        assert_eq!(check_integrity(&msg.encode(), &key), Integrity::Absent);
    }

    #[test]
    fn rest_password_is_base64_hmac_sha1() {
        // Computed independently: printf 1700000000:alice | openssl dgst -sha1
        // -hmac s3cret -binary | base64
        assert_eq!(
            rest_password("s3cret", "1700000000:alice"),
            "TtElzSjT0GdnTQ9xdcRNxx96yQs="
        );
    }

    #[test]
    fn turn_attributes_round_trip() {
        let tid = [9; 12];
        let peer: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let relayed: SocketAddr = "[2001:db8::1]:50000".parse().unwrap();
        let msg = Message {
            class: Class::Success,
            method: method::CHANNEL_BIND,
            transaction_id: tid,
            attributes: vec![
                xor_peer_address(peer, &tid),
                xor_peer_address(relayed, &tid),
                xor_relayed_address(relayed, &tid),
                channel_number(0x4001),
                data(b"hello"),
            ],
        };
        let back = decode(&msg.encode()).unwrap();
        assert_eq!(back.peer_addresses(), Some(vec![peer, relayed]));
        assert_eq!(back.relayed_address(), Some(relayed));
        assert_eq!(back.channel(), Some(0x4001));
        assert_eq!(back.data(), Some(&b"hello"[..]));
    }

    #[test]
    fn peer_auth_signs_the_message() {
        let identity = Identity::from_seed([5; 32]);
        let msg = Message {
            class: Class::Request,
            method: method::ALLOCATE,
            transaction_id: [1; 12],
            attributes: vec![requested_transport_udp(), nonce("n1"), realm("r")],
        };
        let bytes = encode_with_peer_auth(&msg, &identity, true);
        assert!(decode(&bytes).is_ok());
        assert_eq!(check_peer_auth(&bytes), PeerAuth::Valid(identity.id()));
        let mut forged = bytes.clone();
        forged[40] ^= 1;
        assert_eq!(check_peer_auth(&forged), PeerAuth::Invalid);
        assert_eq!(check_peer_auth(&msg.encode()), PeerAuth::Absent);
    }

    #[test]
    fn channel_data_frames() {
        let mut buf = Vec::new();
        encode_channel_data(0x4000, b"abc", &mut buf);
        assert_eq!(buf, [0x40, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(decode_channel_data(&buf), Some((0x4000, &b"abc"[..])));
        buf.push(0);
        assert_eq!(decode_channel_data(&buf), Some((0x4000, &b"abc"[..])));
        assert_eq!(decode_channel_data(&buf[..5]), None);
        assert_eq!(decode_channel_data(&[0x7F, 0xFF, 0, 0]), None);
        assert_eq!(decode_channel_data(&[0x80, 0, 0, 0]), None);
        assert!(!is_channel_data(
            &Message::binding_request([0; 12]).encode()
        ));
    }
}
