//! The STUN message codec: RFC 5389/8489 messages over UDP, with the attributes a
//! Binding exchange and RFC 5780 NAT behaviour discovery use.
//!
//! Encoded: XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, OTHER-ADDRESS, RESPONSE-ORIGIN,
//! CHANGE-REQUEST, RESPONSE-PORT, SOFTWARE, ERROR-CODE, UNKNOWN-ATTRIBUTES and
//! FINGERPRINT. Decoding also understands RFC 3489's CHANGED-ADDRESS (what older
//! servers send instead of OTHER-ADDRESS) and keeps any other attribute as raw bytes.
//! [`decode`] never panics: every length is checked, and a FINGERPRINT that does not
//! match is an error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic cookie every RFC 5389 message carries in bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The Binding method.
pub const BINDING: u16 = 0x001;
/// The length of the fixed header.
pub const HEADER_LEN: usize = 20;
/// What FINGERPRINT's CRC-32 is XORed with ("STUN").
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// Attribute type numbers.
pub mod attr {
    /// MAPPED-ADDRESS (RFC 5389).
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// CHANGE-REQUEST (RFC 5780).
    pub const CHANGE_REQUEST: u16 = 0x0003;
    /// CHANGED-ADDRESS (RFC 3489, replaced by OTHER-ADDRESS).
    pub const CHANGED_ADDRESS: u16 = 0x0005;
    /// MESSAGE-INTEGRITY (RFC 5389).
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE (RFC 5389).
    pub const ERROR_CODE: u16 = 0x0009;
    /// UNKNOWN-ATTRIBUTES (RFC 5389).
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    /// XOR-MAPPED-ADDRESS (RFC 5389).
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// PADDING (RFC 5780).
    pub const PADDING: u16 = 0x0026;
    /// RESPONSE-PORT (RFC 5780).
    pub const RESPONSE_PORT: u16 = 0x0027;
    /// SOFTWARE (RFC 5389).
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT (RFC 5389).
    pub const FINGERPRINT: u16 = 0x8028;
    /// RESPONSE-ORIGIN (RFC 5780).
    pub const RESPONSE_ORIGIN: u16 = 0x802B;
    /// OTHER-ADDRESS (RFC 5780).
    pub const OTHER_ADDRESS: u16 = 0x802C;
}

/// The class of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A request (expects a response).
    Request,
    /// An indication (no response).
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// Where the request came from, in the clear (for RFC 3489 clients).
    MappedAddress(SocketAddr),
    /// Where the request came from, XORed with the cookie so NATs don't rewrite it.
    XorMappedAddress(SocketAddr),
    /// The server's other address (different IP and port), for RFC 5780 tests.
    OtherAddress(SocketAddr),
    /// RFC 3489's name for the other address, decoded from older servers.
    ChangedAddress(SocketAddr),
    /// The address the response was sent from.
    ResponseOrigin(SocketAddr),
    /// Ask the server to answer from its other IP and/or port.
    ChangeRequest {
        /// Answer from the other IP address.
        change_ip: bool,
        /// Answer from the other port.
        change_port: bool,
    },
    /// Ask the server to send the response to this port (at the request's IP).
    ResponsePort(u16),
    /// The software that sent the message.
    Software(String),
    /// An error response's code and reason.
    ErrorCode {
        /// 300 to 699.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The comprehension-required attributes a request had that the server did not know.
    UnknownAttributes(Vec<u16>),
    /// A CRC-32 over the message; computed when encoding, checked when decoding.
    Fingerprint,
    /// Any other attribute, kept as raw bytes.
    Other {
        /// The attribute type.
        kind: u16,
        /// Its value, without padding.
        value: Vec<u8>,
    },
}

impl Attribute {
    /// True for attribute types a receiver must understand (0x0000-0x7FFF) that this
    /// codec does not.
    pub fn is_unknown_required(&self) -> bool {
        matches!(self, Attribute::Other { kind, .. } if *kind < 0x8000 && *kind != attr::PADDING)
    }
}

/// A STUN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request, indication, success or error.
    pub class: Class,
    /// The method (Binding is 1).
    pub method: u16,
    /// The 96-bit transaction id.
    pub transaction_id: [u8; 12],
    /// The attributes, in order.
    pub attributes: Vec<Attribute>,
}

/// Why bytes are not a STUN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header or than the header says.
    Truncated,
    /// Not a STUN message: first bits, cookie or length are wrong.
    NotStun,
    /// An attribute's value is malformed.
    BadAttribute(u16),
    /// The FINGERPRINT does not match, or is not the last attribute.
    BadFingerprint,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated STUN message"),
            DecodeError::NotStun => f.write_str("not a STUN message"),
            DecodeError::BadAttribute(kind) => write!(f, "malformed STUN attribute 0x{kind:04x}"),
            DecodeError::BadFingerprint => f.write_str("STUN FINGERPRINT does not match"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Message {
    /// A Binding request with this transaction id and no attributes.
    pub fn binding_request(transaction_id: [u8; 12]) -> Self {
        Message {
            class: Class::Request,
            method: BINDING,
            transaction_id,
            attributes: Vec::new(),
        }
    }

    /// A response of `class` to `request` (same method and transaction id).
    pub fn response_to(request: &Message, class: Class) -> Self {
        Message {
            class,
            method: request.method,
            transaction_id: request.transaction_id,
            attributes: Vec::new(),
        }
    }

    /// The mapped address: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from older servers.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.attributes
            .iter()
            .find_map(|a| match a {
                Attribute::XorMappedAddress(addr) => Some(*addr),
                _ => None,
            })
            .or_else(|| {
                self.attributes.iter().find_map(|a| match a {
                    Attribute::MappedAddress(addr) => Some(*addr),
                    _ => None,
                })
            })
    }

    /// The server's other address: OTHER-ADDRESS, or RFC 3489's CHANGED-ADDRESS.
    pub fn other_address(&self) -> Option<SocketAddr> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::OtherAddress(addr) | Attribute::ChangedAddress(addr) => Some(*addr),
            _ => None,
        })
    }

    /// RESPONSE-ORIGIN, when present.
    pub fn response_origin(&self) -> Option<SocketAddr> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::ResponseOrigin(addr) => Some(*addr),
            _ => None,
        })
    }

    /// CHANGE-REQUEST's flags (change IP, change port); both false when absent.
    pub fn change_request(&self) -> (bool, bool) {
        self.attributes
            .iter()
            .find_map(|a| match a {
                Attribute::ChangeRequest {
                    change_ip,
                    change_port,
                } => Some((*change_ip, *change_port)),
                _ => None,
            })
            .unwrap_or((false, false))
    }

    /// RESPONSE-PORT, when present.
    pub fn response_port(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::ResponsePort(port) => Some(*port),
            _ => None,
        })
    }

    /// SOFTWARE, when present.
    pub fn software(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Software(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// ERROR-CODE, when present.
    pub fn error_code(&self) -> Option<(u16, &str)> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::ErrorCode { code, reason } => Some((*code, reason.as_str())),
            _ => None,
        })
    }

    /// The message as bytes. A [`Attribute::Fingerprint`] is computed here; anything
    /// after it is not written (FINGERPRINT is always last).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(128);
        let m = self.method & 0x0FFF;
        let c = self.class.bits();
        let kind = (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((c & 1) << 4)
            | ((c & 2) << 7);
        buf.extend_from_slice(&kind.to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&self.transaction_id);
        for attribute in &self.attributes {
            if *attribute == Attribute::Fingerprint {
                let len = u16::try_from(buf.len() - HEADER_LEN + 8).unwrap_or(u16::MAX);
                buf[2..4].copy_from_slice(&len.to_be_bytes());
                let crc = crc32(&buf) ^ FINGERPRINT_XOR;
                put_attribute(&mut buf, attr::FINGERPRINT, &crc.to_be_bytes());
                return buf;
            }
            self.encode_attribute(attribute, &mut buf);
        }
        let len = u16::try_from(buf.len() - HEADER_LEN).unwrap_or(u16::MAX);
        buf[2..4].copy_from_slice(&len.to_be_bytes());
        buf
    }

    fn encode_attribute(&self, attribute: &Attribute, buf: &mut Vec<u8>) {
        match attribute {
            Attribute::MappedAddress(a) => {
                put_attribute(buf, attr::MAPPED_ADDRESS, &address_value(*a, None));
            }
            Attribute::XorMappedAddress(a) => put_attribute(
                buf,
                attr::XOR_MAPPED_ADDRESS,
                &address_value(*a, Some(&self.transaction_id)),
            ),
            Attribute::OtherAddress(a) => {
                put_attribute(buf, attr::OTHER_ADDRESS, &address_value(*a, None));
            }
            Attribute::ChangedAddress(a) => {
                put_attribute(buf, attr::CHANGED_ADDRESS, &address_value(*a, None));
            }
            Attribute::ResponseOrigin(a) => {
                put_attribute(buf, attr::RESPONSE_ORIGIN, &address_value(*a, None));
            }
            Attribute::ChangeRequest {
                change_ip,
                change_port,
            } => {
                let flags = (u32::from(*change_ip) << 2) | (u32::from(*change_port) << 1);
                put_attribute(buf, attr::CHANGE_REQUEST, &flags.to_be_bytes());
            }
            Attribute::ResponsePort(port) => {
                let [hi, lo] = port.to_be_bytes();
                put_attribute(buf, attr::RESPONSE_PORT, &[hi, lo, 0, 0]);
            }
            Attribute::Software(text) => {
                put_attribute(buf, attr::SOFTWARE, text.as_bytes());
            }
            Attribute::ErrorCode { code, reason } => {
                let mut value = vec![0, 0];
                value.push(u8::try_from(code / 100).unwrap_or(0) & 0x07);
                value.push(u8::try_from(code % 100).unwrap_or(0));
                value.extend_from_slice(reason.as_bytes());
                put_attribute(buf, attr::ERROR_CODE, &value);
            }
            Attribute::UnknownAttributes(kinds) => {
                let value: Vec<u8> = kinds.iter().flat_map(|k| k.to_be_bytes()).collect();
                put_attribute(buf, attr::UNKNOWN_ATTRIBUTES, &value);
            }
            Attribute::Fingerprint => {}
            Attribute::Other { kind, value } => put_attribute(buf, *kind, value),
        }
    }
}

fn put_attribute(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&kind.to_be_bytes());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&value[..usize::from(len)]);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// The XOR pad for an address attribute: the cookie, then (for IPv6) the
/// transaction id.
fn xor_pad(transaction_id: &[u8; 12]) -> [u8; 16] {
    let mut pad = [0u8; 16];
    pad[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    pad[4..].copy_from_slice(transaction_id);
    pad
}

/// The value of an address attribute; XORed as XOR-MAPPED-ADDRESS is when `xor` gives
/// the transaction id (TURN's XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS use the same form).
pub fn address_value(addr: SocketAddr, xor: Option<&[u8; 12]>) -> Vec<u8> {
    let pad = xor.map(xor_pad);
    let port = addr.port() ^ pad.map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
    let mut value = vec![0];
    let ip: Vec<u8> = match addr.ip() {
        IpAddr::V4(ip) => {
            value.push(1);
            ip.octets().to_vec()
        }
        IpAddr::V6(ip) => {
            value.push(2);
            ip.octets().to_vec()
        }
    };
    value.extend_from_slice(&port.to_be_bytes());
    value.extend(
        ip.iter()
            .enumerate()
            .map(|(i, b)| b ^ pad.map_or(0, |p| p[i])),
    );
    value
}

/// Decodes the value of an address attribute of type `kind` (un-XORed with the
/// transaction id when `xor` gives it).
pub fn decode_address(
    kind: u16,
    value: &[u8],
    xor: Option<&[u8; 12]>,
) -> Result<SocketAddr, DecodeError> {
    let bad = DecodeError::BadAttribute(kind);
    if value.len() < 4 {
        return Err(bad);
    }
    let pad = xor.map(xor_pad);
    let port = u16::from_be_bytes([value[2], value[3]])
        ^ pad.map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
    let raw = &value[4..];
    let unxor = |i: usize, b: u8| b ^ pad.map_or(0, |p| p[i]);
    let ip = match (value[1], raw.len()) {
        (1, 4) => {
            let mut o = [0u8; 4];
            for (i, b) in raw.iter().enumerate() {
                o[i] = unxor(i, *b);
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (2, 16) => {
            let mut o = [0u8; 16];
            for (i, b) in raw.iter().enumerate() {
                o[i] = unxor(i, *b);
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return Err(bad),
    };
    Ok(SocketAddr::new(ip, port))
}

/// True when `bytes` look like a STUN message (first two bits zero and the magic
/// cookie in place): the cheap test to tell STUN from other traffic on one socket.
pub fn is_stun(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && bytes[0] & 0xC0 == 0 && bytes[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// Decodes one STUN message.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    if !is_stun(bytes) {
        return Err(DecodeError::NotStun);
    }
    let kind = u16::from_be_bytes([bytes[0], bytes[1]]);
    let length = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if length % 4 != 0 {
        return Err(DecodeError::NotStun);
    }
    if bytes.len() < HEADER_LEN + length {
        return Err(DecodeError::Truncated);
    }
    if bytes.len() > HEADER_LEN + length {
        return Err(DecodeError::NotStun);
    }
    let method = (kind & 0x000F) | ((kind >> 1) & 0x0070) | ((kind >> 2) & 0x0F80);
    let class = Class::from_bits(((kind >> 4) & 1) | ((kind >> 7) & 2));
    let mut transaction_id = [0u8; 12];
    transaction_id.copy_from_slice(&bytes[8..20]);
    let mut attributes = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        if bytes.len() - at < 4 {
            return Err(DecodeError::Truncated);
        }
        let akind = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let start = at + 4;
        let padded = alen.div_ceil(4) * 4;
        if bytes.len() - start < padded {
            return Err(DecodeError::Truncated);
        }
        let value = &bytes[start..start + alen];
        let attribute = match akind {
            attr::MAPPED_ADDRESS => Attribute::MappedAddress(decode_address(akind, value, None)?),
            attr::XOR_MAPPED_ADDRESS => {
                Attribute::XorMappedAddress(decode_address(akind, value, Some(&transaction_id))?)
            }
            attr::OTHER_ADDRESS => Attribute::OtherAddress(decode_address(akind, value, None)?),
            attr::CHANGED_ADDRESS => Attribute::ChangedAddress(decode_address(akind, value, None)?),
            attr::RESPONSE_ORIGIN => Attribute::ResponseOrigin(decode_address(akind, value, None)?),
            attr::CHANGE_REQUEST => {
                let flags: [u8; 4] = value
                    .try_into()
                    .map_err(|_| DecodeError::BadAttribute(akind))?;
                let flags = u32::from_be_bytes(flags);
                Attribute::ChangeRequest {
                    change_ip: flags & 4 != 0,
                    change_port: flags & 2 != 0,
                }
            }
            attr::RESPONSE_PORT => {
                if value.len() != 4 {
                    return Err(DecodeError::BadAttribute(akind));
                }
                Attribute::ResponsePort(u16::from_be_bytes([value[0], value[1]]))
            }
            attr::SOFTWARE => Attribute::Software(String::from_utf8_lossy(value).into_owned()),
            attr::ERROR_CODE => {
                // Class 3 to 6, number 0 to 99 (RFC 5389 section 15.6).
                if value.len() < 4 || !(3..=6).contains(&(value[2] & 0x07)) || value[3] > 99 {
                    return Err(DecodeError::BadAttribute(akind));
                }
                let code = u16::from(value[2] & 0x07) * 100 + u16::from(value[3]);
                Attribute::ErrorCode {
                    code,
                    reason: String::from_utf8_lossy(&value[4..]).into_owned(),
                }
            }
            attr::UNKNOWN_ATTRIBUTES => Attribute::UnknownAttributes(
                value
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            ),
            attr::FINGERPRINT => {
                let got: [u8; 4] = value.try_into().map_err(|_| DecodeError::BadFingerprint)?;
                if start + padded != bytes.len()
                    || u32::from_be_bytes(got) != crc32(&bytes[..at]) ^ FINGERPRINT_XOR
                {
                    return Err(DecodeError::BadFingerprint);
                }
                Attribute::Fingerprint
            }
            _ => Attribute::Other {
                kind: akind,
                value: value.to_vec(),
            },
        };
        attributes.push(attribute);
        at = start + padded;
    }
    Ok(Message {
        class,
        method,
        transaction_id,
        attributes,
    })
}

/// The CRC-32 table (IEEE polynomial, reflected), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation)]
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3), as FINGERPRINT uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 section 2.2: a sample IPv4 response (no MESSAGE-INTEGRITY check here:
    /// the codec keeps it as an opaque attribute).
    const RFC5769_IPV4_RESPONSE: &str = "0101003c2112a442b7e7a701bc34d686fa87dfae\
        8022000b7465737420766563746f7220\
        002000080001a147e112a643\
        000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
        80280004c07d4c96";

    /// RFC 5769 section 2.3: the same for IPv6.
    const RFC5769_IPV6_RESPONSE: &str = "010100482112a442b7e7a701bc34d686fa87dfae\
        8022000b7465737420766563746f7220\
        002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9\
        00080014a382954e4be67bf11784c97c8292c275bfe3ed41\
        80280004c8fb0b4c";

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn decodes_the_rfc5769_sample_responses() {
        let msg = decode(&unhex(RFC5769_IPV4_RESPONSE)).unwrap();
        assert_eq!(msg.class, Class::Success);
        assert_eq!(msg.method, BINDING);
        assert_eq!(
            msg.mapped_address(),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        assert_eq!(msg.software(), Some("test vector"));
        assert_eq!(msg.attributes.last(), Some(&Attribute::Fingerprint));
        let msg = decode(&unhex(RFC5769_IPV6_RESPONSE)).unwrap();
        assert_eq!(
            msg.mapped_address(),
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
    }

    #[test]
    fn a_changed_byte_breaks_the_fingerprint() {
        let mut bytes = unhex(RFC5769_IPV4_RESPONSE);
        bytes[30] ^= 1;
        assert_eq!(decode(&bytes), Err(DecodeError::BadFingerprint));
    }

    #[test]
    fn round_trips_every_attribute() {
        let msg = Message {
            class: Class::Success,
            method: BINDING,
            transaction_id: [7; 12],
            attributes: vec![
                Attribute::XorMappedAddress("198.51.100.7:40000".parse().unwrap()),
                Attribute::XorMappedAddress("[2001:db8::9]:1".parse().unwrap()),
                Attribute::MappedAddress("198.51.100.7:40000".parse().unwrap()),
                Attribute::OtherAddress("203.0.113.2:3479".parse().unwrap()),
                Attribute::ResponseOrigin("203.0.113.1:3478".parse().unwrap()),
                Attribute::ChangeRequest {
                    change_ip: true,
                    change_port: false,
                },
                Attribute::ResponsePort(5000),
                Attribute::Software("p2p-punch é".into()),
                Attribute::ErrorCode {
                    code: 420,
                    reason: "Unknown Attribute".into(),
                },
                Attribute::UnknownAttributes(vec![0x0031]),
                Attribute::Other {
                    kind: 0x8055,
                    value: vec![1, 2, 3],
                },
                Attribute::Fingerprint,
            ],
        };
        let bytes = msg.encode();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(decode(&bytes), Ok(msg));
    }

    #[test]
    fn class_and_method_bits_interleave() {
        let mut msg = Message::binding_request([1; 12]);
        assert_eq!(&msg.encode()[..2], &[0x00, 0x01]);
        msg.class = Class::Success;
        assert_eq!(&msg.encode()[..2], &[0x01, 0x01]);
        msg.class = Class::Error;
        assert_eq!(&msg.encode()[..2], &[0x01, 0x11]);
        msg.method = 0x0FFF;
        msg.class = Class::Indication;
        assert_eq!(decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert_eq!(decode(b"hello"), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0xff; 20]), Err(DecodeError::NotStun));
        let mut bytes = Message::binding_request([2; 12]).encode();
        bytes.extend_from_slice(&[0, 1, 0, 8, 0, 1]);
        bytes[3] = 8;
        assert_eq!(decode(&bytes), Err(DecodeError::Truncated));
        let mut bad_family = Message::binding_request([2; 12]);
        bad_family.attributes.push(Attribute::Other {
            kind: attr::MAPPED_ADDRESS,
            value: vec![0, 9, 0, 1, 1, 2, 3, 4],
        });
        assert_eq!(
            decode(&bad_family.encode()),
            Err(DecodeError::BadAttribute(attr::MAPPED_ADDRESS))
        );
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
