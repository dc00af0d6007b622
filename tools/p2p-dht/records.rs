//! `publish` and `resolve`: peer routing through the DHT. A signed peer record is
//! stored as a BEP 44 mutable item under the peer's own key (salt `p2p/peer`), as
//! pkarr stores DNS packets; resolving checks both the DHT's signature (by mainline)
//! and the record's own signature and id, so a record replayed under another key or
//! altered after signing is refused.

use crate::args::{PublishArgs, ResolveArgs};
use crate::items::{check_limits, put_mutable};
use crate::peers::client;
use crate::runner::{self, Input, Job, within};
use mainline::MutableItem;
use mainline::async_dht::AsyncDht;
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dht::{self, PEER_RECORD_SALT};
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{Error, Result, Status};
use serde_json::json;

/// `p2p-dht publish`.
pub fn publish(args: &PublishArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    // Checked once before any traffic; every republish has the same size.
    let first = PeerRecord::signed(&identity, args.addrs.clone(), args.topic.clone())?;
    check_limits(&dht::record_bytes(&first), Some(PEER_RECORD_SALT))
        .map_err(|e| e.context("the peer record is too large (fewer --addr?)"))?;
    let (dht, _nudger) = client(&args.node, args.every.is_some())?;
    smol::block_on(async {
        let mut record = first;
        loop {
            let value = dht::record_bytes(&record);
            let seq = i64::try_from(record.seq.unwrap_or_default()).unwrap_or(i64::MAX);
            let item = MutableItem::new(
                identity.signing_key().clone(),
                &value,
                seq,
                Some(PEER_RECORD_SALT),
            );
            let stored = within(
                args.node.timeout,
                "publishing the peer record",
                put_mutable(&dht, item, None),
            );
            let stored_at =
                p2p_shared::discovery::dht::unless_unanswered(&dht, &args.node.dht, stored.await)
                    .await?;
            ctx.out.record(&json!({
                "type": "published",
                "id": identity.id(),
                "seq": seq,
                "addrs": record.addrs,
                "stored_nodes": stored_at,
            }))?;
            let Some(every) = args.every else {
                return Ok(Status::Success);
            };
            smol::Timer::after(every).await;
            record = PeerRecord::signed(&identity, args.addrs.clone(), args.topic.clone())?;
        }
    })
}

/// `p2p-dht resolve`.
pub fn resolve(args: &ResolveArgs, ctx: &Ctx) -> Result<Status> {
    let single = args
        .id
        .as_deref()
        .map(|id| id.parse::<PeerId>().map_err(Error::usage))
        .transpose()?;
    let (dht, _nudger) = client(&args.node, false)?;
    let timeout = args.node.timeout;
    let options = args.node.dht.clone();
    runner::run(
        single,
        &args.input,
        args.batch.jobs,
        &ctx.out,
        |input| match input {
            Input::Plain(text) => text.parse::<PeerId>(),
            Input::Object(object) => Input::field(&object, &["id"])?
                .ok_or_else(|| "the object has no \"id\"".to_owned())?
                .parse(),
        },
        |id, job| {
            let dht = dht.clone();
            let options = options.clone();
            async move {
                let found = within(
                    timeout,
                    format!("resolving {id}"),
                    lookup(dht.clone(), id, job),
                );
                p2p_shared::discovery::dht::unless_unanswered(&dht, &options, found.await).await
            }
        },
    )
}

async fn lookup(dht: AsyncDht, id: PeerId, job: Job) -> Result<Status> {
    let record = dht::resolve_peer(&dht, id).await?;
    job.emit(&record)?;
    Ok(Status::Success)
}
