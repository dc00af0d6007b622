//! Refresh, CreatePermission and ChannelBind on an existing allocation.

use super::{Refused, Reply, Server, udp};
use crate::alloc::{Allocation, Refusal};
use crate::auth::Principal;
use p2p_shared::codec::stun::Message;
use p2p_shared::codec::turn::{self, Turn, code};
use p2p_shared::ndjson::records;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

impl Server {
    /// Runs `f` on the client's allocation made by `principal`: 437 when there is
    /// none, 441 when another principal made it.
    pub(super) fn with_allocation<T>(
        &self,
        from: SocketAddr,
        principal: &Principal,
        f: impl FnOnce(&mut Allocation) -> std::result::Result<T, Refused>,
    ) -> std::result::Result<T, Refused> {
        let mut state = self.state.borrow_mut();
        let Some(a) = state.allocations.get_mut(&from) else {
            return Err((
                code::ALLOCATION_MISMATCH,
                "no allocation for this 5-tuple".to_owned(),
            ));
        };
        if &a.principal != principal {
            return Err((
                code::WRONG_CREDENTIALS,
                "the allocation belongs to another user".to_owned(),
            ));
        }
        f(a)
    }

    pub(super) fn refresh(
        &self,
        message: &Message,
        from: SocketAddr,
        principal: &Principal,
    ) -> Reply {
        if message.lifetime() == Some(0) {
            self.with_allocation(from, principal, |_| Ok(()))?;
            self.end(from, "released");
            return Ok(vec![turn::lifetime(0)]);
        }
        let lifetime = self.lifetime(message.lifetime());
        self.with_allocation(from, principal, |a| {
            let now = Instant::now();
            a.expires = now + lifetime;
            a.active = now;
            Ok(())
        })?;
        self.event(&records::event(
            "refreshed",
            json!({"client": udp(from),
            "lifetime_s": lifetime.as_secs()}),
        ));
        Ok(vec![turn::lifetime(
            u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX),
        )])
    }

    pub(super) fn permission(
        &self,
        message: &Message,
        from: SocketAddr,
        principal: &Principal,
    ) -> Reply {
        let Some(peers) = message.peer_addresses().filter(|p| !p.is_empty()) else {
            return Err((code::BAD_REQUEST, "no valid XOR-PEER-ADDRESS".to_owned()));
        };
        for peer in &peers {
            self.peer_allowed(*peer, false)?;
        }
        let ips: Vec<IpAddr> = peers.iter().map(SocketAddr::ip).collect();
        let max = self.args.limits.max_permissions;
        self.with_allocation(from, principal, |a| {
            a.permit(&ips, max, Instant::now()).map_err(|_| {
                (
                    code::INSUFFICIENT_CAPACITY,
                    format!("{max} permissions per allocation"),
                )
            })
        })?;
        let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
        self.event(&records::event(
            "permission",
            json!({"client": udp(from), "peers": ips}),
        ));
        Ok(vec![])
    }

    pub(super) fn channel_bind(
        &self,
        message: &Message,
        from: SocketAddr,
        principal: &Principal,
    ) -> Reply {
        let channel = message
            .channel()
            .filter(|c| (turn::CHANNEL_MIN..=turn::CHANNEL_MAX_RFC5766).contains(c))
            .ok_or_else(|| {
                (
                    code::BAD_REQUEST,
                    "CHANNEL-NUMBER missing or out of range".to_owned(),
                )
            })?;
        let peer = match message.peer_addresses().as_deref() {
            Some([peer]) => *peer,
            _ => {
                return Err((
                    code::BAD_REQUEST,
                    "ChannelBind needs one XOR-PEER-ADDRESS".to_owned(),
                ));
            }
        };
        self.peer_allowed(peer, true)?;
        let limits = (
            self.args.limits.max_permissions,
            self.args.limits.max_channels,
        );
        self.with_allocation(from, principal, |a| {
            a.bind(channel, peer, limits, Instant::now())
                .map_err(|r| match r {
                    Refusal::Conflict => (
                        code::BAD_REQUEST,
                        "channel or peer bound otherwise".to_owned(),
                    ),
                    Refusal::Full => (
                        code::INSUFFICIENT_CAPACITY,
                        format!(
                            "{} channels or {} permissions per allocation",
                            limits.1, limits.0
                        ),
                    ),
                })
        })?;
        self.event(&records::event(
            "channel",
            json!({"client": udp(from),
            "channel": channel, "peer": udp(peer)}),
        ));
        Ok(vec![])
    }
}
