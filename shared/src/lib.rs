//! The library every p2p toolbox tool links.
//!
//! Each tool's `main` hands its clap arguments and a `run` function to [`entry::main`];
//! everything the tools have in common lives here: exit statuses and errors
//! ([`status`]), the NDJSON writer and reader ([`output`], [`input`], [`parallel`]),
//! identities and peer ids ([`identity`], [`peer_id`]), URL-like addresses ([`addr`]),
//! RFC 8785 signatures over JSON objects ([`signing`]), signed peer records ([`peer`]),
//! sealed boxes ([`seal`]), the mainline DHT setup ([`dht`]), human durations
//! ([`duration`]), progress on stderr ([`progress`]), generated man pages and
//! completions ([`generate`]), DNS answers as peers ([`dns`]) and the responder of
//! `p2p-dns-rr serve` ([`dns_server`]).

pub mod addr;
pub mod bencode;
pub mod canonical;
pub mod codec;
pub mod connect;
pub mod dht;
pub mod diag;
pub mod dns;
pub mod dns_server;
pub mod duration;
pub mod entry;
pub mod generate;
pub mod identity;
pub mod input;
pub mod output;
pub mod parallel;
pub mod peer;
pub mod peer_id;
pub mod progress;
pub mod punch;
pub mod random;
pub mod seal;
pub mod shutdown;
pub mod signing;
pub mod status;
pub mod stun;

pub use status::{Context, Error, Result, Status};
