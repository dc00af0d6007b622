//! `p2p-punch serve`: a STUN server (RFC 5389, and RFC 5780 with a second address)
//! and the punching rendezvous, on the same sockets.
//!
//! With `--alt`, four sockets: every combination of the two IPs and two ports, so a
//! CHANGE-REQUEST can be answered from the other IP, the other port, or both. Socket
//! `i` is `(ip << 1) | port`, 0 meaning primary; the answer to a request received on
//! `r` with change flags `(ip, port)` leaves from `r ^ (ip << 1 | port)`, and
//! OTHER-ADDRESS is socket `r ^ 3`.

use crate::args::ServeArgs;
use crate::registry::Registry;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::stun::{self, Attribute, Class, Message};
use p2p_shared::connect::punch::binding::{SOFTWARE, timed_out, transient};
use p2p_shared::connect::punch::candidate::Candidate;
use p2p_shared::connect::punch::rendezvous::{self, Message as Rv, TTL};
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::output::Output;
use p2p_shared::ndjson::records::{self, Listening};
use p2p_shared::{Context, Error, Result, Status, diag, narrate_packet, random};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a challenge stays valid (it is accepted in its own and the next period).
const CHALLENGE_PERIOD_S: u64 = 30;
/// Start time handed to both sides of an introduction.
const START_IN_MS: u64 = 25;
/// How often expired registrations are swept.
const SWEEP: Duration = Duration::from_secs(1);

struct Server {
    sockets: Vec<UdpSocket>,
    secret: [u8; 32],
    state: Mutex<Registry>,
    out: Output,
    stop: AtomicBool,
    dropped: AtomicU64,
    counts: Counts,
    stats_every: Option<Duration>,
}

/// What `--stats-every` reports: requests answered and refused since the start.
#[derive(Default)]
struct Counts {
    hellos: AtomicU64,
    registered: AtomicU64,
    introduced: AtomicU64,
    stun_answered: AtomicU64,
    /// Refusals (rendezvous and STUN) by reason.
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn refused(&self, why: &'static str) {
        *self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(why)
            .or_default() += 1;
    }
}

/// The reason key of a refused registration, from the registry's message.
fn registration_refusal(reason: &str) -> &'static str {
    if reason.starts_with("candidate too large") {
        "candidate_too_large"
    } else if reason.starts_with("too many registrations") {
        "too_many_registrations"
    } else if reason.starts_with("the rendezvous is full") {
        "full"
    } else {
        "bad_candidate"
    }
}

/// `p2p-punch serve`.
pub fn run(args: &ServeArgs, ctx: &Ctx) -> Result<Status> {
    let sockets = bind_all(args.bind, args.alt)?;
    let udp = |s: &UdpSocket| s.local_addr().map(Addr::udp);
    let mut listening = Listening::new(udp(&sockets[0])?, []);
    if sockets.len() == 4 {
        listening = listening.with("alt", udp(&sockets[3])?);
    }
    ctx.out.record(&listening)?;
    ctx.note(format_args!(
        "serving STUN{} and the rendezvous",
        if sockets.len() == 4 {
            " (with RFC 5780)"
        } else {
            ""
        }
    ));
    let server = Server {
        sockets,
        secret: random::bytes()?,
        state: Mutex::new(Registry::new(args.max_registrations)),
        out: ctx.out.clone(),
        stop: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
        counts: Counts::default(),
        stats_every: args.stats_every,
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..server.sockets.len())
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    let result = server.serve(i);
                    server.stop.store(true, Ordering::Relaxed);
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::failure("a server thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(Status::Success)
}

/// Binds the primary socket and, with `alt`, the other three.
fn bind_all(bind: SocketAddr, alt: Option<SocketAddr>) -> Result<Vec<UdpSocket>> {
    let Some(alt) = alt else {
        let socket = UdpSocket::bind(bind).with_context(|| format!("binding {bind}"))?;
        return Ok(vec![socket]);
    };
    if bind.ip().is_unspecified() || alt.ip().is_unspecified() {
        return Err(Error::usage(
            "--alt needs specific IP addresses in --bind and --alt (not 0.0.0.0)",
        ));
    }
    if bind.ip() == alt.ip() || bind.is_ipv4() != alt.is_ipv4() {
        return Err(Error::usage(
            "--alt must be another IP address of the same family as --bind",
        ));
    }
    // Ports picked by the system (0) may collide on the other IP: try again.
    let mut last = None;
    for _ in 0..20 {
        match try_bind_four(bind, alt) {
            Ok(sockets) => return Ok(sockets),
            Err(e) if bind.port() == 0 || alt.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::failure("cannot bind the four server sockets")))
}

fn try_bind_four(bind: SocketAddr, alt: SocketAddr) -> Result<Vec<UdpSocket>> {
    let pp = UdpSocket::bind(bind).with_context(|| format!("binding {bind}"))?;
    let p1 = pp.local_addr()?.port();
    let aa = UdpSocket::bind(alt).with_context(|| format!("binding {alt}"))?;
    let p2 = aa.local_addr()?.port();
    if p1 == p2 {
        return Err(Error::usage("--bind and --alt need different ports"));
    }
    let pa_addr = SocketAddr::new(bind.ip(), p2);
    let ap_addr = SocketAddr::new(alt.ip(), p1);
    let pa = UdpSocket::bind(pa_addr).with_context(|| format!("binding {pa_addr}"))?;
    let ap = UdpSocket::bind(ap_addr).with_context(|| format!("binding {ap_addr}"))?;
    Ok(vec![pp, pa, ap, aa])
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Server {
    fn serve(&self, index: usize) -> Result<()> {
        let socket = &self.sockets[index];
        socket.set_read_timeout(Some(Duration::from_millis(250)))?;
        let mut buf = [0u8; 4096];
        let mut swept = Instant::now();
        let mut reported = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if index == 0 && swept.elapsed() >= SWEEP {
                swept = Instant::now();
                self.lock().expire(swept);
            }
            if index == 0
                && let Some(every) = self.stats_every
                && reported.elapsed() >= every
            {
                reported = Instant::now();
                self.stats()?;
            }
            let (len, from) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if timed_out(&e) || transient(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let packet = &buf[..len];
            if rendezvous::is_rendezvous(packet) {
                match Rv::decode(packet) {
                    Ok(message) => {
                        narrate_packet!("rendezvous {} from {from}", message.op());
                        self.rendezvous(index, message, from)?;
                    }
                    Err(_) => self.drop_packet(),
                }
            } else {
                match stun::decode(packet) {
                    Ok(message) => {
                        narrate_packet!("STUN {:?} from {from} on socket {index}", message.class);
                        self.stun(index, &message, from);
                    }
                    Err(_) => self.drop_packet(),
                }
            }
        }
        Ok(())
    }

    /// One `stats` record: registrations held now, and the counts since the start.
    fn stats(&self) -> Result<()> {
        let held = {
            let mut state = self.lock();
            state.expire(Instant::now());
            state.len()
        };
        let refused: Map<String, Value> = self
            .counts
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let c = &self.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.out.record(&records::stats(json!({
            "registrations": held,
            "hellos": n(&c.hellos),
            "registered": n(&c.registered),
            "introduced": n(&c.introduced),
            "stun_answered": n(&c.stun_answered),
            "malformed": n(&self.dropped),
            "refused": refused,
        })))
    }

    fn drop_packet(&self) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            diag::warn(format_args!("dropped {n} malformed packets so far"));
        }
    }

    fn send(&self, index: usize, bytes: &[u8], to: SocketAddr) {
        // Sending can fail for a vanished client (ICMP); that is its problem.
        let _ = self.sockets[index].send_to(bytes, to);
    }

    fn stun(&self, received_on: usize, request: &Message, from: SocketAddr) {
        if request.class != Class::Request {
            self.drop_packet();
            return;
        }
        let now = Instant::now();
        if !self.lock().allow_stun(from, now) {
            self.counts.refused("stun_rate_limited");
            return;
        }
        let has_alt = self.sockets.len() == 4;
        let error = |code: u16, reason: &str, unknown: Vec<u16>| {
            let mut response = Message::response_to(request, Class::Error);
            response.attributes.push(Attribute::ErrorCode {
                code,
                reason: reason.to_owned(),
            });
            if !unknown.is_empty() {
                response
                    .attributes
                    .push(Attribute::UnknownAttributes(unknown));
            }
            response
                .attributes
                .push(Attribute::Software(SOFTWARE.to_owned()));
            response.attributes.push(Attribute::Fingerprint);
            response.encode()
        };
        if request.method != stun::BINDING {
            self.counts.refused("stun_bad_request");
            self.send(received_on, &error(400, "Bad Request", vec![]), from);
            return;
        }
        let mut unknown: Vec<u16> = request
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Other { kind, .. } if a.is_unknown_required() => Some(*kind),
                _ => None,
            })
            .collect();
        let (change_ip, change_port) = request.change_request();
        if (change_ip || change_port) && !has_alt {
            unknown.push(stun::attr::CHANGE_REQUEST);
        }
        if !unknown.is_empty() {
            self.counts.refused("stun_unknown_attribute");
            self.send(received_on, &error(420, "Unknown Attribute", unknown), from);
            return;
        }
        let send_on = received_on ^ ((usize::from(change_ip) << 1) | usize::from(change_port));
        let Ok(origin) = self.sockets[send_on].local_addr() else {
            return;
        };
        let mut response = Message::response_to(request, Class::Success);
        response.attributes.push(Attribute::XorMappedAddress(from));
        response.attributes.push(Attribute::MappedAddress(from));
        response.attributes.push(Attribute::ResponseOrigin(origin));
        if has_alt && let Ok(other) = self.sockets[received_on ^ 3].local_addr() {
            response.attributes.push(Attribute::OtherAddress(other));
        }
        response
            .attributes
            .push(Attribute::Software(SOFTWARE.to_owned()));
        response.attributes.push(Attribute::Fingerprint);
        let to = request
            .response_port()
            .map_or(from, |port| SocketAddr::new(from.ip(), port));
        if to != from && !self.lock().may_redirect(to, now) {
            self.counts.refused("stun_response_port");
            let refusal = error(400, "RESPONSE-PORT refused: that port never asked", vec![]);
            self.send(received_on, &refusal, from);
            return;
        }
        Counts::add(&self.counts.stun_answered);
        self.send(send_on, &response.encode(), to);
    }

    fn challenge(&self, id: &PeerId, from: SocketAddr, period: u64) -> [u8; 16] {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(id.to_bytes());
        hash.update(from.to_string().as_bytes());
        hash.update(period.to_be_bytes());
        let mut challenge = [0u8; 16];
        challenge.copy_from_slice(&hash.finalize()[..16]);
        challenge
    }

    fn event(&self, record: &Value) -> Result<()> {
        self.out.record(record)
    }

    /// Answers one rendezvous message from `from` (rate-limited per source address).
    fn rendezvous(&self, index: usize, message: Rv, from: SocketAddr) -> Result<()> {
        if !self.lock().allow_request(from.ip(), Instant::now()) {
            self.counts.refused("rate_limited");
            // Said once a second at most: a refusal is a reply too.
            if self.lock().allow_refusal(from.ip(), Instant::now()) {
                self.refuse(
                    index,
                    from,
                    format!(
                        "rate limited: at most {} requests a second from one address",
                        crate::registry::REQUESTS_PER_S
                    ),
                );
            }
            return Ok(());
        }
        match message {
            Rv::Hello { id } => {
                Counts::add(&self.counts.hellos);
                let challenge = self.challenge(&id, from, unix_secs() / CHALLENGE_PERIOD_S);
                let reply = Rv::Challenge {
                    challenge: hex::encode(challenge),
                };
                self.send(index, &reply.encode(), from);
            }
            Rv::Register {
                candidate,
                challenge,
                proof,
            } => match self.register(index, candidate, &challenge, &proof, from) {
                Ok(id) => {
                    Counts::add(&self.counts.registered);
                    self.event(&records::event(
                        "registered",
                        json!({"id": id, "addr": Addr::udp(from)}),
                    ))?;
                }
                Err((why, reason)) => {
                    self.counts.refused(why);
                    self.refuse(index, from, reason);
                }
            },
            Rv::Connect { from: a, to: b } => match self.introduce(a, b, from)? {
                Ok(session) => {
                    Counts::add(&self.counts.introduced);
                    self.event(&records::event(
                        "introduced",
                        json!({"from": a, "to": b, "session": hex::encode(session)}),
                    ))?;
                }
                Err((why, reason)) => {
                    self.counts.refused(why);
                    self.refuse(index, from, reason);
                }
            },
            Rv::Challenge { .. }
            | Rv::Registered { .. }
            | Rv::Introduce { .. }
            | Rv::Error { .. } => {
                self.drop_packet();
            }
        }
        Ok(())
    }

    /// Sends `from` an error message saying why its request was refused.
    fn refuse(&self, index: usize, from: SocketAddr, reason: String) {
        narrate_packet!("refused {from}: {reason}");
        self.send(index, &Rv::Error { reason }.encode(), from);
    }

    /// `register`: checks the candidate, that the challenge is fresh and ours for
    /// this address, and the proof of the key; stores the registration and confirms
    /// it. Returns the registered id, or why it was refused (a reason key for the
    /// counts, and the message).
    fn register(
        &self,
        index: usize,
        candidate: Map<String, Value>,
        challenge: &str,
        proof: &str,
        from: SocketAddr,
    ) -> std::result::Result<PeerId, (&'static str, String)> {
        let id = Candidate::from_record(&candidate)
            .map_err(|e| ("bad_candidate", e))?
            .id;
        let now = unix_secs() / CHALLENGE_PERIOD_S;
        let fresh = [now, now.saturating_sub(1)]
            .iter()
            .any(|p| hex::encode(self.challenge(&id, from, *p)) == challenge);
        if !fresh {
            return Err((
                "stale_challenge",
                "stale or foreign challenge: say hello again".to_owned(),
            ));
        }
        let raw = hex::decode(challenge).unwrap_or_default();
        if !rendezvous::check_proof(&id, &raw, proof) {
            return Err((
                "bad_proof",
                "the proof is not a signature by the registering key".to_owned(),
            ));
        }
        self.lock()
            .register(id, from, index, candidate, Instant::now())
            .map_err(|e| (registration_refusal(&e), e))?;
        let registered = Rv::Registered {
            observed: Addr::udp(from),
            ttl_s: TTL.as_secs(),
        };
        self.send(index, &registered.encode(), from);
        Ok(id)
    }

    /// `connect` from `a` (who must send from where it registered) to `b`: sends each
    /// the other's candidate in an introduction with a shared session. Returns the
    /// session, or why it was refused (a reason key and the message).
    fn introduce(
        &self,
        a: PeerId,
        b: PeerId,
        from: SocketAddr,
    ) -> Result<std::result::Result<[u8; 16], (&'static str, String)>> {
        let introduced = {
            let mut state = self.lock();
            let now = Instant::now();
            match (state.get(&a, now), state.get(&b, now)) {
                (Some(ra), _) if ra.addr != from => Err((
                    "other_address",
                    format!("{a} is registered from another address"),
                )),
                (None, _) => Err((
                    "not_registered",
                    format!("{a} is not registered: register first"),
                )),
                (_, None) => Err((
                    "peer_not_registered",
                    format!("peer {b} is not registered here"),
                )),
                (Some(ra), Some(rb)) => {
                    let to_a = (ra.socket, ra.addr, rb.candidate.clone(), rb.addr);
                    let to_b = (rb.socket, rb.addr, ra.candidate.clone(), ra.addr);
                    if state.allow_introduction(&b, now) {
                        let session = state.session(a, b, random::bytes()?, now);
                        Ok((session, to_a, to_b))
                    } else {
                        Err((
                            "busy",
                            format!(
                                "peer {b} is busy: at most {} introductions a second",
                                crate::registry::INTRODUCTIONS_PER_S
                            ),
                        ))
                    }
                }
            }
        };
        let (session, to_a, to_b) = match introduced {
            Ok(introduced) => introduced,
            Err(reason) => return Ok(Err(reason)),
        };
        for (socket, addr, peer, observed) in [to_a, to_b] {
            let introduce = Rv::Introduce {
                session: hex::encode(session),
                peer,
                observed: Addr::udp(observed),
                start_in_ms: START_IN_MS,
            };
            self.send(socket, &introduce.encode(), addr);
        }
        Ok(Ok(session))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
