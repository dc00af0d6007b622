//! The command line of `p2p-punch`.

use clap::{Parser, Subcommand, ValueEnum};
use p2p_shared::cli::{address, duration};
use p2p_shared::identity::IdentityArgs;
use p2p_shared::identity::peer_id::PeerId;
use std::net::SocketAddr;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples ($PEER_ID is the id of key.json):
  p2p-punch serve --bind 203.0.113.1:3478 --alt 203.0.113.2:3479 &   # STUN and rendezvous
  p2p-punch stun 203.0.113.1:3478         # your public address, as one server sees it
  p2p-punch nat --server 203.0.113.1:3478  # what kind of NAT you are behind
  p2p-punch listen -i key.json --rendezvous 203.0.113.1:3478 &
  p2p-punch connect \"$PEER_ID\" --rendezvous 203.0.113.1:3478

STUN servers are HOST, HOST:PORT, udp://HOST:PORT or stun:HOST:PORT (port 3478 by default).";

/// See your NAT, and punch through it: STUN client and server, NAT behaviour
/// discovery (RFC 5780), and UDP hole punching between two peers.
#[derive(Debug, Parser)]
#[command(name = "p2p-punch", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask STUN servers for this host's public address (one `mapping` record each)
    Stun(StunArgs),
    /// Report the NAT's mapping and filtering behaviour (one `nat` record)
    Nat(NatArgs),
    /// Run a STUN server (RFC 5389, RFC 5780 with --alt) and punching rendezvous
    Serve(ServeArgs),
    /// Register at a rendezvous and wait for a peer to punch through to this one
    Listen(Box<ListenArgs>),
    /// Punch a UDP path to a peer (one `punch` record)
    Connect(Box<ConnectArgs>),
}

/// `p2p-punch stun`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without SERVER, asks the public servers listed in p2p-punch(1).\n\n\
Exit status: 0 every server answered, 1 some did not, 3 none answered in time.\n\n\
Examples:\n  p2p-punch serve --bind 203.0.113.1:3478 &\n  p2p-punch serve --bind 203.0.113.7:3478 &\n  \
p2p-punch stun 203.0.113.1:3478 203.0.113.7\n  p2p-punch stun --bind 0.0.0.0:4000 203.0.113.1"
)]
pub struct StunArgs {
    /// STUN servers to ask
    #[arg(value_name = "SERVER", value_parser = address::checked)]
    pub servers: Vec<String>,
    /// Local address to send from
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0", value_parser = address::socket_or_port(0))]
    pub bind: SocketAddr,
    /// How long to wait for answers
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = duration::parse)]
    pub timeout: Duration,
}

/// `p2p-punch nat`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With a server that offers RFC 5780 (OTHER-ADDRESS, CHANGE-REQUEST), one \
server suffices; otherwise the mapping is judged by comparing several servers and the filtering \
is unknown.\n\n\
Examples:\n  p2p-punch serve --bind 203.0.113.1:3478 --alt 203.0.113.2:3479 &\n  \
p2p-punch nat --server 203.0.113.1:3478\n  p2p-punch nat --server 203.0.113.1 --lifetime --lifetime-max 2s"
)]
pub struct NatArgs {
    /// STUN server to test against; repeatable
    #[arg(long = "server", value_name = "SERVER", value_parser = address::checked)]
    pub servers: Vec<String>,
    /// Local address to test from
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0", value_parser = address::socket_or_port(0))]
    pub bind: SocketAddr,
    /// Time budget for the tests (not counting --lifetime)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub timeout: Duration,
    /// Also measure how long an idle mapping lives (needs RESPONSE-PORT support)
    #[arg(long)]
    pub lifetime: bool,
    /// The longest idle time --lifetime waits
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = duration::parse)]
    pub lifetime_max: Duration,
}

/// `p2p-punch serve`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints {\"type\":\"listening\",\"addr\":…,\"alt\":…} once bound, then \
one `event` record per registration and introduction, and with --stats-every `stats` records.\n\n\
Bounds: 20 rendezvous requests a second per source IP (bursts of 60), 2 introductions a \
second per registered peer (bursts of 10), candidates of 1024 bytes, 50 STUN requests a \
second per source IP (bursts of 200); RESPONSE-PORT to a port that itself asked within \
the hour, else to an unprivileged port at most once a second per IP (bursts of 2). Refusals are said with an `error` message (once a second at most).\n\n\
Examples:\n  p2p-punch serve --bind 0.0.0.0:3478 &\n  \
p2p-punch serve --bind 203.0.113.1:3479 --alt 203.0.113.2:3480 &"
)]
pub struct ServeArgs {
    /// Primary address (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:3478", value_parser = address::socket_or_port(3478))]
    pub bind: SocketAddr,
    /// Second address, with another IP and port, for RFC 5780 behaviour tests
    #[arg(long, value_name = "ADDR", value_parser = address::socket_or_port(3478))]
    pub alt: Option<SocketAddr>,
    /// Most peers registered at once (also at most 4 per socket address and 256 per
    /// IP address); past it, registrations are refused until some expire
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_registrations: usize,
    /// Print a `stats` record this often: registrations held, hellos, registrations,
    /// introductions, STUN requests answered, malformed packets, refusals by reason
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub stats_every: Option<Duration>,
}

/// How the two sides exchange candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Signalling {
    /// Through a `p2p-punch serve` rendezvous (--rendezvous)
    Rendezvous,
    /// Print this side's candidate record on stdout, read the peer's from stdin
    Stdio,
}

/// Options of the punch itself, shared by `listen` and `connect`.
#[derive(Debug, Clone, clap::Args)]
pub struct PunchOptions {
    /// Local address to punch from
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0", value_parser = address::socket_or_port(0))]
    pub bind: SocketAddr,
    /// How long one punch may take
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub punch_timeout: Duration,
    /// Most packets per second while punching
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub rate: u32,
    /// Sockets to open for the birthday technique when this side's NAT is symmetric
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub birthday_sockets: u16,
}

/// `p2p-punch listen`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints {\"type\":\"listening\",…} once registered, then one `punch` \
record per peer that connects.\n\n\
Bounds: at most 10 introductions a minute are punched for (more are ignored, with a \
warning), and a local address a peer claims on another IP than the one the \
rendezvous saw is sent at most 8 probes until it answers.\n\n\
Examples:\n  p2p-punch serve --bind 203.0.113.1:3478 &\n  \
p2p-punch listen -i key.json --rendezvous 203.0.113.1:3478 --count 0 &"
)]
pub struct ListenArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// The rendezvous server (`p2p-punch serve`)
    #[arg(long, value_name = "SERVER", value_parser = address::checked)]
    pub rendezvous: String,
    /// Stop after this many punches (0: never)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1)]
    pub count: u64,
    /// Give up when no peer connects within this time
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub timeout: Option<Duration>,
    /// Punch only for this peer (repeat for several); others are ignored [default:
    /// anyone]
    #[arg(long = "allow", value_name = "PEER_ID")]
    pub allow: Vec<PeerId>,
    #[command(flatten)]
    pub punch: PunchOptions,
}

/// `p2p-punch connect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without -i (or $P2P_IDENTITY), connects with a fresh throwaway \
identity. Exit status: 0 punched, 1 no path found, 3 the rendezvous or peer did not answer.\n\n\
Examples ($PEER_ID is the id of key.json):\n  p2p-punch serve --bind 203.0.113.1:3478 &\n  \
p2p-punch listen -i key.json --rendezvous 203.0.113.1:3478 &\n  \
p2p-punch connect \"$PEER_ID\" --rendezvous 203.0.113.1:3478"
)]
pub struct ConnectArgs {
    /// The peer to punch to (optional with --signal stdio: then any signed candidate)
    #[arg(value_name = "PEER_ID", required_unless_present = "signal")]
    pub peer: Option<PeerId>,
    /// How candidates travel
    #[arg(long, value_enum, value_name = "HOW", default_value = "rendezvous")]
    pub signal: Signalling,
    /// The rendezvous server (with --signal rendezvous)
    #[arg(long, value_name = "SERVER", required_if_eq("signal", "rendezvous"), value_parser = address::checked)]
    pub rendezvous: Option<String>,
    /// STUN server that tells this side its public address (with --signal stdio);
    /// repeatable; the first one offering OTHER-ADDRESS also reveals the mapping
    #[arg(long = "stun", value_name = "SERVER", value_parser = address::checked)]
    pub stun: Vec<String>,
    /// Identity file [default: a fresh throwaway identity]
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "FILE",
        env = "P2P_IDENTITY",
        hide_env_values = true
    )]
    pub identity: Option<std::path::PathBuf>,
    /// Read the identity file even if others can read it
    #[arg(long, env = "P2P_ALLOW_READABLE_KEY", value_parser = clap::builder::BoolishValueParser::new(), hide_env_values = true)]
    pub allow_readable_key: bool,
    /// How long to wait for the rendezvous or the peer's candidate
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration::parse)]
    pub timeout: Duration,
    #[command(flatten)]
    pub punch: PunchOptions,
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
