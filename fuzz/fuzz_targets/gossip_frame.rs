//! Arbitrary bytes as a stream of gossip frames, fed in chunks of varying size:
//! decoding never panics, and every frame that decodes encodes to bytes that
//! decode to the same frame.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::gossip::frame::{FrameDecoder, Wire};

fuzz_target!(|bytes: &[u8]| {
    let Some((&chunk, stream)) = bytes.split_first() else {
        return;
    };
    let chunk = usize::from(chunk.max(1));
    let mut decoder = FrameDecoder::new(70_000);
    'feed: for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(wire)) => {
                    let encoded = wire.encode();
                    let again = Wire::decode(&encoded[4..]).expect("an encoded frame decodes");
                    assert_eq!(again, wire);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
});
