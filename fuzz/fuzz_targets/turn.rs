//! Arbitrary bytes as a TURN message or ChannelData: nothing panics; every TURN
//! attribute reader, MESSAGE-INTEGRITY and PEER-AUTH checks run on whatever decodes,
//! and a message re-signed with a key checks as valid under that key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::codec::stun;
use p2p_shared::codec::turn::{self, Integrity, Turn, attr};

fuzz_target!(|bytes: &[u8]| {
    if let Some((channel, payload)) = turn::decode_channel_data(bytes) {
        let mut again = Vec::new();
        turn::encode_channel_data(channel, payload, &mut again);
        assert_eq!(turn::decode_channel_data(&again), Some((channel, payload)));
    }
    let Ok(message) = stun::decode(bytes) else {
        return;
    };
    let _ = (
        message.lifetime(),
        message.requested_transport(),
        message.relayed_address(),
        message.peer_addresses(),
        message.data(),
        message.channel(),
        message.text(attr::USERNAME),
    );
    let key = turn::long_term_key("user", "realm", "password");
    let _ = turn::check_integrity(bytes, &key);
    let _ = turn::check_peer_auth(bytes);
    let mut unsigned = message.clone();
    unsigned.attributes.retain(|a| {
        !matches!(a, stun::Attribute::Fingerprint)
            && !matches!(a, stun::Attribute::Other { kind, .. } if *kind == attr::MESSAGE_INTEGRITY)
    });
    let signed = turn::encode_with_integrity(&unsigned, &key, true);
    if stun::decode(&signed).is_ok() {
        assert_eq!(turn::check_integrity(&signed, &key), Integrity::Valid);
    }
});
