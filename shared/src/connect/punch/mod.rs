//! UDP hole punching: STUN Binding transactions ([`binding`]), candidate records
//! ([`candidate`]), authenticated probes ([`probe`]), the punching engine
//! ([`engine`]), gathering candidates ([`gather`]) and the rendezvous protocol
//! ([`rendezvous`]).
//!
//! `p2p-punch` drives all of it from the command line; `p2p-pipe` punches with the
//! same engine and then runs QUIC on the punched socket.

pub mod binding;
pub mod candidate;
pub mod engine;
pub mod gather;
pub mod probe;
pub mod rendezvous;
