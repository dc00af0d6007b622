//! The direct path beside a TURN allocation, as ICE finds one: each side hands the
//! other its candidates and a random token over the relayed connection, then both
//! send STUN Binding checks from the allocation's own UDP socket to the other's
//! candidates (which opens each side's NAT towards the other). A check carries the
//! receiver's token as USERNAME and is answered only when the token matches, so the
//! socket answers its peer and no one else; an answer from the address a check went
//! to proves the path both ways.
//!
//! [`Routes`] is that state: the token, the checks in flight, the addresses proven
//! or heard from with the token (the only ones whose raw datagrams are taken), and
//! the switch the dialer makes once a path is proven: QUIC keeps addressing the
//! peer's relayed address, and the socket sends those packets straight to the
//! proven address instead (and hands back what arrives from there as coming from the
//! relayed address). The listener's QUIC sees the dialer's packets arrive from a new
//! address and migrates the connection there (RFC 9000 section 9).
//!
//! A direct path stays in use only while the peer answers checks on it: the time of
//! the last answer from each address is kept, and a path that went silent is left
//! ([`Routes::leave`]), so the packets go through the relay again.

use crate::codec::stun::{self, Attribute, Class, Message};
use crate::codec::turn::{self, Turn as _, attr};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

/// At most this many addresses are remembered as heard from.
const MAX_HEARD: usize = 32;
/// At most this many checks are awaited at once (the oldest are forgotten).
const MAX_CHECKS: usize = 512;

/// Which way a datagram to a peer address goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through the relay.
    Relayed,
    /// Straight to this address.
    Direct(SocketAddr),
    /// Through the relay to this address instead: the peer's relayed address, for a
    /// direct path that was left ([`Routes::send_back`]).
    Back(SocketAddr),
}

/// The direct-path state of one TURN socket.
#[derive(Debug)]
pub struct Routes {
    token: String,
    switched: Option<(SocketAddr, SocketAddr)>,
    heard: HashSet<SocketAddr>,
    checks: HashMap<[u8; 12], SocketAddr>,
    proven: Vec<SocketAddr>,
    answered: HashMap<SocketAddr, Instant>,
    left: Option<String>,
    back: Option<(SocketAddr, SocketAddr)>,
    dials: Option<SocketAddr>,
}

impl Routes {
    /// Fresh state with this socket's `token` (what a peer's checks must carry).
    pub fn new(token: [u8; 16]) -> Self {
        Routes {
            token: hex::encode(token),
            switched: None,
            heard: HashSet::new(),
            checks: HashMap::new(),
            proven: Vec::new(),
            answered: HashMap::new(),
            left: None,
            back: None,
            dials: None,
        }
    }

    /// This socket's token, as its peer puts it in checks.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A check to `to` carrying the peer's token, as bytes to send; its answer is
    /// awaited under `transaction_id`.
    pub fn check(&mut self, to: SocketAddr, peer_token: &str, transaction_id: [u8; 12]) -> Vec<u8> {
        if self.checks.len() >= MAX_CHECKS {
            self.checks.clear();
        }
        self.checks.insert(transaction_id, to);
        let mut request = Message::binding_request(transaction_id);
        request.attributes.push(turn::username(peer_token));
        request.encode()
    }

    /// Takes a STUN message that arrived straight from `from`: a check carrying this
    /// socket's token is answered (the answer is returned, to send back), an answer
    /// to one of this socket's checks proves the path to `from`.
    pub fn on_stun(&mut self, from: SocketAddr, message: &Message) -> Option<Vec<u8>> {
        if message.method != stun::BINDING {
            return None;
        }
        match message.class {
            Class::Request if message.text(attr::USERNAME) == Some(self.token.as_str()) => {
                self.hear(from);
                let mut answer = Message::response_to(message, Class::Success);
                answer.attributes.push(Attribute::XorMappedAddress(from));
                Some(answer.encode())
            }
            Class::Success if self.checks.get(&message.transaction_id) == Some(&from) => {
                self.checks.remove(&message.transaction_id);
                self.hear(from);
                if self.answered.len() >= MAX_HEARD {
                    self.answered.clear();
                }
                self.answered.insert(from, Instant::now());
                if !self.proven.contains(&from) {
                    self.proven.push(from);
                }
                None
            }
            _ => None,
        }
    }

    fn hear(&mut self, from: SocketAddr) {
        if self.heard.len() < MAX_HEARD {
            self.heard.insert(from);
        }
    }

    /// The addresses proven so far, first proven first.
    pub fn proven(&self) -> &[SocketAddr] {
        &self.proven
    }

    /// From now on, what QUIC sends to `relayed` goes straight to `direct`, and what
    /// arrives from `direct` is handed to QUIC as from `relayed`.
    pub fn switch(&mut self, relayed: SocketAddr, direct: SocketAddr) {
        self.hear(direct);
        self.switched = Some((relayed, direct));
    }

    /// When `addr` last answered one of this socket's checks.
    pub fn answered(&self, addr: SocketAddr) -> Option<Instant> {
        self.answered.get(&addr).copied()
    }

    /// Stops using the direct path to `direct` (it went silent, for `reason`): it is
    /// no longer proven nor heard from, and what QUIC sends goes through the relay
    /// again. A path found later has to be proven afresh.
    pub fn leave(&mut self, direct: SocketAddr, reason: String) {
        self.heard.remove(&direct);
        self.proven.retain(|a| *a != direct);
        self.answered.remove(&direct);
        if matches!(self.switched, Some((_, to)) if to == direct) {
            self.switched = None;
        }
        self.left = Some(reason);
    }

    /// From now on, what QUIC sends to the left direct address `direct` goes through
    /// the relay to the peer's relayed address `relayed` (the listener's QUIC still
    /// addresses the dialer's direct address until the dialer's packets come back
    /// through the relay; meanwhile they reach the dialer that way).
    pub fn send_back(&mut self, direct: SocketAddr, relayed: SocketAddr) {
        self.back = (direct != relayed).then_some((direct, relayed));
    }

    /// Why a direct path was last left, once (`None` after that, or if none was).
    pub fn take_left(&mut self) -> Option<String> {
        self.left.take()
    }

    /// Where QUIC's datagram to `to` goes: straight to an address proven or heard from
    /// with the token (or the one switched to), else through the relay (to the
    /// peer's relayed address instead of a direct address left).
    pub fn route(&self, to: SocketAddr) -> Route {
        match self.switched {
            Some((relayed, direct)) if relayed == to => Route::Direct(direct),
            _ if self.heard.contains(&to) => Route::Direct(to),
            _ => match self.back {
                Some((direct, relayed)) if direct == to => Route::Back(relayed),
                _ => Route::Relayed,
            },
        }
    }

    /// Makes this the socket of a dialer of one peer, at its relayed address
    /// `relayed`: what arrives from an address that showed the token comes from that
    /// peer, and is handed to QUIC as from `relayed`. (The listener's socket sends
    /// straight to the dialer once it has proven the dialer's address, which may be
    /// before the dialer has proven the listener's.)
    pub fn dials(&mut self, relayed: SocketAddr) {
        self.dials = Some(relayed);
    }

    /// The address QUIC is told a raw datagram from `from` came from, or `None` when
    /// `from` has not shown the token (its datagrams are dropped).
    pub fn sender(&self, from: SocketAddr) -> Option<SocketAddr> {
        match self.switched {
            Some((relayed, direct)) if direct == from => Some(relayed),
            _ if self.heard.contains(&from) => Some(self.dials.unwrap_or(from)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn a_check_with_the_token_is_answered_and_the_answer_proves_the_path() {
        let mut dialer = Routes::new([1; 16]);
        let mut listener = Routes::new([2; 16]);
        let request = dialer.check(addr(2), listener.token(), [7; 12]);
        let request = stun::decode(&request).unwrap();
        assert_eq!(listener.sender(addr(1)), None, "unheard before the check");
        let answer = listener.on_stun(addr(1), &request).expect("answered");
        assert_eq!(listener.sender(addr(1)), Some(addr(1)));
        assert_eq!(listener.route(addr(1)), Route::Direct(addr(1)));
        // An answer from elsewhere proves nothing.
        let answer = stun::decode(&answer).unwrap();
        dialer.on_stun(addr(3), &answer);
        assert!(dialer.proven().is_empty());
        dialer.on_stun(addr(2), &answer);
        assert_eq!(dialer.proven(), [addr(2)]);
        let relayed = addr(9);
        assert_eq!(dialer.route(relayed), Route::Relayed);
        dialer.switch(relayed, addr(2));
        assert_eq!(dialer.route(relayed), Route::Direct(addr(2)));
        assert_eq!(dialer.sender(addr(2)), Some(relayed));
        assert!(dialer.answered(addr(2)).is_some());
        // A path left goes back to the relay and must be proven again.
        dialer.leave(addr(2), "silent".to_owned());
        assert_eq!(dialer.route(relayed), Route::Relayed);
        assert_eq!(dialer.sender(addr(2)), None);
        assert!(dialer.proven().is_empty());
        assert_eq!(dialer.answered(addr(2)), None);
        assert_eq!(dialer.take_left().as_deref(), Some("silent"));
        assert_eq!(dialer.take_left(), None);
        // The listener leaves the path it routed to because it heard the dialer.
        listener.leave(addr(1), "silent".to_owned());
        assert_eq!(listener.route(addr(1)), Route::Relayed);
        // ...and sends what QUIC still addresses there to the dialer's relayed address.
        listener.send_back(addr(1), addr(8));
        assert_eq!(listener.route(addr(1)), Route::Back(addr(8)));
        assert_eq!(listener.route(addr(8)), Route::Relayed);
        // A dialer takes what its proven peer sends as from the peer's relayed
        // address, before it switched.
        let mut dialer = Routes::new([1; 16]);
        dialer.dials(relayed);
        let request = listener.check(addr(2), dialer.token(), [9; 12]);
        dialer.on_stun(addr(2), &stun::decode(&request).unwrap());
        assert_eq!(dialer.sender(addr(2)), Some(relayed));
    }

    #[test]
    fn a_check_without_the_token_is_ignored() {
        let mut listener = Routes::new([2; 16]);
        let mut stranger = Routes::new([3; 16]);
        let request = stranger.check(addr(2), "not-the-token", [1; 12]);
        let request = stun::decode(&request).unwrap();
        assert!(listener.on_stun(addr(5), &request).is_none());
        assert_eq!(listener.sender(addr(5)), None);
        assert_eq!(listener.route(addr(5)), Route::Relayed);
        let bare = stun::decode(&Message::binding_request([4; 12]).encode()).unwrap();
        assert!(listener.on_stun(addr(5), &bare).is_none());
    }
}
