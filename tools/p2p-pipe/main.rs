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
    // A session's one-time costs are paid in the background from the first instant,
    // while the arguments are parsed (not for --help, --version and the like).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "connect" || a == "listen")
    {
        p2p_shared::connect::quic::warm::start();
    }
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::Listen(a) => listen::run(&a, ctx),
        Command::Connect(a) => connect::run(&a, ctx),
    }
}
