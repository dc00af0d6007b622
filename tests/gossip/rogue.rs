//! A hand-driven gossip peer: a real QUIC connection (ALPN `p2p-gossip/1`) on
//! which the test writes whatever frames it wants, including invalid ones.

use p2p_shared::connect::quic::endpoint::Listen;
use p2p_shared::connect::quic::{ALPN_GOSSIP, Allow, Endpoint, Tuning};
use p2p_shared::gossip::{PeerInfo, Wire};
use p2p_shared::identity::Identity;
use p2p_shared::identity::peer_id::PeerId;
use std::net::SocketAddr;
use std::time::Duration;

/// A connection to one node, and the stream frames are written on.
pub struct Rogue {
    _endpoint: Endpoint,
    conn: quinn::Connection,
    send: quinn::SendStream,
}

impl Rogue {
    /// Connects to the node `id` at `addr` (`udp://…`) and joins through it.
    pub fn connect(identity: &Identity, id: &str, addr: &str) -> Rogue {
        let peer: PeerId = id.parse().unwrap();
        let addr: SocketAddr = addr.trim_start_matches("udp://").parse().unwrap();
        let listen = Listen {
            allow: Allow::Anyone,
            alpns: vec![ALPN_GOSSIP.to_vec()],
        };
        let endpoint = Endpoint::bind(
            identity,
            "127.0.0.1:0".parse().unwrap(),
            Some(listen),
            Tuning::default(),
        )
        .unwrap();
        let me = PeerInfo {
            id: identity.id(),
            addrs: vec![
                format!("udp://{}", endpoint.local_addr().unwrap())
                    .parse()
                    .unwrap(),
            ],
        };
        let (conn, send) = smol::block_on(async {
            let conn = endpoint.dial(peer, &[addr], ALPN_GOSSIP).await.unwrap();
            let send = conn.open_uni().await.unwrap();
            (conn, send)
        });
        let mut rogue = Rogue {
            _endpoint: endpoint,
            conn,
            send,
        };
        rogue.send(&Wire::Join(me));
        rogue
    }

    /// Writes one frame.
    pub fn send(&mut self, wire: &Wire) {
        self.send_bytes(&wire.encode());
    }

    /// Writes raw bytes.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        smol::block_on(async {
            smol::future::or(async { self.send.write_all(bytes).await.unwrap() }, async {
                smol::Timer::after(Duration::from_secs(10)).await;
                panic!("writing a frame took over 10 s")
            })
            .await;
        });
    }

    /// Sends a signed message's bytes as an eager push.
    pub fn push(&mut self, message: &[u8]) {
        self.send(&Wire::Gossip {
            hops: 1,
            message: message.to_vec().into(),
        });
    }

    /// True while the node keeps the connection open.
    pub fn is_open(&self) -> bool {
        self.conn.close_reason().is_none()
    }
}
