//! TCP forwarding: each TCP connection rides its own QUIC stream.
//!
//! `connect --local tcp://ADDR` accepts TCP connections and opens a stream per
//! connection; `listen --forward tcp://HOST:PORT` connects each stream it accepts to
//! the target. A TCP EOF finishes the stream, a stream's end shuts down the TCP
//! connection's write side, so half-closes pass through both ways. A stream from a
//! plain `connect` (ProxyCommand use) is forwarded the same way, and the listener
//! sends it the bye the pipe waits for.

use crate::report::{Counters, Reporter};
use crate::session::{self, HEADER};
use p2p_shared::{Error, Result, diag};
use quinn::{Connection, RecvStream, SendStream};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{Shutdown, TcpListener, TcpStream};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How much of a TCP connection is read at once.
const CHUNK: usize = 64 << 10;

/// `connect --local`: forwards every TCP connection to `listen` over `conn` until the
/// connection ends.
pub async fn local(
    conn: &Connection,
    listen: SocketAddr,
    reporter: &Reporter,
    counters: Arc<Counters>,
) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::failure(format!("listening on tcp://{listen}: {e}")))?;
    reporter.forwarding(listener.local_addr()?);
    let drain = smol::spawn(drain_byes(conn.clone()));
    let serve = async {
        loop {
            let (tcp, from) = listener.accept().await?;
            let conn = conn.clone();
            let counters = counters.clone();
            smol::spawn(async move {
                let streams = match conn.open_bi().await {
                    Ok(streams) => streams,
                    Err(e) => {
                        return diag::warn(format_args!("tcp://{from}: {}", session::lost(&e)));
                    }
                };
                if let Err(e) = splice(tcp, streams, true, &counters).await {
                    diag::warn(format_args!("tcp://{from}: {e}"));
                }
            })
            .detach();
        }
    };
    let ended = smol::future::or(serve, async { Err(session::lost(&conn.closed().await)) }).await;
    drop(drain);
    ended
}

/// `listen --forward`: connects every stream the peer opens on `conn` to `target`,
/// until the peer closes the connection.
pub async fn serve(conn: &Connection, target: SocketAddr, counters: Arc<Counters>) -> Result<()> {
    loop {
        let (send, recv) = match session::accept(conn).await {
            Ok(Some(streams)) => streams,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e),
        };
        let conn = conn.clone();
        let counters = counters.clone();
        smol::spawn(async move {
            let recv_id = u64::from(recv.id());
            let mut send = send;
            let tcp = match TcpStream::connect(target).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    diag::warn(format_args!("connecting tcp://{target}: {e}"));
                    let _ = send.reset(session::CODE_FAILED.into());
                    return;
                }
            };
            match splice(tcp, (send, recv), false, &counters).await {
                Ok(()) => {
                    let _ = session::send_bye(&conn, recv_id).await;
                }
                Err(e) => diag::warn(format_args!("forwarding to tcp://{target}: {e}")),
            }
        })
        .detach();
    }
}

/// Discards the byes a forwarding listener sends (`--local` does not wait for them).
async fn drain_byes(conn: Connection) {
    while let Ok(mut bye) = conn.accept_uni().await {
        let _ = bye.read_to_end(8).await;
    }
}

/// Copies both ways between `tcp` and a stream until both directions ended; `opener`
/// writes the stream header first.
async fn splice(
    tcp: TcpStream,
    (mut send, mut recv): (SendStream, RecvStream),
    opener: bool,
    counters: &Counters,
) -> Result<()> {
    if opener {
        send.write_all(&[HEADER])
            .await
            .map_err(|e| Error::failure(format!("sending: {e}")))?;
    }
    let mut reader = tcp.clone();
    let mut writer = tcp;
    let up = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                let _ = send.finish();
                return Ok::<(), Error>(());
            }
            send.write_all(&buf[..n])
                .await
                .map_err(|e| Error::failure(format!("sending: {e}")))?;
            counters.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
    };
    let down = async {
        while let Some(chunk) = recv
            .read_chunk(usize::MAX, true)
            .await
            .map_err(|e| Error::failure(format!("receiving: {e}")))?
        {
            writer.write_all(&chunk.bytes).await?;
            counters
                .received
                .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
        }
        writer.flush().await?;
        let _ = writer.shutdown(Shutdown::Write);
        Ok::<(), Error>(())
    };
    smol::future::try_zip(up, down).await.map(|_| ())
}
