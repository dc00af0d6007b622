//! Discovery through the mainline DHT: `get_peers` on SHA-1(topic), and with
//! `--announce PORT` an `announce_peer` first, repeated (the DHT forgets announces
//! within minutes) while the run lasts.

use crate::found::{self, Found, Sender};
use futures_lite::StreamExt;
use mainline::async_dht::AsyncDht;
use p2p_shared::discovery::dht::{found_peer, topic_infohash};
use std::net::{IpAddr, SocketAddrV4};
use std::time::Duration;

/// The mechanism's name in `via`.
pub const VIA: &str = "dht";
/// How often a repeating run announces and looks again.
const REPEAT: Duration = Duration::from_mins(1);

/// Announces (when asked) and looks up the topic until the run ends.
pub async fn run(dht: AsyncDht, topic: String, announce: Option<u16>, repeat: bool, tx: Sender) {
    let infohash = topic_infohash(&topic);
    let own: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|all| all.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    loop {
        if let Some(port) = announce
            && let Err(e) = dht.announce_peer(infohash, Some(port)).await
        {
            found::problem(&tx, VIA, format!("announcing: {e}"), false).await;
        }
        let mut stream = dht.get_peers(infohash);
        while let Some(batch) = stream.next().await {
            for addr in batch {
                if is_self(addr, announce, &own) {
                    continue;
                }
                if tx
                    .send(Found::Peer(found_peer(addr, &infohash, Some(&topic))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        if !repeat {
            return;
        }
        smol::Timer::after(REPEAT).await;
    }
}

/// True for this peer's own announce coming back.
fn is_self(addr: SocketAddrV4, announce: Option<u16>, own: &[IpAddr]) -> bool {
    announce == Some(addr.port())
        && (addr.ip().is_loopback() || own.contains(&IpAddr::V4(*addr.ip())))
}
