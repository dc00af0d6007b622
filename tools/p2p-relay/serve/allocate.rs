//! Allocate: the limits, the relayed socket (any port, an even one, a reserved
//! one) and the allocation with the task that reads its socket.

use super::{RELAYED_BUFFER, RESERVATION_LIFETIME, Refused, Reply, Server, State, allocated, udp};
use crate::alloc::{Allocation, Bucket};
use crate::auth::Principal;
use crate::batch::Batched;
use p2p_shared::codec::stun::{Attribute, Message};
use p2p_shared::codec::turn::{self, Turn, attr, code};
use p2p_shared::ndjson::records;
use p2p_shared::random;
use serde_json::json;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

impl Server {
    pub(super) fn allocate(
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
    pub(super) fn relayed_socket(
        &self,
        message: &Message,
        state: &mut State,
    ) -> std::result::Result<(Batched, Option<[u8; 8]>), Refused> {
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
                .and_then(|(socket, _)| relayed(socket))
                .map(|socket| (socket, None))
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
            if let Ok(held) = UdpSocket::bind(next) {
                let token: [u8; 8] = random::bytes().map_err(|_| full())?;
                state
                    .reservations
                    .insert(token, (held, Instant::now() + RESERVATION_LIFETIME));
                return Ok((socket, Some(token)));
            }
        }
        Err(full())
    }

    pub(super) fn lifetime(&self, requested: Option<u32>) -> Duration {
        let default = u64::from(turn::DEFAULT_LIFETIME);
        let asked = requested.map_or(default, u64::from).max(default);
        Duration::from_secs(asked).min(self.args.limits.max_lifetime)
    }

    /// A relayed socket on a free port (from `--ports` when given; even if `even`).
    fn bind_relayed(&self, even: bool) -> Option<Batched> {
        for _ in 0..64 {
            let port = match self.args.ports {
                None => 0,
                Some((lo, hi)) => {
                    let span = u32::from(hi - lo) + 1;
                    let r = u32::from_be_bytes(random::bytes().ok()?) % span;
                    lo + u16::try_from(r).unwrap_or(0)
                }
            };
            let Ok(socket) = UdpSocket::bind(SocketAddr::new(self.relay_ip, port)) else {
                continue;
            };
            let got = socket.local_addr().ok()?.port();
            if !even || got % 2 == 0 {
                return relayed(socket);
            }
        }
        None
    }
}

/// A bound socket made a relayed one: room for bursts, batched I/O, and
/// don't-fragment where the system has it.
fn relayed(socket: UdpSocket) -> Option<Batched> {
    let sock = socket2::SockRef::from(&socket);
    let _ = sock.set_recv_buffer_size(RELAYED_BUFFER);
    let _ = sock.set_send_buffer_size(RELAYED_BUFFER);
    Batched::new(socket).ok()
}
