//! The command line of `p2p-dns-rr`.

use clap::{Parser, Subcommand, ValueEnum};
use hickory_proto::rr::Name;
use p2p_shared::cli::{address, duration};
use p2p_shared::ndjson::input::InputOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples (peers.ndjson holds signed `peer` records, e.g. from `p2p-keygen peer`; $PEER_ID is
the id of one; 192.0.2.53 serves example.org and takes updates signed with update.key):
  p2p-dns-rr serve --zone peers.example.org --bind 127.0.0.1:5300 < peers.ndjson &
  dig @127.0.0.1 -p 5300 peers.example.org A          # a rotating subset of live peers
  dig @127.0.0.1 -p 5300 _p2p._udp.peers.example.org SRV
  p2p-dns-rr query peers.example.org --server 127.0.0.1:5300
  p2p-dns-rr query \"$PEER_ID\".peers.example.org --type txt --server 127.0.0.1:5300 \\
      | p2p-keygen verify                            # the signed record, checked
  p2p-discover chat --watch | p2p-dns-rr serve --zone peers.example.org --bind 0.0.0.0:5353 &
  p2p-dns-rr publish --server 192.0.2.53 --zone example.org --name peers.example.org \\
      --tsig-key update.key < peers.ndjson           # RFC 2136 updates to a real server

Exit status: 0 success, 1 failure (nothing found, the server refused), 2 usage or
input error, 3 timed out.";

/// Live peers as low-TTL round-robin DNS: serve them, query them, publish them.
///
/// Peers arrive as NDJSON `peer` records on stdin (from p2p-discover, p2p-dht, …);
/// `{"type":"peer_gone","id":…}` removes one; every peer expires unless announced
/// again. Lines of other types are ignored.
#[derive(Debug, Parser)]
#[command(name = "p2p-dns-rr", version, after_help = EXAMPLES)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve live peers as an authoritative DNS zone (UDP and TCP on one port)
    Serve(ServeArgs),
    /// Ask a DNS server for peers and print them as `peer` records
    Query(QueryArgs),
    /// Keep a DNS server's records current with RFC 2136 updates (TSIG signed)
    Publish(PublishArgs),
}

const SERVE_HELP: &str = "\
Names served (ZONE is --zone):
  ZONE A/AAAA              a rotating subset (--answers) of all live peers' addresses
  TOPIC.ZONE A/AAAA        the same, for peers of that topic
  PEER_ID.ZONE A/AAAA/TXT  that peer's addresses; TXT holds its peer record as received
                           (signed records verbatim, split in 255-byte strings)
  _p2p._udp.ZONE SRV/TXT   SRV (port, target PEER_ID.ZONE) per udp address, TXT id=PEER_ID
  _p2p._tcp.ZONE SRV/TXT   the same for tcp addresses
  ZONE SOA/NS              the zone itself; negative answers are cached for --ttl
Unknown names in the zone get NXDOMAIN, names outside it REFUSED, opcodes other than
QUERY NOTIMP, garbage FORMERR. Answers too large for UDP (512 bytes, or the EDNS size up
to 1232) come back with TC set, and in full over TCP.

Prints {\"type\":\"listening\",\"addr\":…} first, then `stats` records with --stats-every.
Runs until killed; when stdin ends, the peers it gave expire and the --peers file remains.

Examples:
  p2p-dns-rr serve --zone peers.test --bind 127.0.0.1:5300 < peers.ndjson &
  p2p-discover chat --watch | p2p-dns-rr serve --zone peers.test --ttl 5s --answers 4 \\
      --stats-every 10s &";

/// `p2p-dns-rr serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// The zone to serve, e.g. peers.example.org
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub zone: Name,
    /// Address to listen on, UDP and TCP (port 0: any free port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:53", value_parser = address::socket_or_port(53))]
    pub bind: SocketAddr,
    /// TTL of every record, and of negative answers, in seconds
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse_seconds)]
    pub ttl: u32,
    /// Addresses (or SRV/TXT records) per answer, rotating over all of them; 0: all
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub answers: usize,
    /// Forget a peer this long after it was last announced
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration::parse)]
    pub expire: Duration,
    /// Also serve the peers in this NDJSON file (kept while they are in it; the file is
    /// read again when it changes)
    #[arg(long, value_name = "FILE")]
    pub peers: Option<PathBuf>,
    /// Print a `stats` record this often
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub stats_every: Option<Duration>,
    /// UDP worker threads [default: one per core]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The zone's name server, as named in its NS and SOA records [default: ns.ZONE]
    #[arg(long, value_name = "NAME", value_parser = parse_zone)]
    pub ns: Option<Name>,
    /// UDP answers a second per source /24 (IPv4) or /56 (IPv6), with a second's worth
    /// of burst; answers beyond it are dropped or slipped (0: no limit). Loopback
    /// sources are exempt unless --rate-limit-loopback
    #[arg(long, value_name = "N/s", default_value = "100/s", value_parser = parse_rate)]
    pub rate_limit: u32,
    /// Every Nth answer over the rate goes out as an empty truncated reply (TC), so
    /// a real client asks again over TCP; the others are dropped (0: drop all)
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub slip: u32,
    /// Limit loopback sources too (rate, and the size of UDP replies to sources not
    /// verified over TCP)
    #[arg(long)]
    pub rate_limit_loopback: bool,
    #[command(flatten)]
    pub input: InputOptions,
}

/// Parses a rate: `N/s` or a bare `N` (answers a second).
fn parse_rate(text: &str) -> Result<u32, String> {
    let number = text.strip_suffix("/s").unwrap_or(text);
    number.trim().parse().map_err(|_| {
        format!("'{text}' is not a rate (give answers a second: 100/s, or 0 for no limit)")
    })
}

/// The record types `query` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryType {
    /// TXT when NAME starts with a peer id, SRV (at _p2p._udp.NAME) otherwise
    Auto,
    /// IPv4 addresses (needs --port)
    A,
    /// IPv6 addresses (needs --port)
    Aaaa,
    /// Service records; NAME gets _p2p._udp. prepended unless it starts with _
    Srv,
    /// Peer records and id= records
    Txt,
}

/// `p2p-dns-rr query`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one `peer` record per peer the answer names (\"via\":\"dns\"); signed peer records \
in TXT are verified and forged ones reported. A/AAAA records carry no port: give --port.\n\
Exit status: 0 peers found, 1 none (or the server failed), 3 no answer in time.\n\n\
Examples ($PEER_ID is the id of key.json, whose record peers.ndjson holds):\n  \
p2p-dns-rr serve --zone peers.example.org --bind 127.0.0.1:5300 < peers.ndjson &\n  \
p2p-dns-rr query peers.example.org --server 127.0.0.1:5300\n  \
p2p-dns-rr query peers.example.org --server 127.0.0.1:5300 --type a --port 4000\n  \
p2p-dns-rr query \"$PEER_ID\".peers.example.org --server 127.0.0.1:5300 --type txt")]
pub struct QueryArgs {
    /// The name to ask about
    #[arg(value_parser = parse_zone)]
    pub name: Name,
    /// The DNS server, IP or IP:PORT (port 53 when omitted)
    #[arg(long, value_name = "SERVER", default_value = "127.0.0.1:53", value_parser = parse_server)]
    pub server: SocketAddr,
    /// The record type to ask for
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = QueryType::Auto)]
    pub rtype: QueryType,
    /// The port for addresses from A/AAAA records
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Give up after this long
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub timeout: Duration,
}

const PUBLISH_HELP: &str = "\
Every --every, works out the records below for up to --max live peers (keeping those
already published, adding the newest) and, when they changed, replaces them on the
server in one RFC 2136 UPDATE over TCP, signed with TSIG HMAC-SHA256 when --tsig-key is
given:
  NAME A/AAAA               the peers' addresses
  _p2p._udp.NAME SRV        port and target PEER_ID.NAME, per udp address of a peer with an id
  PEER_ID.NAME A/AAAA/TXT   that peer's addresses and its peer record
Prints a `published` record after each update. When stdin ends, publishes once more and
exits; the records stay on the server until the next run replaces them.

TSIG key file: a line NAME:SECRET or hmac-sha256:NAME:SECRET (as dig -y and kdig -y take
it; SECRET in base64), or a BIND key clause (key \"NAME\" { algorithm hmac-sha256; secret \"…\"; };).

Examples (192.0.2.53 serves example.org and takes updates signed with update.key):
  p2p-dns-rr publish --server 192.0.2.53 --zone example.org --name peers.example.org \\
      --tsig-key update.key < peers.ndjson
  dig +short @192.0.2.53 peers.example.org A
  p2p-discover chat --peers peers.ndjson --watch | p2p-dns-rr publish --server 192.0.2.53 \\
      --zone example.org --name peers.example.org --tsig-key update.key --every 10s &";

/// `p2p-dns-rr publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = PUBLISH_HELP)]
pub struct PublishArgs {
    /// The authoritative server to update, IP or IP:PORT (port 53 when omitted)
    #[arg(long, value_name = "SERVER", value_parser = parse_server)]
    pub server: SocketAddr,
    /// The zone that holds the records
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub zone: Name,
    /// The name to publish at [default: the zone's apex]
    #[arg(long, value_name = "NAME", value_parser = parse_zone)]
    pub name: Option<Name>,
    /// TSIG key (HMAC-SHA256) to sign updates with
    #[arg(long, value_name = "FILE")]
    pub tsig_key: Option<PathBuf>,
    /// How often to bring the server up to date
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub every: Duration,
    /// TTL of the published records, in seconds
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse_seconds)]
    pub ttl: u32,
    /// Most peers to publish
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max: usize,
    /// Forget a peer this long after it was last announced
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration::parse)]
    pub expire: Duration,
    /// Give up on one update after this long
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration::parse)]
    pub timeout: Duration,
    #[command(flatten)]
    pub input: InputOptions,
}

/// Parses a domain name given on the command line (made fully qualified, lowercase).
pub fn parse_zone(text: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(text.trim_end_matches('.'))
        .map_err(|e| format!("'{text}' is not a domain name: {e}"))?
        .to_lowercase();
    name.set_fqdn(true);
    Ok(name)
}

/// Parses a DNS server address: `IP`, `IP:PORT`, `[IPv6]:PORT` or the printed
/// `udp://IP:PORT`; port 53 by default.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    address::socket_with(text, Some(53))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_is_well_formed() {
        p2p_shared::cli::entry::command::<Args>().debug_assert();
        Args::command().debug_assert();
    }

    #[test]
    fn servers_default_to_port_53() {
        assert_eq!(
            parse_server("192.0.2.1"),
            Ok("192.0.2.1:53".parse().unwrap())
        );
        assert_eq!(parse_server("[::1]"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(
            parse_server("[::1]:5300"),
            Ok("[::1]:5300".parse().unwrap())
        );
        assert!(
            parse_server("ns1.example")
                .unwrap_err()
                .contains("ns1.example")
        );
    }

    #[test]
    fn zones_are_lowercase_and_fully_qualified() {
        assert_eq!(
            parse_zone("Peers.Example.ORG").unwrap().to_ascii(),
            "peers.example.org."
        );
        assert_eq!(parse_zone("peers.test.").unwrap().to_ascii(), "peers.test.");
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems =
            p2p_shared::cli::vocabulary::check(&p2p_shared::cli::entry::command::<Args>());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
