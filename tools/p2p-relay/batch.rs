//! Batched UDP for the relay: many datagrams per system call both ways, through
//! quinn-udp's socket state (as the pipe's TURN socket does on the client side).
//!
//! Reading takes up to [`RECV_BATCH`] messages in one `recvmmsg`; a message the
//! kernel coalesced (GRO: several datagrams of one sender, one size, the last maybe
//! shorter) is cut back into its datagrams, so the relay always sees datagrams as
//! they were sent. Sending queues datagrams in an [`Outbox`]; a flush groups
//! consecutive datagrams to the same destination of the same size (the last of a
//! run may be shorter) into one `sendmsg` with GSO, which the kernel cuts into
//! those datagrams again. The socket state also sets don't-fragment where the
//! system supports it, so a relayed datagram too large for the path is dropped
//! rather than fragmented.

use quinn::udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use smol::Async;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;

/// Messages read per `recvmmsg` at most.
pub const RECV_BATCH: usize = if BATCH_SIZE < 32 { BATCH_SIZE } else { 32 };
/// Room for one message: a whole coalesced run of datagrams.
const MESSAGE_ROOM: usize = 1 << 16;
/// The most payload one GSO send may carry (an IPv4 datagram's limit).
const GSO_BYTES: usize = 65_507;

/// A UDP socket read and written in batches.
pub struct Batched {
    io: Async<UdpSocket>,
    state: UdpSocketState,
}

impl Batched {
    /// Takes over `socket` (made non-blocking; GRO and don't-fragment turned on
    /// where supported).
    pub fn new(socket: UdpSocket) -> io::Result<Batched> {
        let state = UdpSocketState::new((&socket).into())?;
        Ok(Batched {
            io: Async::new(socket)?,
            state,
        })
    }

    /// The socket underneath.
    pub fn get_ref(&self) -> &UdpSocket {
        self.io.get_ref()
    }

    /// Waits until a datagram is waiting.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Reads what is waiting (one system call) into `inbox`, replacing what it held;
    /// the number of messages read (`WouldBlock` when none was waiting).
    pub fn recv(&self, inbox: &mut Inbox) -> io::Result<usize> {
        inbox.filled = 0;
        let mut slices: Vec<IoSliceMut<'_>> = inbox
            .room
            .chunks_mut(MESSAGE_ROOM)
            .map(IoSliceMut::new)
            .collect();
        let n = self
            .state
            .recv((&self.io).into(), &mut slices, &mut inbox.metas)?;
        inbox.filled = n;
        Ok(n)
    }

    /// Sends one run: `contents` to `to`, cut into datagrams of `segment` bytes (the
    /// last may be shorter). A full socket buffer drops the run, as a congested link
    /// would.
    fn send_run(&self, to: SocketAddr, contents: &[u8], segment: usize) {
        let transmit = Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size: (contents.len() > segment).then_some(segment),
            src_ip: None,
        };
        let _ = self.state.send((&self.io).into(), &transmit);
    }

    /// The most datagrams one send may carry.
    fn max_segments(&self) -> usize {
        self.state.max_gso_segments().max(1)
    }
}

/// Buffers for one batch of received messages.
pub struct Inbox {
    room: Vec<u8>,
    metas: Vec<RecvMeta>,
    filled: usize,
}

impl Default for Inbox {
    fn default() -> Inbox {
        Inbox {
            room: vec![0; RECV_BATCH * MESSAGE_ROOM],
            metas: vec![RecvMeta::default(); RECV_BATCH],
            filled: 0,
        }
    }
}

impl Inbox {
    /// The datagrams of the last read, each whole, with its sender, in order.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.metas[..self.filled]
            .iter()
            .zip(self.room.chunks(MESSAGE_ROOM))
            .flat_map(|(meta, room)| {
                let bytes = &room[..meta.len.min(room.len())];
                bytes
                    .chunks(meta.stride.max(1))
                    .map(move |datagram| (meta.addr, datagram))
            })
    }
}

/// One datagram queued in an [`Outbox`].
struct Queued<K> {
    key: K,
    to: SocketAddr,
    at: Range<usize>,
}

/// Datagrams waiting to be sent, in order, each for a socket named by a key `K`
/// (the control socket needs none: `()`), written back to back in one buffer.
pub struct Outbox<K> {
    bytes: Vec<u8>,
    queued: Vec<Queued<K>>,
}

impl<K> Default for Outbox<K> {
    fn default() -> Outbox<K> {
        Outbox {
            bytes: Vec::new(),
            queued: Vec::new(),
        }
    }
}

impl<K: PartialEq> Outbox<K> {
    /// Queues one datagram to `to` on the socket `key`: `write` appends its bytes.
    pub fn push(&mut self, key: K, to: SocketAddr, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        let at = start..self.bytes.len();
        self.queued.push(Queued { key, to, at });
    }

    /// Sends everything queued, in runs, each on the socket `socket(key)` gives
    /// (nothing is sent for a key without one), and empties the outbox.
    pub fn flush<'s>(&mut self, mut socket: impl FnMut(&K) -> Option<&'s Batched>) {
        let mut start = 0;
        while start < self.queued.len() {
            let first = &self.queued[start];
            let Some(out) = socket(&first.key) else {
                start += 1;
                continue;
            };
            let end = self.run_end(start, out.max_segments());
            let last = &self.queued[end - 1];
            let contents = &self.bytes[first.at.start..last.at.end];
            out.send_run(first.to, contents, first.at.len().max(1));
            start = end;
        }
        self.queued.clear();
        self.bytes.clear();
    }

    /// Where the run that starts at `start` ends: the datagrams after it that go to
    /// the same place on the same socket with the same size, up to `max` of them and
    /// [`GSO_BYTES`] in all; one shorter datagram may end the run.
    fn run_end(&self, start: usize, max: usize) -> usize {
        let first = &self.queued[start];
        let size = first.at.len();
        let mut end = start + 1;
        let mut bytes = size;
        while end < self.queued.len() && end - start < max && size > 0 {
            let next = &self.queued[end];
            let fits = next.key == first.key
                && next.to == first.to
                && next.at.len() <= size
                && !next.at.is_empty()
                && bytes + next.at.len() <= GSO_BYTES;
            if !fits {
                break;
            }
            bytes += next.at.len();
            end += 1;
            if next.at.len() < size {
                break;
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Datagrams of assorted sizes to two destinations, with runs of equal sizes,
    /// short ends and interleavings.
    fn traffic(a: SocketAddr, b: SocketAddr) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        let mut n = 0u8;
        let mut datagram = |to, len: usize| {
            n = n.wrapping_add(1);
            let bytes: Vec<u8> = (0..len).map(|i| n ^ i.to_le_bytes()[0]).collect();
            (to, bytes)
        };
        for _ in 0..100 {
            out.push(datagram(a, 1200));
        }
        out.push(datagram(a, 300));
        out.push(datagram(a, 1200));
        for len in [500, 500, 499, 500, 1, 700] {
            out.push(datagram(b, len));
            out.push(datagram(a, len));
        }
        for _ in 0..70 {
            out.push(datagram(b, 900));
        }
        out
    }

    #[test]
    fn runs_and_batches_keep_each_datagram_whole() {
        let bind = || Batched::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let (sender, a, b) = (bind(), bind(), bind());
        for s in [&a, &b] {
            let _ = socket2::SockRef::from(s.get_ref()).set_recv_buffer_size(4 << 20);
        }
        let (a_addr, b_addr) = (
            a.get_ref().local_addr().unwrap(),
            b.get_ref().local_addr().unwrap(),
        );
        let sent = traffic(a_addr, b_addr);

        // The runs: same place, same size, a shorter last one, capped in count.
        let mut outbox = Outbox::default();
        for (to, bytes) in &sent {
            outbox.push((), *to, |buf| buf.extend_from_slice(bytes));
        }
        let mut runs = Vec::new();
        let mut start = 0;
        while start < outbox.queued.len() {
            let end = outbox.run_end(start, 64);
            runs.push(end - start);
            start = end;
        }
        // 54 of 1,200 bytes fill a send; the rest end with the 300; then one
        // 1,200 and the interleaved ones alone; 64 of 900 at most, and the rest.
        let mut expected = vec![54, 47];
        expected.extend([1; 13]);
        expected.extend([64, 6]);
        assert_eq!(runs, expected);

        // Sent in runs, read in batches: every datagram arrives as it was sent.
        outbox.flush(|()| Some(&sender));
        assert!(outbox.queued.is_empty() && outbox.bytes.is_empty());
        let mut got: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let mut inbox = Inbox::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < sent.len() && Instant::now() < deadline {
            let mut any = false;
            for (to, socket) in [(a_addr, &a), (b_addr, &b)] {
                if socket.recv(&mut inbox).is_ok() {
                    any = true;
                    got.extend(inbox.datagrams().map(|(_, d)| (to, d.to_vec())));
                }
            }
            if !any {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for to in [a_addr, b_addr] {
            let want: Vec<&Vec<u8>> = sent
                .iter()
                .filter(|(t, _)| *t == to)
                .map(|d| &d.1)
                .collect();
            let have: Vec<&Vec<u8>> = got.iter().filter(|(t, _)| *t == to).map(|d| &d.1).collect();
            assert_eq!(have, want, "to {to}");
        }
    }
}
