//! A user-space lossy link for tests (the kernel here has no netem): a UDP proxy on
//! loopback that forwards one client's datagrams to a server and the answers back,
//! dropping, duplicating and delaying them with a seeded RNG. Random delays reorder
//! datagrams. The proxy stops when dropped and reports what it did.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the link does to each datagram, in each direction.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Datagrams dropped, per 10 000.
    pub loss: u64,
    /// Forwarded datagrams sent twice, per 10 000.
    pub duplicate: u64,
    /// The smallest delay.
    pub min_delay: Duration,
    /// The largest delay; a spread between the two reorders datagrams.
    pub max_delay: Duration,
    /// Datagrams dropped at the start, each way, whatever the RNG says (makes a
    /// test's first retry certain).
    pub drop_first: u64,
    /// The RNG seed (the same seed makes the same decisions for the same traffic).
    pub seed: u64,
}

/// Counts of what the link did, both directions together.
#[derive(Debug, Default)]
pub struct Counts {
    /// Datagrams received.
    pub received: AtomicU64,
    /// Datagrams dropped.
    pub dropped: AtomicU64,
    /// Extra copies sent.
    pub duplicated: AtomicU64,
    /// Datagrams sent after one that arrived later than them.
    pub reordered: AtomicU64,
}

/// A running lossy proxy; clients send to [`LossyLink::addr`].
pub struct LossyLink {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// What it did so far.
    pub counts: Arc<Counts>,
}

/// A small seeded generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True `per_10k` times in 10 000.
    fn chance(&mut self, per_10k: u64) -> bool {
        self.next() % 10_000 < per_10k
    }

    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = u64::try_from(hi.saturating_sub(lo).as_micros()).unwrap_or(u64::MAX);
        lo + Duration::from_micros(if span == 0 { 0 } else { self.next() % span })
    }
}

impl LossyLink {
    /// Starts a link on 127.0.0.1 in front of `server`.
    pub fn start(server: SocketAddr, faults: Faults) -> LossyLink {
        let front = UdpSocket::bind("127.0.0.1:0").expect("binding the link's front");
        let back = UdpSocket::bind("127.0.0.1:0").expect("binding the link's back");
        back.connect(server)
            .expect("connecting the link to the server");
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let mut threads = Vec::new();
        for (direction, seed) in [(true, faults.seed), (false, faults.seed ^ 0x5555)] {
            let (from, to) = (front.try_clone().unwrap(), back.try_clone().unwrap());
            let (from, to) = if direction { (from, to) } else { (to, from) };
            let stop = stop.clone();
            let counts = counts.clone();
            let client = client.clone();
            let faults = Faults { seed, ..faults };
            threads.push(std::thread::spawn(move || {
                forward(&from, &to, direction, &client, faults, &stop, &counts);
            }));
        }
        LossyLink {
            addr,
            stop,
            threads,
            counts,
        }
    }

    /// The address clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One line of figures: received, dropped, duplicated, reordered.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        format!(
            "received {} dropped {} duplicated {} reordered {}",
            c.received.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
            c.duplicated.load(Ordering::Relaxed),
            c.reordered.load(Ordering::Relaxed)
        )
    }
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Moves datagrams one way. `upstream` is the client-to-server direction: it learns
/// the client's address; the other direction sends to it.
fn forward(
    from: &UdpSocket,
    to: &UdpSocket,
    upstream: bool,
    client: &Mutex<Option<SocketAddr>>,
    faults: Faults,
    stop: &AtomicBool,
    counts: &Counts,
) {
    let mut rng = Rng(faults.seed);
    // (send at, arrival order, bytes), earliest first.
    let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut arrivals = 0u64;
    let mut last_sent = 0u64;
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let wait = queue
            .peek()
            .map_or(Duration::from_millis(20), |Reverse((at, _, _))| {
                at.saturating_duration_since(Instant::now())
            })
            .clamp(Duration::from_micros(200), Duration::from_millis(20));
        from.set_read_timeout(Some(wait)).unwrap();
        if let Ok((n, source)) = from.recv_from(&mut buf) {
            if upstream {
                *client.lock().unwrap() = Some(source);
            }
            counts.received.fetch_add(1, Ordering::Relaxed);
            arrivals += 1;
            if arrivals <= faults.drop_first || rng.chance(faults.loss) {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                let copies = if rng.chance(faults.duplicate) { 2 } else { 1 };
                counts.duplicated.fetch_add(copies - 1, Ordering::Relaxed);
                for _ in 0..copies {
                    let at = Instant::now() + rng.between(faults.min_delay, faults.max_delay);
                    queue.push(Reverse((at, arrivals, buf[..n].to_vec())));
                }
            }
        }
        let now = Instant::now();
        while queue.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Reverse((_, order, bytes)) = queue.pop().unwrap();
            if order < last_sent {
                counts.reordered.fetch_add(1, Ordering::Relaxed);
            }
            last_sent = last_sent.max(order);
            let _ = if upstream {
                to.send(&bytes)
            } else if let Some(client) = *client.lock().unwrap() {
                to.send_to(&bytes, client)
            } else {
                Ok(0)
            };
        }
    }
}
