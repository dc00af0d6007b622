//! One piped stream over a QUIC connection, with semantics people can build on.
//!
//! - The dialer opens one bidirectional stream and writes a one-byte header
//!   ([`HEADER`]) so the listener sees the stream before any data.
//! - EOF on stdin finishes this side's send direction; the peer reads EOF and closes
//!   its stdout, while data may still flow back.
//! - A side that has read the peer's direction to its end (every byte written to
//!   stdout and stdout closed) says so with a *bye*: a unidirectional stream carrying
//!   the id of the stream it finished reading. QUIC acknowledgements only say that the
//!   peer's stack holds the data, not that the peer's program got it; the bye does.
//! - A side whose own direction was read to the end (bye received), that read the
//!   peer's to the end and whose own bye the peer acknowledged closes the connection
//!   with [`CODE_DONE`]; neither side depends on the other's close arriving
//!   (a peer that receives it after sending its bye takes it as done, too). Both exit
//!   0 only then, so nothing unsent is dropped and a clean exchange never ends in an
//!   error.
//! - When the reader of stdout goes away, this side stops reading and closes the
//!   connection with [`CODE_READER_GONE`]; it ends quietly (status 0, like `head`'s
//!   writer), and the peer reports it as an error.

use crate::report::Counters;
use p2p_shared::connect::quic::endpoint::describe;
use p2p_shared::{Error, Result};
use quinn::{Connection, ConnectionError, ReadError, RecvStream, SendStream, WriteError};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The first byte of a stream the dialer opens: version 1 of this protocol.
pub const HEADER: u8 = 1;
/// Close code: both directions were delivered. Not 0: quinn closes a connection
/// whose last handle is dropped with code 0, and that must never read as "done".
pub const CODE_DONE: u32 = 0x10;
/// Close code: this side's stdout reader went away.
pub const CODE_READER_GONE: u32 = 0x11;
/// Close code (and stream stop and reset code): this side failed or was interrupted.
pub const CODE_FAILED: u32 = 0x12;

/// How much stdin is read at once.
const CHUNK: usize = 64 << 10;
/// How many chunks may wait between stdin and QUIC, and between QUIC and stdout.
const QUEUE: usize = 16;

/// How a piped session ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Both directions were delivered.
    Clean,
    /// The reader of this side's stdout went away.
    ReaderGone,
}

/// Why a session stopped before both directions were delivered.
enum Stop {
    ReaderGone,
    Failed(Error),
}

/// The dialer's side: opens the stream and makes it visible to the listener. The
/// first chunk of `stdin`, when already read, leaves with the header in one write (so
/// in the same packet), not in a packet of its own after it.
pub async fn open(
    conn: &Connection,
    stdin: &Stdin,
    counters: &Counters,
) -> Result<(SendStream, RecvStream)> {
    let (mut send, recv) = conn.open_bi().await.map_err(|e| lost(&e))?;
    let mut first = vec![HEADER];
    if let Ok(chunk) = stdin.0.try_recv() {
        let chunk = chunk.map_err(|e| Error::failure(format!("reading stdin: {e}")))?;
        first.extend_from_slice(&chunk);
    }
    send.write_all(&first).await.map_err(|e| write_error(&e))?;
    counters
        .sent
        .fetch_add(first.len() as u64 - 1, Ordering::Relaxed);
    Ok((send, recv))
}

/// The listener's side: the dialer's stream, checked; `None` if the dialer closed
/// the connection before opening one (it chose another path).
pub async fn accept(conn: &Connection) -> Result<Option<(SendStream, RecvStream)>> {
    let (send, mut recv) = match conn.accept_bi().await {
        Ok(pair) => pair,
        Err(ConnectionError::ApplicationClosed(_)) => return Ok(None),
        Err(e) => return Err(lost(&e)),
    };
    let mut header = [0u8; 1];
    recv.read_exact(&mut header)
        .await
        .map_err(|e| Error::failure(format!("reading the stream header: {e}")))?;
    if header[0] != HEADER {
        conn.close(CODE_FAILED.into(), b"unknown stream header");
        return Err(Error::failure(format!(
            "the peer opened a stream of unknown version {}",
            header[0]
        )));
    }
    Ok(Some((send, recv)))
}

/// Pipes stdin to `send` and `recv` to stdout until both directions are delivered;
/// with `close_stdout`, stdout is closed at the end of the peer's data (the reader
/// sees EOF), otherwise only flushed (a listener with `--keep` serves the next peer).
pub async fn pipe(
    conn: &Connection,
    send: SendStream,
    recv: RecvStream,
    counters: Arc<Counters>,
    stdin: Stdin,
    stdout: Stdout,
) -> Result<Ended> {
    let recv_id = u64::from(recv.id());
    let send_id = u64::from(send.id());
    let up = smol::spawn(stdin_to(send, stdin, counters.clone()));
    // Set once the peer's bye says it read all of this side's data.
    let peer_done = std::cell::Cell::new(false);
    // A reader that goes away ends the session at once, without waiting for the bye.
    let down = async {
        match to_stdout(recv, &counters, stdout).await {
            Ok(Ended::Clean) => match send_bye(conn, recv_id).await {
                // Both directions are delivered; a peer that left before our bye's
                // acknowledgement came back (its close lost on the way) changes nothing.
                Err(_) if peer_done.get() => Ok(()),
                other => other.map_err(Stop::Failed),
            },
            Ok(Ended::ReaderGone) => Err(Stop::ReaderGone),
            Err(e) => Err(Stop::Failed(e)),
        }
    };
    let bye = async {
        wait_bye(conn, send_id).await.map_err(Stop::Failed)?;
        peer_done.set(true);
        Ok(())
    };
    let done = smol::future::try_zip(down, bye);
    let ended = smol::future::or(
        async {
            match done.await {
                Ok(((), ())) => Ok(Ended::Clean),
                Err(Stop::ReaderGone) => Ok(Ended::ReaderGone),
                Err(Stop::Failed(e)) => Err(e),
            }
        },
        async {
            // The send direction only ends early with an error; otherwise wait for `done`.
            match up.await {
                Ok(_) => smol::future::pending().await,
                Err(e) => Err(e),
            }
        },
    )
    .await;
    match ended {
        Ok(Ended::Clean) => conn.close(CODE_DONE.into(), b"done"),
        Ok(Ended::ReaderGone) => conn.close(CODE_READER_GONE.into(), b"output closed"),
        Err(_) => conn.close(CODE_FAILED.into(), b"failed"),
    }
    ended
}

/// Chunks of stdin, read by a thread of their own.
pub struct Stdin(smol::channel::Receiver<std::io::Result<Vec<u8>>>);

/// Starts reading stdin (at most [`QUEUE`] chunks ahead). A dialer starts before it
/// connects, so the first bytes are at hand, and leave with the stream header, the
/// moment the handshake is done.
pub fn read_stdin() -> Stdin {
    let (tx, rx) = smol::channel::bounded::<std::io::Result<Vec<u8>>>(QUEUE);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        loop {
            let mut buf = vec![0u8; CHUNK];
            let result = match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(buf)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = result.is_err();
            if tx.send_blocking(result).is_err() || failed {
                return;
            }
        }
    });
    Stdin(rx)
}

/// Copies stdin into the stream, then finishes it (the peer reads EOF); returns the
/// stream, whose acknowledgement may still be awaited.
pub async fn stdin_to(
    mut send: SendStream,
    stdin: Stdin,
    counters: Arc<Counters>,
) -> Result<SendStream> {
    while let Ok(chunk) = stdin.0.recv().await {
        let chunk = chunk.map_err(|e| Error::failure(format!("reading stdin: {e}")))?;
        let len = chunk.len() as u64;
        send.write_chunk(chunk.into())
            .await
            .map_err(|e| write_error(&e))?;
        counters.sent.fetch_add(len, Ordering::Relaxed);
    }
    // Finishing fails only when the stream was already reset; the write error above
    // (or the connection's end) reports that case.
    let _ = send.finish();
    Ok(send)
}

/// What the stdout writer is told.
enum Out {
    /// Bytes to write.
    Data(bytes::Bytes),
    /// The peer's direction ended: flush (and close, if so made).
    End,
}

/// stdout, written by a thread of its own.
pub struct Stdout {
    tx: smol::channel::Sender<Out>,
    done: smol::channel::Receiver<std::io::Result<()>>,
}

/// Starts the stdout writer ahead of the stream, so that no thread is started between
/// the first bytes' arrival and their writing. With `close`, stdout is closed at the
/// end of the peer's data (the reader sees EOF), otherwise only flushed (a listener
/// with `--keep` serves the next peer). A writer dropped unused leaves stdout alone.
pub fn write_stdout(close: bool) -> Result<Stdout> {
    let (tx, rx) = smol::channel::bounded::<Out>(QUEUE);
    let (done_tx, done) = smol::channel::bounded::<std::io::Result<()>>(1);
    let out = File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::failure(format!("opening stdout: {e}")))?,
    );
    std::thread::spawn(move || {
        let _ = done_tx.send_blocking(write_out(out, &rx, close));
    });
    Ok(Stdout { tx, done })
}

/// Copies the stream to stdout through `stdout`'s writer, to the stream's end.
pub async fn to_stdout(mut recv: RecvStream, counters: &Counters, stdout: Stdout) -> Result<Ended> {
    let Stdout { tx, done } = stdout;
    loop {
        match recv.read_chunk(usize::MAX, true).await {
            Ok(Some(chunk)) => {
                let len = chunk.bytes.len() as u64;
                if tx.send(Out::Data(chunk.bytes)).await.is_err() {
                    break;
                }
                counters.received.fetch_add(len, Ordering::Relaxed);
            }
            Ok(None) => {
                let _ = tx.send(Out::End).await;
                break;
            }
            Err(e) => return Err(read_error(&e)),
        }
    }
    drop(tx);
    match done.recv().await {
        Ok(Ok(())) => Ok(Ended::Clean),
        Ok(Err(e)) if e.kind() == ErrorKind::BrokenPipe => {
            let _ = recv.stop(CODE_READER_GONE.into());
            Ok(Ended::ReaderGone)
        }
        Ok(Err(e)) => Err(Error::failure(format!("writing stdout: {e}"))),
        Err(_) => Err(Error::failure("the stdout writer stopped")),
    }
}

/// Writes every chunk to `out` until told the end; with `close`, then closes stdout
/// (fd 1 too, so the reader gets EOF: it is replaced by /dev/null).
fn write_out(mut out: File, rx: &smol::channel::Receiver<Out>, close: bool) -> std::io::Result<()> {
    loop {
        match rx.recv_blocking() {
            Ok(Out::Data(chunk)) => out.write_all(&chunk)?,
            Ok(Out::End) => break,
            // Dropped unused, or the session failed: stdout stays as it is.
            Err(_) => return out.flush(),
        }
    }
    out.flush()?;
    drop(out);
    if !close {
        return Ok(());
    }
    let null = File::options().write(true).open("/dev/null")?;
    nix::unistd::dup2_stdout(&null).map_err(std::io::Error::from)
}

/// Tells the peer that its stream `id` was read to the end, and waits until the peer
/// has acknowledged it: closing the connection discards unsent stream data, and the
/// peer must not depend on this side's close arriving.
pub async fn send_bye(conn: &Connection, id: u64) -> Result<()> {
    let mut bye = match conn.open_uni().await {
        Ok(bye) => bye,
        Err(e) if closed_done(&e) => return Ok(()),
        Err(e) => return Err(lost(&e)),
    };
    bye.write_all(&id.to_be_bytes())
        .await
        .map_err(|e| write_error(&e))?;
    let _ = bye.finish();
    match bye.stopped().await {
        Ok(_) => Ok(()),
        Err(quinn::StoppedError::ConnectionLost(e)) if closed_done(&e) => Ok(()),
        Err(quinn::StoppedError::ConnectionLost(e)) => Err(lost(&e)),
        Err(e) => Err(Error::failure(format!("sending the bye: {e}"))),
    }
}

/// Waits until the peer says it read stream `id` to the end.
async fn wait_bye(conn: &Connection, id: u64) -> Result<()> {
    loop {
        let mut bye = match conn.accept_uni().await {
            Ok(bye) => bye,
            // The peer closes with "done" only once it has read all of this side's
            // data, so its bye may be lost with the close without harm.
            Err(e) if closed_done(&e) => return Ok(()),
            Err(e) => return Err(lost(&e)),
        };
        let got = match bye.read_to_end(8).await {
            Ok(got) => got,
            // The same close can overtake the bye while it is read (seen on relayed
            // paths): it says the same.
            Err(quinn::ReadToEndError::Read(quinn::ReadError::ConnectionLost(e)))
                if closed_done(&e) =>
            {
                return Ok(());
            }
            Err(e) => return Err(Error::failure(format!("reading the peer's bye: {e}"))),
        };
        if got == id.to_be_bytes() {
            return Ok(());
        }
    }
}

/// Whether the peer closed the connection saying both directions were delivered.
fn closed_done(err: &ConnectionError) -> bool {
    matches!(err, ConnectionError::ApplicationClosed(close)
        if close.error_code == quinn::VarInt::from_u32(CODE_DONE))
}

/// The error for a connection that ended before the session did.
pub fn lost(err: &ConnectionError) -> Error {
    match err {
        ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(CODE_READER_GONE) =>
        {
            Error::failure("the peer's output was closed by its reader")
        }
        ConnectionError::TimedOut => Error::failure(
            "the connection was lost: the peer vanished (no packet within the idle timeout)",
        ),
        other => Error::failure(format!("the connection was lost: {}", describe(other))),
    }
}

fn write_error(err: &WriteError) -> Error {
    match err {
        WriteError::ConnectionLost(e) => lost(e),
        WriteError::Stopped(code) if *code == quinn::VarInt::from_u32(CODE_READER_GONE) => {
            Error::failure("the peer's output was closed by its reader")
        }
        other => Error::failure(format!("sending: {other}")),
    }
}

fn read_error(err: &ReadError) -> Error {
    match err {
        ReadError::ConnectionLost(e) => lost(e),
        other => Error::failure(format!("receiving: {other}")),
    }
}
