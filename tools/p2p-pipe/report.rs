//! The path report: one line on stderr for the path that carries the stream and for
//! every change, and the same as NDJSON `event` records with `--events FILE`.
//!
//! ```text
//! {"type":"event","event":"path","id":ID,"path":"direct","technique":null,
//!  "local":"udp://…","remote":"udp://…","rtt_ms":0.3,"reason":"…"}
//! {"type":"event","event":"failed","path":"punched via udp://…","reason":"…"}   a path that did not work
//! {"type":"event","event":"listening","addr":"tcp://…"}   connect --local accepts here
//! {"type":"event","event":"closed","id":ID,"bytes_in":N,"bytes_out":N,"ok":true,
//!  "rtt_ms":0.3,"mtu":6500,"lost_packets":0,"reason":"…"}   mtu: the UDP payload size
//!  path MTU discovery reached
//! ```

use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::cli::figures;
use p2p_shared::connect::direct_path::Route;
use p2p_shared::connect::path::Via;
use p2p_shared::connect::turn_socket::TurnSocket;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::records;
use p2p_shared::{Context, Result, diag};
use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Bytes moved by a session, each way.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes sent to the peer (read from stdin or a TCP connection).
    pub sent: AtomicU64,
    /// Bytes received from the peer.
    pub received: AtomicU64,
}

impl Counters {
    /// (sent, received) so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

/// Where path reports go.
#[derive(Clone)]
pub struct Reporter {
    events: Option<Arc<Mutex<File>>>,
    quiet: bool,
}

fn udp(addr: SocketAddr) -> Addr {
    Addr::from_socket(Scheme::Udp, addr)
}

/// A round trip time in milliseconds with microsecond precision.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Reporter {
    /// A reporter writing events to `path` (created or truncated), if given.
    pub fn open(path: Option<&Path>, ctx: &Ctx) -> Result<Self> {
        let events = match path {
            Some(p) => Some(Arc::new(Mutex::new(
                File::create(p).with_context(|| format!("creating {}", p.display()))?,
            ))),
            None => None,
        };
        Ok(Reporter {
            events,
            quiet: ctx.quiet,
        })
    }

    fn event(&self, record: &Value) {
        if let Some(file) = &self.events {
            let mut line = record.to_string();
            line.push('\n');
            let mut file = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = file.write_all(line.as_bytes()) {
                diag::warn(format_args!("writing the events file: {e}"));
            }
        }
    }

    fn note(&self, message: std::fmt::Arguments<'_>) {
        if !self.quiet {
            diag::note(message);
        }
    }

    /// The stream now runs over this path.
    pub fn path(
        &self,
        peer: &PeerId,
        via: Via,
        conn: &quinn::Connection,
        local: SocketAddr,
        reason: &str,
    ) {
        self.path_at(peer, via, conn, (local, conn.remote_address()), reason);
    }

    /// The stream now runs over this path, between these (local, remote) addresses.
    pub fn path_at(
        &self,
        peer: &PeerId,
        via: Via,
        conn: &quinn::Connection,
        (local, remote): (SocketAddr, SocketAddr),
        reason: &str,
    ) {
        let local = concrete(local, conn, remote);
        let rtt = conn.rtt();
        self.note(format_args!(
            "path: {via} udp://{local} -> udp://{remote} to {peer}, rtt {:.2} ms ({reason})",
            millis(rtt)
        ));
        self.event(&records::event(
            "path",
            json!({
                "id": peer, "path": via.kind(), "technique": via.technique(),
                "local": udp(local), "remote": udp(remote), "rtt_ms": millis(rtt),
                "reason": reason,
            }),
        ));
    }

    /// `connect --local` accepts TCP connections on `addr`.
    pub fn forwarding(&self, addr: SocketAddr) {
        let addr = Addr::from_socket(Scheme::Tcp, addr);
        self.note(format_args!("forwarding {addr} to the peer"));
        self.event(&records::event("listening", json!({ "addr": addr })));
    }

    /// A path that was tried and did not work.
    pub fn failed(&self, what: &str, reason: &str) {
        self.note(format_args!("{what}: {reason}"));
        self.event(&records::event(
            "failed",
            json!({ "path": what, "reason": reason }),
        ));
    }

    /// The session ended.
    pub fn closed(
        &self,
        peer: &PeerId,
        counters: &Counters,
        conn: &quinn::Connection,
        ok: bool,
        reason: &str,
    ) {
        let (sent, received) = counters.get();
        self.note(format_args!(
            "closed: {sent} bytes sent, {received} received ({reason})"
        ));
        let stats = conn.stats();
        self.event(&records::event(
            "closed",
            json!({
                "id": peer, "bytes_out": sent, "bytes_in": received, "ok": ok,
                "rtt_ms": millis(conn.rtt()), "mtu": stats.path.current_mtu,
                "lost_packets": stats.path.lost_packets, "reason": reason,
            }),
        ));
    }
}

/// `local` with its address filled in when the socket is bound to a wildcard
/// (`0.0.0.0`, `::`): the address the peer's packets arrived at (a listener), else
/// the one the system sends from toward `remote`. Finding it sends nothing.
fn concrete(local: SocketAddr, conn: &quinn::Connection, remote: SocketAddr) -> SocketAddr {
    if !local.ip().is_unspecified() {
        return local;
    }
    conn.local_ip()
        .or_else(|| source_toward(remote))
        .map_or(local, |ip| SocketAddr::new(ip, local.port()))
}

/// The source address the routing table picks for packets to `remote` (a UDP
/// socket's connect sends no packet).
fn source_toward(remote: SocketAddr) -> Option<IpAddr> {
    let any: IpAddr = match remote {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0)).ok()?;
    socket.connect(remote).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// How often the path is checked for a change.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// (how, local, remote) as the stream's packets travel.
type Current = (Via, SocketAddr, SocketAddr);

/// What the path watch looks at, and what it last reported.
struct Look {
    reporter: Reporter,
    peer: PeerId,
    via: Via,
    conn: quinn::Connection,
    local: SocketAddr,
    turn: Option<Arc<TurnSocket>>,
    now: Mutex<Current>,
}

impl Look {
    /// The path the stream's packets take now.
    fn current(&self) -> Current {
        let remote = self.conn.remote_address();
        match self
            .turn
            .as_ref()
            .map(|t| (t.route(remote), t.socket_addr()))
        {
            Some((Route::Direct(to), Ok(own))) => (Via::Direct, own, to),
            // A direct path left: the packets reach the peer through the relay.
            Some((Route::Back(to), _)) => (Via::Relayed, self.local, to),
            _ => (self.via, self.local, remote),
        }
    }

    /// Reports the path if it changed since the last look.
    fn look(&self) {
        // Why a direct path was left, if it was since the last look.
        let left = self.turn.as_ref().and_then(|t| t.take_left());
        let next = self.current();
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if next == *now {
            return;
        }
        let reason = if next.0 == now.0 {
            format!(
                "the peer's address changed from udp://{} (migration)",
                now.2
            )
        } else if next.0 == Via::Relayed {
            left.unwrap_or_else(|| "the peer moved the stream back to the relay".to_owned())
        } else {
            "a direct path opened: the stream left the relay (QUIC migration)".to_owned()
        };
        self.reporter
            .path_at(&self.peer, next.0, &self.conn, (next.1, next.2), &reason);
        *now = next;
    }
}

/// A running path watch ([`watch`]).
pub struct PathWatch {
    look: Arc<Look>,
    task: smol::Task<()>,
}

impl PathWatch {
    /// Stops watching, after a last look (a change since the previous one is
    /// reported, so the report ends on the path the stream ended on).
    pub fn finish(self) {
        drop(self.task);
        self.look.look();
    }
}

/// Reports every change of path on `conn` (from `via`, `local` and the remote
/// address, as reported when the watch starts) until finished: the peer's address
/// changing (QUIC migrates a connection when the peer's NAT rebinds or the peer
/// moves), a relayed connection (on `turn`) moving to a direct path, and back to the
/// relay when the direct path goes silent.
pub fn watch(
    reporter: Reporter,
    peer: PeerId,
    via: Via,
    conn: quinn::Connection,
    local: SocketAddr,
    turn: Option<Arc<TurnSocket>>,
) -> PathWatch {
    // What the caller reported: the first look reports any change since.
    let reported = (via, local, conn.remote_address());
    let look = Arc::new(Look {
        reporter,
        peer,
        via,
        conn,
        local,
        turn,
        now: Mutex::new(reported),
    });
    let watching = look.clone();
    let task = smol::spawn(async move {
        loop {
            smol::Timer::after(WATCH_EVERY).await;
            if watching.conn.close_reason().is_some() {
                return;
            }
            watching.look();
        }
    });
    PathWatch { look, task }
}

/// A progress display of bytes each way (with `--progress`, on a terminal only),
/// updated until it is finished.
pub struct Progress {
    bar: indicatif::ProgressBar,
    ticker: Option<smol::Task<()>>,
}

impl Progress {
    /// Stops updating and clears the display.
    pub fn finish(mut self) {
        self.ticker.take();
        self.bar.finish_and_clear();
    }
}

/// Starts the progress display for `counters`.
pub fn progress(common: &crate::args::Common, ctx: &Ctx, counters: Arc<Counters>) -> Progress {
    let bar = p2p_shared::cli::progress::bytes(ctx.quiet || !common.progress, "sent");
    let ticker = (!bar.is_hidden()).then(|| {
        let bar = bar.clone();
        smol::spawn(async move {
            let start = std::time::Instant::now();
            loop {
                let (sent, received) = counters.get();
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                // Display figures: three significant digits are all a person reads.
                #[allow(clippy::cast_precision_loss)]
                let (sent, received) = (sent as f64, received as f64);
                bar.set_message(format!(
                    "sent {}, received {} ({})",
                    figures::bytes(sent),
                    figures::bytes(received),
                    figures::byte_rate((sent + received) / secs),
                ));
                smol::Timer::after(Duration::from_millis(200)).await;
            }
        })
    });
    Progress { bar, ticker }
}
