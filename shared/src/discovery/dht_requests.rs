//! The requests a DHT node sent and not yet heard back on, for `-v`: matched with
//! their answers by transaction id (to tell who answered what, and how fast), and
//! swept as timed out when the lookup or store they belong to is done.
//!
//! Read from the `Debug` text of mainline's messages (see [`super::dht_wire`]).

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The most requests remembered; past it the oldest are forgotten (a busy node
/// sends thousands, and a ping that is never answered is never swept).
const MAX_REMEMBERED: usize = 4096;

/// One request in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where it went.
    pub to: SocketAddrV4,
    /// Its KRPC method: `find_node`, `get_peers`, `announce_peer`, `ping`, …
    pub kind: String,
    /// The first hex digits of the id it is about (none for a ping).
    pub target: Option<String>,
    /// When it went.
    pub at: Instant,
}

static SENT: LazyLock<Mutex<HashMap<u32, Sent>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Remembers the request `message` (a `Message { … }` text) sent to `to`; returns
/// it, or `None` when the text is not a request.
pub fn sent(message: &str, to: SocketAddrV4) -> Option<Sent> {
    let tid = transaction_id(message)?;
    let request = Sent {
        to,
        kind: request_kind(message)?,
        target: target(message),
        at: Instant::now(),
    };
    let mut sent = SENT.lock().ok()?;
    if sent.len() >= MAX_REMEMBERED
        && let Some(oldest) = sent.iter().min_by_key(|(_, s)| s.at).map(|(t, _)| *t)
    {
        sent.remove(&oldest);
    }
    sent.insert(tid, request.clone());
    Some(request)
}

/// The request that `message` (a response or error from `from`) answers, and how
/// long the answer took; forgotten from now on.
pub fn answered(message: &str, from: SocketAddrV4) -> Option<(Sent, Duration)> {
    let tid = transaction_id(message)?;
    let mut sent = SENT.lock().ok()?;
    if sent.get(&tid).is_none_or(|s| s.to != from) {
        return None;
    }
    let request = sent.remove(&tid)?;
    let took = request.at.elapsed();
    Some((request, took))
}

/// The requests about `target` still unanswered: the lookup or store they belong to
/// is done, so they timed out. Forgotten from now on.
pub fn timed_out(target: &str) -> Vec<Sent> {
    let Ok(mut sent) = SENT.lock() else {
        return Vec::new();
    };
    let mut gone: Vec<Sent> = Vec::new();
    sent.retain(|_, s| {
        let about = s.target.as_deref() == Some(target);
        if about {
            gone.push(s.clone());
        }
        !about
    });
    gone.sort_by_key(|s| s.at);
    gone
}

/// Every request still unanswered, oldest first. Forgotten from now on.
pub fn unanswered() -> Vec<Sent> {
    let Ok(mut sent) = SENT.lock() else {
        return Vec::new();
    };
    let mut left: Vec<Sent> = sent.drain().map(|(_, s)| s).collect();
    left.sort_by_key(|s| s.at);
    left
}

/// `transaction_id: 7` in a message's text.
fn transaction_id(message: &str) -> Option<u32> {
    let rest = message.split("transaction_id: ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The method of a request: `request_type: FindNode(…)` is `find_node`; a store
/// (`Put`) is named by its `put_request_type` (`announce_peer`, `put_mutable`, …).
fn request_kind(message: &str) -> Option<String> {
    let after = |key: &str| {
        message
            .split(key)
            .nth(1)
            .and_then(|rest| rest.split(['(', ' ', ',', '}']).next())
            .map(super::dht_wire::snake_case)
    };
    let kind = after("request_type: ")?;
    if kind == "put" {
        after("put_request_type: ")
    } else {
        Some(kind)
    }
}

/// The first 8 hex digits of the id a request is about (`target` or `info_hash`).
fn target(message: &str) -> Option<String> {
    ["target: Id(", "info_hash: Id("].iter().find_map(|key| {
        message
            .split(key)
            .nth(1)
            .map(|rest| rest.chars().take(8).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIND_NODE: &str = "Message { transaction_id: 41, foreign_transaction_id: None, \
        version: None, requester_ip: None, message_type: Request(RequestSpecific { \
        requester_id: Id(aa), request_type: FindNode(FindNodeRequestArguments { target: \
        Id(0123456789abcdef0123456789abcdef01234567) }) }), read_only: true }";

    #[test]
    fn a_request_is_matched_with_its_answer_once_and_from_its_node_only() {
        let to: SocketAddrV4 = "127.0.0.1:6881".parse().unwrap();
        let request = sent(FIND_NODE, to).unwrap();
        assert_eq!(request.kind, "find_node");
        assert_eq!(request.target.as_deref(), Some("01234567"));
        let answer = "Message { transaction_id: 41, message_type: Response(FindNode(…)) }";
        let stranger: SocketAddrV4 = "127.0.0.1:9".parse().unwrap();
        assert!(answered(answer, stranger).is_none());
        assert_eq!(answered(answer, to).unwrap().0.to, to);
        assert!(answered(answer, to).is_none());
    }

    #[test]
    fn the_unanswered_requests_of_a_finished_lookup_timed_out() {
        let to: SocketAddrV4 = "127.0.0.1:6882".parse().unwrap();
        let get = FIND_NODE
            .replace("transaction_id: 41", "transaction_id: 42")
            .replace(
                "FindNode(FindNodeRequestArguments { target",
                "GetPeers(GetPeersRequestArguments { info_hash",
            )
            .replace("0123456789abcdef", "fedcba9876543210");
        sent(&get, to).unwrap();
        let gone = timed_out("fedcba98");
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].kind, "get_peers");
        assert!(timed_out("fedcba98").is_empty());
    }

    #[test]
    fn a_store_is_named_by_what_it_stores() {
        let put = "Message { transaction_id: 43, message_type: Request(RequestSpecific { \
            requester_id: Id(aa), request_type: Put(PutRequest { token: [1], \
            put_request_type: AnnouncePeer(AnnouncePeerRequestArguments { info_hash: \
            Id(7ecde348ff9cda2c3ba69a0c4543365039d0d65b), port: 4000 }) }) }) }";
        assert_eq!(request_kind(put).as_deref(), Some("announce_peer"));
        assert_eq!(target(put).as_deref(), Some("7ecde348"));
    }
}
