//! The command line of `p2p-dht`.

use clap::{Parser, Subcommand};
use p2p_shared::addr::Addr;
use p2p_shared::cli::duration;
use p2p_shared::discovery::dht::{DhtOptions, parse_node_addr};
use p2p_shared::ndjson::input::InputOptions;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples (on a local testnet; without --bootstrap or $P2P_DHT_BOOTSTRAP the public DHT is used;
$PEER_ID is the id of key.json):
  p2p-dht testnet 20 > net.ndjson &                      # a DHT of 20 nodes on loopback
  export $(jq -r 'select(.type==\"bootstrap\").env' net.ndjson)   # P2P_DHT_BOOTSTRAP=…
  p2p-dht announce --topic chat --port 4000
  p2p-dht get-peers --topic chat --count 1
  p2p-dht put '{\"hello\":\"world\"}'                         # an immutable item; prints its hash
  p2p-dht put -i key.json --salt profile '{\"name\":\"ada\"}'   # a mutable item under your key
  p2p-dht publish -i key.json --addr udp://192.0.2.7:4000 && p2p-dht resolve \"$PEER_ID\"
  printf 'chat\\nnews\\n' | p2p-dht announce --topic-lines --port 4000   # one per input line
  printf 'chat\\nnews\\n' | p2p-dht get-peers --topic-lines

Topics are looked up under SHA-1 of their UTF-8 bytes.

Exit status: 0 success, 1 nothing found or the operation failed, 2 usage or input
error, 3 timed out.";

/// The BitTorrent mainline DHT from the shell: peers, BEP 44 items, signed peer
/// records, a node, a local testnet.
///
/// Output is NDJSON on stdout; peers found are `peer` records with `via: "dht"`.
#[derive(Debug, Parser)]
#[command(name = "p2p-dht", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find peers for an infohash or topic, streamed as they arrive
    GetPeers(GetPeersArgs),
    /// Announce this machine as a peer for an infohash or topic
    Announce(AnnounceArgs),
    /// Store a BEP 44 item: immutable, or mutable and signed with -i KEY
    Put(PutArgs),
    /// Fetch a BEP 44 item by its hash (immutable) or public key (mutable)
    Get(GetArgs),
    /// Store this identity's signed peer record on the DHT under its own key
    Publish(PublishArgs),
    /// Find a peer's signed peer record by its id, and verify it
    Resolve(ResolveArgs),
    /// Ask one DHT node whether it is alive (KRPC ping)
    Ping(PingArgs),
    /// Ask one DHT node for a sample of the infohashes it stores (BEP 51)
    Sample(SampleArgs),
    /// Find the DHT nodes closest to an id
    FindNode(FindNodeArgs),
    /// Show this node's id, addresses and view of the DHT after bootstrapping
    Info(InfoArgs),
    /// Run a long-lived DHT node (server mode)
    Serve(ServeArgs),
    /// Run a local DHT of N nodes on loopback, for demos and tests
    Testnet(TestnetArgs),
}

/// How every command that joins the DHT runs its node.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub dht: DhtOptions,
    /// Local address for this node's UDP socket [default: 127.0.0.1:0 when every
    /// bootstrap node is on loopback, else 0.0.0.0:0]
    #[arg(long, value_name = "ADDR", value_parser = parse_node_addr)]
    pub bind: Option<SocketAddrV4>,
    /// Give up (exit status 3) when the whole command takes longer than this
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse)]
    pub timeout: Duration,
}

/// What to look up or announce: an infohash, a topic, or stdin.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The infohash (40 hex digits) [default: read targets from stdin]
    #[arg(value_name = "INFOHASH", conflicts_with = "topic")]
    pub infohash: Option<String>,
    /// A topic, looked up under SHA-1 of its UTF-8 bytes
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Read plain stdin lines as topics, not infohashes
    #[arg(long, conflicts_with_all = ["infohash", "topic"])]
    pub topic_lines: bool,
    #[command(flatten)]
    pub input: InputOptions,
}

/// How many lookups a batch runs at once.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchArgs {
    /// With targets on stdin: how many to work on at once
    #[arg(short, long, value_name = "N", default_value_t = 16)]
    pub jobs: usize,
}

/// `p2p-dht get-peers`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one `peer` record per distinct address, as nodes answer. Without INFOHASH or
--topic, reads targets from stdin: NDJSON objects with `infohash` or `topic`, or plain
lines (infohashes, or topics with --topic-lines); each output record carries the input
in `input`.

Exit status: 0 peers found, 1 none, 2 bad input, 3 timed out before the lookup ended.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`):
  p2p-dht announce --topic chat --port 4000 && p2p-dht get-peers --topic chat --count 1
  p2p-dht get-peers 7ecde348ff9cda2c3ba69a0c4543365039d0d65b   # the same: SHA-1 of \"chat\"")]
pub struct GetPeersArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Stop after this many distinct peers
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<usize>,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht announce`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Nodes store announced peers for a limited time, so long-lived peers re-announce with
--every. Without --port, nodes record the UDP port this announcement came from.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`):
  p2p-dht announce --topic chat --port 4000 --every 5m &
  p2p-dht announce 7ecde348ff9cda2c3ba69a0c4543365039d0d65b   # once, from this UDP port")]
pub struct AnnounceArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The port peers should connect to [default: the port the announcement comes from]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Re-announce at this interval until stopped
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub every: Option<Duration>,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// How a value is read and written.
#[derive(Debug, Clone, clap::Args)]
pub struct ValueArgs {
    /// Treat the value as raw bytes instead of JSON (`get` writes them to stdout as is)
    #[arg(long)]
    pub raw: bool,
}

/// `p2p-dht put`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without -i (or --mutable), stores an immutable item, found by the SHA-1 hash printed
as `target`. With -i KEY, stores a mutable item signed with that identity, found by its
public key (and salt). VALUE is JSON (stored compactly, as a bencoded byte string),
or raw bytes with --raw; `-` or no VALUE reads it from stdin. Values are at most 1000
bytes and salts at most 64 (BEP 44).

Exit status: 0 stored, 1 not stored (a `--cas` or `--seq` conflict names itself),
2 bad value, 3 timed out.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`):
  p2p-dht put '[1,2,3]'
  echo -n hello | p2p-dht put --raw
  p2p-dht put -i key.json --salt status --seq 1700000000000 '\"here\"'
  p2p-dht put -i key.json --salt status --cas 1700000000000 '\"away\"'   # only over that seq")]
pub struct PutArgs {
    /// The value [default: stdin]
    #[arg(value_name = "VALUE")]
    pub value: Option<String>,
    /// Sign a mutable item with this identity file
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Store a mutable item, signed with the identity from -i, $P2P_IDENTITY or the
    /// default path
    #[arg(long)]
    pub mutable: bool,
    /// Read the identity file even if others can read it
    #[arg(long, env = "P2P_ALLOW_READABLE_KEY", value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub allow_readable_key: bool,
    /// Salt: stores several items under one key (mutable items only)
    #[arg(long, value_name = "SALT")]
    pub salt: Option<String>,
    /// Sequence number [default: now in unix milliseconds] (mutable items only)
    #[arg(long, value_name = "N")]
    pub seq: Option<i64>,
    /// Compare-and-swap: store only if the current item's seq is N (mutable items only)
    #[arg(long, value_name = "N")]
    pub cas: Option<i64>,
    #[command(flatten)]
    pub value_args: ValueArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht get`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
TARGET is an immutable item's hash (40 hex digits) or a mutable item's public key (a
peer id: 52 z-base-32 or 64 hex characters). Without TARGET, reads targets from stdin
(plain lines, or NDJSON objects with `target`, `hash`, `key` or `id`, and `salt`).
A mutable item is the one with the highest seq among the answers.

Exit status: 0 found, 1 not found, 2 bad input, 3 timed out.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`; $PEER_ID is the id of
key.json):
  p2p-dht put '[1,2,3]' && p2p-dht get 62d9f3bfe6731fedba5985a6273e6dc8a2f6394a
  p2p-dht put -i key.json --salt status '\"away\"' && p2p-dht get \"$PEER_ID\" --salt status")]
pub struct GetArgs {
    /// The item's hash or public key [default: read targets from stdin]
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// The salt the mutable item was stored with
    #[arg(long, value_name = "SALT")]
    pub salt: Option<String>,
    #[command(flatten)]
    pub value_args: ValueArgs,
    #[command(flatten)]
    pub input: InputOptions,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Stores a signed `peer` record (seq = now in unix milliseconds) as a BEP 44 mutable item
under the identity's own key, salt \"p2p/peer\", so anyone can resolve the peer id to
its addresses. Nodes forget items after a while: republish regularly (--every).

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`):
  p2p-dht publish -i key.json --addr udp://192.0.2.7:4000 --addr tcp://192.0.2.7:4000")]
pub struct PublishArgs {
    /// An address of this peer; repeatable
    #[arg(long = "addr", value_name = "ADDR", required = true)]
    pub addrs: Vec<Addr>,
    /// The topic this peer is interested in
    #[arg(long)]
    pub topic: Option<String>,
    /// Re-publish at this interval until stopped
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub every: Option<Duration>,
    #[command(flatten)]
    pub identity: p2p_shared::identity::IdentityArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht resolve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints the peer's record only if its signature verifies and it names PEER_ID; a forged
or malformed record is refused. Without PEER_ID, reads ids from stdin (plain lines or
NDJSON objects with `id`).

Exit status: 0 resolved, 1 not found or refused, 2 bad input, 3 timed out.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`; $PEER_ID is the id of
key.json):
  p2p-dht publish -i key.json --addr udp://192.0.2.7:4000
  p2p-dht resolve \"$PEER_ID\" | jq -r '.addrs[]'")]
pub struct ResolveArgs {
    /// The peer id (z-base-32 or hex) [default: read ids from stdin]
    #[arg(value_name = "PEER_ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub input: InputOptions,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht ping`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Sends one KRPC ping and prints a `pong` record with the node's id and the round trip.

Exit status: 0 answered, 1 answered with an error, 3 no answer within --timeout.

Examples:
  p2p-dht serve --bind 127.0.0.1:6881 &
  p2p-dht ping udp://127.0.0.1:6881")]
pub struct PingArgs {
    /// The node (udp://IP:PORT or HOST:PORT)
    #[arg(value_name = "ADDR", value_parser = parse_node_addr)]
    pub addr: SocketAddrV4,
    /// Local address to send from [default: 127.0.0.1:0 for a loopback node, else 0.0.0.0:0]
    #[arg(long, value_name = "ADDR", value_parser = parse_node_addr)]
    pub bind: Option<SocketAddrV4>,
    /// How long to wait for the answer
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration::parse)]
    pub timeout: Duration,
}

/// `p2p-dht sample`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Sends BEP 51's sample_infohashes to one node and prints a `sample` record per infohash
it returns, a `node` record per node near --target it lists, then a `sampled` summary
(`count`; `num`, how many the node stores; `interval_s`, seconds before it offers a new
sample). Follow the `node` records to crawl.

Exit status: 0 samples received, 1 none, or the node does not support BEP 51 (it
refused the query, or answered a ping but not the query), 3 no answer at all.

The node must support BEP 51 (libtorrent does; the mainline crate, and so
`p2p-dht testnet`, does not): asking one that does not ends with status 1.")]
pub struct SampleArgs {
    /// The node (udp://IP:PORT or HOST:PORT)
    #[arg(value_name = "ADDR", value_parser = parse_node_addr)]
    pub addr: SocketAddrV4,
    /// Where the listed nodes should be near (40 hex digits) [default: random]
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Local address to send from [default: 127.0.0.1:0 for a loopback node, else 0.0.0.0:0]
    #[arg(long, value_name = "ADDR", value_parser = parse_node_addr)]
    pub bind: Option<SocketAddrV4>,
    /// How long to wait for the answer
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration::parse)]
    pub timeout: Duration,
}

/// `p2p-dht find-node`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one `node` record per node, closest first. Without ID, reads ids from stdin.

Examples ($P2P_DHT_BOOTSTRAP names a DHT node, e.g. of `p2p-dht testnet`):
  p2p-dht find-node 3b245504cf5f11bbdbe1201cea6a6bf45aee1bc0")]
pub struct FindNodeArgs {
    /// The id to look near (40 hex digits) [default: read ids from stdin]
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub input: InputOptions,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht info`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  p2p-dht serve --bind 127.0.0.1:6881 &\n  \
p2p-dht info --bootstrap udp://127.0.0.1:6881")]
pub struct InfoArgs {
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `p2p-dht serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints a `listening` record with the bound address, then (with --stats-every) `stats`
records, until stopped.

Examples:
  p2p-dht serve --bind 0.0.0.0:6881 --stats-every 1m &")]
pub struct ServeArgs {
    #[command(flatten)]
    pub dht: DhtOptions,
    /// Local address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881", value_parser = parse_node_addr)]
    pub bind: SocketAddrV4,
    /// Print a `stats` record at this interval
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub stats_every: Option<Duration>,
}

/// `p2p-dht testnet`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one `node` record per node, then a `bootstrap` record with a few node addresses
(`addrs`) and the same as `env` for $P2P_DHT_BOOTSTRAP; runs until stopped. Nothing
leaves the machine.

Examples:
  p2p-dht testnet 50 --bind 127.0.0.1 &")]
pub struct TestnetArgs {
    /// How many nodes
    #[arg(value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// The loopback IP the nodes bind (`127.0.0.1`, `udp://127.0.0.1:0`); each picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = parse_testnet_ip)]
    pub bind: Ipv4Addr,
}

/// Reads the testnet's IP in any address form (`127.0.0.1`, `udp://127.0.0.1:0`); the
/// nodes pick free ports, so a port other than 0 is refused.
fn parse_testnet_ip(text: &str) -> Result<Ipv4Addr, String> {
    match p2p_shared::cli::address::socket_with(text, Some(0))? {
        std::net::SocketAddr::V4(v4) if v4.port() == 0 => Ok(*v4.ip()),
        std::net::SocketAddr::V4(_) => Err(format!(
            "'{text}': testnet nodes pick free ports themselves; give an IP such as 127.0.0.1"
        )),
        std::net::SocketAddr::V6(_) => {
            Err(format!("'{text}' is not IPv4 (the mainline DHT is IPv4)"))
        }
    }
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
