//! `get-peers` and `announce`: peers for an infohash or a topic (SHA-1 of the topic).

use crate::args::{AnnounceArgs, GetPeersArgs, NodeArgs, TargetArgs};
use crate::runner::{self, Input, Job, within};
use mainline::Id;
use mainline::async_dht::AsyncDht;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dht::{Nudger, found_peer, id_hex, parse_id, topic_infohash};
use p2p_shared::{Error, Result, Status, cli::progress};
use serde_json::json;
use smol::stream::StreamExt;
use std::collections::HashSet;

/// What a lookup or announcement is about.
#[derive(Debug, Clone)]
pub struct Target {
    /// The infohash.
    pub infohash: Id,
    /// The topic it was derived from, if any.
    pub topic: Option<String>,
}

impl Target {
    /// The target named on the command line, if any.
    fn from_args(args: &TargetArgs) -> Result<Option<Target>> {
        if let Some(topic) = &args.topic {
            return Ok(Some(Target::topic(topic)));
        }
        args.infohash
            .as_deref()
            .map(|text| {
                parse_id(text).map_err(Error::usage).map(|infohash| Target {
                    infohash,
                    topic: None,
                })
            })
            .transpose()
    }

    fn topic(topic: &str) -> Target {
        Target {
            infohash: topic_infohash(topic),
            topic: Some(topic.to_owned()),
        }
    }

    /// Reads a target from a batch input line.
    fn from_input(input: Input, topic_lines: bool) -> Result<Target, String> {
        match input {
            Input::Plain(text) if topic_lines => Ok(Target::topic(&text)),
            Input::Plain(text) => parse_id(&text)
                .map(|infohash| Target {
                    infohash,
                    topic: None,
                })
                .map_err(|e| format!("{e} (use --topic-lines to read topics)")),
            Input::Object(object) => {
                if let Some(hash) = Input::field(&object, &["infohash"])? {
                    let topic = Input::field(&object, &["topic"])?;
                    let infohash = parse_id(&hash)?;
                    Ok(Target { infohash, topic })
                } else if let Some(topic) = Input::field(&object, &["topic"])? {
                    Ok(Target::topic(&topic))
                } else {
                    Err("the object has neither \"infohash\" nor \"topic\"".to_owned())
                }
            }
        }
    }

    fn describe(&self) -> String {
        match &self.topic {
            Some(topic) => format!("topic '{topic}'"),
            None => format!("infohash {}", id_hex(&self.infohash)),
        }
    }
}

/// Starts the client node a command works through. A short-lived command's node is
/// kept prompt by a [`Nudger`] (see there); a long-lived one (`--every`) goes without.
pub fn client(node: &NodeArgs, long_lived: bool) -> Result<(AsyncDht, Option<Nudger>)> {
    if long_lived {
        return Ok((node.dht.start(node.bind, false)?, None));
    }
    let (dht, nudger) = node.dht.start_client(node.bind)?;
    Ok((dht, Some(nudger)))
}

/// `p2p-dht get-peers`.
pub fn get_peers(args: &GetPeersArgs, ctx: &Ctx) -> Result<Status> {
    let single = Target::from_args(&args.target)?;
    let (dht, _nudger) = client(&args.node, false)?;
    let topic_lines = args.target.topic_lines;
    let (count, timeout, quiet) = (args.count, args.node.timeout, ctx.quiet);
    let options = args.node.dht.clone();
    runner::run(
        single,
        &args.target.input,
        args.batch.jobs,
        &ctx.out,
        |input| Target::from_input(input, topic_lines),
        |target, job| {
            let dht = dht.clone();
            let options = options.clone();
            async move {
                let what = format!("looking up {}", target.describe());
                let found = within(
                    timeout,
                    what,
                    lookup(dht.clone(), target, count, job, quiet),
                );
                p2p_shared::discovery::dht::unless_unanswered(&dht, &options, found.await).await
            }
        },
    )
}

async fn lookup(
    dht: AsyncDht,
    target: Target,
    count: Option<usize>,
    job: Job,
    quiet: bool,
) -> Result<Status> {
    let spinner = progress::spinner(quiet || job.is_batch(), "looking up peers");
    let mut answers = 0_usize;
    let mut seen = HashSet::new();
    let mut stream = dht.get_peers(target.infohash);
    while let Some(batch) = stream.next().await {
        answers += 1;
        for addr in batch {
            if !seen.insert(addr) {
                continue;
            }
            job.emit(&found_peer(addr, &target.infohash, target.topic.as_deref()))?;
            if count.is_some_and(|n| seen.len() >= n) {
                spinner.finish_and_clear();
                return Ok(Status::Success);
            }
        }
        spinner.set_message(format!(
            "looking up peers: {answers} nodes answered with peers, {} distinct",
            seen.len()
        ));
    }
    spinner.finish_and_clear();
    if seen.is_empty() {
        return Err(Error::failure(format!(
            "no peers found for {}",
            target.describe()
        )));
    }
    Ok(Status::Success)
}

/// `p2p-dht announce`.
pub fn announce(args: &AnnounceArgs, ctx: &Ctx) -> Result<Status> {
    let single = Target::from_args(&args.target)?;
    let (dht, _nudger) = client(&args.node, args.every.is_some())?;
    let topic_lines = args.target.topic_lines;
    let (port, every, timeout) = (args.port, args.every, args.node.timeout);
    let options = args.node.dht.clone();
    runner::run(
        single,
        &args.target.input,
        args.batch.jobs,
        &ctx.out,
        |input| Target::from_input(input, topic_lines),
        |target, job| {
            let dht = dht.clone();
            let options = options.clone();
            async move {
                loop {
                    let what = format!("announcing {}", target.describe());
                    let done = within(timeout, what, announce_once(&dht, &target, port, &job));
                    p2p_shared::discovery::dht::unless_unanswered(&dht, &options, done.await)
                        .await?;
                    match every {
                        Some(interval) => smol::Timer::after(interval).await,
                        None => return Ok(Status::Success),
                    };
                }
            }
        },
    )
}

async fn announce_once(
    dht: &AsyncDht,
    target: &Target,
    port: Option<u16>,
    job: &Job,
) -> Result<()> {
    dht.announce_peer(target.infohash, port)
        .await
        .map_err(|e| Error::failure(format!("announcing {}: {e}", target.describe())))?;
    let mut record = json!({
        "type": "announced",
        "infohash": id_hex(&target.infohash),
    });
    if let Some(topic) = &target.topic {
        record["topic"] = json!(topic);
    }
    match port {
        Some(port) => record["port"] = json!(port),
        None => record["implied_port"] = json!(true),
    }
    job.emit(&record)
}
