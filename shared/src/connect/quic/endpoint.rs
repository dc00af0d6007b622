//! A QUIC endpoint that speaks for one identity: it dials a peer id at several
//! addresses at once (the first handshake that proves the peer's key wins) and,
//! when listening, accepts the peers its allow list admits.
//!
//! It runs on the socket it is given: a freshly bound one, or one that a hole punch
//! opened (so the punch and the connection share one NAT mapping).

use super::config::{self, Tuning};
use super::keys::peer_of_spki;
use super::runtime::Socket;
use super::verify::Allow;
use crate::connect::turn_socket::TurnSocket;
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Context, Error, Result};
use quinn::ConnectionError;
use rustls::pki_types::CertificateDer;
use smol::channel::Receiver;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// The TLS server name every dial uses: peers are told apart by key, not by name.
const SERVER_NAME: &str = "p2p";

/// The application error code a dialer closes the connections with that lost the
/// happy-eyeballs race.
pub const CODE_NOT_CHOSEN: u32 = 0x70;

/// Socket buffers asked for (the kernel may cap them at `net.core.*mem_max`).
const SOCKET_BUFFER: usize = 8 << 20;

/// What a listening endpoint admits.
#[derive(Debug, Clone)]
pub struct Listen {
    /// The peers that may connect.
    pub allow: Allow,
    /// The protocols spoken.
    pub alpns: Vec<Vec<u8>>,
}

/// A QUIC endpoint bound to one UDP socket, speaking for one identity.
pub struct Endpoint {
    inner: quinn::Endpoint,
    identity: Identity,
    tuning: Tuning,
    listen: Option<Listen>,
    /// The UDP socket underneath, when not relayed.
    udp: Option<Arc<Socket>>,
    /// The TURN allocation underneath, when relayed.
    turn: Option<Arc<TurnSocket>>,
}

impl Endpoint {
    /// An endpoint on a new socket bound to `addr`; with `listen`, it accepts peers.
    pub fn bind(
        identity: &Identity,
        addr: SocketAddr,
        listen: Option<Listen>,
        tuning: Tuning,
    ) -> Result<Self> {
        let socket = UdpSocket::bind(addr).with_context(|| format!("binding udp://{addr}"))?;
        Self::from_socket(identity, socket, listen, tuning)
    }

    /// An endpoint on `socket` (for example one a hole punch opened).
    pub fn from_socket(
        identity: &Identity,
        socket: UdpSocket,
        listen: Option<Listen>,
        tuning: Tuning,
    ) -> Result<Self> {
        let sock = socket2::SockRef::from(&socket);
        // Larger buffers keep bursts from being dropped; the kernel's cap applies.
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
        let server = match &listen {
            Some(l) => Some(server_config(identity, l, &tuning)?),
            None => None,
        };
        let socket = Arc::new(Socket::new(socket).context("starting the QUIC endpoint")?);
        let inner = quinn::Endpoint::new_with_abstract_socket(
            config::endpoint(),
            server,
            socket.clone(),
            Arc::new(super::runtime::Smol),
        )
        .context("starting the QUIC endpoint")?;
        Ok(Endpoint {
            inner,
            identity: identity.clone(),
            tuning,
            listen,
            udp: Some(socket),
            turn: None,
        })
    }

    /// An endpoint on a TURN allocation; [`Endpoint::shut`] releases it.
    pub fn from_turn(
        identity: &Identity,
        socket: Arc<TurnSocket>,
        listen: Option<Listen>,
        tuning: Tuning,
    ) -> Result<Self> {
        let server = match &listen {
            Some(l) => Some(server_config(identity, l, &tuning)?),
            None => None,
        };
        let inner = quinn::Endpoint::new_with_abstract_socket(
            config::endpoint(),
            server,
            socket.clone(),
            Arc::new(super::runtime::Smol),
        )
        .context("starting the QUIC endpoint")?;
        Ok(Endpoint {
            inner,
            identity: identity.clone(),
            tuning,
            listen,
            udp: None,
            turn: Some(socket),
        })
    }

    /// The peer addresses that answer with ICMP "port unreachable" from now on
    /// (their process is gone: see [`super::icmp`]); on a TURN allocation,
    /// nothing is reported.
    pub fn unreachable(&self) -> Result<Receiver<SocketAddr>> {
        match &self.udp {
            Some(socket) => Ok(socket
                .unreachable()
                .context("asking for ICMP errors on the socket")?),
            None => Ok(smol::channel::bounded(1).1),
        }
    }

    /// The TURN allocation underneath, when the endpoint runs on one.
    pub fn turn(&self) -> Option<&Arc<TurnSocket>> {
        self.turn.as_ref()
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }

    /// The identity this endpoint proves.
    pub fn id(&self) -> PeerId {
        self.identity.id()
    }

    /// Replaces the allow list of a listening endpoint (new handshakes only).
    pub fn set_allow(&mut self, allow: Allow) -> Result<()> {
        let Some(listen) = &mut self.listen else {
            return Err(Error::usage("this endpoint does not listen"));
        };
        listen.allow = allow;
        let server = server_config(&self.identity, listen, &self.tuning)?;
        self.inner.set_server_config(Some(server));
        Ok(())
    }

    /// Connects to `peer` speaking `alpn`, trying every address of `addrs` at once.
    /// The first handshake in which the other side proves it holds `peer`'s key wins;
    /// the others are closed. Fails with every address's reason when none works.
    pub async fn dial(
        &self,
        peer: PeerId,
        addrs: &[SocketAddr],
        alpn: &[u8],
    ) -> Result<quinn::Connection> {
        let local = self.local_addr()?;
        let usable: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| reachable_from(local, *a))
            .collect();
        if usable.is_empty() {
            return Err(Error::failure(format!(
                "no address of {peer} can be reached from udp://{local}"
            )));
        }
        let client = config::client(&self.identity, peer, alpn, &self.tuning)?;
        let (tx, rx) = smol::channel::unbounded();
        let mut tasks = Vec::new();
        let mut reasons = Vec::new();
        for addr in &usable {
            match self.inner.connect_with(client.clone(), *addr, SERVER_NAME) {
                Ok(connecting) => {
                    let tx = tx.clone();
                    let addr = *addr;
                    tasks.push(crate::task::spawn(async move {
                        let _ = tx.send((addr, connecting.await)).await;
                    }));
                }
                Err(e) => reasons.push(format!("udp://{addr}: {e}")),
            }
        }
        drop(tx);
        let mut timed_out = !tasks.is_empty();
        let mut winner = None;
        while let Ok((addr, outcome)) = rx.recv().await {
            match outcome {
                Ok(conn) if winner.is_none() => winner = Some(conn),
                Ok(conn) => conn.close(CODE_NOT_CHOSEN.into(), b"another path won"),
                Err(e) => {
                    timed_out &= matches!(e, ConnectionError::TimedOut);
                    reasons.push(format!("udp://{addr}: {}", describe(&e)));
                }
            }
            if winner.is_some() {
                break;
            }
        }
        if let Some(conn) = winner {
            // Handshakes still running are cancelled with their tasks; any that
            // completes first is closed above, so the peer never keeps a stray one.
            crate::task::spawn(async move {
                while let Ok((_, outcome)) = rx.recv().await {
                    if let Ok(conn) = outcome {
                        conn.close(CODE_NOT_CHOSEN.into(), b"another path won");
                    }
                }
            })
            .detach();
            for task in tasks {
                task.detach();
            }
            return Ok(conn);
        }
        let message = format!("could not connect to {peer}: {}", reasons.join("; "));
        Err(if timed_out {
            Error::timeout(message)
        } else {
            Error::failure(message)
        })
    }

    /// The next connection attempt, or `None` once the endpoint is closed. Nothing is
    /// awaited on the attempt until [`Incoming::accept`], so a caller may handshake
    /// several at once.
    pub async fn accept(&self) -> Option<Incoming> {
        self.inner
            .accept()
            .await
            .map(|incoming| Incoming { incoming })
    }

    /// Closes every connection with `code` and waits (at most `linger`) until the
    /// peers have been told, so a last close is not lost with the process; a TURN
    /// allocation underneath is released.
    pub async fn shut(&self, code: u32, reason: &[u8], linger: Duration) {
        self.inner.close(code.into(), reason);
        let _ = smol::future::or(
            async {
                self.inner.wait_idle().await;
                true
            },
            async {
                smol::Timer::after(linger).await;
                false
            },
        )
        .await;
        if let Some(turn) = self.turn.clone() {
            smol::unblock(move || turn.release()).await;
        }
    }
}

/// A connection attempt at a listening endpoint.
pub struct Incoming {
    incoming: quinn::Incoming,
}

impl Incoming {
    /// Where the attempt comes from.
    pub fn remote(&self) -> SocketAddr {
        self.incoming.remote_address()
    }

    /// Completes the handshake: the peer's id (already checked against the allow
    /// list) and the connection, or why it failed.
    pub async fn accept(self) -> Result<(PeerId, quinn::Connection)> {
        let remote = self.incoming.remote_address();
        let conn = self
            .incoming
            .await
            .map_err(|e| Error::failure(format!("udp://{remote}: {}", describe(&e))))?;
        let peer = peer_id(&conn)
            .ok_or_else(|| Error::failure(format!("udp://{remote}: the peer showed no key")))?;
        Ok((peer, conn))
    }
}

/// The verified peer id of an established connection.
pub fn peer_id(conn: &quinn::Connection) -> Option<PeerId> {
    let identity = conn.peer_identity()?;
    let certs = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    peer_of_spki(certs.first()?.as_ref()).ok()
}

/// The protocol negotiated on an established connection.
pub fn alpn(conn: &quinn::Connection) -> Option<Vec<u8>> {
    let data = conn.handshake_data()?;
    let data = data
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?;
    data.protocol
}

/// A human account of why a connection failed or ended.
pub fn describe(err: &ConnectionError) -> String {
    match err {
        ConnectionError::TimedOut => "no answer (timed out)".to_owned(),
        ConnectionError::ApplicationClosed(close) => {
            format!(
                "closed by the peer ({}{})",
                close.error_code,
                reason_suffix(&close.reason)
            )
        }
        ConnectionError::ConnectionClosed(close) => {
            format!(
                "refused by the peer: {}{}",
                close.error_code,
                reason_suffix(&close.reason)
            )
        }
        ConnectionError::TransportError(e) => e.to_string(),
        other => other.to_string(),
    }
}

fn reason_suffix(reason: &[u8]) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", String::from_utf8_lossy(reason))
    }
}

fn server_config(
    identity: &Identity,
    listen: &Listen,
    tuning: &Tuning,
) -> Result<quinn::ServerConfig> {
    let alpns: Vec<&[u8]> = listen.alpns.iter().map(Vec::as_slice).collect();
    config::server(identity, listen.allow.clone(), &alpns, tuning)
}

/// Whether a socket bound to `local` can send to `remote` (an IPv4 socket cannot
/// reach IPv6 addresses; an IPv6 wildcard socket reaches both).
fn reachable_from(local: SocketAddr, remote: SocketAddr) -> bool {
    match (local, remote) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => true,
        (SocketAddr::V4(_), SocketAddr::V6(r)) => r.ip().to_ipv4_mapped().is_some(),
        (SocketAddr::V6(l), _) => l.ip().is_unspecified() || remote.is_ipv6(),
    }
}
