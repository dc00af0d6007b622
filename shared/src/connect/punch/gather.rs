//! Gathering this side's candidates: its local address, the public address a STUN
//! server sees, and (when the server offers RFC 5780's OTHER-ADDRESS) whether the NAT
//! keeps that mapping for another destination.

use super::binding::{self, Request, Stats};
use super::candidate::{Behaviour, Candidate};
use crate::identity::Identity;
use crate::{Error, Result, narrate, random};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

/// The address `socket` sends from towards `towards`: its own address when bound to
/// a specific one, otherwise the one the routing table picks (found by connecting a
/// throwaway socket, which sends nothing).
pub fn local_address(socket: &UdpSocket, towards: SocketAddr) -> Result<SocketAddr> {
    let local = socket.local_addr()?;
    if !local.ip().is_unspecified() {
        return Ok(local);
    }
    let probe = UdpSocket::bind(SocketAddr::new(local.ip(), 0))?;
    probe.connect(towards)?;
    Ok(SocketAddr::new(probe.local_addr()?.ip(), local.port()))
}

/// This side's candidate, learned from `server` over `socket`.
pub fn gather(
    socket: &UdpSocket,
    identity: &Identity,
    server: SocketAddr,
    timeout: Duration,
) -> Result<Candidate> {
    let local = local_address(socket, server)?;
    let mut stats = Stats::default();
    let first = binding::transact(socket, &[Request::to(server)], timeout, &mut stats)?;
    let first = first.into_iter().next().flatten().ok_or_else(|| {
        if stats.refused.contains(&server) {
            Error::failure(format!(
                "{server} refused (ICMP port unreachable: nothing listens on that port)"
            ))
        } else {
            Error::timeout(format!("the STUN server {server} did not answer"))
        }
    })?;
    let observed = first
        .mapped()
        .ok_or_else(|| Error::failure(format!("{server} answered without a mapped address")))?;
    let mut ports = vec![observed.port()];
    let mut mapping = if observed == local {
        Behaviour::None
    } else {
        Behaviour::Unknown
    };
    if let Some(other) = first
        .message
        .other_address()
        .filter(|o| usable(o.ip(), server.ip()))
    {
        let second = binding::transact(socket, &[Request::to(other)], timeout, &mut stats)?;
        if let Some(mapped) = second.into_iter().next().flatten().and_then(|r| r.mapped()) {
            ports.push(mapped.port());
            mapping = match (mapping, mapped == observed) {
                (Behaviour::None, true) => Behaviour::None,
                (_, true) => Behaviour::EndpointIndependent,
                (_, false) => Behaviour::EndpointDependent,
            };
        }
    }
    narrate!(
        "this side's candidate: local {local}, public {observed}, mapping {} (ports {ports:?})",
        mapping.as_str()
    );
    Ok(Candidate {
        id: identity.id(),
        local: vec![local],
        observed: Some(observed),
        mapping,
        ports,
        nonce: random::bytes()?,
    })
}

/// An OTHER-ADDRESS is worth using when it is of the server's family and not a
/// wildcard (a misconfigured server may advertise 0.0.0.0).
fn usable(other: IpAddr, server: IpAddr) -> bool {
    !other.is_unspecified() && other.is_ipv4() == server.is_ipv4()
}
