//! Arbitrary JSON objects as `candidate` records. The object is first checked as
//! received (a forgery: it must never verify unless it is signed), then signed by a
//! fixed key with its `id` set to that key, so the fields behind the signature check
//! are reached too: parsing never panics, and a candidate that parses re-encodes to
//! a record that parses to the same candidate.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::connect::punch::candidate::Candidate;
use p2p_shared::identity::{Identity, signing};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(mut object) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let identity = Identity::from_seed([9; 32]);
    if Candidate::from_record(&object).is_ok() {
        assert!(
            object.contains_key("sig"),
            "an unsigned candidate was accepted"
        );
    }
    object.insert("type".into(), Value::from("candidate"));
    object.insert("id".into(), Value::from(identity.id().to_string()));
    if signing::sign_as_signer(&mut object, &identity).is_err() {
        return;
    }
    if let Ok(candidate) = Candidate::from_record(&object) {
        let record = candidate
            .to_record(&identity)
            .expect("a parsed candidate signs");
        assert_eq!(Candidate::from_record(&record), Ok(candidate));
    }
});
