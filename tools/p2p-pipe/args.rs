//! The command line of `p2p-pipe`.

use clap::{Parser, Subcommand, ValueEnum};
use p2p_shared::cli::{address, duration};
use p2p_shared::connect::turn_client::{parse_relay, parse_user};
use p2p_shared::discovery::dht::DhtOptions;
use p2p_shared::identity::IdentityArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples ($PEER_ID is the id of key.json; $P2P_DHT_BOOTSTRAP names a DHT node):
  p2p-pipe listen -i key.json --bind 192.0.2.7:4000 --ticket-file ticket.json > received.tar &
  tar c dir | p2p-pipe connect --peer-file ticket.json   # stream a directory to the listener
  p2p-pipe listen -i key.json --bind 192.0.2.7:4001 > out &
  p2p-dht publish -i key.json --addr udp://192.0.2.7:4001   # where the peer id is found
  echo hello | p2p-pipe connect \"$PEER_ID\"                # its addresses from the DHT
  p2p-pipe listen -i key.json --bind 192.0.2.7:4002 --forward tcp://127.0.0.1:22 --allow bob.json &

stdin and stdout carry only the stream's data; the ticket, the path report and
errors go to stderr. EOF on stdin ends this side's direction (the peer reads EOF)
while data still flows back; both sides exit 0 once both directions closed with
every byte delivered.";

/// An encrypted, authenticated duplex stream to a peer id (QUIC, TLS 1.3 with the
/// peers' ed25519 keys), on stdin/stdout or forwarding TCP connections.
#[derive(Debug, Parser)]
#[command(name = "p2p-pipe", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait for a peer and pipe stdin/stdout with it (prints a ticket on stderr)
    Listen(Box<ListenArgs>),
    /// Connect to a listener by ticket, peer id or peer file and pipe stdin/stdout
    Connect(Box<ConnectArgs>),
}

/// How the two sides exchange candidates for a punched path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Signal {
    /// Through the rendezvous of `p2p-punch serve` (--rendezvous)
    Rendezvous,
    /// Through stdin/stdout: this side's candidate record is the first line of stdout,
    /// the peer's is the first line of stdin; the stream follows
    Stdio,
}

/// Options both subcommands take.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// The rendezvous (`p2p-punch serve`) for a punched path: HOST:PORT or udp://HOST:PORT
    #[arg(long, value_name = "SERVER", value_parser = address::server_or_port(3478))]
    pub rendezvous: Option<SocketAddr>,
    /// How candidates for a punched path are exchanged
    #[arg(long, value_enum, value_name = "HOW", default_value = "rendezvous")]
    pub signal: Signal,
    /// STUN server that tells this side its public address with --signal stdio
    /// (`p2p-punch serve` is one)
    #[arg(long, value_name = "SERVER", value_parser = address::server_or_port(3478))]
    pub stun: Option<SocketAddr>,
    /// Write NDJSON `event` records (path, rtt, bytes, reasons) to FILE
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Show bytes and rate on stderr (only on a terminal)
    #[arg(long)]
    pub progress: bool,
    /// TURN relay for the relayed path (`p2p-relay serve`, coturn, any RFC 8656 relay):
    /// turn://HOST:PORT; the listener allocates there and puts the relayed address in
    /// its ticket, the connector allocates there too
    #[arg(long, value_name = "turn://HOST:PORT", value_parser = parse_relay, env = "P2P_RELAY")]
    pub relay: Option<SocketAddr>,
    /// coturn-style shared secret for --relay (username `EXPIRY:NAME`) [default:
    /// p2p-relay's peer-key access with this identity]
    #[arg(
        long,
        value_name = "SECRET",
        env = "P2P_RELAY_SECRET",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    pub auth_secret: Option<String>,
    /// Long-term credentials for --relay
    #[arg(long, value_name = "NAME:PASSWORD", value_parser = parse_user, env = "P2P_RELAY_USER", hide_env_values = true)]
    pub user: Option<(String, String)>,
    /// A connection that hears nothing from the peer for this long is lost
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    pub idle_timeout: Duration,
}

/// `p2p-pipe listen`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The ticket goes to stderr as one string (and with --ticket-file, into FILE as an NDJSON
`ticket` record). Without -i, a throwaway identity is made for this run.

Exit status: 0 the stream closed cleanly both ways, 1 the peer vanished or the
connection was lost, 2 usage, 3 timed out.

Examples ($AUTHOR_ID is the id of bob.json):
  p2p-pipe listen -i key.json --ticket-file ticket.json > out &
  p2p-punch serve --bind 203.0.113.1:3478 &
  p2p-pipe listen -i key.json --rendezvous 203.0.113.1:3478 --keep --allow \"$AUTHOR_ID\" > in &")]
pub struct ListenArgs {
    #[command(flatten)]
    pub common: Common,
    /// Local UDP address to listen on; repeatable [default: 0.0.0.0:0]
    #[arg(long = "bind", value_name = "ADDR", value_parser = address::socket)]
    pub binds: Vec<SocketAddr>,
    /// Only this peer may connect (a peer id, or a FILE of ids or records with `id`);
    /// repeatable [default: anyone who proves a key]
    #[arg(long = "allow", value_name = "ID|FILE")]
    pub allow: Vec<String>,
    /// Serve one peer after another instead of exiting after the first
    #[arg(long)]
    pub keep: bool,
    /// Also write the ticket as an NDJSON `ticket` record into FILE
    #[arg(long, value_name = "FILE")]
    pub ticket_file: Option<PathBuf>,
    /// Forward each incoming stream to this TCP address instead of stdin/stdout
    #[arg(long, value_name = "tcp://HOST:PORT", value_parser = address::socket)]
    pub forward: Option<SocketAddr>,
    /// Speak dumbpipe's protocol: print a dumbpipe ticket (endpoint…) that
    /// `dumbpipe connect` reaches this listener's direct addresses with
    #[arg(long, conflicts_with_all = ["forward", "rendezvous", "relay", "keep"])]
    pub dumbpipe: bool,
}

/// `p2p-pipe connect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
TARGET is a ticket string (p2pt…) or a bare peer id, whose signed peer record is looked
up in the DHT as `p2p-dht resolve` does. Direct addresses are tried all at once, then a
punched path through the rendezvous, then (with --relay, when the ticket names a relayed
address) a relayed path through the TURN relay; --relay-first tries it first.

Exit status: 0 the stream closed cleanly both ways, 1 no path, refused, or the
connection was lost, 2 usage, 3 timed out.

Examples ($PEER_ID is the id of key.json):
  p2p-pipe listen -i key.json --bind 192.0.2.7:4000 --ticket-file ticket.json --keep > out &
  p2p-pipe connect \"$(jq -r .ticket ticket.json)\" < lines.txt
  p2p-pipe connect --peer-file ticket.json --require-direct < lines.txt
  p2p-pipe connect --peer-file ticket.json --local tcp://127.0.0.1:2222 &   # ssh -p 2222 127.0.0.1")]
pub struct ConnectArgs {
    /// A ticket string or a peer id
    #[arg(
        value_name = "TARGET",
        required_unless_present = "peer_file",
        conflicts_with = "peer_file"
    )]
    pub target: Option<String>,
    /// Read the target from FILE: a `ticket` record or a signed `peer` record
    #[arg(long, value_name = "FILE")]
    pub peer_file: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    /// Local UDP address to connect from [default: 0.0.0.0:0]
    #[arg(long, value_name = "ADDR", value_parser = address::socket)]
    pub bind: Option<SocketAddr>,
    /// Accept TCP connections on this address and forward each over its own stream
    #[arg(long, value_name = "tcp://HOST:PORT", value_parser = address::socket)]
    pub local: Option<SocketAddr>,
    /// Fail (status 1) rather than use a relayed path
    #[arg(long)]
    pub require_direct: bool,
    /// Try the relayed path first, before direct and punched ones: through this
    /// side's allocation with --relay, else straight to the listener's relayed
    /// address when a rendezvous introduces the two
    #[arg(long)]
    pub relay_first: bool,
    /// Never use a relayed path, even when the ticket names one and --relay (or
    /// $P2P_RELAY) is set
    #[arg(long, conflicts_with = "relay_first")]
    pub no_relay: bool,
    /// Keep a relayed stream on the relay. By default the pipe keeps looking for a
    /// direct path while relayed (checks from both sides, as ICE does) and moves the
    /// stream there when one opens (QUIC connection migration), and back to the relay
    /// when the direct path goes silent, with a `path` event each time
    #[arg(long, conflicts_with = "no_relay")]
    pub stay_relayed: bool,
    /// Wait this long on a relayed path before looking for a direct one
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration::parse, conflicts_with = "stay_relayed")]
    pub migrate_after: Duration,
    /// How long finding a path may take
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration::parse)]
    pub timeout: Duration,
    /// TARGET is a dumbpipe ticket (endpoint…, from `dumbpipe listen`): speak
    /// dumbpipe's protocol to its direct addresses
    #[arg(long, conflicts_with_all = ["peer_file", "local", "relay_first"])]
    pub dumbpipe: bool,
    #[command(flatten)]
    pub dht: DhtOptions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_is_consistent() {
        Args::command().debug_assert();
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
