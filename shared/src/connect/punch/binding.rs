//! STUN Binding transactions over one UDP socket: several at once, each retransmitted
//! (RFC 5389 style, with a doubling timeout) until it is answered or the deadline
//! passes. Under `-v` each request, retransmission, answer and refusal is narrated.

use crate::cli::figures;
use crate::codec::stun::{self, Attribute, Class, Message};
use crate::{Result, narrate, narrate_packet, random};
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The first retransmission timeout; it doubles after each retransmission.
pub const INITIAL_RTO: Duration = Duration::from_millis(100);
/// The longest retransmission timeout.
pub const MAX_RTO: Duration = Duration::from_millis(1600);
/// What this toolbox puts in SOFTWARE.
pub const SOFTWARE: &str = concat!("p2p-punch ", env!("CARGO_PKG_VERSION"));

/// One Binding request to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Where to send it.
    pub server: SocketAddr,
    /// CHANGE-REQUEST flags (change IP, change port); no attribute when both are false.
    pub change: (bool, bool),
    /// RESPONSE-PORT, when the answer should go to another port of this host.
    pub response_port: Option<u16>,
}

impl Request {
    /// A plain Binding request to `server`.
    pub fn to(server: SocketAddr) -> Self {
        Request {
            server,
            change: (false, false),
            response_port: None,
        }
    }

    /// The request as a STUN message with transaction id `id`.
    pub fn message(&self, id: [u8; 12]) -> Message {
        let mut msg = Message::binding_request(id);
        msg.attributes
            .push(Attribute::Software(SOFTWARE.to_owned()));
        if self.change != (false, false) {
            msg.attributes.push(Attribute::ChangeRequest {
                change_ip: self.change.0,
                change_port: self.change.1,
            });
        }
        if let Some(port) = self.response_port {
            msg.attributes.push(Attribute::ResponsePort(port));
        }
        msg.attributes.push(Attribute::Fingerprint);
        msg
    }

    /// What the request asks, for narration: `binding request, change IP and port`.
    pub fn describe(&self) -> String {
        let mut text = "binding request".to_owned();
        match self.change {
            (false, false) => {}
            (true, true) => text.push_str(", change IP and port"),
            (true, false) => text.push_str(", change IP"),
            (false, true) => text.push_str(", change port"),
        }
        if let Some(port) = self.response_port {
            let _ = write!(text, ", answer to port {port}");
        }
        text
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Response {
    /// Where the answer came from (differs from the server after a CHANGE-REQUEST).
    pub from: SocketAddr,
    /// The decoded answer.
    pub message: Message,
    /// From the last transmission of the request to the answer.
    pub rtt: Duration,
}

impl Response {
    /// The mapped (public) address, when the answer is a success carrying one.
    pub fn mapped(&self) -> Option<SocketAddr> {
        (self.message.class == Class::Success)
            .then(|| self.message.mapped_address())
            .flatten()
    }
}

/// Counters of what arrived that was not an answer, and the servers that refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets that were not valid STUN.
    pub malformed: u64,
    /// Valid STUN that answered none of our transactions.
    pub unmatched: u64,
    /// Servers whose host answered with ICMP port unreachable: nothing listens
    /// there, so waiting longer is pointless.
    pub refused: Vec<SocketAddr>,
}

/// How often undecided [`Sentinel`]s are looked at.
const SENTINEL_TICK: Duration = Duration::from_millis(20);

/// A socket connected to one server, which sent it the first request: the kernel
/// reports ICMP port unreachable only to connected sockets, so this tells a closed
/// port (refused at once) from a silent network (no answer).
struct Sentinel {
    server: SocketAddr,
    socket: Option<UdpSocket>,
}

impl Sentinel {
    fn start(near: &UdpSocket, server: SocketAddr, bytes: &[u8]) -> Sentinel {
        let ip = near.local_addr().map_or_else(
            |_| match server {
                SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
            },
            |a| a.ip(),
        );
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .and_then(|s| s.connect(server).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(|s| s.send(bytes).map(|_| s))
            .ok();
        Sentinel { server, socket }
    }

    /// `Some(true)` refused, `Some(false)` something listens, `None` not known yet.
    fn verdict(&mut self) -> Option<bool> {
        let socket = self.socket.as_ref()?;
        let mut buf = [0u8; 64];
        let verdict = match socket.recv(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => true,
            Err(e) if timed_out(&e) => return None,
            _ => false,
        };
        self.socket = None;
        Some(verdict)
    }
}

struct Pending {
    id: [u8; 12],
    bytes: Vec<u8>,
    sent: Instant,
    next: Instant,
    rto: Duration,
    /// How many times it was sent.
    tries: u32,
    answer: Option<Response>,
    /// The server's port is closed (see [`Sentinel`]).
    refused: bool,
}

/// Runs `requests` at once on `socket` until each is answered or `timeout` passes;
/// the answers come back in the order of the requests (`None`: no answer).
pub fn transact(
    socket: &UdpSocket,
    requests: &[Request],
    timeout: Duration,
    stats: &mut Stats,
) -> Result<Vec<Option<Response>>> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pending = Vec::with_capacity(requests.len());
    for request in requests {
        let id = random::bytes::<12>()?;
        pending.push(Pending {
            id,
            bytes: request.message(id).encode(),
            sent: start,
            next: start,
            rto: INITIAL_RTO,
            tries: 0,
            answer: None,
            refused: false,
        });
    }
    let mut sentinels: Vec<Sentinel> = Vec::new();
    for (p, request) in pending.iter().zip(requests) {
        if !sentinels.iter().any(|s| s.server == request.server) {
            sentinels.push(Sentinel::start(socket, request.server, &p.bytes));
        }
    }
    let mut buf = [0u8; 2048];
    loop {
        for sentinel in &mut sentinels {
            if sentinel.verdict() == Some(true) {
                narrate!(
                    "udp://{} refused: ICMP port unreachable, nothing listens there",
                    sentinel.server
                );
                stats.refused.push(sentinel.server);
                for (p, request) in pending.iter_mut().zip(requests) {
                    if request.server == sentinel.server {
                        p.refused = true;
                    }
                }
            }
        }
        let undecided = sentinels.iter().any(|s| s.socket.is_some());
        let now = Instant::now();
        send_due(socket, &mut pending, requests, now)?;
        if pending.iter().all(|p| p.answer.is_some() || p.refused) || now >= deadline {
            break;
        }
        let mut wake = pending
            .iter()
            .filter(|p| p.answer.is_none() && !p.refused)
            .map(|p| p.next)
            .min()
            .unwrap_or(deadline)
            .min(deadline);
        if undecided {
            wake = wake.min(now + SENTINEL_TICK);
        }
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket.set_read_timeout(Some(wait))?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if timed_out(&e) || transient(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        let Ok(message) = stun::decode(&buf[..len]) else {
            narrate_packet!("dropped {len} bytes from {from}: not STUN");
            stats.malformed += 1;
            continue;
        };
        let arrived = Instant::now();
        match pending
            .iter_mut()
            .zip(requests)
            .find(|(p, _)| p.id == message.transaction_id && p.answer.is_none())
        {
            Some((p, request)) if matches!(message.class, Class::Success | Class::Error) => {
                narrate_answer(request, from, &message, arrived - p.sent);
                p.answer = Some(Response {
                    from,
                    rtt: arrived - p.sent,
                    message,
                });
            }
            _ => {
                narrate_packet!(
                    "dropped a STUN message from {from}: it answers no request of ours"
                );
                stats.unmatched += 1;
            }
        }
    }
    narrate_silence(&pending, requests, timeout);
    socket.set_read_timeout(None)?;
    Ok(pending.into_iter().map(|p| p.answer).collect())
}

/// Sends (or sends again) every request that is due and not yet answered.
fn send_due(
    socket: &UdpSocket,
    pending: &mut [Pending],
    requests: &[Request],
    now: Instant,
) -> Result<()> {
    for (p, request) in pending.iter_mut().zip(requests) {
        if p.answer.is_none() && !p.refused && p.next <= now {
            if p.tries == 0 {
                narrate!("asking udp://{} ({})", request.server, request.describe());
            } else {
                narrate!(
                    "no answer from udp://{} within {}: sending again (try {})",
                    request.server,
                    figures::millis(now - p.sent),
                    p.tries + 1
                );
            }
            p.tries += 1;
            match socket.send_to(&p.bytes, request.server) {
                Ok(_) => {}
                // An ICMP error from an earlier send, or no route: keep trying.
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e.into()),
            }
            p.sent = now;
            p.next = now + p.rto;
            p.rto = (p.rto * 2).min(MAX_RTO);
        }
    }
    Ok(())
}

/// Tells, under `-v`, which requests went unanswered.
fn narrate_silence(pending: &[Pending], requests: &[Request], timeout: Duration) {
    for (p, request) in pending.iter().zip(requests) {
        if p.answer.is_none() && !p.refused {
            narrate!(
                "udp://{}: no answer to {} within {} ({} tries)",
                request.server,
                request.describe(),
                figures::millis(timeout),
                p.tries
            );
        }
    }
}

/// Tells an answer under `-v`: who answered, how fast, and what it said.
fn narrate_answer(request: &Request, from: SocketAddr, message: &Message, rtt: Duration) {
    if !crate::cli::verbose::enabled(crate::cli::verbose::STEP) {
        return;
    }
    let said = match (
        message.class,
        message.mapped_address(),
        message.error_code(),
    ) {
        (Class::Success, Some(mapped), _) => format!("you are {mapped}"),
        (Class::Success, None, _) => "no mapped address".to_owned(),
        (_, _, Some((code, reason))) => format!("error {code} {reason}"),
        _ => "an error without a code".to_owned(),
    };
    let via = if from == request.server {
        String::new()
    } else {
        format!(" (from {from})")
    };
    narrate!(
        "udp://{} answered {} in {}{via}: {said}",
        request.server,
        request.describe(),
        figures::millis(rtt)
    );
}

/// True for a receive that ended because its timeout passed.
pub fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// True for errors a UDP socket reports for an earlier datagram (ICMP unreachable)
/// or a passing routing problem: worth ignoring and retrying.
pub fn transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_request_reports_the_mapped_address_and_silence_is_none() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client_addr = client.local_addr().unwrap();
        // Answers every request (the client's, and its sentinel's) with junk first.
        server
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let answer = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((len, from)) = server.recv_from(&mut buf) {
                server.send_to(b"junk", from).unwrap();
                let request = stun::decode(&buf[..len]).unwrap();
                let mut response = Message::response_to(&request, Class::Success);
                response.attributes.push(Attribute::XorMappedAddress(from));
                server.send_to(&response.encode(), from).unwrap();
            }
        });
        let mut stats = Stats::default();
        let requests = [
            Request::to(server_addr),
            Request::to(silent.local_addr().unwrap()),
        ];
        let got = transact(&client, &requests, Duration::from_millis(400), &mut stats).unwrap();
        answer.join().unwrap();
        assert_eq!(got[0].as_ref().unwrap().mapped(), Some(client_addr));
        assert!(got[1].is_none());
        assert_eq!(stats.malformed, 1);
        assert!(stats.refused.is_empty());
    }

    #[test]
    fn a_closed_port_is_refused_at_once() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = closed.local_addr().unwrap();
        drop(closed);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut stats = Stats::default();
        let started = Instant::now();
        let got = transact(
            &client,
            &[Request::to(server)],
            Duration::from_secs(5),
            &mut stats,
        )
        .unwrap();
        assert!(got[0].is_none());
        assert_eq!(stats.refused, vec![server]);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
