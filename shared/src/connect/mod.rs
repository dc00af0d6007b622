//! Connecting to peers: the QUIC transport every stream between peers runs on
//! ([`quic`]), tickets that tell a dialer where a listener is ([`ticket`]), the
//! paths tried to reach a peer, direct first, then punched, then relayed ([`path`]),
//! the TURN client for the relayed path ([`turn_client`]) and the allocation as
//! QUIC's socket ([`turn_socket`]).
//!
//! Hole punching still lives in [`crate::punch`] until the layout moves it here; a
//! punched socket is handed to [`quic::Endpoint::from_socket`].

pub mod path;
pub mod quic;
pub mod ticket;
pub mod turn_client;
pub mod turn_socket;
