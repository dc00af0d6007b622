//! mDNS discovery on the local link with the `mdns-sd` crate: service type
//! `_p2p._udp.local.`, the topic and peer id in TXT.
//!
//! A signed peer record travels in TXT too, one property per field (`id`, `topic`,
//! `seq`, `sig`, and `a0`, `a1`, … for its addresses), since a TXT string holds at
//! most 255 bytes; the receiver rebuilds the record and verifies it. The crate
//! reports an instance several times as its IPv4, IPv6 and loopback addresses
//! arrive; addresses are merged per instance, and the main loop's de-duplication
//! turns the repeats into one peer (plus one more per new address).
//!
//! Two choices make discovery fast (see docs/discover.md for the figures):
//!
//! - A one-shot query from an ephemeral port ([`crate::mdns_query`]) beside the
//!   browser gets immediate unicast answers from the peers already there, where the
//!   crate's own QM queries wait for multicast answers (delayed, and rate-limited to
//!   one a second).
//! - The service is announced without probing (RFC 6762 section 8.1, about 0.9 s in
//!   the crate): its instance and host names come from the peer id or 64 random
//!   bits, so they cannot clash unless one identity announces twice on a link.

use crate::found::{self, Found, Sender};
use crate::mdns_query;
use futures_lite::FutureExt;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{Error, Result, narrate};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The mechanism's name in `via`.
pub const VIA: &str = "mdns";
/// The DNS-SD service type of the toolbox.
pub const SERVICE: &str = "_p2p._udp.local.";
/// Most addresses carried in a signed record's TXT; `--announce` signs one record
/// with at most this many, for every mechanism.
pub const MAX_TXT_ADDRS: usize = 8;
/// How long answers to the one-shot query are awaited (responders may delay a
/// shared answer by up to 120 ms, RFC 6762 section 6).
const ONE_SHOT_WAIT: Duration = Duration::from_secs(1);

/// A running mDNS responder and browser.
pub struct Mdns {
    daemon: ServiceDaemon,
    interfaces: Vec<String>,
    registered: Option<String>,
    /// Peers seen, by lowercase instance name, from the browser and the one-shot
    /// query alike, so that a goodbye reports a peer however it was found.
    instances: Instances,
}

/// The peers seen, by lowercase instance name.
type Instances = Arc<Mutex<HashMap<String, PeerRecord>>>;

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
            interfaces: interfaces.to_vec(),
            registered: None,
            instances: Instances::default(),
        })
    }

    /// Announces this peer for `topic`, carrying its signed `record` (at most
    /// [`MAX_TXT_ADDRS`] addresses) when there is one.
    pub fn announce(&mut self, topic: &str, port: u16, record: Option<&PeerRecord>) -> Result<()> {
        let mut props: HashMap<String, String> = HashMap::new();
        props.insert("topic".into(), topic.to_owned());
        let instance = match record {
            Some(PeerRecord {
                id: Some(id),
                seq,
                sig: Some(sig),
                addrs,
                ..
            }) if addrs.len() <= MAX_TXT_ADDRS => {
                props.insert("id".into(), id.to_string());
                props.insert("seq".into(), seq.unwrap_or_default().to_string());
                props.insert("sig".into(), sig.clone());
                for (i, addr) in addrs.iter().enumerate() {
                    props.insert(format!("a{i}"), addr.to_string());
                }
                id.to_string()
            }
            Some(_) => {
                return Err(Error::failure(
                    "an mDNS announcement carries a signed record of at most 8 addresses",
                ));
            }
            None => hex::encode(p2p_shared::random::bytes::<8>()?),
        };
        let host = format!("p2p-{}.local.", &instance[..16]);
        let mut info = ServiceInfo::new(SERVICE, &instance, &host, "", port, props)
            .map_err(|e| Error::failure(format!("mDNS service: {e}")))?
            .enable_addr_auto();
        // The names are unique by construction (peer id or random bits): announce at
        // once instead of probing for clashes first.
        info.set_requires_probe(false);
        let fullname = info.get_fullname().to_owned();
        self.daemon
            .register(info)
            .map_err(|e| Error::failure(format!("mDNS register: {e}")))?;
        p2p_shared::diag::note(format_args!("announcing {topic} on port {port} over mDNS"));
        self.registered = Some(fullname);
        Ok(())
    }

    /// Browses for peers of `topic` (of any topic when `None`) and reports them until
    /// the main loop stops.
    pub fn browse(&self, topic: Option<String>, tx: Sender) -> Result<smol::Task<()>> {
        let events = self
            .daemon
            .browse(SERVICE)
            .map_err(|e| Error::failure(format!("mDNS browse: {e}")))?;
        let own = self.registered.clone();
        let instances = Arc::clone(&self.instances);
        Ok(smol::spawn(async move {
            while let Ok(event) = events.recv_async().await {
                let found = match event {
                    ServiceEvent::ServiceResolved(service) => {
                        let their_topic = service.txt_properties.get_property_val_str("topic");
                        narrate!(
                            "mDNS: {} resolved (topic {}, port {}, {} address(es))",
                            service.fullname,
                            their_topic.unwrap_or("none"),
                            service.port,
                            service.addresses.len()
                        );
                        if Some(&service.fullname) == own.as_ref()
                            || topic.as_deref().is_some_and(|t| their_topic != Some(t))
                        {
                            continue;
                        }
                        let ips: BTreeSet<IpAddr> = service
                            .addresses
                            .iter()
                            .map(mdns_sd::ScopedIp::to_ip_addr)
                            .collect();
                        let props = service
                            .txt_properties
                            .iter()
                            .map(|p| (p.key().to_owned(), p.val_str().to_owned()))
                            .collect();
                        match peer_of(&props, &ips, service.port) {
                            Ok(peer) => Found::Peer(remember(&instances, &service.fullname, peer)),
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
                        let removed = lock(&instances).remove(&fullname.to_ascii_lowercase());
                        match removed {
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

    /// Sends one query from an ephemeral port on each interface and reports the
    /// peers of `topic` (of any topic when `None`) in the unicast answers that come
    /// within [`ONE_SHOT_WAIT`].
    pub fn query_once(&self, topic: Option<String>, tx: Sender) -> Result<smol::Task<()>> {
        let sources: Vec<std::net::Ipv4Addr> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| {
                if self.interfaces.is_empty() {
                    !i.is_loopback()
                } else {
                    self.interfaces.contains(&i.name)
                }
            })
            .filter_map(|i| match i.ip() {
                IpAddr::V4(ip) => Some(ip),
                IpAddr::V6(_) => None,
            })
            .collect();
        let packet = mdns_query::query(SERVICE).map_err(Error::failure)?;
        narrate!(
            "mDNS: one-shot PTR query for {SERVICE} from {} interface address(es) {sources:?}",
            sources.len()
        );
        let socket = mdns_query::send(&packet, &sources)
            .map_err(|e| Error::failure(format!("mDNS one-shot query: {e}")))?;
        let socket = smol::net::UdpSocket::try_from(socket)?;
        let own = self.registered.as_ref().map(|n| n.to_ascii_lowercase());
        let instances = Arc::clone(&self.instances);
        Ok(smol::spawn(async move {
            let end = Instant::now() + ONE_SHOT_WAIT;
            let mut buf = vec![0u8; 9000];
            loop {
                let received = async { socket.recv_from(&mut buf).await.ok() }
                    .or(async {
                        smol::Timer::at(end).await;
                        None
                    })
                    .await;
                let Some((len, from)) = received else { break };
                narrate!("mDNS: {len}-byte answer from {from}");
                for instance in mdns_query::instances(&buf[..len], SERVICE) {
                    if Some(&instance.fullname) == own.as_ref()
                        || topic
                            .as_ref()
                            .is_some_and(|t| instance.props.get("topic") != Some(t))
                    {
                        continue;
                    }
                    let found = match peer_of(&instance.props, &instance.ips, instance.port) {
                        Ok(peer) => Found::Peer(remember(&instances, &instance.fullname, peer)),
                        Err(why) => Found::Problem {
                            via: VIA,
                            message: format!("{}: {why}", instance.fullname),
                            input: false,
                        },
                    };
                    if tx.send(found).await.is_err() {
                        return;
                    }
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

fn lock(instances: &Instances) -> std::sync::MutexGuard<'_, HashMap<String, PeerRecord>> {
    instances
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records `peer` under its instance name, merging the addresses of unsigned
/// sightings (the crate reports IPv4, IPv6 and loopback addresses separately), and
/// returns the merged peer.
fn remember(instances: &Instances, fullname: &str, peer: PeerRecord) -> PeerRecord {
    let mut seen = lock(instances);
    let merged = seen
        .entry(fullname.to_ascii_lowercase())
        .or_insert_with(|| peer.clone());
    if !peer.is_signed() {
        for addr in peer.addrs {
            if !merged.addrs.contains(&addr) {
                merged.addrs.push(addr);
            }
        }
    }
    merged.clone()
}

/// The peer an instance describes: its signed record when it carries one,
/// otherwise its id (if any) and the resolved addresses; its topic is the one in TXT.
fn peer_of(
    txt: &HashMap<String, String>,
    ips: &BTreeSet<IpAddr>,
    port: u16,
) -> Result<PeerRecord, String> {
    let topic = txt.get("topic").cloned();
    let get = |key: &str| txt.get(key).map(String::as_str);
    let id = get("id")
        .map(str::parse::<PeerId>)
        .transpose()
        .map_err(|e| format!("bad id in TXT: {e}"))?;
    let mut peer = if let Some(sig) = get("sig") {
        let mut addrs = Vec::new();
        for i in 0..MAX_TXT_ADDRS {
            match get(&format!("a{i}")) {
                Some(a) => addrs.push(
                    a.parse::<Addr>()
                        .map_err(|e| format!("bad a{i} in TXT: {e}"))?,
                ),
                None => break,
            }
        }
        let mut record = PeerRecord::new(id, addrs);
        record.topic = topic;
        record.seq = get("seq").and_then(|s| s.parse().ok());
        record.sig = Some(sig.to_owned());
        record
    } else {
        let addrs = ips
            .iter()
            .map(|ip| Addr::from_socket(Scheme::Udp, SocketAddr::new(*ip, port)))
            .collect();
        let mut record = PeerRecord::new(id, addrs);
        record.topic = topic;
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
