//! `p2p-dns-rr publish`: keeps a real DNS server's records for the live peers current
//! with RFC 2136 dynamic updates, TSIG-signed.
//!
//! Each update replaces whole record sets: it deletes every set this run manages
//! (those it published before and those it publishes now) and adds the current
//! records, in one message the server applies atomically.

use crate::args::PublishArgs;
use crate::feed::Feed;
use crate::table::{Entry, Table};
use crate::tsig::Key;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use p2p_shared::addr::{Host, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dns::{self, txt_chunks};
use p2p_shared::ndjson::input::Problems;
use p2p_shared::{Error, Result, Status, diag, narrate};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest the loop waits for input before looking at the clock.
const TICK: Duration = Duration::from_millis(250);

/// Record sets by owner and type: what should be (or is) on the server.
type RrSets = BTreeMap<(Name, RecordType), Vec<Record>>;

/// `p2p-dns-rr publish`.
pub fn run(args: &PublishArgs, ctx: &Ctx) -> Result<Status> {
    let name = args.name.clone().unwrap_or_else(|| args.zone.clone());
    if !args.zone.zone_of(&name) {
        return Err(Error::usage(format!(
            "{name} is not inside the zone {}",
            args.zone
        )));
    }
    let key = args.tsig_key.as_deref().map(Key::load).transpose()?;
    let publisher = Publisher { args, name, key };
    let mut table = Table::new(args.expire);
    let mut problems = Problems::new(args.input.strict);
    let mut feed = Feed::stdin(args.input.max_line);
    let mut chosen: Vec<String> = Vec::new();
    let mut on_server = RrSets::new();
    let mut last_failed = false;
    let mut next = Instant::now() + args.every;
    loop {
        let now = Instant::now();
        feed.pump(
            next.saturating_duration_since(now).min(TICK),
            &mut table,
            &mut problems,
        )?;
        let ended = !feed.is_open();
        if Instant::now() < next && !ended {
            continue;
        }
        next = Instant::now() + args.every;
        table.expire(Instant::now());
        let peers = choose(&table.live(), &mut chosen, args.max);
        let wanted = publisher.rrsets(&peers);
        if wanted != on_server || last_failed {
            match publisher.update(&on_server, &wanted) {
                Ok(()) => {
                    let records: usize = wanted.values().map(Vec::len).sum();
                    ctx.out.record(&json!({
                        "type": "published",
                        "server": args.server.to_string(),
                        "zone": args.zone.to_ascii(),
                        "name": publisher.name.to_ascii(),
                        "peers": peers.len(),
                        "records": records,
                    }))?;
                    on_server = wanted;
                    last_failed = false;
                }
                Err(e) if e.status() == Status::Usage => return Err(e),
                Err(e) => {
                    diag::warn(format_args!(
                        "update of {} at {}: {e} (will retry)",
                        args.zone, args.server
                    ));
                    last_failed = true;
                }
            }
        }
        if ended {
            let status = if last_failed {
                Status::Failure
            } else {
                Status::Success
            };
            return Ok(status.worst(problems.status()));
        }
    }
}

/// Picks up to `max` peers with addresses: those published before first (to keep
/// the records steady), then the newest. `chosen` keeps the keys across calls.
fn choose<'t>(live: &[&'t Entry], chosen: &mut Vec<String>, max: usize) -> Vec<&'t Entry> {
    let key = |e: &Entry| e.json.to_string();
    let has_ip = |e: &&&Entry| {
        e.addrs
            .iter()
            .any(|a| matches!(a.host, Host::Ip(_)) && a.scheme != Scheme::Relay)
    };
    let mut by_id: Vec<&&Entry> = live.iter().filter(has_ip).collect();
    by_id.sort_by_key(|e| std::cmp::Reverse(e.first_seen));
    let ident = |e: &Entry| e.id.as_ref().map_or_else(|| key(e), ToString::to_string);
    let mut picked: Vec<&Entry> = by_id
        .iter()
        .filter(|e| chosen.contains(&ident(e)))
        .map(|e| **e)
        .collect();
    for e in &by_id {
        if picked.len() >= max {
            break;
        }
        if !chosen.contains(&ident(e)) {
            picked.push(e);
        }
    }
    picked.truncate(max);
    *chosen = picked.iter().map(|e| ident(e)).collect();
    picked
}

struct Publisher<'a> {
    args: &'a PublishArgs,
    name: Name,
    key: Option<Key>,
}

impl Publisher<'_> {
    fn below(&self, label: &str) -> Option<Name> {
        Name::from_ascii(label).ok()?.append_domain(&self.name).ok()
    }

    /// The record sets for `peers`.
    fn rrsets(&self, peers: &[&Entry]) -> RrSets {
        let ttl = self.args.ttl;
        let mut sets = RrSets::new();
        let mut add = |owner: &Name, data: RData| {
            let record = Record::from_rdata(owner.clone(), ttl, data);
            let set = sets
                .entry((owner.clone(), record.record_type()))
                .or_default();
            if !set.contains(&record) {
                set.push(record);
            }
        };
        let address = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        for entry in peers {
            let peer_name = entry.id.as_ref().and_then(|id| self.below(&id.to_string()));
            for addr in &entry.addrs {
                let Host::Ip(ip) = addr.host else { continue };
                if addr.scheme == Scheme::Relay {
                    continue;
                }
                add(&self.name, address(ip));
                if let Some(peer_name) = &peer_name {
                    add(peer_name, address(ip));
                    if let (Scheme::Udp, Some(srv_name)) = (addr.scheme, self.below("_p2p._udp")) {
                        add(
                            &srv_name,
                            RData::SRV(SRV::new(0, 1, addr.port, peer_name.clone())),
                        );
                    }
                }
            }
            if let Some(peer_name) = &peer_name {
                add(
                    peer_name,
                    RData::TXT(TXT::from_bytes(txt_chunks(&entry.json))),
                );
            }
        }
        sets
    }

    /// Sends one update that turns `before` into `after` on the server.
    fn update(&self, before: &RrSets, after: &RrSets) -> Result<()> {
        let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Update);
        message.add_query(Query::query(self.args.zone.clone(), RecordType::SOA));
        let managed: BTreeSet<&(Name, RecordType)> = before.keys().chain(after.keys()).collect();
        for (owner, rtype) in managed {
            let mut delete = Record::update0(owner.clone(), 0, *rtype);
            delete.dns_class = DNSClass::ANY;
            message.authorities.push(delete);
        }
        message
            .authorities
            .extend(after.values().flatten().cloned());
        let request_mac = match &self.key {
            Some(key) => Some(key.sign(&mut message, unix_now())?),
            None => None,
        };
        let bytes = dns::encode(&message)?;
        let server = self.args.server;
        narrate!(
            "sending an UPDATE of {} to tcp://{server}: {} deletion(s), {} record(s) added{}",
            self.args.zone,
            message.authorities.len() - after.values().flatten().count(),
            after.values().flatten().count(),
            if self.key.is_some() {
                ", TSIG-signed"
            } else {
                ""
            }
        );
        let asked = std::time::Instant::now();
        let raw = dns::exchange_tcp_raw(server, &bytes, self.args.timeout)?;
        let response = Message::from_vec(&raw)
            .map_err(|e| Error::failure(format!("{server} sent a malformed response: {e}")))?;
        narrate!(
            "tcp://{server} answered the UPDATE in {}: {}",
            p2p_shared::cli::figures::millis(asked.elapsed()),
            format!("{:?}", response.metadata.response_code).to_uppercase()
        );
        if response.metadata.id != message.metadata.id {
            return Err(Error::failure(format!("{server} answered another request")));
        }
        let rcode = response.metadata.response_code;
        match rcode {
            ResponseCode::NoError => match (&self.key, &request_mac) {
                // Only a signed success counts: anyone on the path could forge one.
                (Some(key), Some(mac)) => key
                    .verify(&raw, mac)
                    .map_err(|e| Error::failure(format!("{server} answered NOERROR, but {e}"))),
                _ => Ok(()),
            },
            ResponseCode::NotAuth if self.key.is_some() => Err(Error::failure(format!(
                "{server} does not accept the TSIG key for {} (NOTAUTH)",
                self.args.zone
            ))),
            ResponseCode::NotAuth | ResponseCode::Refused => Err(Error::failure(format!(
                "{server} refused the update ({rcode}){}",
                if self.key.is_none() {
                    "; does it need --tsig-key?"
                } else {
                    ""
                }
            ))),
            code => Err(Error::failure(format!("{server} answered {code}"))),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rand_id() -> u16 {
    p2p_shared::random::bytes::<2>().map_or(0, u16::from_be_bytes)
}
