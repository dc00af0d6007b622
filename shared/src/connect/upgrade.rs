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
//! `{"type":"candidates","token":HEX,"addrs":["udp://…",…]}` (the socket's own
//! address and its public address as the relay, or for a dialer without an
//! allocation the rendezvous, saw it). The dialer offers first, again every half
//! second until answered (so a dialer that does not want a direct path never starts
//! one); the listener answers each offer with its own, and both send checks
//! ([`direct_path`](super::direct_path)) until a path is proven: ten a second for
//! five seconds, then one every two seconds for as long as the connection is
//! relayed.
//!
//! A dialer without an allocation of its own (it sends from a plain socket to the
//! listener's relayed address) moves the same way: its socket is a
//! [`TurnSocket::plain`].
//!
//! On the direct path both sides go on checking it, twice a second. When no check
//! has been answered for [`DIRECT_SILENCE`], the side leaves it and its packets go
//! through the relay again (the allocation is still there): the dialer's QUIC never
//! stopped addressing the listener's relayed address, and the listener's QUIC
//! follows the dialer's packets back to the relay as it followed them away. Then the
//! checks for a direct path start over.

use super::direct_path::Route;
use super::turn_socket::TurnSocket;
use crate::addr::Addr;
use crate::{Error, Result, narrate};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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
/// How often a direct path in use is checked.
const DIRECT_EVERY: Duration = Duration::from_millis(500);
/// A direct path whose checks go unanswered this long is left for the relay.
pub const DIRECT_SILENCE: Duration = Duration::from_secs(3);

/// One side's candidates and token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offer {
    token: String,
    addrs: Vec<SocketAddr>,
}

impl Offer {
    /// What `socket` offers: its own address and its public one
    /// ([`TurnSocket::candidates`]).
    fn of(socket: &TurnSocket) -> Offer {
        Offer {
            token: socket.token(),
            addrs: socket.candidates(),
        }
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

/// How a watch of the direct path ended.
enum Watched {
    /// The connection ended.
    Closed,
    /// The path stopped being used (it was left, or the peer moved).
    Off,
}

/// Checks the direct path in use, `direct()` (`None` once the stream is off it),
/// until the connection ends or the path goes silent for [`DIRECT_SILENCE`]; then
/// leaves it, so that the packets go through the relay again (to `back`, the peer's
/// relayed address, when given).
async fn watch_direct(
    conn: &quinn::Connection,
    socket: &TurnSocket,
    token: &str,
    direct: impl Fn() -> Option<SocketAddr>,
    back: Option<SocketAddr>,
) -> Watched {
    let mut watched: Option<(SocketAddr, Instant)> = None;
    loop {
        if conn.close_reason().is_some() {
            return Watched::Closed;
        }
        let Some(to) = direct() else {
            return Watched::Off;
        };
        // A path just taken (or moved to) counts from now.
        let since = match watched {
            Some((at, since)) if at == to => since,
            _ => Instant::now(),
        };
        let last = socket.answered(to).map_or(since, |t| t.max(since));
        if last.elapsed() >= DIRECT_SILENCE {
            let silence = crate::cli::duration::format(DIRECT_SILENCE);
            socket.leave(
                to,
                format!("the direct path to udp://{to} went silent (no check answered for {silence}): back on the relay"),
            );
            if let Some(relayed) = back {
                socket.send_back(to, relayed);
            }
            return Watched::Off;
        }
        watched = Some((to, since));
        let _ = socket.check(to, token);
        smol::Timer::after(DIRECT_EVERY).await;
    }
}

/// Offers this side's candidates until the listener answers with its own.
async fn exchange(conn: &quinn::Connection, mine: &Offer) -> Result<Offer> {
    // Datagrams may be lost: the offer goes again until the answer comes.
    loop {
        send(conn, mine)?;
        let answer = smol::future::or(async { Some(receive(conn).await) }, async {
            smol::Timer::after(OFFER_AGAIN).await;
            None
        });
        if let Some(answer) = answer.await {
            return answer;
        }
    }
}

/// The dialer's side: offers its candidates on `conn` (relayed over `socket`),
/// checks the listener's until one is proven, and moves the connection there; goes
/// back to the relay when the direct path goes silent, and looks for one again.
/// Runs as long as the connection (drop it to stop).
pub async fn dialer(conn: &quinn::Connection, socket: &TurnSocket) -> Result<()> {
    let mine = Offer::of(socket);
    narrate!("looking for a direct path: offering {:?}", mine.addrs);
    let theirs = exchange(conn, &mine).await?;
    narrate!("the peer's direct candidates: {:?}", theirs.addrs);
    let relayed = conn.remote_address();
    loop {
        let direct = check_until(socket, &theirs, || {
            if conn.close_reason().is_some() {
                return Some(None);
            }
            socket
                .proven()
                .into_iter()
                .find(|a| theirs.addrs.contains(a))
                .map(Some)
        })
        .await;
        let Some(direct) = direct else {
            return Ok(());
        };
        narrate!("a check to udp://{direct} was answered: moving the stream there");
        socket.switch(relayed, direct);
        let on = watch_direct(
            conn,
            socket,
            &theirs.token,
            || (socket.route(relayed) == Route::Direct(direct)).then_some(direct),
            None,
        );
        if let Watched::Closed = on.await {
            return Ok(());
        }
    }
}

/// The listener's side: answers the dialer's offer with its own candidates and
/// checks the dialer's (which opens this side's NAT to them) until the connection
/// has moved off the relay; then checks the direct path, leaves it when it goes
/// silent, and starts over, until the connection ends. A dialer that makes no offer
/// is never moved.
pub async fn listener(conn: &quinn::Connection, socket: &TurnSocket) -> Result<()> {
    let mine = Offer::of(socket);
    // The dialer's relayed address (or, without an allocation, its public one).
    let relayed = conn.remote_address();
    let theirs = receive(conn).await?;
    send(conn, &mine)?;
    // Every offer repeated (the answer was lost) is answered again.
    let answer = async {
        while receive(conn).await.is_ok() {
            send(conn, &mine)?;
        }
        Ok(())
    };
    let direct = || match socket.route(conn.remote_address()) {
        Route::Direct(to) => Some(to),
        Route::Relayed | Route::Back(_) => None,
    };
    let checks = async {
        loop {
            let closed = check_until(socket, &theirs, || {
                let closed = conn.close_reason().is_some();
                (closed || direct().is_some()).then_some(closed)
            })
            .await;
            if closed {
                return Ok(());
            }
            let watched = watch_direct(conn, socket, &theirs.token, direct, Some(relayed));
            if let Watched::Closed = watched.await {
                return Ok(());
            }
        }
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
