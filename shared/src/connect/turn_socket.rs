//! A TURN allocation as QUIC's UDP socket: quinn sends to peer addresses and the
//! packets go to the relay wrapped as ChannelData (when a channel is bound to the
//! peer) or Send indications; what the relay hands back (ChannelData, Data
//! indications) comes out as datagrams from the peers. The QUIC packets inside stay
//! end-to-end encrypted: the relay sees only ciphertext.
//!
//! The allocation's upkeep runs on a thread of its own that owns the
//! [`Client`]: it refreshes the allocation, permissions and channels in time, and
//! binds a channel to each new peer (the first packets to and from a peer travel as
//! indications). STUN responses the socket reads are passed to that thread. When the
//! socket is dropped, the thread releases the allocation.
//!
//! Batches: quinn hands over up to a GSO batch of packets at once; on a channel they
//! leave as ChannelData messages of one size in one `sendmsg` (GSO), and reads take
//! many datagrams per call (`recvmmsg`, GRO), through quinn-udp's socket state.
//!
//! The same UDP socket also carries a direct path to the peer once one is proven
//! ([`direct_path`](super::direct_path)): STUN checks to and from the peer's
//! candidates, and then the QUIC packets themselves, bypassing the relay.
//!
//! [`TurnSocket::plain`] is the same without an allocation of its own: a plain UDP
//! socket that sends QUIC straight to a peer's relayed address (the peer permitted
//! this side's address on its allocation), and that can move to a direct path in
//! the same way.

use super::direct_path::{Route, Routes};
use super::quic::runtime::SendGate;
use super::turn_client::{Client, data_offset};
use crate::codec::stun::{self, Class};
use crate::codec::turn::{self, method};
use crate::connect::punch::gather::local_address;
use crate::{Result, random};
use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use quinn::{AsyncUdpSocket, UdpPoller};
use smol::Async;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How often the upkeep thread looks at what is due.
const UPKEEP_EVERY: Duration = Duration::from_secs(15);

/// Channels bound so far, both ways.
#[derive(Default)]
struct Channels {
    to_peer: HashMap<SocketAddr, u16>,
    to_channel: HashMap<u16, SocketAddr>,
    asked: HashSet<SocketAddr>,
}

/// What the upkeep thread is asked to do.
enum Upkeep {
    /// Bind a channel to this peer.
    Channel(SocketAddr),
    /// Release the allocation, then say so.
    Release(mpsc::Sender<()>),
    /// Install (or refresh) permissions for these addresses' IPs.
    Permit(Vec<SocketAddr>),
}

/// How long [`TurnSocket::release`] waits for the relay's answer.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// Socket buffers asked for on a plain socket (the kernel may cap them).
const SOCKET_BUFFER: usize = 8 << 20;

/// A TURN allocation that quinn uses as its socket (or a plain socket that talks to
/// a peer's allocation, [`TurnSocket::plain`]).
pub struct TurnSocket {
    io: Arc<Async<UdpSocket>>,
    state: UdpSocketState,
    /// Sends go out at once until the socket refuses one.
    gate: Arc<SendGate>,
    /// The TURN server; `None` for a plain socket.
    server: Option<SocketAddr>,
    relayed: SocketAddr,
    host: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    routes: Mutex<Routes>,
    frames: Mutex<Vec<u8>>,
    channels: Arc<Mutex<Channels>>,
    responses: mpsc::Sender<Vec<u8>>,
    upkeep: Mutex<mpsc::Sender<Upkeep>>,
    tid_prefix: [u8; 4],
    tid_counter: AtomicU64,
}

impl fmt::Debug for TurnSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnSocket")
            .field("server", &self.server)
            .field("relayed", &self.relayed)
            .finish_non_exhaustive()
    }
}

impl TurnSocket {
    /// Takes over `client`'s allocation (channels it already bound are used at once)
    /// and starts its upkeep thread.
    pub fn start(mut client: Client) -> Result<Arc<TurnSocket>> {
        let (socket, responses) = client.hand_over_receiving()?;
        let host = local_address(&socket, client.server()).ok();
        let state = UdpSocketState::new((&socket).into())?;
        let io = Arc::new(Async::new(socket)?);
        let channels = Arc::new(Mutex::new(Channels::default()));
        let (wants_tx, wants_rx) = mpsc::channel::<Upkeep>();
        let upkeep_channels = Arc::clone(&channels);
        let turn = Arc::new(TurnSocket {
            io,
            state,
            gate: Arc::default(),
            server: Some(client.server()),
            relayed: client.relayed(),
            host,
            mapped: client.mapped(),
            routes: Mutex::new(Routes::new(random::bytes()?)),
            frames: Mutex::new(Vec::new()),
            channels,
            responses,
            upkeep: Mutex::new(wants_tx),
            tid_prefix: random::bytes()?,
            tid_counter: AtomicU64::new(0),
        });
        std::thread::Builder::new()
            .name("turn-upkeep".into())
            .spawn(move || upkeep(client, &wants_rx, &upkeep_channels))?;
        Ok(turn)
    }

    /// A plain `socket` (no allocation) that sends to a peer's relayed address
    /// `towards`; `mapped` is its public address, if learnt (from a rendezvous). It
    /// takes part in the direct-path checks like an allocation's socket.
    pub fn plain(
        socket: UdpSocket,
        towards: SocketAddr,
        mapped: Option<SocketAddr>,
    ) -> Result<Arc<TurnSocket>> {
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
        let own = socket.local_addr()?;
        let host = local_address(&socket, towards).ok();
        socket.set_nonblocking(true)?;
        let state = UdpSocketState::new((&socket).into())?;
        // Nothing listens on these: there is no allocation to keep.
        let (responses, _) = mpsc::channel();
        let (upkeep, _) = mpsc::channel();
        let mut routes = Routes::new(random::bytes()?);
        routes.dials(towards);
        Ok(Arc::new(TurnSocket {
            io: Arc::new(Async::new(socket)?),
            state,
            gate: Arc::default(),
            server: None,
            relayed: own,
            host,
            mapped,
            routes: Mutex::new(routes),
            frames: Mutex::new(Vec::new()),
            channels: Arc::new(Mutex::new(Channels::default())),
            responses,
            upkeep: Mutex::new(upkeep),
            tid_prefix: random::bytes()?,
            tid_counter: AtomicU64::new(0),
        }))
    }

    /// Registers a channel bound beforehand (e.g. by the dialer before handing over).
    pub fn use_channel(&self, peer: SocketAddr, channel: u16) {
        let mut c = self.lock();
        c.to_peer.insert(peer, channel);
        c.to_channel.insert(channel, peer);
        c.asked.insert(peer);
    }

    /// The relayed address peers send to (a plain socket's own address).
    pub fn relayed(&self) -> SocketAddr {
        self.relayed
    }

    /// The address of the UDP socket underneath (what a direct path leaves from).
    pub fn socket_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// This side's direct candidates: the address the socket sends from (its bound
    /// address, or the one the routing table picks for a wildcard) and its public
    /// address as the relay (or, for a plain socket, the rendezvous) saw it.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = self.host.into_iter().collect();
        if let Some(mapped) = self.mapped.filter(|m| !addrs.contains(m)) {
            addrs.push(mapped);
        }
        addrs
    }

    /// This side's address as the relay saw it (XOR-MAPPED-ADDRESS of the
    /// allocation), if the relay said.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// The token a peer's checks must carry to be answered.
    pub fn token(&self) -> String {
        self.routes().token().to_owned()
    }

    /// Sends a check for a direct path to `to`, carrying the peer's token.
    pub fn check(&self, to: SocketAddr, peer_token: &str) -> io::Result<()> {
        let check = self.routes().check(to, peer_token, self.next_tid());
        self.io.get_ref().send_to(&check, to).map(|_| ())
    }

    /// The direct addresses proven so far.
    pub fn proven(&self) -> Vec<SocketAddr> {
        self.routes().proven().to_vec()
    }

    /// Sends what QUIC addresses to `relayed` straight to the proven `direct`
    /// address from now on.
    pub fn switch(&self, relayed: SocketAddr, direct: SocketAddr) {
        self.routes().switch(relayed, direct);
    }

    /// When `addr` last answered one of this socket's checks.
    pub fn answered(&self, addr: SocketAddr) -> Option<Instant> {
        self.routes().answered(addr)
    }

    /// Stops using the direct path to `direct`, which went silent (`reason`): what
    /// QUIC sends goes through the relay again.
    pub fn leave(&self, direct: SocketAddr, reason: String) {
        self.routes().leave(direct, reason);
    }

    /// Sends what QUIC addresses to the left direct address `direct` through the
    /// relay to the peer's relayed address `relayed` ([`Routes::send_back`]).
    pub fn send_back(&self, direct: SocketAddr, relayed: SocketAddr) {
        self.routes().send_back(direct, relayed);
    }

    /// Why a direct path was last left, once.
    pub fn take_left(&self) -> Option<String> {
        self.routes().take_left()
    }

    /// Which way a datagram to `to` goes now.
    pub fn route(&self, to: SocketAddr) -> Route {
        self.routes().route(to)
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ask(&self, request: Upkeep) {
        let tx = self.upkeep.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = tx.send(request);
    }

    /// Asks the upkeep thread (once per peer) to bind a channel to `peer`.
    fn ask_channel(&self, peer: SocketAddr) {
        if self.lock().asked.insert(peer) {
            self.ask(Upkeep::Channel(peer));
        }
    }

    /// Asks the upkeep thread to install permissions for the IPs of `peers` (a
    /// peer about to send here from those addresses).
    pub fn permit(&self, peers: Vec<SocketAddr>) {
        self.ask(Upkeep::Permit(peers));
    }

    /// Releases the allocation (a Refresh with lifetime zero), waiting a moment for
    /// the relay's answer, so that it does not linger until it expires.
    pub fn release(&self) {
        if self.server.is_none() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        self.ask(Upkeep::Release(tx));
        let _ = rx.recv_timeout(RELEASE_WAIT);
    }

    /// Opens one datagram from the relay: the peer and where in `datagram` its
    /// payload is; STUN responses go to the upkeep thread instead.
    fn unwrap_datagram(&self, datagram: &[u8]) -> Option<(SocketAddr, Range<usize>)> {
        if let Some((channel, payload)) = turn::decode_channel_data(datagram) {
            let peer = *self.lock().to_channel.get(&channel)?;
            return Some((peer, CHANNEL_HEADER..CHANNEL_HEADER + payload.len()));
        }
        let message = stun::decode(datagram).ok()?;
        match message.class {
            Class::Success | Class::Error => {
                let _ = self.responses.send(datagram.to_vec());
                None
            }
            Class::Indication if message.method == method::DATA => {
                use turn::Turn as _;
                let peer = *message.peer_addresses()?.first()?;
                let n = message.data()?.len();
                let start = data_offset(datagram)?;
                self.ask_channel(peer);
                Some((peer, start..start + n))
            }
            _ => None,
        }
    }

    fn next_tid(&self) -> [u8; 12] {
        let mut tid = [0u8; 12];
        tid[..4].copy_from_slice(&self.tid_prefix);
        let n = self.tid_counter.fetch_add(1, Ordering::Relaxed);
        tid[4..].copy_from_slice(&n.to_be_bytes());
        tid
    }
}

/// The upkeep thread: binds channels on request, refreshes what is due, and
/// releases the allocation when the socket is gone.
fn upkeep(mut client: Client, wants: &mpsc::Receiver<Upkeep>, channels: &Mutex<Channels>) {
    loop {
        match wants.recv_timeout(UPKEEP_EVERY) {
            Ok(Upkeep::Release(done)) => {
                let _ = client.release();
                let _ = done.send(());
                return;
            }
            Ok(Upkeep::Permit(peers)) => {
                if let Err(e) = client.create_permission(&peers) {
                    crate::diag::warn(format_args!("a TURN permission: {e}"));
                }
            }
            Ok(Upkeep::Channel(peer)) => {
                if let Ok(channel) = client.bind_channel(peer) {
                    let mut c = channels.lock().unwrap_or_else(PoisonError::into_inner);
                    c.to_peer.insert(peer, channel);
                    c.to_channel.insert(channel, peer);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = client.maintain() {
                    crate::diag::warn(format_args!("keeping the TURN allocation: {e}"));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The socket is gone: one Refresh(0) on the way out (no answer awaited).
                let _ = client.release();
                return;
            }
        }
    }
}

impl TurnSocket {
    /// Sends `transmit` (one datagram, or a batch of `segment_size` pieces) to the
    /// peer through the relay: a batch on a channel goes as ChannelData messages of
    /// one size (the last may be shorter) in one GSO send; without a channel, one
    /// Send indication per datagram.
    fn send_relayed(&self, transmit: &Transmit) -> io::Result<()> {
        let Some(server) = self.server else {
            // A plain socket sends to the peer's relayed address as it is.
            return self.state.send(self.io.as_ref().into(), transmit);
        };
        let peer = transmit.destination;
        let data = transmit.contents;
        let segment = transmit.segment_size.unwrap_or(data.len()).max(1);
        let channel = self.lock().to_peer.get(&peer).copied();
        let Some(channel) = channel else {
            self.ask_channel(peer);
            for piece in data.chunks(segment) {
                let tid = self.next_tid();
                let frame = stun::Message {
                    class: Class::Indication,
                    method: method::SEND,
                    transaction_id: tid,
                    attributes: vec![turn::xor_peer_address(peer, &tid), turn::data(piece)],
                }
                .encode();
                self.io.get_ref().send_to(&frame, server)?;
            }
            return Ok(());
        };
        let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        frames.clear();
        for piece in data.chunks(segment) {
            turn::encode_channel_data(channel, piece, &mut frames);
        }
        let batch = Transmit {
            destination: server,
            ecn: None,
            contents: &frames,
            segment_size: (data.len() > segment).then_some(segment + CHANNEL_HEADER),
            src_ip: None,
        };
        self.state.send(self.io.as_ref().into(), &batch)
    }

    /// Turns the datagrams read into `buf[..meta.len]` (one, or several of
    /// `meta.stride` bytes coalesced by GRO) into what QUIC is handed: payloads
    /// relayed from one peer, packets from a proven direct address, or nothing
    /// (`meta.len` 0) for what is the socket's own business.
    fn open(&self, buf: &mut [u8], meta: &mut RecvMeta) {
        if Some(meta.addr) == self.server {
            self.open_relayed(buf, meta);
            meta.ecn = None;
            return;
        }
        // STUN (checks and their answers) is the socket's own business; GRO may have
        // coalesced it with QUIC packets of the same size, or as a shorter last one.
        let (len, stride) = (meta.len, meta.stride.max(1));
        let (mut out, mut start) = (0usize, 0usize);
        while start < len {
            let end = (start + stride).min(len);
            if stun::is_stun(&buf[start..end]) {
                if let Ok(message) = stun::decode(&buf[start..end]) {
                    let answer = self.routes().on_stun(meta.addr, &message);
                    if let Some(answer) = answer {
                        let _ = self.io.get_ref().send_to(&answer, meta.addr);
                    }
                }
            } else {
                // Only the last piece may be shorter, so the kept ones stay in stride.
                buf.copy_within(start..end, out);
                out += end - start;
            }
            start = end;
        }
        meta.len = out;
        if out == 0 {
            return;
        }
        match self.routes().sender(meta.addr) {
            Some(peer) => meta.addr = peer,
            // A plain socket hears its peer's relayed address (and nothing else
            // QUIC would take) straight.
            None if self.server.is_none() => {}
            None => meta.len = 0,
        }
    }

    /// [`TurnSocket::open`] for datagrams from the relay: each is unwrapped and its
    /// payload moved forward, as long as they come from one peer in one size (QUIC
    /// takes a batch as pieces of one stride); one that does not fit the batch is
    /// dropped (it takes two peers' packets coalesced in one read: QUIC resends).
    fn open_relayed(&self, buf: &mut [u8], meta: &mut RecvMeta) {
        let (len, stride) = (meta.len, meta.stride.max(1));
        let (mut out, mut piece, mut peer, mut full) = (0usize, 0usize, None, true);
        let mut start = 0;
        while start < len {
            let end = (start + stride).min(len);
            if let Some((from, range)) = self.unwrap_datagram(&buf[start..end]) {
                let n = range.len();
                let fits = match peer {
                    None => true,
                    Some(p) => p == from && full && n <= piece,
                };
                if fits {
                    if peer.is_none() {
                        peer = Some(from);
                        piece = n;
                    }
                    full = n == piece;
                    buf.copy_within(start + range.start..start + range.end, out);
                    out += n;
                }
            }
            start = end;
        }
        meta.len = out;
        meta.stride = piece.max(1);
        if let Some(peer) = peer {
            meta.addr = peer;
        }
    }
}

/// The bytes a ChannelData header adds to a payload.
const CHANNEL_HEADER: usize = 4;

impl AsyncUdpSocket for TurnSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.gate.poller(Arc::clone(&self.io))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let route = self.routes().route(transmit.destination);
        let sent = match route {
            Route::Relayed => self.send_relayed(transmit),
            Route::Back(relayed) => self.send_relayed(&Transmit {
                destination: relayed,
                ..*transmit
            }),
            Route::Direct(to) => {
                let direct = Transmit {
                    destination: to,
                    ..*transmit
                };
                self.state.send(self.io.as_ref().into(), &direct)
            }
        };
        self.gate.sent(sent)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.state.recv(self.io.as_ref().into(), bufs, meta) {
                Ok(n) => {
                    for (buf, meta) in bufs.iter_mut().zip(meta.iter_mut()).take(n) {
                        self.open(buf, meta);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.io.poll_readable(cx))?;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.relayed)
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }

    fn may_fragment(&self) -> bool {
        // QUIC's path MTU discovery runs, and finds what fits with the TURN framing.
        false
    }
}
