//! The integration tests, one binary for all (one link instead of one per file on a
//! small machine): a module per tool, one for compositions, one that runs the demo,
//! one that runs the recipes of `scripts/examples/`, one that keeps the generated
//! man pages and completions current, one for `-v` narration, and the shared harness in `common/`.

#[macro_use]
mod common;

mod completion;
mod compose;
mod contract;
mod demo;
mod dht;
mod discover;
mod dns_publish;
mod dns_serve;
mod examples;
mod front;
mod generated_docs;
mod gossip;
mod hostile;
mod keygen;
mod pipe;
mod pipe_lab;
mod punch;
mod punch_lab;
mod recipes;
mod relay;
mod relay_path;
mod shutdown;
mod verbose;
