//! The server loop: UDP worker threads on `SO_REUSEPORT` sockets bound to one port
//! (the kernel spreads queries over them), and a TCP listener on the same port with a
//! thread per connection. Every thread answers from the current zone snapshot, which
//! the control loop swaps in with [`Shared::publish`].
//!
//! TCP holds at most [`MAX_TCP`] connections; a new one sheds the oldest when all are
//! held. A connection waits at most [`TCP_IDLE`] for a query to start, and a whole
//! query must arrive within [`TCP_MESSAGE`] of its first byte, so a client trickling
//! bytes (slowloris) holds a slot for seconds, not for ever.
//!
//! Every UDP answer passes the [`Limits`]: the rate per source prefix (answers over
//! it dropped or slipped as empty truncated replies) and the size bound for sources
//! not verified by a TCP connection.

use crate::stats::{Counters, Shard};
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use p2p_shared::budget::{Slots, connection_cap};
use p2p_shared::discovery::dns_server::fast::FastPath;
use p2p_shared::discovery::dns_server::limit::{self, Limits, Verdict};
use p2p_shared::discovery::dns_server::respond::{self, Reply, Transport};
use p2p_shared::discovery::dns_server::zone::Zone;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Descriptors kept free below `ulimit -n` for the UDP sockets and the rest.
const RESERVED_FDS: usize = 32;

/// Most TCP connections served at once; a new one sheds the oldest.
const MAX_TCP: usize = 128;
/// Socket buffer size asked for each UDP socket, so a burst of queries waits in the
/// kernel rather than being dropped (the kernel caps it at `net.core.rmem_max`).
const UDP_BUFFER: usize = 4 << 20;
/// Datagrams received, and answers sent, per system call.
const BATCH: usize = 32;
/// Room for one UDP request (queries are far smaller; longer ones are dropped).
const REQUEST_MAX: usize = 4096;
/// A TCP connection idle this long is closed (RFC 7766 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The longest one query may take to arrive over TCP, from its first byte.
const TCP_MESSAGE: Duration = Duration::from_secs(3);
/// How long a UDP worker waits for a query before looking for a new zone, so an
/// idle thread does not keep an old snapshot alive.
const UDP_WAKE: Duration = Duration::from_secs(1);

/// The zone snapshot every thread answers from.
pub struct Shared {
    zone: RwLock<Arc<Zone>>,
    generation: AtomicU64,
}

impl Shared {
    /// Starts with `zone`.
    pub fn new(zone: Zone) -> Arc<Self> {
        Arc::new(Shared {
            zone: RwLock::new(Arc::new(zone)),
            generation: AtomicU64::new(0),
        })
    }

    /// Makes `zone` the one answered from.
    pub fn publish(&self, zone: Zone) {
        let mut slot = self.zone.write().unwrap_or_else(PoisonError::into_inner);
        *slot = Arc::new(zone);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The current zone.
    pub fn current(&self) -> Arc<Zone> {
        Arc::clone(&self.zone.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A thread's view of the zone, refreshed only when a new one was published (one
/// atomic load per batch), with the thread's cache of answers from it.
struct View {
    shared: Arc<Shared>,
    seen: u64,
    fast: FastPath,
}

impl View {
    fn new(shared: Arc<Shared>) -> Self {
        let seen = shared.generation.load(Ordering::Acquire);
        let fast = FastPath::new(shared.current());
        View { shared, seen, fast }
    }

    /// The current zone and its cache (a new snapshot comes with an empty cache).
    fn fast(&mut self) -> &mut FastPath {
        let now = self.shared.generation.load(Ordering::Acquire);
        if now != self.seen {
            self.seen = now;
            self.fast = FastPath::new(self.shared.current());
        }
        &mut self.fast
    }
}

/// The bound sockets, before their threads start.
pub struct Sockets {
    /// The address really bound (the port filled in when 0 was asked for).
    pub addr: SocketAddr,
    udp: Vec<UdpSocket>,
    tcp: TcpListener,
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    // Best effort: a smaller buffer only means drops under bursts.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.set_read_timeout(Some(UDP_WAKE))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

/// Binds `threads` UDP sockets and one TCP listener to `addr`. With port 0, picks a
/// port free for both (trying a few times, as UDP and TCP ports are separate).
pub fn bind(addr: SocketAddr, threads: usize) -> io::Result<Sockets> {
    let mut last = None;
    for _ in 0..20 {
        let first = udp_socket(addr)?;
        let bound = first.local_addr()?;
        let tcp = match tcp_listener(bound) {
            Ok(tcp) => tcp,
            Err(e) if e.kind() == ErrorKind::AddrInUse && addr.port() == 0 => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut udp = vec![first];
        for _ in 1..threads.max(1) {
            udp.push(udp_socket(bound)?);
        }
        return Ok(Sockets {
            addr: bound,
            udp,
            tcp,
        });
    }
    Err(last.unwrap_or_else(|| io::Error::from(ErrorKind::AddrInUse)))
}

/// Starts the UDP workers and the TCP listener; they run until the process ends.
pub fn start(sockets: Sockets, shared: &Arc<Shared>, counters: &Counters, limits: &Arc<Limits>) {
    for (i, socket) in sockets.udp.into_iter().enumerate() {
        let view = View::new(Arc::clone(shared));
        let counters = counters.shard();
        let limits = Arc::clone(limits);
        std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || udp_worker(&socket, view, &counters, &limits))
            .expect("spawning a UDP worker");
    }
    let shared = Arc::clone(shared);
    let counters = counters.shard();
    let limits = Arc::clone(limits);
    std::thread::Builder::new()
        .name("tcp".into())
        .spawn(move || tcp_acceptor(&sockets.tcp, &shared, &counters, &limits))
        .expect("spawning the TCP listener");
}

/// The IP address of a datagram's sender.
fn source_ip(from: &SockaddrStorage) -> Option<IpAddr> {
    from.as_sockaddr_in()
        .map(|a| IpAddr::V4(a.ip()))
        .or_else(|| from.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
}

fn count(counters: &Shard, reply: Option<&Reply>, transport: Transport) {
    counters.record(reply.map(|r| (r.qtype, r.rcode, r.truncated)), transport);
}

/// Receives up to [`BATCH`] datagrams with one `recvmmsg` (waiting only for the
/// first), answers them all, and sends the answers with one `sendmmsg`: two system
/// calls per batch rather than two per query.
fn udp_worker(socket: &UdpSocket, mut view: View, counters: &Shard, limits: &Limits) {
    let fd = socket.as_raw_fd();
    let mut bufs = vec![[0u8; REQUEST_MAX]; BATCH];
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    // Per datagram of the batch: its length and sender, or None to drop it.
    let mut got: Vec<Option<(usize, SockaddrStorage)>> = Vec::with_capacity(BATCH);
    // Answer buffers, reused from batch to batch; the first `ready` are this batch's.
    let mut replies: Vec<Vec<u8>> = (0..BATCH)
        .map(|_| Vec::with_capacity(usize::from(respond::MAX_UDP)))
        .collect();
    let mut to: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
    loop {
        got.clear();
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
                bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            match recvmmsg(
                fd,
                &mut recv_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(received) => got.extend(received.map(|m| {
                    // A datagram longer than the buffer would be answered from
                    // its first part only; no DNS query is that long.
                    let whole = !m.flags.contains(MsgFlags::MSG_TRUNC);
                    m.address.filter(|_| whole).map(|from| (m.bytes, from))
                })),
                // Interrupted, an ICMP error from an earlier send, or no query
                // for a while: let go of an old zone, and go on.
                Err(_) => {
                    view.fast();
                    continue;
                }
            }
        }
        to.clear();
        let now = Instant::now();
        let fast = view.fast();
        for (buf, datagram) in bufs.iter().zip(&got) {
            let Some((source, (n, from))) =
                datagram.as_ref().and_then(|d| Some((source_ip(&d.1)?, d)))
            else {
                counters.record(None, Transport::Udp);
                continue;
            };
            let request = &buf[..*n];
            let out = &mut replies[to.len()];
            match limits.admit(source, now) {
                Verdict::Answer => {}
                Verdict::Slip => {
                    counters.limited(true);
                    if limit::truncated(request, out) {
                        to.push(Some(*from));
                    }
                    continue;
                }
                Verdict::Drop => {
                    counters.limited(false);
                    continue;
                }
            }
            let answered = if let Some(a) = fast.answer(request, out) {
                Some((a.qtype, a.rcode, a.truncated))
            } else {
                let reply = respond::answer(fast.zone(), request, Transport::Udp);
                match reply {
                    Some(reply) => {
                        *out = reply.bytes;
                        Some((reply.qtype, reply.rcode, reply.truncated))
                    }
                    None => {
                        out.clear();
                        None
                    }
                }
            };
            let answered = answered.map(|(qtype, rcode, truncated)| {
                // Too large for a source not verified: truncated, to be asked over TCP.
                let cut =
                    limits.too_large(source, *n, out.len(), now) && limit::truncated(request, out);
                (qtype, rcode, truncated || cut)
            });
            if let Some((qtype, rcode, truncated)) = answered {
                narrate_query("udp", from, qtype, rcode, truncated, out.len());
            }
            counters.record(answered, Transport::Udp);
            if !out.is_empty() {
                to.push(Some(*from));
            }
        }
        send_all(fd, &mut send_headers, &replies[..to.len()], &to);
    }
}

/// Tells one answered query under `-vv`.
fn narrate_query(
    scheme: &str,
    from: &dyn std::fmt::Display,
    qtype: Option<hickory_proto::rr::RecordType>,
    rcode: hickory_proto::op::ResponseCode,
    truncated: bool,
    bytes: usize,
) {
    p2p_shared::narrate_packet!(
        "{scheme}://{from} asked {}: answered {rcode}, {bytes} bytes{}",
        qtype.map_or_else(|| "?".to_owned(), |t| t.to_string()),
        if truncated { ", truncated" } else { "" }
    );
}

/// Sends each of `replies` to its address in `to`, as few `sendmmsg` calls as the
/// kernel allows; a reply the kernel refuses is skipped (a client that went away is
/// not the server's problem).
fn send_all(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    replies: &[Vec<u8>],
    to: &[Option<SockaddrStorage>],
) {
    let iovs: Vec<[IoSlice<'_>; 1]> = replies.iter().map(|r| [IoSlice::new(r)]).collect();
    let mut next = 0;
    while next < iovs.len() {
        let no_control: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            &iovs[next..],
            &to[next..],
            no_control,
            MsgFlags::empty(),
        ) {
            // At least one goes out unless the first fails, which is skipped.
            Ok(sent) => next += sent.count().max(1),
            Err(Errno::EINTR) => {}
            Err(_) => next += 1,
        }
    }
}

fn tcp_acceptor(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    counters: &Arc<Shard>,
    limits: &Limits,
) {
    let slots = Slots::new(connection_cap(MAX_TCP, RESERVED_FDS));
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of descriptors, most likely: make room and pause.
            slots.shed_oldest();
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        // The handshake proved the address: it may get large answers over UDP.
        if let Ok(peer) = stream.peer_addr() {
            limits.verify(peer.ip(), Instant::now());
        }
        let (slot, _) = slots.take(move || {
            let _ = handle.shutdown(std::net::Shutdown::Both);
        });
        let view = View::new(Arc::clone(shared));
        let counters = Arc::clone(counters);
        // Out of threads: the connection is dropped with the closure, and its slot.
        let _ = std::thread::Builder::new()
            .name("tcp-conn".into())
            .spawn(move || {
                let _ = tcp_connection(stream, view, &counters);
                drop(slot);
            });
    }
}

/// Reads exactly `buf.len()` bytes by `deadline`.
fn read_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "query too slow"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[at..])? {
            0 => return Err(ErrorKind::UnexpectedEof.into()),
            n => at += n,
        }
    }
    Ok(())
}

/// Serves queries on one TCP connection until the client closes it, goes idle, or
/// sends something that gets no answer.
fn tcp_connection(mut stream: TcpStream, mut view: View, counters: &Shard) -> io::Result<()> {
    stream.set_write_timeout(Some(TCP_IDLE))?;
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let mut len = [0u8; 2];
        stream.set_read_timeout(Some(TCP_IDLE))?;
        if stream.read(&mut len[..1])? == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + TCP_MESSAGE;
        read_by(&mut stream, &mut len[1..], deadline)?;
        let len = usize::from(u16::from_be_bytes(len));
        read_by(&mut stream, &mut buf[..len], deadline)?;
        let reply = respond::answer(view.fast().zone(), &buf[..len], Transport::Tcp);
        if let (Some(r), Ok(from)) = (&reply, stream.peer_addr()) {
            narrate_query("tcp", &from, r.qtype, r.rcode, r.truncated, r.bytes.len());
        }
        count(counters, reply.as_ref(), Transport::Tcp);
        let Some(reply) = reply.filter(|r| !r.bytes.is_empty()) else {
            return Ok(());
        };
        let Ok(n) = u16::try_from(reply.bytes.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(reply.bytes.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&reply.bytes);
        stream.write_all(&framed)?;
    }
}
