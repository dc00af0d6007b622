//! Plumtree broadcast (Leitão, Pereira, Rodrigues 2007), as a state machine.
//!
//! Each neighbour is either *eager* (full messages are pushed to it) or *lazy* (only
//! ids, batched in IHAVE frames). Every neighbour starts eager; one that sends a
//! message we already have is moved to lazy and told PRUNE, so the eager links
//! shrink to a spanning tree and each node receives each message about once. When
//! an IHAVE announces a message that does not arrive by eager push within a timeout,
//! we GRAFT the announcer: it sends the message and the link becomes eager again,
//! repairing the tree. The same eager/lazy split serves every author (one shared
//! tree), as in the paper's evaluation.

use super::frame::Wire;
use super::message::MessageId;
use crate::identity::peer_id::PeerId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Timers of the broadcast layer, milliseconds.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// How often queued IHAVEs are sent.
    pub ihave_every_ms: u64,
    /// How long to wait for an announced message before grafting.
    pub graft_timeout_ms: u64,
    /// How long to wait after a graft before grafting the next announcer.
    pub graft_retry_ms: u64,
    /// The most missing messages tracked at once.
    pub max_missing: usize,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            ihave_every_ms: 10,
            graft_timeout_ms: 80,
            graft_retry_ms: 40,
            max_missing: 10_000,
        }
    }
}

/// Duplicates in a row from one neighbour before its link is pruned.
pub const PRUNE_AFTER: u32 = 3;

#[derive(Debug, Default)]
struct Missing {
    announcers: VecDeque<(PeerId, u16)>,
    timer: Option<(u64, u64)>,
}

/// The broadcast state of one node.
#[derive(Debug)]
pub struct Plumtree {
    cfg: TreeConfig,
    eager: Vec<PeerId>,
    lazy: Vec<PeerId>,
    queued: BTreeMap<PeerId, Vec<(MessageId, u16)>>,
    next_flush: Option<u64>,
    missing: HashMap<MessageId, Missing>,
    timers: BTreeMap<(u64, u64), MessageId>,
    timer_seq: u64,
    /// Duplicates each eager neighbour sent since it last sent something new.
    duplicates: HashMap<PeerId, u32>,
}

impl Plumtree {
    /// An empty tree.
    pub fn new(cfg: TreeConfig) -> Self {
        Plumtree {
            cfg,
            eager: Vec::new(),
            lazy: Vec::new(),
            queued: BTreeMap::new(),
            next_flush: None,
            missing: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            duplicates: HashMap::new(),
        }
    }

    /// The eager neighbours.
    pub fn eager(&self) -> &[PeerId] {
        &self.eager
    }

    /// The lazy neighbours.
    pub fn lazy(&self) -> &[PeerId] {
        &self.lazy
    }

    /// A new neighbour starts eager.
    pub fn neighbor_up(&mut self, peer: PeerId) {
        if !self.eager.contains(&peer) && !self.lazy.contains(&peer) {
            self.eager.push(peer);
        }
    }

    /// A neighbour left: forget it, and what it announced.
    pub fn neighbor_down(&mut self, peer: &PeerId) {
        self.eager.retain(|p| p != peer);
        self.lazy.retain(|p| p != peer);
        self.queued.remove(peer);
        self.duplicates.remove(peer);
        for missing in self.missing.values_mut() {
            missing.announcers.retain(|(p, _)| p != peer);
        }
    }

    fn make_eager(&mut self, peer: PeerId) {
        self.lazy.retain(|p| *p != peer);
        if !self.eager.contains(&peer) {
            self.eager.push(peer);
        }
    }

    fn make_lazy(&mut self, peer: PeerId) {
        if self.eager.contains(&peer) {
            self.eager.retain(|p| *p != peer);
            self.lazy.push(peer);
        }
    }

    /// Pushes a new message on: in full to eager neighbours, as an id to lazy ones
    /// (never back to `from`). `hops` is what the receivers will see.
    pub fn broadcast(
        &mut self,
        id: MessageId,
        message: &Arc<[u8]>,
        hops: u16,
        from: Option<PeerId>,
        now: u64,
        sends: &mut Vec<(PeerId, Wire)>,
    ) {
        for &peer in &self.eager {
            if Some(peer) != from {
                sends.push((
                    peer,
                    Wire::Gossip {
                        hops,
                        message: message.clone(),
                    },
                ));
            }
        }
        for &peer in &self.lazy {
            if Some(peer) != from {
                self.queued.entry(peer).or_default().push((id, hops));
            }
        }
        if !self.queued.is_empty() && self.next_flush.is_none() {
            self.next_flush = Some(now + self.cfg.ihave_every_ms);
        }
    }

    /// A new message arrived by eager push from `from`: stop waiting for it and keep
    /// the link eager.
    pub fn received(&mut self, id: &MessageId, from: Option<PeerId>, eager: bool) {
        if let Some(missing) = self.missing.remove(id)
            && let Some(key) = missing.timer
        {
            self.timers.remove(&key);
        }
        if eager && let Some(peer) = from {
            self.duplicates.remove(&peer);
            self.make_eager(peer);
        }
    }

    /// A message we already had came by eager push from `from`: after
    /// [`PRUNE_AFTER`] such duplicates in a row, prune that link.
    ///
    /// The paper prunes at the first duplicate. With many authors sending at once,
    /// two messages crossing one cycle of eager links can each prune a different edge
    /// of it and split the tree; grafts then re-join the pieces, racing each other,
    /// and split them again (in simulation a 50-node swarm at 200 messages/s settled
    /// with most deliveries waiting for a graft, median 180 ms). A link that is only
    /// a redundant cycle edge sends duplicates for nearly every message, while a
    /// tree link that lost one race sends something new soon after, resetting the
    /// count. PRUNE goes out even when we already count the link as lazy: a PRUNE and
    /// a GRAFT that crossed can leave `from` pushing to us while we think it lazy.
    pub fn duplicate(&mut self, from: PeerId, sends: &mut Vec<(PeerId, Wire)>) {
        let count = self.duplicates.entry(from).or_insert(0);
        *count += 1;
        if *count < PRUNE_AFTER {
            return;
        }
        self.duplicates.remove(&from);
        if self.eager.contains(&from) || self.lazy.contains(&from) {
            self.make_lazy(from);
            sends.push((from, Wire::Prune));
        }
    }

    /// The neighbour asked to be pushed to lazily.
    pub fn pruned(&mut self, from: PeerId) {
        self.make_lazy(from);
    }

    /// The neighbour grafted: push to it eagerly again.
    pub fn grafted(&mut self, from: PeerId) {
        self.make_eager(from);
    }

    /// `from` announced messages; `have` says which we already hold.
    pub fn ihave(
        &mut self,
        from: PeerId,
        entries: Vec<(MessageId, u16)>,
        have: impl Fn(&MessageId) -> bool,
        now: u64,
    ) {
        for (id, hops) in entries {
            if have(&id) {
                continue;
            }
            if !self.missing.contains_key(&id) && self.missing.len() >= self.cfg.max_missing {
                continue;
            }
            let missing = self.missing.entry(id).or_default();
            if !missing.announcers.iter().any(|(p, _)| *p == from) {
                missing.announcers.push_back((from, hops));
            }
            if missing.timer.is_none() {
                self.timer_seq += 1;
                let key = (now + self.cfg.graft_timeout_ms, self.timer_seq);
                missing.timer = Some(key);
                self.timers.insert(key, id);
            }
        }
    }

    /// When [`tick`](Self::tick) next has work.
    pub fn next_deadline(&self) -> Option<u64> {
        let timer = self.timers.keys().next().map(|(at, _)| *at);
        match (timer, self.next_flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends due IHAVE batches and grafts for messages that did not come.
    pub fn tick(&mut self, now: u64, sends: &mut Vec<(PeerId, Wire)>) {
        if self.next_flush.is_some_and(|at| at <= now) {
            self.next_flush = None;
            for (peer, entries) in std::mem::take(&mut self.queued) {
                for chunk in entries.chunks(super::frame::MAX_ENTRIES) {
                    sends.push((peer, Wire::IHave(chunk.to_vec())));
                }
            }
        }
        while let Some((&key, _)) = self.timers.first_key_value() {
            if key.0 > now {
                break;
            }
            let Some(id) = self.timers.remove(&key) else {
                break;
            };
            let Some(missing) = self.missing.get_mut(&id) else {
                continue;
            };
            missing.timer = None;
            let Some((peer, _hops)) = missing.announcers.pop_front() else {
                self.missing.remove(&id);
                continue;
            };
            self.timer_seq += 1;
            let key = (now + self.cfg.graft_retry_ms, self.timer_seq);
            missing.timer = Some(key);
            self.timers.insert(key, id);
            self.make_eager(peer);
            sends.push((peer, Wire::Graft(id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn ids() -> (PeerId, PeerId) {
        (
            Identity::from_seed([1; 32]).id(),
            Identity::from_seed([2; 32]).id(),
        )
    }

    #[test]
    fn a_duplicate_prunes_and_a_missing_message_grafts() {
        let (a, b) = ids();
        let mut tree = Plumtree::new(TreeConfig::default());
        tree.neighbor_up(a);
        tree.neighbor_up(b);
        let mut sends = Vec::new();
        for _ in 0..PRUNE_AFTER {
            tree.duplicate(b, &mut sends);
        }
        assert_eq!(
            sends,
            vec![(b, Wire::Prune)],
            "pruned at the third duplicate"
        );
        assert_eq!(tree.eager(), &[a]);
        let msg: Arc<[u8]> = b"m".to_vec().into();
        sends.clear();
        tree.broadcast([1; 32], &msg, 1, None, 0, &mut sends);
        assert_eq!(sends.len(), 1, "full message to the eager peer only");
        sends.clear();
        tree.tick(10, &mut sends);
        assert_eq!(sends, vec![(b, Wire::IHave(vec![([1; 32], 1)]))]);
        sends.clear();
        tree.ihave(b, vec![([2; 32], 3)], |_| false, 100);
        tree.tick(179, &mut sends);
        assert!(sends.is_empty(), "not yet");
        tree.tick(180, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Graft([2; 32]))]);
        assert!(tree.eager().contains(&b), "grafting makes the link eager");
        tree.received(&[2; 32], Some(b), true);
        assert_eq!(tree.next_deadline(), None);
    }
}
