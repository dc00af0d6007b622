//! The node's event loop: one [`Node`] state machine driven by QUIC frames, stdin
//! lines and its timers, its outputs turned into frames, stdout records and
//! `--store` lines.

use crate::args::{Args, ModeArg};
use crate::lines::{self, Line};
use crate::peers;
use p2p_shared::addr::{Addr, Scheme};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::cli::shutdown;
use p2p_shared::gossip::driver::{DRAIN, Driver};
use p2p_shared::gossip::log::Log;
use p2p_shared::gossip::net::{self, LinkEvent, Net};
use p2p_shared::gossip::rate::RateLimit;
use p2p_shared::gossip::{Config, Mode, Node, Output, PeerInfo};
use p2p_shared::ndjson::peer::now_millis;
use p2p_shared::ndjson::records::{self, Listening};
use p2p_shared::task::{self, Here};
use p2p_shared::{Error, Result, Status, diag};
use serde_json::{Value, json};
use smol::channel::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Why the loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    Signal,
    /// Nobody reads stdout any more.
    StdoutGone,
}

/// Everything the loop waits for (short-lived, so not boxed).
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// What the connections report.
    Link(LinkEvent),
    /// A stdin line.
    Line {
        /// Its number.
        number: u64,
        /// What it asks for.
        line: Line,
    },
    /// stdin ended.
    InputEnded,
    /// Time to go.
    Stop(Stop),
}

impl From<LinkEvent> for Event {
    fn from(event: LinkEvent) -> Self {
        Event::Link(event)
    }
}

/// The node's configuration from the command line.
fn config(args: &Args) -> Config {
    let mut cfg = Config::new(args.topic.clone());
    cfg.mode = match args.mode {
        ModeArg::Plumtree => Mode::Plumtree,
        ModeArg::Flood => Mode::Flood,
    };
    cfg.history = args.history;
    cfg.max_size = args.max_size;
    cfg.allow_authors.clone_from(&args.allow_authors);
    cfg.rate = RateLimit {
        rate: f64::from(args.rate),
        burst: 2.0 * f64::from(args.rate),
    };
    cfg
}

/// Runs `p2p-gossip`.
pub fn run(args: &Args, ctx: &Ctx) -> Result<Status> {
    // Everything runs on this thread, quinn's drivers too (see `task`): made its
    // own before the endpoint spawns its driver.
    let here = Here::enter();
    let identity = args.identity.load()?;
    let contacts: Vec<PeerInfo> = args
        .peers
        .iter()
        .map(|p| peers::parse_arg(p, &args.topic))
        .collect::<Result<_, String>>()
        .map_err(|e| Error::usage(format!("--peer {e}")))?;
    let cfg = config(args);
    let endpoint = net::bind(&identity, args.bind)?;
    let bound = endpoint.local_addr()?;
    let (log, restored, bad_lines) = match &args.store {
        Some(path) => {
            let (log, loaded) = Log::open(path, args.history)?;
            (Some(log), loaded.messages, loaded.bad_lines)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    let start = Instant::now();
    let seed = u64::from_le_bytes(p2p_shared::random::bytes()?);
    let mut node = Node::new(
        identity,
        peers::own_addrs(bound),
        cfg.clone(),
        seed,
        0,
        now_millis(),
    );
    for number in &bad_lines {
        diag::warn(format_args!(
            "--store line {number}: not a valid signed message for this log; skipped"
        ));
    }
    let restored_count = restored.len();
    for message in restored {
        node.restore(message, 0);
    }
    let mode = match cfg.mode {
        Mode::Plumtree => "plumtree",
        Mode::Flood => "flood",
    };
    let main = Addr::from_socket(Scheme::Udp, bound);
    ctx.out.record(
        &Listening::new(main, [])
            .with("id", node.id())
            .with("topic", &args.topic)
            .with("mode", mode)
            .with("restored", restored_count),
    )?;
    let (tx, rx) = smol::channel::bounded(1024);
    let net = Net::new(endpoint, tx.clone(), cfg.frame_max());
    net.spawn_acceptor();
    lines::spawn_stdin(tx.clone(), args.max_size);
    lines::spawn_stdout_watch(tx.clone());
    spawn_signal_watch(tx);
    let mut looper = Loop {
        driver: Driver::new(node, net, start),
        ctx,
        log,
        refused_lines: 0,
    };
    for contact in contacts {
        looper.driver.node.add_peer(contact, 0);
    }
    let stats_every = args.stats_every;
    here.block_on(looper.run(&rx, stats_every))
}

fn spawn_signal_watch(tx: Sender<Event>) {
    task::spawn(async move {
        shutdown::signalled().await;
        let _ = tx.send(Event::Stop(Stop::Signal)).await;
    })
    .detach();
}

struct Loop<'a> {
    driver: Driver<Event>,
    ctx: &'a Ctx,
    log: Option<Log>,
    refused_lines: u64,
}

impl Loop<'_> {
    async fn run(mut self, rx: &Receiver<Event>, stats_every: Option<Duration>) -> Result<Status> {
        let mut next_stats = stats_every.map(|d| Instant::now() + d);
        self.drive()?;
        let stop = 'run: loop {
            if let Some(event) = self.driver.next(rx, next_stats).await {
                if let Some(stop) = self.handle(event)? {
                    break stop;
                }
                // Everything already received before any timer (see `Driver::tick`).
                for _ in 0..DRAIN {
                    let Ok(event) = rx.try_recv() else { break };
                    if let Some(stop) = self.handle(event)? {
                        break 'run stop;
                    }
                }
            }
            self.driver.tick();
            if let (Some(at), Some(every)) = (next_stats, stats_every)
                && Instant::now() >= at
            {
                next_stats = Some(at + every);
                self.print_stats()?;
            }
            self.drive()?;
        };
        let now = self.driver.now();
        self.driver.node.leave(now);
        let _ = self.drive();
        self.driver
            .net
            .endpoint()
            .shut(0, b"leaving", Duration::from_millis(500))
            .await;
        // Nobody reads a refusal record once stdout is gone: only an interrupted run
        // reports refused lines in its status.
        Ok(if stop == Stop::Signal && self.refused_lines > 0 {
            Status::Usage
        } else {
            Status::Success
        })
    }

    fn handle(&mut self, event: Event) -> Result<Option<Stop>> {
        let now = self.driver.now();
        match event {
            Event::Link(event) => {
                if let Some(note) = self.driver.link_event(event) {
                    self.ctx.note(format_args!("{note}"));
                }
            }
            Event::Line { number, line } => self.line(number, line, now)?,
            Event::InputEnded => {}
            Event::Stop(stop) => return Ok(Some(stop)),
        }
        Ok(None)
    }

    fn line(&mut self, number: u64, line: Line, now: u64) -> Result<()> {
        let refusal = match line {
            Line::Publish(data) => match self.driver.node.publish(&data, now) {
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
            Line::Peer(object) => {
                match peers::from_record(object, &self.driver.node.config().topic) {
                    Ok(Some(peer)) => {
                        self.driver.node.add_peer(peer, now);
                        None
                    }
                    Ok(None) => None,
                    Err(e) => Some(e),
                }
            }
            Line::Refused(why) => Some(why),
        };
        if let Some(why) = refusal {
            self.refused_lines += 1;
            diag::warn(format_args!("line {number}: {why}"));
            self.ctx
                .out
                .record(&json!({"type": "error", "line": number, "error": why}))?;
        }
        Ok(())
    }

    fn print_stats(&self) -> Result<()> {
        let mut counters = serde_json::to_value(self.driver.node.stats()).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut counters {
            let t = self.driver.net.traffic;
            map.insert("frames_sent".into(), t.frames_sent.into());
            map.insert("bytes_sent".into(), t.bytes_sent.into());
            map.insert("send_dropped".into(), t.send_dropped.into());
        }
        self.ctx.out.record(&records::stats(counters))
    }

    /// Carries out everything the node asked for.
    fn drive(&mut self) -> Result<()> {
        let (ctx, log) = (self.ctx, &mut self.log);
        self.driver
            .drive(|node, output| record(ctx, log, node, output))
    }
}

/// Prints what the node reports (or appends it to the `--store` log).
fn record(ctx: &Ctx, log: &mut Option<Log>, node: &Node, output: Output) -> Result<()> {
    match output {
        Output::Deliver(message, hops) => ctx.out.record(&message.record(hops))?,
        Output::Store(message, _) => {
            if let Some(log) = log {
                log.append(&message)?;
            }
        }
        Output::PeerUp(peer) => {
            let addrs: Vec<String> = node
                .addrs_of(&peer)
                .map(|i| i.addrs.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            ctx.out
                .record(&json!({"type": "peer_up", "id": peer, "addrs": addrs}))?;
        }
        Output::PeerDown(peer) => ctx.out.record(&json!({"type": "peer_down", "id": peer}))?,
        Output::Dropped {
            from,
            reason,
            author,
            seq,
        } => {
            let mut record = json!({"type": "dropped", "from": from, "reason": reason});
            if let Some(author) = author {
                record["author"] = json!(author);
            }
            if let Some(seq) = seq {
                record["seq"] = json!(seq);
            }
            ctx.out.record(&record)?;
        }
        // The driver sends frames and closes links itself.
        Output::Send(..) | Output::Close(_) => {}
    }
    Ok(())
}
