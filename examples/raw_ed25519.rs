//! The raw single-core ed25519-dalek sign and verify rates, for `scripts/bench-keygen`
//! to set beside the rates of `p2p-keygen sign` and `verify` in the same run.
//!
//! Usage: `raw_ed25519 N [sign]` signs and verifies N messages shaped like the
//! canonical form of a small NDJSON record, and prints one JSON object with the
//! rates; with `sign` it only signs (for instruction counts under callgrind).

use ed25519_dalek::{Signer, SigningKey};
use std::time::Instant;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let messages: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            format!(
                "{{\"i\":{i},\"text\":\"a short message of the usual size\",\"type\":\"message\"}}"
            )
            .into_bytes()
        })
        .collect();

    let start = Instant::now();
    let signatures: Vec<_> = messages.iter().map(|m| key.sign(m)).collect();
    let sign_secs = start.elapsed().as_secs_f64();
    if std::env::args().nth(2).as_deref() == Some("sign") {
        std::hint::black_box(signatures);
        return;
    }

    let start = Instant::now();
    let valid = messages
        .iter()
        .zip(&signatures)
        .filter(|(m, s)| public.verify_strict(m, s).is_ok())
        .count();
    let verify_secs = start.elapsed().as_secs_f64();
    assert_eq!(valid, count, "a fresh signature failed to verify");

    #[allow(clippy::cast_precision_loss)]
    let rate = |secs: f64| count as f64 / secs;
    let report = serde_json::json!({
        "type": "stats",
        "lines": count,
        "raw_sign_per_s": rate(sign_secs).round(),
        "raw_verify_per_s": rate(verify_secs).round(),
    });
    std::io::Write::write_all(&mut std::io::stdout(), format!("{report}\n").as_bytes())
        .expect("writing the report");
}
