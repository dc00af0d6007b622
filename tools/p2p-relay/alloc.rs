//! One allocation's state: its permissions and channels with their lifetimes, the
//! token bucket that bounds its rate, and its byte counts. No I/O here.

use crate::auth::Principal;
use crate::batch::Batched;
use p2p_shared::codec::turn;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A token bucket over bytes: `rate` per second, one second of burst; rate 0 is
/// no limit.
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: u64) -> Bucket {
        #[allow(clippy::cast_precision_loss)]
        let rate = rate as f64;
        Bucket {
            rate,
            tokens: rate,
            at: Instant::now(),
        }
    }

    /// Takes `n` bytes' worth; false (and nothing taken) when there are not enough.
    pub fn take(&mut self, n: usize) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.at = now;
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// Why a permission or channel request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The per-allocation limit is reached (508).
    Full,
    /// The channel or peer is bound the other way already (400).
    Conflict,
}

/// An allocation.
pub struct Allocation {
    /// Who made it.
    pub principal: Principal,
    /// The transaction id of the Allocate that made it (a retransmission gets the
    /// same answer).
    pub tid: [u8; 12],
    /// The relayed socket.
    pub socket: Rc<Batched>,
    /// Its address.
    pub relayed: SocketAddr,
    /// When it expires unless refreshed.
    pub expires: Instant,
    /// When it last relayed something or was refreshed.
    pub active: Instant,
    /// Permissions: peer IP and when it expires.
    pub permissions: HashMap<IpAddr, Instant>,
    /// Channels: number to (peer, expiry).
    pub channels: HashMap<u16, (SocketAddr, Instant)>,
    /// The rate limit.
    pub bucket: Bucket,
    /// Bytes relayed to peers.
    pub to_peers: u64,
    /// Bytes relayed to the client.
    pub to_client: u64,
    /// The task that reads the relayed socket (dropping it stops the task).
    pub _reader: smol::Task<()>,
}

impl Allocation {
    /// True when the peer's IP has a live permission.
    pub fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|e| *e > now)
    }

    /// Installs or refreshes permissions for `ips` (all or none).
    pub fn permit(&mut self, ips: &[IpAddr], max: usize, now: Instant) -> Result<(), Refusal> {
        let new = ips
            .iter()
            .filter(|ip| !self.permissions.contains_key(ip))
            .count();
        if self.permissions.len() + new > max {
            return Err(Refusal::Full);
        }
        let expires = now + Duration::from_secs(u64::from(turn::PERMISSION_LIFETIME));
        for ip in ips {
            self.permissions.insert(*ip, expires);
        }
        Ok(())
    }

    /// Binds or refreshes `channel` to `peer` (and the peer's permission).
    pub fn bind(
        &mut self,
        channel: u16,
        peer: SocketAddr,
        limits: (usize, usize),
        now: Instant,
    ) -> Result<(), Refusal> {
        let other_channel = self
            .channels
            .iter()
            .any(|(c, (p, _))| *p == peer && *c != channel);
        match self.channels.get(&channel) {
            Some((p, _)) if *p != peer => return Err(Refusal::Conflict),
            _ if other_channel => return Err(Refusal::Conflict),
            None if self.channels.len() >= limits.1 => return Err(Refusal::Full),
            _ => {}
        }
        self.permit(&[peer.ip()], limits.0, now)?;
        let expires = now + Duration::from_secs(u64::from(turn::CHANNEL_LIFETIME));
        self.channels.insert(channel, (peer, expires));
        Ok(())
    }

    /// The channel bound to `peer`, if live.
    pub fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        self.channels
            .iter()
            .find(|(_, (p, e))| *p == peer && *e > now)
            .map(|(c, _)| *c)
    }

    /// Drops expired permissions and channels.
    pub fn sweep(&mut self, now: Instant) {
        self.permissions.retain(|_, e| *e > now);
        self.channels.retain(|_, (_, e)| *e > now);
    }

    /// Bytes relayed both ways.
    pub fn bytes(&self) -> u64 {
        self.to_peers + self.to_client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_beyond_its_burst_and_refills() {
        let mut b = Bucket::new(1000);
        assert!(b.take(600));
        assert!(!b.take(600));
        std::thread::sleep(Duration::from_millis(300));
        assert!(b.take(600));
        let mut open = Bucket::new(0);
        assert!(open.take(usize::MAX));
    }
}
