//! Peer to client: what permitted peers send to a relayed socket goes to the
//! client as ChannelData or a Data indication, through the control socket.
//!
//! Each allocation's task reads one batch, queues what may go, sends it in runs
//! and lets the other tasks run before its next batch; before each batch it lets
//! the control socket have a pass when the last is due, so no busy allocation, nor
//! all of them in turn, holds the thread while requests wait.

use super::Server;
use crate::batch::{Batched, Inbox};
use p2p_shared::codec::stun::{Class, Message};
use p2p_shared::codec::turn::{self, method};
use p2p_shared::random;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// What reading one batch from a relayed socket came to.
enum Forward {
    /// A batch was handled; there may be more.
    Again,
    /// Nothing is waiting.
    Drained,
    /// The allocation or its socket is gone.
    Gone,
}

impl Server {
    /// Reads one allocation's relayed socket and forwards what permitted peers send.
    pub(super) async fn relay_loop(self: Rc<Self>, socket: Rc<Batched>, client: SocketAddr) {
        loop {
            match self.forward_batch(&socket, client) {
                Forward::Again => smol::future::yield_now().await,
                Forward::Drained => {
                    if socket.readable().await.is_err() {
                        return;
                    }
                }
                Forward::Gone => return,
            }
        }
    }

    /// Forwards one batch waiting on an allocation's relayed socket to its client.
    fn forward_batch(self: &Rc<Self>, socket: &Batched, client: SocketAddr) -> Forward {
        self.control_pass_if_due();
        let mut inbox = self.relayed_inbox.borrow_mut();
        match socket.recv(&mut inbox) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Forward::Drained,
            Err(e) if p2p_shared::connect::punch::binding::transient(&e) => return Forward::Again,
            Err(_) => return Forward::Gone,
        }
        let mut over = false;
        for (peer, datagram) in Inbox::datagrams(&inbox) {
            match self.forward_one(client, peer, datagram) {
                Some(true) => {
                    over = true;
                    break;
                }
                Some(false) => {}
                None => return Forward::Gone,
            }
        }
        drop(inbox);
        self.flush_to_clients();
        if over {
            self.end(client, "byte limit");
            return Forward::Gone;
        }
        Forward::Again
    }

    /// Checks, counts and queues one datagram from `peer` for `client`: None when
    /// the allocation is gone, else whether it reached its byte limit.
    fn forward_one(&self, client: SocketAddr, peer: SocketAddr, datagram: &[u8]) -> Option<bool> {
        let now = Instant::now();
        let len = datagram.len();
        let (channel, over) = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let a = state.allocations.get_mut(&client)?;
            if !a.permitted(peer.ip(), now) {
                state.stats.dropped_no_permission += 1;
                return Some(false);
            }
            if !a.bucket.take(len) {
                state.stats.dropped_rate += 1;
                return Some(false);
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
        let mut out = self.to_clients.borrow_mut();
        match channel {
            Some(channel) => out.push((), client, |buf| {
                turn::encode_channel_data(channel, datagram, buf);
            }),
            None => {
                let tid = random::bytes().unwrap_or([0; 12]);
                let indication = Message {
                    class: Class::Indication,
                    method: method::DATA,
                    transaction_id: tid,
                    attributes: vec![turn::xor_peer_address(peer, &tid), turn::data(datagram)],
                };
                out.push((), client, |buf| {
                    buf.extend_from_slice(&indication.encode());
                });
            }
        }
        Some(over)
    }
}
