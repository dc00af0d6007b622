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
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

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
}

impl Socket {
    /// Wraps a bound socket (made non-blocking).
    pub fn new(sock: UdpSocket) -> io::Result<Self> {
        Ok(Socket {
            state: UdpSocketState::new((&sock).into())?,
            io: Arc::new(Async::new_nonblocking(sock)?),
            gate: Arc::default(),
        })
    }
}

impl AsyncUdpSocket for Socket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.gate.poller(Arc::clone(&self.io))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.gate
            .sent(self.state.send(self.io.as_ref().into(), transmit))
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
            if let Ok(n) = self.state.recv(self.io.as_ref().into(), bufs, meta) {
                return Poll::Ready(Ok(n));
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
}
