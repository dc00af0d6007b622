//! Arbitrary bytes as a STUN message: decoding never panics, and whatever decodes
//! encodes to bytes that decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::codec::stun;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(message) = stun::decode(bytes) {
        let again = stun::decode(&message.encode()).expect("an encoded message decodes");
        assert_eq!(again, message);
    }
});
