//! Loads a TURN relay the way `scripts/soak relay` asks: many allocations from
//! separate clients, many of them relaying at once, the relay's limits probed while
//! it is full, and fresh allocations timed while it is busy.
//!
//! Usage: `relay_load RELAY --secret S [--allocations 1000] [--flows 200]
//! [--seconds 20] [--rate BYTES_PER_S] [--size BYTES]`
//!
//! 1. Allocates `--allocations` times, each from its own socket and username, 25 per
//!    loopback address (`127.20.A.B`), and times each Allocate (with its 401 round).
//! 2. Probes the limits: one fresh address allocates until refused (the per-IP
//!    limit), one username from fresh addresses until refused (the per-user limit);
//!    both are released again.
//! 3. Runs `--flows` relayed flows for `--seconds`: each binds a channel to its own
//!    peer socket and offers `--rate` bytes a second in `--size`-byte datagrams,
//!    half of them client to peer, half peer to client. Meanwhile a fresh client
//!    allocates and releases every 50 ms, timed (and for 3 s before the flows, as a
//!    baseline of what the machine's scheduling alone costs).
//! 4. Allocates from fresh addresses until refused (the total limit), then releases
//!    everything.
//!
//! Prints one JSON object with every figure: allocate times (p50/p99/max in ms, idle
//! and under load), each limit with how many it allowed and the refusal it gave, and
//! per-flow throughput (min/median/max in KB/s) with what was offered and delivered.

// A load client's output is its figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Counts and durations become rates and percentiles; precision far beyond what is printed.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use p2p_shared::codec::turn;
use p2p_shared::connect::turn_client::{Client, Credentials, parse_relay};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Allocations per client address, below the relay's default per-IP limit (32).
const PER_ADDRESS: usize = 25;
/// How long one transaction may wait for its answer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Threads driving the flows.
const WORKERS: usize = 4;
/// How often a worker sends its flows' due datagrams and drains their receivers.
const TICK: Duration = Duration::from_millis(2);

struct Options {
    relay: SocketAddr,
    secret: String,
    allocations: usize,
    flows: usize,
    seconds: u64,
    rate: f64,
    size: usize,
}

fn options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let relay = parse_relay(args.first().ok_or("RELAY is missing")?)?;
    let mut o = Options {
        relay,
        secret: String::new(),
        allocations: 1000,
        flows: 200,
        seconds: 20,
        rate: 256.0 * 1024.0,
        size: 1000,
    };
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} {value}"))
        };
        match flag.as_str() {
            "--secret" => o.secret.clone_from(value),
            "--allocations" => o.allocations = number()?,
            "--flows" => o.flows = number()?,
            "--seconds" => o.seconds = number()? as u64,
            "--rate" => o.rate = number()? as f64,
            "--size" => o.size = number()?.clamp(1, 60_000),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if o.secret.is_empty() || o.flows > o.allocations {
        return Err("needs --secret, and --flows at most --allocations".to_owned());
    }
    Ok(o)
}

/// Shared-secret credentials for `name` that stay the same username for a day, so
/// the relay counts every request of one name as one user.
fn credentials(secret: &str, name: &str) -> Credentials {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 86_400;
    let username = format!("{expiry}:{name}");
    let password = turn::rest_password(secret, &username);
    Credentials::User { username, password }
}

/// The `n`th address of the loopback block `127.B.x.y` (y from 1 to 250).
fn address(block: u8, n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, block, (n / 250) as u8, (n % 250 + 1) as u8)
}

/// One Allocate from a fresh socket on `ip`: the client, or the refusal; and how long
/// it took.
fn allocate(o: &Options, ip: Ipv4Addr, name: &str) -> (Result<Client, String>, Duration) {
    let start = Instant::now();
    let result = UdpSocket::bind((ip, 0))
        .map_err(|e| format!("binding {ip}: {e}"))
        .and_then(|socket| {
            Client::allocate(socket, o.relay, credentials(&o.secret, name), None, TIMEOUT)
                .map_err(|e| e.to_string())
        });
    (result, start.elapsed())
}

/// The STUN error code in a refusal message ("… refused Allocate: 486 …").
fn code(refusal: &str) -> Option<u16> {
    refusal
        .split(": ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Allocates until refused (at most `cap` times): how many it got, and the refusal.
fn until_refused(
    o: &Options,
    cap: usize,
    mut where_who: impl FnMut(usize) -> (Ipv4Addr, String),
) -> (Vec<Client>, Value) {
    let mut held = Vec::new();
    for n in 0..cap {
        let (ip, name) = where_who(n);
        match allocate(o, ip, &name).0 {
            Ok(client) => held.push(client),
            Err(why) => {
                let limit = json!({"allowed": held.len(), "code": code(&why), "refusal": why});
                return (held, limit);
            }
        }
    }
    let limit = json!({"allowed": held.len(), "code": null, "refusal": "none"});
    (held, limit)
}

fn release(clients: &mut [Client]) {
    for c in clients {
        let _ = c.release();
    }
}

/// p50, p99 and max of durations, in milliseconds.
fn percentiles(times: &mut [Duration]) -> Value {
    times.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    let at = |p: f64| times.get(((times.len().max(1) - 1) as f64 * p).round() as usize);
    json!({
        "n": times.len(),
        "p50_ms": at(0.5).map(|d| ms(*d)),
        "p99_ms": at(0.99).map(|d| ms(*d)),
        "max_ms": times.last().map(|d| ms(*d)),
    })
}

/// One relayed flow: the allocation, its peer, and which way the data goes.
struct Flow {
    client: Client,
    peer: UdpSocket,
    peer_addr: SocketAddr,
    upstream: bool,
    /// Bytes it was due to send so far (sent or dropped at a full socket).
    offered: f64,
    sent: u64,
    received: u64,
}

impl Flow {
    fn new(mut client: Client) -> Result<Flow, String> {
        let peer = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let peer_addr = peer.local_addr().map_err(|e| e.to_string())?;
        client.bind_channel(peer_addr).map_err(|e| e.to_string())?;
        peer.set_nonblocking(true).map_err(|e| e.to_string())?;
        client
            .socket()
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        Ok(Flow {
            client,
            peer,
            peer_addr,
            upstream: false,
            offered: 0.0,
            sent: 0,
            received: 0,
        })
    }

    fn send(&mut self, data: &[u8]) {
        let ok = if self.upstream {
            self.client.send_to(data, self.peer_addr).is_ok()
        } else {
            self.peer.send_to(data, self.client.relayed()).is_ok()
        };
        if ok {
            self.sent += data.len() as u64;
        }
    }

    fn drain(&mut self, buf: &mut [u8]) {
        loop {
            if self.upstream {
                match self.peer.recv_from(buf) {
                    Ok((n, _)) => self.received += n as u64,
                    Err(_) => return,
                }
            } else {
                match self.client.socket().recv_from(buf) {
                    Ok((n, from)) if from == self.client.server() => {
                        if let Some((_, data)) = turn::decode_channel_data(&buf[..n]) {
                            self.received += data.len() as u64;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }
    }
}

/// Drives `flows` for `run`, each offered `rate` bytes a second; returns them with
/// their counts.
fn drive(mut flows: Vec<Flow>, rate: f64, size: usize, run: Duration) -> Vec<Flow> {
    let payload = vec![0x5a; size];
    let mut buf = vec![0; 65536];
    let start = Instant::now();
    while start.elapsed() < run {
        let target = rate * start.elapsed().as_secs_f64();
        for f in &mut flows {
            // A flow that fell a second behind (its socket full) skips ahead.
            f.offered = f.offered.max(target - rate);
            while f.offered + size as f64 <= target {
                f.send(&payload);
                f.offered += size as f64;
            }
            f.drain(&mut buf);
        }
        std::thread::sleep(TICK);
    }
    // What is still in flight arrives within a moment.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(300) {
        for f in &mut flows {
            f.drain(&mut buf);
        }
        std::thread::sleep(TICK);
    }
    flows
}

/// Phase 1: `--allocations` allocations, 25 per address, each timed.
fn fill(o: &Options) -> (Vec<Client>, Value) {
    let mut held = Vec::with_capacity(o.allocations);
    let mut times = Vec::with_capacity(o.allocations);
    let mut failed = Vec::new();
    let start = Instant::now();
    for i in 0..o.allocations {
        let ip = Ipv4Addr::new(
            127,
            20,
            (i / PER_ADDRESS) as u8,
            (i % PER_ADDRESS + 1) as u8,
        );
        let (result, took) = allocate(o, ip, &format!("c{i}"));
        times.push(took);
        match result {
            Ok(c) => held.push(c),
            Err(e) => failed.push(e),
        }
    }
    let report = json!({
        "held": held.len(),
        "failed": failed.len(),
        "first_failure": failed.first(),
        "seconds": (start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "times": percentiles(&mut times),
    });
    (held, report)
}

/// A fresh allocation from a fresh address every 50 ms until `stop` (or `until`), each
/// timed and released: the times, and the refusals. `block` picks the addresses.
fn probe(
    o: &Options,
    block: u8,
    stop: &AtomicBool,
    until: Option<Instant>,
) -> (Vec<Duration>, Vec<String>) {
    let mut times = Vec::new();
    let mut failed = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && until.is_none_or(|u| Instant::now() < u) {
        let (result, took) = allocate(o, address(block, n), &format!("probe{block}.{n}"));
        match result {
            Ok(mut c) => {
                times.push(took);
                let _ = c.release();
            }
            Err(e) => failed.push(e),
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    (times, failed)
}

/// Phase 3: the first `--flows` allocations relay for `--seconds` on `WORKERS`
/// threads while [`probe`] times fresh allocations.
fn flows(o: &Options, clients: Vec<Client>) -> (Vec<Flow>, Vec<String>, Value) {
    let mut flows = Vec::new();
    let mut errors = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        match Flow::new(client) {
            Ok(mut f) => {
                f.upstream = i % 2 == 0;
                flows.push(f);
            }
            Err(e) => errors.push(e),
        }
    }
    let run = Duration::from_secs(o.seconds);
    let stop = AtomicBool::new(false);
    // The same probing for 3 s before the flows start: the baseline on this machine.
    let (mut idle, _) = probe(o, 26, &stop, Some(Instant::now() + Duration::from_secs(3)));
    let (flows, (mut times, failed)) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| probe(o, 24, &stop, None));
        let per_worker = flows.len().div_ceil(WORKERS).max(1);
        let mut workers = Vec::new();
        while !flows.is_empty() {
            let mine: Vec<Flow> = flows.drain(..per_worker.min(flows.len())).collect();
            workers.push(scope.spawn(move || drive(mine, o.rate, o.size, run)));
        }
        let done: Vec<Flow> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a flow worker"))
            .collect();
        stop.store(true, Ordering::Relaxed);
        (done, prober.join().expect("the prober"))
    });
    let loaded = json!({
        "times": percentiles(&mut times),
        "idle_times": percentiles(&mut idle),
        "failed": failed.len(),
        "first_failure": failed.first(),
    });
    (flows, errors, loaded)
}

/// Throughput per flow, in KB/s, and the totals.
fn throughput(o: &Options, flows: &[Flow], errors: &[String]) -> Value {
    let secs = o.seconds as f64;
    let mut kbps: Vec<f64> = flows
        .iter()
        .map(|f| f.received as f64 / secs / 1000.0)
        .collect();
    kbps.sort_by(f64::total_cmp);
    let sent: u64 = flows.iter().map(|f| f.sent).sum();
    let received: u64 = flows.iter().map(|f| f.received).sum();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    json!({
        "n": flows.len(),
        "errors": errors.len(),
        "first_error": errors.first(),
        "seconds": secs,
        "offered_kbps_each": round(o.rate / 1000.0),
        "kbps_min": kbps.first().copied().map(round),
        "kbps_median": kbps.get(kbps.len() / 2).copied().map(round),
        "kbps_max": kbps.last().copied().map(round),
        "starved": kbps.iter().filter(|&&k| k < o.rate / 1000.0 / 10.0).count(),
        "sent_mb": round(sent as f64 / 1e6),
        "delivered_mb": round(received as f64 / 1e6),
    })
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("relay_load: {e}");
            std::process::exit(2);
        }
    };
    let (mut held, filled) = fill(&o);
    // 2. Per-IP and per-user limits while full.
    let (mut ip_held, per_ip) = until_refused(&o, 1000, |n| (address(22, 0), format!("ip{n}")));
    release(&mut ip_held);
    let (mut user_held, per_user) =
        until_refused(&o, 1000, |n| (address(23, n), "same".to_owned()));
    release(&mut user_held);
    let mut rest = held.split_off(o.flows.min(held.len()));
    let (mut flows, errors, loaded) = flows(&o, held);
    // 4. The total limit.
    let (mut total_held, total) = until_refused(&o, 100_000, |n| {
        (address(25, n / PER_ADDRESS), format!("t{n}"))
    });
    release(&mut total_held);
    let report = json!({
        "allocations": filled,
        "limits": {"per_ip": per_ip, "per_user": per_user, "total": total},
        "loaded_allocate": loaded,
        "flows": throughput(&o, &flows, &errors),
    });
    println!("{report}");
    for f in &mut flows {
        let _ = f.client.socket().set_nonblocking(false);
        let _ = f.client.release();
    }
    release(&mut rest);
}
