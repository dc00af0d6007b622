//! `p2p-punch listen` and `p2p-punch connect`: gather candidates, exchange them
//! (through a rendezvous or stdin/stdout), punch, and print one `punch` record.

use crate::args::{ConnectArgs, ListenArgs, PunchOptions, Signalling};
use crate::stun::millis;
use crate::stun_servers;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::punch::candidate::{Candidate, session_from};
use p2p_shared::connect::punch::engine::{self, Outcome, Plan};
use p2p_shared::connect::punch::gather::gather;
use p2p_shared::connect::punch::rendezvous::Client;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::identity::{Identity, IdentityArgs};
use p2p_shared::ndjson::input::{self, LineError, LineReader, Problems};
use p2p_shared::ndjson::records::Listening;
use p2p_shared::{Context, Error, Result, Status, diag};
use serde_json::{Value, json};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long gathering candidates from the STUN server may take.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);

fn bind(options: &PunchOptions) -> Result<UdpSocket> {
    UdpSocket::bind(options.bind).with_context(|| format!("binding {}", options.bind))
}

fn plan(
    session: [u8; 16],
    me: Candidate,
    peer: Candidate,
    start_in: Duration,
    options: &PunchOptions,
) -> Plan {
    let mut plan = Plan::new(session, me, peer);
    plan.start_in = start_in;
    plan.timeout = options.punch_timeout;
    plan.rate = options.rate;
    plan.birthday_sockets = usize::from(options.birthday_sockets);
    plan
}

/// Prints the `punch` record for `outcome`; returns the status it calls for.
fn report(ctx: &Ctx, peer: &PeerId, me: &Candidate, outcome: &Outcome) -> Result<Status> {
    let tried: Vec<&str> = outcome.tried.iter().map(|t| t.as_str()).collect();
    let record = match &outcome.punched {
        Some(p) => {
            let local = match me.local.first() {
                Some(mine) if p.local.ip().is_unspecified() => {
                    SocketAddr::new(mine.ip(), p.local.port())
                }
                _ => p.local,
            };
            ctx.note(format_args!(
                "punched to {} by {} in {} ms",
                p.remote,
                p.technique,
                p.elapsed.as_millis()
            ));
            json!({
                "type": "punch", "ok": true, "id": peer, "technique": p.technique.as_str(),
                "local": Addr::udp(local), "remote": Addr::udp(p.remote), "attempts": outcome.attempts,
                "elapsed_ms": millis(p.elapsed), "rtt_ms": millis(p.rtt), "tried": tried,
                "dropped": outcome.dropped,
            })
        }
        None => {
            diag::warn(format_args!(
                "no path to {peer} after {} probes in {} ms (tried {})",
                outcome.attempts,
                outcome.elapsed.as_millis(),
                if tried.is_empty() {
                    "nothing".to_owned()
                } else {
                    tried.join(", ")
                }
            ));
            json!({
                "type": "punch", "ok": false, "id": peer, "technique": null,
                "attempts": outcome.attempts, "elapsed_ms": millis(outcome.elapsed),
                "tried": tried, "dropped": outcome.dropped,
            })
        }
    };
    ctx.out.record(&record)?;
    Ok(if outcome.punched.is_some() {
        Status::Success
    } else {
        Status::Failure
    })
}

/// Most introductions a listener punches for in a minute.
const INTRODUCTIONS_PER_MINUTE: usize = 10;

/// When the last introductions were taken.
#[derive(Default)]
struct Recent(std::collections::VecDeque<Instant>);

impl Recent {
    /// True, and counted, when fewer than [`INTRODUCTIONS_PER_MINUTE`] were taken in
    /// the last minute.
    fn admit(&mut self, now: Instant) -> bool {
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_mins(1))
        {
            self.0.pop_front();
        }
        if self.0.len() >= INTRODUCTIONS_PER_MINUTE {
            return false;
        }
        self.0.push_back(now);
        true
    }
}

/// `p2p-punch listen`.
pub fn listen(args: &ListenArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    let server = stun_servers::resolve(&args.rendezvous)?;
    let start = Instant::now();
    let mut status = Status::Success;
    let mut punched = 0u64;
    let mut recent = Recent::default();
    loop {
        let socket = bind(&args.punch)?;
        let candidate = gather(&socket, &identity, server, GATHER_TIMEOUT)
            .context("learning this side's address from the rendezvous")?;
        let mut client = Client::new(&socket, server, &identity);
        let observed = client.register(&candidate, Duration::from_secs(5))?;
        ctx.out.record(
            &Listening::new(Addr::udp(candidate.local[0]), [])
                .with("observed", Addr::udp(observed))
                .with("id", identity.id())
                .with("mapping", candidate.mapping.as_str())
                .with("rendezvous", Addr::udp(server)),
        )?;
        let intro = loop {
            let left = args.timeout.map(|t| t.saturating_sub(start.elapsed()));
            let intro = client.wait_for_introduction(&candidate, left)?;
            let from = intro.peer.id;
            if !args.allow.is_empty() && !args.allow.contains(&from) {
                diag::warn(format_args!("ignoring {from}: not in --allow"));
            } else if !recent.admit(Instant::now()) {
                diag::warn(format_args!(
                    "ignoring {from}: over {INTRODUCTIONS_PER_MINUTE} introductions a minute"
                ));
            } else {
                break intro;
            }
        };
        ctx.note(format_args!("{} wants to connect", intro.peer.id));
        let peer = intro.peer.id;
        let plan = plan(
            intro.session,
            candidate,
            intro.peer,
            intro.start_in,
            &args.punch,
        );
        let outcome = engine::punch(socket, &identity, &plan)?;
        status = status.worst(report(ctx, &peer, &plan.me, &outcome)?);
        punched += 1;
        if args.count != 0 && punched >= args.count {
            return Ok(status);
        }
    }
}

/// `p2p-punch connect`.
pub fn connect(args: &ConnectArgs, ctx: &Ctx) -> Result<Status> {
    let identity = if args.identity.is_some() {
        IdentityArgs {
            identity: args.identity.clone(),
            allow_readable_key: args.allow_readable_key,
        }
        .load()?
    } else {
        let identity = Identity::generate()?;
        ctx.note(format_args!("using a throwaway identity {}", identity.id()));
        identity
    };
    match args.signal {
        Signalling::Rendezvous => via_rendezvous(args, &identity, ctx),
        Signalling::Stdio => via_stdio(args, &identity, ctx),
    }
}

fn via_rendezvous(args: &ConnectArgs, identity: &Identity, ctx: &Ctx) -> Result<Status> {
    let Some(name) = &args.rendezvous else {
        return Err(Error::usage(
            "--signal rendezvous needs --rendezvous SERVER",
        ));
    };
    let Some(peer) = args.peer else {
        return Err(Error::usage("connect needs the PEER_ID to connect to"));
    };
    let server = stun_servers::resolve(name)?;
    let socket = bind(&args.punch)?;
    // --timeout bounds the whole wait for the rendezvous and the peer.
    let deadline = std::time::Instant::now() + args.timeout;
    let left = || deadline.saturating_duration_since(std::time::Instant::now());
    let candidate = gather(&socket, identity, server, GATHER_TIMEOUT.min(left()))
        .context("learning this side's address from the rendezvous")?;
    let mut client = Client::new(&socket, server, identity);
    client.register(&candidate, left())?;
    let intro = client.connect(&peer, left())?;
    if intro.peer.id != peer {
        return Err(Error::failure(format!(
            "the rendezvous introduced {} instead of {peer}",
            intro.peer.id
        )));
    }
    let plan = plan(
        intro.session,
        candidate,
        intro.peer,
        intro.start_in,
        &args.punch,
    );
    let outcome = engine::punch(socket, identity, &plan)?;
    report(ctx, &peer, &plan.me, &outcome)
}

fn via_stdio(args: &ConnectArgs, identity: &Identity, ctx: &Ctx) -> Result<Status> {
    let names = stun_servers::named_or_default(&args.stun);
    if args.stun.is_empty() {
        ctx.note(format_args!(
            "no --stun server named: asking the default public servers"
        ));
    }
    let socket = bind(&args.punch)?;
    let mut candidate = None;
    for name in &names {
        let attempt = stun_servers::resolve(name)
            .and_then(|server| gather(&socket, identity, server, GATHER_TIMEOUT));
        match attempt {
            Ok(found) => {
                candidate = Some(found);
                break;
            }
            Err(e) => diag::warn(format_args!("{name}: {e}")),
        }
    }
    let candidate =
        candidate.ok_or_else(|| Error::timeout("no STUN server told this side its address"))?;
    let record = candidate.to_record(identity)?;
    ctx.out.record(&record)?;
    ctx.note(format_args!(
        "this side's candidate is on stdout; waiting for the peer's on stdin"
    ));
    let (theirs, input_status) = read_candidate(args.peer.as_ref(), &identity.id(), args.timeout)?;
    let session = session_from(&candidate, &theirs);
    let peer = theirs.id;
    let plan = plan(session, candidate, theirs, Duration::ZERO, &args.punch);
    let outcome = engine::punch(socket, identity, &plan)?;
    Ok(report(ctx, &peer, &plan.me, &outcome)?.worst(input_status))
}

/// Reads stdin until a valid candidate record of the expected peer (not our own
/// echo) arrives; other record types are ignored, bad lines reported.
fn read_candidate(
    expected: Option<&PeerId>,
    me: &PeerId,
    timeout: Duration,
) -> Result<(Candidate, Status)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut reader = LineReader::new(stdin.lock(), input::DEFAULT_MAX_LINE);
        while let Ok(Some(line)) = reader.next_line() {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut problems = Problems::new(false);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(Error::timeout(
                    "the peer's candidate did not arrive on stdin in time",
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::usage(
                    "stdin ended before the peer's candidate record arrived",
                ));
            }
        };
        if line.bytes.as_deref().is_some_and(input::is_blank) {
            continue;
        }
        let object = match input::parse_object(&line, input::DEFAULT_MAX_LINE) {
            Ok(object) => object,
            Err(e) => {
                problems.report(&e)?;
                continue;
            }
        };
        if object.get("type").and_then(Value::as_str) != Some("candidate") {
            continue;
        }
        match Candidate::from_record(&object) {
            Ok(c) if c.id == *me => {}
            Ok(c) if expected.is_some_and(|e| *e != c.id) => problems.report(&LineError::new(
                line.number,
                Status::Failure,
                format!("a candidate of {}, not of the expected peer", c.id),
            ))?,
            Ok(c) => return Ok((c, problems.status())),
            Err(e) => problems.report(&LineError::new(line.number, Status::Failure, e))?,
        }
    }
}
