//! The hole-punching engine: given this side's socket and both sides' candidates,
//! find a working UDP path to the peer.
//!
//! Phase one (simultaneous open): from the start time on, probe every candidate of
//! the peer (its local addresses, its observed address, and ports predicted from
//! its mapping pattern when its NAT maps per destination), and answer every
//! authenticated probe, adding its source as a candidate (a peer-reflexive one).
//! Phase two, after `escalate_after`, when exactly one side's NAT maps per
//! destination (the "hard" side): the birthday technique. The hard side opens many
//! sockets and sends one probe from each to the easy side's public address,
//! creating many mappings; the easy side probes random ports of the hard side's
//! public IP until one hits a mapping. Every send counts against `rate` per second.
//!
//! A side is done when an ack echoes one of its nonces (a proven round trip); it then
//! sends a final ack so the peer completes too, and lingers briefly to answer.
//!
//! A local address the peer claims on another IP than the one the rendezvous saw it
//! at is unverified: it may name a third party. Such an address gets at most
//! [`UNVERIFIED_PROBES`] probes (as ICE's connectivity checks do) until an
//! authenticated packet comes from it.

use super::candidate::Candidate;
use super::probe::{Kind, Probe};
use crate::identity::Identity;
use crate::{Result, narrate, narrate_packet, random};
use smol::{Async, LocalExecutor, Timer, channel, future};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How the working path was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Technique {
    /// To a local address of the peer (same network, or a peer without NAT).
    Direct,
    /// Both sides probing each other's public addresses at once.
    SimultaneousOpen,
    /// To a port predicted from the peer's NAT's allocation pattern.
    PortPrediction,
    /// Many mappings on the hard side, random probes from the easy side.
    Birthday,
}

impl Technique {
    /// The name used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Technique::Direct => "direct",
            Technique::SimultaneousOpen => "simultaneous-open",
            Technique::PortPrediction => "port-prediction",
            Technique::Birthday => "birthday",
        }
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to punch and how hard to try.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The session id both sides use.
    pub session: [u8; 16],
    /// This side's candidates.
    pub me: Candidate,
    /// The peer's candidates.
    pub peer: Candidate,
    /// Wait this long before the first probe (the common start time).
    pub start_in: Duration,
    /// Give up after this long (from the start time).
    pub timeout: Duration,
    /// At most this many packets per second.
    pub rate: u32,
    /// Sockets the hard side opens for the birthday technique.
    pub birthday_sockets: usize,
    /// When to escalate from simultaneous open to the birthday technique.
    pub escalate_after: Duration,
    /// How long to stay after success to let the peer finish.
    pub linger: Duration,
}

impl Plan {
    /// A plan with the default limits: 5 s, 1000 packets/s, 256 birthday sockets,
    /// escalation after 300 ms, 1 s linger.
    pub fn new(session: [u8; 16], me: Candidate, peer: Candidate) -> Self {
        Plan {
            session,
            me,
            peer,
            start_in: Duration::ZERO,
            timeout: Duration::from_secs(5),
            rate: 1000,
            birthday_sockets: 256,
            escalate_after: Duration::from_millis(300),
            linger: Duration::from_secs(1),
        }
    }
}

/// A working path.
#[derive(Debug)]
pub struct Punched {
    /// The socket the path starts from (the one given, or a birthday socket).
    pub socket: UdpSocket,
    /// Its local address.
    pub local: SocketAddr,
    /// The peer's address as seen from here.
    pub remote: SocketAddr,
    /// How it was found.
    pub technique: Technique,
    /// Round trip of the probe that proved it.
    pub rtt: Duration,
    /// From the start time to the proof.
    pub elapsed: Duration,
}

/// What an attempt came to.
#[derive(Debug)]
pub struct Outcome {
    /// The path, when one was found.
    pub punched: Option<Punched>,
    /// Probes sent.
    pub attempts: u64,
    /// Packets dropped: malformed, another session's, or not signed by the peer.
    pub dropped: u64,
    /// The techniques that were tried, in order.
    pub tried: Vec<Technique>,
    /// From the start time to success or giving up.
    pub elapsed: Duration,
}

/// The lowest port the birthday technique probes (NATs rarely map below it).
const LOWEST_PORT: u16 = 1024;
/// How often phase one probes every target.
const ROUND: Duration = Duration::from_millis(50);
/// Most probes sent to an unverified address before it answers.
pub const UNVERIFIED_PROBES: u32 = 8;
/// The engine's clock tick.
const TICK: Duration = Duration::from_millis(5);
/// How often the hard side re-sends from its birthday sockets.
const BIRTHDAY_REFRESH: Duration = Duration::from_secs(1);

/// Ports to try when the peer's NAT allocates ports in steps: the ports it showed
/// successive servers, continued by the same step (up to 16 of them); nothing when
/// the step is zero, irregular or large.
pub fn predicted_ports(ports: &[u16]) -> Vec<u16> {
    let [.., a, b] = ports else { return Vec::new() };
    let step = i32::from(*b) - i32::from(*a);
    if step == 0 || step.abs() > 16 {
        return Vec::new();
    }
    if ports
        .windows(2)
        .any(|w| i32::from(w[1]) - i32::from(w[0]) != step)
    {
        return Vec::new();
    }
    (1..=16)
        .filter_map(|k| u16::try_from(i32::from(*b) + step * k).ok())
        .filter(|p| *p >= LOWEST_PORT)
        .collect()
}

struct Sent {
    at: Instant,
    technique: Technique,
}

struct Engine<'a> {
    identity: &'a Identity,
    plan: &'a Plan,
    sockets: Vec<Rc<Async<UdpSocket>>>,
    /// Sockets opened for the birthday technique (index ≥ 1).
    birthday_side: bool,
    targets: Vec<(usize, SocketAddr, Technique)>,
    known: HashSet<(usize, SocketAddr)>,
    sent: HashMap<u64, Sent>,
    tokens: f64,
    attempts: u64,
    dropped: u64,
    tried: Vec<Technique>,
    /// Addresses the peer's probes came from (each narrated once).
    heard: Vec<SocketAddr>,
    tried_ports: HashSet<u16>,
    /// Probes left for each unverified address (gone once it answers).
    unverified: HashMap<SocketAddr, u32>,
}

impl Engine<'_> {
    /// Takes one probe from `to`'s budget when it is unverified; false when spent.
    fn may_probe(&mut self, to: SocketAddr) -> bool {
        match self.unverified.get_mut(&to) {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }

    /// True for an address the peer's candidate named (or that was predicted from it).
    fn advertised(&self, addr: SocketAddr) -> bool {
        self.targets
            .iter()
            .any(|(_, a, t)| *a == addr && *t != Technique::Birthday && self.known_at_start(*a))
    }

    fn known_at_start(&self, addr: SocketAddr) -> bool {
        self.plan.peer.local.contains(&addr)
            || self.plan.peer.observed.is_some_and(|o| {
                o == addr
                    || o.ip() == addr.ip()
                        && predicted_ports(&self.plan.peer.ports).contains(&addr.port())
            })
    }

    fn note_tried(&mut self, technique: Technique) {
        if !self.tried.contains(&technique) {
            narrate!("trying {technique}");
            self.tried.push(technique);
        }
    }

    fn add_target(&mut self, socket: usize, addr: SocketAddr, technique: Technique) {
        if self.known.insert((socket, addr)) {
            self.targets.push((socket, addr, technique));
        }
    }

    async fn send(
        &mut self,
        socket: usize,
        to: SocketAddr,
        kind: Kind,
        echo: u64,
        technique: Technique,
    ) -> Result<u64> {
        let nonce = u64::from_be_bytes(random::bytes()?) | 1;
        let probe = Probe {
            kind,
            session: self.plan.session,
            nonce,
            echo,
            birthday: socket != 0,
        };
        let bytes = probe.seal(self.identity);
        narrate_packet!("{kind:?} to {to} ({technique}, socket {socket})");
        // Errors are ICMP reports of earlier probes or unreachable networks (a local
        // candidate on another LAN): expected while punching, so not fatal.
        let _ = self.sockets[socket].send_to(&bytes, to).await;
        if kind == Kind::Probe {
            self.attempts += 1;
        }
        // Acks are remembered too: a final ack echoing one proves the round trip.
        if matches!(kind, Kind::Probe | Kind::Ack) {
            self.sent.insert(
                nonce,
                Sent {
                    at: Instant::now(),
                    technique,
                },
            );
        }
        Ok(nonce)
    }
}

/// Punches a path to `plan.peer` from `socket`, signing probes as `identity`.
pub fn punch(socket: UdpSocket, identity: &Identity, plan: &Plan) -> Result<Outcome> {
    let ex = LocalExecutor::new();
    future::block_on(ex.run(run(&ex, socket, identity, plan)))
}

/// The channel every receiving task feeds: (socket index, packet, source).
type Packets = channel::Sender<(usize, Vec<u8>, SocketAddr)>;

/// A proven path: through which socket, to where, how, its round trip and when.
#[derive(Clone, Copy)]
struct Success {
    socket: usize,
    remote: SocketAddr,
    technique: Technique,
    rtt: Duration,
    elapsed: Duration,
}

/// Whether the loop goes on after a packet.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The clock of one punch: when it started, ends, escalates, and the rate budget.
struct Schedule {
    start: Instant,
    deadline: Instant,
    escalate_at: Instant,
    /// Exactly one side maps per destination and the peer's public address is known.
    birthday: bool,
    escalated: bool,
    rate: f64,
    burst: f64,
    last_refill: Instant,
    next_round: Instant,
    next_refresh: Instant,
    cursor: usize,
    done: Option<Success>,
    linger_until: Instant,
}

impl Schedule {
    fn new(plan: &Plan, birthday: bool) -> Self {
        let start = Instant::now();
        let deadline = start + plan.timeout;
        let escalate_at = start + plan.escalate_after;
        let rate = f64::from(plan.rate.max(1));
        Schedule {
            start,
            deadline,
            escalate_at,
            birthday,
            escalated: false,
            rate,
            burst: (rate / 10.0).max(4.0),
            last_refill: start,
            next_round: start,
            next_refresh: escalate_at,
            cursor: 0,
            done: None,
            linger_until: deadline,
        }
    }

    /// True once the punch has lingered after success, or failed at its deadline.
    fn over(&self, now: Instant) -> bool {
        match self.done {
            Some(_) => now >= self.linger_until,
            None => now >= self.deadline,
        }
    }

    /// Adds the tokens earned since the last refill, up to the burst.
    fn refill(&mut self, engine: &mut Engine<'_>, now: Instant) {
        engine.tokens = (engine.tokens
            + self.rate * now.duration_since(self.last_refill).as_secs_f64())
        .min(self.burst);
        self.last_refill = now;
    }
}

/// Punches: seeds the targets, waits for the agreed start, then alternates sending
/// what the rate budget allows with answering what arrives, until done or out of time.
async fn run(
    ex: &LocalExecutor<'_>,
    socket: UdpSocket,
    identity: &Identity,
    plan: &Plan,
) -> Result<Outcome> {
    let local = socket.local_addr()?;
    let (tx, rx) = channel::unbounded::<(usize, Vec<u8>, SocketAddr)>();
    let primary = Rc::new(Async::new(socket)?);
    let mut tasks = vec![ex.spawn(receive(Rc::clone(&primary), 0, tx.clone()))];
    let mut engine = Engine::new(identity, plan, primary);
    engine.seed_targets();
    Timer::after(plan.start_in).await;
    let me_hard = plan.me.mapping.is_dependent();
    let peer_hard = plan.peer.mapping.is_dependent();
    let mut schedule = Schedule::new(plan, me_hard != peer_hard && plan.peer.observed.is_some());
    engine.tokens = schedule.burst;
    loop {
        let now = Instant::now();
        if schedule.over(now) {
            break;
        }
        schedule.refill(&mut engine, now);
        if schedule.done.is_none() {
            send_due(ex, &mut engine, &mut schedule, &tx, &mut tasks, local, now).await?;
        }
        let packet = future::or(async { rx.recv().await.ok() }, async {
            Timer::after(TICK).await;
            None
        })
        .await;
        let Some((socket, bytes, from)) = packet else {
            continue;
        };
        if engine
            .answer(socket, &bytes, from, &mut schedule, me_hard)
            .await?
            == Flow::Stop
        {
            break;
        }
    }
    let elapsed = schedule
        .done
        .map_or_else(|| schedule.start.elapsed(), |d| d.elapsed);
    for task in tasks {
        task.cancel().await;
    }
    engine.into_outcome(schedule.done, elapsed)
}

/// Sends this round's probes within the rate budget and, once escalated, a step of
/// the birthday technique.
async fn send_due(
    ex: &LocalExecutor<'_>,
    engine: &mut Engine<'_>,
    schedule: &mut Schedule,
    tx: &Packets,
    tasks: &mut Vec<smol::Task<()>>,
    local: SocketAddr,
    now: Instant,
) -> Result<()> {
    if now >= schedule.next_round {
        schedule.next_round = now + ROUND;
        schedule.cursor = 0;
    }
    while schedule.cursor < engine.targets.len() && engine.tokens >= 1.0 {
        let (socket, to, technique) = engine.targets[schedule.cursor];
        schedule.cursor += 1;
        if socket != 0 && technique == Technique::Birthday && engine.birthday_side {
            continue; // refreshed by the birthday step
        }
        if !engine.may_probe(to) {
            continue;
        }
        engine.tokens -= 1.0;
        engine.note_tried(technique);
        engine.send(socket, to, Kind::Probe, 0, technique).await?;
    }
    if schedule.birthday && now >= schedule.escalate_at {
        if !schedule.escalated {
            schedule.escalated = true;
            narrate!(
                "no path after {}: escalating to the birthday technique ({} sockets on the hard side)",
                crate::cli::figures::millis(now - schedule.start),
                engine.plan.birthday_sockets
            );
            engine.note_tried(Technique::Birthday);
        }
        birthday_step(
            ex,
            engine,
            tx,
            tasks,
            local,
            now,
            &mut schedule.next_refresh,
        )
        .await?;
    }
    Ok(())
}

impl<'a> Engine<'a> {
    fn new(identity: &'a Identity, plan: &'a Plan, primary: Rc<Async<UdpSocket>>) -> Self {
        Engine {
            identity,
            plan,
            sockets: vec![primary],
            birthday_side: plan.me.mapping.is_dependent() && !plan.peer.mapping.is_dependent(),
            targets: Vec::new(),
            known: HashSet::new(),
            sent: HashMap::new(),
            tokens: 0.0,
            attempts: 0,
            dropped: 0,
            tried: Vec::new(),
            heard: Vec::new(),
            tried_ports: HashSet::new(),
            unverified: HashMap::new(),
        }
    }

    /// The peer's candidates as the first targets: its local addresses, its observed
    /// address, and ports predicted from its mapping pattern when its NAT maps per
    /// destination.
    fn seed_targets(&mut self) {
        let peer = &self.plan.peer;
        narrate!(
            "the peer's candidates: local {:?}, public {}, mapping {}",
            peer.local,
            peer.observed
                .map_or_else(|| "unknown".to_owned(), |o| o.to_string()),
            peer.mapping.as_str()
        );
        let seen_at = peer.observed.map(|o| o.ip());
        for addr in &peer.local {
            self.add_target(0, *addr, Technique::Direct);
            if seen_at != Some(addr.ip()) {
                self.unverified.insert(*addr, UNVERIFIED_PROBES);
            }
        }
        if let Some(observed) = peer.observed {
            let technique = if peer.local.contains(&observed) {
                Technique::Direct
            } else {
                Technique::SimultaneousOpen
            };
            self.add_target(0, observed, technique);
            if peer.mapping.is_dependent() {
                for port in predicted_ports(&peer.ports) {
                    let to = SocketAddr::new(observed.ip(), port);
                    self.add_target(0, to, Technique::PortPrediction);
                }
            }
        }
    }

    /// Handles one received packet: answers a probe, completes on an ack that echoes
    /// one of our nonces, and stops once both sides know.
    async fn answer(
        &mut self,
        socket: usize,
        bytes: &[u8],
        from: SocketAddr,
        schedule: &mut Schedule,
        me_hard: bool,
    ) -> Result<Flow> {
        let plan = self.plan;
        let Ok(probe) = Probe::open(bytes, &plan.session, &plan.peer.id) else {
            narrate_packet!(
                "dropped {} bytes from {from}: not a probe of this session signed by the peer",
                bytes.len()
            );
            self.dropped += 1;
            return Ok(Flow::Continue);
        };
        narrate_packet!("{:?} from {from} (socket {socket})", probe.kind);
        if probe.kind == Kind::Probe && !self.heard.contains(&from) {
            self.heard.push(from);
            narrate!("the peer's probe arrived from {from}: answering");
        }
        self.unverified.remove(&from);
        let technique_here = if socket == 0 {
            Technique::SimultaneousOpen
        } else {
            Technique::Birthday
        };
        match probe.kind {
            Kind::Probe => {
                self.send(socket, from, Kind::Ack, probe.nonce, technique_here)
                    .await?;
                if schedule.done.is_none() {
                    self.add_target(socket, from, technique_here);
                }
            }
            Kind::Ack | Kind::FinalAck if schedule.done.is_some() => {
                let answer = if probe.kind == Kind::FinalAck {
                    Kind::Done
                } else {
                    Kind::FinalAck
                };
                self.send(socket, from, answer, probe.nonce, technique_here)
                    .await?;
                if answer == Kind::Done {
                    return Ok(Flow::Stop);
                }
            }
            Kind::Ack | Kind::FinalAck => {
                let Some(sent) = self.sent.get(&probe.echo) else {
                    self.dropped += 1;
                    return Ok(Flow::Continue);
                };
                let (at, technique) = (sent.at, sent.technique);
                let now = Instant::now();
                // Once the birthday technique runs, a path through one of its sockets
                // (ours, or the peer's as its flag says) or to an address nobody
                // advertised is its doing, even when a plain probe happened to prove
                // it first.
                let technique = if socket != 0
                    || probe.birthday
                    || (schedule.escalated && (me_hard || !self.advertised(from)))
                {
                    Technique::Birthday
                } else {
                    technique
                };
                narrate!(
                    "path proven: {} -> {from} by {technique}, round trip {}",
                    self.sockets[socket]
                        .get_ref()
                        .local_addr()
                        .map_or_else(|_| "?".to_owned(), |a| a.to_string()),
                    crate::cli::figures::millis(now - at)
                );
                schedule.done = Some(Success {
                    socket,
                    remote: from,
                    technique,
                    rtt: now - at,
                    elapsed: now - schedule.start,
                });
                if probe.kind == Kind::FinalAck {
                    self.send(socket, from, Kind::Done, probe.nonce, technique)
                        .await?;
                    return Ok(Flow::Stop);
                }
                self.send(socket, from, Kind::FinalAck, probe.nonce, technique)
                    .await?;
                schedule.linger_until = now + plan.linger;
            }
            Kind::Done => {
                if schedule.done.is_some() {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// The outcome: the punched socket (handed back blocking) and the counters.
    fn into_outcome(self, done: Option<Success>, elapsed: Duration) -> Result<Outcome> {
        let punched = match done {
            Some(success) => match self
                .sockets
                .into_iter()
                .nth(success.socket)
                .and_then(|s| Rc::try_unwrap(s).ok())
            {
                Some(socket) => {
                    let socket = socket.into_inner()?;
                    socket.set_nonblocking(false)?;
                    Some(Punched {
                        local: socket.local_addr()?,
                        socket,
                        remote: success.remote,
                        technique: success.technique,
                        rtt: success.rtt,
                        elapsed: success.elapsed,
                    })
                }
                None => None,
            },
            None => None,
        };
        Ok(Outcome {
            punched,
            attempts: self.attempts,
            dropped: self.dropped,
            tried: self.tried,
            elapsed,
        })
    }
}

/// One step of the birthday technique within the rate budget.
async fn birthday_step(
    ex: &LocalExecutor<'_>,
    engine: &mut Engine<'_>,
    tx: &Packets,
    tasks: &mut Vec<smol::Task<()>>,
    local: SocketAddr,
    now: Instant,
    next_refresh: &mut Instant,
) -> Result<()> {
    let Some(peer_public) = engine.plan.peer.observed else {
        return Ok(());
    };
    if engine.birthday_side {
        // Hard side: open sockets (one probe each), then refresh them now and then.
        while engine.sockets.len() <= engine.plan.birthday_sockets && engine.tokens >= 1.0 {
            let bind = SocketAddr::new(unspecified_like(local.ip()), 0);
            let socket = Rc::new(Async::<UdpSocket>::bind(bind)?);
            let index = engine.sockets.len();
            engine.sockets.push(Rc::clone(&socket));
            tasks.push(ex.spawn(receive(socket, index, tx.clone())));
            engine.tokens -= 1.0;
            engine
                .send(index, peer_public, Kind::Probe, 0, Technique::Birthday)
                .await?;
        }
        if engine.sockets.len() > engine.plan.birthday_sockets && now >= *next_refresh {
            *next_refresh = now + BIRTHDAY_REFRESH;
            for index in 1..engine.sockets.len() {
                engine
                    .send(index, peer_public, Kind::Probe, 0, Technique::Birthday)
                    .await?;
            }
        }
    } else {
        // Easy side: random ports of the hard side's public IP, never the same twice.
        let span = usize::from(u16::MAX - LOWEST_PORT) + 1;
        while engine.tokens >= 1.0 && engine.tried_ports.len() < span {
            let port =
                LOWEST_PORT + u16::from_be_bytes(random::bytes()?) % (u16::MAX - LOWEST_PORT + 1);
            if !engine.tried_ports.insert(port) {
                continue;
            }
            engine.tokens -= 1.0;
            let to = SocketAddr::new(peer_public.ip(), port);
            engine
                .send(0, to, Kind::Probe, 0, Technique::Birthday)
                .await?;
        }
    }
    Ok(())
}

/// The wildcard address of `ip`'s family, unless `ip` is a specific address (then
/// `ip`): birthday sockets leave through the same interface as the main one.
fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        other => other,
    }
}

async fn receive(
    socket: Rc<Async<UdpSocket>>,
    index: usize,
    tx: channel::Sender<(usize, Vec<u8>, SocketAddr)>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, from)) => {
                if tx.send((index, buf[..len].to_vec(), from)).await.is_err() {
                    return;
                }
            }
            // ICMP errors for earlier sends surface here; keep receiving.
            Err(e) if super::binding::transient(&e) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::punch::candidate::{Behaviour, session_from};

    #[test]
    fn predicts_regular_steps_only() {
        assert_eq!(&predicted_ports(&[5000, 5001])[..3], &[5002, 5003, 5004]);
        assert_eq!(&predicted_ports(&[5000, 4998])[..2], &[4996, 4994]);
        assert!(predicted_ports(&[5000, 5000]).is_empty());
        assert!(predicted_ports(&[5000, 31000]).is_empty());
        assert!(predicted_ports(&[5000, 5001, 5007]).is_empty());
        assert!(predicted_ports(&[5000]).is_empty());
    }

    fn candidate(identity: &Identity, socket: &UdpSocket, nonce: u8) -> Candidate {
        let addr = socket.local_addr().unwrap();
        Candidate {
            id: identity.id(),
            local: vec![addr],
            observed: Some(addr),
            mapping: Behaviour::None,
            ports: vec![addr.port()],
            nonce: [nonce; 16],
        }
    }

    #[test]
    fn two_sides_on_loopback_find_each_other_and_a_stranger_is_ignored() {
        let alice = Identity::from_seed([1; 32]);
        let bob = Identity::from_seed([2; 32]);
        let mallory = Identity::from_seed([3; 32]);
        let a_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = candidate(&alice, &a_socket, 1);
        let b = candidate(&bob, &b_socket, 2);
        let session = session_from(&a, &b);
        // Mallory knows the session and Bob's address but not Alice's key.
        let forged = Probe {
            kind: Kind::Probe,
            session,
            nonce: 9,
            echo: 0,
            birthday: false,
        }
        .seal(&mallory);
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(&forged, b_socket.local_addr().unwrap())
            .unwrap();
        let plan_b = Plan::new(session, b.clone(), a.clone());
        let bob_side = std::thread::spawn(move || punch(b_socket, &bob, &plan_b).unwrap());
        let plan_a = Plan::new(session, a, b);
        let got_a = punch(a_socket, &alice, &plan_a).unwrap();
        let got_b = bob_side.join().unwrap();
        let pa = got_a.punched.expect("alice punched");
        let pb = got_b.punched.expect("bob punched");
        assert_eq!(pa.remote, pb.local);
        assert_eq!(pb.remote, pa.local);
        assert_eq!(pa.technique, Technique::Direct);
        assert!(got_b.dropped >= 1, "the forged probe was not counted");
        assert!(pa.elapsed < Duration::from_secs(1));
    }
}
