//! mDNS discovery on the local link with the `mdns-sd` crate: service type
//! `_p2p._udp.local.`, the topic and peer id in TXT.
//!
//! A signed peer record travels in TXT too, one property per field (`id`, `topic`,
//! `seq`, `sig`, and `a0`, `a1`, … for its addresses), since a TXT string holds at
//! most 255 bytes; the receiver rebuilds the record and verifies it. The crate
//! reports an instance several times as its IPv4, IPv6 and loopback addresses
//! arrive; addresses are merged per instance, and the main loop's de-duplication
//! turns the repeats into one peer (plus one more per new address).

use crate::found::{self, Found, Sender};
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::identity::Identity;
use p2p_shared::peer::PeerRecord;
use p2p_shared::peer_id::PeerId;
use p2p_shared::{Error, Result};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The mechanism's name in `via`.
pub const VIA: &str = "mdns";
/// The DNS-SD service type of the toolbox.
pub const SERVICE: &str = "_p2p._udp.local.";
/// Most addresses carried in a signed record's TXT.
const MAX_TXT_ADDRS: usize = 8;

/// A running mDNS responder and browser.
pub struct Mdns {
    daemon: ServiceDaemon,
    registered: Option<String>,
}

impl Mdns {
    /// Starts the daemon, restricted to `interfaces` when any are named.
    pub fn start(interfaces: &[String]) -> Result<Mdns> {
        let daemon =
            ServiceDaemon::new().map_err(|e| Error::failure(format!("starting mDNS: {e}")))?;
        if !interfaces.is_empty() {
            daemon
                .disable_interface(IfKind::All)
                .map_err(|e| Error::failure(format!("mDNS: {e}")))?;
            for name in interfaces {
                daemon
                    .enable_interface(IfKind::Name(name.clone()))
                    .map_err(|e| Error::failure(format!("mDNS interface {name}: {e}")))?;
            }
        }
        Ok(Mdns {
            daemon,
            registered: None,
        })
    }

    /// Announces this peer for `topic`: a signed record when there is an identity.
    pub fn announce(
        &mut self,
        topic: &str,
        port: u16,
        identity: Option<&Identity>,
        addrs: &[Addr],
    ) -> Result<()> {
        let mut props: HashMap<String, String> = HashMap::new();
        props.insert("topic".into(), topic.to_owned());
        let instance = match identity {
            Some(identity) => {
                let record = PeerRecord::signed(
                    identity,
                    addrs.iter().take(MAX_TXT_ADDRS).cloned().collect(),
                    Some(topic.to_owned()),
                )?;
                props.insert("id".into(), identity.id().to_string());
                props.insert("seq".into(), record.seq.unwrap_or_default().to_string());
                props.insert("sig".into(), record.sig.clone().unwrap_or_default());
                for (i, addr) in record.addrs.iter().enumerate() {
                    props.insert(format!("a{i}"), addr.to_string());
                }
                identity.id().to_string()
            }
            None => hex::encode(p2p_shared::random::bytes::<8>()?),
        };
        let host = format!("p2p-{}.local.", &instance[..16]);
        let info = ServiceInfo::new(SERVICE, &instance, &host, "", port, props)
            .map_err(|e| Error::failure(format!("mDNS service: {e}")))?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        self.daemon
            .register(info)
            .map_err(|e| Error::failure(format!("mDNS register: {e}")))?;
        self.registered = Some(fullname);
        Ok(())
    }

    /// Browses for peers of `topic` and reports them until the main loop stops.
    pub fn browse(&self, topic: String, tx: Sender) -> Result<smol::Task<()>> {
        let events = self
            .daemon
            .browse(SERVICE)
            .map_err(|e| Error::failure(format!("mDNS browse: {e}")))?;
        let own = self.registered.clone();
        Ok(smol::spawn(async move {
            let mut instances: HashMap<String, PeerRecord> = HashMap::new();
            while let Ok(event) = events.recv_async().await {
                let found = match event {
                    ServiceEvent::ServiceResolved(service) => {
                        if Some(&service.fullname) == own.as_ref()
                            || service.txt_properties.get_property_val_str("topic")
                                != Some(topic.as_str())
                        {
                            continue;
                        }
                        let ips: BTreeSet<IpAddr> = service
                            .addresses
                            .iter()
                            .map(mdns_sd::ScopedIp::to_ip_addr)
                            .collect();
                        match peer_of(&service.txt_properties, &ips, service.port, &topic) {
                            Ok(peer) => {
                                let merged = instances
                                    .entry(service.fullname.clone())
                                    .or_insert_with(|| peer.clone());
                                if !peer.is_signed() {
                                    for addr in peer.addrs {
                                        if !merged.addrs.contains(&addr) {
                                            merged.addrs.push(addr);
                                        }
                                    }
                                }
                                Found::Peer(merged.clone())
                            }
                            Err(why) => {
                                found::problem(
                                    &tx,
                                    VIA,
                                    format!("{}: {why}", service.fullname),
                                    false,
                                )
                                .await;
                                continue;
                            }
                        }
                    }
                    ServiceEvent::ServiceRemoved(_, fullname) => {
                        match instances.remove(&fullname) {
                            Some(peer) => Found::Gone(peer),
                            None => continue,
                        }
                    }
                    _ => continue,
                };
                if tx.send(found).await.is_err() {
                    break;
                }
            }
        }))
    }

    /// Says goodbye for the announced service (so others see it leave) and stops.
    pub fn stop(self) {
        if let Some(fullname) = &self.registered
            && let Ok(done) = self.daemon.unregister(fullname)
        {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// The peer an instance describes: its signed record when it carries one,
/// otherwise its id (if any) and the resolved addresses.
fn peer_of(
    txt: &mdns_sd::TxtProperties,
    ips: &BTreeSet<IpAddr>,
    port: u16,
    topic: &str,
) -> Result<PeerRecord, String> {
    let id = txt
        .get_property_val_str("id")
        .map(str::parse::<PeerId>)
        .transpose()
        .map_err(|e| format!("bad id in TXT: {e}"))?;
    let mut peer = if let Some(sig) = txt.get_property_val_str("sig") {
        let mut addrs = Vec::new();
        for i in 0..MAX_TXT_ADDRS {
            match txt.get_property_val_str(&format!("a{i}")) {
                Some(a) => addrs.push(
                    a.parse::<Addr>()
                        .map_err(|e| format!("bad a{i} in TXT: {e}"))?,
                ),
                None => break,
            }
        }
        let mut record = PeerRecord::new(id, addrs);
        record.topic = Some(topic.to_owned());
        record.seq = txt.get_property_val_str("seq").and_then(|s| s.parse().ok());
        record.sig = Some(sig.to_owned());
        record
    } else {
        let addrs = ips
            .iter()
            .map(|ip| Addr::from_socket(Scheme::Udp, SocketAddr::new(*ip, port)))
            .collect();
        let mut record = PeerRecord::new(id, addrs);
        record.topic = Some(topic.to_owned());
        record
    };
    peer.via = Some(VIA.to_owned());
    Ok(peer)
}

/// This host's addresses on `interfaces` (all but loopback when none are named)
/// with `port`, skipping IPv6 link-local addresses, which need a scope to be usable.
pub fn local_addrs(interfaces: &[String], port: u16) -> Vec<Addr> {
    let Ok(all) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    all.into_iter()
        .filter(|i| {
            if interfaces.is_empty() {
                !i.is_loopback()
            } else {
                interfaces.contains(&i.name)
            }
        })
        .map(|i| i.ip())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .map(|ip| Addr::from_socket(Scheme::Udp, SocketAddr::new(ip, port)))
        .collect()
}
