//! Arbitrary text as a ticket, and arbitrary bytes as the body of one: decoding never
//! panics, and whatever decodes encodes back to a ticket that decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::connect::ticket::{PREFIX, Ticket};

fn round_trips(text: &str) {
    if let Ok(ticket) = Ticket::decode(text) {
        let back = Ticket::decode(&ticket.encode()).expect("an encoded ticket decodes");
        assert_eq!(back, ticket);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        round_trips(text);
    }
    round_trips(&format!("{PREFIX}{}", z32::encode(data)));
});
