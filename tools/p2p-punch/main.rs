//! `p2p-punch`: see your NAT, and punch through it. STUN client and server, NAT
//! behaviour discovery (RFC 5780), a rendezvous, and UDP hole punching.

mod args;
mod nat;
mod punch_cmds;
mod serve;
mod servers;
mod stun_cmd;

use args::{Args, Command};
use p2p_shared::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::Stun(a) => stun_cmd::run(&a, ctx),
        Command::Nat(a) => nat::run(&a, ctx),
        Command::Serve(a) => serve::run(&a, ctx),
        Command::Listen(a) => punch_cmds::listen(&a, ctx),
        Command::Connect(a) => punch_cmds::connect(&a, ctx),
    }
}
