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
use p2p_shared::discovery::dht::PEER_RECORD_SALT;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::PeerRecord;
use p2p_shared::{Error, Result, Status, identity::canonical};
use serde_json::{Value, json};

/// `p2p-dht publish`.
pub fn publish(args: &PublishArgs, ctx: &Ctx) -> Result<Status> {
    let identity = args.identity.load()?;
    // Checked once before any traffic; every republish has the same size.
    let first = PeerRecord::signed(&identity, args.addrs.clone(), args.topic.clone())?;
    check_limits(&record_bytes(&first), Some(PEER_RECORD_SALT))
        .map_err(|e| e.context("the peer record is too large (fewer --addr?)"))?;
    let (dht, _nudger) = client(&args.node, args.every.is_some())?;
    smol::block_on(async {
        let mut record = first;
        loop {
            let value = record_bytes(&record);
            let seq = i64::try_from(record.seq.unwrap_or_default()).unwrap_or(i64::MAX);
            let item = MutableItem::new(
                identity.signing_key().clone(),
                &value,
                seq,
                Some(PEER_RECORD_SALT),
            );
            let stored_at = within(
                args.node.timeout,
                "publishing the peer record",
                put_mutable(&dht, item, None),
            )
            .await?;
            ctx.out.record(&json!({
                "type": "published",
                "id": identity.id(),
                "seq": seq,
                "addrs": record.addrs,
                "stored_at": stored_at,
            }))?;
            let Some(every) = args.every else {
                return Ok(Status::Success);
            };
            smol::Timer::after(every).await;
            record = PeerRecord::signed(&identity, args.addrs.clone(), args.topic.clone())?;
        }
    })
}

/// A peer record as stored: its RFC 8785 canonical JSON.
fn record_bytes(record: &PeerRecord) -> Vec<u8> {
    canonical::to_vec(&Value::Object(record.to_object()))
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
            async move { within(timeout, format!("resolving {id}"), lookup(dht, id, job)).await }
        },
    )
}

async fn lookup(dht: AsyncDht, id: PeerId, job: Job) -> Result<Status> {
    let item = dht
        .get_mutable_most_recent(&id.to_bytes(), Some(PEER_RECORD_SALT))
        .await
        .ok_or_else(|| Error::failure(format!("no peer record of {id} found")))?;
    let record = verified_record(&item, id)
        .map_err(|why| Error::failure(format!("refusing the record stored by {id}: {why}")))?;
    job.emit(&record)?;
    Ok(Status::Success)
}

/// The peer record in `item`, if it is one, is signed by `id` and names `id`.
fn verified_record(item: &MutableItem, id: PeerId) -> Result<PeerRecord, String> {
    let Ok(Value::Object(object)) = p2p_shared::identity::strict::from_slice(item.value()) else {
        return Err("it is not a JSON object".to_owned());
    };
    let mut record = PeerRecord::from_object(object)?;
    if record.id != Some(id) {
        return Err(match record.id {
            Some(other) => format!("it names another peer ({other})"),
            None => "it names no peer".to_owned(),
        });
    }
    record
        .verify()
        .map_err(|e| format!("its signature does not verify ({e})"))?;
    record.via = Some("dht".to_owned());
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_shared::identity::Identity;

    fn item_of(signer: &Identity, record: &PeerRecord) -> MutableItem {
        let value = record_bytes(record);
        MutableItem::new(
            signer.signing_key().clone(),
            &value,
            1,
            Some(PEER_RECORD_SALT),
        )
    }

    #[test]
    fn only_a_record_signed_by_and_naming_the_key_is_accepted() {
        let me = Identity::from_seed([1; 32]);
        let other = Identity::from_seed([2; 32]);
        let addrs = vec!["udp://192.0.2.1:4000".parse().unwrap()];
        let good = PeerRecord::signed(&me, addrs.clone(), None).unwrap();
        let found = verified_record(&item_of(&me, &good), me.id()).unwrap();
        assert_eq!(found.via.as_deref(), Some("dht"));
        let replayed = PeerRecord::signed(&other, addrs, None).unwrap();
        let err = verified_record(&item_of(&me, &replayed), me.id()).unwrap_err();
        assert!(err.contains("another peer"), "{err}");
        let mut altered = good;
        altered.addrs.push("udp://203.0.113.9:1".parse().unwrap());
        let err = verified_record(&item_of(&me, &altered), me.id()).unwrap_err();
        assert!(err.contains("signature"), "{err}");
    }
}
