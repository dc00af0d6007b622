//! Client to peer: Send indications and ChannelData from the control socket go
//! out of the allocation's relayed socket, where a permission allows; queued, and
//! sent in runs at the end of the control socket's pass.

use super::Server;
use p2p_shared::codec::stun::Message;
use p2p_shared::codec::turn::Turn;
use std::net::SocketAddr;
use std::time::Instant;

impl Server {
    /// Checks and counts a packet from the client to `peer` and queues it when it
    /// may go (sent at the end of the pass, or at once when it ends the allocation).
    fn outbound(&self, from: SocketAddr, peer: SocketAddr, data: &[u8]) {
        let len = data.len();
        let now = Instant::now();
        let max_bytes = self.args.limits.max_bytes;
        let over;
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(a) = state.allocations.get_mut(&from) else {
                return;
            };
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return;
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return;
            }
            a.to_peers += len as u64;
            a.active = now;
            state.stats.to_peers += len as u64;
            over = max_bytes > 0 && a.bytes() >= max_bytes;
        }
        self.to_peers
            .borrow_mut()
            .push(from, peer, |out| out.extend_from_slice(data));
        if over {
            self.flush_to_peers();
            self.end(from, "byte limit");
        }
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
        self.outbound(from, peer, data);
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
        self.outbound(from, peer, data);
    }
}
