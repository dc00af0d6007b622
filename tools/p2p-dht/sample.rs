//! `sample`: BEP 51's `sample_infohashes`, asked of one node over a socket of our own
//! (mainline 8 neither sends nor answers it).
//!
//! The query is `{"q": "sample_infohashes", "a": {"id", "target"}}`; the answer's `r`
//! holds `samples` (20-byte infohashes, concatenated), `num` (how many the node
//! stores), `interval` (seconds before it offers a new sample) and `nodes` (compact
//! node info near `target`, as `find_node` answers). A ping goes out with it, so a node
//! that is alive but ignores the query (mainline does) is told apart from silence.

use crate::args::SampleArgs;
use crate::krpc::Client;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::bencode::Value as Bencode;
use p2p_shared::codec::krpc::Answer;
use p2p_shared::{Error, Result, Status, cli::duration, random};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

/// What a node answered to `sample_infohashes`.
#[derive(Debug, PartialEq, Eq)]
pub struct Sample {
    /// The node's id.
    pub id: Vec<u8>,
    /// The sampled infohashes.
    pub infohashes: Vec<[u8; 20]>,
    /// How many infohashes the node says it stores.
    pub num: Option<i64>,
    /// Seconds before the node offers a new sample.
    pub interval: Option<i64>,
    /// Nodes near the target: id and address.
    pub nodes: Vec<([u8; 20], SocketAddrV4)>,
}

/// Reads a `sample_infohashes` response; an error names what is malformed.
pub fn parse_samples(fields: &BTreeMap<Vec<u8>, Bencode>) -> Result<Sample, String> {
    let get = |key: &str| fields.get(key.as_bytes());
    let samples = match get("samples") {
        None => return Err("the answer has no \"samples\"".to_owned()),
        Some(value) => value
            .as_bytes()
            .filter(|b| b.len() % 20 == 0)
            .ok_or("\"samples\" is not a string of 20-byte infohashes")?,
    };
    let nodes = get("nodes").and_then(Bencode::as_bytes).unwrap_or_default();
    if nodes.len() % 26 != 0 {
        return Err("\"nodes\" is not compact node info (26 bytes each)".to_owned());
    }
    let twenty = |chunk: &[u8]| -> [u8; 20] { chunk.try_into().unwrap_or([0; 20]) };
    Ok(Sample {
        id: Answer::id(fields).to_vec(),
        infohashes: samples.chunks_exact(20).map(twenty).collect(),
        num: get("num").and_then(Bencode::as_int),
        interval: get("interval").and_then(Bencode::as_int),
        nodes: nodes
            .chunks_exact(26)
            .map(|c| {
                let ip = Ipv4Addr::new(c[20], c[21], c[22], c[23]);
                (
                    twenty(&c[..20]),
                    SocketAddrV4::new(ip, u16::from_be_bytes([c[24], c[25]])),
                )
            })
            .collect(),
    })
}

/// `p2p-dht sample`.
pub fn run(args: &SampleArgs, ctx: &Ctx) -> Result<Status> {
    let target = match &args.target {
        Some(text) => *p2p_shared::discovery::dht::parse_id(text)
            .map_err(Error::usage)?
            .as_bytes(),
        None => random::bytes::<20>()?,
    };
    let client = Client::connect(args.addr, args.bind)?;
    let started = Instant::now();
    let deadline = started + args.timeout;
    let sample = client.send(
        "sample_infohashes",
        &[("target", Bencode::Bytes(target.to_vec()))],
    )?;
    let ping = client.send("ping", &[])?;
    let mut alive = false;
    let answer = loop {
        match client.recv(deadline)? {
            Some((tid, answer)) if tid == sample => break answer,
            Some((tid, Answer::Response { .. })) if tid == ping => alive = true,
            Some(_) => {}
            None if alive => {
                return Err(Error::failure(format!(
                    "{} answers pings but not sample_infohashes (within {}): it does not \
                     support BEP 51",
                    args.addr,
                    duration::format(args.timeout)
                )));
            }
            None => {
                return Err(Error::timeout(format!(
                    "no answer from {} within {}",
                    args.addr,
                    duration::format(args.timeout)
                )));
            }
        }
    };
    let rtt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let fields = match answer {
        Answer::Response { fields, .. } => fields,
        Answer::Error(code, message) => {
            return Err(Error::failure(format!(
                "{} refused sample_infohashes (BEP 51) with error {code}: {message}",
                args.addr
            )));
        }
    };
    let found = parse_samples(&fields)
        .map_err(|e| Error::failure(format!("{} sent a malformed sample: {e}", args.addr)))?;
    let from = Addr::udp(args.addr);
    for infohash in &found.infohashes {
        ctx.out.record(&json!({
            "type": "sample",
            "infohash": hex::encode(infohash),
            "addr": from,
        }))?;
    }
    for (id, addr) in &found.nodes {
        ctx.out.record(
            &json!({"type": "node", "node_id": hex::encode(id), "addr": Addr::udp(*addr)}),
        )?;
    }
    ctx.out.record(&json!({
        "type": "sampled",
        "addr": from,
        "node_id": hex::encode(&found.id),
        "count": found.infohashes.len(),
        "num": found.num,
        "interval_s": found.interval,
        "nodes": found.nodes.len(),
        "target": hex::encode(target),
        "rtt_ms": (rtt_ms * 1000.0).round() / 1000.0,
    }))?;
    if found.infohashes.is_empty() {
        ctx.note(format_args!("{} holds no infohashes to sample", args.addr));
        return Ok(Status::Failure);
    }
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::codec::bencode::decode;

    fn fields(datagram: &[u8]) -> BTreeMap<Vec<u8>, Bencode> {
        match decode(datagram).unwrap().get("r") {
            Some(Bencode::Dict(r)) => r.clone(),
            other => panic!("no r: {other:?}"),
        }
    }

    #[test]
    fn a_bep51_answer_yields_samples_and_nodes() {
        let mut answer = b"d1:rd2:id20:abcdefghij01234567898:intervali21600e5:nodes26:".to_vec();
        answer.extend_from_slice(b"ZZZZZZZZZZZZZZZZZZZZ");
        answer.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        answer.extend_from_slice(b"3:numi3e7:samples40:");
        answer.extend_from_slice(&[1; 20]);
        answer.extend_from_slice(&[2; 20]);
        answer.extend_from_slice(b"e1:t4:aaaa1:y1:re");
        let got = parse_samples(&fields(&answer)).unwrap();
        assert_eq!(got.id, b"abcdefghij0123456789");
        assert_eq!(got.infohashes, vec![[1; 20], [2; 20]]);
        assert_eq!((got.num, got.interval), (Some(3), Some(21600)));
        assert_eq!(
            got.nodes,
            vec![([b'Z'; 20], "127.0.0.1:6881".parse().unwrap())]
        );
    }

    #[test]
    fn malformed_samples_are_named() {
        let torn = b"d1:rd2:id20:abcdefghij01234567897:samples3:abce1:t4:aaaa1:y1:re";
        assert!(
            parse_samples(&fields(torn))
                .unwrap_err()
                .contains("20-byte")
        );
        let none = b"d1:rd2:id20:abcdefghij0123456789e1:t4:aaaa1:y1:re";
        assert!(
            parse_samples(&fields(none))
                .unwrap_err()
                .contains("no \"samples\"")
        );
    }
}
