//! One gossip node over QUIC: a [`Node`] state machine and its [`Net`] of
//! connections, driven by link events and the node's timers. The tool's event loop
//! and the one-process benchmark both run nodes through it.
//!
//! A driver handles everything already received before it runs due timers (the
//! caller drains its channel first, see [`Driver::tick`]): a process that was not
//! scheduled for a while wakes to find both an IHAVE's graft timer due and the
//! eager copy it waited for queued, and grafting then would only add a duplicate.
//! It also feeds each link's QUIC round-trip estimate to the node once a second
//! (the wait for a graft's answer follows it).

use super::net::{LinkEvent, Net};
use super::node::{Node, Output};
use crate::Result;
use crate::identity::peer_id::PeerId;
use smol::channel::Receiver;
use std::time::{Duration, Instant};

/// How often QUIC's round-trip estimates are passed to the node, milliseconds.
const RTT_EVERY_MS: u64 = 1_000;

/// The most queued events handled in one go before timers run.
pub const DRAIN: usize = 512;

/// A node and its connections.
pub struct Driver<E> {
    /// The state machine.
    pub node: Node,
    /// Its connections.
    pub net: Net<E>,
    start: Instant,
    next_rtt: u64,
}

impl<E: From<LinkEvent> + Send + 'static> Driver<E> {
    /// Drives `node` over `net`; the node's clock counts milliseconds from `start`.
    pub fn new(node: Node, net: Net<E>, start: Instant) -> Self {
        Driver {
            node,
            net,
            start,
            next_rtt: RTT_EVERY_MS,
        }
    }

    /// The node's clock now, milliseconds.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// When the node's next timer is due.
    pub fn deadline(&self) -> Instant {
        self.start + Duration::from_millis(self.node.next_deadline().min(self.next_rtt))
    }

    /// Waits for the next event, or until the node's next timer (or `also`) is due.
    pub async fn next(&self, rx: &Receiver<E>, also: Option<Instant>) -> Option<E> {
        let wake = also.map_or(self.deadline(), |a| a.min(self.deadline()));
        smol::future::or(async { rx.recv().await.ok() }, async {
            smol::Timer::at(wake).await;
            None
        })
        .await
    }

    /// Handles what the connections report. Returns a line worth telling a person
    /// (a neighbour left, a dial failed), if any.
    pub fn link_event(&mut self, event: LinkEvent) -> Option<String> {
        let now = self.now();
        match event {
            LinkEvent::Frame { peer, wire } => self.node.handle(peer, wire, now),
            LinkEvent::LinkEnded { peer, link, why } => {
                if self.net.link_ended(&peer, link) {
                    let was_active = self.node.active().contains(&peer);
                    self.node.closed(peer, now);
                    if was_active {
                        return Some(format!("neighbour {peer} left: {why}"));
                    }
                }
            }
            LinkEvent::Dialed { peer, result } => match result {
                Ok(conn) => self.net.connected(peer, conn, true),
                Err(why) => {
                    if self.net.is_dialing(&peer) {
                        self.net.dial_failed(&peer);
                        self.node.closed(peer, now);
                        return Some(why);
                    }
                }
            },
            LinkEvent::Accepted { peer, conn } => self.net.connected(peer, conn, false),
            LinkEvent::Unreachable { addr } => {
                let mut said = None;
                for peer in self.net.unreachable(addr) {
                    let was_active = self.node.active().contains(&peer);
                    self.node.closed(peer, now);
                    if was_active {
                        said = Some(format!(
                            "neighbour {peer} is gone: udp://{addr} answered port unreachable"
                        ));
                    }
                }
                return said;
            }
        }
        None
    }

    /// Runs the node's due timers, and passes on QUIC's round trips when due. Call
    /// it after handling every event already queued (up to [`DRAIN`]).
    pub fn tick(&mut self) {
        let now = self.now();
        if now >= self.next_rtt {
            self.next_rtt = now + RTT_EVERY_MS;
            for (peer, rtt) in self.net.rtts() {
                self.node.link_rtt(peer, rtt.as_secs_f64() * 1000.0);
            }
        }
        if now >= self.node.next_deadline() {
            self.node.tick(now);
        }
    }

    /// Carries out everything the node asked for: frames and closes go to the
    /// connections, every other output to `sink` (with the node, to look up a
    /// peer's addresses).
    pub fn drive(&mut self, mut sink: impl FnMut(&Node, Output) -> Result<()>) -> Result<()> {
        loop {
            let mut unreachable: Vec<PeerId> = Vec::new();
            while let Some(output) = self.node.poll() {
                match output {
                    Output::Send(to, wire) => {
                        let info = self.node.addrs_of(&to);
                        if !self.net.send(to, wire.encode(), info) {
                            unreachable.push(to);
                        }
                    }
                    Output::Close(peer) => self.net.close(&peer),
                    other => sink(&self.node, other)?,
                }
            }
            if unreachable.is_empty() {
                return Ok(());
            }
            let now = self.now();
            for peer in unreachable {
                self.node.closed(peer, now);
            }
        }
    }
}
