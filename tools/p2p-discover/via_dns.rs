//! Discovery through DNS: `--dns NAME[:PORT]` asks for TXT (signed peer records and
//! `id=` names), SRV `_p2p._udp.NAME`, and, when a port is given, A and AAAA, and
//! turns the answers into peers (see `p2p_shared::discovery::dns`). With `--watch` the name
//! is asked again as its TTL runs out, and peers that disappeared are reported gone.

use crate::found::{self, Sender};
use crate::poll::Snapshot;
use hickory_proto::rr::{Name, RecordType};
use p2p_shared::discovery::dns;
use p2p_shared::ndjson::peer::PeerRecord;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The mechanism's name in `via`.
pub const VIA: &str = "dns";
/// How long one question may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// A name to ask, with the port its A/AAAA addresses listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The DNS name.
    pub name: String,
    /// The port for address records.
    pub port: Option<u16>,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        let (name, port) = match text.rsplit_once(':') {
            Some((name, port)) => (
                name,
                Some(port.parse().map_err(|_| format!("'{text}': bad port"))?),
            ),
            None => (text, None),
        };
        Name::from_str(name).map_err(|e| format!("'{name}' is not a DNS name: {e}"))?;
        Ok(Target {
            name: name.to_owned(),
            port,
        })
    }
}

/// The first nameserver in /etc/resolv.conf, for when `--dns-server` is not given.
pub fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|ip| ip.trim().parse().ok())
        .map(|ip| SocketAddr::new(ip, 53))
}

/// Asks about one name, reporting peers, until the run ends.
pub async fn run(
    target: Target,
    server: SocketAddr,
    topic: Option<String>,
    repeat: bool,
    tx: Sender,
) {
    let mut snapshot = Snapshot::default();
    loop {
        let asked = target.clone();
        let (peers, problems, ttl) = smol::unblock(move || ask(&asked, server)).await;
        for why in problems {
            found::problem(&tx, VIA, format!("{}: {why}", target.name), false).await;
        }
        let peers = peers
            .into_iter()
            .map(|mut peer| {
                if peer.topic.is_none() && !peer.is_signed() {
                    peer.topic.clone_from(&topic);
                }
                peer
            })
            .collect();
        if !snapshot.update(peers, &tx).await || !repeat {
            return;
        }
        smol::Timer::after(ttl).await;
    }
}

/// Asks every question for `target`: the peers, the problems, and the shortest TTL
/// seen (how soon to ask again).
fn ask(target: &Target, server: SocketAddr) -> (Vec<PeerRecord>, Vec<String>, Duration) {
    let mut peers: Vec<PeerRecord> = Vec::new();
    let mut problems = Vec::new();
    let mut ttl = 60;
    let mut questions = vec![
        (target.name.clone(), RecordType::TXT),
        (format!("_p2p._udp.{}", target.name), RecordType::SRV),
    ];
    if target.port.is_some() {
        questions.push((target.name.clone(), RecordType::A));
        questions.push((target.name.clone(), RecordType::AAAA));
    }
    for (name, rtype) in questions {
        let Ok(name) = Name::from_str(&name) else {
            continue;
        };
        match dns::resolve(server, &name, rtype, QUERY_TIMEOUT) {
            Ok(message) => {
                ttl = message.answers.iter().map(|r| r.ttl).fold(ttl, u32::min);
                for item in dns::peers(&message, target.port) {
                    match item {
                        Ok(peer)
                            if !peers
                                .iter()
                                .any(|p| p.id == peer.id && p.addrs == peer.addrs) =>
                        {
                            peers.push(peer);
                        }
                        Ok(_) => {}
                        Err(why) => problems.push(why),
                    }
                }
            }
            Err(e) => problems.push(format!("{rtype}: {e}")),
        }
    }
    (peers, problems, Duration::from_secs(ttl.max(1).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_an_optional_port() {
        assert_eq!(
            "peers.example.org".parse(),
            Ok(Target {
                name: "peers.example.org".into(),
                port: None
            })
        );
        assert_eq!(
            "peers.example.org:4000".parse::<Target>().unwrap().port,
            Some(4000)
        );
        assert!("peers.example.org:x".parse::<Target>().is_err());
    }
}
