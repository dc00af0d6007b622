//! `p2p-dns-rr serve`: the control loop. It binds the sockets, prints `listening`,
//! starts the server threads, and then keeps the zone current: applying stdin's
//! lines, expiring peers, re-reading the `--peers` file when it changes, and printing
//! `stats` records.

use crate::args::ServeArgs;
use crate::feed::Feed;
use crate::sockets::{self, Shared};
use crate::stats::Counters;
use crate::table::{self, Table};
use hickory_proto::rr::Name;
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dns_server::limit::{self, Limits};
use p2p_shared::discovery::dns_server::zone::{Config, Zone};
use p2p_shared::ndjson::input::Problems;
use p2p_shared::ndjson::records::Listening;
use p2p_shared::{Context, Error, Result, Status, diag, ndjson::parallel};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest the control loop waits before looking at expiry and the peers file.
const TICK: Duration = Duration::from_millis(250);
/// While lines keep coming in full batches, the zone is rebuilt at most this often.
const REBUILD_EVERY: Duration = Duration::from_millis(500);
/// However lines come, the time between two rebuilds is at least this many times
/// what the last one took: each build takes time linear in the peers, so at most a
/// third of the time goes to building, and a flood of lines is taken in in time
/// linear in the lines, not quadratic.
const REBUILD_SHARE: u32 = 2;

/// `p2p-dns-rr serve`.
pub fn run(args: &ServeArgs, ctx: &Ctx) -> Result<Status> {
    let ns = match &args.ns {
        Some(ns) => ns.clone(),
        None => Name::from_ascii("ns")
            .and_then(|n| n.append_domain(&args.zone))
            .map_err(|e| Error::usage(format!("zone {} is too long: {e}", args.zone)))?,
    };
    let config = Config {
        origin: args.zone.clone(),
        ttl: args.ttl,
        answers: args.answers,
        ns,
    };
    let mut table = Table::new(args.expire);
    let mut problems = Problems::new(args.input.strict);
    let mut file = args.peers.as_ref().map(|p| PeersFile::new(p.clone()));
    if let Some(file) = &mut file {
        file.load(&mut table, args.input.max_line, &mut problems)?;
    }
    let mut serial = Serial::default();
    let shared = Shared::new(build(&config, &table, serial.next()));
    let threads = args.threads.unwrap_or_else(parallel::default_jobs);
    let sockets =
        sockets::bind(args.bind, threads).with_context(|| format!("listening on {}", args.bind))?;
    let addr = sockets.addr;
    let counters = Counters::default();
    let limits = Arc::new(Limits::new(limit::Config {
        rate: args.rate_limit,
        slip: args.slip,
        loopback: args.rate_limit_loopback,
    }));
    sockets::start(sockets, &shared, &counters, &limits);
    ctx.out.record(
        &Listening::new(Addr::udp(addr), [Addr::tcp(addr)]).with("zone", args.zone.to_ascii()),
    )?;
    ctx.note(format_args!(
        "serving {} on {addr} (UDP and TCP)",
        args.zone
    ));

    let mut feed = Feed::stdin(args.input.max_line);
    let mut next_stats = args.stats_every.map(|every| Instant::now() + every);
    let mut dirty = false;
    let mut built = Instant::now();
    let mut build_took = Duration::ZERO;
    loop {
        let now = Instant::now();
        let mut wake = now + TICK;
        if let Some(at) = next_stats {
            wake = wake.min(at);
        }
        if let Some(at) = table.next_expiry() {
            wake = wake.min(at.max(now));
        }
        if dirty {
            wake = wake.min((built + build_took * REBUILD_SHARE).max(now));
        }
        let mut changed = feed.pump(
            wake.saturating_duration_since(now),
            &mut table,
            &mut problems,
        )?;
        let now = Instant::now();
        changed |= table.expire(now) > 0;
        if let Some(file) = &mut file {
            changed |= file.reload_if_changed(&mut table, args.input.max_line, &mut problems)?;
        }
        dirty |= changed;
        let since = built.elapsed();
        let gap = if feed.is_busy() {
            REBUILD_EVERY.max(build_took * REBUILD_SHARE)
        } else {
            build_took * REBUILD_SHARE
        };
        if dirty && since >= gap {
            let started = Instant::now();
            shared.publish(build(&config, &table, serial.next()));
            dirty = false;
            built = Instant::now();
            build_took = built - started;
        }
        if let (Some(at), Some(every)) = (next_stats, args.stats_every)
            && now >= at
        {
            ctx.out.record(&counters.record(table.len()))?;
            next_stats = Some(at + every);
        }
    }
}

/// The zone snapshot of the table's live peers.
fn build(config: &Config, table: &Table, serial: u32) -> Zone {
    let live = table.live();
    Zone::build_from(config.clone(), live.iter().map(|e| e.peer()), serial)
}

/// SOA serials: the unix time in seconds, or one more than the last when several
/// changes fall in one second.
#[derive(Default)]
struct Serial(u32);

impl Serial {
    fn next(&mut self) -> u32 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.0 = now.max(self.0.wrapping_add(1));
        self.0
    }
}

/// The `--peers` file and the modification time it was last read at.
struct PeersFile {
    path: PathBuf,
    seen: Option<SystemTime>,
    checked: Instant,
}

impl PeersFile {
    fn new(path: PathBuf) -> Self {
        PeersFile {
            path,
            seen: None,
            checked: Instant::now(),
        }
    }

    fn modified(path: &Path) -> Option<SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    /// Reads the file into the table; a file that cannot be read is an error.
    fn load(
        &mut self,
        table: &mut Table,
        max_line: usize,
        problems: &mut Problems,
    ) -> Result<bool> {
        let shown = self.path.display().to_string();
        let file = std::fs::File::open(&self.path).with_context(|| format!("reading {shown}"))?;
        self.seen = file.metadata().and_then(|m| m.modified()).ok();
        let (entries, bad) =
            table::read_file(std::io::BufReader::new(file), max_line, Instant::now())
                .with_context(|| format!("reading {shown}"))?;
        for problem in bad {
            problems.report(&p2p_shared::ndjson::input::LineError {
                message: format!("{shown}: {}", problem.message),
                ..problem
            })?;
        }
        Ok(table.set_file(entries, Instant::now()))
    }

    /// Reads the file again when its modification time changed (checked once a
    /// second). A file that went away keeps its peers, with a warning.
    fn reload_if_changed(
        &mut self,
        table: &mut Table,
        max_line: usize,
        problems: &mut Problems,
    ) -> Result<bool> {
        if self.checked.elapsed() < Duration::from_secs(1) {
            return Ok(false);
        }
        self.checked = Instant::now();
        if Self::modified(&self.path) == self.seen {
            return Ok(false);
        }
        match self.load(table, max_line, problems) {
            Ok(changed) => Ok(changed),
            Err(e) if e.status() == Status::Failure => {
                diag::warn(format_args!("{e} (keeping the peers read before)"));
                self.seen = Self::modified(&self.path);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
