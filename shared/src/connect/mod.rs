//! From a peer id to a path: UDP hole punching and its rendezvous ([`punch`]), the
//! QUIC transport every stream between peers runs on ([`quic`]), tickets that tell a
//! dialer where a listener is ([`ticket`]), the paths tried to reach a peer, direct
//! first, then punched, then relayed ([`path`]; a punched socket is handed to
//! [`quic::Endpoint::from_socket`]), the TURN client for the relayed path
//! ([`turn_client`]), a TURN allocation as QUIC's socket ([`turn_socket`]), and the
//! move of a relayed connection to a direct path once one opens ([`direct_path`],
//! [`upgrade`]).

pub mod direct_path;
pub mod path;
pub mod punch;
pub mod quic;
pub mod ticket;
pub mod turn_client;
pub mod turn_socket;
pub mod upgrade;
