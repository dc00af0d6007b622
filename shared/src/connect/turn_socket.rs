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

use super::turn_client::{Client, data_offset};
use crate::codec::stun::{self, Class};
use crate::codec::turn::{self, method};
use crate::{Result, random};
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use smol::Async;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

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

/// A TURN allocation that quinn uses as its socket.
pub struct TurnSocket {
    io: Arc<Async<UdpSocket>>,
    server: SocketAddr,
    relayed: SocketAddr,
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
        let io = Arc::new(Async::new(socket)?);
        let channels = Arc::new(Mutex::new(Channels::default()));
        let (wants_tx, wants_rx) = mpsc::channel::<Upkeep>();
        let upkeep_channels = Arc::clone(&channels);
        let turn = Arc::new(TurnSocket {
            io,
            server: client.server(),
            relayed: client.relayed(),
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

    /// Registers a channel bound beforehand (e.g. by the dialer before handing over).
    pub fn use_channel(&self, peer: SocketAddr, channel: u16) {
        let mut c = self.lock();
        c.to_peer.insert(peer, channel);
        c.to_channel.insert(channel, peer);
        c.asked.insert(peer);
    }

    /// The relayed address peers send to.
    pub fn relayed(&self) -> SocketAddr {
        self.relayed
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
        let (tx, rx) = mpsc::channel();
        self.ask(Upkeep::Release(tx));
        let _ = rx.recv_timeout(RELEASE_WAIT);
    }

    /// Turns one datagram from the relay, read into `buf[..len]`, into a peer's
    /// payload moved to the front of `buf`: its length and the peer.
    fn unwrap_datagram(&self, buf: &mut [u8], len: usize) -> Option<(usize, SocketAddr)> {
        if let Some((channel, payload)) = turn::decode_channel_data(&buf[..len]) {
            let n = payload.len();
            let peer = *self.lock().to_channel.get(&channel)?;
            buf.copy_within(4..4 + n, 0);
            return Some((n, peer));
        }
        let message = stun::decode(&buf[..len]).ok()?;
        match message.class {
            Class::Success | Class::Error => {
                let _ = self.responses.send(buf[..len].to_vec());
                None
            }
            Class::Indication if message.method == method::DATA => {
                use turn::Turn as _;
                let peer = *message.peer_addresses()?.first()?;
                let n = message.data()?.len();
                let start = data_offset(&buf[..len])?;
                buf.copy_within(start..start + n, 0);
                self.ask_channel(peer);
                Some((n, peer))
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

/// Wakes quinn when the socket can take more.
#[derive(Debug)]
struct Writable(Arc<Async<UdpSocket>>);

impl UdpPoller for Writable {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        self.0.poll_writable(cx)
    }
}

impl AsyncUdpSocket for TurnSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable(Arc::clone(&self.io)))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let peer = transmit.destination;
        let data = transmit.contents;
        let channel = self.lock().to_peer.get(&peer).copied();
        let frame = match channel {
            Some(channel) => {
                let mut frame = Vec::with_capacity(data.len() + 4);
                turn::encode_channel_data(channel, data, &mut frame);
                frame
            }
            None => {
                self.ask_channel(peer);
                let tid = self.next_tid();
                stun::Message {
                    class: Class::Indication,
                    method: method::SEND,
                    transaction_id: tid,
                    attributes: vec![turn::xor_peer_address(peer, &tid), turn::data(data)],
                }
                .encode()
            }
        };
        self.io.get_ref().send_to(&frame, self.server).map(|_| ())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let Some(buf) = bufs.first_mut() else {
            return Poll::Ready(Ok(0));
        };
        loop {
            match self.io.get_ref().recv_from(buf) {
                Ok((len, from)) => {
                    if from != self.server {
                        continue;
                    }
                    if let Some((n, peer)) = self.unwrap_datagram(buf, len) {
                        meta[0] = RecvMeta {
                            addr: peer,
                            len: n,
                            stride: n,
                            ecn: None,
                            dst_ip: None,
                        };
                        return Poll::Ready(Ok(1));
                    }
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

    fn may_fragment(&self) -> bool {
        // QUIC's path MTU discovery runs, and finds what fits with the TURN framing.
        false
    }
}
