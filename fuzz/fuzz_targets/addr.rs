//! Arbitrary text as a peer address: parsing never panics, and whatever parses prints
//! back to a form that parses to the same address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::addr::Addr;
use p2p_shared::identity::peer_id::PeerId;

fuzz_target!(|text: &str| {
    if let Ok(addr) = text.parse::<Addr>() {
        let printed = addr.to_string();
        let back: Addr = printed.parse().expect("a printed address parses");
        assert_eq!(back, addr);
    }
    if let Ok(id) = text.parse::<PeerId>() {
        assert_eq!(id.to_string().parse::<PeerId>().ok(), Some(id));
    }
});
