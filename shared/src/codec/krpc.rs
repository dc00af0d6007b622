//! KRPC, the DHT's message format (BEP 5): a query is
//! `{"t": tid, "y": "q", "q": METHOD, "a": {"id": our 20-byte id, …}}`, bencoded; the
//! answer is `{"t": tid, "y": "r", "r": {"id": its id, …}}` or an error
//! `{"y": "e", "e": [code, message]}`. Used by `p2p-dht ping` and `sample`, which talk
//! to one node over a socket of their own.

use crate::codec::bencode::{self, Value as Bencode};
use std::collections::BTreeMap;

/// A node's answer to a query.
#[derive(Debug)]
pub enum Answer {
    /// A response: the `r` dictionary (its `id` checked to be 20 bytes) and the
    /// client version tag `v`, if sent.
    Response {
        /// The `r` dictionary.
        fields: BTreeMap<Vec<u8>, Bencode>,
        /// The `v` field (client name and version), if present.
        version: Option<Vec<u8>>,
    },
    /// A KRPC error.
    Error(i64, String),
}

impl Answer {
    /// The answering node's id (present in every response).
    pub fn id(fields: &BTreeMap<Vec<u8>, Bencode>) -> &[u8] {
        fields
            .get(&b"id"[..])
            .and_then(Bencode::as_bytes)
            .unwrap_or_default()
    }
}

/// A bencoded byte string.
pub fn bytes(text: &[u8]) -> Bencode {
    Bencode::Bytes(text.to_vec())
}

/// The bencoded query `method` with arguments `args` (our `id` among them).
pub fn encode_query(tid: &[u8], method: &str, args: BTreeMap<Vec<u8>, Bencode>) -> Vec<u8> {
    let query = BTreeMap::from([
        (b"t".to_vec(), bytes(tid)),
        (b"y".to_vec(), bytes(b"q")),
        (b"q".to_vec(), bytes(method.as_bytes())),
        (b"a".to_vec(), Bencode::Dict(args)),
    ]);
    Bencode::Dict(query).encode()
}

/// Decodes a datagram into its transaction id and answer; `None` when it is not an
/// answer at all.
pub fn decode_answer(datagram: &[u8]) -> Option<(Vec<u8>, Answer)> {
    let Ok(Bencode::Dict(message)) = bencode::decode(datagram) else {
        return None;
    };
    let field = |key: &[u8]| message.get(key);
    let tid = field(b"t")?.as_bytes()?.to_vec();
    let version = field(b"v").and_then(Bencode::as_bytes).map(<[u8]>::to_vec);
    let answer = match (field(b"y"), field(b"r"), field(b"e")) {
        (Some(Bencode::Bytes(y)), Some(Bencode::Dict(r)), _) if y == b"r" => {
            if Answer::id(r).len() == 20 {
                Answer::Response {
                    fields: r.clone(),
                    version,
                }
            } else {
                Answer::Error(0, "a response without a valid id".to_owned())
            }
        }
        (Some(Bencode::Bytes(y)), _, Some(Bencode::List(e))) if y == b"e" => {
            let code = e.first().and_then(Bencode::as_int).unwrap_or(0);
            let text = e
                .get(1)
                .and_then(Bencode::as_bytes)
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .unwrap_or_default();
            Answer::Error(code, text)
        }
        _ => return None,
    };
    Some((tid, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_is_the_bep5_example_shape() {
        let args = BTreeMap::from([(b"id".to_vec(), bytes(b"abcdefghij0123456789"))]);
        assert_eq!(
            encode_query(b"aa", "ping", args),
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec()
        );
    }

    #[test]
    fn answers_carry_their_transaction_id() {
        let pong = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        let (tid, answer) = decode_answer(pong).unwrap();
        assert_eq!(tid, b"aa");
        let Answer::Response { fields, version } = answer else {
            panic!("not a response: {answer:?}");
        };
        assert_eq!(Answer::id(&fields), b"mnopqrstuvwxyz123456");
        assert_eq!(version, None);
        let error = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        assert!(matches!(
            decode_answer(error),
            Some((_, Answer::Error(201, _)))
        ));
        let no_id = b"d1:rd2:id3:abce1:t2:aa1:y1:re";
        assert!(matches!(
            decode_answer(no_id),
            Some((_, Answer::Error(0, _)))
        ));
        assert!(decode_answer(b"not bencode").is_none());
    }
}
