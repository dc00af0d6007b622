//! `p2p-pipe listen`: print a ticket, accept the first allowed peer (one after
//! another with `--keep`) on any bound address or on a path punched through the
//! rendezvous, and pipe stdin/stdout with it (or forward its streams to TCP).

use crate::args::{ListenArgs, Signal};
use crate::connect::LINGER;
use crate::report::{Counters, Reporter};
use crate::{forward, paths, session};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::path::{Via, await_punch, listen_relayed};
use p2p_shared::connect::quic::endpoint::Listen;
use p2p_shared::connect::quic::{self, ALPN_PIPE, Allow, Endpoint, Tuning};
use p2p_shared::connect::ticket::Ticket;
use p2p_shared::connect::turn_socket::TurnSocket;
use p2p_shared::connect::upgrade;
use p2p_shared::identity::Identity;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::input::{self, LineReader};
use p2p_shared::{Context, Error, Result, Status, diag, narrate};
use serde_json::Value;
use std::fs::File;
use std::io::{BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// A connection that arrived, on the endpoint it arrived at.
struct Arrival {
    peer: PeerId,
    conn: quinn::Connection,
    via: Via,
    endpoint: Arc<Endpoint>,
}

/// `p2p-pipe listen`.
pub fn run(args: &ListenArgs, ctx: &Ctx) -> Result<Status> {
    // Already started by `main` unless a flag came before the subcommand.
    quic::warm::start();
    let identity = paths::identity(&args.common, ctx)?;
    let reporter = Reporter::open(args.common.events.as_deref(), ctx)?;
    let listen = Listen {
        allow: allow_list(&args.allow)?,
        alpns: vec![
            if args.dumbpipe {
                crate::dumbpipe::ALPN
            } else {
                ALPN_PIPE
            }
            .to_vec(),
        ],
    };
    let binds = if args.binds.is_empty() {
        vec![SocketAddr::from(([0, 0, 0, 0], 0))]
    } else {
        args.binds.clone()
    };
    // stdin is read and the stdout writer started before a peer can arrive (before the
    // ticket goes out), so that the first bytes each way wait for no thread to start
    // (not when stdin carries the signalled candidate, nor when streams are forwarded
    // to TCP).
    let early = args.forward.is_none() && args.common.signal == Signal::Rendezvous;
    let stdin = early.then(session::read_stdin);
    let stdout = early
        .then(|| session::write_stdout(!args.keep))
        .transpose()?;
    let (tx, rx) = smol::channel::unbounded::<Arrival>();
    if args.common.signal == Signal::Stdio {
        let (peer, via, endpoint, _) = paths::signalled(
            &args.common,
            &identity,
            binds[0],
            None,
            Some(listen.clone()),
        )?;
        ctx.note(format_args!("punched a path to {peer}"));
        spawn_acceptor(Arc::new(endpoint), via, tx.clone());
    } else {
        start_listening(args, ctx, &identity, &listen, &binds, &tx)?;
    }
    drop(tx);
    smol::block_on(smol::future::or(
        serve(args, ctx, &reporter, &rx, (stdin, stdout)),
        crate::connect::interrupted(),
    ))
}

/// Binds the direct endpoints (and the relayed one with `--relay`), starts accepting
/// on each, and punching for callers of the rendezvous, then publishes the ticket.
fn start_listening(
    args: &ListenArgs,
    ctx: &Ctx,
    identity: &Identity,
    listen: &Listen,
    binds: &[SocketAddr],
    tx: &smol::channel::Sender<Arrival>,
) -> Result<()> {
    let tuning = paths::tuning(&args.common);
    let mut endpoints = Vec::new();
    for bind in binds {
        endpoints.push(Arc::new(Endpoint::bind(
            identity,
            *bind,
            Some(listen.clone()),
            tuning,
        )?));
    }
    let relayed = match args.common.relay {
        Some(server) => {
            let (endpoint, relayed, allocation) = listen_relayed(
                identity,
                binds[0],
                server,
                paths::relay_credentials(&args.common),
                listen.clone(),
                tuning,
            )?;
            ctx.note(format_args!(
                "relayed address udp://{relayed} on turn://{server}"
            ));
            Some((Arc::new(endpoint), relayed, allocation))
        }
        None => None,
    };
    let ticket = Ticket {
        id: identity.id(),
        addrs: advertised(&endpoints)?,
        rendezvous: args.common.rendezvous,
        relay: relayed.as_ref().map(|(_, addr, _)| *addr),
    };
    narrate!(
        "candidates in the ticket: direct {:?}, rendezvous {}, relay {}",
        ticket.addrs,
        ticket
            .rendezvous
            .map_or_else(|| "none".to_owned(), |a| format!("udp://{a}")),
        ticket
            .relay
            .map_or_else(|| "none".to_owned(), |a| format!("udp://{a}"))
    );
    for endpoint in endpoints {
        spawn_acceptor(endpoint, Via::Direct, tx.clone());
    }
    let allocation = relayed
        .as_ref()
        .map(|(_, _, allocation)| allocation.clone());
    if let Some((endpoint, _, _)) = relayed {
        spawn_acceptor(endpoint, Via::Relayed, tx.clone());
    }
    if let Some(server) = args.common.rendezvous {
        spawn_puncher(
            identity,
            binds[0],
            server,
            listen.clone(),
            tuning,
            allocation,
            tx.clone(),
        );
    }
    // The ticket goes out last, once everything that serves a peer runs: a peer that
    // dials the moment it appears finds the listener ready.
    publish_ticket(&ticket, args.ticket_file.as_deref(), ctx)?;
    if args.dumbpipe {
        ctx.note(format_args!(
            "dumbpipe connect {}",
            crate::dumbpipe::encode(&ticket.id, &ticket.addrs)
        ));
    }
    Ok(())
}

/// Serves arrivals: one (or, with `--keep`, one after another), the first with the
/// early `stdin` and `stdout` when they were started.
async fn serve(
    args: &ListenArgs,
    ctx: &Ctx,
    reporter: &Reporter,
    rx: &smol::channel::Receiver<Arrival>,
    (mut stdin, mut stdout): (Option<session::Stdin>, Option<session::Stdout>),
) -> Result<Status> {
    let mut status = Status::Success;
    while let Ok(arrival) = rx.recv().await {
        let Arrival {
            peer,
            conn,
            via,
            endpoint,
        } = arrival;
        let local = endpoint.local_addr()?;
        if via == Via::Relayed {
            look_for_direct_path(&endpoint, &conn);
        }
        if let (Some(target), true) = (args.forward, args.keep) {
            // Forwarding peers are served side by side (each ssh is its own peer).
            reporter.path(&peer, via, &conn, local, "the peer connected");
            spawn_forward(reporter.clone(), peer, conn, target);
            continue;
        }
        let counters = Arc::new(Counters::default());
        let outcome = match args.forward {
            Some(target) => {
                reporter.path(&peer, via, &conn, local, "the peer connected");
                forward::serve(&conn, target, counters.clone())
                    .await
                    .map(|()| true)
            }
            None if args.dumbpipe => {
                reporter.path(&peer, via, &conn, local, "the peer connected");
                let out = match stdout.take() {
                    Some(out) => out,
                    None => session::write_stdout(true)?,
                };
                let input = stdin.take().unwrap_or_else(session::read_stdin);
                crate::dumbpipe::serve(&conn, input, out, counters.clone())
                    .await
                    .map(|()| true)
            }
            None => match session::accept(&conn).await {
                Ok(None) => continue,
                Ok(Some((send, recv))) => {
                    reporter.path(&peer, via, &conn, local, "the peer connected");
                    let watch = crate::report::watch(
                        reporter.clone(),
                        peer,
                        via,
                        conn.clone(),
                        local,
                        endpoint.turn().cloned(),
                    );
                    let progress = crate::report::progress(&args.common, ctx, counters.clone());
                    let out = match stdout.take() {
                        Some(out) => out,
                        None => session::write_stdout(!args.keep)?,
                    };
                    let input = stdin.take().unwrap_or_else(session::read_stdin);
                    let ended =
                        session::pipe(&conn, send, recv, counters.clone(), input, out).await;
                    progress.finish();
                    watch.finish();
                    ended.map(|_| true)
                }
                Err(e) => Err(e),
            },
        };
        let reason = match &outcome {
            Ok(_) => "both directions delivered".to_owned(),
            Err(e) => e.message().to_owned(),
        };
        reporter.closed(&peer, &counters, &conn, outcome.is_ok(), &reason);
        if let Err(e) = &outcome {
            status = status.worst(e.status());
        }
        if !args.keep {
            endpoint.shut(session::CODE_DONE, b"done", LINGER).await;
            return outcome.map(|_| status);
        }
        if let Err(e) = outcome {
            diag::warn(format_args!("{peer}: {e}"));
        }
    }
    Err(Error::failure("no endpoint is listening any more"))
}

/// Keeps trying for a direct path beside a relayed connection, and checks it once
/// the connection is on it; the task ends with the connection.
fn look_for_direct_path(endpoint: &Endpoint, conn: &quinn::Connection) {
    let Some(turn) = endpoint.turn() else {
        return;
    };
    let (conn, turn) = (conn.clone(), turn.clone());
    smol::spawn(async move {
        if let Err(e) = upgrade::listener(&conn, &turn).await
            && conn.close_reason().is_none()
        {
            diag::warn(format_args!("looking for a direct path: {e}"));
        }
    })
    .detach();
}

/// Forwards one peer's streams to `target` in the background, reporting its end.
fn spawn_forward(reporter: Reporter, peer: PeerId, conn: quinn::Connection, target: SocketAddr) {
    smol::spawn(async move {
        let counters = Arc::new(Counters::default());
        let outcome = forward::serve(&conn, target, counters.clone()).await;
        let reason = match &outcome {
            Ok(()) => "the peer closed the connection".to_owned(),
            Err(e) => e.message().to_owned(),
        };
        reporter.closed(&peer, &counters, &conn, outcome.is_ok(), &reason);
    })
    .detach();
}

/// Accepts connections on `endpoint` and hands every established one on.
fn spawn_acceptor(endpoint: Arc<Endpoint>, via: Via, tx: smol::channel::Sender<Arrival>) {
    smol::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let (endpoint, tx) = (endpoint.clone(), tx.clone());
            let from = incoming.remote();
            narrate!(
                "QUIC handshake from udp://{from} on the {} path",
                via.kind()
            );
            smol::spawn(async move {
                match incoming.accept().await {
                    Ok((peer, conn)) => {
                        narrate!("udp://{from} proved it holds {peer}: connection up ({via})");
                        let _ = tx
                            .send(Arrival {
                                peer,
                                conn,
                                via,
                                endpoint,
                            })
                            .await;
                    }
                    Err(e) => diag::warn(format_args!("refused a connection: {e}")),
                }
            })
            .detach();
        }
    })
    .detach();
}

/// Keeps a registration at the rendezvous, punching to every peer introduced and
/// accepting its connection on the punched socket.
fn spawn_puncher(
    identity: &Identity,
    bind: SocketAddr,
    server: SocketAddr,
    listen: Listen,
    tuning: Tuning,
    allocation: Option<Arc<TurnSocket>>,
    tx: smol::channel::Sender<Arrival>,
) {
    let identity = identity.clone();
    std::thread::spawn(move || {
        while !tx.is_closed() {
            let punched = await_punch(
                &identity,
                bind,
                server,
                None,
                paths::PUNCH_TIMEOUT,
                |seen| {
                    diag::note(format_args!(
                        "registered at the rendezvous udp://{server} as udp://{seen}"
                    ));
                },
                |peer| {
                    // Should the punch fail, the peer may send to the relayed
                    // address from its public one.
                    if let (Some(allocation), Some(observed)) = (&allocation, peer.observed)
                        && listen.allow.permits(&peer.id)
                    {
                        allocation.permit(vec![observed]);
                    }
                },
            );
            let (peer, punched) = match punched {
                Ok(p) => p,
                Err(e) => {
                    diag::warn(format_args!("punching: {e}"));
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    continue;
                }
            };
            if !listen.allow.permits(&peer) {
                diag::warn(format_args!("{peer} asked to connect but is not allowed"));
                continue;
            }
            let via = Via::Punched(punched.technique);
            match Endpoint::from_socket(&identity, punched.socket, Some(listen.clone()), tuning) {
                Ok(endpoint) => spawn_acceptor(Arc::new(endpoint), via, tx.clone()),
                Err(e) => diag::warn(format_args!("punched socket: {e}")),
            }
        }
    });
}

/// The addresses to put in the ticket: each bound address, with a wildcard replaced
/// by this host's interface addresses of its family (loopback only when there is no
/// other).
fn advertised(endpoints: &[Arc<Endpoint>]) -> Result<Vec<SocketAddr>> {
    let interfaces: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| list.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    let mut addrs = Vec::new();
    for endpoint in endpoints {
        let local = endpoint.local_addr()?;
        if !local.ip().is_unspecified() {
            addrs.push(local);
            continue;
        }
        let family: Vec<IpAddr> = interfaces
            .iter()
            .copied()
            .filter(|ip| ip.is_ipv4() == local.is_ipv4())
            .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
            .collect();
        let outside: Vec<IpAddr> = family
            .iter()
            .copied()
            .filter(|ip| !ip.is_loopback())
            .collect();
        let chosen = if outside.is_empty() { family } else { outside };
        addrs.extend(
            chosen
                .into_iter()
                .map(|ip| SocketAddr::new(ip, local.port())),
        );
    }
    Ok(addrs)
}

/// Prints the ticket on stderr and writes its record to `file`.
fn publish_ticket(ticket: &Ticket, file: Option<&Path>, ctx: &Ctx) -> Result<()> {
    ctx.note(format_args!(
        "listening as {}; connect with: p2p-pipe connect {}",
        ticket.id,
        ticket.encode()
    ));
    if let Some(path) = file {
        // Written beside and renamed, so a reader never sees half a record.
        let tmp = path.with_extension("tmp");
        let mut out = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        out.write_all(format!("{}\n", ticket.to_record()).as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The allow list from `--allow` values: peer ids, or files of ids (one per line,
/// `#` comments) or of NDJSON records with an `id`.
fn allow_list(values: &[String]) -> Result<Allow> {
    let mut ids = Vec::new();
    for value in values {
        if let Ok(id) = value.parse::<PeerId>() {
            ids.push(id);
            continue;
        }
        let path = Path::new(value);
        if !path.exists() {
            return Err(Error::usage(format!(
                "--allow '{value}' is neither a peer id nor a file"
            )));
        }
        let file = File::open(path).with_context(|| format!("reading {value}"))?;
        let mut reader = LineReader::new(BufReader::new(file), input::DEFAULT_MAX_LINE);
        while let Some(line) = reader.next_line()? {
            let bad = |e: String| Error::usage(format!("{value}: line {}: {e}", line.number));
            let Some(bytes) = line.bytes.as_deref() else {
                return Err(bad("too long".to_owned()));
            };
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let id = if text.starts_with('{') {
                let object = input::parse_object(&line, input::DEFAULT_MAX_LINE)
                    .map_err(|e| bad(e.to_string()))?;
                object
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("the record has no \"id\"".to_owned()))?
                    .parse()
                    .map_err(bad)?
            } else {
                text.parse().map_err(bad)?
            };
            ids.push(id);
        }
    }
    Ok(Allow::from_ids(ids))
}
