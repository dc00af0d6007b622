//! `p2p-relay serve`: a TURN server (RFC 8656, UDP allocations) on one thread.
//!
//! One control socket takes every client's requests, Send indications and
//! ChannelData; each allocation owns a relayed socket read by its own task on the
//! same single-threaded executor, so the state needs no locks. A sweep each second
//! ends expired and idle allocations and drops expired permissions and channels.
//!
//! Every socket is read and written in batches ([`crate::batch`]): many datagrams
//! per system call. The control socket is read in passes (`control_socket`): a
//! pass answers the requests it read before it relays the data it read, answers at
//! most [`REQUESTS_PER_IP`] requests per source IP, and relays at most
//! [`DATA_PER_PASS`] datagrams, dropping the rest as the relay being behind; a
//! relayed socket's task forwards one batch and then lets the others run
//! (`to_client`), and runs a pass itself first when the last one is more than a
//! millisecond old. So a relay flooded with data still answers a new Allocate
//! within about a millisecond and a pass, and one noisy client IP cannot crowd out
//! the others' requests.
//!
//! Files: `control_socket` (the passes), `requests` (checks, authentication,
//! answers), `allocate`, `refresh_permit_bind`, `peer_policy` (which peers may be
//! relayed to), `to_peer` and `to_client` (the two directions of relaying), `sweep`
//! (expiry and `stats`).

mod allocate;
mod control_socket;
mod peer_policy;
mod refresh_permit_bind;
mod requests;
mod sweep;
mod to_client;
mod to_peer;

use crate::alloc::Allocation;
use crate::args::ServeArgs;
use crate::auth::{Auth, Principal};
use crate::batch::{Batched, Inbox, Outbox};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::codec::stun::{Attribute, Message};
use p2p_shared::codec::turn::{self, attr};
use p2p_shared::ndjson::output::Output;
use p2p_shared::ndjson::records::{self, Listening};
use p2p_shared::{Context, Error, Result, Status};
use serde_json::{Value, json};
use smol::LocalExecutor;
use std::cell::{Cell, RefCell};
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
/// Data datagrams (ChannelData and Send indications) relayed per pass of the
/// control socket at most; what a pass reads beyond is dropped (`dropped_behind`):
/// the relay is behind, and catching up matters more than old data.
const DATA_PER_PASS: usize = 1024;
/// Requests answered per source IP per pass at most (beyond: `dropped_requests`;
/// a client retransmits).
const REQUESTS_PER_IP: usize = 64;
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
    dropped_behind: u64,
    dropped_requests: u64,
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
    reservations: HashMap<[u8; 8], (UdpSocket, Instant)>,
    stats: Stats,
}

/// How long a reserved port is held.
const RESERVATION_LIFETIME: Duration = Duration::from_secs(30);

struct Server {
    control: Batched,
    auth: Auth,
    args: ServeArgs,
    relay_ip: IpAddr,
    own_ips: Vec<IpAddr>,
    out: Output,
    state: RefCell<State>,
    executor: Rc<LocalExecutor<'static>>,
    /// The control socket's pass: its buffers.
    pass: RefCell<control_socket::Pass>,
    /// When the last pass began.
    last_pass: Cell<Instant>,
    /// The batch every relayed socket is read into (one thread: one at a time).
    relayed_inbox: RefCell<Inbox>,
    /// Datagrams for clients, sent through the control socket.
    to_clients: RefCell<Outbox<()>>,
    /// Datagrams for peers, each on the relayed socket of the allocation of the
    /// client it names.
    to_peers: RefCell<Outbox<SocketAddr>>,
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
    let control = UdpSocket::bind(args.bind).with_context(|| format!("binding {}", args.bind))?;
    // Room for bursts: every client's traffic passes this one socket (the kernel
    // caps the sizes at net.core.rmem_max and wmem_max).
    let sock = socket2::SockRef::from(&control);
    let _ = sock.set_recv_buffer_size(CONTROL_BUFFER);
    let _ = sock.set_send_buffer_size(CONTROL_BUFFER);
    let local = control.local_addr()?;
    let control = Batched::new(control)?;
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
        pass: RefCell::default(),
        last_pass: Cell::new(Instant::now()),
        relayed_inbox: RefCell::default(),
        to_clients: RefCell::default(),
        to_peers: RefCell::default(),
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

    /// Sends what waits for clients.
    fn flush_to_clients(&self) {
        self.to_clients.borrow_mut().flush(|()| Some(&self.control));
    }

    /// Sends what waits for peers, each on its allocation's relayed socket.
    fn flush_to_peers(&self) {
        let state = self.state.borrow();
        self.to_peers
            .borrow_mut()
            .flush(|client| state.allocations.get(client).map(|a| &*a.socket));
    }
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
