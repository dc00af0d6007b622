//! What a node has already seen, in bounded memory: a FIFO cache of message ids
//! (duplicates), and per author a replay window of recent sequence numbers (a
//! message older than the window, or already in it, is a replay even once its id
//! has left the cache, as an IPsec anti-replay window works).

use super::message::MessageId;
use crate::identity::peer_id::PeerId;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// A bounded set of message ids; the oldest leave first.
#[derive(Debug)]
pub struct IdCache {
    set: HashSet<MessageId>,
    order: VecDeque<MessageId>,
    capacity: usize,
}

impl IdCache {
    /// A cache holding at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        IdCache {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// True if `id` is in the cache.
    pub fn contains(&self, id: &MessageId) -> bool {
        self.set.contains(id)
    }

    /// Adds `id`; false if it was already there.
    pub fn insert(&mut self, id: MessageId) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// One author's window: the seqs seen above `floor`.
#[derive(Debug, Default)]
struct Window {
    floor: u64,
    seqs: BTreeSet<u64>,
}

/// Per-author replay windows, for at most `authors` authors of `window` seqs each.
#[derive(Debug)]
pub struct ReplayGuard {
    windows: HashMap<PeerId, Window>,
    window: usize,
    authors: usize,
}

/// The verdict on a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Not seen: accept.
    Fresh,
    /// Seen, or older than anything the window still remembers.
    Replayed,
}

impl ReplayGuard {
    /// Windows of `window` seqs for up to `authors` authors.
    pub fn new(window: usize, authors: usize) -> Self {
        ReplayGuard {
            windows: HashMap::new(),
            window: window.max(1),
            authors: authors.max(1),
        }
    }

    /// Whether `seq` by `author` would be a replay.
    pub fn check(&self, author: &PeerId, seq: u64) -> Replay {
        match self.windows.get(author) {
            Some(w) if seq <= w.floor || w.seqs.contains(&seq) => Replay::Replayed,
            _ => Replay::Fresh,
        }
    }

    /// Records `seq` by `author` as seen.
    pub fn record(&mut self, author: PeerId, seq: u64) {
        if !self.windows.contains_key(&author) && self.windows.len() >= self.authors {
            // Forget the author whose newest message is oldest.
            if let Some(stale) = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.seqs.last().copied().unwrap_or(w.floor))
                .map(|(id, _)| *id)
            {
                self.windows.remove(&stale);
            }
        }
        let w = self.windows.entry(author).or_default();
        w.seqs.insert(seq);
        while w.seqs.len() > self.window {
            if let Some(lowest) = w.seqs.pop_first() {
                w.floor = lowest;
            }
        }
    }

    /// The newest seq seen per author, newest authors first, at most `limit`.
    pub fn summary(&self, limit: usize) -> Vec<(PeerId, u64)> {
        let mut all: Vec<(PeerId, u64)> = self
            .windows
            .iter()
            .map(|(id, w)| (*id, w.seqs.last().copied().unwrap_or(w.floor)))
            .collect();
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(limit);
        all
    }

    /// The newest seq seen from `author`.
    pub fn latest(&self, author: &PeerId) -> Option<u64> {
        let w = self.windows.get(author)?;
        w.seqs.last().copied().or(Some(w.floor).filter(|&f| f > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn the_id_cache_is_bounded_and_forgets_the_oldest() {
        let mut cache = IdCache::new(2);
        assert!(cache.insert([1; 32]));
        assert!(!cache.insert([1; 32]));
        cache.insert([2; 32]);
        cache.insert([3; 32]);
        assert_eq!(cache.len(), 2);
        assert!(!cache.contains(&[1; 32]));
        assert!(cache.contains(&[3; 32]));
    }

    #[test]
    fn replays_are_caught_after_the_window_slides() {
        let a = Identity::from_seed([1; 32]).id();
        let mut guard = ReplayGuard::new(3, 2);
        for seq in [10, 12, 11, 13] {
            assert_eq!(guard.check(&a, seq), Replay::Fresh);
            guard.record(a, seq);
        }
        assert_eq!(guard.check(&a, 12), Replay::Replayed);
        assert_eq!(guard.check(&a, 10), Replay::Replayed, "below the floor");
        assert_eq!(guard.check(&a, 14), Replay::Fresh);
        assert_eq!(guard.latest(&a), Some(13));
    }

    #[test]
    fn the_number_of_authors_is_bounded() {
        let ids: Vec<PeerId> = (1..=3).map(|s| Identity::from_seed([s; 32]).id()).collect();
        let mut guard = ReplayGuard::new(4, 2);
        guard.record(ids[0], 1);
        guard.record(ids[1], 5);
        guard.record(ids[2], 9);
        assert_eq!(guard.windows.len(), 2);
        assert_eq!(
            guard.latest(&ids[0]),
            None,
            "the stalest author was forgotten"
        );
    }
}
