//! Paths to a peer, tried in the order ICE tries them: its direct addresses (all at
//! once), then a punched path through a rendezvous, then a relayed one. Each way to
//! reach the peer is a [`Candidate`]; [`Dialer::connect`] walks them in order and
//! ends on the first that carries a QUIC connection proving the peer's key.
//!
//! The relayed path: the dialer takes an allocation of its own on the TURN relay,
//! binds a channel to the peer's relayed address and runs QUIC over the allocation
//! ([`TurnSocket`]). The listener's allocation on the same relay has a permission for
//! the relay's address, so packets from any allocation there reach it.
//!
//! A punched socket is handed to QUIC, so the punch and the connection share one
//! NAT mapping. The listener's side of a punch is [`await_punch`] (through a
//! rendezvous) or [`punch_signalled`] (candidates exchanged some other way).

use super::quic::{Endpoint, Tuning};
use super::turn_client::{self, Credentials};
use super::turn_socket::TurnSocket;
use crate::connect::punch::binding::{self, Request};
use crate::connect::punch::candidate::{Candidate as PunchCandidate, session_from};
use crate::connect::punch::engine::{self, Plan, Punched, Technique};
use crate::connect::punch::gather::gather;
use crate::connect::punch::rendezvous::{Client, Introduction};
use crate::identity::Identity;
use crate::identity::peer_id::PeerId;
use crate::{Context, Error, Result, narrate};
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// How long learning this side's public address from a rendezvous may take.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);

/// How the path that carries a connection was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// To one of the peer's own addresses.
    Direct,
    /// Through a hole punched with this technique.
    Punched(Technique),
    /// Through a TURN relay.
    Relayed,
}

impl Via {
    /// `direct` or `punched`.
    pub fn kind(&self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Punched(_) => "punched",
            Via::Relayed => "relayed",
        }
    }

    /// Whether the path runs without a relay, as `--require-direct` wants.
    pub fn is_direct(&self) -> bool {
        !matches!(self, Via::Relayed)
    }

    /// The punching technique, for a punched path.
    pub fn technique(&self) -> Option<&'static str> {
        match self {
            Via::Direct | Via::Relayed => None,
            Via::Punched(t) => Some(t.as_str()),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Direct => f.write_str("direct"),
            Via::Punched(t) => write!(f, "punched ({t})"),
            Via::Relayed => f.write_str("relayed"),
        }
    }
}

/// One way to reach a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// The peer's own UDP addresses, dialled all at once.
    Direct(Vec<SocketAddr>),
    /// A hole punched with the help of the rendezvous at this address.
    Rendezvous(SocketAddr),
    /// To the peer's relayed address `peer`: through an allocation of the dialer's
    /// own on the TURN relay `server`, or (`server` `None`) straight from a plain
    /// socket, when the peer installed a permission for this side's public address
    /// on hearing of it from the rendezvous.
    Relayed {
        /// The TURN server the dialer allocates on, if it does.
        server: Option<SocketAddr>,
        /// The peer's relayed transport address there.
        peer: SocketAddr,
    },
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Candidate::Direct(_) => f.write_str("direct"),
            Candidate::Rendezvous(server) => write!(f, "punched via udp://{server}"),
            Candidate::Relayed {
                server: Some(server),
                ..
            } => write!(f, "relayed via turn://{server}"),
            Candidate::Relayed { server: None, peer } => {
                write!(f, "relayed to its allocation udp://{peer}")
            }
        }
    }
}

/// A candidate path in words, with its addresses: `direct to udp://…, udp://…`.
fn describe(candidate: &Candidate) -> String {
    match candidate {
        Candidate::Direct(addrs) => format!(
            "direct to {}",
            addrs
                .iter()
                .map(|a| format!("udp://{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A connection and the path it runs over.
pub struct Path {
    /// How the path was made.
    pub via: Via,
    /// The endpoint (and socket) the connection runs on.
    pub endpoint: Endpoint,
    /// The connection, with the peer's key proven.
    pub conn: quinn::Connection,
}

/// What dialling needs besides the peer.
#[derive(Clone)]
pub struct Dialer {
    /// The identity to prove.
    pub identity: Identity,
    /// The protocol to speak.
    pub alpn: Vec<u8>,
    /// Transport settings.
    pub tuning: Tuning,
    /// The local address to dial from (its port is used for direct dials only;
    /// every punch binds a fresh socket on its IP).
    pub bind: SocketAddr,
    /// How long the direct addresses get before the next candidate is tried.
    pub direct_timeout: Duration,
    /// How long a punch may take.
    pub punch_timeout: Duration,
    /// Credentials for a relayed candidate's TURN server [default: the identity's
    /// peer key].
    pub relay_credentials: Option<Credentials>,
}

impl Dialer {
    /// Tries `candidates` in order; `failed` hears of each one that did not work.
    pub async fn connect(
        &self,
        peer: PeerId,
        candidates: &[Candidate],
        mut failed: impl FnMut(&Candidate, &Error),
    ) -> Result<Path> {
        let mut last = None;
        narrate!(
            "paths to {peer}, tried in order: {}",
            candidates
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; ")
        );
        for candidate in candidates {
            narrate!("trying {}", describe(candidate));
            let started = std::time::Instant::now();
            let attempt = match candidate {
                Candidate::Direct(addrs) => self.direct(peer, addrs).await,
                Candidate::Rendezvous(server) => self.punched(peer, *server).await,
                Candidate::Relayed {
                    server: Some(server),
                    peer: at,
                } => self.relayed(peer, *server, *at).await,
                Candidate::Relayed {
                    server: None,
                    peer: at,
                } => {
                    self.to_allocation(peer, *at, rendezvous_of(candidates))
                        .await
                }
            };
            match attempt {
                Ok(path) => {
                    narrate!(
                        "path chosen: {} to udp://{}, QUIC handshake done and {peer}'s key proven in {}",
                        path.via,
                        path.conn.remote_address(),
                        crate::cli::figures::millis(started.elapsed())
                    );
                    return Ok(path);
                }
                Err(e) => {
                    narrate!("{} failed: {e}", describe(candidate));
                    failed(candidate, &e);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::failure(format!("no way to reach {peer} is known"))))
    }

    async fn direct(&self, peer: PeerId, addrs: &[SocketAddr]) -> Result<Path> {
        let endpoint = Endpoint::bind(&self.identity, self.bind, None, self.tuning)?;
        let limit = self.direct_timeout;
        let conn = smol::future::or(endpoint.dial(peer, addrs, &self.alpn), async {
            smol::Timer::after(limit).await;
            Err(Error::timeout(format!(
                "no answer from its direct addresses within {}",
                crate::cli::duration::format(limit)
            )))
        })
        .await?;
        Ok(Path {
            via: Via::Direct,
            endpoint,
            conn,
        })
    }

    async fn punched(&self, peer: PeerId, server: SocketAddr) -> Result<Path> {
        let (identity, bind, timeout) = (self.identity.clone(), self.bind, self.punch_timeout);
        let punched = smol::unblock(move || {
            let socket = fresh_socket(bind)?;
            let candidate = gather(&socket, &identity, server, GATHER_TIMEOUT)
                .context("learning this side's address from the rendezvous")?;
            let mut client = Client::new(&socket, server, &identity);
            client.register(&candidate, timeout)?;
            let intro = client.connect(&peer, timeout)?;
            if intro.peer.id != peer {
                return Err(Error::failure(format!(
                    "the rendezvous introduced {} instead of {peer}",
                    intro.peer.id
                )));
            }
            punch(socket, &identity, candidate, intro, timeout)
        })
        .await?;
        let via = Via::Punched(punched.technique);
        let remote = punched.remote;
        let endpoint = Endpoint::from_socket(&self.identity, punched.socket, None, self.tuning)?;
        let conn = endpoint.dial(peer, &[remote], &self.alpn).await?;
        Ok(Path {
            via,
            endpoint,
            conn,
        })
    }
}

impl Dialer {
    async fn relayed(&self, peer: PeerId, server: SocketAddr, at: SocketAddr) -> Result<Path> {
        let credentials = self
            .relay_credentials
            .clone()
            .unwrap_or_else(|| Credentials::PeerKey(Box::new(self.identity.clone())));
        let (bind, timeout) = (self.bind, self.direct_timeout);
        let (client, channel) = smol::unblock(move || {
            let socket = fresh_socket(bind)?;
            let mut client =
                turn_client::Client::allocate(socket, server, credentials, None, timeout)
                    .with_context(|| format!("allocating on turn://{server}"))?;
            let channel = client.bind_channel(at)?;
            Ok::<_, Error>((client, channel))
        })
        .await?;
        let socket = TurnSocket::start(client)?;
        socket.use_channel(at, channel);
        let endpoint = Endpoint::from_turn(&self.identity, socket, None, self.tuning)?;
        let conn = endpoint.dial(peer, &[at], &self.alpn).await?;
        Ok(Path {
            via: Via::Relayed,
            endpoint,
            conn,
        })
    }
}

/// The rendezvous among `candidates` (the one that introduces this side to the peer).
fn rendezvous_of(candidates: &[Candidate]) -> Option<SocketAddr> {
    candidates.iter().find_map(|c| match c {
        Candidate::Rendezvous(server) => Some(*server),
        _ => None,
    })
}

/// The public address of `socket` as the STUN server (or rendezvous) `server` sees it.
fn public_address(socket: &UdpSocket, server: SocketAddr) -> Result<SocketAddr> {
    let mut stats = binding::Stats::default();
    let answers = binding::transact(socket, &[Request::to(server)], GATHER_TIMEOUT, &mut stats)?;
    answers
        .into_iter()
        .next()
        .flatten()
        .and_then(|r| r.mapped())
        .ok_or_else(|| Error::timeout(format!("udp://{server} did not say this side's address")))
}

impl Dialer {
    /// Dials the peer's relayed address from a plain socket on `bind`'s IP (the
    /// peer's relay must hold a permission for this side's public address). The
    /// socket's public address, learnt from `rendezvous`, is a candidate for the
    /// direct path the stream may move to.
    async fn to_allocation(
        &self,
        peer: PeerId,
        at: SocketAddr,
        rendezvous: Option<SocketAddr>,
    ) -> Result<Path> {
        let bind = self.bind;
        let (socket, mapped) = smol::unblock(move || {
            let socket = fresh_socket(bind)?;
            let mapped = rendezvous.and_then(|server| match public_address(&socket, server) {
                Ok(mapped) => Some(mapped),
                Err(e) => {
                    narrate!("this side's public address for a direct path: {e}");
                    None
                }
            });
            Ok::<_, Error>((socket, mapped))
        })
        .await?;
        let socket = TurnSocket::plain(socket, at, mapped)?;
        let endpoint = Endpoint::from_turn(&self.identity, socket, None, self.tuning)?;
        let limit = self.direct_timeout;
        let conn = smol::future::or(endpoint.dial(peer, &[at], &self.alpn), async {
            smol::Timer::after(limit).await;
            Err(Error::timeout(format!(
                "no answer through the peer's relayed address within {}",
                crate::cli::duration::format(limit)
            )))
        })
        .await?;
        Ok(Path {
            via: Via::Relayed,
            endpoint,
            conn,
        })
    }
}

/// The listener's side of the relayed path: an allocation on `server` with a
/// permission for the relay's own address (where the dialers' allocations are), as
/// a listening endpoint. Returns the endpoint, the relayed address to advertise and
/// the allocation (to add permissions for peers the rendezvous introduces).
pub fn listen_relayed(
    identity: &Identity,
    bind: SocketAddr,
    server: SocketAddr,
    credentials: Option<Credentials>,
    listen: super::quic::endpoint::Listen,
    tuning: Tuning,
) -> Result<(Endpoint, SocketAddr, Arc<TurnSocket>)> {
    let credentials =
        credentials.unwrap_or_else(|| Credentials::PeerKey(Box::new(identity.clone())));
    let socket = fresh_socket(bind)?;
    let mut client =
        turn_client::Client::allocate(socket, server, credentials, None, GATHER_TIMEOUT)
            .with_context(|| format!("allocating on turn://{server}"))?;
    let relayed = client.relayed();
    client.create_permission(&[SocketAddr::new(relayed.ip(), 0)])?;
    let socket = TurnSocket::start(client)?;
    let endpoint = Endpoint::from_turn(identity, socket.clone(), Some(listen), tuning)?;
    Ok((endpoint, relayed, socket))
}

/// A socket on `bind`'s IP with a fresh port.
fn fresh_socket(bind: SocketAddr) -> Result<UdpSocket> {
    let addr = SocketAddr::new(bind.ip(), 0);
    UdpSocket::bind(addr).with_context(|| format!("binding udp://{addr}"))
}

fn punch(
    socket: UdpSocket,
    identity: &Identity,
    me: PunchCandidate,
    intro: Introduction,
    timeout: Duration,
) -> Result<Punched> {
    let peer = intro.peer.id;
    let mut plan = Plan::new(intro.session, me, intro.peer);
    plan.start_in = intro.start_in;
    plan.timeout = timeout;
    let outcome = engine::punch(socket, identity, &plan)?;
    outcome.punched.ok_or_else(|| {
        Error::failure(format!(
            "no hole punched to {peer} after {} probes in {} ms",
            outcome.attempts,
            outcome.elapsed.as_millis()
        ))
    })
}

/// The listener's side of a punch through a rendezvous: registers a fresh socket on
/// `bind`'s IP at `server` (calling `registered` with the address the rendezvous
/// sees), waits up to `wait` (forever without) for a peer to ask (calling
/// `introduced` with its candidate), and punches.
pub fn await_punch(
    identity: &Identity,
    bind: SocketAddr,
    server: SocketAddr,
    wait: Option<Duration>,
    punch_timeout: Duration,
    registered: impl FnOnce(SocketAddr),
    introduced: impl FnOnce(&PunchCandidate),
) -> Result<(PeerId, Punched)> {
    let socket = fresh_socket(bind)?;
    let candidate = gather(&socket, identity, server, GATHER_TIMEOUT)
        .context("learning this side's address from the rendezvous")?;
    let mut client = Client::new(&socket, server, identity);
    registered(client.register(&candidate, GATHER_TIMEOUT)?);
    let intro = client.wait_for_introduction(&candidate, wait)?;
    introduced(&intro.peer);
    let peer = intro.peer.id;
    Ok((
        peer,
        punch(socket, identity, candidate, intro, punch_timeout)?,
    ))
}

/// A punch from candidates exchanged outside any rendezvous (`--signal stdio`): both
/// sides call it with their own candidate and the peer's, at about the same time.
pub fn punch_signalled(
    socket: UdpSocket,
    identity: &Identity,
    mine: PunchCandidate,
    theirs: PunchCandidate,
    punch_timeout: Duration,
) -> Result<Punched> {
    let intro = Introduction {
        session: session_from(&mine, &theirs),
        peer: theirs,
        start_in: Duration::ZERO,
    };
    punch(socket, identity, mine, intro, punch_timeout)
}
