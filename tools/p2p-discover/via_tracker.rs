//! Discovery through BitTorrent trackers: announce SHA-1(topic) (joining the swarm
//! with `--announce PORT`, or asking with port 0 otherwise), report the peers, and
//! with `--watch` or `--announce` re-announce every interval the tracker asks for,
//! reporting peers that expired as gone.

use crate::found::{self, Sender};
use crate::poll::Snapshot;
use crate::tracker_client::{self, Tracker};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::codec::tracker::{Announce, Event, Id20, Reply};
use p2p_shared::narrate;
use p2p_shared::ndjson::peer::PeerRecord;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The mechanism's name in `via`.
pub const VIA: &str = "tracker";
/// How long one announce may take.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest re-announce interval honoured, and the retry delay after a failure.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What to announce, shared by all trackers of one run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// SHA-1 of the topic.
    pub info_hash: Id20,
    /// The topic, for the records.
    pub topic: String,
    /// This client's BitTorrent peer id.
    pub peer_id: Id20,
    /// The port announced, 0 to only ask.
    pub port: u16,
    /// This peer's signed record (JSON), sent along.
    pub record: Option<String>,
    /// Keep re-announcing.
    pub repeat: bool,
    /// The TLS client configuration, when a tracker is HTTPS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A BitTorrent peer id for this run: `-P2P0100-` and random characters.
pub fn new_peer_id() -> Id20 {
    let mut id = *b"-P2P0100-00000000000";
    let random = p2p_shared::random::bytes::<11>().unwrap_or([7; 11]);
    for (slot, r) in id[9..].iter_mut().zip(random) {
        *slot = b"0123456789abcdefghijklmnopqrstuvwxyz"[usize::from(r) % 36];
    }
    id
}

/// Announces to one tracker, reporting peers, until the run ends.
pub async fn run(tracker: Tracker, plan: Plan, tx: Sender) {
    let mut snapshot = Snapshot::default();
    let mut event = Event::Started;
    loop {
        narrate!(
            "announcing to tracker {tracker} ({event:?}, port {})",
            plan.port
        );
        let asked = std::time::Instant::now();
        let wait = match tracker_client::announce(
            &tracker,
            &announce(&plan, event),
            ANNOUNCE_TIMEOUT,
            plan.tls.as_ref(),
        )
        .await
        {
            Ok(reply) => {
                if event == Event::Started && plan.port != 0 {
                    p2p_shared::diag::note(format_args!(
                        "announced {} on port {} to {tracker}",
                        plan.topic, plan.port
                    ));
                }
                narrate!(
                    "tracker {tracker} answered in {}: {} peer(s), announce again in {} s",
                    p2p_shared::cli::figures::millis(asked.elapsed()),
                    reply.peers.len(),
                    reply.interval
                );
                event = Event::None;
                let interval = Duration::from_secs(reply.interval.into()).max(MIN_INTERVAL);
                if !snapshot.update(peers(&reply, &plan.topic), &tx).await {
                    return;
                }
                interval
            }
            Err(why) => {
                narrate!("tracker {tracker} failed: {why}");
                found::problem(&tx, VIA, format!("{tracker}: {why}"), false).await;
                MIN_INTERVAL
            }
        };
        if !plan.repeat {
            return;
        }
        smol::Timer::after(wait).await;
    }
}

/// Tells a tracker this peer is leaving (best effort, bounded).
pub async fn leave(tracker: &Tracker, plan: &Plan) {
    let _ = tracker_client::announce(
        tracker,
        &announce(plan, Event::Stopped),
        Duration::from_secs(2),
        plan.tls.as_ref(),
    )
    .await;
}

fn announce(plan: &Plan, event: Event) -> Announce {
    Announce {
        info_hash: plan.info_hash,
        peer_id: plan.peer_id,
        port: plan.port,
        numwant: 50,
        event,
        left: 0,
        record: plan.record.clone(),
    }
}

/// The peers of a reply: signed records first, then the plain addresses they don't
/// already cover.
fn peers(reply: &Reply, topic: &str) -> Vec<PeerRecord> {
    let mut out: Vec<PeerRecord> = reply
        .records
        .iter()
        .filter_map(
            |text| match p2p_shared::identity::strict::from_slice(text.as_bytes()) {
                Ok(Value::Object(map)) => PeerRecord::from_object(map).ok(),
                _ => None,
            },
        )
        .map(|mut record| {
            record.via = Some(VIA.to_owned());
            record
        })
        .collect();
    let covered: Vec<std::net::SocketAddr> = out
        .iter()
        .flat_map(|r| r.addrs.iter().filter_map(Addr::socket_addr))
        .collect();
    for addr in &reply.peers {
        if covered
            .iter()
            .any(|c| c.port() == addr.port() && c.ip() == addr.ip())
        {
            continue;
        }
        let mut record = PeerRecord::new(None, vec![Addr::from_socket(Scheme::Udp, *addr)]);
        record.topic = Some(topic.to_owned());
        record.via = Some(VIA.to_owned());
        out.push(record);
    }
    out
}
