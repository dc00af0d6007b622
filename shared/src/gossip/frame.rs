//! Wire frames between gossip neighbours, and a decoder that never panics.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: one kind byte and
//! the body. Lengths over the cap (the largest message plus envelope) are refused
//! before anything is buffered, so a neighbour can make us hold at most one capped
//! frame. Bodies are small fixed layouts; a signed message travels as its JSON
//! bytes ([`super::message`]), opaque to this layer.

use super::message::MessageId;
use crate::addr::Addr;
use crate::identity::peer_id::PeerId;
use std::fmt;
use std::sync::Arc;

/// The most addresses one peer entry carries.
pub const MAX_ADDRS: usize = 8;
/// The most peer entries in a shuffle.
pub const MAX_PEERS: usize = 64;
/// The most entries in an IHAVE or a summary frame.
pub const MAX_ENTRIES: usize = 4096;
/// Bytes a frame adds around a message (length, kind, hops).
pub const OVERHEAD: usize = 7;

/// A peer as the overlay passes it around: who, and where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer id (its transport key).
    pub id: PeerId,
    /// Where it can be dialled.
    pub addrs: Vec<Addr>,
}

/// One frame's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// HyParView: the sender joins the overlay through us.
    Join(PeerInfo),
    /// HyParView: a random walk announcing a joining peer.
    ForwardJoin {
        /// The joining peer.
        peer: PeerInfo,
        /// Steps left in the walk.
        ttl: u8,
    },
    /// HyParView: the sender asks to become an active neighbour.
    Neighbor {
        /// The sender.
        me: PeerInfo,
        /// Its active view is empty: accept even when full.
        high: bool,
    },
    /// HyParView: the sender drops us from its active view.
    Disconnect {
        /// The sender stays online (keep it as a passive candidate).
        alive: bool,
    },
    /// HyParView: a random walk carrying a sample of the origin's views.
    Shuffle {
        /// Who started it, to reply to.
        origin: PeerInfo,
        /// Steps left in the walk.
        ttl: u8,
        /// The sample.
        peers: Vec<PeerInfo>,
    },
    /// HyParView: the answer to a shuffle, a sample of the passive view.
    ShuffleReply(Vec<PeerInfo>),
    /// Plumtree: a full message, eagerly pushed.
    Gossip {
        /// Links travelled, this one included.
        hops: u16,
        /// The signed message.
        message: Arc<[u8]>,
    },
    /// Plumtree: ids of messages the sender has (lazy push), with their hops.
    IHave(Vec<(MessageId, u16)>),
    /// Plumtree: send me this message, and push eagerly to me from now on.
    Graft(MessageId),
    /// Plumtree: stop pushing eagerly to me.
    Prune,
    /// Anti-entropy: the newest `seq` the sender holds per author.
    Summary(Vec<(PeerId, u64)>),
    /// Anti-entropy: a stored message the receiver's summary showed it lacks.
    History {
        /// Links travelled, this one included.
        hops: u16,
        /// The signed message.
        message: Arc<[u8]>,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix exceeds the cap.
    TooLarge {
        /// The announced length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The body does not parse.
    Malformed(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            FrameError::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

mod kind {
    pub const JOIN: u8 = 1;
    pub const FORWARD_JOIN: u8 = 2;
    pub const NEIGHBOR: u8 = 3;
    pub const DISCONNECT: u8 = 4;
    pub const SHUFFLE: u8 = 5;
    pub const SHUFFLE_REPLY: u8 = 6;
    pub const GOSSIP: u8 = 7;
    pub const IHAVE: u8 = 8;
    pub const GRAFT: u8 = 9;
    pub const PRUNE: u8 = 10;
    pub const SUMMARY: u8 = 11;
    pub const HISTORY: u8 = 12;
}

fn put_peer(out: &mut Vec<u8>, peer: &PeerInfo) {
    out.extend_from_slice(&peer.id.to_bytes());
    let addrs: Vec<String> = peer
        .addrs
        .iter()
        .map(ToString::to_string)
        .filter(|a| u8::try_from(a.len()).is_ok())
        .take(MAX_ADDRS)
        .collect();
    out.push(u8::try_from(addrs.len()).unwrap_or(0));
    for addr in addrs {
        out.push(u8::try_from(addr.len()).unwrap_or(0));
        out.extend_from_slice(addr.as_bytes());
    }
}

fn put_peers(out: &mut Vec<u8>, peers: &[PeerInfo]) {
    let peers = &peers[..peers.len().min(MAX_PEERS)];
    out.push(u8::try_from(peers.len()).unwrap_or(0));
    for peer in peers {
        put_peer(out, peer);
    }
}

fn put_count(out: &mut Vec<u8>, n: usize) -> usize {
    let n = n.min(MAX_ENTRIES);
    out.extend_from_slice(&u16::try_from(n).unwrap_or(0).to_be_bytes());
    n
}

impl Wire {
    /// The frame's bytes, length prefix included. Lists longer than the wire allows
    /// are cut (callers keep them short).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 0];
        match self {
            Wire::Join(me) => {
                out.push(kind::JOIN);
                put_peer(&mut out, me);
            }
            Wire::ForwardJoin { peer, ttl } => {
                out.push(kind::FORWARD_JOIN);
                put_peer(&mut out, peer);
                out.push(*ttl);
            }
            Wire::Neighbor { me, high } => {
                out.push(kind::NEIGHBOR);
                put_peer(&mut out, me);
                out.push(u8::from(*high));
            }
            Wire::Disconnect { alive } => {
                out.push(kind::DISCONNECT);
                out.push(u8::from(*alive));
            }
            Wire::Shuffle { origin, ttl, peers } => {
                out.push(kind::SHUFFLE);
                put_peer(&mut out, origin);
                out.push(*ttl);
                put_peers(&mut out, peers);
            }
            Wire::ShuffleReply(peers) => {
                out.push(kind::SHUFFLE_REPLY);
                put_peers(&mut out, peers);
            }
            Wire::Gossip { hops, message } | Wire::History { hops, message } => {
                let k = if matches!(self, Wire::Gossip { .. }) {
                    kind::GOSSIP
                } else {
                    kind::HISTORY
                };
                out.push(k);
                out.extend_from_slice(&hops.to_be_bytes());
                out.extend_from_slice(message);
            }
            Wire::IHave(entries) => {
                out.push(kind::IHAVE);
                let n = put_count(&mut out, entries.len());
                for (id, hops) in &entries[..n] {
                    out.extend_from_slice(id);
                    out.extend_from_slice(&hops.to_be_bytes());
                }
            }
            Wire::Graft(id) => {
                out.push(kind::GRAFT);
                out.extend_from_slice(id);
            }
            Wire::Prune => out.push(kind::PRUNE),
            Wire::Summary(entries) => {
                out.push(kind::SUMMARY);
                let n = put_count(&mut out, entries.len());
                for (author, seq) in &entries[..n] {
                    out.extend_from_slice(&author.to_bytes());
                    out.extend_from_slice(&seq.to_be_bytes());
                }
            }
        }
        let len = u32::try_from(out.len() - 4).unwrap_or(u32::MAX);
        out[..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Decodes one frame's body (kind byte and what follows, no length prefix).
    pub fn decode(body: &[u8]) -> Result<Wire, FrameError> {
        let mut r = Reader { bytes: body };
        let wire = match r.u8()? {
            kind::JOIN => Wire::Join(r.peer()?),
            kind::FORWARD_JOIN => Wire::ForwardJoin {
                peer: r.peer()?,
                ttl: r.u8()?,
            },
            kind::NEIGHBOR => Wire::Neighbor {
                me: r.peer()?,
                high: r.flag()?,
            },
            kind::DISCONNECT => Wire::Disconnect { alive: r.flag()? },
            kind::SHUFFLE => Wire::Shuffle {
                origin: r.peer()?,
                ttl: r.u8()?,
                peers: r.peers()?,
            },
            kind::SHUFFLE_REPLY => Wire::ShuffleReply(r.peers()?),
            k @ (kind::GOSSIP | kind::HISTORY) => {
                let hops = r.u16()?;
                let message: Arc<[u8]> = r.rest().into();
                if message.is_empty() {
                    return Err(FrameError::Malformed("empty message"));
                }
                if k == kind::GOSSIP {
                    Wire::Gossip { hops, message }
                } else {
                    Wire::History { hops, message }
                }
            }
            kind::IHAVE => {
                let n = r.count()?;
                let mut entries = Vec::with_capacity(n.min(r.bytes.len() / 34));
                for _ in 0..n {
                    entries.push((r.id()?, r.u16()?));
                }
                Wire::IHave(entries)
            }
            kind::GRAFT => Wire::Graft(r.id()?),
            kind::PRUNE => Wire::Prune,
            kind::SUMMARY => {
                let n = r.count()?;
                let mut entries = Vec::with_capacity(n.min(r.bytes.len() / 40));
                for _ in 0..n {
                    entries.push((r.peer_id()?, r.u64()?));
                }
                Wire::Summary(entries)
            }
            _ => return Err(FrameError::Malformed("unknown frame kind")),
        };
        if r.bytes.is_empty() {
            Ok(wire)
        } else {
            Err(FrameError::Malformed("trailing bytes"))
        }
    }

    /// A short name for logs and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Wire::Join(_) => "join",
            Wire::ForwardJoin { .. } => "forward_join",
            Wire::Neighbor { .. } => "neighbor",
            Wire::Disconnect { .. } => "disconnect",
            Wire::Shuffle { .. } => "shuffle",
            Wire::ShuffleReply(_) => "shuffle_reply",
            Wire::Gossip { .. } => "gossip",
            Wire::IHave(_) => "ihave",
            Wire::Graft(_) => "graft",
            Wire::Prune => "prune",
            Wire::Summary(_) => "summary",
            Wire::History { .. } => "history",
        }
    }
}

/// A cursor over a frame body; every read checks the length.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.bytes.len() < n {
            return Err(FrameError::Malformed("truncated"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }

    fn flag(&mut self) -> Result<bool, FrameError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(FrameError::Malformed("flag is not 0 or 1")),
        }
    }

    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn id(&mut self) -> Result<MessageId, FrameError> {
        self.array()
    }

    fn count(&mut self) -> Result<usize, FrameError> {
        let n = usize::from(self.u16()?);
        if n > MAX_ENTRIES {
            return Err(FrameError::Malformed("too many entries"));
        }
        Ok(n)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn peer_id(&mut self) -> Result<PeerId, FrameError> {
        PeerId::from_bytes(&self.array()?).map_err(|_| FrameError::Malformed("bad peer id"))
    }

    fn peer(&mut self) -> Result<PeerInfo, FrameError> {
        let id = self.peer_id()?;
        let n = usize::from(self.u8()?);
        if n > MAX_ADDRS {
            return Err(FrameError::Malformed("too many addresses"));
        }
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::from(self.u8()?);
            let text = std::str::from_utf8(self.take(len)?)
                .map_err(|_| FrameError::Malformed("address is not UTF-8"))?;
            let addr: Addr = text
                .parse()
                .map_err(|_| FrameError::Malformed("bad address"))?;
            // Only the canonical form, so a frame re-encodes to the same bytes.
            if addr.to_string() != text {
                return Err(FrameError::Malformed("address not in canonical form"));
            }
            addrs.push(addr);
        }
        Ok(PeerInfo { id, addrs })
    }

    fn peers(&mut self) -> Result<Vec<PeerInfo>, FrameError> {
        let n = usize::from(self.u8()?);
        if n > MAX_PEERS {
            return Err(FrameError::Malformed("too many peers"));
        }
        (0..n).map(|_| self.peer()).collect()
    }
}

/// Splits a byte stream into frames. Feed it what arrives with [`push`](Self::push)
/// and take frames with [`next_frame`](Self::next_frame); after an error the stream is useless
/// (close it).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max` bytes (kind and body).
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Wire>, FrameError> {
        let Some(prefix) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if len == 0 {
            return Err(FrameError::Malformed("empty frame"));
        }
        let Some(frame) = self.buf.get(4..4 + len) else {
            return Ok(None);
        };
        let wire = Wire::decode(frame);
        self.buf.drain(..4 + len);
        wire.map(Some)
    }

    /// Bytes buffered but not yet a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn peer(seed: u8) -> PeerInfo {
        PeerInfo {
            id: Identity::from_seed([seed; 32]).id(),
            addrs: vec!["udp://127.0.0.1:4000".parse().unwrap()],
        }
    }

    fn all() -> Vec<Wire> {
        vec![
            Wire::Join(peer(1)),
            Wire::ForwardJoin {
                peer: peer(2),
                ttl: 6,
            },
            Wire::Neighbor {
                me: peer(3),
                high: true,
            },
            Wire::Disconnect { alive: false },
            Wire::Shuffle {
                origin: peer(4),
                ttl: 3,
                peers: vec![peer(5), peer(6)],
            },
            Wire::ShuffleReply(vec![peer(7)]),
            Wire::Gossip {
                hops: 3,
                message: b"{}".to_vec().into(),
            },
            Wire::IHave(vec![([9; 32], 2), ([8; 32], 1)]),
            Wire::Graft([7; 32]),
            Wire::Prune,
            Wire::Summary(vec![(peer(8).id, 42)]),
            Wire::History {
                hops: 1,
                message: b"x".to_vec().into(),
            },
        ]
    }

    #[test]
    fn every_frame_round_trips_even_when_split_byte_by_byte() {
        let mut decoder = FrameDecoder::new(1 << 16);
        let mut got = Vec::new();
        for wire in all() {
            for byte in wire.encode() {
                decoder.push(&[byte]);
                if let Some(frame) = decoder.next_frame().unwrap() {
                    got.push(frame);
                }
            }
        }
        assert_eq!(got, all());
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn oversize_truncated_and_garbage_frames_are_errors() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&1000u32.to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge {
                len: 1000,
                max: 100
            })
        );
        for body in [
            &[99u8][..],
            &[kind::GRAFT, 1, 2],
            &[kind::DISCONNECT, 2],
            &[kind::PRUNE, 0],
        ] {
            assert!(Wire::decode(body).is_err(), "{body:?}");
        }
        let mut bad_peer = vec![kind::JOIN];
        bad_peer.extend_from_slice(&peer(1).id.to_bytes());
        bad_peer.extend_from_slice(&[1, 3, b'a', b'b', b'c']);
        assert_eq!(
            Wire::decode(&bad_peer),
            Err(FrameError::Malformed("bad address"))
        );
    }
}
