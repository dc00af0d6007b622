//! Bencode (BEP 3), as BitTorrent trackers speak it: byte strings, integers, lists
//! and dictionaries with byte-string keys.
//!
//! The decoder reads untrusted network input: it bounds nesting depth, rejects
//! leading zeros and trailing bytes, and never panics.

use std::collections::BTreeMap;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A byte string.
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A list.
    List(Vec<Value>),
    /// A dictionary, keys sorted as bencode requires.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// The deepest nesting the decoder accepts.
const MAX_DEPTH: usize = 32;

impl Value {
    /// A byte string from text.
    pub fn text(text: &str) -> Value {
        Value::Bytes(text.as_bytes().to_vec())
    }

    /// The value under `key`, if this is a dictionary that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(map) => map.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The encoded form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(map) => {
                out.push(b'd');
                for (key, value) in map {
                    Value::Bytes(key.clone()).encode_into(out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

/// Builds a dictionary from `(key, value)` pairs.
pub fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

/// Decodes one complete bencoded value.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut pos = 0;
    let value = parse(bytes, &mut pos, 0)?;
    if pos != bytes.len() {
        return Err(format!("{} bytes of trailing data", bytes.len() - pos));
    }
    Ok(value)
}

fn parse(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".to_owned());
    }
    let at = *pos;
    match bytes.get(at) {
        None => Err("ends early".to_owned()),
        Some(b'i') => {
            let end = find(bytes, at + 1, b'e')?;
            let digits = &bytes[at + 1..end];
            let valid = match digits {
                [b'-', b'0', ..] | [b'0', _, ..] | [] | [b'-'] => false,
                [b'-', rest @ ..] | rest => rest.iter().all(u8::is_ascii_digit),
            };
            let text = std::str::from_utf8(digits).map_err(|_| "bad integer")?;
            let int = text
                .parse()
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| format!("bad integer at byte {at}"))?;
            *pos = end + 1;
            Ok(Value::Int(int))
        }
        Some(b'l') => {
            *pos += 1;
            let mut items = Vec::new();
            while bytes.get(*pos) != Some(&b'e') {
                items.push(parse(bytes, pos, depth + 1)?);
            }
            *pos += 1;
            Ok(Value::List(items))
        }
        Some(b'd') => {
            *pos += 1;
            let mut map = BTreeMap::new();
            while bytes.get(*pos) != Some(&b'e') {
                let Value::Bytes(key) = parse_bytes(bytes, pos)? else {
                    unreachable!("parse_bytes returns bytes")
                };
                let value = parse(bytes, pos, depth + 1)?;
                map.insert(key, value);
            }
            *pos += 1;
            Ok(Value::Dict(map))
        }
        Some(b'0'..=b'9') => parse_bytes(bytes, pos),
        Some(other) => Err(format!("unexpected byte 0x{other:02x} at {at}")),
    }
}

fn parse_bytes(bytes: &[u8], pos: &mut usize) -> Result<Value, String> {
    let at = *pos;
    let colon = find(bytes, at, b':')?;
    let len: usize = std::str::from_utf8(&bytes[at..colon])
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("bad string length at byte {at}"))?;
    let start = colon + 1;
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format!("string at byte {at} runs past the end"))?;
    *pos = end;
    Ok(Value::Bytes(bytes[start..end].to_vec()))
}

fn find(bytes: &[u8], from: usize, byte: u8) -> Result<usize, String> {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == byte))
        .map(|i| from + i)
        .ok_or_else(|| format!("no '{}' after byte {from}", byte as char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_tracker_response() {
        let value = dict([
            ("interval", Value::Int(1800)),
            ("peers", Value::Bytes(vec![192, 0, 2, 1, 0x1a, 0xe1])),
            ("list", Value::List(vec![Value::text("a"), Value::Int(-3)])),
        ]);
        let bytes = value.encode();
        assert!(
            bytes.starts_with(b"d8:intervali1800e4:listl1:ai-3ee"),
            "{bytes:?}"
        );
        assert_eq!(decode(&bytes), Ok(value));
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            &b"i01e"[..],
            b"i-0e",
            b"ie",
            b"5:abc",
            b"d3:keyi1e",
            b"l",
            b"i1ei2e",
            b"x",
            b"-1:a",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "l".repeat(100) + &"e".repeat(100);
        assert!(decode(deep.as_bytes()).unwrap_err().contains("deeply"));
    }
}
