//! `p2p-pipe connect`: find a path to the listener (direct addresses all at once,
//! then a punched path, then a relayed one), then pipe stdin/stdout over one stream, or forward local TCP
//! connections (`--local`).

use crate::args::{ConnectArgs, Signal};
use crate::report::{Counters, Reporter};
use crate::{dumbpipe, forward, paths, session, target};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::cli::shutdown;
use p2p_shared::connect::path::{Candidate, Dialer, Path, Via};
use p2p_shared::connect::quic::{self, ALPN_PIPE};
use p2p_shared::connect::ticket::Ticket;
use p2p_shared::connect::upgrade;
use p2p_shared::identity::Identity;
use p2p_shared::{Error, Result, Status, diag};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a closing side waits for its close to reach the peer.
pub const LINGER: Duration = Duration::from_secs(2);

/// `p2p-pipe connect`.
pub fn run(args: &ConnectArgs, ctx: &Ctx) -> Result<Status> {
    // Already started by `main` unless a flag came before the subcommand.
    quic::warm::start();
    let identity = paths::identity(&args.common, ctx)?;
    let reporter = Reporter::open(args.common.events.as_deref(), ctx)?;
    let bind = args
        .bind
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    // stdin is read, and the stdout writer started, while the path is found (but not
    // when they carry the signalled candidates first, or when TCP connections are
    // forwarded instead): their threads start once the first handshake is on its way.
    let early = args.local.is_none() && args.common.signal == Signal::Rendezvous;
    let mut io = None;
    let (peer, path) = match args.common.signal {
        Signal::Stdio => signalled(args, &identity, bind)?,
        Signal::Rendezvous => dial(args, &identity, bind, &reporter, || {
            if early {
                io = Some((session::read_stdin(), session::write_stdout(true)));
            }
        })?,
    };
    let (stdin, stdout) = match io {
        Some((stdin, stdout)) => (Some(stdin), Some(stdout?)),
        None => (None, None),
    };
    if args.require_direct && !path.via.is_direct() {
        return Err(Error::failure(format!(
            "only a {} path to {peer} was found and --require-direct was given",
            path.via
        )));
    }
    let local = path.endpoint.local_addr()?;
    reporter.path(&peer, path.via, &path.conn, local, "first path");
    let counters = Arc::new(Counters::default());
    smol::block_on(async {
        let watch = crate::report::watch(
            reporter.clone(),
            peer,
            path.via,
            path.conn.clone(),
            local,
            path.endpoint.turn().cloned(),
        );
        let upgrade = look_for_direct(args, &path);
        let outcome = match args.local {
            // Forwarding runs until the connection ends or the user stops it.
            Some(listen) => {
                smol::future::or(
                    async {
                        forward::local(&path.conn, listen, &reporter, counters.clone()).await?;
                        Ok("the connection ended")
                    },
                    async {
                        shutdown::signalled().await;
                        Ok("stopped by a signal")
                    },
                )
                .await
            }
            None => {
                let progress = crate::report::progress(&args.common, ctx, counters.clone());
                let outcome = smol::future::or(
                    async {
                        let stdin = stdin.unwrap_or_else(session::read_stdin);
                        let stdout = match stdout {
                            Some(stdout) => stdout,
                            None => session::write_stdout(true)?,
                        };
                        if args.dumbpipe {
                            dumbpipe::pipe(&path.conn, stdin, stdout, counters.clone()).await?;
                        } else {
                            pipe(&path.conn, counters.clone(), stdin, stdout).await?;
                        }
                        Ok("both directions delivered")
                    },
                    interrupted(),
                )
                .await;
                progress.finish();
                outcome
            }
        };
        drop(upgrade);
        watch.finish();
        let reason = match &outcome {
            Ok(reason) => (*reason).to_owned(),
            Err(e) => e.message().to_owned(),
        };
        reporter.closed(&peer, &counters, &path.conn, outcome.is_ok(), &reason);
        // A failed or interrupted session must not look done to the peer.
        let code = if outcome.is_ok() {
            session::CODE_DONE
        } else {
            session::CODE_FAILED
        };
        path.endpoint.shut(code, reason.as_bytes(), LINGER).await;
        outcome.map(|_| Status::Success)
    })
}

/// On a relayed path (unless `--stay-relayed`): looks for a direct path after
/// `--migrate-after`, moves the stream there when one opens and back to the relay
/// when it goes silent; the watch reports each move.
fn look_for_direct(args: &ConnectArgs, path: &Path) -> Option<smol::Task<()>> {
    let turn = path.endpoint.turn()?.clone();
    if args.stay_relayed || path.via != Via::Relayed {
        return None;
    }
    let (conn, delay) = (path.conn.clone(), args.migrate_after);
    Some(smol::spawn(async move {
        smol::Timer::after(delay).await;
        if let Err(e) = upgrade::dialer(&conn, &turn).await
            && conn.close_reason().is_none()
        {
            diag::warn(format_args!("looking for a direct path: {e}"));
        }
    }))
}

/// Fails when the user interrupts a running session (SIGINT or SIGTERM).
pub async fn interrupted<T>() -> Result<T> {
    shutdown::signalled().await;
    Err(Error::failure("interrupted"))
}

async fn pipe(
    conn: &quinn::Connection,
    counters: Arc<Counters>,
    stdin: session::Stdin,
    stdout: session::Stdout,
) -> Result<session::Ended> {
    let (send, recv) = session::open(conn, &stdin, &counters).await?;
    session::pipe(conn, send, recv, counters, stdin, stdout).await
}

/// Resolves the target and walks its candidates.
///
/// `under_way` runs once the first attempt has started (its first packets sent or
/// queued), beside the rest of the attempt.
fn dial(
    args: &ConnectArgs,
    identity: &Identity,
    bind: SocketAddr,
    reporter: &Reporter,
    under_way: impl FnOnce(),
) -> Result<(p2p_shared::identity::peer_id::PeerId, Path)> {
    let (ticket, found) = if args.dumbpipe {
        let text = args.target.as_deref().unwrap_or_default().trim();
        let theirs =
            dumbpipe::parse(text).map_err(|e| Error::usage(format!("bad dumbpipe ticket: {e}")))?;
        for url in &theirs.relays {
            reporter.failed(
                "relayed",
                &format!("{url}: an iroh relay, whose protocol is not spoken here"),
            );
        }
        let ticket = Ticket {
            id: theirs.id,
            addrs: theirs.addrs,
            rendezvous: None,
            relay: None,
        };
        (ticket, "dumbpipe ticket")
    } else {
        target::resolve(args)?
    };
    let mut candidates = Vec::new();
    if !ticket.addrs.is_empty() {
        candidates.push(Candidate::Direct(ticket.addrs.clone()));
    }
    if let Some(server) = args.common.rendezvous.or(ticket.rendezvous) {
        candidates.push(Candidate::Rendezvous(server));
    }
    let rendezvous = args.common.rendezvous.or(ticket.rendezvous);
    match (args.no_relay, args.common.relay, ticket.relay) {
        (false, server @ Some(_), Some(peer)) => {
            let relayed = Candidate::Relayed { server, peer };
            if args.relay_first {
                candidates.insert(0, relayed);
            } else {
                candidates.push(relayed);
            }
        }
        // The rendezvous tells the listener this side's public address, and it
        // permits it on its allocation: send to that straight.
        (false, None, Some(peer)) if rendezvous.is_some() => {
            let relayed = Candidate::Relayed { server: None, peer };
            if args.relay_first {
                candidates.insert(0, relayed);
            } else {
                candidates.push(relayed);
            }
        }
        (false, Some(_), None) => reporter.failed(
            "relayed",
            &format!("the {found} names no relayed address: the listener has no --relay"),
        ),
        (false, None, Some(at)) => reporter.failed(
            "relayed",
            &format!("the {found} names the relayed address udp://{at}: give --relay turn://HOST:PORT (the listener's relay) to use it"),
        ),
        _ => {}
    }
    if candidates.is_empty() {
        return Err(Error::failure(format!(
            "the {found} names no address of {} and no rendezvous",
            ticket.id
        )));
    }
    let dialer = Dialer {
        identity: identity.clone(),
        alpn: if args.dumbpipe {
            dumbpipe::ALPN
        } else {
            ALPN_PIPE
        }
        .to_vec(),
        tuning: paths::tuning(&args.common),
        bind,
        direct_timeout: paths::DIRECT_TIMEOUT,
        punch_timeout: paths::PUNCH_TIMEOUT,
        relay_credentials: paths::relay_credentials(&args.common),
    };
    let timeout = args.timeout;
    let attempt = dialer.connect(ticket.id, &candidates, |candidate, err| {
        reporter.failed(&candidate.to_string(), err.message());
    });
    let attempt = smol::future::or(attempt, async {
        smol::Timer::after(timeout).await;
        Err(Error::timeout(format!(
            "no path to {} within {}",
            ticket.id,
            p2p_shared::cli::duration::format(timeout)
        )))
    });
    // The attempt is polled first, so it has sent its first packets before
    // `under_way` runs.
    let (path, ()) = smol::block_on(smol::future::zip(attempt, async { under_way() }));
    let path = path?;
    Ok((ticket.id, path))
}

/// `--signal stdio`: punch from candidates exchanged over stdin/stdout, then dial.
fn signalled(
    args: &ConnectArgs,
    identity: &Identity,
    bind: SocketAddr,
) -> Result<(p2p_shared::identity::peer_id::PeerId, Path)> {
    let expected = match &args.target {
        Some(text) => Some(text.parse().map_err(|e: String| {
            Error::usage(format!("with --signal stdio, TARGET is a peer id: {e}"))
        })?),
        None => None,
    };
    let (peer, via, endpoint, remote) =
        paths::signalled(&args.common, identity, bind, expected, None)?;
    let conn = smol::block_on(endpoint.dial(peer, &[remote], ALPN_PIPE))?;
    Ok((
        peer,
        Path {
            via,
            endpoint,
            conn,
        },
    ))
}
