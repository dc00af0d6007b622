//! `p2p-punch stun`: one Binding request per server, all from one socket; one
//! `mapping` record per answer.

use crate::args::StunArgs;
use crate::stun_servers;
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::connect::punch::binding::{self, Request, Stats};
use p2p_shared::connect::punch::gather::local_address;
use p2p_shared::{Context, Error, Result, Status, diag};
use serde_json::json;
use std::net::UdpSocket;

/// `p2p-punch stun`.
pub fn run(args: &StunArgs, ctx: &Ctx) -> Result<Status> {
    let names = stun_servers::named_or_default(&args.servers);
    if args.servers.is_empty() {
        ctx.note(format_args!(
            "no server named: asking the default public servers ({})",
            names.join(", ")
        ));
    }
    let mut status = Status::Success;
    let mut targets = Vec::new();
    for name in &names {
        match stun_servers::resolve(name) {
            Ok(addr) => targets.push((name, addr)),
            Err(e) => {
                diag::warn(format_args!("{e}"));
                status = status.worst(Status::Failure);
            }
        }
    }
    if targets.is_empty() {
        return Err(Error::usage("no STUN server could be resolved"));
    }
    let socket = UdpSocket::bind(args.bind).with_context(|| format!("binding {}", args.bind))?;
    let requests: Vec<Request> = targets.iter().map(|(_, a)| Request::to(*a)).collect();
    let mut stats = Stats::default();
    let spinner = p2p_shared::cli::progress::spinner(
        ctx.quiet,
        format!("asking {} STUN server(s)", requests.len()),
    );
    let answers = binding::transact(&socket, &requests, args.timeout, &mut stats);
    spinner.finish_and_clear();
    let answers = answers?;
    let udp = |a| Addr::from_socket(Scheme::Udp, a);
    let mut answered = 0;
    for ((name, server), answer) in targets.iter().zip(answers) {
        let Some(answer) = answer else {
            if stats.refused.contains(server) {
                diag::warn(format_args!("{name} ({server}): {REFUSED}"));
            } else {
                diag::warn(format_args!(
                    "{name} ({server}): no answer within {}",
                    p2p_shared::cli::duration::format(args.timeout)
                ));
            }
            status = status.worst(Status::Failure);
            continue;
        };
        let Some(public) = answer.mapped() else {
            let why = answer.message.error_code().map_or_else(
                || "no mapped address".to_owned(),
                |(c, r)| format!("error {c} {r}"),
            );
            diag::warn(format_args!("{name} ({server}): {why}"));
            status = status.worst(Status::Failure);
            continue;
        };
        answered += 1;
        let mut record = json!({
            "type": "mapping",
            "server": udp(*server),
            "local": udp(local_address(&socket, *server)?),
            "public": udp(public),
            "rtt_ms": millis(answer.rtt),
        });
        if let Some(other) = answer.message.other_address() {
            record["other"] = json!(udp(other));
        }
        if let Some(software) = answer.message.software() {
            record["software"] = json!(software);
        }
        ctx.out.record(&record)?;
    }
    if stats.malformed > 0 {
        diag::warn(format_args!(
            "dropped {} malformed packets",
            stats.malformed
        ));
    }
    if answered == 0 && stats.refused.len() == targets.len() {
        return Err(Error::failure(format!("every STUN server named {REFUSED}")));
    }
    if answered == 0 {
        return Err(Error::timeout("no STUN server answered"));
    }
    Ok(status)
}

/// Why a server that sent back ICMP port unreachable is given up on at once.
pub const REFUSED: &str = "refused (ICMP port unreachable: nothing listens on that port)";

/// A duration in milliseconds with three decimals.
pub fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
