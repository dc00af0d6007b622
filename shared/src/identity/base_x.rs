//! Big-number base encodings (the "base-x" scheme): base58btc for libp2p peer ids and
//! base36 for their CIDv1 form. Each leading zero byte is written as the alphabet's
//! first character, as base58btc and multibase base36 both do.

/// Bitcoin's base58 alphabet (multibase `z`, libp2p peer ids).
pub const BASE58BTC: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Lowercase base36 (multibase `k`).
pub const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Encodes `bytes` in the base of `alphabet`'s length.
pub fn encode(bytes: &[u8], alphabet: &[u8]) -> String {
    let base = u32::try_from(alphabet.len()).expect("a short alphabet");
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Digits, least significant first.
    let mut digits: Vec<u32> = Vec::with_capacity(bytes.len() * 2);
    for &byte in &bytes[zeros..] {
        let mut carry = u32::from(byte);
        for digit in &mut digits {
            carry += *digit << 8;
            *digit = carry % base;
            carry /= base;
        }
        while carry > 0 {
            digits.push(carry % base);
            carry /= base;
        }
    }
    let mut text = String::with_capacity(zeros + digits.len());
    text.extend(std::iter::repeat_n(char::from(alphabet[0]), zeros));
    text.extend(
        digits
            .iter()
            .rev()
            .map(|&d| char::from(alphabet[d as usize])),
    );
    text
}

/// Decodes `text` written in `alphabet`; `None` when a character is not in it.
pub fn decode(text: &str, alphabet: &[u8]) -> Option<Vec<u8>> {
    let base = u32::try_from(alphabet.len()).expect("a short alphabet");
    let zeros = text.bytes().take_while(|&c| c == alphabet[0]).count();
    // Bytes, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let mut carry = u32::try_from(alphabet.iter().position(|&a| a == c)?).ok()?;
        for byte in &mut bytes {
            carry += u32::from(*byte) * base;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_known_strings() {
        // From the base58 draft (draft-msporny-base58): "Hello World!" and a leading zero.
        assert_eq!(encode(b"Hello World!", BASE58BTC), "2NEpo7TZRRrLZSi2U");
        assert_eq!(
            encode(&[0, 0, 0x28, 0x7f, 0xb4, 0xcd], BASE58BTC),
            "11233QC4"
        );
        assert_eq!(
            decode("11233QC4", BASE58BTC).unwrap(),
            [0, 0, 0x28, 0x7f, 0xb4, 0xcd]
        );
        assert_eq!(decode("0OIl", BASE58BTC), None);
    }

    #[test]
    fn round_trips_in_both_bases() {
        for bytes in [&[][..], &[0], &[0, 0, 1], &[255; 40], b"\x01\x72\x00\x24"] {
            for alphabet in [&BASE58BTC[..], &BASE36[..]] {
                let text = encode(bytes, alphabet);
                assert_eq!(decode(&text, alphabet).unwrap(), bytes, "{text}");
            }
        }
        assert_eq!(encode(&[0xff], BASE36), "73");
    }
}
