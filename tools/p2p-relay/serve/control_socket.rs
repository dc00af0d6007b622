//! The control socket: every client's requests, Send indications and ChannelData
//! arrive here, and are handled in passes.
//!
//! A pass reads what is waiting, in batches, until the socket is drained or
//! [`READ_PER_PASS`] datagrams are read; sorts them into requests and data; answers
//! the requests (at most [`REQUESTS_PER_IP`] per source IP); then relays the data
//! (at most [`DATA_PER_PASS`] datagrams), grouped by client so that one client's
//! datagrams leave in runs. Between passes the relayed sockets' tasks run; while
//! they are busy, each runs a pass itself before its next batch once the last
//! pass is [`PASS_EVERY`] old, so requests never wait behind every busy
//! allocation's turn.

use super::{DATA_PER_PASS, REQUESTS_PER_IP, Server};
use crate::batch::Inbox;
use p2p_shared::Result;
use p2p_shared::codec::stun;
use p2p_shared::codec::turn;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How old the last pass may get while relayed sockets keep the thread busy.
const PASS_EVERY: Duration = Duration::from_millis(1);

/// Datagrams one pass reads at most before it answers and relays what it read.
const READ_PER_PASS: usize = 2 * DATA_PER_PASS;
/// The first two bytes of a Send indication (class indication, method Send).
const SEND_INDICATION: [u8; 2] = [0x00, 0x16];

/// What one pass read, kept between passes for its buffers.
#[derive(Default)]
pub(super) struct Pass {
    inbox: Inbox,
    /// Requests (and any other STUN message but a Send indication), copied out.
    requests: Vec<(SocketAddr, Range<usize>)>,
    request_bytes: Vec<u8>,
    /// Requests taken per source IP in this pass.
    per_ip: HashMap<IpAddr, usize>,
    /// ChannelData and Send indications, copied out.
    data: Vec<(SocketAddr, Range<usize>)>,
    data_bytes: Vec<u8>,
}

impl Pass {
    fn clear(&mut self) {
        self.requests.clear();
        self.request_bytes.clear();
        self.per_ip.clear();
        self.data.clear();
        self.data_bytes.clear();
    }
}

/// Whether a datagram is data to relay rather than a request.
fn is_data(datagram: &[u8]) -> bool {
    datagram.starts_with(&SEND_INDICATION) || turn::decode_channel_data(datagram).is_some()
}

/// Copies one datagram `d` from `from` out of the inbox, to be handled later in
/// the pass.
fn keep(
    list: &mut Vec<(SocketAddr, Range<usize>)>,
    bytes: &mut Vec<u8>,
    from: SocketAddr,
    d: &[u8],
) {
    let start = bytes.len();
    bytes.extend_from_slice(d);
    list.push((from, start..bytes.len()));
}

impl Server {
    /// Serves the control socket, one pass each time it is readable.
    pub(super) async fn control_loop(self: Rc<Self>) -> Result<()> {
        loop {
            self.control.readable().await?;
            self.control_pass()?;
            // The relayed sockets' tasks get their turn.
            smol::future::yield_now().await;
        }
    }

    /// Runs a pass when the last one is [`PASS_EVERY`] old (a relayed socket's task
    /// asks before each batch); an error of the socket is left to the control loop.
    pub(super) fn control_pass_if_due(self: &Rc<Self>) {
        if self.last_pass.get().elapsed() >= PASS_EVERY {
            let _ = self.control_pass();
        }
    }

    /// One pass: read, answer the requests, relay the data.
    fn control_pass(self: &Rc<Self>) -> Result<()> {
        self.last_pass.set(Instant::now());
        let mut pass = self.pass.borrow_mut();
        let pass = &mut *pass;
        pass.clear();
        let (mut read, mut behind, mut crowded) = (0usize, 0u64, 0u64);
        while read < READ_PER_PASS {
            match self.control.recv(&mut pass.inbox) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if p2p_shared::connect::punch::binding::transient(&e) => continue,
                Err(e) => return Err(e.into()),
            }
            let Pass {
                inbox,
                requests,
                request_bytes,
                per_ip,
                data,
                data_bytes,
            } = pass;
            for (from, datagram) in Inbox::datagrams(inbox) {
                read += 1;
                if is_data(datagram) {
                    if data.len() < DATA_PER_PASS {
                        keep(data, data_bytes, from, datagram);
                    } else {
                        behind += 1;
                    }
                    continue;
                }
                let taken = per_ip.entry(from.ip()).or_default();
                if *taken < REQUESTS_PER_IP {
                    *taken += 1;
                    keep(requests, request_bytes, from, datagram);
                } else {
                    crowded += 1;
                }
            }
        }
        {
            let stats = &mut self.state.borrow_mut().stats;
            stats.dropped_behind += behind;
            stats.dropped_requests += crowded;
        }
        for (from, at) in &pass.requests {
            let packet = &pass.request_bytes[at.clone()];
            match stun::decode(packet) {
                Ok(message) => self.stun(&message, packet, *from),
                Err(_) => self.state.borrow_mut().stats.malformed += 1,
            }
        }
        // One client's datagrams together (in their order), so they leave in runs.
        pass.data.sort_by_key(|(from, _)| *from);
        for (from, at) in &pass.data {
            let packet = &pass.data_bytes[at.clone()];
            if let Some((channel, payload)) = turn::decode_channel_data(packet) {
                self.relay_channel_data(*from, channel, payload);
                continue;
            }
            match stun::decode(packet) {
                Ok(message) => self.stun(&message, packet, *from),
                Err(_) => self.state.borrow_mut().stats.malformed += 1,
            }
        }
        self.flush_to_peers();
        Ok(())
    }
}
