//! Client to peer: Send indications and ChannelData from the control socket go
//! out of the allocation's relayed socket, where a permission allows.

use super::Server;
use p2p_shared::codec::stun::Message;
use p2p_shared::codec::turn::Turn;
use smol::Async;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::Instant;

impl Server {
    /// Checks and counts a packet from the client to `peer`; the socket to send it
    /// on when it may go.
    pub(super) fn outbound(
        &self,
        from: SocketAddr,
        peer: SocketAddr,
        len: usize,
    ) -> Option<Rc<Async<UdpSocket>>> {
        let now = Instant::now();
        let max_bytes = self.args.limits.max_bytes;
        let over;
        let socket = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let a = state.allocations.get_mut(&from)?;
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return None;
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return None;
            }
            a.to_peers += len as u64;
            a.active = now;
            state.stats.to_peers += len as u64;
            over = max_bytes > 0 && a.bytes() >= max_bytes;
            Some(Rc::clone(&a.socket))
        };
        if over {
            self.end(from, "byte limit");
        }
        socket
    }

    pub(super) fn relay_send(&self, message: &Message, from: SocketAddr) {
        let (Some(peers), Some(data)) = (message.peer_addresses(), message.data()) else {
            return;
        };
        let Some(peer) = peers.first().copied() else {
            return;
        };
        if self.peer_allowed(peer, true).is_err() {
            return;
        }
        if let Some(socket) = self.outbound(from, peer, data.len()) {
            let _ = socket.get_ref().send_to(data, peer);
        }
    }

    pub(super) fn relay_channel_data(&self, from: SocketAddr, channel: u16, data: &[u8]) {
        let peer = {
            let state = self.state.borrow();
            let now = Instant::now();
            state
                .allocations
                .get(&from)
                .and_then(|a| a.channels.get(&channel))
                .filter(|(_, e)| *e > now)
                .map(|(p, _)| *p)
        };
        let Some(peer) = peer else { return };
        if let Some(socket) = self.outbound(from, peer, data.len()) {
            let _ = socket.get_ref().send_to(data, peer);
        }
    }
}
