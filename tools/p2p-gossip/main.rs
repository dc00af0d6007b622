//! `p2p-gossip`: gossip signed messages through a swarm. HyParView membership,
//! Plumtree broadcast (or flooding), anti-entropy, over QUIC.

mod args;
mod lines;
mod peers;
mod run;

use args::Args;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

#[allow(clippy::needless_pass_by_value)] // the signature entry::main expects
fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    run::run(&args, ctx)
}
