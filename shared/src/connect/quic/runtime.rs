//! quinn on smol, with UDP sockets that send without a trip through the reactor
//! first.
//!
//! quinn's own smol runtime asks async-io whether the socket is writable before
//! every send. async-io answers "ready" only for an event its reactor delivered
//! after the question, so each send registers interest (`epoll_ctl`), waits for the
//! reactor thread to see the socket writable (it always is) and wake the
//! connection's task, and only then sends: a reactor round trip per packet, and on
//! a busy machine the reactor thread waits for a core like everything else. Here
//! a send is tried at once, and only after the socket refused one (`EWOULDBLOCK`)
//! do senders wait for the reactor to see it writable again. Reads stay as quinn
//! does them (readiness first): trying the socket first measured three reads per
//! wake-up instead of one. Measured in docs/gossip.md ("Fewer packets and no
//! reactor trip per send").

use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use quinn::{AsyncTimer, AsyncUdpSocket, UdpPoller};
use smol::Async;
use smol::Timer;
use smol::channel::{Receiver, Sender};
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

/// Unreachable destinations a socket keeps for its reader.
const UNREACHABLE_BACKLOG: usize = 64;

/// quinn's runtime: smol's executor and timers, [`Socket`] for UDP.
#[derive(Debug)]
pub struct Smol;

impl quinn::Runtime for Smol {
    fn new_timer(&self, t: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(Timer::at(t))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        crate::task::spawn(future).detach();
    }

    fn wrap_udp_socket(&self, sock: UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        Ok(Arc::new(Socket::new(sock)?))
    }
}

/// Whether a socket last refused a datagram, shared by the senders on it.
#[derive(Debug, Default)]
pub struct SendGate(AtomicBool);

impl SendGate {
    /// Notes what a send returned: a refusal closes the gate until the reactor
    /// sees the socket writable again.
    pub fn sent(&self, result: io::Result<()>) -> io::Result<()> {
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.0.store(true, Ordering::Release);
        }
        result
    }

    /// A poller for quinn: ready at once while the socket takes datagrams.
    pub fn poller(self: &Arc<Self>, io: Arc<Async<UdpSocket>>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable {
            gate: Arc::clone(self),
            io,
            wait: None,
        })
    }
}

/// Tells quinn when it may send: at once, unless the socket refused the last
/// datagram; then once the reactor has seen it writable.
struct Writable {
    gate: Arc<SendGate>,
    io: Arc<Async<UdpSocket>>,
    /// Waiting for writability (a future, so that every connection on the socket
    /// can wait at once; `poll_writable` keeps one waker per socket).
    wait: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>>,
}

impl std::fmt::Debug for Writable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writable")
            .field("blocked", &self.gate.0.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl UdpPoller for Writable {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.gate.0.load(Ordering::Acquire) {
            this.wait = None;
            return Poll::Ready(Ok(()));
        }
        let io = &this.io;
        let wait = this
            .wait
            .get_or_insert_with(|| Box::pin(Arc::clone(io).writable_owned()));
        let result = std::task::ready!(wait.as_mut().poll(cx));
        this.wait = None;
        this.gate.0.store(false, Ordering::Release);
        Poll::Ready(result)
    }
}

/// A UDP socket for quinn (quinn-udp's batched, GSO/GRO-aware I/O) that sends
/// before asking the reactor.
#[derive(Debug)]
pub struct Socket {
    io: Arc<Async<UdpSocket>>,
    state: UdpSocketState,
    gate: Arc<SendGate>,
    /// Where destinations that answered "port unreachable" go, once asked for.
    unreachable: OnceLock<(Sender<SocketAddr>, Receiver<SocketAddr>)>,
}

impl Socket {
    /// Wraps a bound socket (made non-blocking).
    pub fn new(sock: UdpSocket) -> io::Result<Self> {
        Ok(Socket {
            state: UdpSocketState::new((&sock).into())?,
            io: Arc::new(Async::new_nonblocking(sock)?),
            gate: Arc::default(),
            unreachable: OnceLock::new(),
        })
    }

    /// The destinations that answer what this socket sends with ICMP "port
    /// unreachable" (see [`super::icmp`]), from now on. Reports beyond a
    /// small backlog nobody took are dropped.
    pub fn unreachable(&self) -> io::Result<Receiver<SocketAddr>> {
        if let Some((_, rx)) = self.unreachable.get() {
            return Ok(rx.clone());
        }
        let v6 = self.local_addr()?.is_ipv6();
        super::icmp::enable(self.io.as_ref(), v6)?;
        let (_, rx) = self
            .unreachable
            .get_or_init(|| smol::channel::bounded(UNREACHABLE_BACKLOG));
        Ok(rx.clone())
    }

    /// Reads the error queue after a failed read: with ICMP errors asked for,
    /// each one fails a read until the queue is read.
    fn read_errors(&self) {
        if let Some((tx, _)) = self.unreachable.get() {
            super::icmp::drain(self.io.as_ref(), |addr| {
                let _ = tx.try_send(addr);
            });
        }
    }
}

impl AsyncUdpSocket for Socket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.gate.poller(Arc::clone(&self.io))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let sock = || self.io.as_ref().into();
        let result = match self.state.try_send(sock(), transmit) {
            // With ICMP errors asked for, an error queued for an earlier datagram
            // fails the next call, this send included, and nothing was sent: read
            // the queue, then send.
            Err(e) if e.raw_os_error() == Some(nix::libc::ECONNREFUSED) => {
                self.read_errors();
                self.state.send(sock(), transmit)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            // Dropped, as quinn-udp's `send` does (a lost datagram QUIC resends);
            // sending it again would only fail again.
            Err(_) | Ok(()) => Ok(()),
        };
        self.gate.sent(result)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        // Readiness first: the socket is read once the reactor saw it readable (a
        // batch takes whatever is queued by then, up to quinn-udp's batch size).
        loop {
            std::task::ready!(self.io.poll_readable(cx))?;
            match self.state.recv(self.io.as_ref().into(), bufs, meta) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(_) => self.read_errors(),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.as_ref().as_ref().local_addr()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_send_waits_for_the_reactor_only_after_the_socket_refused_one() {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("a loopback socket");
        let io = Arc::new(Async::new(sock).expect("registered"));
        let gate = Arc::new(SendGate::default());
        let mut poller = gate.poller(Arc::clone(&io));
        let mut cx = Context::from_waker(Waker::noop());
        // quinn's own poller answers "pending" here: every send waited for the
        // reactor to see the socket writable.
        assert!(poller.as_mut().poll_writable(&mut cx).is_ready());
        assert!(gate.sent(Ok(())).is_ok());
        assert!(poller.as_mut().poll_writable(&mut cx).is_ready());
        // A refused send closes the gate until the reactor has seen the socket
        // writable again.
        let refused = gate.sent(Err(io::ErrorKind::WouldBlock.into()));
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        assert!(poller.as_mut().poll_writable(&mut cx).is_pending());
        let reopened = smol::block_on(async {
            smol::future::or(
                async { Some(std::future::poll_fn(|cx| poller.as_mut().poll_writable(cx)).await) },
                async {
                    Timer::after(std::time::Duration::from_secs(5)).await;
                    None
                },
            )
            .await
        });
        assert!(
            matches!(reopened, Some(Ok(()))),
            "writable again: {reopened:?}"
        );
        assert!(poller.as_mut().poll_writable(&mut cx).is_ready());
    }

    fn transmit(to: SocketAddr, contents: &[u8]) -> Transmit<'_> {
        Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: None,
        }
    }

    #[test]
    fn a_closed_port_is_reported_and_the_next_send_still_goes_out() {
        let socket = Socket::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let reports = socket.unreachable().unwrap();
        let gone = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap();
        let live = UdpSocket::bind("127.0.0.1:0").unwrap();
        live.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        socket.try_send(&transmit(gone, b"anyone?")).unwrap();
        // The ICMP answer is queued by the time the next send is made; that send
        // would fail with it (and the datagram never leave) if not read first.
        std::thread::sleep(std::time::Duration::from_millis(50));
        socket
            .try_send(&transmit(live.local_addr().unwrap(), b"hello"))
            .unwrap();
        let mut buf = [0u8; 16];
        let n = live.recv(&mut buf).expect("the second datagram arrived");
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(reports.try_recv(), Ok(gone));
    }
}
