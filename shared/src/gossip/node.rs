//! One gossip node as a sans-IO state machine: frames and time go in, frames to
//! send, messages to deliver and events come out. It owns membership
//! ([`super::hyparview`]), broadcast ([`super::plumtree`] or flooding), the checks
//! every message passes (rate, size, dedup, topic, author, replay, signature) and
//! anti-entropy (per-author newest `seq` exchanged with each new neighbour, and
//! periodically with a random one; the answer is what our store holds beyond it).
//!
//! Nothing here reads a clock or a socket: the caller passes `now` in milliseconds
//! (any origin) and moves frames, so a simulation runs many nodes deterministically
//! and the real tool drives the same code over QUIC.

use super::frame::{self, PeerInfo, Wire};
use super::hyparview::{Action, HyParView, ViewConfig};
use super::message::{Message, MessageError, MessageId};
use super::plumtree::{Plumtree, TreeConfig};
use super::rate::{Bucket, RateLimit};
use super::rng::Rng;
use super::seen::{IdCache, Replay, ReplayGuard};
use super::store::{Store, Stored};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

/// The shortest time between two answers to one neighbour's summaries, ms.
const SUMMARY_EVERY_MS: u64 = 1_000;

/// How messages are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Eager push along a spanning tree, lazy IHAVE on the other links.
    Plumtree,
    /// Every message over every active link (for comparison).
    Flood,
}

/// Everything a node can be tuned by.
#[derive(Debug, Clone)]
pub struct Config {
    /// The topic; messages of other topics are refused.
    pub topic: String,
    /// Plumtree or flood.
    pub mode: Mode,
    /// HyParView sizes.
    pub views: ViewConfig,
    /// Plumtree timers.
    pub tree: TreeConfig,
    /// Messages kept to answer grafts and summaries.
    pub history: usize,
    /// The largest signed message accepted or published, bytes.
    pub max_size: usize,
    /// Messages per second each neighbour may send us.
    pub rate: RateLimit,
    /// When not empty, only these authors' messages are accepted.
    pub allow_authors: Vec<PeerId>,
    /// Ids remembered for de-duplication.
    pub dedup: usize,
    /// Sequence numbers remembered per author against replays.
    pub replay_window: usize,
    /// Authors remembered against replays.
    pub max_authors: usize,
    /// Timestamps further ahead of our clock than this are refused, milliseconds.
    pub max_skew_ms: u64,
    /// Shuffle period, milliseconds.
    pub shuffle_every_ms: u64,
    /// How often a free active slot is refilled from the passive view.
    pub repair_every_ms: u64,
    /// Anti-entropy period (with one random neighbour), milliseconds.
    pub summary_every_ms: u64,
}

impl Config {
    /// Defaults for `topic`.
    pub fn new(topic: impl Into<String>) -> Self {
        Config {
            topic: topic.into(),
            mode: Mode::Plumtree,
            views: ViewConfig::default(),
            tree: TreeConfig::default(),
            history: 1000,
            max_size: 64 * 1024,
            rate: RateLimit {
                rate: 2000.0,
                burst: 4000.0,
            },
            allow_authors: Vec::new(),
            dedup: 1 << 16,
            replay_window: 4096,
            max_authors: 10_000,
            max_skew_ms: 5 * 60 * 1000,
            shuffle_every_ms: 10_000,
            repair_every_ms: 1_000,
            summary_every_ms: 10_000,
        }
    }

    /// The largest frame a neighbour may send (a message at `max_size` and its header).
    pub fn frame_max(&self) -> usize {
        self.max_size + 4096
    }
}

/// Why a message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Not a well-formed signed message.
    Malformed,
    /// The signature does not verify.
    BadSignature,
    /// Larger than `--max-size`.
    Oversize,
    /// Another topic.
    WrongTopic,
    /// Its author is not in `--allow-author`.
    AuthorNotAllowed,
    /// Its timestamp is too far in the future.
    FutureTimestamp,
    /// Its `seq` was seen before, or is older than the replay window.
    Replayed,
    /// The neighbour exceeded its rate.
    RateLimited,
}

/// What the node asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a frame to a peer, dialling it first if needed (see [`Node::addrs_of`]).
    Send(PeerId, Wire),
    /// Close the connection to a peer once queued frames are sent.
    Close(PeerId),
    /// A message to hand to the user, with the hops it travelled.
    Deliver(Arc<Message>, u16),
    /// A message to append to the `--store` log (ours and delivered ones).
    Store(Arc<Message>, u16),
    /// A peer became an active neighbour.
    PeerUp(PeerId),
    /// A peer stopped being an active neighbour.
    PeerDown(PeerId),
    /// A message from `from` was dropped.
    Dropped {
        /// The neighbour that sent it.
        from: PeerId,
        /// Why.
        reason: DropReason,
        /// Its author, when known.
        author: Option<PeerId>,
        /// Its seq, when known.
        seq: Option<u64>,
    },
}

/// Why our own message was not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The signed message would exceed `--max-size`.
    Oversize {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Oversize { size, max } => write!(
                f,
                "message of {size} bytes (signed) exceeds --max-size {max}"
            ),
        }
    }
}

/// Counters, as printed in `stats` records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Messages we published.
    pub published: u64,
    /// Messages delivered (new, valid, from others).
    pub delivered: u64,
    /// Of those, how many came through anti-entropy.
    pub pulled: u64,
    /// Copies of messages we already had.
    pub duplicates: u64,
    /// Dropped as malformed, badly signed, oversize, off-topic, from a refused
    /// author, or dated in the future.
    pub invalid: u64,
    /// Dropped as replays.
    pub replayed: u64,
    /// Dropped because a neighbour exceeded its rate.
    pub rate_limited: u64,
    /// Active view size.
    pub active: usize,
    /// Passive view size.
    pub passive: usize,
    /// Eager links (Plumtree).
    pub eager: usize,
    /// Copies received per delivered message, minus one.
    pub redundancy: f64,
    /// GRAFTs sent (Plumtree).
    pub grafts: u64,
    /// How long an announced message is waited for before grafting, now (ms).
    pub graft_wait_ms: u64,
}

/// One gossip node.
pub struct Node {
    identity: Identity,
    cfg: Config,
    views: HyParView,
    tree: Plumtree,
    seen: IdCache,
    replay: ReplayGuard,
    store: Store,
    buckets: HashMap<PeerId, Bucket>,
    pulls: HashMap<PeerId, usize>,
    answered: HashMap<PeerId, u64>,
    /// The newest summary per neighbour that came within a second of our last
    /// answer to it, answered when that second is over.
    deferred: BTreeMap<PeerId, Vec<(PeerId, u64)>>,
    reported: HashMap<PeerId, u64>,
    next_seq: u64,
    wall_base: u64,
    next_shuffle: u64,
    next_repair: u64,
    next_summary: u64,
    rng: Rng,
    stats: Stats,
    out: VecDeque<Output>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({})", self.identity.id())
    }
}

impl Node {
    /// A node for `identity`, reachable at `addrs`. `now` is the caller's clock in
    /// milliseconds and `wall_ms` the unix time at that instant; `seed` drives its
    /// random choices.
    pub fn new(
        identity: Identity,
        addrs: Vec<crate::addr::Addr>,
        cfg: Config,
        seed: u64,
        now: u64,
        wall_ms: u64,
    ) -> Self {
        let me = PeerInfo {
            id: identity.id(),
            addrs,
        };
        let mut rng = Rng::new(seed);
        let views = HyParView::new(me, cfg.views.clone(), rng.next_u64());
        let jitter = |rng: &mut Rng, every: u64| rng.next_u64() % every.max(1);
        Node {
            next_shuffle: now + jitter(&mut rng, cfg.shuffle_every_ms) + cfg.shuffle_every_ms / 2,
            next_repair: now + cfg.repair_every_ms,
            next_summary: now + jitter(&mut rng, cfg.summary_every_ms) + cfg.summary_every_ms / 2,
            identity,
            views,
            tree: Plumtree::new(cfg.tree.clone()),
            seen: IdCache::new(cfg.dedup),
            replay: ReplayGuard::new(cfg.replay_window, cfg.max_authors),
            store: Store::new(cfg.history),
            buckets: HashMap::new(),
            pulls: HashMap::new(),
            answered: HashMap::new(),
            deferred: BTreeMap::new(),
            reported: HashMap::new(),
            next_seq: 1,
            wall_base: wall_ms.saturating_sub(now),
            rng,
            stats: Stats::default(),
            out: VecDeque::new(),
            cfg,
        }
    }

    /// This node's id.
    pub fn id(&self) -> PeerId {
        self.identity.id()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The next thing to do.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Where to dial `peer`.
    pub fn addrs_of(&self, peer: &PeerId) -> Option<&PeerInfo> {
        self.views.addrs_of(peer)
    }

    /// The active neighbours.
    pub fn active(&self) -> Vec<PeerId> {
        self.views.active()
    }

    /// The passive candidates.
    pub fn passive(&self) -> Vec<PeerId> {
        self.views.passive()
    }

    /// Peers asked to become neighbours and not answered yet.
    pub fn pending(&self) -> Vec<PeerId> {
        self.views.pending()
    }

    /// The neighbours messages are pushed to in full (Plumtree).
    pub fn eager(&self) -> &[PeerId] {
        self.tree.eager()
    }

    /// The neighbours only told of messages by IHAVE (Plumtree).
    pub fn lazy(&self) -> &[PeerId] {
        self.tree.lazy()
    }

    /// A round trip to `peer` measured by the transport, milliseconds: the wait for
    /// that neighbour's answer to a graft follows it.
    pub fn link_rtt(&mut self, peer: PeerId, ms: f64) {
        self.tree.rtt_sample(peer, ms);
    }

    /// How long an announced message is now waited for before grafting, ms.
    pub fn graft_wait_ms(&self) -> u64 {
        self.tree.wait_ms()
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.active = self.views.active_len();
        stats.passive = self.views.passive_len();
        stats.eager = self.tree.eager().len();
        stats.grafts = self.tree.grafts();
        stats.graft_wait_ms = self.tree.wait_ms();
        #[allow(clippy::cast_precision_loss)]
        if stats.delivered > 0 {
            stats.redundancy = stats.duplicates as f64 / stats.delivered as f64;
        }
        stats
    }

    /// The newest seq held per author, as sent in summaries.
    pub fn summary(&self) -> Vec<(PeerId, u64)> {
        let limit = (self.cfg.frame_max() - 8) / 40;
        self.replay.summary(limit.min(frame::MAX_ENTRIES))
    }

    fn wall(&self, now: u64) -> u64 {
        self.wall_base + now
    }

    /// Joins through `peer` (when the active view has room), or keeps it as a
    /// candidate.
    pub fn add_peer(&mut self, peer: PeerInfo, now: u64) {
        let mut acts = Vec::new();
        self.views.join(peer, now, &mut acts);
        self.apply(acts, now);
    }

    /// Loads a message from the `--store` log: remembered, never delivered again.
    pub fn restore(&mut self, message: Message, hops: u16) {
        if message.author == self.identity.id() {
            self.next_seq = self.next_seq.max(message.seq + 1);
        }
        if self.seen.insert(message.id) {
            self.replay.record(message.author, message.seq);
            self.store.insert(Arc::new(message), hops);
        }
    }

    /// Signs and broadcasts `data`.
    pub fn publish(&mut self, data: &Value, now: u64) -> Result<Arc<Message>, PublishError> {
        let ts = self.wall(now);
        let seq = self.next_seq.max(ts);
        let message = Message::sign(&self.identity, &self.cfg.topic, seq, ts, data);
        if message.wire.len() > self.cfg.max_size {
            return Err(PublishError::Oversize {
                size: message.wire.len(),
                max: self.cfg.max_size,
            });
        }
        self.next_seq = seq + 1;
        self.stats.published += 1;
        let message = Arc::new(message);
        self.accept(&message, 0, None, false, now);
        Ok(message)
    }

    /// Leaves the overlay politely.
    pub fn leave(&mut self, now: u64) {
        let mut acts = Vec::new();
        self.views.leave(&mut acts);
        self.apply(acts, now);
    }

    /// The connection to `peer` closed, or dialling it failed.
    pub fn closed(&mut self, peer: PeerId, now: u64) {
        let mut acts = Vec::new();
        self.views.closed(peer, now, &mut acts);
        self.apply(acts, now);
        self.buckets.remove(&peer);
        self.pulls.remove(&peer);
        self.answered.remove(&peer);
        self.deferred.remove(&peer);
        self.reported.remove(&peer);
    }

    /// Handles a frame from `from`.
    pub fn handle(&mut self, from: PeerId, wire: Wire, now: u64) {
        match wire {
            Wire::Gossip { hops, message } => self.receive(from, hops, &message, false, now),
            Wire::History { hops, message } => self.receive(from, hops, &message, true, now),
            Wire::IHave(entries) => {
                if self.cfg.mode == Mode::Plumtree && self.views.is_active(&from) {
                    let seen = &self.seen;
                    self.tree.ihave(from, entries, |id| seen.contains(id), now);
                }
            }
            Wire::Graft(id) => self.on_graft(from, &id, now),
            Wire::Prune => self.tree.pruned(from),
            Wire::Summary(entries) => self.on_summary(from, entries, now),
            other => {
                let mut acts = Vec::new();
                self.views.handle(from, other, now, &mut acts);
                self.apply(acts, now);
            }
        }
    }

    /// When [`tick`](Self::tick) next has work.
    pub fn next_deadline(&self) -> u64 {
        let mut at = self
            .next_shuffle
            .min(self.next_repair)
            .min(self.next_summary);
        if let Some(t) = self.tree.next_deadline() {
            at = at.min(t);
        }
        for peer in self.deferred.keys() {
            at = at.min(self.answer_due(peer));
        }
        at
    }

    /// Runs due timers.
    pub fn tick(&mut self, now: u64) {
        let mut sends = Vec::new();
        self.tree.tick(now, &mut sends);
        self.send_all(sends);
        let mut acts = Vec::new();
        if now >= self.next_shuffle {
            self.next_shuffle = now + self.cfg.shuffle_every_ms;
            self.views.shuffle(&mut acts);
        }
        if now >= self.next_repair {
            self.next_repair = now + self.cfg.repair_every_ms;
            self.views.repair(now, &mut acts);
        }
        self.apply(acts, now);
        let due: Vec<PeerId> = self
            .deferred
            .keys()
            .filter(|p| now >= self.answer_due(p))
            .copied()
            .collect();
        for peer in due {
            if let Some(entries) = self.deferred.remove(&peer) {
                self.on_summary(peer, entries, now);
            }
        }
        if now >= self.next_summary {
            self.next_summary = now + self.cfg.summary_every_ms;
            if let Some(&peer) = self.rng.pick(&self.views.active()) {
                self.send_summary(peer);
            }
        }
    }

    fn send_all(&mut self, sends: Vec<(PeerId, Wire)>) {
        self.out
            .extend(sends.into_iter().map(|(to, wire)| Output::Send(to, wire)));
    }

    fn apply(&mut self, acts: Vec<Action>, now: u64) {
        for act in acts {
            match act {
                Action::Send(to, wire) => self.out.push_back(Output::Send(to, wire)),
                Action::Close(peer) => self.out.push_back(Output::Close(peer)),
                Action::Up(peer) => {
                    self.tree.neighbor_up(peer);
                    self.out.push_back(Output::PeerUp(peer));
                    self.send_summary(peer);
                }
                Action::Down(peer) => {
                    self.tree.neighbor_down(&peer, now);
                    self.out.push_back(Output::PeerDown(peer));
                }
            }
        }
    }

    fn send_summary(&mut self, peer: PeerId) {
        let allowance = self.cfg.history.max(1024);
        self.pulls.insert(peer, allowance);
        let summary = self.summary();
        self.out
            .push_back(Output::Send(peer, Wire::Summary(summary)));
    }

    /// When a deferred summary from `peer` may be answered.
    fn answer_due(&self, peer: &PeerId) -> u64 {
        self.answered
            .get(peer)
            .map_or(0, |&at| at + SUMMARY_EVERY_MS)
    }

    fn on_summary(&mut self, from: PeerId, entries: Vec<(PeerId, u64)>, now: u64) {
        // One answer per neighbour per second: a summary costs us up to a whole
        // store. One that comes sooner waits for the second to end (the newest
        // replaces an older one): dropped, a restarted neighbour's first summary,
        // which follows the old process's by less than that, went unanswered.
        if now < self.answer_due(&from) {
            self.deferred.insert(from, entries);
            return;
        }
        self.answered.insert(from, now);
        let theirs: HashMap<PeerId, u64> = entries.into_iter().collect();
        for Stored { message, hops } in self.store.missing_for(&theirs, self.cfg.history) {
            self.out.push_back(Output::Send(
                from,
                Wire::History {
                    hops: hops.saturating_add(1),
                    message: message.wire.clone(),
                },
            ));
        }
    }

    fn on_graft(&mut self, from: PeerId, id: &MessageId, now: u64) {
        if !self.take_token(from, now) {
            return;
        }
        if self.views.is_active(&from) {
            self.tree.grafted(from);
        }
        if let Some(stored) = self.store.get(id) {
            let wire = Wire::Gossip {
                hops: stored.hops.saturating_add(1),
                message: stored.message.wire.clone(),
            };
            self.out.push_back(Output::Send(from, wire));
        }
    }

    fn take_token(&mut self, from: PeerId, now: u64) -> bool {
        let limit = self.cfg.rate;
        let ok = self
            .buckets
            .entry(from)
            .or_insert_with(|| Bucket::new(limit, now))
            .take(limit, now);
        if !ok {
            self.stats.rate_limited += 1;
            // One record per neighbour per second, not one per dropped frame.
            if self.reported.get(&from).is_none_or(|&at| now >= at + 1_000) {
                self.reported.insert(from, now);
                self.out.push_back(Output::Dropped {
                    from,
                    reason: DropReason::RateLimited,
                    author: None,
                    seq: None,
                });
            }
        }
        ok
    }

    fn drop_message(&mut self, from: PeerId, reason: DropReason, message: Option<&Message>) {
        match reason {
            DropReason::Replayed => self.stats.replayed += 1,
            DropReason::RateLimited => self.stats.rate_limited += 1,
            _ => self.stats.invalid += 1,
        }
        self.out.push_back(Output::Dropped {
            from,
            reason,
            author: message.map(|m| m.author),
            seq: message.map(|m| m.seq),
        });
    }

    fn receive(&mut self, from: PeerId, hops: u16, bytes: &[u8], history: bool, now: u64) {
        if history {
            match self.pulls.get_mut(&from) {
                Some(left) if *left > 0 => *left -= 1,
                _ => return self.drop_message(from, DropReason::RateLimited, None),
            }
        } else if !self.take_token(from, now) {
            return;
        }
        if bytes.len() > self.cfg.max_size {
            return self.drop_message(from, DropReason::Oversize, None);
        }
        let Ok(unverified) = Message::decode(bytes) else {
            return self.drop_message(from, DropReason::Malformed, None);
        };
        let claimed = unverified.message();
        if self.seen.contains(&claimed.id) {
            self.stats.duplicates += 1;
            if !history && self.cfg.mode == Mode::Plumtree {
                let mut sends = Vec::new();
                self.tree.duplicate(&claimed.id, from, now, &mut sends);
                self.send_all(sends);
            }
            return;
        }
        let reason = if claimed.topic != self.cfg.topic {
            Some(DropReason::WrongTopic)
        } else if !self.cfg.allow_authors.is_empty()
            && !self.cfg.allow_authors.contains(&claimed.author)
        {
            Some(DropReason::AuthorNotAllowed)
        } else if claimed.ts > self.wall(now) + self.cfg.max_skew_ms {
            Some(DropReason::FutureTimestamp)
        } else if self.replay.check(&claimed.author, claimed.seq) == Replay::Replayed {
            Some(DropReason::Replayed)
        } else {
            None
        };
        if let Some(reason) = reason {
            let claimed = claimed.clone();
            return self.drop_message(from, reason, Some(&claimed));
        }
        let claimed_copy = claimed.clone();
        match unverified.verify() {
            Ok(message) => {
                if history {
                    self.stats.pulled += 1;
                }
                self.stats.delivered += 1;
                let message = Arc::new(message);
                self.out.push_back(Output::Deliver(message.clone(), hops));
                self.accept(&message, hops, Some(from), !history, now);
            }
            Err(MessageError::BadSignature) => {
                self.drop_message(from, DropReason::BadSignature, Some(&claimed_copy));
            }
            Err(MessageError::Malformed(_)) => {
                self.drop_message(from, DropReason::Malformed, Some(&claimed_copy));
            }
        }
    }

    /// Records a new valid message and passes it on.
    fn accept(
        &mut self,
        message: &Arc<Message>,
        hops: u16,
        from: Option<PeerId>,
        eager: bool,
        now: u64,
    ) {
        self.seen.insert(message.id);
        self.replay.record(message.author, message.seq);
        self.store.insert(message.clone(), hops);
        self.out.push_back(Output::Store(message.clone(), hops));
        let next = hops.saturating_add(1);
        let mut sends = Vec::new();
        match self.cfg.mode {
            Mode::Plumtree => {
                let from_active = from.filter(|p| self.views.is_active(p));
                let mut holders =
                    self.tree
                        .received(&message.id, from_active, eager, now, &mut sends);
                holders.extend(from);
                self.tree
                    .broadcast(message.id, &message.wire, next, &holders, now, &mut sends);
            }
            Mode::Flood => {
                for peer in self.views.active() {
                    if Some(peer) != from {
                        sends.push((
                            peer,
                            Wire::Gossip {
                                hops: next,
                                message: message.wire.clone(),
                            },
                        ));
                    }
                }
            }
        }
        self.send_all(sends);
    }
}
