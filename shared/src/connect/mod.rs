//! From a peer id to a path: UDP hole punching and its rendezvous ([`punch`]), the
//! QUIC transport every stream between peers runs on ([`quic`]), tickets that tell a
//! dialer where a listener is ([`ticket`]), and the paths tried to reach a peer,
//! direct first, then punched ([`path`]); a punched socket is handed to
//! [`quic::Endpoint::from_socket`].

pub mod path;
pub mod punch;
pub mod quic;
pub mod ticket;
