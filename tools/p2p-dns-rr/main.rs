//! `p2p-dns-rr`: live peers as low-TTL round-robin DNS. `serve` answers for a zone
//! from the peers on stdin, `query` turns any server's answers into `peer` records,
//! `publish` keeps a real DNS server's records current with RFC 2136 updates.

mod args;
mod feed;
mod publish;
mod query;
mod serve;
mod sockets;
mod stats;
mod table;
mod tsig;

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
        Command::Query(a) => query::run(&a, ctx),
        Command::Publish(a) => publish::run(&a, ctx),
    }
}
