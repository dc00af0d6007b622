//! Arbitrary bytes as a KRPC answer (what `p2p-dht ping` and `sample` read from any
//! node): decoding never panics, and a decoded response re-encodes, as a query with
//! the same transaction id and fields, to bytes that decode to the same fields.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::codec::bencode::{self, Value};
use p2p_shared::codec::krpc::{Answer, decode_answer, encode_query};

fuzz_target!(|bytes: &[u8]| {
    if let Some((tid, Answer::Response { fields, .. })) = decode_answer(bytes) {
        let query = encode_query(&tid, "ping", fields.clone());
        let Ok(Value::Dict(decoded)) = bencode::decode(&query) else {
            panic!("an encoded query does not decode");
        };
        assert_eq!(decoded.get(&b"a"[..]), Some(&Value::Dict(fields)));
        assert_eq!(decoded.get(&b"t"[..]), Some(&Value::Bytes(tid)));
    }
});
