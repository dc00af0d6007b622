//! Mechanisms that answer "who is there now?" (trackers, DNS) become streams of
//! arrivals and departures: each answer is compared with the previous one, new peers
//! are reported as found, missing ones as gone.

use crate::found::{Found, Sender};
use p2p_shared::ndjson::peer::PeerRecord;

/// The peers of the previous answer, to compare the next one with.
#[derive(Default)]
pub struct Snapshot {
    peers: Vec<PeerRecord>,
}

impl Snapshot {
    /// Reports what changed between the previous answer and `now`. Returns false when
    /// the main loop has stopped listening.
    pub async fn update(&mut self, now: Vec<PeerRecord>, tx: &Sender) -> bool {
        let same = |a: &PeerRecord, b: &PeerRecord| a.id == b.id && a.addrs == b.addrs;
        for peer in &now {
            if !self.peers.iter().any(|old| same(old, peer))
                && tx.send(Found::Peer(peer.clone())).await.is_err()
            {
                return false;
            }
        }
        for old in &self.peers {
            if !now.iter().any(|peer| same(old, peer))
                && tx.send(Found::Gone(old.clone())).await.is_err()
            {
                return false;
            }
        }
        self.peers = now;
        true
    }
}
