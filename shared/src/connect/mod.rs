//! Getting a packet path to a peer. For now the TURN client (the relayed path);
//! punching and the QUIC transport move here too.

pub mod turn_client;
