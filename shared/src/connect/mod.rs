//! From a peer id to a path: UDP hole punching and its rendezvous ([`punch`]), and
//! the QUIC transport every stream between peers runs on ([`quic`]); a punched
//! socket is handed to [`quic::Endpoint::from_socket`].

pub mod punch;
pub mod quic;
