//! What a UDP source may get: response rate limiting per source prefix (as BIND's
//! and Knot's RRL do) and a bound on the reply size for sources whose address is
//! not verified, so the server cannot be used to flood a spoofed address.
//!
//! Rate: a token bucket per /24 (IPv4) or /56 (IPv6) prefix, `rate` answers a second
//! with a second's worth of burst. An answer beyond it is dropped, except every
//! `slip`th, which goes out as an empty truncated reply (TC=1, the question echoed,
//! no larger than the request): a real client behind the prefix asks again over TCP,
//! which a spoofer cannot. The bucket table is bounded ([`MAX_PREFIXES`]).
//!
//! Size: a UDP reply to an unverified source is at most [`AMPLIFICATION`] times the
//! request; a larger one goes out truncated instead. A source is verified for
//! [`VERIFIED_FOR`] once it has completed a TCP connection (the handshake proves the
//! address), so a resolver pays one TCP round for a large answer, then gets UDP.
//!
//! Loopback sources are exempt unless asked otherwise: they cannot be spoofed from
//! another host, and a resolver on the same host forwarding to this server asks for
//! all its clients from one address.

use super::respond;
use crate::budget::PerSource;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The largest reply, as a multiple of the request, sent over UDP to an unverified
/// source.
pub const AMPLIFICATION: usize = 4;
/// How long a completed TCP connection verifies its address for.
pub const VERIFIED_FOR: Duration = Duration::from_mins(10);
/// Most prefixes with a bucket; past it, full (idle) buckets are forgotten.
pub const MAX_PREFIXES: usize = 65_536;
/// Most verified addresses remembered; past it, expired ones are forgotten, and if
/// none has expired, all.
pub const MAX_VERIFIED: usize = 65_536;
/// The size of a DNS message header.
const HEADER: usize = 12;

/// The limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Answers a second per prefix (0: no rate limit).
    pub rate: u32,
    /// Every `slip`th limited answer is sent truncated rather than dropped (0: none).
    pub slip: u32,
    /// Limit loopback sources too.
    pub loopback: bool,
}

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Answer,
    /// Over the rate: send an empty truncated reply instead.
    Slip,
    /// Over the rate: send nothing.
    Drop,
}

/// The limits of one server, shared by its threads.
#[derive(Debug)]
pub struct Limits {
    config: Config,
    buckets: Mutex<PerSource>,
    limited: AtomicU64,
    verified: Mutex<HashMap<IpAddr, Instant>>,
}

impl Limits {
    /// Limits as configured.
    pub fn new(config: Config) -> Limits {
        let rate = f64::from(config.rate);
        Limits {
            config,
            buckets: Mutex::new(PerSource::new(rate, rate, MAX_PREFIXES)),
            limited: AtomicU64::new(0),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// True when `source` is exempt from every limit.
    fn exempt(&self, source: IpAddr) -> bool {
        source.is_loopback() && !self.config.loopback
    }

    /// Takes one answer's token from `source`'s prefix.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Verdict {
        if self.config.rate == 0 || self.exempt(source) {
            return Verdict::Answer;
        }
        let allowed = self
            .buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(prefix(source), 1.0, now);
        if allowed {
            return Verdict::Answer;
        }
        let n = self.limited.fetch_add(1, Ordering::Relaxed) + 1;
        if self.config.slip != 0 && n.is_multiple_of(u64::from(self.config.slip)) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }

    /// Remembers that `source` completed a TCP connection.
    pub fn verify(&self, source: IpAddr, now: Instant) {
        if self.exempt(source) {
            return;
        }
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= MAX_VERIFIED && !verified.contains_key(&source) {
            verified.retain(|_, at| now.saturating_duration_since(*at) < VERIFIED_FOR);
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
        }
        verified.insert(source, now);
    }

    /// True when a reply of `reply` bytes to a `request` of that many bytes from
    /// `source` is too large to send over UDP: more than [`AMPLIFICATION`] times the
    /// request, to a source not verified.
    pub fn too_large(&self, source: IpAddr, request: usize, reply: usize, now: Instant) -> bool {
        if reply <= request.saturating_mul(AMPLIFICATION) || self.exempt(source) {
            return false;
        }
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        verified
            .get(&source)
            .is_none_or(|at| now.saturating_duration_since(*at) >= VERIFIED_FOR)
    }
}

/// The prefix a source is limited by: its /24 (IPv4) or /56 (IPv6).
pub fn prefix(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[7..].fill(0);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    }
}

/// Writes into `out` the empty truncated reply to `request`: its id, opcode and RD,
/// QR and TC set, its one question echoed, nothing else; never longer than the
/// request. Returns false (and leaves `out` empty) when the request has no single
/// uncompressed question to echo, or is itself a response: it then gets nothing.
pub fn truncated(request: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if request.len() < HEADER || request[2] & 0x80 != 0 {
        return false;
    }
    let Some(name_end) = respond::first_name_end(request) else {
        return false;
    };
    let Some(question) = request.get(HEADER..name_end + 4) else {
        return false;
    };
    out.extend_from_slice(&request[..2]);
    // QR, the opcode and RD of the request, TC; no RA, Z, AD, CD; rcode NOERROR.
    out.push(0x80 | (request[2] & 0x79) | 0x02);
    out.push(0);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, Query};
    use hickory_proto::rr::{Name, RecordType};

    fn limits(rate: u32, slip: u32, loopback: bool) -> Limits {
        Limits::new(Config {
            rate,
            slip,
            loopback,
        })
    }

    #[test]
    fn a_prefix_gets_its_rate_and_every_slipth_beyond_it_slips() {
        let limits = limits(10, 2, false);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_prefix: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..30)
            .map(|i| limits.admit(if i % 2 == 0 { a } else { same_prefix }, now))
            .collect();
        let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
        assert_eq!(count(Verdict::Answer), 10, "one bucket for the /24");
        assert_eq!(count(Verdict::Slip), 10);
        assert_eq!(count(Verdict::Drop), 10);
        assert_eq!(limits.admit(other, now), Verdict::Answer);
        assert_eq!(
            limits.admit(a, now + Duration::from_millis(200)),
            Verdict::Answer,
            "refilled at the rate"
        );
        let v6: IpAddr = "2001:db8:0:100::1".parse().unwrap();
        let v6_same: IpAddr = "2001:db8:0:1ff::2".parse().unwrap();
        assert_eq!(prefix(v6), prefix(v6_same));
        assert_ne!(prefix(v6), prefix("2001:db8:0:200::1".parse().unwrap()));
    }

    #[test]
    fn loopback_is_exempt_unless_asked_and_zero_turns_it_off() {
        let now = Instant::now();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let exempt = limits(1, 1, false);
        assert!((0..100).all(|_| exempt.admit(lo, now) == Verdict::Answer));
        assert!(!exempt.too_large(lo, 10, 1000, now));
        let limited = limits(1, 0, true);
        assert_eq!(limited.admit(lo, now), Verdict::Answer);
        assert_eq!(limited.admit(lo, now), Verdict::Drop);
        let off = limits(0, 1, true);
        assert!((0..100).all(|_| off.admit(lo, now) == Verdict::Answer));
    }

    #[test]
    fn large_replies_need_a_verified_source() {
        let limits = limits(10, 2, true);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!limits.too_large(a, 40, 160, now));
        assert!(limits.too_large(a, 40, 161, now));
        limits.verify(a, now);
        assert!(!limits.too_large(a, 40, 1232, now));
        assert!(limits.too_large(a, 40, 1232, now + VERIFIED_FOR));
    }

    #[test]
    fn a_truncated_reply_echoes_the_question_and_is_no_larger() {
        let mut request = Message::query();
        request.metadata.id = 0x4242;
        request.metadata.recursion_desired = true;
        request.add_query(Query::query(
            Name::from_ascii("peers.test.").unwrap(),
            RecordType::SRV,
        ));
        request.set_edns(Edns::new());
        let packet = request.to_vec().unwrap();
        let mut out = Vec::new();
        assert!(truncated(&packet, &mut out));
        assert!(out.len() <= packet.len());
        let reply = Message::from_vec(&out).unwrap();
        assert_eq!(reply.metadata.id, 0x4242);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert!(reply.metadata.truncation);
        assert!(reply.metadata.recursion_desired);
        assert_eq!(reply.queries, request.queries);
        assert!(reply.answers.is_empty() && reply.additionals.is_empty());
        let mut response = packet.clone();
        response[2] |= 0x80;
        assert!(!truncated(&response, &mut out) && out.is_empty());
        assert!(!truncated(&packet[..20], &mut out));
    }
}
