//! `p2p-relay serve`: a TURN server (RFC 8656, UDP allocations) on one thread.
//!
//! One control socket takes every client's requests, Send indications and
//! ChannelData; each allocation owns a relayed socket read by its own task on the
//! same single-threaded executor, so the state needs no locks. A sweep each second
//! ends expired and idle allocations and drops expired permissions and channels.

use crate::alloc::{Allocation, Bucket, Refusal};
use crate::args::ServeArgs;
use crate::auth::{Auth, Principal, Verdict};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::stun::{self, Attribute, Class, Message};
use p2p_shared::codec::turn::{self, Turn, attr, code, method};
use p2p_shared::connect::turn_client::method_name;
use p2p_shared::ndjson::output::Output;
use p2p_shared::ndjson::records::{self, Listening};
use p2p_shared::{Context, Error, Result, Status, narrate_packet, random};
use serde_json::{Value, json};
use smol::{Async, LocalExecutor, Timer};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The SOFTWARE the relay sends.
const SOFTWARE: &str = concat!("p2p-relay ", env!("CARGO_PKG_VERSION"));
/// Socket buffers asked for on the control socket.
const CONTROL_BUFFER: usize = 8 << 20;
/// Socket buffers asked for on each relayed socket: a few milliseconds of a fast
/// stream, so a busy moment of the one relay thread does not drop packets (kernel
/// memory, used only while packets wait).
const RELAYED_BUFFER: usize = 1 << 20;
/// The largest datagram handled.
const MAX_PACKET: usize = 65536;
/// Attributes this server understands (comprehension-required ones not listed here
/// get 420 Unknown Attribute).
const KNOWN: &[u16] = &[
    attr::USERNAME,
    attr::MESSAGE_INTEGRITY,
    attr::CHANNEL_NUMBER,
    attr::LIFETIME,
    attr::XOR_PEER_ADDRESS,
    attr::DATA,
    attr::REALM,
    attr::NONCE,
    attr::REQUESTED_ADDRESS_FAMILY,
    attr::REQUESTED_TRANSPORT,
    attr::EVEN_PORT,
    attr::RESERVATION_TOKEN,
];

/// Counters for `stats` records.
#[derive(Default)]
struct Stats {
    to_peers: u64,
    to_clients: u64,
    dropped_no_permission: u64,
    dropped_rate: u64,
    malformed: u64,
    challenges: u64,
    refusals: BTreeMap<u16, u64>,
}

#[derive(Default)]
struct State {
    allocations: HashMap<SocketAddr, Allocation>,
    per_ip: HashMap<IpAddr, usize>,
    per_user: HashMap<Principal, usize>,
    /// Every allocation's relayed address.
    relayed: HashSet<SocketAddr>,
    /// Ports held for a later Allocate (EVEN-PORT with its R bit), by token.
    reservations: HashMap<[u8; 8], (Async<UdpSocket>, Instant)>,
    stats: Stats,
}

/// How long a reserved port is held.
const RESERVATION_LIFETIME: Duration = Duration::from_secs(30);

struct Server {
    control: Async<UdpSocket>,
    auth: Auth,
    args: ServeArgs,
    relay_ip: IpAddr,
    own_ips: Vec<IpAddr>,
    out: Output,
    state: RefCell<State>,
    executor: Rc<LocalExecutor<'static>>,
    /// The buffer every relayed socket is read into (one thread: one at a time).
    scratch: RefCell<Vec<u8>>,
}

/// A refusal: the error code and why.
type Refused = (u16, String);
/// The answer to a request: attributes of a success, or a refusal.
type Reply = std::result::Result<Vec<Attribute>, Refused>;

/// `p2p-relay serve`.
pub fn run(args: &ServeArgs, ctx: &Ctx) -> Result<Status> {
    let auth = Auth::new(&args.access)?;
    let relay_ip = match args.relay_ip {
        Some(ip) => ip,
        None if args.bind.ip().is_unspecified() => {
            return Err(Error::usage(
                "--bind is a wildcard address: give --relay-ip, the address peers send to",
            ));
        }
        None => args.bind.ip(),
    };
    let control =
        Async::<UdpSocket>::bind(args.bind).with_context(|| format!("binding {}", args.bind))?;
    // Room for bursts: every client's traffic passes this one socket (the kernel
    // caps the sizes at net.core.rmem_max and wmem_max).
    let sock = socket2::SockRef::from(control.get_ref());
    let _ = sock.set_recv_buffer_size(CONTROL_BUFFER);
    let _ = sock.set_send_buffer_size(CONTROL_BUFFER);
    let local = control.get_ref().local_addr()?;
    let mut own_ips = vec![local.ip(), relay_ip];
    if local.ip().is_unspecified() {
        own_ips.extend(
            if_addrs::get_if_addrs()
                .unwrap_or_default()
                .iter()
                .map(if_addrs::Interface::ip),
        );
    }
    let l = &args.limits;
    let limits = json!({
        "allocations": l.max_allocations, "per_ip": l.max_per_ip,
        "per_user": l.max_per_user, "permissions": l.max_permissions,
        "channels": l.max_channels, "lifetime_s": l.max_lifetime.as_secs(),
        "bytes": l.max_bytes, "rate": l.rate, "idle_s": l.idle_timeout.as_secs(),
    });
    let listening = Listening::new(Addr::from_socket(Scheme::Udp, local), [])
        .with("relay_ip", relay_ip.to_string())
        .with("realm", auth.realm())
        .with("auth", auth.methods())
        .with("limits", limits);
    ctx.out.record(&listening)?;
    ctx.note(format_args!(
        "relaying from {relay_ip} for TURN clients of {local}"
    ));
    let executor = Rc::new(LocalExecutor::new());
    let server = Rc::new(Server {
        control,
        auth,
        args: clone_args(args),
        relay_ip,
        own_ips,
        out: ctx.out.clone(),
        state: RefCell::new(State::default()),
        executor: Rc::clone(&executor),
        scratch: RefCell::new(vec![0; MAX_PACKET + 4]),
    });
    let sweeper = executor.spawn(Rc::clone(&server).sweep_loop());
    let result = smol::block_on(executor.run(Rc::clone(&server).control_loop()));
    drop(sweeper);
    server.state.borrow_mut().allocations.clear();
    result.map(|()| Status::Success)
}

fn clone_args(args: &ServeArgs) -> ServeArgs {
    ServeArgs {
        bind: args.bind,
        relay_ip: args.relay_ip,
        ports: args.ports,
        allow_loopback_peers: args.allow_loopback_peers,
        stats_every: args.stats_every,
        access: args.access.clone(),
        limits: args.limits.clone(),
    }
}

fn udp(addr: SocketAddr) -> Addr {
    Addr::from_socket(Scheme::Udp, addr)
}

impl Server {
    async fn control_loop(self: Rc<Self>) -> Result<()> {
        let mut buf = vec![0u8; MAX_PACKET];
        loop {
            let (len, from) = match self.control.recv_from(&mut buf).await {
                Ok(got) => got,
                Err(e) if p2p_shared::connect::punch::binding::transient(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let packet = &buf[..len];
            if let Some((channel, data)) = turn::decode_channel_data(packet) {
                self.relay_channel_data(from, channel, data);
                continue;
            }
            match stun::decode(packet) {
                Ok(message) => self.stun(&message, packet, from),
                Err(_) => self.state.borrow_mut().stats.malformed += 1,
            }
        }
    }

    async fn sweep_loop(self: Rc<Self>) {
        let mut next_stats = self.args.stats_every.map(|every| Instant::now() + every);
        loop {
            Timer::after(Duration::from_secs(1)).await;
            let now = Instant::now();
            self.sweep(now);
            if let (Some(at), Some(every)) = (next_stats, self.args.stats_every)
                && now >= at
            {
                self.stats_record();
                next_stats = Some(now + every);
            }
        }
    }

    fn sweep(&self, now: Instant) {
        let idle = self.args.limits.idle_timeout;
        let ended: Vec<(SocketAddr, &str)> = {
            let mut state = self.state.borrow_mut();
            for allocation in state.allocations.values_mut() {
                allocation.sweep(now);
            }
            state
                .allocations
                .iter()
                .filter_map(|(client, a)| {
                    if a.expires <= now {
                        Some((*client, "lifetime"))
                    } else if now.duration_since(a.active) >= idle {
                        Some((*client, "idle"))
                    } else {
                        None
                    }
                })
                .collect()
        };
        for (client, reason) in ended {
            self.end(client, reason);
        }
    }

    fn stats_record(&self) {
        let state = self.state.borrow();
        let s = &state.stats;
        let refusals: serde_json::Map<String, Value> = s
            .refusals
            .iter()
            .map(|(c, n)| (c.to_string(), json!(n)))
            .collect();
        self.event(&records::stats(json!({
            "allocations": state.allocations.len(),
            "bytes_to_peers": s.to_peers,
            "bytes_to_clients": s.to_clients,
            "dropped_no_permission": s.dropped_no_permission,
            "dropped_rate": s.dropped_rate,
            "malformed": s.malformed,
            "challenges": s.challenges,
            "refusals": refusals,
        })));
    }

    /// Prints a record; a closed stdout is not the relay's problem (it keeps serving).
    fn event(&self, record: &Value) {
        let _ = self.out.record(record);
    }

    /// Removes an allocation and says why.
    fn end(&self, client: SocketAddr, reason: &str) {
        let removed = {
            let mut state = self.state.borrow_mut();
            let removed = state.allocations.remove(&client);
            if let Some(a) = &removed {
                state.relayed.remove(&a.relayed);
                decrement(&mut state.per_ip, &client.ip());
                decrement(&mut state.per_user, &a.principal);
            }
            removed
        };
        if let Some(a) = removed {
            let event = if reason == "released" {
                "released"
            } else {
                "expired"
            };
            self.event(&records::event(
                event,
                json!({"client": udp(client),
                "relayed": udp(a.relayed), "reason": reason,
                "bytes_to_peers": a.to_peers, "bytes_to_client": a.to_client}),
            ));
        }
    }

    /// Sends on the control socket without waiting: a full socket buffer drops the
    /// datagram, as a congested link would (a vanished client is its own problem).
    fn send(&self, bytes: &[u8], to: SocketAddr) {
        let _ = self.control.get_ref().send_to(bytes, to);
    }

    fn stun(self: &Rc<Self>, message: &Message, bytes: &[u8], from: SocketAddr) {
        match (message.class, message.method) {
            (Class::Indication, method::SEND) => {
                self.relay_send(message, from);
            }
            (Class::Request, stun::BINDING) => {
                let mut response = Message::response_to(message, Class::Success);
                response.attributes.push(Attribute::XorMappedAddress(from));
                response
                    .attributes
                    .push(Attribute::Software(SOFTWARE.to_owned()));
                response.attributes.push(Attribute::Fingerprint);
                self.send(&response.encode(), from);
            }
            (Class::Request, _) => self.request(message, bytes, from),
            _ => {
                self.state.borrow_mut().stats.malformed += 1;
            }
        }
    }

    fn request(self: &Rc<Self>, message: &Message, bytes: &[u8], from: SocketAddr) {
        let known_method = matches!(
            message.method,
            method::ALLOCATE | method::REFRESH | method::CREATE_PERMISSION | method::CHANNEL_BIND
        );
        if !known_method {
            let response = Self::error(message, code::BAD_REQUEST, None, vec![]);
            self.send(&response, from);
            return;
        }
        let unknown: Vec<u16> = message
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Other { kind, .. }
                    if a.is_unknown_required() && !KNOWN.contains(kind) =>
                {
                    Some(*kind)
                }
                _ => None,
            })
            .collect();
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|k| format!("0x{k:04x}")).collect();
            let why = format!("unknown attribute {}", names.join(", "));
            self.refused(message, from, code::UNKNOWN_ATTRIBUTE, &why);
            let extra = vec![Attribute::UnknownAttributes(unknown)];
            let response = Self::error(message, code::UNKNOWN_ATTRIBUTE, None, extra);
            self.send(&response, from);
            return;
        }
        let (principal, key) = match self.auth.check(message, bytes, from) {
            Verdict::Ok(principal, key) => (principal, key),
            Verdict::Refuse(code, why) => {
                narrate_packet!("{} from {from}: {code} {why}", method_name(message.method));
                if code == code::UNAUTHENTICATED && why == "no credentials" {
                    self.state.borrow_mut().stats.challenges += 1;
                } else {
                    self.refused(message, from, code, why);
                }
                let challenge = if matches!(code, code::UNAUTHENTICATED | code::STALE_NONCE) {
                    vec![
                        turn::realm(self.auth.realm()),
                        turn::nonce(&self.auth.nonce(from)),
                    ]
                } else {
                    vec![]
                };
                let response = Self::error(message, code, None, challenge);
                self.send(&response, from);
                return;
            }
        };
        let reply = match message.method {
            method::ALLOCATE => self.allocate(message, from, &principal),
            method::REFRESH => self.refresh(message, from, &principal),
            method::CREATE_PERMISSION => self.permission(message, from, &principal),
            _ => self.channel_bind(message, from, &principal),
        };
        narrate_packet!(
            "{} from {from}: {}",
            method_name(message.method),
            match &reply {
                Ok(_) => "granted".to_owned(),
                Err((code, why)) => format!("refused {code} {why}"),
            }
        );
        let response = match reply {
            Ok(attributes) => {
                let mut response = Message::response_to(message, Class::Success);
                response.attributes = attributes;
                response
                    .attributes
                    .push(Attribute::Software(SOFTWARE.to_owned()));
                sign(&response, key)
            }
            Err((code, why)) => {
                self.refused(message, from, code, &why);
                Self::error(message, code, key, vec![])
            }
        };
        self.send(&response, from);
    }

    fn refused(&self, message: &Message, from: SocketAddr, code: u16, why: &str) {
        *self
            .state
            .borrow_mut()
            .stats
            .refusals
            .entry(code)
            .or_default() += 1;
        self.event(&records::event(
            "refused",
            json!({"client": udp(from),
            "method": method_name(message.method), "code": code, "reason": why}),
        ));
    }

    /// An error response, signed when the request was authenticated.
    fn error(
        request: &Message,
        code: u16,
        key: Option<[u8; 16]>,
        extra: Vec<Attribute>,
    ) -> Vec<u8> {
        let mut response = Message::response_to(request, Class::Error);
        response.attributes.push(turn::error(code));
        response.attributes.extend(extra);
        response
            .attributes
            .push(Attribute::Software(SOFTWARE.to_owned()));
        sign(&response, key)
    }

    /// Whether relaying to `peer` is allowed at all (before permissions). The
    /// relay's own relayed addresses are allowed (two peers on one relay, each with an
    /// allocation): for a permission (`exact` false, only the IP counts) the relay IP
    /// itself, otherwise only the relayed address of a live allocation.
    fn peer_allowed(&self, peer: SocketAddr, exact: bool) -> std::result::Result<(), Refused> {
        if peer.ip() == self.relay_ip && (!exact || self.state.borrow().relayed.contains(&peer)) {
            return Ok(());
        }
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let forbidden = |why: &str| Err((code::FORBIDDEN, format!("{why}: {ip}")));
        if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]) {
            return forbidden("not a unicast peer address");
        }
        if ip.is_ipv4() != self.relay_ip.is_ipv4() {
            return Err((
                443,
                format!("peer address family differs from the relay's: {ip}"),
            ));
        }
        if !self.args.allow_loopback_peers {
            if ip.is_loopback() {
                return forbidden("loopback peers need --allow-loopback-peers");
            }
            if self.own_ips.contains(&ip) {
                return forbidden("the relay's own address");
            }
        }
        Ok(())
    }

    fn allocate(
        self: &Rc<Self>,
        message: &Message,
        from: SocketAddr,
        principal: &Principal,
    ) -> Reply {
        let limits = &self.args.limits;
        let now = Instant::now();
        let mut state = self.state.borrow_mut();
        if let Some(a) = state.allocations.get(&from) {
            if a.tid == message.transaction_id && &a.principal == principal {
                let left = a.expires.saturating_duration_since(now);
                return Ok(allocated(message, a.relayed, from, left));
            }
            return Err((
                code::ALLOCATION_MISMATCH,
                "this 5-tuple has an allocation".to_owned(),
            ));
        }
        match message.requested_transport() {
            None => return Err((code::BAD_REQUEST, "no REQUESTED-TRANSPORT".to_owned())),
            Some(turn::UDP) => {}
            Some(p) => {
                return Err((
                    code::UNSUPPORTED_TRANSPORT,
                    format!("transport {p} is not UDP"),
                ));
            }
        }
        if let Some(family) = message.raw(attr::REQUESTED_ADDRESS_FAMILY) {
            let want_v4 = family.first() == Some(&1);
            if want_v4 != self.relay_ip.is_ipv4() {
                return Err((
                    code::ADDRESS_FAMILY,
                    "the relay has one address family".to_owned(),
                ));
            }
        }
        if state.allocations.len() >= limits.max_allocations {
            return Err((
                code::INSUFFICIENT_CAPACITY,
                format!("{} allocations in total", limits.max_allocations),
            ));
        }
        if state.per_ip.get(&from.ip()).copied().unwrap_or(0) >= limits.max_per_ip {
            return Err((
                code::ALLOCATION_QUOTA,
                format!("{} allocations per client IP", limits.max_per_ip),
            ));
        }
        if state.per_user.get(principal).copied().unwrap_or(0) >= limits.max_per_user {
            return Err((
                code::ALLOCATION_QUOTA,
                format!("{} allocations per peer or user", limits.max_per_user),
            ));
        }
        let (socket, token) = self.relayed_socket(message, &mut state)?;
        let relayed = socket
            .get_ref()
            .local_addr()
            .map_err(|e| (code::SERVER_ERROR, e.to_string()))?;
        let lifetime = self.lifetime(message.lifetime());
        let socket = Rc::new(socket);
        let reader = self
            .executor
            .spawn(Rc::clone(self).relay_loop(Rc::clone(&socket), from));
        state.allocations.insert(
            from,
            Allocation {
                principal: principal.clone(),
                tid: message.transaction_id,
                socket,
                relayed,
                expires: now + lifetime,
                active: now,
                permissions: HashMap::new(),
                channels: HashMap::new(),
                bucket: Bucket::new(limits.rate),
                to_peers: 0,
                to_client: 0,
                _reader: reader,
            },
        );
        state.relayed.insert(relayed);
        *state.per_ip.entry(from.ip()).or_default() += 1;
        *state.per_user.entry(principal.clone()).or_default() += 1;
        drop(state);
        self.event(&records::event(
            "allocated",
            json!({"client": udp(from),
            "relayed": udp(relayed), "lifetime_s": lifetime.as_secs(), "auth": principal.label()}),
        ));
        let mut attributes = allocated(message, relayed, from, lifetime);
        if let Some(token) = token {
            attributes.push(Attribute::Other {
                kind: attr::RESERVATION_TOKEN,
                value: token.to_vec(),
            });
        }
        Ok(attributes)
    }

    /// The relayed socket for an Allocate: a reserved one (RESERVATION-TOKEN), an
    /// even port (EVEN-PORT, holding the next port under a token when its R bit is
    /// set), or any free port.
    fn relayed_socket(
        &self,
        message: &Message,
        state: &mut State,
    ) -> std::result::Result<(Async<UdpSocket>, Option<[u8; 8]>), Refused> {
        let full = || {
            (
                code::INSUFFICIENT_CAPACITY,
                "no relayed port free".to_owned(),
            )
        };
        let even = message.raw(attr::EVEN_PORT);
        if let Some(token) = message.raw(attr::RESERVATION_TOKEN) {
            if even.is_some() {
                return Err((
                    code::BAD_REQUEST,
                    "EVEN-PORT with RESERVATION-TOKEN".to_owned(),
                ));
            }
            let now = Instant::now();
            state.reservations.retain(|_, (_, until)| *until > now);
            let token: [u8; 8] = token.try_into().map_err(|_| full())?;
            return state
                .reservations
                .remove(&token)
                .map(|(socket, _)| (socket, None))
                .ok_or_else(full);
        }
        let reserve = even.is_some_and(|v| v.first().is_some_and(|b| b & 0x80 != 0));
        if !reserve {
            return self
                .bind_relayed(even.is_some())
                .map(|s| (s, None))
                .ok_or_else(full);
        }
        if state.reservations.len() >= self.args.limits.max_allocations {
            return Err(full());
        }
        for _ in 0..64 {
            let socket = self.bind_relayed(true).ok_or_else(full)?;
            let port = socket.get_ref().local_addr().map_err(|_| full())?.port();
            let next = SocketAddr::new(self.relay_ip, port.wrapping_add(1));
            if let Ok(held) = Async::<UdpSocket>::bind(next) {
                let token: [u8; 8] = random::bytes().map_err(|_| full())?;
                state
                    .reservations
                    .insert(token, (held, Instant::now() + RESERVATION_LIFETIME));
                return Ok((socket, Some(token)));
            }
        }
        Err(full())
    }

    fn lifetime(&self, requested: Option<u32>) -> Duration {
        let default = u64::from(turn::DEFAULT_LIFETIME);
        let asked = requested.map_or(default, u64::from).max(default);
        Duration::from_secs(asked).min(self.args.limits.max_lifetime)
    }

    /// A relayed socket on a free port (from `--ports` when given; even if `even`).
    fn bind_relayed(&self, even: bool) -> Option<Async<UdpSocket>> {
        for _ in 0..64 {
            let port = match self.args.ports {
                None => 0,
                Some((lo, hi)) => {
                    let span = u32::from(hi - lo) + 1;
                    let r = u32::from_be_bytes(random::bytes().ok()?) % span;
                    lo + u16::try_from(r).unwrap_or(0)
                }
            };
            let Ok(socket) = Async::<UdpSocket>::bind(SocketAddr::new(self.relay_ip, port)) else {
                continue;
            };
            let got = socket.get_ref().local_addr().ok()?.port();
            if !even || got % 2 == 0 {
                let sock = socket2::SockRef::from(socket.get_ref());
                let _ = sock.set_recv_buffer_size(RELAYED_BUFFER);
                let _ = sock.set_send_buffer_size(RELAYED_BUFFER);
                return Some(socket);
            }
        }
        None
    }

    /// Runs `f` on the client's allocation made by `principal`: 437 when there is
    /// none, 441 when another principal made it.
    fn with_allocation<T>(
        &self,
        from: SocketAddr,
        principal: &Principal,
        f: impl FnOnce(&mut Allocation) -> std::result::Result<T, Refused>,
    ) -> std::result::Result<T, Refused> {
        let mut state = self.state.borrow_mut();
        let Some(a) = state.allocations.get_mut(&from) else {
            return Err((
                code::ALLOCATION_MISMATCH,
                "no allocation for this 5-tuple".to_owned(),
            ));
        };
        if &a.principal != principal {
            return Err((
                code::WRONG_CREDENTIALS,
                "the allocation belongs to another user".to_owned(),
            ));
        }
        f(a)
    }

    fn refresh(&self, message: &Message, from: SocketAddr, principal: &Principal) -> Reply {
        if message.lifetime() == Some(0) {
            self.with_allocation(from, principal, |_| Ok(()))?;
            self.end(from, "released");
            return Ok(vec![turn::lifetime(0)]);
        }
        let lifetime = self.lifetime(message.lifetime());
        self.with_allocation(from, principal, |a| {
            let now = Instant::now();
            a.expires = now + lifetime;
            a.active = now;
            Ok(())
        })?;
        self.event(&records::event(
            "refreshed",
            json!({"client": udp(from),
            "lifetime_s": lifetime.as_secs()}),
        ));
        Ok(vec![turn::lifetime(
            u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX),
        )])
    }

    fn permission(&self, message: &Message, from: SocketAddr, principal: &Principal) -> Reply {
        let Some(peers) = message.peer_addresses().filter(|p| !p.is_empty()) else {
            return Err((code::BAD_REQUEST, "no valid XOR-PEER-ADDRESS".to_owned()));
        };
        for peer in &peers {
            self.peer_allowed(*peer, false)?;
        }
        let ips: Vec<IpAddr> = peers.iter().map(SocketAddr::ip).collect();
        let max = self.args.limits.max_permissions;
        self.with_allocation(from, principal, |a| {
            a.permit(&ips, max, Instant::now()).map_err(|_| {
                (
                    code::INSUFFICIENT_CAPACITY,
                    format!("{max} permissions per allocation"),
                )
            })
        })?;
        let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
        self.event(&records::event(
            "permission",
            json!({"client": udp(from), "peers": ips}),
        ));
        Ok(vec![])
    }

    fn channel_bind(&self, message: &Message, from: SocketAddr, principal: &Principal) -> Reply {
        let channel = message
            .channel()
            .filter(|c| (turn::CHANNEL_MIN..=turn::CHANNEL_MAX_RFC5766).contains(c))
            .ok_or_else(|| {
                (
                    code::BAD_REQUEST,
                    "CHANNEL-NUMBER missing or out of range".to_owned(),
                )
            })?;
        let peer = match message.peer_addresses().as_deref() {
            Some([peer]) => *peer,
            _ => {
                return Err((
                    code::BAD_REQUEST,
                    "ChannelBind needs one XOR-PEER-ADDRESS".to_owned(),
                ));
            }
        };
        self.peer_allowed(peer, true)?;
        let limits = (
            self.args.limits.max_permissions,
            self.args.limits.max_channels,
        );
        self.with_allocation(from, principal, |a| {
            a.bind(channel, peer, limits, Instant::now())
                .map_err(|r| match r {
                    Refusal::Conflict => (
                        code::BAD_REQUEST,
                        "channel or peer bound otherwise".to_owned(),
                    ),
                    Refusal::Full => (
                        code::INSUFFICIENT_CAPACITY,
                        format!(
                            "{} channels or {} permissions per allocation",
                            limits.1, limits.0
                        ),
                    ),
                })
        })?;
        self.event(&records::event(
            "channel",
            json!({"client": udp(from),
            "channel": channel, "peer": udp(peer)}),
        ));
        Ok(vec![])
    }

    /// Checks and counts a packet from the client to `peer`; the socket to send it
    /// on when it may go.
    fn outbound(
        &self,
        from: SocketAddr,
        peer: SocketAddr,
        len: usize,
    ) -> Option<Rc<Async<UdpSocket>>> {
        let now = Instant::now();
        let max_bytes = self.args.limits.max_bytes;
        let over;
        let socket = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let a = state.allocations.get_mut(&from)?;
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return None;
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return None;
            }
            a.to_peers += len as u64;
            a.active = now;
            state.stats.to_peers += len as u64;
            over = max_bytes > 0 && a.bytes() >= max_bytes;
            Some(Rc::clone(&a.socket))
        };
        if over {
            self.end(from, "byte limit");
        }
        socket
    }

    fn relay_send(&self, message: &Message, from: SocketAddr) {
        let (Some(peers), Some(data)) = (message.peer_addresses(), message.data()) else {
            return;
        };
        let Some(peer) = peers.first().copied() else {
            return;
        };
        if self.peer_allowed(peer, true).is_err() {
            return;
        }
        if let Some(socket) = self.outbound(from, peer, data.len()) {
            let _ = socket.get_ref().send_to(data, peer);
        }
    }

    fn relay_channel_data(&self, from: SocketAddr, channel: u16, data: &[u8]) {
        let peer = {
            let state = self.state.borrow();
            let now = Instant::now();
            state
                .allocations
                .get(&from)
                .and_then(|a| a.channels.get(&channel))
                .filter(|(_, e)| *e > now)
                .map(|(p, _)| *p)
        };
        let Some(peer) = peer else { return };
        if let Some(socket) = self.outbound(from, peer, data.len()) {
            let _ = socket.get_ref().send_to(data, peer);
        }
    }

    /// Reads one allocation's relayed socket and forwards what permitted peers send.
    async fn relay_loop(self: Rc<Self>, socket: Rc<Async<UdpSocket>>, client: SocketAddr) {
        loop {
            if socket.readable().await.is_err() {
                return;
            }
            loop {
                match self.forward_to_client(&socket, client) {
                    Forward::Again => {}
                    Forward::Drained => break,
                    Forward::Gone => return,
                }
            }
        }
    }

    /// Forwards one datagram waiting on an allocation's relayed socket to its
    /// client. The datagram is read into the shared scratch buffer behind room for
    /// the ChannelData header, so relaying on a channel copies nothing.
    fn forward_to_client(&self, socket: &Async<UdpSocket>, client: SocketAddr) -> Forward {
        let mut scratch = self.scratch.borrow_mut();
        let (len, peer) = match socket.get_ref().recv_from(&mut scratch[4..]) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Forward::Drained,
            Err(e) if p2p_shared::connect::punch::binding::transient(&e) => return Forward::Again,
            Err(_) => return Forward::Gone,
        };
        let now = Instant::now();
        let (channel, over) = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(a) = state.allocations.get_mut(&client) else {
                return Forward::Gone;
            };
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return Forward::Again;
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return Forward::Again;
            }
            a.to_client += len as u64;
            a.active = now;
            state.stats.to_clients += len as u64;
            let max_bytes = self.args.limits.max_bytes;
            (
                a.channel_of(peer, now),
                max_bytes > 0 && a.bytes() >= max_bytes,
            )
        };
        match channel {
            Some(channel) => {
                scratch[..2].copy_from_slice(&channel.to_be_bytes());
                let n = u16::try_from(len).unwrap_or(u16::MAX);
                scratch[2..4].copy_from_slice(&n.to_be_bytes());
                self.send(&scratch[..4 + len], client);
            }
            None => {
                let tid = random::bytes().unwrap_or([0; 12]);
                let indication = Message {
                    class: Class::Indication,
                    method: method::DATA,
                    transaction_id: tid,
                    attributes: vec![
                        turn::xor_peer_address(peer, &tid),
                        turn::data(&scratch[4..4 + len]),
                    ],
                };
                self.send(&indication.encode(), client);
            }
        }
        drop(scratch);
        if over {
            self.end(client, "byte limit");
            return Forward::Gone;
        }
        Forward::Again
    }
}

/// What reading one datagram from a relayed socket came to.
enum Forward {
    /// One was handled (or dropped); there may be more.
    Again,
    /// None is waiting.
    Drained,
    /// The allocation or its socket is gone.
    Gone,
}

/// The attributes of a successful Allocate.
fn allocated(
    message: &Message,
    relayed: SocketAddr,
    from: SocketAddr,
    lifetime: Duration,
) -> Vec<Attribute> {
    vec![
        turn::xor_relayed_address(relayed, &message.transaction_id),
        turn::lifetime(u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX)),
        Attribute::XorMappedAddress(from),
    ]
}

/// A response as bytes: with MESSAGE-INTEGRITY when the request had a key, and
/// FINGERPRINT.
fn sign(response: &Message, key: Option<[u8; 16]>) -> Vec<u8> {
    match key {
        Some(key) => turn::encode_with_integrity(response, &key, true),
        None => {
            let mut response = response.clone();
            response.attributes.push(Attribute::Fingerprint);
            response.encode()
        }
    }
}

fn decrement<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}
