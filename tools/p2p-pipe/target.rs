//! What `connect` dials: a ticket string, a bare peer id (its signed peer record is
//! looked up in the DHT), or a file holding a `ticket` or `peer` record. Each ends as a
//! [`Ticket`]: the peer id and the places to reach it.

use crate::args::ConnectArgs;
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::duration;
use p2p_shared::connect::ticket::{self, Ticket};
use p2p_shared::discovery::dht;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::input::{self, LineReader};
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{Context, Error, Result};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// The ticket `connect` works from, and how it was found (for the path report).
pub fn resolve(args: &ConnectArgs) -> Result<(Ticket, &'static str)> {
    if let Some(path) = &args.peer_file {
        return Ok((from_file(path)?, "file"));
    }
    let text = args.target.as_deref().unwrap_or_default().trim();
    if text.starts_with(ticket::PREFIX) {
        let ticket = Ticket::decode(text).map_err(|e| Error::usage(format!("bad ticket: {e}")))?;
        return Ok((ticket, "ticket"));
    }
    let id: PeerId = text.parse().map_err(|e: String| {
        Error::usage(format!(
            "'{text}' is neither a ticket (p2pt…) nor a peer id: {e}"
        ))
    })?;
    Ok((from_dht(args, id)?, "dht"))
}

/// The ticket a peer record stands for: its id and its UDP/QUIC IP addresses.
fn from_peer(record: &PeerRecord) -> Result<Ticket, String> {
    let id = record.id.ok_or("the peer record names no peer id")?;
    let addrs = record
        .addrs
        .iter()
        .filter(|a| matches!(a.scheme, Scheme::Udp | Scheme::Quic))
        .filter_map(Addr::socket_addr)
        .collect();
    Ok(Ticket {
        id,
        addrs,
        rendezvous: None,
        relay: None,
    })
}

fn from_object(object: Map<String, Value>) -> Result<Ticket, String> {
    match object.get("type").and_then(Value::as_str) {
        Some("ticket") => Ticket::from_record(&object),
        Some("peer") => {
            let record = PeerRecord::from_object(object)?;
            if record.is_signed() {
                record
                    .verify()
                    .map_err(|e| format!("the peer record's signature does not verify ({e})"))?;
            }
            from_peer(&record)
        }
        Some(other) => Err(format!("a '{other}' record is neither a ticket nor a peer")),
        None => Err("the object has no \"type\"".to_owned()),
    }
}

/// The first `ticket` or `peer` record (or ticket string) in a file.
fn from_file(path: &Path) -> Result<Ticket> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = LineReader::new(BufReader::new(file), input::DEFAULT_MAX_LINE);
    let bad = |line: u64, e: String| Error::usage(format!("{}: line {line}: {e}", path.display()));
    while let Some(line) = reader.next_line()? {
        let Some(bytes) = line.bytes.as_deref() else {
            continue;
        };
        if input::is_blank(bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        if text.trim().starts_with(ticket::PREFIX) {
            return Ticket::decode(&text).map_err(|e| bad(line.number, e));
        }
        let object = input::parse_object(&line, input::DEFAULT_MAX_LINE)
            .map_err(|e| bad(line.number, e.to_string()))?;
        return from_object(object).map_err(|e| bad(line.number, e));
    }
    Err(Error::usage(format!(
        "{} holds no ticket or peer record",
        path.display()
    )))
}

/// Looks the peer id up in the DHT, as `p2p-dht resolve` does.
fn from_dht(args: &ConnectArgs, id: PeerId) -> Result<Ticket> {
    let (node, _nudger) = args.dht.start_client(None)?;
    let timeout = args.timeout;
    let record = smol::block_on(smol::future::or(dht::resolve_peer(&node, id), async {
        smol::Timer::after(timeout).await;
        Err(Error::timeout(format!(
            "no peer record of {id} found in the DHT within {}",
            duration::format(timeout)
        )))
    }))?;
    let ticket = from_peer(&record).map_err(Error::failure)?;
    if ticket.addrs.is_empty() {
        return Err(Error::failure(format!(
            "the peer record of {id} holds no UDP address"
        )));
    }
    Ok(ticket)
}
