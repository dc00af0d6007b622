//! Moving a relayed QUIC connection to a direct path when one opens, as ICE and
//! Tailscale do, with QUIC connection migration doing the move.
//!
//! quinn lets neither side of a connection change the peer address it sends to, but
//! a server follows a client whose packets arrive from a new address: it validates
//! the new path (PATH_CHALLENGE/PATH_RESPONSE) and moves the connection there
//! (quinn-proto `Connection::handle_event` drops datagrams from an unknown address
//! only when `remote_may_migrate` is false, and `process_payload` calls `migrate`
//! for the newest non-probing packet from a new address; `ServerConfig::migration`
//! is on by default). So the move is made in the dialer's socket
//! ([`TurnSocket`]): QUIC there keeps addressing the listener's relayed address, and
//! the socket sends those packets straight to the listener's proven address, from
//! the same UDP socket that talks to the relay. The listener's QUIC sees the
//! dialer's packets arrive from the dialer's own address and migrates.
//!
//! The candidates travel over the relayed connection itself as QUIC datagrams (RFC
//! 9221; the streams belong to the protocol on top), each one JSON object:
//! `{"type":"candidates","token":HEX,"addrs":["udp://…",…]}` (the allocation's
//! socket address and the address the relay saw it from). The dialer offers first,
//! again every half second until answered (so a dialer that does not want a direct
//! path never starts one); the listener answers each offer with its own, and both send checks ([`direct_path`](super::direct_path))
//! until a path is proven: ten a second for five seconds, then one every two seconds
//! for as long as the connection is relayed.

use super::direct_path::Route;
use super::turn_socket::TurnSocket;
use crate::addr::Addr;
use crate::{Error, Result};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// How long the dialer waits for the answer to its offer before sending it again.
const OFFER_AGAIN: Duration = Duration::from_millis(500);
/// The largest offer read.
const OFFER_LIMIT: usize = 4096;
/// At most this many of a peer's candidates are checked.
const MAX_CANDIDATES: usize = 8;
/// Checks go out this often at first…
const FAST_EVERY: Duration = Duration::from_millis(100);
/// …for this many rounds…
const FAST_ROUNDS: u32 = 50;
/// …then this often.
const SLOW_EVERY: Duration = Duration::from_secs(2);

/// One side's candidates and token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offer {
    token: String,
    addrs: Vec<SocketAddr>,
}

impl Offer {
    /// What `socket` offers: its own address (unless a wildcard) and the address the
    /// relay saw it from.
    fn of(socket: &TurnSocket) -> Result<Offer> {
        let mut addrs = Vec::new();
        let local = socket.socket_addr()?;
        if !local.ip().is_unspecified() {
            addrs.push(local);
        }
        if let Some(mapped) = socket.mapped().filter(|m| !addrs.contains(m)) {
            addrs.push(mapped);
        }
        Ok(Offer {
            token: socket.token(),
            addrs,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let addrs: Vec<Addr> = self.addrs.iter().map(|a| Addr::udp(*a)).collect();
        let record = json!({"type": "candidates", "token": self.token, "addrs": addrs});
        record.to_string().into_bytes()
    }

    fn decode(bytes: &[u8]) -> Result<Offer> {
        let bad = |what: &str| Error::failure(format!("the peer's candidates: {what}"));
        let record: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        if record["type"] != "candidates" {
            return Err(bad("not a candidates record"));
        }
        let token = record["token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .ok_or_else(|| bad("no token"))?
            .to_owned();
        let addrs = record["addrs"]
            .as_array()
            .ok_or_else(|| bad("no addrs"))?
            .iter()
            .take(MAX_CANDIDATES)
            .map(|a| {
                a.as_str()
                    .and_then(|t| t.strip_prefix("udp://"))
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| bad(&format!("{a} is not a udp:// address")))
            })
            .collect::<Result<_>>()?;
        Ok(Offer { token, addrs })
    }
}

/// Sends `offer` as a QUIC datagram.
fn send(conn: &quinn::Connection, offer: &Offer) -> Result<()> {
    conn.send_datagram(offer.encode().into())
        .map_err(|e| Error::failure(format!("sending candidates: {e}")))
}

/// The next offer among the peer's datagrams.
async fn receive(conn: &quinn::Connection) -> Result<Offer> {
    loop {
        let datagram = conn
            .read_datagram()
            .await
            .map_err(|e| Error::failure(format!("the peer's candidates: {e}")))?;
        if datagram.len() <= OFFER_LIMIT {
            return Offer::decode(&datagram);
        }
    }
}

/// Sends checks to `theirs` until `done` says so (looked at after every round).
async fn check_until<T>(
    socket: &TurnSocket,
    theirs: &Offer,
    mut done: impl FnMut() -> Option<T>,
) -> T {
    let mut round = 0u32;
    loop {
        for addr in &theirs.addrs {
            // A candidate this socket cannot reach (another address family) fails
            // here; the others go on.
            let _ = socket.check(*addr, &theirs.token);
        }
        round = round.saturating_add(1);
        smol::Timer::after(if round < FAST_ROUNDS {
            FAST_EVERY
        } else {
            SLOW_EVERY
        })
        .await;
        if let Some(out) = done() {
            return out;
        }
    }
}

/// The dialer's side: offers its candidates on `conn` (relayed over `socket`),
/// checks the listener's until one is proven, and moves the connection there.
/// Returns the direct address; runs as long as no path is proven (drop it to stop).
pub async fn dialer(conn: &quinn::Connection, socket: &TurnSocket) -> Result<SocketAddr> {
    let mine = Offer::of(socket)?;
    // Datagrams may be lost: the offer goes again until the answer comes.
    let theirs = loop {
        send(conn, &mine)?;
        let answer = smol::future::or(async { Some(receive(conn).await) }, async {
            smol::Timer::after(OFFER_AGAIN).await;
            None
        });
        if let Some(answer) = answer.await {
            break answer?;
        }
    };
    let relayed = conn.remote_address();
    let direct = check_until(socket, &theirs, || {
        socket
            .proven()
            .into_iter()
            .find(|a| theirs.addrs.contains(a))
    })
    .await;
    socket.switch(relayed, direct);
    Ok(direct)
}

/// The listener's side: answers the dialer's offer with its own candidates and
/// checks the dialer's (which opens this side's NAT to them) until the connection
/// has moved off the relay or ended. A dialer that makes no offer is never moved.
pub async fn listener(conn: &quinn::Connection, socket: &TurnSocket) -> Result<()> {
    let mine = Offer::of(socket)?;
    let theirs = receive(conn).await?;
    send(conn, &mine)?;
    // Every offer repeated (the answer was lost) is answered again.
    let answer = async {
        while receive(conn).await.is_ok() {
            send(conn, &mine)?;
        }
        Ok(())
    };
    let checks = async {
        check_until(socket, &theirs, || {
            let moved = socket.route(conn.remote_address()) != Route::Relayed;
            (moved || conn.close_reason().is_some()).then_some(())
        })
        .await;
        Ok(())
    };
    smol::future::or(checks, answer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_round_trips_and_bad_ones_are_refused() {
        let offer = Offer {
            token: "00ff".to_owned(),
            addrs: vec![
                "192.0.2.1:5".parse().unwrap(),
                "[2001:db8::1]:7".parse().unwrap(),
            ],
        };
        assert_eq!(Offer::decode(&offer.encode()).unwrap(), offer);
        for bad in [
            &b"not json"[..],
            br#"{"type":"peer","token":"a","addrs":[]}"#,
            br#"{"type":"candidates","addrs":[]}"#,
            br#"{"type":"candidates","token":"a","addrs":["tcp://1.2.3.4:5"]}"#,
        ] {
            assert!(
                Offer::decode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
