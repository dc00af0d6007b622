//! The DHT's side of `-v`: what the mainline crate's node does on the wire, told
//! from the `tracing` events it emits.
//!
//! mainline has no per-query callbacks, but it reports its lookups through `tracing`:
//! a lookup starting ("New Query"), each node that answered with values ("Query got
//! response", with the node's address), a lookup ending (how many nodes were asked,
//! how many answered with a token, how many closest nodes are known), stores
//! ("PutQuery …", with how many nodes stored), and every KRPC message it receives.
//! [`install`] registers a small `tracing` subscriber that turns those events into
//! narration: `-v` the lookups and stores, `-vv` each message received too.
//!
//! What it cannot tell: where each request was *sent* (mainline's send event names
//! the message but not the address) and which single request timed out (mainline
//! drops timed-out requests silently; a finished lookup's counts show how many
//! answered). The message texts are mainline's own, so an upgrade that rewords them
//! silences the narration without breaking anything else.

use crate::cli::verbose::{self, PACKET, STEP};
use std::fmt::{self, Write as _};
use std::net::SocketAddrV4;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// The bootstrap nodes not yet heard from: the first answer of each is told at `-v`.
static UNHEARD: Mutex<Vec<SocketAddrV4>> = Mutex::new(Vec::new());

/// Starts narrating the DHT node's work, when `-v` was given; `bootstrap` are the
/// nodes it joins through, whose first answers are told. Once per process.
pub fn install(bootstrap: &[SocketAddrV4]) {
    if !verbose::enabled(STEP) {
        return;
    }
    if let Ok(mut unheard) = UNHEARD.lock() {
        unheard.extend_from_slice(bootstrap);
    }
    // A second call (or another subscriber set first) changes nothing.
    let _ = tracing::subscriber::set_global_default(Narrator);
}

/// The subscriber: mainline's events in, narration out.
struct Narrator;

impl Subscriber for Narrator {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Every event of mainline's, TRACE included ("New Query" is one); `tell`
        // picks those worth saying. Only under -v, so the cost is the user's choice.
        metadata.is_event() && metadata.target().starts_with("mainline")
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some((level, line)) = tell(&fields) {
            verbose::say(level, format_args!("{line}"));
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's fields, each as its `Debug` text.
#[derive(Default)]
struct Fields {
    pairs: Vec<(&'static str, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The event's text. mainline's socket events also carry a field named
    /// `message` (the KRPC message, `Message { … }`), so the text is the other one.
    fn text(&self) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, v)| *n == "message" && !v.starts_with("Message {"))
            .map(|(_, v)| v.as_str())
    }

    /// The KRPC message a socket event carries.
    fn krpc(&self) -> &str {
        self.pairs
            .iter()
            .find(|(n, v)| *n == "message" && v.starts_with("Message {"))
            .map_or("?", |(_, v)| v.as_str())
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.pairs.push((field.name(), text));
    }
}

/// The narration line for one of mainline's events, and its level; `None` for
/// events not worth telling.
fn tell(fields: &Fields) -> Option<(u8, String)> {
    let message = fields.text()?;
    let field = |name: &str| fields.get(name).unwrap_or("?");
    Some(match message {
        "Bootstrapping the routing table" => (
            STEP,
            "bootstrapping: looking up our own id to fill the routing table".to_owned(),
        ),
        "New Query" => (
            STEP,
            format!(
                "lookup {} of {} started",
                variant(field("request_type")),
                short_id(field("target"))
            ),
        ),
        "Query got response" => (
            STEP,
            format!(
                "{} answered the lookup of {} with {}",
                field("from"),
                short_id(field("target")),
                values(field("response"))
            ),
        ),
        "Done query" => (
            STEP,
            format!(
                "lookup of {} done: {} node(s) asked, {} answered with a token, {} closest known",
                short_id(field("id")),
                field("visited"),
                field("responders"),
                field("closest")
            ),
        ),
        "PutQuery start" => (
            STEP,
            format!(
                "storing at the nodes closest to {}",
                short_id(field("target"))
            ),
        ),
        "PutQuery got error" => (
            STEP,
            format!(
                "a node refused the store under {}: {}",
                short_id(field("target")),
                field("error")
            ),
        ),
        "PutQuery Done successfully" => (
            STEP,
            format!(
                "stored under {} at {} node(s)",
                short_id(field("target")),
                field("stored_at")
            ),
        ),
        "Received request message" | "Received response message" | "Received error message" => {
            let kind = &message["Received ".len()..message.len() - " message".len()];
            if kind != "request"
                && let Some(from) = first_from_bootstrap(field("from"))
            {
                return Some((
                    STEP,
                    format!(
                        "bootstrap node udp://{from} answered ({kind}: {})",
                        krpc_summary(fields.krpc())
                    ),
                ));
            }
            (
                PACKET,
                format!(
                    "{kind} from {}: {}",
                    field("from"),
                    krpc_summary(fields.krpc())
                ),
            )
        }
        _ => return None,
    })
}

/// The bootstrap node `from` names, the first time it is heard from.
fn first_from_bootstrap(from: &str) -> Option<SocketAddrV4> {
    let addr: SocketAddrV4 = from.parse().ok()?;
    let mut unheard = UNHEARD.lock().ok()?;
    let at = unheard.iter().position(|a| *a == addr)?;
    Some(unheard.swap_remove(at))
}

/// `Id(3b24…)` → `3b245504…`: the first 8 hex digits of an id.
fn short_id(debug: &str) -> String {
    let hex = debug
        .trim_start_matches("Id(")
        .trim_end_matches(')')
        .trim_start_matches("Some(");
    let hex: String = hex.chars().take(8).collect();
    format!("{hex}…")
}

/// `FindNode(FindNodeRequestArguments { … })` → `find_node`.
fn variant(debug: &str) -> String {
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(debug);
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

/// What a lookup's answer carried: `3 peer(s)`, `an immutable value`, `a mutable value`.
fn values(debug: &str) -> String {
    if let Some(list) = debug.strip_prefix("Peers([") {
        let list = list.trim_end_matches("])");
        let count = if list.is_empty() {
            0
        } else {
            list.split(", ").count()
        };
        format!("{count} peer(s)")
    } else if debug.starts_with("Immutable") {
        "an immutable value".to_owned()
    } else if debug.starts_with("Mutable") {
        "a mutable value".to_owned()
    } else {
        "values".to_owned()
    }
}

/// A KRPC message's `Debug` text summed up: its kind and how many nodes and peers it
/// names, e.g. `find_node, 8 node(s)`.
fn krpc_summary(debug: &str) -> String {
    let kind = debug
        .split("message_type: ")
        .nth(1)
        .and_then(|rest| rest.split_once('('))
        .map_or("?", |(_, inner)| inner)
        .split(['(', ' ', '{'])
        .next()
        .map_or_else(|| "?".to_owned(), variant);
    let nodes = debug.matches("Node {").count();
    let mut text = kind;
    if nodes > 0 {
        let _ = write!(text, ", {nodes} node(s)");
    }
    if let Some(values) = debug.split("values: [").nth(1) {
        let list = values.split(']').next().unwrap_or_default();
        if !list.is_empty() {
            let _ = write!(text, ", {} peer(s)", list.split(", ").count());
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, &str)]) -> Fields {
        Fields {
            pairs: pairs.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn mainline_events_are_told_in_words() {
        let (level, line) = tell(&fields(&[
            ("message", "Query got response"),
            ("target", "Id(3b245504cf5f11bbdbe1201cea6a6bf45aee1bc0)"),
            ("response", "Peers([127.0.0.1:4000, 127.0.0.1:4001])"),
            ("from", "127.0.0.1:6881"),
        ]))
        .unwrap();
        assert_eq!(level, STEP);
        assert_eq!(
            line,
            "127.0.0.1:6881 answered the lookup of 3b245504… with 2 peer(s)"
        );
        let (_, line) = tell(&fields(&[
            ("message", "New Query"),
            ("target", "Id(a9993e364706816aba3e25717850c26c9cd0d89d)"),
            (
                "request_type",
                "GetPeers(GetPeersRequestArguments { info_hash: Id(a999) })",
            ),
        ]))
        .unwrap();
        assert_eq!(line, "lookup get_peers of a9993e36… started");
        assert!(tell(&fields(&[("message", "Rotating secrets")])).is_none());
    }

    #[test]
    fn krpc_messages_are_summed_up() {
        let debug = "Message { transaction_id: 7, message_type: Response(FindNode(\
                     FindNodeResponseArguments { responder_id: Id(ab), nodes: [Node { id: Id(1), \
                     address: 127.0.0.1:1, last_seen: 0 }, Node { id: Id(2), address: \
                     127.0.0.1:2, last_seen: 0 }] })), version: None }";
        assert_eq!(krpc_summary(debug), "find_node, 2 node(s)");
        let debug = "Message { message_type: Response(GetPeers(GetPeersResponseArguments { \
                     responder_id: Id(ab), token: [1], values: [127.0.0.1:4000], nodes: None \
                     })) }";
        assert_eq!(krpc_summary(debug), "get_peers, 1 peer(s)");
    }
}
