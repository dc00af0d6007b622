//! QUIC between peers: quinn on the smol runtime, TLS 1.3 (rustls with ring)
//! authenticated by the peers' ed25519 identity keys as RFC 7250 raw public keys.
//!
//! - [`keys`]: an identity as a raw public key, and a raw public key as a peer id.
//! - [`verify`]: the dialer accepts only the peer id it asked for; a listener only the
//!   ids of its allow list ([`Allow`]).
//! - [`config`]: TLS and transport settings, tuned for throughput.
//! - [`endpoint`]: an [`Endpoint`] bound to a socket (or handed a punched one) that
//!   dials a peer id at several addresses at once and accepts allowed peers.
//! - [`runtime`]: quinn on smol, with sockets that send without asking the reactor first.
//! - [`icmp`]: peers whose port is gone, from ICMP on the socket's error queue.
//! - [`warm`]: one-time start-up costs paid in the background, off the first byte's path.
//!
//! Each protocol has its own ALPN ([`ALPN_PIPE`], [`ALPN_GOSSIP`]); a connection
//! succeeds only when both sides speak it.

pub mod config;
pub mod endpoint;
pub mod icmp;
pub mod keys;
pub mod runtime;
pub mod verify;
pub mod warm;

pub use config::Tuning;
pub use endpoint::{Endpoint, Incoming};
pub use verify::Allow;

/// The ALPN of `p2p-pipe` streams.
pub const ALPN_PIPE: &[u8] = b"p2p-pipe/1";
/// The ALPN of `p2p-gossip`.
pub const ALPN_GOSSIP: &[u8] = b"p2p-gossip/1";

#[cfg(test)]
mod tests;
