//! The command line of `p2p-discover`.

use crate::tracker_client::Tracker;
use crate::via_dns::Target;
use clap::{Parser, Subcommand};
use p2p_shared::addr::Addr;
use p2p_shared::cli::address;
use p2p_shared::identity::IdentityArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`; HTTP trackers carry
signed peer records, UDP ones cannot):
  p2p-discover tracker --bind 127.0.0.1:6969 &
  p2p-discover chat --tracker http://127.0.0.1:6969/announce --announce 4000 -i key.json >a &
  p2p-discover chat --tracker http://127.0.0.1:6969/announce --count 1 | p2p-keygen verify
  p2p-discover chat --tracker udp://127.0.0.1:6969 --count 1
  p2p-dht announce --topic chat --port 4000 && p2p-discover chat --dht --count 1
  p2p-discover chat --peers peers.json --peers more.ndjson
  p2p-dns-rr serve --zone peers.example.org --bind 127.0.0.1:5353 < peers.ndjson &
  p2p-discover chat --dns peers.example.org --dns-server 127.0.0.1:5353 --count 1
  p2p-discover chat --mdns --interface lo --announce 4000 -i key.json --watch >b &
  p2p-discover --all --interface lo --count 1      # every _p2p._udp peer on the link";

/// Given a topic, find (and announce to) interested peers: mDNS, the mainline DHT,
/// BitTorrent trackers, bootstrap lists, DNS.
///
/// Prints `peer` records as soon as each is found, de-duplicated by (id, address)
/// across mechanisms; signed records are verified and forged ones dropped. With no
/// mechanism flag: mDNS and the DHT. The topic's DHT and tracker infohash is the
/// SHA-1 of its UTF-8 bytes.
#[derive(Debug, Parser)]
#[command(
    name = "p2p-discover",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    /// Run a tracker instead of discovering
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub find: FindArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a BitTorrent tracker (HTTP and UDP on one port) for small swarms, CI and LANs
    Tracker(TrackerArgs),
}

/// Discovering peers of a topic.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    /// The topic; without one, mDNS lists every `_p2p._udp` peer on the link
    pub topic: Option<String>,
    /// List every `_p2p._udp` peer on the link, whatever its topic, as avahi-browse
    /// does (the same as giving no topic; mDNS, bootstrap files and DNS only)
    #[arg(long, conflicts_with = "topic")]
    pub all: bool,
    /// Use mDNS on the local link
    #[arg(long)]
    pub mdns: bool,
    /// Use the mainline DHT (get_peers, and announce_peer with --announce)
    #[arg(long)]
    pub dht: bool,
    /// A DHT node to bootstrap from, e.g. a local `p2p-dht testnet` (repeatable;
    /// $P2P_DHT_BOOTSTRAP holds a comma-separated list) [default: the public routers]
    #[arg(
        long = "bootstrap",
        alias = "bootstrap-dht",
        value_name = "ADDR",
        env = p2p_shared::discovery::dht::BOOTSTRAP_ENV,
        value_delimiter = ',',
        value_parser = p2p_shared::discovery::dht::parse_node_addr,
        hide_env_values = true
    )]
    pub bootstrap: Vec<std::net::SocketAddrV4>,
    /// How long to wait for one DHT node's answer
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = p2p_shared::cli::duration::parse)]
    pub dht_request_timeout: Duration,
    /// Restrict mDNS to this interface (repeatable)
    #[arg(long = "interface", value_name = "NAME")]
    pub interfaces: Vec<String>,
    /// Ask (and announce to) a BitTorrent tracker: http://HOST:PORT/announce,
    /// https://HOST:PORT/announce or udp://HOST:PORT
    #[arg(long = "tracker", value_name = "URL")]
    pub trackers: Vec<Tracker>,
    /// Also trust the CA certificates in this PEM file for HTTPS trackers (beside the
    /// system's roots, which $SSL_CERT_FILE or $SSL_CERT_DIR can replace)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Read peers from a file: a JSON map {id: addr} (also written in brackets, as
    /// the handbook does), a JSON list, NDJSON peer records, or address lines
    /// (repeatable)
    #[arg(long = "peers", alias = "bootstrap-file", value_name = "FILE")]
    pub peer_files: Vec<PathBuf>,
    /// Turn a DNS name's TXT, SRV (_p2p._udp.NAME) and, with :PORT, A/AAAA records
    /// into peers (repeatable)
    #[arg(long = "dns", value_name = "NAME[:PORT]")]
    pub dns: Vec<Target>,
    /// The DNS server to ask [default: the first nameserver in /etc/resolv.conf]
    #[arg(long, value_name = "SERVER", value_parser = address::socket_or_port(53))]
    pub dns_server: Option<SocketAddr>,
    /// Announce this peer on PORT on every selected mechanism, and keep re-announcing
    #[arg(long, value_name = "PORT")]
    pub announce: Option<u16>,
    /// An address to put in this peer's signed record (repeatable) [default: this
    /// host's addresses with the announced port]
    #[arg(long = "addr", value_name = "ADDR", requires = "announce")]
    pub addrs: Vec<Addr>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Announce without a signed record even when an identity exists
    #[arg(long)]
    pub anonymous: bool,
    /// Exit 0 after N peers
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<usize>,
    /// Give up after D and exit 1 if no peer was found [default: 5s, none with --watch
    /// or --announce]
    #[arg(long, value_name = "DURATION", value_parser = p2p_shared::cli::duration::parse)]
    pub timeout: Option<Duration>,
    /// Keep running: report new peers, and `peer_gone` when one leaves
    #[arg(long)]
    pub watch: bool,
}

/// `p2p-discover tracker`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "An announce with port=0 asks for peers without joining the swarm.\n\n\
Bounds: 2000 peers a swarm, signed records of 2048 bytes, 16 KiB of records in one \
reply, 1000 swarms in a scrape of all, 10 s per HTTP connection.\n\n\
Examples:\n  p2p-discover tracker --bind 127.0.0.1:6969 --interval 30s &"
)]
pub struct TrackerArgs {
    /// Address to listen on (TCP for HTTP and UDP, same port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6969", value_parser = address::socket_or_port(6969))]
    pub bind: SocketAddr,
    /// How often peers should re-announce; they expire after two intervals
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = p2p_shared::cli::duration::parse)]
    pub interval: Duration,
    /// Most peers in one response
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_peers: usize,
    /// Most announces per source address per minute (a scrape of every swarm
    /// counts as 10)
    #[arg(long, value_name = "N", default_value_t = 120)]
    pub rate: u32,
    /// Most infohashes tracked at once; announces for new ones are refused past it
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_swarms: usize,
    /// Most HTTP connections held at once (always below `ulimit -n`); the oldest is
    /// shed when a new one comes
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_connections: usize,
    /// Print a `stats` record this often: swarms, peers, announces, scrapes,
    /// connections, refusals by reason
    #[arg(long, value_name = "DURATION", value_parser = p2p_shared::cli::duration::parse)]
    pub stats_every: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tool's definition with the toolbox-wide flags added (which includes all of
    /// its own) passes clap's consistency checks.
    #[test]
    fn command_is_well_formed() {
        p2p_shared::cli::entry::command::<Args>().debug_assert();
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
