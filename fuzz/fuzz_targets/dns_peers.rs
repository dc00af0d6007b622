//! Arbitrary bytes as a DNS response read from the network, turned into peers as
//! `p2p-dns-rr query` and `p2p-discover --dns` do: it never panics, every peer it
//! yields says it came from DNS, and a peer's id matches its signature when signed.

#![no_main]

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use p2p_shared::discovery::dns;

fuzz_target!(|bytes: &[u8]| {
    let Ok(message) = Message::from_vec(bytes) else {
        return;
    };
    for port in [None, Some(4000)] {
        for peer in dns::peers(&message, port).into_iter().flatten() {
            assert_eq!(peer.via.as_deref(), Some(dns::VIA));
            if peer.is_signed() {
                assert_eq!(peer.verify().ok(), peer.id);
            }
        }
    }
});
