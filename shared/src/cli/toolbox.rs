//! The toolbox's own map: every tool, the role it fills in the handbook's layers,
//! the question it answers and one example. `p2p` prints it, and every tool's
//! `--help` names its role from it.

use std::fmt::Write;

/// One tool of the toolbox.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The binary's name.
    pub name: &'static str,
    /// The layer it fills.
    pub role: &'static str,
    /// The question it answers for its user.
    pub answers: &'static str,
    /// Its job in one line.
    pub job: &'static str,
    /// One command line that shows it at work.
    pub example: &'static str,
    /// Whether it talks to other machines (and so takes `-v/--verbose`).
    pub network: bool,
}

/// Every tool, lowest layer first.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "p2p-keygen",
        role: "identity",
        answers: "who am I, and did this peer really say that?",
        job: "make and read ed25519 identities; sign, verify, seal and open NDJSON lines",
        example: "p2p-keygen new -o ~/.config/p2p/identity.json",
        network: false,
    },
    Tool {
        name: "p2p-discover",
        role: "discovery",
        answers: "who else is interested in this topic?",
        job: "find and announce peers of a topic over mDNS, the DHT, trackers, lists and DNS",
        example: "p2p-discover chat --mdns --watch",
        network: true,
    },
    Tool {
        name: "p2p-dns-rr",
        role: "discovery",
        answers: "how do plain DNS clients find the swarm?",
        job: "serve live peers as low-TTL round-robin DNS; query; update a real DNS server",
        example: "p2p-discover chat --watch | p2p-dns-rr serve --zone peers.test",
        network: true,
    },
    Tool {
        name: "p2p-dht",
        role: "peer routing",
        answers: "where is this peer or content on the mainline DHT?",
        job: "get_peers/announce, BEP 44 items, signed peer records, nodes and testnets",
        example: "p2p-dht resolve PEER_ID",
        network: true,
    },
    Tool {
        name: "p2p-punch",
        role: "peer routing",
        answers: "what NAT am I behind, and can two peers reach each other directly?",
        job: "STUN client and server, NAT behaviour (RFC 5780), rendezvous, hole punching",
        example: "p2p-punch nat --server udp://STUN_IP:3478",
        network: true,
    },
    Tool {
        name: "p2p-relay",
        role: "peer routing",
        answers: "how do two peers talk when no direct path exists?",
        job: "a TURN relay (RFC 8656) with peer-key access and limits; probe any TURN server",
        example: "p2p-relay probe turn://RELAY_IP:3478 --auth-secret SECRET",
        network: true,
    },
    Tool {
        name: "p2p-pipe",
        role: "stream",
        answers: "give me an encrypted duplex stream to this peer id",
        job: "QUIC stream to a peer id or ticket on stdin/stdout; TCP forwarding",
        example: "p2p-pipe connect PEER_ID < file",
        network: true,
    },
    Tool {
        name: "p2p-gossip",
        role: "content routing",
        answers: "how does a message reach every interested peer, once?",
        job: "signed messages through a swarm: HyParView, Plumtree, anti-entropy",
        example: "p2p-discover chat --watch | p2p-gossip --topic chat",
        network: true,
    },
];

/// The tool called `name`, if it is one of the toolbox's.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The rows as an aligned text table with a header and a rule, one row per entry.
pub fn table(header: &[&str], rows: &[Vec<&str>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        text.push('\n');
        text
    };
    let mut out = line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_found_by_name() {
        for tool in TOOLS {
            assert_eq!(find(tool.name).unwrap().name, tool.name);
        }
        assert!(find("p2p-nothing").is_none());
    }

    #[test]
    fn columns_line_up() {
        let text = table(&["a", "bb"], &[vec!["xyz", "1"], vec!["q", "22"]]);
        assert_eq!(text, "a    bb\n---  --\nxyz  1\nq    22\n");
    }
}
