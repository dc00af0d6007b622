//! `p2p-punch nat`: NAT behaviour discovery as RFC 5780 describes it.
//!
//! Filtering first, on a fresh socket that only ever talks to the server's primary
//! address: answered CHANGE-REQUESTs for another IP and port mean
//! endpoint-independent filtering, for another port only address-dependent, neither
//! address-and-port-dependent. (Doing this before the mapping tests keeps them from
//! opening the filter towards the server's other IP first.) Then mapping, on a
//! second socket: the public address seen by the primary address, by the other IP,
//! and by the other IP and port. Then hairpinning: a third socket sends to the
//! second one's public address. `--lifetime` then lets mappings idle for growing
//! times and asks the server to answer to them (RESPONSE-PORT) to see which survive.

use crate::args::NatArgs;
use crate::stun_servers;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::punch::binding::{self, Request, Response, Stats, timed_out};
use p2p_shared::connect::punch::candidate::Behaviour;
use p2p_shared::connect::punch::gather::local_address;
use p2p_shared::{Context, Error, Result, Status, codec::stun, diag, narrate, random};
use serde_json::{Value, json};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How long one behaviour test waits for answers that may never come.
const TEST_WAIT: Duration = Duration::from_millis(900);

/// The classic name for a mapping and filtering combination.
fn label(udp_blocked: bool, mapping: Behaviour, filtering: Behaviour) -> &'static str {
    use Behaviour as B;
    match (udp_blocked, mapping, filtering) {
        (true, _, _) => "udp-blocked",
        (_, B::None, B::EndpointIndependent) => "open",
        (_, B::None, _) => "firewall",
        (_, B::EndpointIndependent, B::EndpointIndependent) => "full-cone",
        (_, B::EndpointIndependent, B::AddressDependent) => "restricted-cone",
        (_, B::EndpointIndependent, B::AddressAndPortDependent) => "port-restricted-cone",
        (_, B::EndpointIndependent, _) => "cone",
        (_, m, _) if m.is_dependent() => "symmetric",
        _ => "unknown",
    }
}

struct Budget {
    end: Instant,
}

impl Budget {
    fn wait(&self, most: Duration) -> Duration {
        self.end
            .saturating_duration_since(Instant::now())
            .min(most)
            .max(Duration::from_millis(1))
    }
}

fn one(
    socket: &UdpSocket,
    request: Request,
    wait: Duration,
    stats: &mut Stats,
) -> Result<Option<Response>> {
    Ok(binding::transact(socket, &[request], wait, stats)?
        .into_iter()
        .next()
        .flatten())
}

/// `p2p-punch nat`.
pub fn run(args: &NatArgs, ctx: &Ctx) -> Result<Status> {
    let names = stun_servers::named_or_default(&args.servers);
    if args.servers.is_empty() {
        ctx.note(format_args!(
            "no --server named: testing against the default public servers"
        ));
    }
    let servers: Vec<SocketAddr> = names
        .iter()
        .map(|n| stun_servers::resolve(n))
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let budget = Budget {
        end: started + args.timeout,
    };
    let mut stats = Stats::default();
    // --lifetime shows its own progress.
    let spinner = p2p_shared::cli::progress::spinner(
        ctx.quiet || args.lifetime,
        "testing the NAT's behaviour",
    );
    let outcome = tests(args, ctx, &servers, started, &budget, &mut stats);
    spinner.finish_and_clear();
    outcome
}

/// The behaviour tests themselves, reporting the `nat` record: which server answers
/// first, filtering on one socket, mapping on another, then hairpinning.
fn tests(
    args: &NatArgs,
    ctx: &Ctx,
    servers: &[SocketAddr],
    started: Instant,
    budget: &Budget,
    stats: &mut Stats,
) -> Result<Status> {
    let bind = |what: &str| {
        UdpSocket::bind(SocketAddr::new(args.bind.ip(), 0))
            .with_context(|| format!("binding the {what} socket on {}", args.bind.ip()))
    };

    // Filtering, on a fresh socket that only talks to the primary address.
    let filter_socket = bind("filtering")?;
    let (server, primary) = first_server(&filter_socket, ctx, servers, started, budget, stats)?;
    let other = primary
        .message
        .other_address()
        .filter(|o| !o.ip().is_unspecified() && o.ip() != server.ip() && o.port() != server.port());
    let filtering = match other {
        Some(other) => {
            narrate!(
                "udp://{server} tells its other address {other} (RFC 5780): testing filtering"
            );
            filtering(&filter_socket, server, budget, stats)?
        }
        None => {
            narrate!("udp://{server} tells no other address: filtering cannot be tested");
            Behaviour::Unknown
        }
    };
    narrate!("filtering: {}", filtering.as_str());
    drop(filter_socket);

    // Mapping, on a second socket.
    let map_socket = bind("mapping")?;
    let local = local_address(&map_socket, server)?;
    let m1 = one(
        &map_socket,
        Request::to(server),
        budget.wait(Duration::from_secs(1)),
        stats,
    )?
    .and_then(|r| r.mapped())
    .ok_or_else(|| Error::timeout(format!("{server} stopped answering")))?;
    let mapping = if m1 == local {
        narrate!("public address {m1} is the local one: no NAT maps this socket");
        Behaviour::None
    } else {
        narrate!("local {local} is mapped to {m1}: testing mapping from other server addresses");
        mapping(&map_socket, m1, server, other, servers, budget, stats)?
    };
    narrate!("mapping: {}", mapping.as_str());

    // Hairpinning: does a packet to our own public address come back in?
    let hairpinning = hairpin(
        &map_socket,
        m1,
        &bind("hairpin")?,
        budget.wait(Duration::from_millis(500)),
    )?;
    narrate!(
        "hairpinning: a packet to our own public address {m1} {}",
        if hairpinning {
            "came back in"
        } else {
            "did not come back"
        }
    );

    let mut record = json!({
        "type": "nat",
        "nat": label(false, mapping, filtering),
        "mapping": mapping.as_str(),
        "filtering": filtering.as_str(),
        "udp_blocked": false,
        "port_preserving": m1.port() == local.port(),
        "hairpinning": hairpinning,
        "local": Addr::udp(local),
        "public": Addr::udp(m1),
        "server": Addr::udp(server),
        "rfc5780": other.is_some(),
    });
    if let Some(software) = primary.message.software() {
        record["server_software"] = json!(software);
    }
    let test_ms = started.elapsed().as_millis();
    if args.lifetime {
        let lifetime = measure_lifetime(server, args.bind, args.lifetime_max, ctx)?;
        record["lifetime_s"] = json!(lifetime.alive.map(|d| d.as_secs()));
        record["lifetime_dead_s"] = json!(lifetime.dead.map(|d| d.as_secs()));
        record["keepalive_s"] = json!(lifetime.alive.map(|d| (d.as_secs() * 2 / 3).max(1)));
    }
    record["elapsed_ms"] = json!(crate::stun::millis(started.elapsed()));
    ctx.out.record(&record)?;
    summary(ctx, &record, test_ms);
    if stats.malformed > 0 {
        diag::warn(format_args!(
            "dropped {} malformed packets",
            stats.malformed
        ));
    }
    Ok(Status::Success)
}

/// Asks every server at once from `socket`; the first that tells a mapped address
/// is the one the tests use. When none answers, reports `udp-blocked` (or that every
/// server refused) and fails.
fn first_server(
    socket: &UdpSocket,
    ctx: &Ctx,
    servers: &[SocketAddr],
    started: Instant,
    budget: &Budget,
    stats: &mut Stats,
) -> Result<(SocketAddr, Response)> {
    narrate!(
        "asking {} STUN server(s) at once; the first to answer runs the tests",
        servers.len()
    );
    let first = binding::transact(
        socket,
        &servers.iter().map(|s| Request::to(*s)).collect::<Vec<_>>(),
        budget.wait(Duration::from_secs(2)),
        stats,
    )?;
    if let Some(found) = first.iter().enumerate().find_map(|(i, r)| {
        r.as_ref()
            .filter(|r| r.mapped().is_some())
            .map(|r| (servers[i], r.clone()))
    }) {
        return Ok(found);
    }
    if stats.refused.len() == servers.len() {
        let names: Vec<String> = servers.iter().map(|s| Addr::udp(*s).to_string()).collect();
        return Err(Error::failure(format!(
            "{} {}",
            names.join(", "),
            crate::stun::REFUSED
        )));
    }
    // The same fields as when UDP passes, unknown ones null.
    let record = json!({"type": "nat", "nat": "udp-blocked",
        "mapping": Behaviour::Unknown.as_str(), "filtering": Behaviour::Unknown.as_str(),
        "udp_blocked": true, "port_preserving": null, "hairpinning": null,
        "local": null, "public": null, "server": null, "rfc5780": false,
        "elapsed_ms": crate::stun::millis(started.elapsed()),
        "servers": servers.iter().map(|s| Addr::udp(*s)).collect::<Vec<_>>()});
    ctx.out.record(&record)?;
    diag::warn(format_args!("no STUN server answered: UDP looks blocked"));
    Err(Error::timeout("no STUN server answered"))
}

/// Filtering (RFC 5780 section 4.4): asks `server` to answer from its other address
/// and port, then from its other port only; what gets through tells the filter.
fn filtering(
    socket: &UdpSocket,
    server: SocketAddr,
    budget: &Budget,
    stats: &mut Stats,
) -> Result<Behaviour> {
    let change = |ip, port| Request {
        server,
        change: (ip, port),
        response_port: None,
    };
    let got = binding::transact(
        socket,
        &[change(true, true), change(false, true)],
        budget.wait(TEST_WAIT),
        stats,
    )?;
    // An answer counts only if it really came from the other address or port.
    let both = got[0]
        .as_ref()
        .filter(|r| r.from.ip() != server.ip() && r.from.port() != server.port());
    let port_only = got[1]
        .as_ref()
        .filter(|r| r.from.ip() == server.ip() && r.from.port() != server.port());
    let refused = got
        .iter()
        .flatten()
        .any(|r| r.message.class == stun::Class::Error);
    Ok(if refused {
        Behaviour::Unknown
    } else if both.is_some() {
        Behaviour::EndpointIndependent
    } else if port_only.is_some() {
        Behaviour::AddressDependent
    } else {
        Behaviour::AddressAndPortDependent
    })
}

/// Mapping (RFC 5780 section 4.3): compares the public address `m1` seen by `server`
/// with those seen at its other address (or, without RFC 5780, by the other servers).
fn mapping(
    socket: &UdpSocket,
    m1: SocketAddr,
    server: SocketAddr,
    other: Option<SocketAddr>,
    servers: &[SocketAddr],
    budget: &Budget,
    stats: &mut Stats,
) -> Result<Behaviour> {
    if let Some(other) = other {
        let alt_ip = SocketAddr::new(other.ip(), server.port());
        let got = binding::transact(
            socket,
            &[Request::to(alt_ip), Request::to(other)],
            budget.wait(Duration::from_secs(1)),
            stats,
        )?;
        let m2 = got[0].as_ref().and_then(Response::mapped);
        let m3 = got[1].as_ref().and_then(Response::mapped);
        return Ok(match (m2, m3) {
            (Some(m2), _) if m2 == m1 => Behaviour::EndpointIndependent,
            (Some(m2), Some(m3)) if m3 == m2 => Behaviour::AddressDependent,
            (Some(_), Some(_)) => Behaviour::AddressAndPortDependent,
            _ => Behaviour::Unknown,
        });
    }
    if servers.len() < 2 {
        return Ok(Behaviour::Unknown);
    }
    let got = binding::transact(
        socket,
        &servers.iter().map(|s| Request::to(*s)).collect::<Vec<_>>(),
        budget.wait(Duration::from_secs(1)),
        stats,
    )?;
    let seen: Vec<SocketAddr> = got
        .iter()
        .filter_map(|r| r.as_ref().and_then(Response::mapped))
        .collect();
    Ok(if seen.len() < 2 {
        Behaviour::Unknown
    } else if seen.iter().all(|m| *m == seen[0]) {
        Behaviour::EndpointIndependent
    } else {
        Behaviour::EndpointDependent
    })
}

fn summary(ctx: &Ctx, record: &Value, test_ms: u128) {
    let text = |k: &str| record[k].as_str().unwrap_or("?").to_owned();
    let yes = |k: &str, y: &str, n: &str| {
        if record[k] == true {
            y.to_owned()
        } else {
            n.to_owned()
        }
    };
    ctx.note(format_args!(
        "NAT: {} (mapping {}, filtering {}); public {} from local {}; {}; {} ({test_ms} ms)",
        text("nat"),
        text("mapping"),
        text("filtering"),
        text("public").trim_start_matches("udp://"),
        text("local").trim_start_matches("udp://"),
        yes("port_preserving", "port preserved", "port not preserved"),
        yes("hairpinning", "hairpinning works", "no hairpinning"),
    ));
    if let Some(alive) = record.get("lifetime_s").and_then(Value::as_u64) {
        ctx.note(format_args!(
            "an idle mapping lives at least {alive} s: send a keepalive every {} s",
            record["keepalive_s"]
        ));
    }
}

/// Sends a Binding request from `from` to `public` (the public address of `target`)
/// and reports whether `target` receives it.
fn hairpin(
    target: &UdpSocket,
    public: SocketAddr,
    from: &UdpSocket,
    wait: Duration,
) -> Result<bool> {
    let id = random::bytes::<12>()?;
    let bytes = Request::to(public).message(id).encode();
    let end = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        if now >= end {
            return Ok(false);
        }
        if now >= next_send {
            let _ = from.send_to(&bytes, public);
            next_send = now + Duration::from_millis(100);
        }
        target.set_read_timeout(Some(
            next_send
                .min(end)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        ))?;
        match target.recv_from(&mut buf) {
            Ok((len, _)) => {
                if stun::decode(&buf[..len]).is_ok_and(|m| m.transaction_id == id) {
                    return Ok(true);
                }
            }
            Err(e) if timed_out(&e) || binding::transient(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The longest idle time a mapping survived, and the shortest it did not.
struct Lifetime {
    alive: Option<Duration>,
    dead: Option<Duration>,
}

/// The idle times tried, in seconds.
const IDLE_STEPS: &[u64] = &[
    1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300,
];

/// Opens one socket per idle time at once, lets each idle, then asks the server
/// (from a helper socket, with RESPONSE-PORT) to answer to that socket's public
/// port: an answer means the mapping survived. Stops at the first dead one.
fn measure_lifetime(
    server: SocketAddr,
    bind: SocketAddr,
    max: Duration,
    ctx: &Ctx,
) -> Result<Lifetime> {
    let bar = p2p_shared::cli::progress::spinner(ctx.quiet, "measuring the mapping lifetime");
    let mut stats = Stats::default();
    let mut probes = Vec::new();
    for &secs in IDLE_STEPS
        .iter()
        .filter(|s| Duration::from_secs(**s) <= max)
    {
        let socket = UdpSocket::bind(SocketAddr::new(bind.ip(), 0))?;
        let mapped = one(
            &socket,
            Request::to(server),
            Duration::from_secs(2),
            &mut stats,
        )?
        .and_then(|r| r.mapped())
        .ok_or_else(|| Error::timeout("the server stopped answering"))?;
        probes.push((
            Instant::now() + Duration::from_secs(secs),
            secs,
            socket,
            mapped,
        ));
    }
    let helper = UdpSocket::bind(SocketAddr::new(bind.ip(), 0))?;
    let mut lifetime = Lifetime {
        alive: None,
        dead: None,
    };
    for (due, secs, socket, mapped) in probes {
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        bar.set_message(format!("measuring the mapping lifetime: {secs} s idle"));
        let id = random::bytes::<12>()?;
        let request = Request {
            server,
            change: (false, false),
            response_port: Some(mapped.port()),
        };
        let bytes = request.message(id).encode();
        let survived = (0..3).any(|_| {
            let _ = helper.send_to(&bytes, server);
            socket
                .set_read_timeout(Some(Duration::from_millis(300)))
                .is_ok()
                && received(&socket, &id)
        });
        if survived {
            lifetime.alive = Some(Duration::from_secs(secs));
        } else {
            lifetime.dead = Some(Duration::from_secs(secs));
            break;
        }
    }
    bar.finish_and_clear();
    Ok(lifetime)
}

fn received(socket: &UdpSocket, id: &[u8; 12]) -> bool {
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        if stun::decode(&buf[..len]).is_ok_and(|m| m.transaction_id == *id) {
            return true;
        }
    }
    false
}
