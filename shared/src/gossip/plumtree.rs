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
//!
//! Optionally ([`TreeConfig::adaptive`]) the timers follow the network instead of
//! fixed constants: how long we wait for an announced message follows how late
//! eager copies have actually come after their IHAVE, and how long we wait for a
//! graft's answer follows that link's round trip; and a graft the tree did not need
//! (the eager copy came after all) is undone at once by a PRUNE. The default keeps
//! the paper's fixed timers, which measured better (docs/gossip.md, Benchmark).
//!
//! One departure from the paper: when an eager neighbour's connection is lost,
//! what it was to push to us will only be announced by others, so for one graft
//! wait announced messages are grafted at once (the first graft re-attaches us to
//! the tree), instead of each waiting for an eager copy that cannot come.

use super::estimate::{Estimate, clamp_ms};
use super::frame::Wire;
use super::message::MessageId;
use crate::identity::peer_id::PeerId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Timers of the broadcast layer, milliseconds.
///
/// With `adaptive`, the wait for an announced message is `mean + 4 × deviation`
/// of how late eager copies came after the first IHAVE for them (every such lag is
/// measured, also when a graft went out first and the eager copy came as a
/// duplicate), kept between `graft_timeout_ms` and `graft_timeout_max_ms`; the wait
/// for a graft's answer is that link's round trip the same way (measured from
/// grafts and, in the tool, fed from QUIC's estimate), between `graft_retry_ms` and
/// `graft_timeout_max_ms`. Without it both are the fixed floors, as in the paper.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// How often queued IHAVEs are sent.
    pub ihave_every_ms: u64,
    /// The shortest wait for an announced message before grafting.
    pub graft_timeout_ms: u64,
    /// The longest wait for an announced message or a graft's answer.
    pub graft_timeout_max_ms: u64,
    /// The shortest wait after a graft before grafting the next announcer.
    pub graft_retry_ms: u64,
    /// Follow measured delays (false: the fixed floors, as in the paper).
    pub adaptive: bool,
    /// Undo a graft the tree did not need with a PRUNE (false: as in the paper,
    /// the grafted link stays eager until its duplicates prune it).
    pub undo_grafts: bool,
    /// The most missing messages tracked at once.
    pub max_missing: usize,
}

impl Default for TreeConfig {
    /// The paper's fixed timers, grafted links left eager: measured better than
    /// the adaptive variant so far (see docs/gossip.md, Benchmark).
    fn default() -> Self {
        TreeConfig {
            ihave_every_ms: 10,
            graft_timeout_ms: 80,
            graft_timeout_max_ms: 2_000,
            graft_retry_ms: 40,
            adaptive: false,
            undo_grafts: false,
            max_missing: 10_000,
        }
    }
}

impl TreeConfig {
    /// Waits that follow measured delays, and unneeded grafts undone.
    pub fn adaptive() -> Self {
        TreeConfig {
            adaptive: true,
            undo_grafts: true,
            ..TreeConfig::default()
        }
    }
}

/// Duplicates in a row from one neighbour before its link is pruned.
pub const PRUNE_AFTER: u32 = 3;

#[derive(Debug, Default)]
struct Missing {
    announcers: VecDeque<(PeerId, u16)>,
    timer: Option<(u64, u64)>,
    /// When the first IHAVE for it came.
    since: u64,
}

/// A message we grafted for: when its first IHAVE came, and whom we asked when
/// (and whether they answered).
#[derive(Debug)]
struct Grafted {
    since: u64,
    asked: Vec<(PeerId, u64, bool)>,
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
    /// How late eager copies came after their first IHAVE.
    lag: Estimate,
    /// Each neighbour's round trip.
    rtt: HashMap<PeerId, Estimate>,
    /// Messages we grafted for, kept for a while to see whether an eager copy still
    /// comes (then the graft was not needed), in the order they were grafted.
    grafted: HashMap<MessageId, Grafted>,
    graft_order: VecDeque<(u64, MessageId)>,
    grafts: u64,
    /// Until when announced messages are grafted at once: an eager neighbour's
    /// connection was lost, so what it was to pass on will not come by push.
    graft_now_until: u64,
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
            lag: Estimate::default(),
            rtt: HashMap::new(),
            grafted: HashMap::new(),
            graft_order: VecDeque::new(),
            grafts: 0,
            graft_now_until: 0,
        }
    }

    /// GRAFTs sent so far.
    pub fn grafts(&self) -> u64 {
        self.grafts
    }

    /// How long to wait for an announced message before grafting, now.
    pub fn wait_ms(&self) -> u64 {
        let c = &self.cfg;
        let bound = self.lag.bound().filter(|_| c.adaptive);
        clamp_ms(bound, c.graft_timeout_ms, c.graft_timeout_max_ms)
    }

    /// How long to wait for `peer` to answer a graft, now.
    pub fn retry_ms(&self, peer: &PeerId) -> u64 {
        let c = &self.cfg;
        let bound = self
            .rtt
            .get(peer)
            .and_then(Estimate::bound)
            .filter(|_| c.adaptive);
        clamp_ms(bound, c.graft_retry_ms, c.graft_timeout_max_ms)
    }

    /// A measured round trip to `peer` (from the transport, or a graft's answer).
    pub fn rtt_sample(&mut self, peer: PeerId, ms: f64) {
        if self.eager.contains(&peer) || self.lazy.contains(&peer) {
            self.rtt.entry(peer).or_default().sample(ms);
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

    /// A neighbour left at `now`: forget it, and what it announced. If it was
    /// eager, messages it was to push to us will only be announced by others now:
    /// for a while (one graft wait) they are grafted at once instead of after the
    /// wait, and so are those already announced.
    pub fn neighbor_down(&mut self, peer: &PeerId, now: u64) {
        if self.eager.contains(peer) {
            self.graft_now_until = now + self.wait_ms();
            for missing in self.missing.values_mut() {
                if let Some(key) = missing.timer.filter(|key| key.0 > now)
                    && let Some(id) = self.timers.remove(&key)
                {
                    let key = (now, key.1);
                    missing.timer = Some(key);
                    self.timers.insert(key, id);
                }
            }
        }
        self.eager.retain(|p| p != peer);
        self.lazy.retain(|p| p != peer);
        self.queued.remove(peer);
        self.duplicates.remove(peer);
        self.rtt.remove(peer);
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

    /// Pushes a new message on: in full to eager neighbours, as an id to lazy ones,
    /// except to `holders` (who sent or announced it to us). `hops` is what the
    /// receivers will see.
    pub fn broadcast(
        &mut self,
        id: MessageId,
        message: &Arc<[u8]>,
        hops: u16,
        holders: &[PeerId],
        now: u64,
        sends: &mut Vec<(PeerId, Wire)>,
    ) {
        for &peer in &self.eager {
            if !holders.contains(&peer) {
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
            if !holders.contains(&peer) {
                self.queued.entry(peer).or_default().push((id, hops));
            }
        }
        if !self.queued.is_empty() && self.next_flush.is_none() {
            self.next_flush = Some(now + self.cfg.ihave_every_ms);
        }
    }

    /// A new message arrived (by eager push or a graft's answer when `eager`) from
    /// `from`: stop waiting for it and keep the link eager. If it was announced
    /// first, how late it came is measured; if we grafted for it and it came from
    /// someone we did not ask, the graft was not needed and is undone. Returns the
    /// neighbours that announced it (they hold it already).
    pub fn received(
        &mut self,
        id: &MessageId,
        from: Option<PeerId>,
        eager: bool,
        now: u64,
        sends: &mut Vec<(PeerId, Wire)>,
    ) -> Vec<PeerId> {
        let mut holders = Vec::new();
        if let Some(missing) = self.missing.remove(id) {
            if let Some(key) = missing.timer {
                self.timers.remove(&key);
            }
            holders.extend(missing.announcers.iter().map(|(p, _)| *p));
            // After a graft, `graft_outcome` tells the tree's copy from the answer.
            if eager && !self.grafted.contains_key(id) {
                #[allow(clippy::cast_precision_loss)]
                self.lag.sample(now.saturating_sub(missing.since) as f64);
            }
        }
        if eager && let Some(peer) = from {
            self.duplicates.remove(&peer);
            self.make_eager(peer);
            self.graft_outcome(id, peer, now, sends);
        }
        holders
    }

    /// A copy of grafted message `id` came from `from`, at `now`. From a peer we
    /// asked, it is that link's round trip; from another, the tree delivered after
    /// all: the lag is measured and the grafts undone (PRUNE), since each would
    /// otherwise leave an extra eager link sending duplicates until pruned. True if
    /// it was the tree's copy.
    fn graft_outcome(
        &mut self,
        id: &MessageId,
        from: PeerId,
        now: u64,
        sends: &mut Vec<(PeerId, Wire)>,
    ) -> bool {
        let Some(graft) = self.grafted.get_mut(id) else {
            return false;
        };
        if let Some(asked) = graft.asked.iter_mut().find(|(p, ..)| *p == from) {
            if !asked.2 {
                asked.2 = true;
                #[allow(clippy::cast_precision_loss)]
                let rtt = now.saturating_sub(asked.1) as f64;
                self.rtt.entry(from).or_default().sample(rtt);
            }
            return false;
        }
        let Some(graft) = self.grafted.remove(id) else {
            return false;
        };
        #[allow(clippy::cast_precision_loss)]
        self.lag.sample(now.saturating_sub(graft.since) as f64);
        if !self.cfg.undo_grafts {
            return false;
        }
        for (peer, ..) in graft.asked {
            if peer != from && (self.eager.contains(&peer) || self.lazy.contains(&peer)) {
                self.make_lazy(peer);
                sends.push((peer, Wire::Prune));
            }
        }
        true
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
    ///
    /// A duplicate of a message we grafted for is not counted against the link it
    /// came by when it is the tree's late copy: the graft is undone instead.
    pub fn duplicate(
        &mut self,
        id: &MessageId,
        from: PeerId,
        now: u64,
        sends: &mut Vec<(PeerId, Wire)>,
    ) {
        if self.graft_outcome(id, from, now, sends) {
            return;
        }
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
                // Our own IHAVE for it, if still queued, would tell them nothing.
                if let Some(queued) = self.queued.get_mut(&from) {
                    queued.retain(|(queued, _)| *queued != id);
                }
                continue;
            }
            if !self.missing.contains_key(&id) && self.missing.len() >= self.cfg.max_missing {
                continue;
            }
            let wait = if now < self.graft_now_until {
                0
            } else {
                self.wait_ms()
            };
            let missing = self.missing.entry(id).or_insert_with(|| Missing {
                since: now,
                ..Missing::default()
            });
            if !missing.announcers.iter().any(|(p, _)| *p == from) {
                missing.announcers.push_back((from, hops));
            }
            if missing.timer.is_none() {
                self.timer_seq += 1;
                let key = (now + wait, self.timer_seq);
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
        let keep = self.cfg.graft_timeout_max_ms;
        while let Some(&(at, id)) = self.graft_order.front() {
            if at + keep > now && self.grafted.len() <= self.cfg.max_missing {
                break;
            }
            self.graft_order.pop_front();
            if self
                .grafted
                .get(&id)
                .is_some_and(|g| g.asked.iter().all(|(_, t, _)| *t <= at))
            {
                self.grafted.remove(&id);
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
            let since = missing.since;
            self.timer_seq += 1;
            let key = (now + self.retry_ms(&peer), self.timer_seq);
            if let Some(missing) = self.missing.get_mut(&id) {
                missing.timer = Some(key);
            }
            self.timers.insert(key, id);
            let graft = self.grafted.entry(id).or_insert_with(|| Grafted {
                since,
                asked: Vec::new(),
            });
            graft.asked.push((peer, now, false));
            self.graft_order.push_back((now, id));
            self.grafts += 1;
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
            tree.duplicate(&[9; 32], b, 0, &mut sends);
        }
        assert_eq!(
            sends,
            vec![(b, Wire::Prune)],
            "pruned at the third duplicate"
        );
        assert_eq!(tree.eager(), &[a]);
        let msg: Arc<[u8]> = b"m".to_vec().into();
        sends.clear();
        tree.broadcast([1; 32], &msg, 1, &[], 0, &mut sends);
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
        sends.clear();
        tree.received(&[2; 32], Some(b), true, 190, &mut sends);
        assert!(sends.is_empty(), "the answer to our graft keeps the link");
        assert_eq!(tree.next_deadline(), None);
        assert_eq!(tree.retry_ms(&b), 40, "a 10 ms round trip: the floor");
    }

    /// A tree whose first neighbour is eager and the other two lazy.
    fn one_eager_two_lazy() -> (Plumtree, PeerId, PeerId, PeerId) {
        let (a, b) = ids();
        let c = Identity::from_seed([3; 32]).id();
        let mut tree = Plumtree::new(TreeConfig::default());
        for peer in [a, b, c] {
            tree.neighbor_up(peer);
        }
        tree.pruned(b);
        tree.pruned(c);
        (tree, a, b, c)
    }

    #[test]
    fn losing_an_eager_neighbour_grafts_announced_messages_at_once() {
        let (mut tree, a, b, c) = one_eager_two_lazy();
        let mut sends = Vec::new();
        // Losing a lazy neighbour changes nothing: announced messages wait.
        tree.neighbor_down(&c, 0);
        tree.ihave(b, vec![([1; 32], 2)], |_| false, 0);
        tree.tick(10, &mut sends);
        assert!(sends.is_empty(), "waits for the eager copy");
        // The eager neighbour's connection is lost: what it was to push will not
        // come, so the message already announced is grafted now, and so is one
        // announced next.
        tree.neighbor_down(&a, 10);
        tree.tick(10, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Graft([1; 32]))]);
        sends.clear();
        tree.ihave(b, vec![([2; 32], 2)], |_| false, 20);
        tree.tick(20, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Graft([2; 32]))]);
        // One graft wait later, announcements wait again.
        sends.clear();
        tree.ihave(b, vec![([3; 32], 2)], |_| false, 90);
        tree.tick(169, &mut sends);
        assert!(sends.is_empty(), "back to the usual wait");
        tree.tick(170, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Graft([3; 32]))]);
    }

    #[test]
    fn the_wait_follows_late_eager_copies_and_an_unneeded_graft_is_undone() {
        let (a, b) = ids();
        let mut tree = Plumtree::new(TreeConfig::adaptive());
        tree.neighbor_up(a);
        tree.neighbor_up(b);
        let mut sends = Vec::new();
        tree.pruned(b);
        assert_eq!(tree.wait_ms(), 80, "no measurement yet: the floor");
        // Eager copies from `a` keep coming 150-250 ms after `b` announced them.
        let mut now = 0;
        for k in 0..40u8 {
            tree.ihave(b, vec![([k; 32], 2)], |_| false, now);
            let late = if k % 2 == 0 { 150 } else { 250 };
            // Whatever a timer does meanwhile, the copy from the tree still comes.
            tree.tick(now + late - 1, &mut sends);
            tree.received(&[k; 32], Some(a), true, now + late, &mut sends);
            now += 1_000;
        }
        let wait = tree.wait_ms();
        assert!(
            (250..2_000).contains(&wait),
            "the wait covers the late copies: {wait} ms"
        );
        // A graft that went out anyway is undone when the tree's copy comes.
        sends.clear();
        tree.ihave(b, vec![([200; 32], 2)], |_| false, now);
        tree.tick(now + wait, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Graft([200; 32]))]);
        assert!(tree.eager().contains(&b));
        sends.clear();
        tree.received(&[200; 32], Some(b), true, now + wait + 5, &mut sends);
        assert!(sends.is_empty(), "the graft's answer");
        tree.duplicate(&[200; 32], a, now + wait + 50, &mut sends);
        assert_eq!(sends, vec![(b, Wire::Prune)], "the graft undone");
        assert_eq!(tree.eager(), &[a], "the tree link kept");
        assert!(tree.lazy().contains(&b));
        // The paper's timers (the default) ignore what was measured.
        assert_eq!(Plumtree::new(TreeConfig::default()).wait_ms(), 80);
    }

    #[test]
    fn nobody_is_told_of_a_message_they_announced_to_us() {
        let (mut tree, a, b, c) = one_eager_two_lazy();
        let msg: Arc<[u8]> = b"m".to_vec().into();
        let mut sends = Vec::new();
        // `b` announces a message before the eager copy comes from `a`.
        tree.ihave(b, vec![([1; 32], 2)], |_| false, 0);
        let mut holders = tree.received(&[1; 32], Some(a), true, 1, &mut sends);
        assert_eq!(holders, vec![b]);
        holders.push(a);
        tree.broadcast([1; 32], &msg, 2, &holders, 1, &mut sends);
        // A message of our own is queued for both lazy neighbours; `c` announces
        // it (it got it another way) before our batch goes out.
        tree.broadcast([2; 32], &msg, 1, &[], 1, &mut sends);
        tree.ihave(c, vec![([2; 32], 3)], |id| *id == [2; 32], 5);
        tree.tick(11, &mut sends);
        let mut announced: Vec<_> = sends
            .into_iter()
            .filter(|(_, wire)| matches!(wire, Wire::IHave(_)))
            .collect();
        announced.sort_by_key(|(peer, _)| *peer);
        let mut expected = vec![
            (b, Wire::IHave(vec![([2; 32], 1)])),
            (c, Wire::IHave(vec![([1; 32], 2)])),
        ];
        expected.sort_by_key(|(peer, _)| *peer);
        assert_eq!(
            announced, expected,
            "nothing announced back to its announcer"
        );
    }
}
