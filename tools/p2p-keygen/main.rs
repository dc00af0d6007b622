//! `p2p-keygen`: make and read ed25519 identities; sign, verify, seal and open
//! NDJSON lines.

mod args;
mod convert;
mod keys;
mod seal;
mod sign;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::New(a) => keys::new(&a, ctx),
        Command::Id(a) => keys::id(&a, ctx),
        Command::Peer(a) => keys::peer(&a, ctx),
        Command::Sign(a) => sign::sign(&a, ctx),
        Command::Verify(a) => sign::verify(&a, ctx),
        Command::Seal(a) => seal::seal(&a, ctx),
        Command::Open(a) => seal::open(&a, ctx),
        Command::Convert(a) => convert::run(&a, ctx),
    }
}
