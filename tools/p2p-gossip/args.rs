//! The command line of `p2p-gossip`.

use clap::{Parser, ValueEnum};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::duration;
use p2p_shared::identity::IdentityArgs;
use p2p_shared::identity::peer_id::PeerId;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples ($PEER_ID is the id of key.json, $AUTHOR_ID that of bob.json):
  p2p-gossip -i key.json --bind 192.0.2.7:7000 --topic chat &
  p2p-gossip -i bob.json --topic chat --peer \"$PEER_ID\"@192.0.2.7:7000 < lines.txt &
  p2p-discover tracker --bind 192.0.2.1:6969 &
  p2p-discover chat --tracker udp://192.0.2.1:6969 --announce 7001 --watch -i bob.json \\
    | p2p-gossip -i bob.json --bind 0.0.0.0:7001 --topic chat &
  p2p-gossip -i key.json --topic news --allow-author \"$AUTHOR_ID\" --store news.ndjson &

stdin: each line is a message to send (a JSON object, or any other line as a string),
or a `peer` record naming a neighbour to connect to. stdout: `listening`, then
`message` records (never one twice), `peer_up` / `peer_down`, `dropped` (a message a
neighbour sent that was refused, and why), `error` (an input line refused) and `stats`.
Runs until interrupted or until its stdout is closed.";

/// Gossip signed messages through a swarm: HyParView membership, Plumtree broadcast,
/// anti-entropy, over QUIC.
///
/// Every message is signed by its author over topic, seq, timestamp and payload, and
/// delivered to every node of the swarm once.
#[derive(Debug, Parser)]
#[command(name = "p2p-gossip", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Address to listen on (QUIC over UDP; port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0", value_parser = parse_bind)]
    pub bind: SocketAddr,
    /// A neighbour to join through: ID@HOST:PORT, ID@udp://HOST:PORT, or a `peer`
    /// record (repeatable)
    #[arg(long = "peer", value_name = "PEER")]
    pub peers: Vec<String>,
    /// The topic; only messages signed for it are accepted
    #[arg(long, value_name = "TOPIC", default_value = "p2p-gossip")]
    pub topic: String,
    /// Accept only messages by this author (repeatable) [default: any author]
    #[arg(long = "allow-author", value_name = "ID")]
    pub allow_authors: Vec<PeerId>,
    /// How messages spread
    #[arg(long, value_enum, default_value_t = ModeArg::Plumtree)]
    pub mode: ModeArg,
    /// Messages kept to catch up neighbours that missed them
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub history: usize,
    /// Keep the history in this append-only NDJSON file, loaded again at start
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// Print a `stats` record this often
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub stats_every: Option<Duration>,
    /// The largest message, in bytes of its signed JSON form
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = parse_size)]
    pub max_size: usize,
    /// Messages per second one neighbour may send us (bursts of twice that)
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Eager push along a spanning tree, lazy IHAVE on other links
    Plumtree,
    /// Every message over every link
    Flood,
}

/// The smallest `--max-size`: a signed message's envelope alone is about 300 bytes.
const MIN_SIZE: usize = 512;
/// The largest `--max-size`.
const MAX_SIZE: usize = 16 << 20;

fn parse_size(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of bytes"))?;
    if (MIN_SIZE..=MAX_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between {MIN_SIZE} and {MAX_SIZE} bytes"))
    }
}

fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    let addr = Addr::parse_with_default(text, Scheme::Udp)?;
    addr.socket_addr()
        .ok_or_else(|| format!("'{text}' is not an IP address and port"))
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

    #[test]
    fn bind_takes_both_address_forms() {
        assert_eq!(parse_bind("udp://127.0.0.1:5").unwrap().port(), 5);
        assert_eq!(parse_bind("127.0.0.1:6").unwrap().port(), 6);
        assert!(parse_bind("example.org:6").is_err());
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
