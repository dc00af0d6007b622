//! Arbitrary text as a bootstrap file (`p2p-discover --peers FILE`): parsing never
//! panics, every bad entry names a line of the file, and every peer read prints as an
//! NDJSON `peer` line that reads back as that same peer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::discovery::bootstrap::parse;

fuzz_target!(|text: &str| {
    let lines = text.lines().count().max(1);
    for peer in parse(text).peers {
        match peer {
            Ok(peer) => {
                let line = serde_json::to_string(&peer).expect("a peer record serializes");
                let mut again = parse(&line).peers;
                assert_eq!(again.len(), 1, "{line}");
                assert_eq!(again.remove(0).as_ref(), Ok(&peer), "{line}");
            }
            Err((line, why)) => {
                assert!((1..=lines).contains(&line), "line {line} of {lines}: {why}");
                assert!(!why.is_empty());
            }
        }
    }
});
