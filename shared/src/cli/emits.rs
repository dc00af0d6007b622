//! The record types each command prints: one table, rendered into every man page's
//! RECORDS sections, and checked by a test against docs/ndjson.md's table of record
//! types (so the man pages, the document and the code cannot drift apart).

/// One command (`tool` or `tool subcommand`), the record types it prints, and a note
/// on when (empty when always).
pub struct Emits {
    /// The command as typed: `p2p-dht get-peers`, or the tool alone.
    pub command: &'static str,
    /// The `type`s of the records it prints on stdout (or into a file it is given).
    pub types: &'static [&'static str],
    /// When, for a type not always printed.
    pub note: &'static str,
}

const fn e(command: &'static str, types: &'static [&'static str], note: &'static str) -> Emits {
    Emits {
        command,
        types,
        note,
    }
}

/// Every command of the toolbox.
pub const EMITS: &[Emits] = &[
    e("p2p", &["tool"], "with --json; a table otherwise"),
    e("p2p tools", &["tool"], "with --json; a table otherwise"),
    e("p2p roles", &["role"], "with --json; a table otherwise"),
    e(
        "p2p-keygen new",
        &["identity"],
        "with the secret unless -o FILE",
    ),
    e("p2p-keygen id", &["identity"], ""),
    e("p2p-keygen peer", &["peer"], "signed"),
    e(
        "p2p-keygen sign",
        &["message"],
        "each input record (of any type), with signer and sig",
    ),
    e(
        "p2p-keygen verify",
        &["message", "peer"],
        "the validly signed input records (of any type), passed through",
    ),
    e("p2p-keygen seal", &["sealed"], ""),
    e("p2p-keygen open", &[], "the plaintext, not records"),
    e(
        "p2p-keygen convert",
        &["identity"],
        "without --to; the bare form with --to",
    ),
    e("p2p-dht get-peers", &["peer"], ""),
    e("p2p-dht announce", &["announced"], ""),
    e("p2p-dht put", &["stored"], ""),
    e("p2p-dht get", &["item"], ""),
    e("p2p-dht publish", &["published"], ""),
    e("p2p-dht resolve", &["peer"], "signed, verified"),
    e("p2p-dht ping", &["pong"], ""),
    e("p2p-dht sample", &["sample", "sampled"], "sampled last"),
    e("p2p-dht find-node", &["node"], ""),
    e("p2p-dht info", &["info"], ""),
    e(
        "p2p-dht serve",
        &["listening", "stats"],
        "stats with --stats-every",
    ),
    e("p2p-dht testnet", &["node", "bootstrap"], "bootstrap last"),
    e(
        "p2p-discover",
        &["peer", "peer_gone"],
        "peer_gone with --watch",
    ),
    e(
        "p2p-discover tracker",
        &["listening", "stats"],
        "stats with --stats-every",
    ),
    e(
        "p2p-dns-rr serve",
        &["listening", "stats"],
        "stats with --stats-every",
    ),
    e("p2p-dns-rr query", &["peer"], ""),
    e("p2p-dns-rr publish", &["published"], ""),
    e("p2p-punch stun", &["mapping"], ""),
    e("p2p-punch nat", &["nat"], ""),
    e(
        "p2p-punch serve",
        &["listening", "event", "stats"],
        "stats with --stats-every",
    ),
    e(
        "p2p-punch listen",
        &["listening", "candidate", "punch"],
        "candidate with --signal stdio",
    ),
    e(
        "p2p-punch connect",
        &["candidate", "punch"],
        "candidate with --signal stdio",
    ),
    e(
        "p2p-relay serve",
        &["listening", "event", "stats"],
        "stats with --stats-every",
    ),
    e("p2p-relay probe", &["relay"], ""),
    e(
        "p2p-gossip",
        &[
            "listening",
            "message",
            "peer_up",
            "peer_down",
            "dropped",
            "error",
            "stats",
            "gossip",
        ],
        "gossip: the lines of --store; stats with --stats-every",
    ),
    e(
        "p2p-pipe listen",
        &["ticket", "event", "candidate"],
        "the stream on stdout; ticket into --ticket-file, event into --events, \
         candidate with --signal stdio",
    ),
    e(
        "p2p-pipe connect",
        &["event", "candidate"],
        "the stream on stdout; event into --events, candidate with --signal stdio",
    ),
];

/// The entry of `command`, if it has one.
pub fn of(command: &str) -> Option<&'static Emits> {
    EMITS.iter().find(|e| e.command == command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_once() {
        for (i, a) in EMITS.iter().enumerate() {
            assert!(
                EMITS[i + 1..].iter().all(|b| b.command != a.command),
                "{} twice",
                a.command
            );
        }
        assert_eq!(of("p2p-dht ping").unwrap().types, ["pong"]);
    }
}
