//! The command line of `p2p-relay`.

use clap::{Parser, Subcommand};
use p2p_shared::cli::{address, duration};
use p2p_shared::connect::turn_client::{parse_relay, parse_user};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples ($SECRET is a shared secret of your choosing; peers.txt lists peer ids):
  p2p-relay serve --bind 203.0.113.1:3478 --relay-ip 203.0.113.1 --auth-secret \"$SECRET\" &
  p2p-relay probe turn://203.0.113.1:3478 --auth-secret \"$SECRET\"
  p2p-relay serve --bind 203.0.113.2:3478 --allow peers.txt --stats-every 1m &
  p2p-relay probe turn://203.0.113.2:3478 -i key.json     # peer-key access
  p2p-relay serve --bind 203.0.113.3:3478 --user alice:secret &
  p2p-relay probe turn://203.0.113.3:3478 --user alice:secret

Relays are turn://HOST:PORT, turn:HOST[:PORT] (RFC 7065), udp://HOST:PORT or HOST[:PORT];
port 3478 by default.";

/// A TURN relay (RFC 8656, UDP) for peers that cannot punch, and a probe that checks
/// a relay works.
#[derive(Debug, Parser)]
#[command(name = "p2p-relay", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a TURN relay: a `listening` record, then one `event` per allocation,
    /// permission, channel, expiry and refusal
    Serve(Box<ServeArgs>),
    /// Allocate on a relay, report the relayed address, round trip, lifetime and
    /// limits, then release (one `relay` record)
    Probe(Box<ProbeArgs>),
}

/// A port range `LO-HI`.
fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("'{text}' is not a port range LO-HI (e.g. 49152-65535)");
    let (lo, hi) = text.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// Byte counts: a number with an optional K, M, G or T suffix (powers of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text
        .trim()
        .trim_end_matches(['B', 'b'])
        .trim_end_matches(['i']);
    let (digits, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        Some('T' | 't') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is not a byte count (e.g. 512K, 8G, 0 for no limit)"))
}

/// Who may allocate, and with which credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct Access {
    /// coturn-style shared secret: usernames `EXPIRY:NAME`, password
    /// base64(HMAC-SHA1(SECRET, username)) (coturn's use-auth-secret)
    #[arg(
        long,
        value_name = "SECRET",
        env = "P2P_RELAY_SECRET",
        hide_env_values = true
    )]
    pub auth_secret: Option<String>,
    /// A static long-term credential NAME:PASSWORD; repeatable
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub users: Vec<(String, String)>,
    /// Accept clients that sign with one of the peer ids in FILE (one per line, `#`
    /// comments; NDJSON `peer`/`identity` records work too)
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Accept any client that signs with a peer key (limits still apply per peer id)
    #[arg(long)]
    pub allow_any_peer: bool,
    /// The realm in challenges and long-term keys
    #[arg(long, value_name = "REALM", default_value = "p2p-relay")]
    pub realm: String,
}

/// What one client may make the relay hold. Every default is explained in
/// docs/relay.md.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Most allocations in total (508 Insufficient Capacity beyond)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_allocations: usize,
    /// Most allocations per client IP address (486 Allocation Quota Reached beyond)
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_per_ip: usize,
    /// Most allocations per peer id or username (486 beyond)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_per_user: usize,
    /// Most peer addresses with a permission per allocation (508 beyond)
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_permissions: usize,
    /// Most channels per allocation (508 beyond)
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_channels: usize,
    /// Longest lifetime granted by one Allocate or Refresh (clients refresh to go on)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration::parse)]
    pub max_lifetime: Duration,
    /// Bytes relayed per allocation, both ways together (0: no limit); the allocation
    /// is closed when it is reached
    #[arg(long, value_name = "BYTES", default_value = "16G", value_parser = parse_bytes)]
    pub max_bytes: u64,
    /// Bytes per second per allocation, both ways together, as a token bucket with one
    /// second of burst (0: no limit); packets beyond it are dropped
    #[arg(long, value_name = "BYTES", default_value = "25M", value_parser = parse_bytes)]
    pub rate: u64,
    /// Close an allocation that relayed nothing and was not refreshed for this long
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration::parse)]
    pub idle_timeout: Duration,
}

/// `p2p-relay serve`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints {\"type\":\"listening\",\"addr\":…,\"relay_ip\":…,\"limits\":{…}} first, \
then `event` records (allocated, refreshed, expired, permission, channel, refused with \
its STUN error code) and, with --stats-every, `stats` records.\n\n\
There is no open relay: give --auth-secret, --user, --allow or --allow-any-peer.\n\n\
Examples:\n  p2p-relay serve --bind 0.0.0.0:3478 --relay-ip 203.0.113.1 --auth-secret \"$SECRET\" &\n  \
p2p-relay serve --bind 127.0.0.1:3479 --user test:test --allow-loopback-peers &"
)]
pub struct ServeArgs {
    /// Where TURN clients reach the relay
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:3478", value_parser = address::socket_or_port(3478))]
    pub bind: SocketAddr,
    /// The address relayed sockets bind to and peers send to [default: --bind's IP;
    /// needed when that is 0.0.0.0]
    #[arg(long, value_name = "IP")]
    pub relay_ip: Option<IpAddr>,
    /// Relayed ports come from this range [default: any free port]
    #[arg(long, value_name = "LO-HI", value_parser = parse_ports)]
    pub ports: Option<(u16, u16)>,
    /// Allow peers on loopback and on the relay's own addresses (for tests on one host)
    #[arg(long)]
    pub allow_loopback_peers: bool,
    /// Print a `stats` record this often
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub stats_every: Option<Duration>,
    #[command(flatten)]
    pub access: Access,
    #[command(flatten)]
    pub limits: Limits,
}

/// `p2p-relay probe`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints one `relay` record: the relayed and mapped addresses, the round trip \
of the authenticated Allocate, the lifetime granted and the relay's software; with --peer \
also the permission and channel round trips. Then releases the allocation.\n\n\
Without --auth-secret or --user, signs with the identity (-i or $P2P_IDENTITY) or a fresh \
throwaway key (p2p-relay's peer-key access).\n\n\
Exit status: 0 allocated, 1 refused, 3 no answer in time.\n\n\
Examples:\n  \
p2p-relay serve --bind 203.0.113.1:3478 --auth-secret \"$SECRET\" --user alice:secret &\n  \
p2p-relay probe turn://203.0.113.1:3478 --auth-secret \"$SECRET\"\n  \
p2p-relay probe turn:203.0.113.1 --user alice:secret --peer 198.51.100.7:4000"
)]
pub struct ProbeArgs {
    /// The relay
    #[arg(value_name = "RELAY", value_parser = parse_relay)]
    pub relay: SocketAddr,
    /// coturn-style shared secret (the username is `EXPIRY:NAME`)
    #[arg(
        long,
        value_name = "SECRET",
        env = "P2P_RELAY_SECRET",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    pub auth_secret: Option<String>,
    /// The NAME part of shared-secret usernames
    #[arg(long, value_name = "NAME", default_value = "p2p-relay-probe")]
    pub name: String,
    /// Long-term credentials
    #[arg(long, value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub user: Option<(String, String)>,
    /// Identity file for peer-key access [default: a fresh throwaway identity]
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "FILE",
        env = "P2P_IDENTITY"
    )]
    pub identity: Option<PathBuf>,
    /// Read the identity file even if others can read it
    #[arg(long, env = "P2P_ALLOW_READABLE_KEY")]
    pub allow_readable_key: bool,
    /// Also install a permission and bind a channel for this peer address
    #[arg(long, value_name = "ADDR", value_parser = address::socket)]
    pub peer: Option<SocketAddr>,
    /// Local address to send from
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0", value_parser = address::socket)]
    pub bind: SocketAddr,
    /// How long each request may take
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tool's definition with the toolbox-wide flags added passes clap's
    /// consistency checks.
    #[test]
    fn command_is_well_formed() {
        p2p_shared::cli::entry::command::<Args>().debug_assert();
    }

    #[test]
    fn sizes_and_ranges() {
        assert_eq!(parse_bytes("16G"), Ok(16 << 30));
        assert_eq!(parse_bytes("25MiB"), Ok(25 << 20));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_ports("49152-65535"), Ok((49152, 65535)));
        assert!(parse_ports("9-1").is_err());
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
