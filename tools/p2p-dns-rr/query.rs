//! `p2p-dns-rr query`: ask a DNS server and print the peers its answer names.

use crate::args::{QueryArgs, QueryType};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::{Error, Result, Status, diag, discovery::dns};

/// `p2p-dns-rr query`.
pub fn run(args: &QueryArgs, ctx: &Ctx) -> Result<Status> {
    let (name, rtype) = question(&args.name, args.rtype)?;
    if matches!(rtype, RecordType::A | RecordType::AAAA) && args.port.is_none() {
        return Err(Error::usage(
            "A/AAAA records carry no port: give --port, or ask for SRV or TXT",
        ));
    }
    let response = dns::resolve(args.server, &name, rtype, args.timeout)?;
    if response.metadata.response_code == ResponseCode::NXDomain {
        ctx.note(format_args!("{name}: no such name"));
        return Ok(Status::Failure);
    }
    let mut found = 0usize;
    let mut status = Status::Success;
    for peer in dns::peers(&response, args.port) {
        match peer {
            Ok(peer) => {
                ctx.out.record(&peer)?;
                found += 1;
            }
            Err(e) => {
                diag::warn(format_args!("{name} {rtype}: {e}"));
                status = Status::Failure;
            }
        }
    }
    if found == 0 {
        ctx.note(format_args!("{name} {rtype}: no peers in the answer"));
        return Ok(Status::Failure);
    }
    Ok(status)
}

/// The name and type to ask for.
fn question(name: &Name, rtype: QueryType) -> Result<(Name, RecordType)> {
    let srv_name = || -> Result<Name> {
        if name.iter().next().is_some_and(|l| l.starts_with(b"_")) {
            return Ok(name.clone());
        }
        Name::from_ascii("_p2p._udp")
            .and_then(|p| p.append_domain(name))
            .map_err(|e| Error::usage(format!("{name}: {e}")))
    };
    Ok(match rtype {
        QueryType::A => (name.clone(), RecordType::A),
        QueryType::Aaaa => (name.clone(), RecordType::AAAA),
        QueryType::Txt => (name.clone(), RecordType::TXT),
        QueryType::Auto if dns::peer_id_label(name).is_some() => (name.clone(), RecordType::TXT),
        QueryType::Srv | QueryType::Auto => (srv_name()?, RecordType::SRV),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_zone;

    #[test]
    fn auto_asks_srv_below_a_zone_and_txt_for_a_peer() {
        let zone = parse_zone("peers.test").unwrap();
        let (name, rtype) = question(&zone, QueryType::Auto).unwrap();
        assert_eq!(
            (name.to_ascii().as_str(), rtype),
            ("_p2p._udp.peers.test.", RecordType::SRV)
        );
        let id = p2p_shared::identity::Identity::from_seed([1; 32]).id();
        let peer = parse_zone(&format!("{id}.peers.test")).unwrap();
        assert_eq!(question(&peer, QueryType::Auto).unwrap().1, RecordType::TXT);
        let srv = parse_zone("_p2p._tcp.peers.test").unwrap();
        assert_eq!(question(&srv, QueryType::Srv).unwrap().0, srv);
    }
}
