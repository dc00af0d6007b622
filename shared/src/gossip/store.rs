//! The bounded message store (`--history N`): the newest N messages, indexed by id
//! (to answer a Plumtree GRAFT) and per author by `seq` (to answer an anti-entropy
//! summary with what the neighbour lacks).

use super::message::{Message, MessageId};
use crate::identity::peer_id::PeerId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// A stored message and the hops it had travelled when it reached us.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The message.
    pub message: Arc<Message>,
    /// Hops when received (0 for our own).
    pub hops: u16,
}

/// The newest `capacity` messages.
#[derive(Debug)]
pub struct Store {
    by_id: HashMap<MessageId, Stored>,
    by_author: HashMap<PeerId, BTreeMap<u64, MessageId>>,
    order: VecDeque<MessageId>,
    capacity: usize,
}

impl Store {
    /// A store keeping at most `capacity` messages (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Store {
            by_id: HashMap::new(),
            by_author: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Keeps `message`, dropping the oldest when full.
    pub fn insert(&mut self, message: Arc<Message>, hops: u16) {
        if self.capacity == 0 || self.by_id.contains_key(&message.id) {
            return;
        }
        let id = message.id;
        self.by_author
            .entry(message.author)
            .or_default()
            .insert(message.seq, id);
        self.by_id.insert(id, Stored { message, hops });
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_id.remove(&old) {
                let author = gone.message.author;
                if let Some(seqs) = self.by_author.get_mut(&author) {
                    seqs.remove(&gone.message.seq);
                    if seqs.is_empty() {
                        self.by_author.remove(&author);
                    }
                }
            }
        }
    }

    /// The message with this id, if still held.
    pub fn get(&self, id: &MessageId) -> Option<&Stored> {
        self.by_id.get(id)
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// What a neighbour whose newest seq per author is `theirs` lacks, oldest
    /// first per author, at most `limit` messages.
    pub fn missing_for(&self, theirs: &HashMap<PeerId, u64>, limit: usize) -> Vec<Stored> {
        let mut out = Vec::new();
        let mut authors: Vec<&PeerId> = self.by_author.keys().collect();
        authors.sort_unstable();
        for author in authors {
            let after = theirs.get(author).copied().unwrap_or(0);
            let seqs = &self.by_author[author];
            for id in seqs.range(after.saturating_add(1)..).map(|(_, id)| id) {
                if out.len() >= limit {
                    return out;
                }
                if let Some(stored) = self.by_id.get(id) {
                    out.push(stored.clone());
                }
            }
        }
        out
    }

    /// Every stored message, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use serde_json::json;

    #[test]
    fn keeps_the_newest_and_answers_a_summary() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let mut store = Store::new(3);
        let msgs: Vec<Arc<Message>> = [(&a, 1), (&a, 2), (&b, 1), (&a, 3)]
            .into_iter()
            .map(|(who, seq)| Arc::new(Message::sign(who, "t", seq, 0, &json!(seq))))
            .collect();
        for m in &msgs {
            store.insert(m.clone(), 1);
        }
        assert_eq!(store.len(), 3);
        assert!(store.get(&msgs[0].id).is_none(), "the oldest left");
        let theirs = HashMap::from([(a.id(), 2)]);
        let mut seqs: Vec<(PeerId, u64)> = store
            .missing_for(&theirs, 10)
            .iter()
            .map(|s| (s.message.author, s.message.seq))
            .collect();
        seqs.sort_unstable();
        let mut want = vec![(a.id(), 3), (b.id(), 1)];
        want.sort_unstable();
        assert_eq!(seqs, want);
        assert_eq!(store.missing_for(&HashMap::new(), 1).len(), 1, "limited");
    }
}
