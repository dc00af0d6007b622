//! Connections to neighbours over QUIC (ALPN `p2p-gossip/1`): one connection per
//! peer, each side sending its frames on its own unidirectional stream.
//!
//! Frames to a peer without a connection are queued while it is dialled (at the
//! addresses the overlay knows); closing such a peer still sends them once the
//! connection is up (a shuffle's answer to a peer that is not a neighbour is sent
//! and closed at once), then retires the link. When both sides dial each other at once, both keep
//! the connection dialled by the smaller peer id and retire the other: its queued
//! frames are still written and read, then it closes. A peer dials only while it
//! holds no connection to us, so its dial over a link older than any handshake
//! can take is no simultaneous dial: it lost that link (it was restarted, or
//! closed it), and its new connection replaces the link at once. A dial that
//! completes when nobody waits for it any more (its peer was closed meanwhile and
//! its queue went out on the peer's own connection) is closed, not kept idle.
//! A link's outgoing queue is bounded; frames beyond it are dropped and counted
//! (gossip repairs them through IHAVE/GRAFT and anti-entropy), so a slow
//! neighbour never holds up the others.

use super::frame::{FrameDecoder, PeerInfo, Wire};
use crate::addr::{Addr, Scheme};
use crate::connect::quic::endpoint::Listen;
use crate::connect::quic::{ALPN_GOSSIP, Allow, Endpoint, Tuning};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::narrate;
use smol::channel::{Receiver, Sender};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Frames queued per link before new ones are dropped. The queue is an unbounded
/// channel held to this length by [`Net::send`]: a bounded one allocates and
/// initialises all its slots up front (256 KB for 8,192), for every new link.
const LINK_QUEUE: usize = 8192;
/// Frames queued for a peer being dialled.
const DIAL_QUEUE: usize = 1024;
/// How long a closing link waits for the peer to finish its side.
const LINGER: Duration = Duration::from_secs(3);
/// A neighbour silent this long is dropped; it also bounds a handshake.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// A link older than this cannot be one of two simultaneous dials (twice the
/// handshake bound: either side's event loop may be late).
const STALE_AFTER: Duration = Duration::from_secs(10);
/// The application close code of an orderly close.
const CODE_DONE: u32 = 0;
/// The application close code of a link whose peer's port is unreachable.
const CODE_GONE: u32 = 1;

/// What the connections of a node report to its event loop (short-lived, so a frame
/// is not boxed).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum LinkEvent {
    /// A frame from a neighbour (on its current link or a retiring one).
    Frame {
        /// Who sent it.
        peer: PeerId,
        /// The frame.
        wire: Wire,
    },
    /// A link's reader ended.
    LinkEnded {
        /// The peer.
        peer: PeerId,
        /// The link.
        link: u64,
        /// Why.
        why: String,
    },
    /// A dial finished.
    Dialed {
        /// The peer dialled.
        peer: PeerId,
        /// The connection, or why not.
        result: Result<quinn::Connection, String>,
    },
    /// A peer's address answered "port unreachable": its process is gone.
    Unreachable {
        /// The address.
        addr: SocketAddr,
    },
    /// A peer connected to us.
    Accepted {
        /// Its proven id.
        peer: PeerId,
        /// The connection.
        conn: quinn::Connection,
    },
}

/// A gossip node's QUIC endpoint on `addr`: open to anyone who speaks the gossip
/// protocol (messages are checked by their authors' signatures, not by who relays
/// them), and a neighbour that goes silent is dropped after 5 s.
pub fn bind(identity: &Identity, addr: SocketAddr) -> crate::Result<Arc<Endpoint>> {
    let tuning = Tuning {
        idle_timeout: IDLE_TIMEOUT,
        ..Tuning::default()
    };
    let listen = Listen {
        allow: Allow::Anyone,
        alpns: vec![ALPN_GOSSIP.to_vec()],
    };
    Ok(Arc::new(Endpoint::bind(
        identity,
        addr,
        Some(listen),
        tuning,
    )?))
}

/// The socket address to dial for `addr`, if it is one (udp:// or quic:// with an IP).
pub fn dialable(addr: &Addr) -> Option<SocketAddr> {
    match addr.scheme {
        Scheme::Udp | Scheme::Quic if addr.path.is_none() => addr.socket_addr(),
        _ => None,
    }
}

/// A peer being dialled.
struct Dial {
    /// Frames for it, sent once the connection is up.
    queue: Vec<Vec<u8>>,
    /// Its addresses not yet found unreachable.
    left: Vec<SocketAddr>,
}

struct Link {
    id: u64,
    tx: Sender<Vec<u8>>,
    dialer: PeerId,
    conn: quinn::Connection,
    since: Instant,
}

/// Traffic counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Frames handed to links.
    pub frames_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Frames dropped because a link's queue was full.
    pub send_dropped: u64,
}

/// The connections of one node, reporting to an event loop whose events `E` can
/// carry a [`LinkEvent`].
pub struct Net<E> {
    endpoint: Arc<Endpoint>,
    me: PeerId,
    events: Sender<E>,
    links: HashMap<PeerId, Link>,
    dialing: HashMap<PeerId, Dial>,
    /// Peers closed while being dialled: their link retires once the queued
    /// frames are on it.
    closing: HashSet<PeerId>,
    next_link: u64,
    max_frame: usize,
    /// Links older than this are replaced by the peer's new connection.
    stale_after: Duration,
    /// Counters.
    pub traffic: Traffic,
}

impl<E: From<LinkEvent> + Send + 'static> Net<E> {
    /// Connections from `endpoint`, reporting to `events`.
    /// Addresses that answer "port unreachable" are reported as
    /// [`LinkEvent::Unreachable`].
    pub fn new(endpoint: Arc<Endpoint>, events: Sender<E>, max_frame: usize) -> Self {
        match endpoint.unreachable() {
            Ok(unreachable) => spawn_unreachable_watch(unreachable, events.clone()),
            Err(e) => narrate!("no ICMP reports of gone peers: {e}"),
        }
        Net {
            me: endpoint.id(),
            endpoint,
            events,
            links: HashMap::new(),
            dialing: HashMap::new(),
            closing: HashSet::new(),
            next_link: 0,
            max_frame,
            stale_after: STALE_AFTER,
            traffic: Traffic::default(),
        }
    }

    /// Accepts incoming connections until the endpoint closes.
    pub fn spawn_acceptor(&self) {
        let endpoint = self.endpoint.clone();
        let events = self.events.clone();
        crate::task::spawn(async move {
            while let Some(incoming) = endpoint.accept().await {
                let events = events.clone();
                let from = incoming.remote();
                crate::task::spawn(async move {
                    match incoming.accept().await {
                        Ok((peer, conn)) => {
                            narrate!("accepted {peer} from udp://{from}");
                            let _ = events.send(LinkEvent::Accepted { peer, conn }.into()).await;
                        }
                        Err(e) => narrate!("refused a connection from udp://{from}: {e}"),
                    }
                })
                .detach();
            }
        })
        .detach();
    }

    /// Queues `frame` for `to`, dialling `info`'s addresses if there is no
    /// connection. False when `to` cannot be reached at all (no address known).
    pub fn send(&mut self, to: PeerId, frame: Vec<u8>, info: Option<&PeerInfo>) -> bool {
        let len = frame.len() as u64;
        if let Some(link) = self.links.get(&to) {
            match enqueue(&link.tx, frame, LINK_QUEUE) {
                Queued::Yes => {
                    self.traffic.frames_sent += 1;
                    self.traffic.bytes_sent += len;
                }
                Queued::Full => self.traffic.send_dropped += 1,
                // The writer died with its connection; the reader reports the end.
                Queued::Closed => {}
            }
            return true;
        }
        if let Some(dial) = self.dialing.get_mut(&to) {
            // Wanted again: keep the link once it is up.
            self.closing.remove(&to);
            if dial.queue.len() < DIAL_QUEUE {
                dial.queue.push(frame);
            } else {
                self.traffic.send_dropped += 1;
            }
            return true;
        }
        let addrs: Vec<SocketAddr> = info
            .map(|i| i.addrs.iter().filter_map(dialable).collect())
            .unwrap_or_default();
        if addrs.is_empty() {
            return false;
        }
        self.dialing.insert(
            to,
            Dial {
                queue: vec![frame],
                left: addrs.clone(),
            },
        );
        let endpoint = self.endpoint.clone();
        let events = self.events.clone();
        narrate!("dialling {to} at {addrs:?}");
        crate::task::spawn(async move {
            let result = endpoint
                .dial(to, &addrs, ALPN_GOSSIP)
                .await
                .map_err(|e| e.to_string());
            match &result {
                Ok(conn) => narrate!("connected to {to} at udp://{}", conn.remote_address()),
                Err(e) => narrate!("dialling {to} failed: {e}"),
            }
            let _ = events
                .send(LinkEvent::Dialed { peer: to, result }.into())
                .await;
        })
        .detach();
        true
    }

    /// Closes the link to `peer` once its queued frames are written (for a peer
    /// being dialled, once the connection is up and they are on it).
    pub fn close(&mut self, peer: &PeerId) {
        self.links.remove(peer);
        if self.dialing.contains_key(peer) {
            self.closing.insert(*peer);
        }
    }

    /// A dial failed; its queued frames are dropped.
    pub fn dial_failed(&mut self, peer: &PeerId) {
        self.dialing.remove(peer);
        self.closing.remove(peer);
    }

    /// True if a dial to `peer` is under way (its result still matters).
    pub fn is_dialing(&self, peer: &PeerId) -> bool {
        self.dialing.contains_key(peer)
    }

    /// A connection to `peer` is up, dialled by us (`ours`) or by them.
    pub fn connected(&mut self, peer: PeerId, conn: quinn::Connection, ours: bool) {
        if ours && !self.dialing.contains_key(&peer) && !self.links.contains_key(&peer) {
            // Nobody waits for this dial: the peer was closed after its own
            // connection took our queue. Kept, it would stay up idle.
            conn.close(CODE_DONE.into(), b"done");
            return;
        }
        let dialer = if ours { self.me } else { peer };
        self.next_link += 1;
        let id = self.next_link;
        let (tx, rx) = smol::channel::unbounded();
        spawn_link(
            peer,
            id,
            conn.clone(),
            rx,
            self.events.clone(),
            self.max_frame,
        );
        let link = Link {
            id,
            tx,
            dialer,
            conn,
            since: Instant::now(),
        };
        let keep_new = match self.links.get(&peer) {
            None => true,
            // The same side dialled again (the old link is dying): the new one wins.
            Some(old) if old.dialer == dialer => true,
            // Too old for a simultaneous dial: the peer lost the old link (it was
            // restarted, or closed it). Kept, it would carry our frames to nobody
            // until the idle timeout while the peer's new connection retired.
            Some(old) if old.since.elapsed() > self.stale_after => true,
            // Both sides dialled: the connection dialled by the smaller id wins.
            Some(_) => dialer < if dialer == self.me { peer } else { self.me },
        };
        if keep_new {
            // Replacing drops the old sender: that link retires.
            self.links.insert(peer, link);
        }
        // Otherwise `link` drops here: its writer has nothing to send and retires.
        if let Some(Dial { queue, .. }) = self.dialing.remove(&peer)
            && let Some(link) = self.links.get(&peer)
        {
            for frame in queue {
                let len = frame.len() as u64;
                if link.tx.try_send(frame).is_ok() {
                    self.traffic.frames_sent += 1;
                    self.traffic.bytes_sent += len;
                } else {
                    self.traffic.send_dropped += 1;
                }
            }
        }
        // Our own dial of a peer closed meanwhile has delivered the queue: retire
        // it. A connection the peer made is kept (it has something to tell us).
        if self.closing.remove(&peer) && ours {
            self.links.remove(&peer);
        }
    }

    /// `addr` answered "port unreachable": the links to it are closed at once (the
    /// peers' processes are gone; QUIC would notice only at the idle timeout), and
    /// so are dials with no other address left (the handshake would wait for its
    /// timeout). Returns their peers.
    pub fn unreachable(&mut self, addr: SocketAddr) -> Vec<PeerId> {
        let mut gone: Vec<PeerId> = self
            .links
            .iter()
            .filter(|(_, link)| same_addr(link.conn.remote_address(), addr))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in &gone {
            if let Some(link) = self.links.remove(peer) {
                link.conn.close(CODE_GONE.into(), b"port unreachable");
            }
        }
        for (peer, dial) in &mut self.dialing {
            dial.left.retain(|a| !same_addr(*a, addr));
            if dial.left.is_empty() && !gone.contains(peer) {
                gone.push(*peer);
            }
        }
        for peer in &gone {
            // The dial itself runs on and is closed if it ever completes.
            self.dial_failed(peer);
        }
        gone
    }

    /// A link's reader ended; true if it was `peer`'s current link (the peer is
    /// gone), false for a retired one.
    pub fn link_ended(&mut self, peer: &PeerId, link: u64) -> bool {
        if self.links.get(peer).is_some_and(|l| l.id == link) {
            self.links.remove(peer);
            true
        } else {
            false
        }
    }

    /// The peers with a current link, its number (as in [`LinkEvent::LinkEnded`])
    /// and whether we dialled it.
    pub fn links(&self) -> Vec<(PeerId, u64, bool)> {
        self.links
            .iter()
            .map(|(peer, link)| (*peer, link.id, link.dialer == self.me))
            .collect()
    }

    /// The QUIC endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Each connected peer's round trip as QUIC estimates it (smoothed).
    pub fn rtts(&self) -> Vec<(PeerId, Duration)> {
        self.links
            .iter()
            .map(|(peer, link)| (*peer, link.conn.rtt()))
            .collect()
    }
}

/// The same socket address, an IPv4 one and its IPv4-mapped IPv6 form alike.
fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// What became of a frame handed to a link's queue.
#[derive(Debug, PartialEq, Eq)]
enum Queued {
    Yes,
    /// `cap` frames already waited: dropped.
    Full,
    /// The link's writer is gone.
    Closed,
}

/// Queues `frame` on a link's (unbounded) channel unless `cap` frames wait already.
fn enqueue(tx: &Sender<Vec<u8>>, frame: Vec<u8>, cap: usize) -> Queued {
    if tx.is_closed() {
        Queued::Closed
    } else if tx.len() >= cap {
        Queued::Full
    } else if tx.try_send(frame).is_ok() {
        Queued::Yes
    } else {
        Queued::Closed
    }
}

/// Passes on the addresses the socket found unreachable, until it closes.
fn spawn_unreachable_watch<E: From<LinkEvent> + Send + 'static>(
    unreachable: Receiver<SocketAddr>,
    events: Sender<E>,
) {
    crate::task::spawn(async move {
        while let Ok(addr) = unreachable.recv().await {
            if events
                .send(LinkEvent::Unreachable { addr }.into())
                .await
                .is_err()
            {
                break;
            }
        }
    })
    .detach();
}

/// Runs a link: a writer of queued frames and a reader of the peer's frames. The
/// connection closes when both are done (the queue closed and written, the peer's
/// stream ended), or `LINGER` after the writer is done.
fn spawn_link<E: From<LinkEvent> + Send + 'static>(
    peer: PeerId,
    id: u64,
    conn: quinn::Connection,
    rx: Receiver<Vec<u8>>,
    events: Sender<E>,
    max_frame: usize,
) {
    let done = Arc::new(AtomicU8::new(0));
    let (w_conn, w_done) = (conn.clone(), done.clone());
    crate::task::spawn(async move {
        write_frames(&w_conn, &rx).await;
        if w_done.fetch_add(1, Ordering::SeqCst) == 0 {
            let () = smol::future::or(
                async {
                    w_conn.closed().await;
                },
                async {
                    smol::Timer::after(LINGER).await;
                },
            )
            .await;
        }
        w_conn.close(CODE_DONE.into(), b"done");
    })
    .detach();
    crate::task::spawn(async move {
        let why = read_frames(&conn, peer, &events, max_frame).await;
        let _ = events
            .send(
                LinkEvent::LinkEnded {
                    peer,
                    link: id,
                    why,
                }
                .into(),
            )
            .await;
        if done.fetch_add(1, Ordering::SeqCst) == 1 {
            conn.close(CODE_DONE.into(), b"done");
        }
    })
    .detach();
}

async fn write_frames(conn: &quinn::Connection, rx: &Receiver<Vec<u8>>) {
    let Ok(first) = rx.recv().await else {
        return;
    };
    let Ok(mut send) = conn.open_uni().await else {
        return;
    };
    let mut frame = first;
    loop {
        if send.write_all(&frame).await.is_err() {
            return;
        }
        match rx.try_recv() {
            Ok(next) => frame = next,
            Err(_) => match rx.recv().await {
                Ok(next) => frame = next,
                Err(_) => break,
            },
        }
    }
    let _ = send.finish();
    let () = smol::future::or(
        async {
            let _ = send.stopped().await;
        },
        async {
            smol::Timer::after(LINGER).await;
        },
    )
    .await;
}

async fn read_frames<E: From<LinkEvent>>(
    conn: &quinn::Connection,
    peer: PeerId,
    events: &Sender<E>,
    max_frame: usize,
) -> String {
    let mut recv = match conn.accept_uni().await {
        Ok(recv) => recv,
        Err(e) => return crate::connect::quic::endpoint::describe(&e),
    };
    let mut decoder = FrameDecoder::new(max_frame);
    loop {
        // The stream's own buffers, not a copy into one of ours for each link; at
        // most 64 KB at a time, so the decoder holds at most that beyond a frame.
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(chunk)) => decoder.push(&chunk.bytes),
            Ok(None) => return "closed by the peer".to_owned(),
            Err(e) => return e.to_string(),
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(wire)) => {
                    if events
                        .send(LinkEvent::Frame { peer, wire }.into())
                        .await
                        .is_err()
                    {
                        return "shutting down".to_owned();
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = recv.stop(1u32.into());
                    return format!("sent a bad frame: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link's queue holds at most its cap of frames however slowly the peer
    /// reads; a frame for a link whose writer is gone is neither queued nor
    /// counted as dropped.
    #[test]
    fn a_link_queue_drops_frames_beyond_its_cap() {
        let (tx, rx) = smol::channel::unbounded();
        for _ in 0..3 {
            assert_eq!(enqueue(&tx, vec![1], 3), Queued::Yes);
        }
        assert_eq!(enqueue(&tx, vec![2], 3), Queued::Full);
        assert_eq!(rx.len(), 3);
        rx.try_recv().unwrap();
        assert_eq!(enqueue(&tx, vec![3], 3), Queued::Yes);
        drop(rx);
        assert_eq!(enqueue(&tx, vec![4], 3), Queued::Closed);
    }

    fn node(seed: u8) -> (Identity, Net<LinkEvent>, Receiver<LinkEvent>, PeerInfo) {
        let identity = Identity::from_seed([seed; 32]);
        let endpoint = bind(&identity, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = Addr::from_socket(Scheme::Udp, endpoint.local_addr().unwrap());
        let (tx, rx) = smol::channel::bounded(64);
        let info = PeerInfo {
            id: identity.id(),
            addrs: vec![addr],
        };
        (identity, Net::new(endpoint, tx, 1 << 16), rx, info)
    }

    /// A frame sent to a peer that is not connected yet and closed at once (a
    /// shuffle's answer to a peer that is not a neighbour) still arrives, and the
    /// link then closes.
    #[test]
    fn frames_queued_for_a_dial_go_out_when_the_peer_is_closed_at_once() {
        let (_a, mut a_net, a_rx, _) = node(1);
        let (_b, mut b_net, b_rx, b_info) = node(2);
        b_net.spawn_acceptor();
        let sample = Wire::ShuffleReply(vec![b_info.clone()]);
        assert!(a_net.send(b_info.id, sample.encode(), Some(&b_info)));
        a_net.close(&b_info.id);
        let run = async {
            let mut got = None;
            loop {
                let event = smol::future::or(async { (true, a_rx.recv().await.unwrap()) }, async {
                    (false, b_rx.recv().await.unwrap())
                })
                .await;
                match event {
                    (true, LinkEvent::Dialed { peer, result }) => {
                        a_net.connected(peer, result.unwrap(), true);
                        assert!(a_net.links().is_empty(), "the link retires");
                    }
                    (false, LinkEvent::Accepted { peer, conn }) => {
                        b_net.connected(peer, conn, false);
                    }
                    (false, LinkEvent::Frame { wire, .. }) => got = Some(wire),
                    (false, LinkEvent::LinkEnded { .. }) => return got,
                    _ => {}
                }
            }
        };
        let got = smol::block_on(smol::future::or(async { Some(run.await) }, async {
            smol::Timer::after(Duration::from_secs(20)).await;
            None
        }));
        assert_eq!(got, Some(Some(sample)), "the queued frame, then the end");
    }

    /// Waits (20 s at most) for `rx`'s next event that `want` takes.
    fn next_event<T>(rx: &Receiver<LinkEvent>, mut want: impl FnMut(LinkEvent) -> Option<T>) -> T {
        smol::block_on(async {
            let wait = async {
                loop {
                    if let Some(got) = want(rx.recv().await.expect("events")) {
                        return Some(got);
                    }
                }
            };
            smol::future::or(wait, async {
                smol::Timer::after(Duration::from_secs(20)).await;
                None
            })
            .await
        })
        .expect("the event within 20 s")
    }

    fn accepted(event: LinkEvent) -> Option<(PeerId, quinn::Connection)> {
        match event {
            LinkEvent::Accepted { peer, conn } => Some((peer, conn)),
            _ => None,
        }
    }

    fn dialed(event: LinkEvent) -> Option<(PeerId, quinn::Connection)> {
        match event {
            LinkEvent::Dialed { peer, result } => Some((peer, result.expect("dialled"))),
            _ => None,
        }
    }

    /// A peer restarted with the same identity (its old process silent, as after
    /// SIGKILL) dials us while we still hold the link we dialled to the old one,
    /// although our id is the smaller: its new connection replaces the stale
    /// link, so what we send next reaches the new process.
    #[test]
    fn a_restarted_peer_s_connection_replaces_our_stale_link_at_once() {
        let mut seeds = [1u8, 2];
        if Identity::from_seed([1; 32]).id() > Identity::from_seed([2; 32]).id() {
            seeds.swap(0, 1);
        }
        let (_a, mut a_net, a_rx, a_info) = node(seeds[0]);
        let (_old, mut old_net, old_rx, old_info) = node(seeds[1]);
        a_net.spawn_acceptor();
        old_net.spawn_acceptor();
        a_net.stale_after = Duration::from_millis(100);
        assert!(a_net.send(old_info.id, Wire::Prune.encode(), Some(&old_info)));
        let (peer, conn) = next_event(&a_rx, dialed);
        a_net.connected(peer, conn, true);
        let (peer, conn) = next_event(&old_rx, accepted);
        old_net.connected(peer, conn, false);
        std::thread::sleep(Duration::from_millis(200));
        // The old process goes silent (still up, reading nothing); the new one,
        // on another port, dials A.
        let (_new, mut new_net, new_rx, _) = node(seeds[1]);
        assert!(new_net.send(a_info.id, Wire::Prune.encode(), Some(&a_info)));
        let (peer, conn) = next_event(&new_rx, dialed);
        new_net.connected(peer, conn, true);
        let (peer, conn) = next_event(&a_rx, accepted);
        assert_eq!(peer, old_info.id, "the same identity");
        a_net.connected(peer, conn, false);
        let hello = Wire::Graft([7; 32]);
        assert!(a_net.send(peer, hello.encode(), None));
        let got = next_event(&new_rx, |e| match e {
            LinkEvent::Frame { wire, .. } => Some(wire),
            _ => None,
        });
        assert_eq!(got, hello, "A's frame reached the restarted peer");
        drop(old_net);
    }

    /// Both sides dial at once; A takes B's connection first, then closes B: its
    /// own dial, completing after that, is closed instead of kept as an idle link.
    #[test]
    fn a_dial_completing_after_its_peer_was_closed_is_not_kept() {
        let (_a, mut a_net, a_rx, a_info) = node(3);
        let (_b, mut b_net, b_rx, b_info) = node(4);
        a_net.spawn_acceptor();
        b_net.spawn_acceptor();
        assert!(a_net.send(b_info.id, Wire::Prune.encode(), Some(&b_info)));
        assert!(b_net.send(a_info.id, Wire::Prune.encode(), Some(&a_info)));
        let mut ours = None;
        let mut theirs = None;
        while ours.is_none() || theirs.is_none() {
            next_event(&a_rx, |e| {
                match e {
                    LinkEvent::Dialed { result, .. } => ours = Some(result.expect("dialled")),
                    LinkEvent::Accepted { conn, .. } => theirs = Some(conn),
                    _ => return None,
                }
                Some(())
            });
        }
        let (_, conn) = next_event(&b_rx, dialed);
        b_net.connected(a_info.id, conn, true);
        a_net.connected(b_info.id, theirs.unwrap(), false);
        a_net.close(&b_info.id);
        let ours = ours.unwrap();
        a_net.connected(b_info.id, ours.clone(), true);
        assert!(a_net.links().is_empty(), "no link kept to a closed peer");
        let closed = smol::block_on(smol::future::or(
            async {
                ours.closed().await;
                true
            },
            async {
                smol::Timer::after(Duration::from_secs(20)).await;
                false
            },
        ));
        assert!(closed, "the unwanted connection is closed");
    }

    /// A dial to an address where nobody listens any more (the peer was killed)
    /// is given up as soon as the address answers "port unreachable", not after
    /// the handshake's timeout; a peer with another address left is still dialled.
    #[test]
    fn a_dial_to_a_closed_port_is_given_up_when_it_answers_unreachable() {
        let (_a, mut a_net, a_rx, _) = node(1);
        let gone = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dead = PeerInfo {
            id: Identity::from_seed([2; 32]).id(),
            addrs: vec![Addr::from_socket(Scheme::Udp, gone)],
        };
        let two = PeerInfo {
            id: Identity::from_seed([3; 32]).id(),
            addrs: vec![
                Addr::from_socket(Scheme::Udp, gone),
                Addr::from_socket(Scheme::Udp, other.local_addr().unwrap()),
            ],
        };
        let started = Instant::now();
        assert!(a_net.send(
            dead.id,
            Wire::Disconnect { alive: true }.encode(),
            Some(&dead)
        ));
        assert!(a_net.send(
            two.id,
            Wire::Disconnect { alive: true }.encode(),
            Some(&two)
        ));
        let addr = next_event(&a_rx, |event| match event {
            LinkEvent::Unreachable { addr } => Some(addr),
            _ => None,
        });
        assert_eq!(addr, gone);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "reported after {:?} (the handshake gives up after 5 s)",
            started.elapsed()
        );
        assert_eq!(a_net.unreachable(addr), vec![dead.id]);
        assert!(!a_net.is_dialing(&dead.id));
        assert!(a_net.is_dialing(&two.id), "its other address may answer");
    }
}
