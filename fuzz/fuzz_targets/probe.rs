//! Arbitrary bytes as a punch probe, and single-byte corruptions of a genuine one:
//! opening never panics, only the genuine probe of the right session and signer is
//! accepted, and any change to a sealed probe is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p_shared::connect::punch::probe::{Kind, LEN, MAGIC, Probe};
use p2p_shared::identity::Identity;

fuzz_target!(|data: &[u8]| {
    let peer = Identity::from_seed([7; 32]);
    let session = [3u8; 16];
    // Raw bytes, with and without the magic in front.
    let _ = Probe::open(data, &session, &peer.id());
    let mut framed = MAGIC.to_vec();
    framed.extend_from_slice(data);
    let _ = Probe::open(&framed, &session, &peer.id());

    // A genuine probe, then the same with one byte changed where the input says.
    let [at_hi, at_lo, xor, rest @ ..] = data else {
        return;
    };
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(rest) {
        *w = *b;
    }
    let probe = Probe {
        kind: Kind::Ack,
        session,
        nonce: u64::from_be_bytes(word),
        echo: u64::from_le_bytes(word),
        birthday: xor & 1 == 1,
    };
    let sealed = probe.seal(&peer);
    assert_eq!(sealed.len(), LEN);
    assert_eq!(Probe::open(&sealed, &session, &peer.id()), Ok(probe));
    assert!(Probe::open(&sealed, &[4; 16], &peer.id()).is_err());
    assert!(Probe::open(&sealed, &session, &Identity::from_seed([8; 32]).id()).is_err());
    let at = usize::from(u16::from_be_bytes([*at_hi, *at_lo])) % LEN;
    if *xor != 0 {
        let mut bent = sealed.clone();
        bent[at] ^= *xor;
        assert!(
            Probe::open(&bent, &session, &peer.id()).is_err(),
            "a probe changed at byte {at} was accepted"
        );
    }
});
