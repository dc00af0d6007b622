//! HyParView membership (Leitão, Pereira, Rodrigues 2007), as a state machine.
//!
//! A small *active view* (the neighbours we hold connections to and gossip with)
//! and a larger *passive view* (candidates to replace them). A joiner asks one
//! contact, which takes it in and announces it on random walks (FORWARDJOIN); the
//! walks end by making it an active neighbour of a few nodes and a passive
//! candidate of others. Periodic SHUFFLE walks mix the passive views. When an active
//! neighbour fails (its connection closes), a passive candidate is asked to take
//! its place (NEIGHBOR, with high priority when we have no neighbour left).
//!
//! How it departs from the paper: becoming neighbours is always confirmed by a
//! NEIGHBOR frame from the side that accepted (our transport is connection
//! oriented, so a silent accept would leave the asker unsure); a rejection is a
//! DISCONNECT that keeps the asker as a passive candidate, preceded by a sample of
//! our views (a SHUFFLEREPLY) so that the asker learns whom else to ask at its
//! next refill (not at once: while every candidate is full that would loop as
//! fast as the network); a neighbour that drops us is not asked again at once; and
//! a node with less than half its active view asks with high priority, not only
//! one with none.

use super::frame::{PeerInfo, Wire};
use super::rng::Rng;
use crate::identity::peer_id::PeerId;
use std::collections::{BTreeMap, HashMap};

/// Sizes and walk lengths.
#[derive(Debug, Clone)]
pub struct ViewConfig {
    /// Active view size (the paper's log(n) + c; 5 here).
    pub active: usize,
    /// Passive view size.
    pub passive: usize,
    /// Active random walk length (FORWARDJOIN and SHUFFLE ttl).
    pub arwl: u8,
    /// At which remaining ttl a FORWARDJOIN adds the joiner to the passive view.
    pub prwl: u8,
    /// Active peers in a shuffle sample.
    pub shuffle_active: usize,
    /// Passive peers in a shuffle sample.
    pub shuffle_passive: usize,
    /// How long a NEIGHBOR request may stay unanswered, milliseconds.
    pub pending_timeout_ms: u64,
}

impl Default for ViewConfig {
    fn default() -> Self {
        ViewConfig {
            active: 5,
            passive: 30,
            arwl: 6,
            prwl: 3,
            shuffle_active: 3,
            shuffle_passive: 4,
            pending_timeout_ms: 5_000,
        }
    }
}

/// What the membership layer asks of the node (short-lived, so not boxed).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a frame (dialling if needed).
    Send(PeerId, Wire),
    /// Close the connection once queued frames are sent.
    Close(PeerId),
    /// A peer joined the active view.
    Up(PeerId),
    /// A peer left the active view.
    Down(PeerId),
}

/// The membership state of one node.
#[derive(Debug)]
pub struct HyParView {
    me: PeerInfo,
    cfg: ViewConfig,
    active: Vec<PeerInfo>,
    passive: Vec<PeerInfo>,
    /// NEIGHBOR or JOIN requests awaiting an answer, with when they were sent.
    pending: BTreeMap<PeerId, u64>,
    /// Addresses of every peer we may have to dial.
    book: HashMap<PeerId, PeerInfo>,
    /// What our last shuffle sent, to be replaced first by the reply.
    sent_in_shuffle: Vec<PeerId>,
    rng: Rng,
}

impl HyParView {
    /// Membership for `me`.
    pub fn new(me: PeerInfo, cfg: ViewConfig, seed: u64) -> Self {
        HyParView {
            me,
            cfg,
            active: Vec::new(),
            passive: Vec::new(),
            pending: BTreeMap::new(),
            book: HashMap::new(),
            sent_in_shuffle: Vec::new(),
            rng: Rng::new(seed),
        }
    }

    /// The active view's peer ids.
    pub fn active(&self) -> Vec<PeerId> {
        self.active.iter().map(|p| p.id).collect()
    }

    /// The number of active neighbours.
    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    /// The number of passive candidates.
    pub fn passive_len(&self) -> usize {
        self.passive.len()
    }

    /// The passive candidates' peer ids.
    pub fn passive(&self) -> Vec<PeerId> {
        self.passive.iter().map(|p| p.id).collect()
    }

    /// Peers asked to become neighbours (NEIGHBOR or JOIN) and not answered yet.
    pub fn pending(&self) -> Vec<PeerId> {
        self.pending.keys().copied().collect()
    }

    /// True if `peer` is an active neighbour.
    pub fn is_active(&self, peer: &PeerId) -> bool {
        self.active.iter().any(|p| p.id == *peer)
    }

    /// Where `peer` can be dialled, if we know.
    pub fn addrs_of(&self, peer: &PeerId) -> Option<&PeerInfo> {
        self.book.get(peer)
    }

    fn learn(&mut self, peer: &PeerInfo) {
        if peer.id == self.me.id {
            return;
        }
        match self.book.get_mut(&peer.id) {
            Some(known) => {
                if !peer.addrs.is_empty() {
                    known.addrs.clone_from(&peer.addrs);
                }
            }
            None => {
                self.book.insert(peer.id, peer.clone());
            }
        }
        let limit = 4 * (self.cfg.active + self.cfg.passive) + 16;
        if self.book.len() > limit {
            let keep: Vec<PeerId> = self
                .active
                .iter()
                .chain(&self.passive)
                .map(|p| p.id)
                .chain(self.pending.keys().copied())
                .collect();
            self.book.retain(|id, _| keep.contains(id));
        }
    }

    /// Joins the overlay through `contact` when the active view has room or the
    /// contact is new to us (it may be the way into a part of the swarm we are cut
    /// off from); a known candidate is only refreshed.
    pub fn join(&mut self, contact: PeerInfo, now: u64, acts: &mut Vec<Action>) {
        if contact.id == self.me.id || self.is_active(&contact.id) {
            self.learn(&contact);
            return;
        }
        let known = self.passive.iter().any(|p| p.id == contact.id);
        self.learn(&contact);
        if (!known || self.active.len() + self.pending.len() < self.cfg.active)
            && !self.pending.contains_key(&contact.id)
        {
            self.pending.insert(contact.id, now);
            acts.push(Action::Send(contact.id, Wire::Join(self.me.clone())));
        } else {
            self.add_passive(contact);
        }
    }

    /// Handles a membership frame from `from`; false if it is not one.
    pub fn handle(&mut self, from: PeerId, wire: Wire, now: u64, acts: &mut Vec<Action>) -> bool {
        match wire {
            Wire::Join(peer) if peer.id == from => self.on_join(&peer, acts),
            Wire::ForwardJoin { peer, ttl } => self.on_forward_join(from, peer, ttl, acts),
            Wire::Neighbor { me, high } if me.id == from => self.on_neighbor(me, high, acts),
            Wire::Disconnect { alive } => self.on_disconnect(from, alive, now, acts),
            Wire::Shuffle { origin, ttl, peers } => {
                self.on_shuffle(from, origin, ttl, peers, acts);
            }
            Wire::ShuffleReply(peers) => {
                let sent = std::mem::take(&mut self.sent_in_shuffle);
                self.integrate(peers, &sent);
                self.close_if_idle(from, acts);
            }
            // A JOIN or NEIGHBOR naming someone other than the sender: ignored.
            Wire::Join(_) | Wire::Neighbor { .. } => {}
            _ => return false,
        }
        true
    }

    fn on_join(&mut self, peer: &PeerInfo, acts: &mut Vec<Action>) {
        let id = peer.id;
        self.learn(peer);
        // A JOIN from a neighbour: it was restarted (or dropped us) and knows
        // nothing of our link, and waits for our NEIGHBOR. It is taken in again as
        // new: down, then up and confirmed. Left unanswered, a restarted node
        // stayed alone until a shuffle happened to reach it.
        if let Some(i) = self.active.iter().position(|p| p.id == id) {
            self.active.remove(i);
            acts.push(Action::Down(id));
        }
        self.connect(peer.clone(), acts);
        for other in self.active.clone() {
            if other.id != id {
                acts.push(Action::Send(
                    other.id,
                    Wire::ForwardJoin {
                        peer: peer.clone(),
                        ttl: self.cfg.arwl,
                    },
                ));
            }
        }
    }

    fn on_forward_join(&mut self, from: PeerId, peer: PeerInfo, ttl: u8, acts: &mut Vec<Action>) {
        if peer.id == self.me.id {
            return;
        }
        self.learn(&peer);
        if ttl == 0 || self.active.len() <= 1 {
            if !self.is_active(&peer.id) {
                self.connect(peer, acts);
            }
            return;
        }
        if ttl == self.cfg.prwl {
            self.add_passive(peer.clone());
        }
        let next: Vec<PeerId> = self
            .active
            .iter()
            .map(|p| p.id)
            .filter(|id| *id != from && *id != peer.id)
            .collect();
        match self.rng.pick(&next) {
            Some(&to) => acts.push(Action::Send(to, Wire::ForwardJoin { peer, ttl: ttl - 1 })),
            None if !self.is_active(&peer.id) => self.connect(peer, acts),
            None => {}
        }
    }

    fn on_neighbor(&mut self, peer: PeerInfo, high: bool, acts: &mut Vec<Action>) {
        self.learn(&peer);
        if self.is_active(&peer.id) {
            self.pending.remove(&peer.id);
            return;
        }
        let asked = self.pending.contains_key(&peer.id);
        if high || asked || self.active.len() + self.pending.len() < self.cfg.active {
            self.connect(peer, acts);
        } else {
            // Refused, but told whom else to ask: a sample of our neighbours and
            // candidates. Without it a node whose only candidates are full nodes
            // asks them forever, and two or three nodes that joined at once
            // through the same contact stay an island of their own (each other's
            // only neighbours, the full contact their only candidate).
            let mut hint = self.rng.sample(&self.active, self.cfg.shuffle_active);
            hint.extend(self.rng.sample(&self.passive, self.cfg.shuffle_passive));
            hint.retain(|p| p.id != peer.id);
            acts.push(Action::Send(peer.id, Wire::ShuffleReply(hint)));
            acts.push(Action::Send(peer.id, Wire::Disconnect { alive: true }));
            acts.push(Action::Close(peer.id));
            self.add_passive(peer);
        }
    }

    fn on_disconnect(&mut self, from: PeerId, alive: bool, now: u64, acts: &mut Vec<Action>) {
        let was_pending = self.pending.remove(&from).is_some();
        let was_active = self.is_active(&from);
        if let Some(i) = self.active.iter().position(|p| p.id == from) {
            let peer = self.active.remove(i);
            acts.push(Action::Down(from));
            if alive {
                self.add_passive(peer);
            }
        } else if !alive {
            self.passive.retain(|p| p.id != from);
        }
        acts.push(Action::Close(from));
        // A refusal waits for the next one-second refill (which can pick from the
        // sample that came with it): asking again at once would loop as fast as
        // the network while every candidate is full. A lost neighbour is replaced
        // at once, by someone other than the peer that just dropped us.
        let refused = was_pending && !was_active;
        if !refused && (!alive || self.active.len() < self.cfg.active) {
            self.ask_candidate(now, Some(from), acts);
        }
    }

    /// The connection to `peer` closed or could not be made.
    pub fn closed(&mut self, peer: PeerId, now: u64, acts: &mut Vec<Action>) {
        let was_pending = self.pending.remove(&peer).is_some();
        let was_active = if let Some(i) = self.active.iter().position(|p| p.id == peer) {
            self.active.remove(i);
            acts.push(Action::Down(peer));
            true
        } else {
            false
        };
        if was_pending || was_active {
            self.passive.retain(|p| p.id != peer);
            self.book.remove(&peer);
            // Below half the view, refill at once; otherwise at the next periodic
            // refill. When several nodes die at once, every survivor that lost a
            // neighbour dialled a candidate in the same instant, and those
            // handshakes (many of them ending in a refusal) competed with the
            // messages for the CPU just when the tree needed repairing.
            if self.active.len() * 2 < self.cfg.active {
                self.repair(now, acts);
            }
        }
    }

    fn on_shuffle(
        &mut self,
        from: PeerId,
        origin: PeerInfo,
        ttl: u8,
        peers: Vec<PeerInfo>,
        acts: &mut Vec<Action>,
    ) {
        if origin.id == self.me.id {
            return;
        }
        self.learn(&origin);
        if ttl > 0 && self.active.len() > 1 {
            let next: Vec<PeerId> = self
                .active
                .iter()
                .map(|p| p.id)
                .filter(|id| *id != from && *id != origin.id)
                .collect();
            if let Some(&to) = self.rng.pick(&next) {
                acts.push(Action::Send(
                    to,
                    Wire::Shuffle {
                        origin,
                        ttl: ttl - 1,
                        peers,
                    },
                ));
                return;
            }
        }
        let reply = self.rng.sample(&self.passive, peers.len());
        let sent: Vec<PeerId> = reply.iter().map(|p| p.id).collect();
        acts.push(Action::Send(origin.id, Wire::ShuffleReply(reply)));
        self.close_if_idle(origin.id, acts);
        self.integrate(peers, &sent);
    }

    fn close_if_idle(&self, peer: PeerId, acts: &mut Vec<Action>) {
        if !self.is_active(&peer) && !self.pending.contains_key(&peer) {
            acts.push(Action::Close(peer));
        }
    }

    /// Adds shuffled-in peers to the passive view, evicting `prefer_evict` first.
    fn integrate(&mut self, peers: Vec<PeerInfo>, prefer_evict: &[PeerId]) {
        let mut evictable: Vec<PeerId> = prefer_evict.to_vec();
        for peer in peers {
            if peer.id == self.me.id
                || self.is_active(&peer.id)
                || self.passive.iter().any(|p| p.id == peer.id)
            {
                continue;
            }
            if self.passive.len() >= self.cfg.passive {
                let victim = loop {
                    match evictable.pop() {
                        Some(id) => {
                            if let Some(i) = self.passive.iter().position(|p| p.id == id) {
                                break i;
                            }
                        }
                        None => break self.rng.below(self.passive.len()),
                    }
                };
                self.passive.swap_remove(victim);
            }
            self.learn(&peer);
            self.passive.push(peer);
        }
    }

    fn add_passive(&mut self, peer: PeerInfo) {
        if peer.id == self.me.id
            || self.is_active(&peer.id)
            || self.passive.iter().any(|p| p.id == peer.id)
        {
            return;
        }
        if self.passive.len() >= self.cfg.passive {
            let victim = self.rng.below(self.passive.len());
            self.passive.swap_remove(victim);
        }
        self.learn(&peer);
        self.passive.push(peer);
    }

    /// Makes `peer` an active neighbour (evicting a random one when full) and
    /// tells it so.
    fn connect(&mut self, peer: PeerInfo, acts: &mut Vec<Action>) {
        if peer.id == self.me.id || self.is_active(&peer.id) {
            return;
        }
        self.pending.remove(&peer.id);
        self.passive.retain(|p| p.id != peer.id);
        if self.active.len() >= self.cfg.active {
            let evicted = self.active.remove(self.rng.below(self.active.len()));
            acts.push(Action::Send(evicted.id, Wire::Disconnect { alive: true }));
            acts.push(Action::Close(evicted.id));
            acts.push(Action::Down(evicted.id));
            self.add_passive(evicted);
        }
        let id = peer.id;
        self.learn(&peer);
        self.active.push(peer);
        acts.push(Action::Send(
            id,
            Wire::Neighbor {
                me: self.me.clone(),
                high: true,
            },
        ));
        acts.push(Action::Up(id));
    }

    /// Asks a passive candidate to fill a free active slot.
    pub fn repair(&mut self, now: u64, acts: &mut Vec<Action>) {
        self.ask_candidate(now, None, acts);
    }

    /// Asks a passive candidate other than `except` to fill a free active slot.
    fn ask_candidate(&mut self, now: u64, except: Option<PeerId>, acts: &mut Vec<Action>) {
        let timeout = self.cfg.pending_timeout_ms;
        self.pending
            .retain(|_, sent| now.saturating_sub(*sent) < timeout);
        if self.active.len() + self.pending.len() >= self.cfg.active {
            return;
        }
        let candidates: Vec<PeerInfo> = self
            .passive
            .iter()
            .filter(|p| !self.pending.contains_key(&p.id) && Some(p.id) != except)
            .cloned()
            .collect();
        if let Some(peer) = self.rng.pick(&candidates).cloned() {
            // High priority (accepted even by a full node) below half the view,
            // not only when it is empty as in the paper: two or three nodes that
            // are each other's only neighbours would otherwise stay an island
            // while every node outside is full and refuses them.
            let high = self.active.len() * 2 < self.cfg.active;
            self.pending.insert(peer.id, now);
            acts.push(Action::Send(
                peer.id,
                Wire::Neighbor {
                    me: self.me.clone(),
                    high,
                },
            ));
        }
    }

    /// Starts a shuffle with a random active neighbour.
    pub fn shuffle(&mut self, acts: &mut Vec<Action>) {
        let Some(target) = self.rng.pick(&self.active).map(|p| p.id) else {
            return;
        };
        let mut peers = self.rng.sample(&self.active, self.cfg.shuffle_active);
        peers.retain(|p| p.id != target);
        peers.extend(self.rng.sample(&self.passive, self.cfg.shuffle_passive));
        self.sent_in_shuffle = peers.iter().map(|p| p.id).collect();
        acts.push(Action::Send(
            target,
            Wire::Shuffle {
                origin: self.me.clone(),
                ttl: self.cfg.arwl,
                peers,
            },
        ));
    }

    /// Leaves: tells every active neighbour and closes.
    pub fn leave(&mut self, acts: &mut Vec<Action>) {
        for peer in std::mem::take(&mut self.active) {
            acts.push(Action::Send(peer.id, Wire::Disconnect { alive: false }));
            acts.push(Action::Close(peer.id));
            acts.push(Action::Down(peer.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn peer(n: u8) -> PeerInfo {
        PeerInfo {
            id: Identity::from_seed([n; 32]).id(),
            addrs: Vec::new(),
        }
    }

    fn neighbor(p: &PeerInfo, high: bool) -> Wire {
        Wire::Neighbor {
            me: p.clone(),
            high,
        }
    }

    /// A lost neighbour is replaced at the next periodic refill while at least half
    /// the active view is left, and at once below that.
    #[test]
    fn a_lost_neighbour_is_replaced_at_once_only_below_half_the_view() {
        let me = peer(1);
        let mut acts = Vec::new();
        let mut view = HyParView::new(me.clone(), ViewConfig::default(), 1);
        for n in 10..15 {
            view.handle(peer(n).id, neighbor(&peer(n), true), 0, &mut acts);
        }
        view.handle(
            peer(10).id,
            Wire::ShuffleReply(vec![peer(20)]),
            0,
            &mut acts,
        );
        assert_eq!(view.active().len(), 5);
        // Five, then four, then three: nobody is asked at once...
        for n in [14, 13] {
            acts.clear();
            view.closed(peer(n).id, 1, &mut acts);
            assert_eq!(acts, vec![Action::Down(peer(n).id)]);
        }
        // ...but at the next refill.
        acts.clear();
        view.repair(1_000, &mut acts);
        assert_eq!(acts, vec![Action::Send(peer(20).id, neighbor(&me, false))]);
        // Down to two of five (the request to 20 still pending): the next
        // candidate is asked at once, with high priority.
        view.handle(
            peer(10).id,
            Wire::ShuffleReply(vec![peer(21)]),
            1_001,
            &mut acts,
        );
        acts.clear();
        view.closed(peer(12).id, 1_002, &mut acts);
        assert_eq!(
            acts,
            vec![
                Action::Down(peer(12).id),
                Action::Send(peer(21).id, neighbor(&me, true))
            ]
        );
    }

    #[test]
    fn a_refused_neighbor_request_says_whom_else_to_ask() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let mut acts = Vec::new();
        // `a` is full: five neighbours.
        let mut full = HyParView::new(a.clone(), ViewConfig::default(), 1);
        for n in 10..15 {
            full.handle(peer(n).id, neighbor(&peer(n), true), 0, &mut acts);
        }
        assert_eq!(full.active().len(), 5);
        // `b` has one neighbour, `c`, and one candidate, `a`: with less than half
        // its active view it asks with high priority...
        let mut asker = HyParView::new(b.clone(), ViewConfig::default(), 2);
        asker.handle(c.id, neighbor(&c, true), 0, &mut acts);
        asker.handle(c.id, Wire::ShuffleReply(vec![a.clone()]), 0, &mut acts);
        acts.clear();
        asker.repair(1, &mut acts);
        assert_eq!(acts, vec![Action::Send(a.id, neighbor(&b, true))]);
        // ...and with three, with low priority.
        for n in [4, 5] {
            asker.handle(peer(n).id, neighbor(&peer(n), true), 1, &mut acts);
        }
        acts.clear();
        asker.repair(5_002, &mut acts);
        assert_eq!(acts, vec![Action::Send(a.id, neighbor(&b, false))]);
        // `a` refuses, but names some of its neighbours and candidates.
        acts.clear();
        full.handle(b.id, neighbor(&b, false), 2, &mut acts);
        let Some(Action::Send(to, Wire::ShuffleReply(hint))) = acts.first().cloned() else {
            panic!("no sample before the refusal: {acts:?}");
        };
        assert_eq!(to, b.id);
        assert!(!hint.is_empty() && hint.iter().all(|p| full.is_active(&p.id)));
        assert_eq!(
            acts[1..],
            [
                Action::Send(b.id, Wire::Disconnect { alive: true }),
                Action::Close(b.id)
            ]
        );
        // `b` keeps them as candidates, and asks nobody at once (while every
        // candidate is full that would loop as fast as the network)...
        acts.clear();
        asker.handle(a.id, Wire::ShuffleReply(hint.clone()), 3, &mut acts);
        asker.handle(a.id, Wire::Disconnect { alive: true }, 3, &mut acts);
        assert_eq!(acts, vec![Action::Close(a.id)]);
        let candidates = asker.passive();
        assert!(hint.iter().all(|p| candidates.contains(&p.id)));
        assert!(candidates.contains(&a.id), "the refuser stays a candidate");
        // ...but at its next refill.
        acts.clear();
        asker.repair(1_003, &mut acts);
        assert!(
            matches!(
                acts[..],
                [Action::Send(_, Wire::Neighbor { high: false, .. })]
            ),
            "{acts:?}"
        );
    }
}
