//! What the rendezvous holds, and its bounds: at most [`PER_ADDRESS`] registrations
//! from one socket address, [`PER_IP`] from one IP address and `--max-registrations`
//! in all, each expiring after [`TTL`] (swept every second, not only when a connect
//! comes); candidates of at most [`MAX_CANDIDATE`] bytes; per source IP a budget of
//! [`REQUESTS_PER_S`] requests a second; per registered peer at most
//! [`INTRODUCTIONS_PER_S`] introductions a second.

use p2p_shared::budget::PerSource;
use p2p_shared::connect::punch::rendezvous::TTL;
use p2p_shared::identity::peer_id::PeerId;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Most registrations from one socket address (a peer registers one id per socket).
pub const PER_ADDRESS: usize = 4;
/// Most registrations from one IP address (many peers may share a NAT).
pub const PER_IP: usize = 256;
/// The longest candidate record taken (bytes of JSON).
pub const MAX_CANDIDATE: usize = 1024;
/// Requests (hello, register, connect) a source IP may send a second, on average.
pub const REQUESTS_PER_S: f64 = 20.0;
/// The burst of requests a source IP may send.
const REQUEST_BURST: f64 = 60.0;
/// Introductions one registered peer may be sent a second, on average.
pub const INTRODUCTIONS_PER_S: f64 = 2.0;
/// The burst of introductions one registered peer may be sent.
const INTRODUCTION_BURST: f64 = 10.0;
/// Most sources whose request rate is tracked at once.
const SOURCES: usize = 65_536;
/// STUN requests a source IP may send a second, on average.
pub const STUN_PER_S: f64 = 50.0;
/// The burst of STUN requests a source IP may send.
const STUN_BURST: f64 = 200.0;
/// Answers a source IP may have sent to a port that never asked, a second, on average
/// (RFC 5780 clients such as coturn's ask for one from a fresh socket).
const REDIRECTS_PER_S: f64 = 1.0;
/// The burst of such answers.
const REDIRECT_BURST: f64 = 2.0;
/// How long a socket address that sent a STUN request may be named by RESPONSE-PORT.
const ASKED_WITHIN: Duration = Duration::from_hours(1);
/// A repeated connect within this time gets the same session.
const SESSION_REUSE: Duration = Duration::from_secs(5);

/// One registered peer.
pub struct Registration {
    /// Where it registered from.
    pub addr: SocketAddr,
    /// The server socket it registered on.
    pub socket: usize,
    /// Its signed candidate record.
    pub candidate: Map<String, Value>,
    expires: Instant,
    /// Introductions it may still be sent (a token bucket).
    introductions: (f64, Instant),
}

/// Registrations, sessions and the request budgets.
pub struct Registry {
    max: usize,
    registrations: HashMap<PeerId, Registration>,
    per_address: HashMap<SocketAddr, usize>,
    per_ip: HashMap<IpAddr, usize>,
    sessions: HashMap<(PeerId, PeerId), ([u8; 16], Instant)>,
    requests: PerSource,
    refusals: PerSource,
    stun: PerSource,
    redirects: PerSource,
    asked: HashMap<SocketAddr, Instant>,
}

impl Registry {
    /// An empty registry holding at most `max` registrations.
    pub fn new(max: usize) -> Registry {
        Registry {
            max: max.max(1),
            registrations: HashMap::new(),
            per_address: HashMap::new(),
            per_ip: HashMap::new(),
            sessions: HashMap::new(),
            requests: PerSource::new(REQUESTS_PER_S, REQUEST_BURST, SOURCES),
            refusals: PerSource::new(1.0, 1.0, SOURCES),
            stun: PerSource::new(STUN_PER_S, STUN_BURST, SOURCES),
            redirects: PerSource::new(REDIRECTS_PER_S, REDIRECT_BURST, SOURCES),
            asked: HashMap::new(),
        }
    }

    /// Counts a refusal for being over budget to `ip`; false when one was said
    /// within the last second (a refusal is a reply too).
    pub fn allow_refusal(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.refusals.allow(ip, 1.0, now)
    }

    /// Counts one STUN request from `from`; false when over its source's budget.
    /// Remembers `from` as a socket that asked (see [`Registry::may_redirect`]).
    pub fn allow_stun(&mut self, from: SocketAddr, now: Instant) -> bool {
        if !self.stun.allow(from.ip(), 1.0, now) {
            return false;
        }
        if self.asked.len() >= SOURCES && !self.asked.contains_key(&from) {
            self.asked
                .retain(|_, at| now.duration_since(*at) < ASKED_WITHIN);
            if self.asked.len() >= SOURCES {
                self.asked.clear();
            }
        }
        self.asked.insert(from, now);
        true
    }

    /// True when an answer may go to `to` (RESPONSE-PORT): a port that sent a STUN
    /// request within the hour, or else an unprivileged port within a small budget
    /// per source IP, so answers cannot be aimed at the ports of one IP in bulk.
    pub fn may_redirect(&mut self, to: SocketAddr, now: Instant) -> bool {
        let asked = self
            .asked
            .get(&to)
            .is_some_and(|at| now.duration_since(*at) < ASKED_WITHIN);
        asked || (to.port() >= 1024 && self.redirects.allow(to.ip(), 1.0, now))
    }

    /// Counts one request from `ip`; false when over its budget.
    pub fn allow_request(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.requests.allow(ip, 1.0, now)
    }

    /// Registers `id` from `addr`, or says why not.
    pub fn register(
        &mut self,
        id: PeerId,
        addr: SocketAddr,
        socket: usize,
        candidate: Map<String, Value>,
        now: Instant,
    ) -> Result<(), String> {
        let size = serde_json::to_vec(&candidate).map_or(usize::MAX, |b| b.len());
        if size > MAX_CANDIDATE {
            return Err(format!(
                "candidate too large ({size} bytes, at most {MAX_CANDIDATE})"
            ));
        }
        let renewing = self.registrations.get(&id).is_some_and(|r| r.addr == addr);
        if !renewing {
            if self.per_address.get(&addr).copied().unwrap_or(0) >= PER_ADDRESS {
                return Err(format!(
                    "too many registrations from {addr} (at most {PER_ADDRESS})"
                ));
            }
            if self.per_ip.get(&addr.ip()).copied().unwrap_or(0) >= PER_IP {
                return Err(format!(
                    "too many registrations from {} (at most {PER_IP})",
                    addr.ip()
                ));
            }
            if self.registrations.len() >= self.max && !self.registrations.contains_key(&id) {
                self.expire(now);
                if self.registrations.len() >= self.max {
                    return Err("the rendezvous is full: try again later".to_owned());
                }
            }
        }
        let introductions = self
            .registrations
            .get(&id)
            .map_or((INTRODUCTION_BURST, now), |r| r.introductions);
        let old = self.registrations.insert(
            id,
            Registration {
                addr,
                socket,
                candidate,
                expires: now + TTL,
                introductions,
            },
        );
        if let Some(old) = old {
            self.forget(old.addr);
        }
        *self.per_address.entry(addr).or_default() += 1;
        *self.per_ip.entry(addr.ip()).or_default() += 1;
        Ok(())
    }

    fn forget(&mut self, addr: SocketAddr) {
        if let Some(n) = self.per_address.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&addr);
            }
        }
        if let Some(n) = self.per_ip.get_mut(&addr.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&addr.ip());
            }
        }
    }

    /// Forgets expired registrations and sessions.
    pub fn expire(&mut self, now: Instant) {
        let gone: Vec<PeerId> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(r) = self.registrations.remove(&id) {
                self.forget(r.addr);
            }
        }
        self.sessions.retain(|_, s| now < s.1 + SESSION_REUSE);
    }

    /// How many peers are registered.
    pub fn len(&self) -> usize {
        self.registrations.len()
    }

    /// The live registration of `id`.
    pub fn get(&self, id: &PeerId, now: Instant) -> Option<&Registration> {
        self.registrations.get(id).filter(|r| r.expires > now)
    }

    /// Takes one introduction from `id`'s budget; false when it is spent.
    pub fn allow_introduction(&mut self, id: &PeerId, now: Instant) -> bool {
        let Some(r) = self.registrations.get_mut(id) else {
            return false;
        };
        let (tokens, at) = &mut r.introductions;
        *tokens = (*tokens
            + INTRODUCTIONS_PER_S * now.saturating_duration_since(*at).as_secs_f64())
        .min(INTRODUCTION_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The session of `a` asking for `b`: the same one for a repeat within a few
    /// seconds, else `fresh`.
    pub fn session(&mut self, a: PeerId, b: PeerId, fresh: [u8; 16], now: Instant) -> [u8; 16] {
        self.sessions.retain(|_, s| now < s.1 + SESSION_REUSE);
        self.sessions.entry((a, b)).or_insert((fresh, now)).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::identity::Identity;

    fn id(n: u8) -> PeerId {
        Identity::from_seed([n; 32]).id()
    }

    #[test]
    fn registrations_are_bounded_per_address_and_in_all_and_expire() {
        let mut registry = Registry::new(6);
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        for n in 0..4 {
            registry.register(id(n), a, 0, Map::new(), now).unwrap();
        }
        assert!(registry.register(id(9), a, 0, Map::new(), now).is_err());
        registry.register(id(0), a, 0, Map::new(), now).unwrap();
        assert_eq!(registry.len(), 4, "renewing takes no more room");
        let b: SocketAddr = "192.0.2.2:1000".parse().unwrap();
        registry.register(id(10), b, 0, Map::new(), now).unwrap();
        registry.register(id(11), b, 0, Map::new(), now).unwrap();
        let err = registry
            .register(id(12), b, 0, Map::new(), now)
            .unwrap_err();
        assert!(err.contains("full"), "{err}");
        let later = now + TTL + Duration::from_secs(1);
        registry.register(id(12), b, 0, Map::new(), later).unwrap();
        assert_eq!(registry.len(), 1, "the expired made room");
        registry.expire(later + TTL);
        assert_eq!(registry.len(), 0);
        assert!(registry.per_address.is_empty() && registry.per_ip.is_empty());
    }

    #[test]
    fn large_candidates_and_floods_of_requests_and_introductions_are_refused() {
        let mut registry = Registry::new(10);
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let mut big = Map::new();
        big.insert("local".into(), Value::String("x".repeat(MAX_CANDIDATE)));
        assert!(registry.register(id(1), a, 0, big, now).is_err());
        let allowed = (0..1000)
            .filter(|_| registry.allow_request(a.ip(), now))
            .count();
        assert_eq!(allowed, 60);
        registry.register(id(1), a, 0, Map::new(), now).unwrap();
        let sent = (0..100)
            .filter(|_| registry.allow_introduction(&id(1), now))
            .count();
        assert_eq!(sent, 10);
        assert!(registry.allow_introduction(&id(1), now + Duration::from_secs(1)));
    }
}
