//! `p2p`: the toolbox's front command. Lists the tools, prints the table of roles,
//! and runs `p2p-NAME` for `p2p NAME …`, as `git` runs its commands.

mod args;
mod front;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        None | Some(Command::Tools) => front::tools(args.json, ctx),
        Some(Command::Roles) => front::roles(args.json, ctx),
        Some(Command::Run(argv)) => front::dispatch(&argv),
    }
}
