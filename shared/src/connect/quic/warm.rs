//! Warming up for the first handshake, on a thread of its own while the tool parses
//! its arguments and loads its key.
//!
//! A process pays some costs once, on first use, and a dialer pays them between its
//! start and its first byte: each crypto crate asks the CPU what it supports (CPUID)
//! the first time it runs, and in a virtual machine every CPUID traps to the
//! hypervisor (11-19 µs each on the build machine, tens of them per process: ring,
//! sha2, curve25519-dalek, chacha20, std's own detection); smol starts its executor
//! thread on the first task. Done here, they overlap with the main thread's work
//! instead of lying on the path of the first byte.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signer, SigningKey};

/// Starts the warm-up in the background and returns at once. Call it first thing
/// (`p2p-pipe` does, before parsing its arguments): the earlier it starts, the more
/// of it is done before the first handshake.
/// Only the first call does anything.
pub fn start() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("warm-up".into())
            .spawn(warm_up);
    });
}

fn warm_up() {
    // quinn's endpoint driver runs on smol's executor thread: started now.
    smol::spawn(async {}).detach();
    // The TLS key exchange (ring's x25519; ring detects the CPU on first use).
    let provider = rustls::crypto::ring::default_provider();
    if let Some(group) = provider.kx_groups.first() {
        let _ = group.start();
    }
    // Peer keys are checked with ed25519-dalek (SHA-512 and curve25519 backends).
    let key = SigningKey::from_bytes(&[7; 32]);
    let signature = key.sign(b"warm-up");
    let _ = key.verifying_key().verify_strict(b"warm-up", &signature);
    // chacha20 backs quinn's random numbers (rand's generator).
    let cipher = ChaCha20Poly1305::new(&Key::from([0; 32]));
    let _ = cipher.encrypt(&Nonce::from([0; 12]), &b""[..]);
    #[cfg(target_arch = "x86_64")]
    let _ = std::arch::is_x86_feature_detected!("avx2");
}
