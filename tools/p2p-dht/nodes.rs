//! Commands about nodes rather than data: `find-node`, `info`, `serve`, `testnet`.

use crate::args::{FindNodeArgs, InfoArgs, ServeArgs, TestnetArgs};
use crate::peers::client;
use crate::runner::{self, Input, Job, within};
use mainline::async_dht::AsyncDht;
use mainline::{Id, Node};
use p2p_shared::addr::Addr;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dht::{BOOTSTRAP_ENV, id_hex, local_testnet, parse_id};
use p2p_shared::ndjson::records::{self, Listening};
use p2p_shared::{Error, Result, Status, cli::progress};
use serde_json::{Value, json};

/// A `node` record.
fn node_record(node: &Node) -> Value {
    json!({"type": "node", "node_id": id_hex(node.id()), "addr": Addr::udp(node.address())})
}

/// `p2p-dht find-node`.
pub fn find_node(args: &FindNodeArgs, ctx: &Ctx) -> Result<Status> {
    let single = args
        .id
        .as_deref()
        .map(|id| parse_id(id).map_err(Error::usage))
        .transpose()?;
    let (dht, _nudger) = client(&args.node, false)?;
    let (timeout, quiet) = (args.node.timeout, ctx.quiet);
    let options = args.node.dht.clone();
    runner::run(
        single,
        &args.input,
        args.batch.jobs,
        &ctx.out,
        |input| match input {
            Input::Plain(text) => parse_id(&text),
            Input::Object(object) => parse_id(
                &Input::field(&object, &["node_id", "id", "target", "infohash"])?
                    .ok_or("the object has no \"id\"")?,
            ),
        },
        |target, job| {
            let dht = dht.clone();
            let options = options.clone();
            async move {
                let what = format!("finding nodes near {}", id_hex(&target));
                let found = within(timeout, what, closest(dht.clone(), target, job, quiet));
                p2p_shared::discovery::dht::unless_unanswered(&dht, &options, found.await).await
            }
        },
    )
}

async fn closest(dht: AsyncDht, target: Id, job: Job, quiet: bool) -> Result<Status> {
    let spinner = progress::spinner(quiet || job.is_batch(), "finding nodes");
    let mut nodes = dht.find_node(target).await.into_vec();
    spinner.finish_and_clear();
    if nodes.is_empty() {
        return Err(Error::failure("no DHT node answered"));
    }
    nodes.sort_by_key(|node| *node.id().xor(&target).as_bytes());
    for node in &nodes {
        let mut record = node_record(node);
        record["target"] = json!(id_hex(&target));
        job.emit(&record)?;
    }
    Ok(Status::Success)
}

/// `p2p-dht info`.
pub fn info(args: &InfoArgs, ctx: &Ctx) -> Result<Status> {
    let (dht, _nudger) = client(&args.node, false)?;
    let bootstrapped = smol::block_on(within(args.node.timeout, "bootstrapping", async {
        Ok(dht.bootstrapped().await)
    }))?;
    let record = smol::block_on(async { records::typed("info", node_state(&dht).await) });
    ctx.out.record(&record)?;
    if bootstrapped {
        Ok(Status::Success)
    } else {
        Err(Error::timeout(format!(
            "no DHT node answered: not bootstrapped (asked {})",
            args.node.dht.bootstrap.len()
        )))
    }
}

/// What a node knows about itself: the fields of its `info` and `stats` records.
async fn node_state(dht: &AsyncDht) -> Value {
    let info = dht.info().await;
    let table = dht.to_bootstrap().await.len();
    let (size, stddev) = info.dht_size_estimate();
    json!({
        "node_id": id_hex(info.id()),
        "addr": Addr::udp(info.local_addr()),
        "public_addr": info.public_address().map(Addr::udp),
        "firewalled": info.firewalled(),
        "server_mode": info.server_mode(),
        "routing_table_size": table,
        "dht_size_estimate": size,
        "dht_size_stddev": stddev,
    })
}

/// `p2p-dht serve`.
pub fn serve(args: &ServeArgs, ctx: &Ctx) -> Result<Status> {
    let dht = args.dht.start(Some(args.bind), true)?;
    smol::block_on(async {
        let info = dht.info().await;
        ctx.out.record(
            &Listening::new(Addr::udp(info.local_addr()), []).with("node_id", id_hex(info.id())),
        )?;
        loop {
            match args.stats_every {
                Some(every) => {
                    smol::Timer::after(every).await;
                    ctx.out.record(&records::stats(node_state(&dht).await))?;
                }
                None => smol::future::pending::<()>().await,
            }
        }
    })
}

/// `p2p-dht testnet`.
pub fn testnet(args: &TestnetArgs, ctx: &Ctx) -> Result<Status> {
    smol::block_on(async {
        let testnet = local_testnet(usize::from(args.count), args.bind).await?;
        for node in &testnet.nodes {
            let info = node.info().await;
            ctx.out.record(&json!({
                "type": "node",
                "node_id": id_hex(info.id()),
                "addr": Addr::udp(info.local_addr()),
            }))?;
        }
        let addrs: Vec<_> = testnet.bootstrap().into_iter().map(Addr::udp).collect();
        ctx.out.record(&json!({
            "type": "bootstrap",
            "addrs": addrs,
            "env": format!("{BOOTSTRAP_ENV}={}", testnet.bootstrap_env()),
        }))?;
        ctx.note(format_args!(
            "{} nodes running; stop with Ctrl-C",
            testnet.nodes.len()
        ));
        smol::future::pending::<()>().await;
        drop(testnet);
        Ok(Status::Success)
    })
}
