//! `p2p-punch`: see your NAT, and punch through it. STUN client and server, NAT
//! behaviour discovery (RFC 5780), a rendezvous, and UDP hole punching.

mod args;
mod nat;
mod punch;
mod registry;
mod serve;
mod stun;
mod stun_servers;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::Stun(a) => stun::run(&a, ctx),
        Command::Nat(a) => nat::run(&a, ctx),
        Command::Serve(a) => serve::run(&a, ctx),
        Command::Listen(a) => punch::listen(&a, ctx),
        Command::Connect(a) => punch::connect(&a, ctx),
    }
}
