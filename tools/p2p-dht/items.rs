//! `put` and `get`: BEP 44 items. Immutable items are found by the SHA-1 hash of
//! their bencoded value; mutable items by the signer's public key and a salt, and the
//! answer with the highest `seq` wins.

use crate::args::{GetArgs, PutArgs};
use crate::peers::client;
use crate::runner::{self, Input, Job, within};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mainline::async_dht::AsyncDht;
use mainline::errors::{ConcurrencyError, PutMutableError, PutQueryError};
use mainline::{Id, MutableItem};
use p2p_shared::cli::entry::Ctx;
use p2p_shared::discovery::dht::{id_hex, parse_id};
use p2p_shared::identity::IdentityArgs;
use p2p_shared::identity::peer_id::PeerId;
use p2p_shared::ndjson::peer::now_millis;
use p2p_shared::{Error, Result, Status};
use serde_json::{Map, Value, json};
use std::io::Read;

/// The largest value BEP 44 allows, in bytes.
pub const MAX_VALUE: usize = 1000;
/// The longest salt BEP 44 allows, in bytes.
pub const MAX_SALT: usize = 64;

/// Refuses a value or salt over BEP 44's limits, before any network traffic.
pub fn check_limits(value: &[u8], salt: Option<&[u8]>) -> Result<()> {
    if value.len() > MAX_VALUE {
        return Err(Error::usage(format!(
            "the value is {} bytes; BEP 44 items hold at most {MAX_VALUE}",
            value.len()
        )));
    }
    if let Some(salt) = salt
        && salt.len() > MAX_SALT
    {
        return Err(Error::usage(format!(
            "the salt is {} bytes; BEP 44 allows at most {MAX_SALT}",
            salt.len()
        )));
    }
    Ok(())
}

/// The bytes to store: the argument or stdin, as compact JSON or (with `raw`) as is.
fn read_value(arg: Option<&str>, raw: bool) -> Result<Vec<u8>> {
    let bytes = match arg {
        Some(text) if text != "-" => text.as_bytes().to_vec(),
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .take(64 * 1024)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::usage(format!("reading the value from stdin: {e}")))?;
            bytes
        }
    };
    if raw {
        return Ok(bytes);
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "the value is not JSON ({e}); quote strings ('\"text\"') or pass --raw to store bytes"
        ))
    })?;
    serde_json::to_vec(&value).map_err(|e| Error::failure(format!("encoding the value: {e}")))
}

/// Adds a value to a record: `value` when it is JSON (and not `raw`), else `value_b64`.
fn add_value(record: &mut Map<String, Value>, bytes: &[u8], raw: bool) {
    let parsed = (!raw)
        .then(|| serde_json::from_slice::<Value>(bytes).ok())
        .flatten();
    match parsed {
        Some(value) => record.insert("value".to_owned(), value),
        None => record.insert("value_b64".to_owned(), Value::String(BASE64.encode(bytes))),
    };
}

/// `p2p-dht put`.
pub fn put(args: &PutArgs, ctx: &Ctx) -> Result<Status> {
    let mutable = args.mutable || args.identity.is_some();
    if !mutable && (args.salt.is_some() || args.seq.is_some() || args.cas.is_some()) {
        return Err(Error::usage(
            "--salt, --seq and --cas are for mutable items: add -i KEY",
        ));
    }
    let value = read_value(args.value.as_deref(), args.value_args.raw)?;
    let salt = args.salt.as_deref().map(str::as_bytes);
    check_limits(&value, salt)?;
    let what = if mutable {
        "storing a mutable item"
    } else {
        "storing an immutable item"
    };
    if !mutable {
        let (dht, _nudger) = client(&args.node, false)?;
        let target = smol::block_on(async {
            let stored = within(args.node.timeout, what, async {
                dht.put_immutable(&value).await.map_err(query_error)
            });
            p2p_shared::discovery::dht::unless_unanswered(&dht, &args.node.dht, stored.await).await
        })?;
        ctx.out.record(&json!({
            "type": "stored",
            "kind": "immutable",
            "target": id_hex(&target),
            "size": value.len(),
        }))?;
        return Ok(Status::Success);
    }
    let identity = IdentityArgs {
        identity: args
            .identity
            .clone()
            .or_else(|| std::env::var_os("P2P_IDENTITY").map(Into::into)),
        allow_readable_key: args.allow_readable_key,
    }
    .load()?;
    let seq = match args.seq {
        Some(seq) => seq,
        None => i64::try_from(now_millis()).unwrap_or(i64::MAX),
    };
    let item = MutableItem::new(identity.signing_key().clone(), &value, seq, salt);
    let (dht, _nudger) = client(&args.node, false)?;
    let stored_at = smol::block_on(async {
        let stored = within(
            args.node.timeout,
            what,
            put_mutable(&dht, item.clone(), args.cas),
        );
        p2p_shared::discovery::dht::unless_unanswered(&dht, &args.node.dht, stored.await).await
    })?;
    let mut record = json!({
        "type": "stored",
        "kind": "mutable",
        "key": identity.id(),
        "seq": seq,
        "target": id_hex(item.target()),
        "stored_nodes": stored_at,
        "size": value.len(),
    });
    if let Some(salt) = &args.salt {
        record["salt"] = json!(salt);
    }
    ctx.out.record(&record)?;
    Ok(Status::Success)
}

/// Stores a mutable item; returns how many nodes took it. Conflicts get their own
/// messages.
pub async fn put_mutable(dht: &AsyncDht, item: MutableItem, cas: Option<i64>) -> Result<u32> {
    let seq = item.seq();
    match dht.put_mutable(item, cas).await {
        Ok(outcome) => Ok(outcome.stored_at),
        Err(PutMutableError::Concurrency(ConcurrencyError::CasFailed)) => {
            Err(Error::failure(format!(
                "CAS conflict: the stored item's seq is not {} (read it with `p2p-dht get` and retry)",
                cas.unwrap_or_default()
            )))
        }
        Err(PutMutableError::Concurrency(ConcurrencyError::NotMostRecent)) => Err(Error::failure(
            format!("stale seq: the DHT holds an item with a higher seq than {seq}"),
        )),
        Err(PutMutableError::Concurrency(ConcurrencyError::ConflictRisk)) => Err(Error::failure(
            "another put of this item is in flight; pass --cas with its seq to replace it",
        )),
        Err(PutMutableError::Query(e)) => Err(query_error(e)),
    }
}

fn query_error(e: PutQueryError) -> Error {
    match e {
        PutQueryError::Timeout => Error::timeout("no DHT node answered the store request"),
        PutQueryError::NoClosestNodes => {
            Error::failure("found no DHT nodes to store at (is the bootstrap reachable?)")
        }
        PutQueryError::ErrorResponse(e) => Error::failure(format!("the DHT refused: {e:?}")),
    }
}

/// What `get` fetches.
#[derive(Debug, Clone)]
pub enum ItemTarget {
    /// An immutable item's hash.
    Immutable(Id),
    /// A mutable item's key and salt.
    Mutable(PeerId, Option<String>),
}

impl ItemTarget {
    fn parse(text: &str, salt: Option<String>) -> Result<ItemTarget, String> {
        let text = text.trim();
        if text.len() == 40 {
            if salt.is_some() {
                return Err("a salt only goes with a public key (mutable item)".to_owned());
            }
            return parse_id(text).map(ItemTarget::Immutable);
        }
        text.parse::<PeerId>()
            .map(|key| ItemTarget::Mutable(key, salt))
            .map_err(|e| format!("{e}; expected a 40-hex-digit hash or a public key"))
    }

    fn from_input(input: Input, salt: Option<&String>) -> Result<ItemTarget, String> {
        match input {
            Input::Plain(text) => ItemTarget::parse(&text, salt.cloned()),
            Input::Object(object) => {
                let target = Input::field(&object, &["target", "hash", "key", "id"])?
                    .ok_or("the object has no \"target\", \"hash\", \"key\" or \"id\"")?;
                let salt = Input::field(&object, &["salt"])?.or_else(|| salt.cloned());
                ItemTarget::parse(&target, salt)
            }
        }
    }
}

/// `p2p-dht get`.
pub fn get(args: &GetArgs, ctx: &Ctx) -> Result<Status> {
    let raw = args.value_args.raw;
    if raw && args.target.is_none() {
        return Err(Error::usage("--raw writes one value: give a TARGET"));
    }
    let single = args
        .target
        .as_deref()
        .map(|t| ItemTarget::parse(t, args.salt.clone()).map_err(Error::usage))
        .transpose()?;
    let (dht, _nudger) = client(&args.node, false)?;
    let timeout = args.node.timeout;
    let options = args.node.dht.clone();
    let salt = args.salt.clone();
    runner::run(
        single,
        &args.input,
        args.batch.jobs,
        &ctx.out,
        |input| ItemTarget::from_input(input, salt.as_ref()),
        |target, job| {
            let dht = dht.clone();
            let options = options.clone();
            async move {
                let got = within(
                    timeout,
                    "getting the item",
                    fetch(dht.clone(), target, raw, job),
                );
                p2p_shared::discovery::dht::unless_unanswered(&dht, &options, got.await).await
            }
        },
    )
}

async fn fetch(dht: AsyncDht, target: ItemTarget, raw: bool, job: Job) -> Result<Status> {
    match target {
        ItemTarget::Immutable(hash) => {
            let value = dht
                .get_immutable(hash)
                .await
                .ok_or_else(|| Error::failure(format!("no item {} found", id_hex(&hash))))?;
            if raw {
                job.raw(&value)?;
                return Ok(Status::Success);
            }
            let mut record = Map::new();
            record.insert("type".into(), json!("item"));
            record.insert("kind".into(), json!("immutable"));
            record.insert("target".into(), json!(id_hex(&hash)));
            add_value(&mut record, &value, false);
            job.emit(&record)?;
        }
        ItemTarget::Mutable(key, salt) => {
            let item = dht
                .get_mutable_most_recent(&key.to_bytes(), salt.as_deref().map(str::as_bytes))
                .await
                .ok_or_else(|| {
                    let salted = salt
                        .as_ref()
                        .map_or_else(String::new, |s| format!(" with salt '{s}'"));
                    Error::failure(format!("no mutable item of {key}{salted} found"))
                })?;
            if raw {
                job.raw(item.value())?;
                return Ok(Status::Success);
            }
            let mut record = Map::new();
            record.insert("type".into(), json!("item"));
            record.insert("kind".into(), json!("mutable"));
            record.insert("key".into(), json!(key));
            if let Some(salt) = &salt {
                record.insert("salt".into(), json!(salt));
            }
            record.insert("seq".into(), json!(item.seq()));
            record.insert("target".into(), json!(id_hex(item.target())));
            add_value(&mut record, item.value(), false);
            record.insert("sig".into(), json!(hex::encode(item.signature())));
            job.emit(&record)?;
        }
    }
    Ok(Status::Success)
}
