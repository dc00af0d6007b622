//! `p2p-discover tracker`: a BitTorrent tracker for small swarms, CI and LANs, over
//! HTTP (BEP 3/23/7) and UDP (BEP 15) on the same port number.
//!
//! Peers are kept per infohash until they re-announce or expire (two intervals);
//! responses are capped at `--max-peers`, and each source address gets at most
//! `--rate` announces a minute. An announce with port 0 asks for peers without
//! joining. Signed peer records sent along (`p2p=`) are handed out with their peers.

use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::tracker::{
    self, Announce, Event, Id20, Reply, UdpRequest, parse_query, parse_udp_request,
};
use p2p_shared::ndjson::records::Listening;
use p2p_shared::{Context, Result, Status, cli::shutdown, diag};
use smol::net::{TcpListener, TcpStream, UdpSocket};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Limits and timing of the tracker.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How often peers should re-announce.
    pub interval: Duration,
    /// Most peers in one response.
    pub max_peers: usize,
    /// Most announces per source address per minute.
    pub rate: u32,
}

struct Entry {
    addr: SocketAddr,
    left: u64,
    record: Option<String>,
    expires: Instant,
}

struct State {
    limits: Limits,
    swarms: HashMap<Id20, HashMap<Id20, Entry>>,
    rate: HashMap<IpAddr, (Instant, u32)>,
    keys: std::hash::RandomState,
    started: Instant,
}

/// Why an announce was refused.
const RATE_LIMITED: &str = "rate limited: too many announces from this address";

impl State {
    fn new(limits: Limits) -> State {
        State {
            limits,
            swarms: HashMap::new(),
            rate: HashMap::new(),
            keys: std::hash::RandomState::new(),
            started: Instant::now(),
        }
    }

    fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let window = self.rate.entry(ip).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_mins(1) {
            *window = (now, 0);
        }
        window.1 += 1;
        window.1 <= self.limits.rate
    }

    fn announce(
        &mut self,
        from: SocketAddr,
        a: &Announce,
        now: Instant,
    ) -> Result<Reply, &'static str> {
        if !self.allow(from.ip(), now) {
            return Err(RATE_LIMITED);
        }
        let interval = self.limits.interval;
        let swarm = self.swarms.entry(a.info_hash).or_default();
        swarm.retain(|_, e| e.expires > now);
        if a.event == Event::Stopped {
            swarm.remove(&a.peer_id);
        } else if a.port != 0 {
            swarm.insert(
                a.peer_id,
                Entry {
                    addr: SocketAddr::new(from.ip(), a.port),
                    left: a.left,
                    record: a.record.clone(),
                    expires: now + interval * 2,
                },
            );
        }
        let want = (a.numwant as usize).min(self.limits.max_peers);
        let others: Vec<&Entry> = swarm
            .iter()
            .filter(|(id, _)| **id != a.peer_id)
            .map(|(_, e)| e)
            .collect();
        let start = if others.is_empty() {
            0
        } else {
            usize::try_from(
                self.keys.hash_one(now.duration_since(self.started)) % others.len() as u64,
            )
            .unwrap_or(0)
        };
        let chosen: Vec<&Entry> = others
            .iter()
            .cycle()
            .skip(start)
            .take(want.min(others.len()))
            .copied()
            .collect();
        let complete = swarm.values().filter(|e| e.left == 0).count();
        Ok(Reply {
            interval: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
            complete: u32::try_from(complete).unwrap_or(u32::MAX),
            incomplete: u32::try_from(swarm.len() - complete).unwrap_or(u32::MAX),
            peers: chosen.iter().map(|e| e.addr).collect(),
            records: chosen.iter().filter_map(|e| e.record.clone()).collect(),
        })
    }

    /// (seeders, completed, leechers) of a swarm.
    fn scrape(&mut self, hash: &Id20, now: Instant) -> (u32, u32, u32) {
        let Some(swarm) = self.swarms.get_mut(hash) else {
            return (0, 0, 0);
        };
        swarm.retain(|_, e| e.expires > now);
        let seeders = swarm.values().filter(|e| e.left == 0).count();
        let total = swarm.len();
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        (n(seeders), 0, n(total - seeders))
    }

    /// A connection id bound to the source's IP address and the current two-minute
    /// window (BEP 15), so spoofed sources cannot announce. Not to its port: a
    /// client may reuse one id from several sockets (libtorrent keeps one per
    /// tracker for the whole process, shared by all its sessions and listen ports).
    fn connection_id(&self, from: IpAddr, window: u64) -> u64 {
        self.keys.hash_one((from, window))
    }

    fn window(&self, now: Instant) -> u64 {
        now.duration_since(self.started).as_secs() / 120
    }

    fn valid_connection(&self, from: SocketAddr, conn: u64, now: Instant) -> bool {
        let window = self.window(now);
        conn == self.connection_id(from.ip(), window)
            || (window > 0 && conn == self.connection_id(from.ip(), window - 1))
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the tracker until SIGINT or SIGTERM.
pub fn run(bind: SocketAddr, limits: Limits, ctx: &Ctx) -> Result<Status> {
    smol::block_on(async {
        let (tcp, udp) = bind_both(bind).await?;
        let local = tcp.local_addr()?;
        ctx.out.record(
            &Listening::new(Addr::tcp(local), [Addr::udp(local)])
                .with("announce_http", format!("http://{local}/announce"))
                .with("announce_udp", Addr::udp(local)),
        )?;
        ctx.note(format_args!(
            "tracker on http://{local}/announce and udp://{local}"
        ));
        let state: Shared = Arc::new(Mutex::new(State::new(limits)));
        let udp_task = smol::spawn(serve_udp(udp, Arc::clone(&state)));
        let http = async {
            loop {
                let (stream, from) = tcp.accept().await?;
                let state = Arc::clone(&state);
                smol::spawn(async move {
                    let answered = handle_http(stream, from, &state)
                        .or(async {
                            smol::Timer::after(Duration::from_secs(10)).await;
                            Ok(())
                        })
                        .await;
                    if let Err(e) = answered {
                        diag::warn(format_args!("http request from {from}: {e}"));
                    }
                })
                .detach();
            }
        };
        let stopped = async {
            shutdown::signalled().await;
            Ok::<_, p2p_shared::Error>(())
        };
        http.or(udp_task).or(stopped).await?;
        Ok(Status::Success)
    })
}

/// Binds TCP and UDP on the same port (the first free one when `bind` says 0).
async fn bind_both(bind: SocketAddr) -> Result<(TcpListener, UdpSocket)> {
    let mut last = None;
    for _ in 0..20 {
        let tcp = TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding tcp {bind}"))?;
        let port = tcp.local_addr()?.port();
        match UdpSocket::bind(SocketAddr::new(bind.ip(), port)).await {
            Ok(udp) => return Ok((tcp, udp)),
            Err(e) if bind.port() == 0 => last = Some(e),
            Err(e) => return Err(p2p_shared::Error::from(e).context(format!("binding udp {bind}"))),
        }
    }
    Err(p2p_shared::Error::failure(format!(
        "no port free for both tcp and udp: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

async fn serve_udp(socket: UdpSocket, state: Shared) -> Result<()> {
    let mut buf = [0u8; 2048];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let now = Instant::now();
        let reply = match parse_udp_request(&buf[..len]) {
            Err(_) => continue,
            Ok(UdpRequest::Connect { tx }) => {
                let s = lock(&state);
                tracker::udp_connect_reply(tx, s.connection_id(from.ip(), s.window(now)))
            }
            Ok(UdpRequest::Announce { conn, tx, announce }) => {
                let mut s = lock(&state);
                if s.valid_connection(from, conn, now) {
                    match s.announce(from, &announce, now) {
                        Ok(reply) => tracker::udp_announce_reply(tx, &reply, from.is_ipv6()),
                        Err(why) => tracker::udp_error(tx, why),
                    }
                } else {
                    tracker::udp_error(tx, "unknown connection id")
                }
            }
            Ok(UdpRequest::Scrape { conn, tx, hashes }) => {
                let mut s = lock(&state);
                if s.valid_connection(from, conn, now) {
                    let counts: Vec<_> = hashes.iter().map(|h| s.scrape(h, now)).collect();
                    tracker::udp_scrape_reply(tx, &counts)
                } else {
                    tracker::udp_error(tx, "unknown connection id")
                }
            }
        };
        // A lost reply is the client's to retry, as with any UDP tracker.
        let _ = socket.send_to(&reply, from).await;
    }
}

async fn handle_http(mut stream: TcpStream, from: SocketAddr, state: &Shared) -> Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || request.len() > 8192 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let target = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next());
    let (status, body) = match target {
        None => (
            "405 Method Not Allowed",
            tracker::failure("only GET is supported"),
        ),
        Some(target) => {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            match (path, parse_query(query)) {
                (_, Err(e)) => ("400 Bad Request", tracker::failure(&e)),
                ("/announce", Ok(pairs)) => match Announce::from_query(&pairs) {
                    Ok(announce) => match lock(state).announce(from, &announce, Instant::now()) {
                        Ok(reply) => ("200 OK", reply.to_bencode()),
                        Err(why) => ("200 OK", tracker::failure(why)),
                    },
                    Err(e) => ("200 OK", tracker::failure(&e)),
                },
                ("/scrape", Ok(pairs)) => ("200 OK", scrape_body(state, &pairs)),
                _ => (
                    "404 Not Found",
                    tracker::failure("try /announce or /scrape"),
                ),
            }
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await?;
    Ok(())
}

fn scrape_body(state: &Shared, pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    use p2p_shared::codec::bencode::{Value, dict};
    let now = Instant::now();
    let mut s = lock(state);
    let hashes: Vec<Id20> = if pairs.iter().any(|(k, _)| k == "info_hash") {
        pairs
            .iter()
            .filter(|(k, _)| k == "info_hash")
            .filter_map(|(_, v)| v.as_slice().try_into().ok())
            .collect()
    } else {
        s.swarms.keys().copied().collect()
    };
    let files = hashes
        .iter()
        .map(|hash| {
            let (complete, downloaded, incomplete) = s.scrape(hash, now);
            let stats = dict([
                ("complete", Value::Int(complete.into())),
                ("downloaded", Value::Int(downloaded.into())),
                ("incomplete", Value::Int(incomplete.into())),
            ]);
            (hash.to_vec(), stats)
        })
        .collect();
    dict([("files", Value::Dict(files))]).encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            interval: Duration::from_secs(30),
            max_peers: 2,
            rate: 5,
        }
    }

    fn announce(peer: u8, port: u16) -> Announce {
        Announce {
            info_hash: [1; 20],
            peer_id: [peer; 20],
            port,
            numwant: 50,
            event: Event::Started,
            left: 0,
            record: None,
        }
    }

    #[test]
    fn peers_see_each_other_but_not_themselves_capped_at_max_peers() {
        let mut state = State::new(limits());
        let now = Instant::now();
        for peer in 1..=4 {
            let from: SocketAddr = format!("192.0.2.{peer}:999").parse().unwrap();
            state
                .announce(from, &announce(peer, 6000 + u16::from(peer)), now)
                .unwrap();
        }
        let reply = state
            .announce("192.0.2.1:999".parse().unwrap(), &announce(1, 6001), now)
            .unwrap();
        assert_eq!(reply.peers.len(), 2);
        assert!(!reply.peers.contains(&"192.0.2.1:6001".parse().unwrap()));
        assert_eq!((reply.complete, reply.incomplete), (4, 0));
    }

    #[test]
    fn expiry_stopped_and_port_zero() {
        let mut state = State::new(limits());
        let now = Instant::now();
        state
            .announce("192.0.2.1:1".parse().unwrap(), &announce(1, 7000), now)
            .unwrap();
        let query = announce(2, 0);
        let seen = state
            .announce("192.0.2.2:1".parse().unwrap(), &query, now)
            .unwrap();
        assert_eq!(seen.peers, vec!["192.0.2.1:7000".parse().unwrap()]);
        assert_eq!(
            state.scrape(&[1; 20], now),
            (1, 0, 0),
            "port 0 must not join"
        );
        let later = now + Duration::from_secs(61);
        let gone = state
            .announce("192.0.2.3:1".parse().unwrap(), &query, later)
            .unwrap();
        assert!(gone.peers.is_empty(), "expired peer still served");
        state
            .announce("192.0.2.1:1".parse().unwrap(), &announce(1, 7000), later)
            .unwrap();
        let mut stop = announce(1, 7000);
        stop.event = Event::Stopped;
        state
            .announce("192.0.2.1:1".parse().unwrap(), &stop, later)
            .unwrap();
        assert_eq!(state.scrape(&[1; 20], later), (0, 0, 0));
    }

    #[test]
    fn a_source_is_rate_limited() {
        let mut state = State::new(limits());
        let now = Instant::now();
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        for _ in 0..5 {
            state.announce(from, &announce(1, 1), now).unwrap();
        }
        assert_eq!(
            state.announce(from, &announce(1, 1), now),
            Err(RATE_LIMITED)
        );
        assert!(
            state
                .announce(from, &announce(1, 1), now + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn connection_ids_are_bound_to_the_source_address_not_its_port() {
        let state = State::new(limits());
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let a_again: SocketAddr = "192.0.2.1:2".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:1".parse().unwrap();
        let id = state.connection_id(a.ip(), state.window(now));
        assert!(state.valid_connection(a, id, now));
        assert!(
            state.valid_connection(a_again, id, now),
            "one client, another socket"
        );
        assert!(!state.valid_connection(b, id, now));
        let later = now + Duration::from_mins(4);
        assert!(!state.valid_connection(a, id, later), "ids expire");
    }
}
