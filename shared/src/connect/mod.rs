//! Connecting to peers: the QUIC transport every stream between peers runs on
//! ([`quic`]).
//!
//! Hole punching still lives in [`crate::punch`] until the layout moves it here; a
//! punched socket is handed to [`quic::Endpoint::from_socket`].

pub mod quic;
