//! Bootstrap lists: the handbook's JSON map `{"<peer-id>": "tcp://ip:port", …}`,
//! NDJSON `peer` records, or plain address lines (`udp://…`, or `IP:PORT` taken as
//! UDP). `#` starts a comment line. A malformed line is reported with its file and
//! line number and skipped.

use crate::found::{self, Found, Sender};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use serde_json::Value;
use std::path::PathBuf;

/// The mechanism's name in `via`.
pub const VIA: &str = "bootstrap";

/// Reads every file and reports its peers.
pub async fn run(files: Vec<PathBuf>, topic: String, tx: Sender) {
    for file in files {
        let shown = file.display().to_string();
        let text = match smol::fs::read_to_string(&file).await {
            Ok(text) => text,
            Err(e) => {
                found::problem(&tx, VIA, format!("{shown}: {e}"), true).await;
                continue;
            }
        };
        for item in parse(&text) {
            let found = match item {
                Ok(mut peer) => {
                    peer.via = Some(VIA.to_owned());
                    if peer.topic.is_none() && !peer.is_signed() {
                        peer.topic = Some(topic.clone());
                    }
                    Found::Peer(peer)
                }
                Err((line, why)) => Found::Problem {
                    via: VIA,
                    message: format!("{shown}: line {line}: {why}"),
                    input: true,
                },
            };
            if tx.send(found).await.is_err() {
                return;
            }
        }
    }
}

/// The peers in one file's text, or (line number, what was wrong) for bad lines.
pub fn parse(text: &str) -> Vec<Result<PeerRecord, (usize, String)>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed)
        && !map.contains_key("type")
    {
        return map
            .into_iter()
            .map(|(id, addr)| {
                let line = line_of(text, &id);
                let id: PeerId = id.parse().map_err(|e| (line, e))?;
                let addrs = match addr {
                    Value::String(a) => vec![parse_addr(&a).map_err(|e| (line, e))?],
                    Value::Array(list) => list
                        .iter()
                        .map(|a| {
                            a.as_str()
                                .ok_or("an address must be a string".to_owned())
                                .and_then(parse_addr)
                        })
                        .collect::<Result<_, _>>()
                        .map_err(|e| (line, e))?,
                    _ => {
                        return Err((
                            line,
                            format!("the address of {id} must be a string or a list"),
                        ));
                    }
                };
                Ok(PeerRecord::new(Some(id), addrs))
            })
            .collect();
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| parse_line(line.trim()).map_err(|e| (i + 1, e)))
        .collect()
}

fn parse_line(line: &str) -> Result<PeerRecord, String> {
    if line.starts_with('{') {
        let value: Value = p2p_shared::identity::strict::from_slice(line.as_bytes())
            .map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(map) = value else {
            unreachable!("starts with a brace")
        };
        return PeerRecord::from_object(map);
    }
    Ok(PeerRecord::new(None, vec![parse_addr(line)?]))
}

fn parse_addr(text: &str) -> Result<Addr, String> {
    Addr::parse_with_default(text, Scheme::Udp)
}

/// The 1-based line on which `needle` first appears (for messages about a JSON map).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD_ID: &str = "0000000000000000000000000000000000000000000000000000";

    fn id() -> String {
        p2p_shared::identity::Identity::from_seed([1; 32])
            .id()
            .to_string()
    }

    #[test]
    fn reads_the_json_map_form() {
        let text = format!(
            "{{\n  \"{}\": \"tcp://192.0.2.1:4000\",\n  \"{BAD_ID}\": \"udp://192.0.2.2:1\"\n}}",
            id()
        );
        let peers = parse(&text);
        assert_eq!(peers.len(), 2);
        let first = peers[0].as_ref().unwrap();
        assert_eq!(first.id.unwrap().to_string(), id());
        assert_eq!(first.addrs[0].to_string(), "tcp://192.0.2.1:4000");
        let (line, why) = peers[1].as_ref().unwrap_err();
        assert_eq!(*line, 3);
        assert!(why.contains("z-base-32"), "{why}");
    }

    #[test]
    fn reads_ndjson_and_plain_lines_and_reports_bad_ones() {
        let text = format!(
            "# peers\n{{\"type\":\"peer\",\"id\":\"{}\",\"addrs\":[\"udp://192.0.2.1:1\"]}}\n192.0.2.7:9000\nnot an address\n",
            id()
        );
        let peers = parse(&text);
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[0].as_ref().unwrap().id.unwrap().to_string(), id());
        assert_eq!(
            peers[1].as_ref().unwrap().addrs[0].to_string(),
            "udp://192.0.2.7:9000"
        );
        assert_eq!(peers[2].as_ref().unwrap_err().0, 4);
    }
}
