//! Gossip: signed messages through a swarm, each delivered to every node about once.
//!
//! Written as sans-IO state machines so that the same code runs in the tool over
//! QUIC and in a deterministic in-process simulation ([`sim`]):
//!
//! - [`message`]: the signed message format and its id;
//! - [`frame`]: frames between neighbours and their decoder;
//! - [`hyparview`]: membership (active and passive views);
//! - [`plumtree`]: broadcast along a self-repairing spanning tree;
//! - [`node`]: one node, with validation, rate limits and anti-entropy;
//! - [`net`], [`driver`]: a node's QUIC connections, and the node driven over them;
//! - [`seen`], [`store`], [`rate`], [`rng`], [`estimate`]: its bounded parts;
//! - [`log`]: the `--store` file.

pub mod driver;
pub mod estimate;
pub mod frame;
pub mod hyparview;
pub mod log;
pub mod message;
pub mod net;
pub mod node;
pub mod plumtree;
pub mod rate;
pub mod rng;
pub mod seen;
pub mod sim;
#[cfg(test)]
mod sim_tests;
pub mod store;

pub use frame::{FrameDecoder, PeerInfo, Wire};
pub use message::{Message, MessageId};
pub use node::{Config, DropReason, Mode, Node, Output, PublishError, Stats};
