//! The library every p2p toolbox tool links. Each tool's `main` hands its clap
//! arguments and a `run` function to [`cli::entry::main`]; nearly all logic lives here,
//! in folders by role, each layer using only those above it in this list:
//!
//! | module | role |
//! |---|---|
//! | [`status`], [`diag`], [`addr`], [`random`], [`budget`] | what everything uses: errors and exit statuses, stderr messages, URL-like addresses, OS randomness, the bounds servers hold to |
//! | [`identity`] | key files, peer ids, RFC 8785 canonical JSON, signatures, sealed boxes |
//! | [`ndjson`] | the contract between tools: the stdout writer, the stdin reader, typed records, signed peer records |
//! | [`cli`] | the entry point, `--generate`, progress, durations, shutdown signals |
//! | [`codec`] | wire formats: bencode, STUN, the tracker protocols |
//! | [`discovery`] | the DHT set-up, DNS answers as peers, the DNS responder |
//! | [`connect`] | from a peer id to a path: hole punching and its rendezvous |

pub mod addr;
pub mod budget;
pub mod cli;
pub mod codec;
pub mod connect;
pub mod diag;
pub mod discovery;
pub mod identity;
pub mod ndjson;
pub mod random;
pub mod status;

pub use status::{Context, Error, Result, Status};
