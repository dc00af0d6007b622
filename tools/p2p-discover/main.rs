//! `p2p-discover`: given a topic, find (and announce to) interested peers over mDNS,
//! the mainline DHT, BitTorrent trackers, bootstrap lists and DNS; and run a
//! tracker for small swarms.

mod args;
mod bootstrap;
mod finder;
mod found;
mod mdns;
mod mdns_query;
mod poll;
mod tls;
mod tracker_client;
mod tracker_server;
mod tracker_state;
mod via_dht;
mod via_dns;
mod via_tracker;

use args::{Args, Command};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Result, Status};
use std::process::ExitCode;

fn main() -> ExitCode {
    p2p_shared::cli::entry::main::<Args>(run)
}

fn run(args: Args, ctx: &Ctx) -> Result<Status> {
    match args.command {
        Some(Command::Tracker(t)) => tracker_server::run(
            t.bind,
            tracker_state::Limits {
                interval: t.interval,
                max_peers: t.max_peers,
                rate: t.rate,
                max_swarms: t.max_swarms,
                max_connections: t.max_connections,
            },
            t.stats_every,
            ctx,
        ),
        None => finder::run(&args.find, ctx),
    }
}
