//! `p2p-keygen`: make and read ed25519 identities; sign, verify, seal and open
//! NDJSON lines.

mod args;
mod convert;
mod identity_cmds;
mod seal_cmds;
mod sign_cmds;

use args::{Args, Command};
use p2p_shared::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::New(a) => identity_cmds::new(&a, ctx),
        Command::Id(a) => identity_cmds::id(&a, ctx),
        Command::Peer(a) => identity_cmds::peer(&a, ctx),
        Command::Sign(a) => sign_cmds::sign(&a, ctx),
        Command::Verify(a) => sign_cmds::verify(&a, ctx),
        Command::Seal(a) => seal_cmds::seal(&a, ctx),
        Command::Open(a) => seal_cmds::open(&a, ctx),
        Command::Convert(a) => convert::run(&a, ctx),
    }
}
