//! `p2p-relay`: a TURN relay (RFC 8656 over UDP) for peers that cannot punch, with
//! peer-key and coturn-style shared-secret access and limits on by default; and a
//! probe that checks any TURN relay works.

mod alloc;
mod args;
mod auth;
mod batch;
mod probe;
mod serve;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::Serve(a) => serve::run(&a, ctx),
        Command::Probe(a) => probe::run(&a, ctx),
    }
}
