//! `p2p-dht`: the BitTorrent mainline DHT from the shell — peers for infohashes and
//! topics, BEP 44 items, signed peer records, a long-lived node and a local testnet.

mod args;
mod items;
mod krpc;
mod nodes;
mod peers;
mod records;
mod runner;
mod sample;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Command::GetPeers(a) => peers::get_peers(&a, ctx),
        Command::Announce(a) => peers::announce(&a, ctx),
        Command::Put(a) => items::put(&a, ctx),
        Command::Get(a) => items::get(&a, ctx),
        Command::Publish(a) => records::publish(&a, ctx),
        Command::Resolve(a) => records::resolve(&a, ctx),
        Command::Ping(a) => krpc::run(&a, ctx),
        Command::Sample(a) => sample::run(&a, ctx),
        Command::FindNode(a) => nodes::find_node(&a, ctx),
        Command::Info(a) => nodes::info(&a, ctx),
        Command::Serve(a) => nodes::serve(&a, ctx),
        Command::Testnet(a) => nodes::testnet(&a, ctx),
    }
}
