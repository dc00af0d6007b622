//! What a server lets one client, or all of them, make it hold: connection slots
//! that shed the oldest connection when full ([`Slots`]), per-source token buckets
//! ([`PerSource`]) and the process's descriptor limit ([`descriptor_limit`]).
//!
//! Every listening tool bounds its state with these, so that no single source can
//! exhaust memory, descriptors or the server's attention.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The soft limit on open file descriptors (`ulimit -n`), when the system says.
pub fn descriptor_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// The most connections a server may hold at once: `wanted`, but always `reserve`
/// descriptors below the process's limit (listening sockets, files, pipes), and at
/// least one.
pub fn connection_cap(wanted: usize, reserve: usize) -> usize {
    let limit = descriptor_limit().map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    wanted.min(limit.saturating_sub(reserve)).max(1)
}

type Shed = Box<dyn FnOnce() + Send>;

struct Open {
    next: u64,
    /// Held slots by age, with how to shed each (`None` once it was told to close;
    /// it stays held until the connection is gone).
    by_age: BTreeMap<u64, Option<Shed>>,
}

/// Connection slots: at most `cap` held at once; taking one when all are held sheds
/// the oldest connection (it is told to close) to keep room for new clients. A slot
/// stays held until its [`Slot`] is dropped, so a server that waits for
/// [`Slots::has_room`] before accepting never holds more than `cap` descriptors.
#[derive(Clone)]
pub struct Slots {
    cap: usize,
    open: Arc<Mutex<Open>>,
}

/// One held slot; dropping it frees the slot.
pub struct Slot {
    id: u64,
    open: Arc<Mutex<Open>>,
}

impl Slots {
    /// Room for `cap` connections (at least one).
    pub fn new(cap: usize) -> Slots {
        Slots {
            cap: cap.max(1),
            open: Arc::new(Mutex::new(Open {
                next: 0,
                by_age: BTreeMap::new(),
            })),
        }
    }

    /// The most connections held at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// How many slots are held now.
    pub fn held(&self) -> usize {
        lock(&self.open).by_age.len()
    }

    /// True when a slot is free now; when not, the oldest connection not yet told
    /// to close is shed, so that one soon is.
    pub fn has_room(&self) -> bool {
        let victim = {
            let mut open = lock(&self.open);
            if open.by_age.len() < self.cap {
                return true;
            }
            open.by_age.values_mut().find_map(Option::take)
        };
        if let Some(victim) = victim {
            victim();
        }
        false
    }

    /// Takes a slot for a connection that `shed` closes; when all are held, the
    /// oldest connections are shed first. Returns the slot and how many were shed.
    pub fn take(&self, shed: impl FnOnce() + Send + 'static) -> (Slot, usize) {
        let mut victims = Vec::new();
        let id = {
            let mut open = lock(&self.open);
            let excess = (open.by_age.len() + 1).saturating_sub(self.cap);
            victims.extend(
                open.by_age
                    .values_mut()
                    .filter_map(Option::take)
                    .take(excess),
            );
            let id = open.next;
            open.next += 1;
            open.by_age.insert(id, Some(Box::new(shed)));
            id
        };
        let shed = victims.len();
        for victim in victims {
            victim();
        }
        (
            Slot {
                id,
                open: Arc::clone(&self.open),
            },
            shed,
        )
    }

    /// Sheds the oldest connection not yet told to close (when descriptors ran
    /// out); false when there was none.
    pub fn shed_oldest(&self) -> bool {
        let victim = lock(&self.open).by_age.values_mut().find_map(Option::take);
        victim.map(|shed| shed()).is_some()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let removed = lock(&self.open).by_age.remove(&self.id);
        drop(removed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Token buckets per source IP address: `rate` requests a second on average, bursts
/// of up to `burst`. The table itself is bounded: past `max_sources` addresses, the
/// buckets that are full again (idle sources) are forgotten, and if none is, all are.
#[derive(Debug)]
pub struct PerSource {
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl PerSource {
    /// A limiter of `rate` a second with bursts of `burst`.
    pub fn new(rate: f64, burst: f64, max_sources: usize) -> PerSource {
        PerSource {
            rate,
            burst: burst.max(1.0),
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes `cost` tokens from `source`'s bucket; false (and nothing taken) when
    /// there are not enough.
    pub fn allow(&mut self, source: IpAddr, cost: f64, now: Instant) -> bool {
        if !self.buckets.contains_key(&source) && self.buckets.len() >= self.max_sources {
            let (rate, burst) = (self.rate, self.burst);
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + rate * now.saturating_duration_since(*at).as_secs_f64() < burst
            });
            if self.buckets.len() >= self.max_sources {
                self.buckets.clear();
            }
        }
        let (tokens, at) = self.buckets.entry(source).or_insert((self.burst, now));
        *tokens = (*tokens + self.rate * now.saturating_duration_since(*at).as_secs_f64())
            .min(self.burst);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
    }

    /// How many sources are tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_full_set_of_slots_sheds_the_oldest() {
        let slots = Slots::new(2);
        let shed = Arc::new(AtomicUsize::new(usize::MAX));
        let mark = |n: usize| {
            let shed = Arc::clone(&shed);
            move || shed.store(n, Ordering::SeqCst)
        };
        let (a, _) = slots.take(mark(0));
        let (_b, _) = slots.take(mark(1));
        assert!(!slots.has_room());
        assert_eq!(
            shed.load(Ordering::SeqCst),
            0,
            "the oldest is told to close"
        );
        assert_eq!(slots.held(), 2, "and held until it is gone");
        drop(a);
        assert!(slots.has_room());
        let (_c, n) = slots.take(mark(2));
        assert_eq!(n, 0);
        let (_d, n) = slots.take(mark(3));
        assert_eq!((n, shed.load(Ordering::SeqCst)), (1, 1), "taking sheds too");
        assert!(slots.shed_oldest());
        assert_eq!(shed.load(Ordering::SeqCst), 2);
        assert!(slots.shed_oldest());
        assert_eq!(shed.load(Ordering::SeqCst), 3);
        assert!(!slots.shed_oldest(), "nothing left to shed");
    }

    #[test]
    fn buckets_refill_at_the_rate_and_the_table_stays_bounded() {
        let mut limit = PerSource::new(2.0, 4.0, 3);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!((0..10).filter(|_| limit.allow(a, 1.0, now)).count(), 4);
        assert!(limit.allow(a, 1.0, now + Duration::from_millis(500)));
        assert!(!limit.allow(a, 1.0, now + Duration::from_millis(500)));
        for i in 0..100u8 {
            limit.allow(IpAddr::from([198, 51, 100, i]), 1.0, now);
        }
        assert!(limit.len() <= 3);
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limit = descriptor_limit().expect("getrlimit works on Linux");
        let cap = connection_cap(usize::MAX, 32);
        assert!(cap as u64 <= limit.saturating_sub(32).max(1));
        assert_eq!(connection_cap(5, 32).min(5), connection_cap(5, 32));
    }
}
