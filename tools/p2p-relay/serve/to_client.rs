//! Peer to client: what permitted peers send to a relayed socket goes to the
//! client as ChannelData or a Data indication.

use super::Server;
use p2p_shared::codec::stun::{Class, Message};
use p2p_shared::codec::turn::{self, method};
use p2p_shared::random;
use smol::Async;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::Instant;

impl Server {
    /// Reads one allocation's relayed socket and forwards what permitted peers send.
    pub(super) async fn relay_loop(
        self: Rc<Self>,
        socket: Rc<Async<UdpSocket>>,
        client: SocketAddr,
    ) {
        loop {
            if socket.readable().await.is_err() {
                return;
            }
            loop {
                match self.forward_to_client(&socket, client) {
                    Forward::Again => {}
                    Forward::Drained => break,
                    Forward::Gone => return,
                }
            }
        }
    }

    /// Forwards one datagram waiting on an allocation's relayed socket to its
    /// client. The datagram is read into the shared scratch buffer behind room for
    /// the ChannelData header, so relaying on a channel copies nothing.
    fn forward_to_client(&self, socket: &Async<UdpSocket>, client: SocketAddr) -> Forward {
        let mut scratch = self.scratch.borrow_mut();
        let (len, peer) = match socket.get_ref().recv_from(&mut scratch[4..]) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Forward::Drained,
            Err(e) if p2p_shared::connect::punch::binding::transient(&e) => return Forward::Again,
            Err(_) => return Forward::Gone,
        };
        let now = Instant::now();
        let (channel, over) = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(a) = state.allocations.get_mut(&client) else {
                return Forward::Gone;
            };
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return Forward::Again;
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return Forward::Again;
            }
            a.to_client += len as u64;
            a.active = now;
            state.stats.to_clients += len as u64;
            let max_bytes = self.args.limits.max_bytes;
            (
                a.channel_of(peer, now),
                max_bytes > 0 && a.bytes() >= max_bytes,
            )
        };
        match channel {
            Some(channel) => {
                scratch[..2].copy_from_slice(&channel.to_be_bytes());
                let n = u16::try_from(len).unwrap_or(u16::MAX);
                scratch[2..4].copy_from_slice(&n.to_be_bytes());
                self.send(&scratch[..4 + len], client);
            }
            None => {
                let tid = random::bytes().unwrap_or([0; 12]);
                let indication = Message {
                    class: Class::Indication,
                    method: method::DATA,
                    transaction_id: tid,
                    attributes: vec![
                        turn::xor_peer_address(peer, &tid),
                        turn::data(&scratch[4..4 + len]),
                    ],
                };
                self.send(&indication.encode(), client);
            }
        }
        drop(scratch);
        if over {
            self.end(client, "byte limit");
            return Forward::Gone;
        }
        Forward::Again
    }
}

/// What reading one datagram from a relayed socket came to.
enum Forward {
    /// One was handled (or dropped); there may be more.
    Again,
    /// None is waiting.
    Drained,
    /// The allocation or its socket is gone.
    Gone,
}
