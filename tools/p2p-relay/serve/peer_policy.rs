//! Which peer addresses may be relayed to at all, before permissions.

use super::{Refused, Server};
use p2p_shared::codec::turn::code;
use std::net::{IpAddr, SocketAddr};

impl Server {
    /// Whether relaying to `peer` is allowed at all (before permissions). The
    /// relay's own relayed addresses are allowed (two peers on one relay, each with an
    /// allocation): for a permission (`exact` false, only the IP counts) the relay IP
    /// itself, otherwise only the relayed address of a live allocation.
    pub(super) fn peer_allowed(
        &self,
        peer: SocketAddr,
        exact: bool,
    ) -> std::result::Result<(), Refused> {
        if peer.ip() == self.relay_ip && (!exact || self.state.borrow().relayed.contains(&peer)) {
            return Ok(());
        }
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let forbidden = |why: &str| Err((code::FORBIDDEN, format!("{why}: {ip}")));
        if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]) {
            return forbidden("not a unicast peer address");
        }
        if ip.is_ipv4() != self.relay_ip.is_ipv4() {
            return Err((
                443,
                format!("peer address family differs from the relay's: {ip}"),
            ));
        }
        if !self.args.allow_loopback_peers {
            if ip.is_loopback() {
                return forbidden("loopback peers need --allow-loopback-peers");
            }
            if self.own_ips.contains(&ip) {
                return forbidden("the relay's own address");
            }
        }
        Ok(())
    }
}
