//! `p2p-pipe`: an encrypted, authenticated duplex stream to a peer id, on
//! stdin/stdout, or TCP connections forwarded over it.

mod args;
mod connect;
mod dumbpipe;
mod forward;
mod listen;
mod paths;
mod report;
mod session;
mod target;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::Listen(a) => listen::run(&a, ctx),
        Command::Connect(a) => connect::run(&a, ctx),
    }
}
