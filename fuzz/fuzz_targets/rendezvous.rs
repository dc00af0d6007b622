//! Arbitrary bytes as a rendezvous datagram (with and without the `p2pR` magic):
//! decoding never panics, a decoded message re-encodes to a datagram that decodes,
//! and the candidate records and proofs it carries are checked without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::connect::punch::candidate::Candidate;
use p2p_shared::connect::punch::rendezvous::{MAGIC, Message, check_proof, is_rendezvous};

fn check(datagram: &[u8]) {
    let decoded = Message::decode(datagram);
    if !is_rendezvous(datagram) {
        assert!(decoded.is_err(), "a datagram without the magic decoded");
    }
    let Ok(message) = decoded else {
        return;
    };
    let again = Message::decode(&message.encode()).expect("an encoded message decodes");
    assert_eq!(
        std::mem::discriminant(&again),
        std::mem::discriminant(&message)
    );
    match &message {
        Message::Register {
            candidate,
            challenge,
            proof,
        } => {
            if let Ok(candidate) = Candidate::from_record(candidate) {
                let _ = check_proof(&candidate.id, challenge.as_bytes(), proof);
            }
        }
        Message::Introduce { peer, .. } => {
            let _ = Candidate::from_record(peer);
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut framed = MAGIC.to_vec();
    framed.extend_from_slice(data);
    check(&framed);
});
