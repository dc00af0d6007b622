//! `p2p-discover tracker`: a BitTorrent tracker for small swarms, CI and LANs, over
//! HTTP (BEP 3/23/7) and UDP (BEP 15) on the same port number.
//!
//! Peers are kept per infohash until they re-announce or expire (two intervals);
//! responses are capped at `--max-peers`, and each source address gets at most
//! `--rate` announces a minute. An announce with port 0 asks for peers without
//! joining. Signed peer records sent along (`p2p=`) are handed out with their peers.
//! What the state may hold is bounded in [`crate::tracker_state`].
//!
//! At most `--max-connections` HTTP connections are held at once (and always some
//! descriptors below `ulimit -n`); a new one sheds the oldest when all are taken, and
//! each lasts at most 10 s. An accept error (out of descriptors) is never fatal: the
//! oldest connection is shed and accepting backs off, up to a second.

use crate::tracker_state::{FULL_SCRAPE_COST, Limits, RATE_LIMITED, State};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use p2p_shared::addr::Addr;
use p2p_shared::budget::{Slots, connection_cap};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::tracker::{
    self, Announce, Id20, UdpRequest, parse_query, parse_udp_request,
};
use p2p_shared::ndjson::records::Listening;
use p2p_shared::{Context, Result, Status, cli::shutdown, diag, narrate_packet};
use smol::net::{TcpListener, TcpStream, UdpSocket};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Descriptors kept free below `ulimit -n` for the listening sockets and the rest.
const RESERVED_FDS: usize = 32;
/// The longest one HTTP connection is held.
const HTTP_DEADLINE: Duration = Duration::from_secs(10);
/// The longest pause in accepting after an accept error.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the tracker until SIGINT or SIGTERM.
pub fn run(
    bind: SocketAddr,
    limits: Limits,
    stats_every: Option<Duration>,
    ctx: &Ctx,
) -> Result<Status> {
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
        let sweeper = smol::spawn(sweep(Arc::clone(&state), limits.interval));
        let stats = stats_every.map(|every| {
            let (state, out) = (Arc::clone(&state), ctx.out.clone());
            smol::spawn(async move {
                loop {
                    smol::Timer::after(every).await;
                    let record = lock(&state).stats(Instant::now());
                    if out.record(&record).is_err() {
                        return;
                    }
                }
            })
        });
        let slots = Slots::new(connection_cap(limits.max_connections, RESERVED_FDS));
        let http = accept_loop(&tcp, &slots, &state);
        let stopped = async {
            shutdown::signalled().await;
            Ok::<_, p2p_shared::Error>(())
        };
        // The signal handler first: it needs descriptors, which an attack may take.
        stopped.or(http).or(udp_task).await?;
        drop(sweeper);
        drop(stats);
        Ok(Status::Success)
    })
}

/// Accepts HTTP connections for ever: each in a slot of `slots`, which sheds the
/// oldest when full; an accept error sheds one too and backs off.
async fn accept_loop(tcp: &TcpListener, slots: &Slots, state: &Shared) -> Result<()> {
    let mut backoff = Duration::from_millis(10);
    let mut errors = 0u64;
    loop {
        while !slots.has_room() {
            smol::Timer::after(Duration::from_millis(1)).await;
        }
        let (stream, from) = match tcp.accept().await {
            Ok(accepted) => {
                lock(state).counts.http_connections += 1;
                backoff = Duration::from_millis(10);
                accepted
            }
            Err(e) => {
                errors += 1;
                if errors.is_power_of_two() {
                    diag::warn(format_args!(
                        "accepting a connection: {e} ({errors} errors so far; shedding the oldest and backing off)"
                    ));
                }
                slots.shed_oldest();
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let (closer, closed) = smol::channel::bounded::<()>(1);
        // Dropping the sender (when shed) wakes `closed` and ends the connection.
        let (slot, _) = slots.take(move || drop(closer));
        let state = Arc::clone(state);
        smol::spawn(async move {
            let _slot = slot;
            let answered = handle_http(stream, from, &state)
                .or(async {
                    smol::Timer::after(HTTP_DEADLINE).await;
                    Ok(())
                })
                .or(async {
                    let _ = closed.recv().await;
                    Ok(())
                })
                .await;
            if let Err(e) = answered {
                diag::warn(format_args!("http request from {from}: {e}"));
            }
        })
        .detach();
    }
}

/// Forgets expired peers and empty swarms every `interval`.
async fn sweep(state: Shared, interval: Duration) {
    loop {
        smol::Timer::after(interval).await;
        lock(&state).sweep(Instant::now());
    }
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
            Err(_) => {
                lock(&state).counts.refuse("bad_request");
                narrate_packet!("udp://{from}: {len} bytes that are no tracker request");
                continue;
            }
            Ok(UdpRequest::Connect { tx }) => {
                narrate_packet!("udp://{from}: connect");
                let mut s = lock(&state);
                s.counts.udp_connects += 1;
                tracker::udp_connect_reply(tx, s.connection_id(from.ip(), s.window(now)))
            }
            Ok(UdpRequest::Announce { conn, tx, announce }) => {
                narrate_packet!("udp://{from}: announce (port {})", announce.port);
                let mut s = lock(&state);
                if s.valid_connection(from, conn, now) {
                    match s.announce(from, &announce, now) {
                        Ok(reply) => tracker::udp_announce_reply(tx, &reply, from.is_ipv6()),
                        Err(why) => tracker::udp_error(tx, why),
                    }
                } else {
                    s.counts.refuse("unknown_connection");
                    tracker::udp_error(tx, "unknown connection id")
                }
            }
            Ok(UdpRequest::Scrape { conn, tx, hashes }) => {
                let mut s = lock(&state);
                s.counts.scrapes += 1;
                if s.valid_connection(from, conn, now) {
                    let counts: Vec<_> = hashes.iter().map(|h| s.scrape(h, now)).collect();
                    tracker::udp_scrape_reply(tx, &counts)
                } else {
                    s.counts.refuse("unknown_connection");
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
    narrate_packet!("tcp://{from}: {line}");
    let (status, body) = match target {
        None => (
            "405 Method Not Allowed",
            tracker::failure("only GET is supported"),
        ),
        Some(target) => {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            match (path, parse_query(query)) {
                (_, Err(e)) => {
                    lock(state).counts.refuse("bad_request");
                    ("400 Bad Request", tracker::failure(&e))
                }
                ("/announce", Ok(pairs)) => match Announce::from_query(&pairs) {
                    Ok(announce) => match lock(state).announce(from, &announce, Instant::now()) {
                        Ok(reply) => ("200 OK", reply.to_bencode()),
                        Err(why) => ("200 OK", tracker::failure(why)),
                    },
                    Err(e) => {
                        lock(state).counts.refuse("bad_request");
                        ("200 OK", tracker::failure(&e))
                    }
                },
                ("/scrape", Ok(pairs)) => ("200 OK", scrape_body(state, from, &pairs)),
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

/// The bencoded answer to a scrape: the swarms asked for, or up to
/// [`crate::tracker_state::FULL_SCRAPE`] of them without `info_hash` (which costs
/// [`FULL_SCRAPE_COST`] announces of the source's rate). The counts are taken under
/// the lock, the answer encoded outside it.
fn scrape_body(state: &Shared, from: SocketAddr, pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    use p2p_shared::codec::bencode::{Value, dict};
    let now = Instant::now();
    let counts: Vec<(Id20, (u32, u32, u32))> = {
        let mut s = lock(state);
        s.counts.scrapes += 1;
        if pairs.iter().any(|(k, _)| k == "info_hash") {
            pairs
                .iter()
                .filter(|(k, _)| k == "info_hash")
                .filter_map(|(_, v)| Id20::try_from(v.as_slice()).ok())
                .map(|hash| (hash, s.scrape(&hash, now)))
                .collect()
        } else if s.allow(from.ip(), FULL_SCRAPE_COST, now) {
            s.full_scrape(now)
        } else {
            s.counts.refuse(RATE_LIMITED);
            return tracker::failure(RATE_LIMITED);
        }
    };
    let files = counts
        .into_iter()
        .map(|(hash, (complete, downloaded, incomplete))| {
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
