//! Bootstrap lists, as `p2p-discover --peers FILE` reads them: the handbook's JSON map
//! `{"<peer-id>": "tcp://ip:port", …}`, the same map written in brackets as the
//! handbook prints it (`[ "Qm…": "tcp://…", … ]`, read leniently with a note), a JSON
//! array of addresses or `peer` records, NDJSON `peer` records, or plain address lines
//! (`udp://…`, or `IP:PORT` taken as UDP). `#` starts a comment line. A malformed line
//! is reported with its line number and skipped.
//!
//! Ids: a toolbox peer id (or a libp2p `12D3KooW…`/`k51…` id) is the peer's `id`; an
//! ed25519 key in another encoding (`did:key`, base64, …) is converted to one; any
//! other id (a libp2p `Qm…` hash, say) is kept in `foreign_id` and the peer still
//! counts. The text comes from a file anyone may have written, so [`parse`] never
//! panics (the `bootstrap` fuzz target holds it to that).

use crate::addr::{Addr, Scheme};
use crate::identity::other_encodings;
use crate::identity::peer_id::PeerId;
use crate::ndjson::peer::PeerRecord;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// What one file held: its peers (or, for bad entries, the line and what was wrong),
/// and notes for a human about how it was read.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The peers, in file order, or (line number, what was wrong).
    pub peers: Vec<Result<PeerRecord, (usize, String)>>,
    /// How the file was read, when not as written (for stderr).
    pub notes: Vec<String>,
}

/// The peers in one file's text.
pub fn parse(text: &str) -> Parsed {
    let trimmed = text.trim();
    let mut parsed = Parsed::default();
    if trimmed.starts_with('{')
        && let Ok(Entries(entries)) = serde_json::from_str::<Entries>(trimmed)
        && !entries.iter().any(|(key, _)| key == "type")
    {
        read_map(text, entries, &mut parsed);
        return parsed;
    }
    if let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed) {
            for item in items {
                let peer = match item {
                    Value::String(addr) => {
                        parse_addr(&addr).map(|a| PeerRecord::new(None, vec![a]))
                    }
                    Value::Object(object) => peer_object(object, &mut parsed.notes),
                    _ => Err("a list entry must be an address or a peer record".to_owned()),
                };
                parsed.peers.push(peer.map_err(|e| (1, e)));
            }
            return parsed;
        }
        if let Ok(Entries(entries)) = serde_json::from_str::<Entries>(&format!("{{{inner}}}")) {
            parsed.notes.push(
                "read leniently: a map written in brackets [ \"id\": \"addr\", … ] taken as the \
                 JSON map { \"id\": \"addr\", … }"
                    .to_owned(),
            );
            read_map(text, entries, &mut parsed);
            return parsed;
        }
    }
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let peer = parse_line(line, &mut parsed.notes).map_err(|e| (i + 1, e));
        parsed.peers.push(peer);
    }
    parsed
}

/// The entries of a JSON map `{id: address or [addresses]}`, duplicates kept.
fn read_map(text: &str, entries: Vec<(String, Value)>, parsed: &mut Parsed) {
    for (id, addr) in entries {
        let line = line_of(text, &format!("\"{id}\""));
        let addrs = match addr {
            Value::String(a) => parse_addr(&a).map(|a| vec![a]),
            Value::Array(list) => list
                .iter()
                .map(|a| {
                    a.as_str()
                        .ok_or("an address must be a string".to_owned())
                        .and_then(parse_addr)
                })
                .collect(),
            _ => Err(format!("the address of {id} must be a string or a list")),
        };
        let peer = addrs.map(|addrs| {
            let mut peer = PeerRecord::new(None, addrs);
            (peer.id, peer.foreign_id) = read_id(&id, &mut parsed.notes);
            peer
        });
        parsed.peers.push(peer.map_err(|e| (line, e)));
    }
}

/// A peer's id as given: ours, converted to ours, or kept as foreign.
fn read_id(text: &str, notes: &mut Vec<String>) -> (Option<PeerId>, Option<String>) {
    if text.trim().is_empty() {
        return (None, None);
    }
    match text.parse::<PeerId>() {
        Ok(id) => (Some(id), None),
        Err(why) => match other_encodings::parse(text) {
            Some(id) => {
                notes.push(format!(
                    "'{text}' is an ed25519 key; converted to peer id {id}"
                ));
                (Some(id), None)
            }
            None => {
                notes.push(format!(
                    "kept as foreign_id, the peer is not verifiable: {why}"
                ));
                (None, Some(text.to_owned()))
            }
        },
    }
}

fn parse_line(line: &str, notes: &mut Vec<String>) -> Result<PeerRecord, String> {
    if line.starts_with('{') {
        let value: Value = crate::identity::strict::from_slice(line.as_bytes())
            .map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err("a line starting with { must be one JSON object".to_owned());
        };
        return peer_object(map, notes);
    }
    Ok(PeerRecord::new(None, vec![parse_addr(line)?]))
}

/// A `peer` record; an `id` that is not one of ours is converted or kept as foreign.
fn peer_object(
    mut object: Map<String, Value>,
    notes: &mut Vec<String>,
) -> Result<PeerRecord, String> {
    if let Some(Value::String(id)) = object.get("id")
        && id.parse::<PeerId>().is_err()
    {
        let id = id.clone();
        object.remove("id");
        let (ours, foreign) = read_id(&id, notes);
        if let Some(ours) = ours {
            object.insert("id".to_owned(), Value::String(ours.to_string()));
        }
        if let Some(foreign) = foreign {
            object.insert("foreign_id".to_owned(), Value::String(foreign));
        }
    }
    PeerRecord::from_object(object)
}

fn parse_addr(text: &str) -> Result<Addr, String> {
    Addr::parse_with_default(text, Scheme::Udp)
}

/// The 1-based line on which `needle` first appears (for messages about a JSON map).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

/// A JSON object's entries in order, keeping repeated keys (the handbook's example
/// repeats its elided `"Qm…"`).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD_ID: &str = "0000000000000000000000000000000000000000000000000000";

    fn id() -> String {
        crate::identity::Identity::from_seed([1; 32])
            .id()
            .to_string()
    }

    #[test]
    fn reads_the_json_map_form() {
        let text = format!(
            "{{\n  \"{}\": \"tcp://192.0.2.1:4000\",\n  \"{BAD_ID}\": \"udp://192.0.2.2:1\",\n  \"x\": 5\n}}",
            id()
        );
        let parsed = parse(&text);
        assert_eq!(parsed.peers.len(), 3);
        let first = parsed.peers[0].as_ref().unwrap();
        assert_eq!(first.id.unwrap().to_string(), id());
        assert_eq!(first.addrs[0].to_string(), "tcp://192.0.2.1:4000");
        let second = parsed.peers[1].as_ref().unwrap();
        assert_eq!(
            (second.id, second.foreign_id.as_deref()),
            (None, Some(BAD_ID))
        );
        assert!(parsed.notes[0].contains("z-base-32"), "{:?}", parsed.notes);
        let (line, why) = parsed.peers[2].as_ref().unwrap_err();
        assert_eq!(*line, 4);
        assert!(why.contains("string or a list"), "{why}");
    }

    #[test]
    fn reads_the_handbooks_list_verbatim() {
        let text = r#"[ "Qm…": "tcp://12.62.93.214:9090", "Qm…": "udp://24.243.12.9:1234", "Qm…": "utp://99.4.78.181:97" ]"#;
        let parsed = parse(text);
        let peers: Vec<_> = parsed.peers.into_iter().map(Result::unwrap).collect();
        let addrs: Vec<_> = peers.iter().map(|p| p.addrs[0].to_string()).collect();
        assert_eq!(
            addrs,
            [
                "tcp://12.62.93.214:9090",
                "udp://24.243.12.9:1234",
                "utp://99.4.78.181:97"
            ]
        );
        assert!(
            peers
                .iter()
                .all(|p| p.id.is_none() && p.foreign_id.as_deref() == Some("Qm…"))
        );
        assert!(
            parsed.notes[0].contains("read leniently"),
            "{:?}",
            parsed.notes
        );
    }

    #[test]
    fn converts_keys_in_other_encodings_and_libp2p_ids() {
        let me = crate::identity::Identity::from_seed([1; 32]).id();
        let libp2p = crate::identity::libp2p::peer_id(&me.to_bytes());
        let did = format!(
            "did:key:z{}",
            crate::identity::base_x::encode(
                &[&[0xed, 0x01][..], &me.to_bytes()].concat(),
                crate::identity::base_x::BASE58BTC
            )
        );
        let text =
            format!("{{\"{libp2p}\": \"udp://192.0.2.1:1\", \"{did}\": \"udp://192.0.2.1:2\"}}");
        let parsed = parse(&text);
        for peer in parsed.peers {
            assert_eq!(peer.unwrap().id, Some(me));
        }
        let line = r#"{"type":"peer","id":"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N","addrs":["utp://192.0.2.3:3"]}"#;
        let peer = parse(line).peers.remove(0).unwrap();
        assert_eq!(peer.id, None);
        assert!(peer.foreign_id.unwrap().starts_with("QmYy"));
    }

    #[test]
    fn reads_a_json_array_of_addresses() {
        let parsed = parse(r#"["udp://192.0.2.1:1", "192.0.2.2:2", 3]"#);
        assert_eq!(parsed.peers.len(), 3);
        assert_eq!(
            parsed.peers[1].as_ref().unwrap().addrs[0].to_string(),
            "udp://192.0.2.2:2"
        );
        assert!(parsed.peers[2].is_err());
        assert!(parsed.notes.is_empty());
    }

    #[test]
    fn reads_ndjson_and_plain_lines_and_reports_bad_ones() {
        let text = format!(
            "# peers\n{{\"type\":\"peer\",\"id\":\"{}\",\"addrs\":[\"udp://192.0.2.1:1\"]}}\n192.0.2.7:9000\nnot an address\n",
            id()
        );
        let peers = parse(&text).peers;
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[0].as_ref().unwrap().id.unwrap().to_string(), id());
        assert_eq!(
            peers[1].as_ref().unwrap().addrs[0].to_string(),
            "udp://192.0.2.7:9000"
        );
        assert_eq!(peers[2].as_ref().unwrap_err().0, 4);
    }
}
