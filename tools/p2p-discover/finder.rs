//! The main loop of a discovery run: start the selected mechanisms, then report
//! what they find: verify signed records (dropping and counting forged ones),
//! de-duplicate by (id, address) across mechanisms, stop at `--count`, the timeout,
//! or a signal, and say goodbye where this peer announced itself.

use crate::args::FindArgs;
use crate::found::{Found, Sender};
use crate::mdns::{self, Mdns};
use crate::tracker_client::Tracker;
use crate::via_tracker::{self, Plan};
use crate::{bootstrap, via_dht, via_dns};
use futures_lite::FutureExt;
use mainline::async_dht::AsyncDht;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dht::{DhtOptions, Nudger, topic_infohash, unless_unanswered};
use p2p_shared::identity::Identity;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::ndjson::records;
use p2p_shared::{Error, Result, Status, cli::shutdown, diag, narrate};
use std::collections::HashSet;
use std::time::Duration;

/// How long a run without `--watch` or `--announce` looks by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the main loop stopped.
enum End {
    Count,
    Timeout,
    Signal,
    Exhausted,
}

/// Runs a discovery.
pub fn run(args: &FindArgs, ctx: &Ctx) -> Result<Status> {
    let topic = args.topic.as_deref().filter(|_| !args.all);
    if topic.is_none() {
        let needs_topic = [
            (args.dht, "--dht"),
            (!args.trackers.is_empty(), "--tracker"),
            (args.announce.is_some(), "--announce"),
        ];
        if let Some((_, flag)) = needs_topic.iter().find(|(set, _)| *set) {
            return Err(Error::usage(format!(
                "{flag} needs a topic; without one (or with --all) mDNS lists every peer on \
                 the link"
            )));
        }
    }
    let identity = announcing_identity(args)?;
    let repeat = args.watch || args.announce.is_some();
    let timeout = args.timeout.or((!repeat).then_some(DEFAULT_TIMEOUT));
    smol::block_on(async {
        let (tx, rx) = smol::channel::unbounded();
        let started = start(args, topic, identity.as_ref(), repeat, &tx)?;
        drop(tx);

        let mut report = Report::new(args.count, args.watch);
        let listen = async {
            while let Ok(found) = rx.recv().await {
                if report.take(found, ctx)? {
                    return Ok(End::Count);
                }
            }
            Ok::<_, Error>(End::Exhausted)
        };
        let deadline = async {
            match timeout {
                Some(t) => smol::Timer::after(t).await,
                None => std::future::pending().await,
            };
            Ok(End::Timeout)
        };
        let signal = async {
            shutdown::signalled().await;
            Ok(End::Signal)
        };
        let spinner = p2p_shared::cli::progress::spinner(
            ctx.quiet,
            topic.map_or_else(
                || "looking for peers".to_owned(),
                |t| format!("looking for peers of '{t}'"),
            ),
        );
        let end = listen.or(deadline).or(signal).await;
        spinner.finish_and_clear();
        let end = end?;
        let Started {
            tasks,
            mdns,
            plan,
            _nudger,
            dht,
        } = started;
        drop(tasks);
        if let (Some(_), Some(plan)) = (args.announce, &plan) {
            for tracker in &args.trackers {
                via_tracker::leave(tracker, plan).await;
            }
        }
        if let Some(responder) = mdns {
            smol::unblock(move || responder.stop()).await;
        }
        let verdict = report.finish(&end, timeout);
        match &dht {
            Some((dht, options)) => unless_unanswered(dht, options, verdict).await,
            None => verdict,
        }
    })
}

/// Tells under `-v` which mechanisms a run starts.
fn narrate_mechanisms(args: &FindArgs, use_mdns: bool, dht: bool, topic: bool) {
    narrate!(
        "starting: {}",
        [
            (use_mdns, "mDNS".to_owned()),
            (dht, format!("the DHT (bootstrap {:?})", args.bootstrap)),
            (
                topic && !args.trackers.is_empty(),
                format!("{} tracker(s)", args.trackers.len())
            ),
            (
                !args.peer_files.is_empty(),
                format!("{} peer file(s)", args.peer_files.len())
            ),
            (
                !args.dns.is_empty(),
                format!(
                    "DNS ({})",
                    args.dns
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        ]
        .into_iter()
        .filter_map(|(on, what)| on.then_some(what))
        .collect::<Vec<_>>()
        .join(", ")
    );
}

/// What a run started, to keep alive while it lasts and to stop at its end.
struct Started {
    tasks: Vec<smol::Task<()>>,
    mdns: Option<Mdns>,
    /// What trackers are told, when there is a topic.
    plan: Option<Plan>,
    _nudger: Option<Nudger>,
    /// The DHT node and how it was started, to tell a dead bootstrap from an empty
    /// swarm at the end.
    dht: Option<(AsyncDht, DhtOptions)>,
}

/// Starts every selected mechanism, each reporting to `tx`. Without a topic (every
/// peer, whatever its topic) only mDNS, bootstrap files and DNS run.
fn start(
    args: &FindArgs,
    topic: Option<&str>,
    identity: Option<&Identity>,
    repeat: bool,
    tx: &Sender,
) -> Result<Started> {
    let no_flag = !args.mdns
        && !args.dht
        && args.trackers.is_empty()
        && args.peer_files.is_empty()
        && args.dns.is_empty();
    let use_mdns = args.mdns || no_flag;
    let dht_topic = topic.filter(|_| args.dht || no_flag);
    let mut tasks = Vec::new();
    // The addresses this peer's signed records name, looked up once.
    let own_addrs = match args.announce {
        Some(port) if args.addrs.is_empty() => mdns::local_addrs(&args.interfaces, port),
        _ => args.addrs.clone(),
    };
    // One signed record for every mechanism that carries one.
    let record = match (identity, args.announce, topic) {
        (Some(identity), Some(_), Some(topic)) => Some(own_record(identity, own_addrs, topic)?),
        _ => None,
    };
    narrate_mechanisms(args, use_mdns, dht_topic.is_some(), topic.is_some());
    let mut mdns = None;
    if use_mdns {
        let mut responder = Mdns::start(&args.interfaces)?;
        if let (Some(port), Some(topic)) = (args.announce, topic) {
            responder.announce(topic, port, record.as_ref())?;
        }
        let wanted = topic.map(str::to_owned);
        tasks.push(responder.browse(wanted.clone(), tx.clone())?);
        tasks.push(responder.query_once(wanted, tx.clone())?);
        mdns = Some(responder);
    }
    let plan = match topic {
        Some(topic) if !args.trackers.is_empty() => Some(Plan {
            info_hash: *topic_infohash(topic).as_bytes(),
            topic: topic.to_owned(),
            peer_id: via_tracker::new_peer_id(),
            port: args.announce.unwrap_or(0),
            record: record
                .map(|r| serde_json::to_string(&r))
                .transpose()
                .map_err(|e| Error::failure(e.to_string()))?,
            repeat,
            tls: if args.trackers.iter().any(Tracker::is_tls) {
                Some(crate::tls::client_config(args.ca_file.as_deref()).map_err(Error::usage)?)
            } else {
                None
            },
        }),
        _ => None,
    };
    let mut nudger = None;
    let mut dht_node = None;
    if let Some(topic) = dht_topic {
        let options = DhtOptions {
            bootstrap: args.bootstrap.clone(),
            request_timeout: args.dht_request_timeout,
        };
        let (dht, node_nudger) = options.start_client(None)?;
        nudger = Some(node_nudger);
        dht_node = Some((dht.clone(), options));
        tasks.push(smol::spawn(via_dht::run(
            dht,
            topic.to_owned(),
            args.announce,
            repeat,
            tx.clone(),
        )));
    }
    if let Some(plan) = &plan {
        for tracker in &args.trackers {
            let run = via_tracker::run(tracker.clone(), plan.clone(), tx.clone());
            tasks.push(smol::spawn(run));
        }
    }
    if !args.peer_files.is_empty() {
        tasks.push(smol::spawn(bootstrap::run(
            args.peer_files.clone(),
            topic.map(str::to_owned),
            tx.clone(),
        )));
    }
    if !args.dns.is_empty() {
        let server = args
            .dns_server
            .or_else(via_dns::system_resolver)
            .ok_or_else(|| Error::usage("no DNS server: pass --dns-server ADDR"))?;
        for target in &args.dns {
            tasks.push(smol::spawn(via_dns::run(
                target.clone(),
                server,
                topic.map(str::to_owned),
                repeat,
                tx.clone(),
            )));
        }
    }
    Ok(Started {
        tasks,
        mdns,
        plan,
        _nudger: nudger,
        dht: dht_node,
    })
}

/// This peer's signed record for `topic`, signed once and carried by every mechanism
/// that holds one (mDNS TXT, trackers): at most [`mdns::MAX_TXT_ADDRS`] addresses,
/// the most an mDNS announcement carries.
fn own_record(identity: &Identity, addrs: Vec<Addr>, topic: &str) -> Result<PeerRecord> {
    let addrs = addrs.into_iter().take(mdns::MAX_TXT_ADDRS).collect();
    PeerRecord::signed(identity, addrs, Some(topic.to_owned()))
}

/// The identity whose signed record is announced, if any.
fn announcing_identity(args: &FindArgs) -> Result<Option<Identity>> {
    if args.announce.is_none() || args.anonymous {
        return Ok(None);
    }
    match args.identity.load() {
        Ok(identity) => Ok(Some(identity)),
        // Without -i or $P2P_IDENTITY a missing default identity means: anonymous.
        Err(_)
            if args.identity.identity.is_none()
                && !args.identity.path().is_ok_and(|p| p.exists()) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Counts, de-duplicates and prints.
struct Report {
    seen: HashSet<(Option<PeerId>, Option<Addr>)>,
    emitted: usize,
    forged: usize,
    worst: Status,
    count: Option<usize>,
    watch: bool,
}

impl Report {
    fn new(count: Option<usize>, watch: bool) -> Report {
        Report {
            seen: HashSet::new(),
            emitted: 0,
            forged: 0,
            worst: Status::Success,
            count,
            watch,
        }
    }

    fn keys(peer: &PeerRecord) -> Vec<(Option<PeerId>, Option<Addr>)> {
        if peer.addrs.is_empty() {
            return vec![(peer.id, None)];
        }
        peer.addrs
            .iter()
            .map(|a| (peer.id, Some(a.clone())))
            .collect()
    }

    /// Handles one finding; true when `--count` is reached.
    fn take(&mut self, found: Found, ctx: &Ctx) -> Result<bool> {
        match found {
            Found::Peer(peer) => {
                if peer.is_signed()
                    && let Err(why) = peer.verify()
                {
                    self.forged += 1;
                    let via = peer.via.as_deref().unwrap_or("?");
                    diag::warn(format_args!(
                        "dropped a forged peer record from {via}: {why}"
                    ));
                    return Ok(false);
                }
                let mut new = false;
                for key in Self::keys(&peer) {
                    // An address without an id adds nothing when a peer with an id
                    // was already seen there (a DHT answer after a signed record).
                    let known_with_id = key.0.is_none()
                        && key.1.is_some()
                        && self
                            .seen
                            .iter()
                            .any(|(id, addr)| id.is_some() && *addr == key.1);
                    new |= !known_with_id && self.seen.insert(key);
                }
                if !new {
                    return Ok(false);
                }
                ctx.out.record(&peer)?;
                self.emitted += 1;
                Ok(self.count.is_some_and(|n| self.emitted >= n))
            }
            Found::Gone(peer) => {
                for key in Self::keys(&peer) {
                    self.seen.remove(&key);
                }
                if self.watch {
                    ctx.out.record(&records::peer_gone(&peer))?;
                }
                Ok(false)
            }
            Found::Problem {
                via,
                message,
                input,
            } => {
                diag::warn(format_args!("{via}: {message}"));
                if input {
                    self.worst = self.worst.worst(Status::Usage);
                }
                Ok(false)
            }
        }
    }

    fn finish(&self, end: &End, timeout: Option<Duration>) -> Result<Status> {
        if self.forged > 0 {
            diag::warn(format_args!(
                "dropped {} forged peer record(s)",
                self.forged
            ));
        }
        if self.emitted == 0 && !matches!(end, End::Signal) {
            // Out of time with nothing found is a timeout (status 3), as in every
            // tool; every mechanism done with nothing found is a failure.
            return Err(match (end, timeout) {
                (End::Timeout, Some(t)) => Error::timeout(format!(
                    "no peer found within {}",
                    p2p_shared::cli::duration::format(t)
                )),
                _ => Error::failure("no peer found"),
            });
        }
        Ok(if matches!(end, End::Count) {
            Status::Success
        } else {
            self.worst
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::ndjson::output::Output;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_own_record_is_capped_for_mdns_and_verifies() {
        let me = Identity::from_seed([9; 32]);
        let addrs = (1..=10)
            .map(|i| format!("udp://192.0.2.{i}:4000").parse().unwrap())
            .collect();
        let record = own_record(&me, addrs, "chat").unwrap();
        assert_eq!(record.addrs.len(), mdns::MAX_TXT_ADDRS);
        assert_eq!(record.addrs[7].to_string(), "udp://192.0.2.8:4000");
        assert_eq!(record.verify(), Ok(me.id()));
    }

    fn peer(id: Option<PeerId>, addr: &str, via: &str) -> Found {
        let mut record = PeerRecord::new(id, vec![addr.parse().unwrap()]);
        record.via = Some(via.to_owned());
        Found::Peer(record)
    }

    #[test]
    fn duplicates_across_mechanisms_are_reported_once() {
        let lines = Lines::default();
        let ctx = Ctx {
            out: Output::to_writer(lines.clone()),
            quiet: true,
        };
        let id = Some(Identity::from_seed([3; 32]).id());
        let mut report = Report::new(Some(3), false);
        assert!(
            !report
                .take(peer(id, "udp://192.0.2.1:1", "tracker"), &ctx)
                .unwrap()
        );
        assert!(
            !report
                .take(peer(None, "udp://192.0.2.1:1", "dht"), &ctx)
                .unwrap()
        );
        assert!(
            !report
                .take(peer(id, "udp://192.0.2.1:1", "mdns"), &ctx)
                .unwrap()
        );
        assert!(
            !report
                .take(peer(None, "udp://192.0.2.2:1", "dht"), &ctx)
                .unwrap()
        );
        assert!(
            report
                .take(peer(id, "udp://192.0.2.3:1", "mdns"), &ctx)
                .unwrap(),
            "--count 3 reached"
        );
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn forged_records_are_dropped_and_counted() {
        let ctx = Ctx {
            out: Output::to_writer(Lines::default()),
            quiet: true,
        };
        let me = Identity::from_seed([4; 32]);
        let mut record =
            PeerRecord::signed(&me, vec!["udp://192.0.2.1:1".parse().unwrap()], None).unwrap();
        record.addrs[0] = "udp://203.0.113.1:1".parse().unwrap();
        let mut report = Report::new(None, false);
        report.take(Found::Peer(record), &ctx).unwrap();
        assert_eq!((report.forged, report.emitted), (1, 0));
    }
}
