//! From a peer id to a path: UDP hole punching and its rendezvous ([`punch`]).

pub mod punch;
