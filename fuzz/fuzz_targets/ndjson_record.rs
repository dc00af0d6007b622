//! Arbitrary bytes as NDJSON input: the line reader, the object parser, peer records,
//! signature checks, canonicalization, identity and sealed records must never panic,
//! and canonical JSON must be a fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::ndjson::input::{LineReader, parse_object};
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{identity::Identity, identity::canonical, identity::signing};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::new(data, 4096);
    while let Ok(Some(line)) = reader.next_line() {
        let Ok(object) = parse_object(&line, 4096) else {
            continue;
        };
        let _ = signing::verify(&object);
        let bytes = canonical::to_vec(&Value::Object(object.clone()));
        let again: Value = serde_json::from_slice(&bytes).expect("canonical JSON parses");
        assert_eq!(
            canonical::to_vec(&again),
            bytes,
            "canonical form is not a fixed point"
        );
        let _ = Identity::from_record(&object);
        if let Ok(record) = PeerRecord::from_object(object) {
            let _ = record.verify();
        }
    }
});
