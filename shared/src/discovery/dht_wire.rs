//! The DHT's side of `-v`: what the mainline crate's node does on the wire, told
//! from the `tracing` events it emits.
//!
//! mainline has no per-query callbacks, but it reports its work through `tracing`:
//! each request sent (with its address: `patches/mainline/narration.diff`), each
//! KRPC message received, a lookup starting ("New Query"), each node that answered
//! with values ("Query got response"), a lookup ending (how many nodes were asked,
//! how many answered with a token, how many closest nodes are known) and stores
//! ("PutQuery …", with how many nodes stored). [`install`] registers a small
//! `tracing` subscriber that turns those events into narration: at `-v` each request
//! with its answer and round trip ([`dht_requests`] matches them), the requests a
//! finished lookup never heard back on, the lookups and the stores; at `-vv` every
//! message sent and received too.
//!
//! What it cannot tell: mainline forgets a timed-out liveness ping silently, and an
//! ICMP "port unreachable" never reaches it. The message texts are mainline's own, so
//! an upgrade that rewords them silences the narration without breaking anything
//! else.

use crate::cli::figures;
use crate::cli::verbose::{self, PACKET, STEP};
use crate::discovery::dht_requests;
use std::fmt::{self, Write as _};
use std::net::SocketAddrV4;
use std::sync::{Mutex, Once};
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
        for (level, line) in tell(&fields) {
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

/// The narration lines for one of mainline's events, each with its level; none for
/// events not worth telling.
fn tell(fields: &Fields) -> Vec<(u8, String)> {
    let Some(message) = fields.text() else {
        return Vec::new();
    };
    let field = |name: &str| fields.get(name).unwrap_or("?");
    let line = match message {
        "Sending request" => return sending(fields),
        "Received response message" | "Received error message" => return answer(fields),
        "Bootstrapping the routing table" => (
            STEP,
            "bootstrapping: looking up our own id to fill the routing table".to_owned(),
        ),
        "New Query" => (
            STEP,
            format!(
                "lookup {} of {} started",
                snake_case(field("request_type")),
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
        "Done query" => {
            let mut lines = silent(field("id"));
            lines.push((
                STEP,
                format!(
                    "lookup of {} done: {} node(s) asked, {} answered with a token, {} closest known",
                    short_id(field("id")),
                    field("visited"),
                    field("responders"),
                    field("closest")
                ),
            ));
            return lines;
        }
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
        "PutQuery Done successfully" => {
            let mut lines = silent(field("target"));
            lines.push((
                STEP,
                format!(
                    "stored under {} at {} node(s)",
                    short_id(field("target")),
                    field("stored_at")
                ),
            ));
            return lines;
        }
        "Received request message" => (
            PACKET,
            format!(
                "request from {}: {}",
                field("from"),
                krpc_summary(fields.krpc())
            ),
        ),
        _ => return Vec::new(),
    };
    vec![line]
}

/// A request going out: remembered to match its answer, told at `-vv`.
fn sending(fields: &Fields) -> Vec<(u8, String)> {
    let Some(to) = fields.get("address").and_then(|a| a.parse().ok()) else {
        return Vec::new();
    };
    match dht_requests::sent(fields.krpc(), to) {
        Some(request) => {
            static TOLD_AT_EXIT: Once = Once::new();
            TOLD_AT_EXIT.call_once(|| crate::cli::verbose::at_exit(unanswered_at_exit));
            vec![(PACKET, format!("sent {} to udp://{to}", request.kind))]
        }
        None => Vec::new(),
    }
}

/// The most nodes named one by one, with their unanswered requests, when the tool
/// ends.
const MAX_NAMED: usize = 8;

/// Names the requests still unanswered when the tool's work is done (no timeout
/// told of them, since the tool ended first), grouped by node, the node asked
/// earliest first: a silent bootstrap node, asked first, is always named.
fn unanswered_at_exit() {
    let left = dht_requests::unanswered();
    if left.is_empty() {
        return;
    }
    let mut nodes: Vec<(SocketAddrV4, Vec<String>)> = Vec::new();
    for s in &left {
        let request = s
            .target
            .as_ref()
            .map_or_else(|| s.kind.clone(), |t| format!("{} of {t}…", s.kind));
        match nodes.iter_mut().find(|(to, _)| *to == s.to) {
            Some((_, requests)) => requests.push(request),
            None => nodes.push((s.to, vec![request])),
        }
    }
    let named: Vec<String> = nodes
        .iter()
        .take(MAX_NAMED)
        .map(|(to, requests)| format!("udp://{to} ({})", requests.join(", ")))
        .collect();
    let more = match nodes.len().saturating_sub(MAX_NAMED) {
        0 => String::new(),
        1 => " and 1 more node".to_owned(),
        n => format!(" and {n} more nodes"),
    };
    crate::narrate!(
        "still unanswered when the tool ended: {}{more}",
        named.join(", ")
    );
}

/// A response or error: told with the request it answers (`-v`; a liveness ping at
/// `-vv` unless it comes from a bootstrap node).
fn answer(fields: &Fields) -> Vec<(u8, String)> {
    let krpc = fields.krpc();
    let Some(from) = fields
        .get("from")
        .and_then(|a| a.parse::<SocketAddrV4>().ok())
    else {
        return Vec::new();
    };
    let bootstrap = first_from_bootstrap(from);
    let Some((request, took)) = dht_requests::answered(krpc, from) else {
        return vec![(
            PACKET,
            format!(
                "unexpected answer from udp://{from}: {}",
                krpc_summary(krpc)
            ),
        )];
    };
    let level = if request.kind == "ping" && !bootstrap {
        PACKET
    } else {
        STEP
    };
    let error = krpc.contains("message_type: Error(");
    vec![(
        level,
        format!(
            "asked {}udp://{from} ({}{}) -> {} in {}{}",
            if bootstrap { "bootstrap node " } else { "" },
            request.kind,
            request
                .target
                .as_ref()
                .map_or_else(String::new, |t| format!(" of {t}…")),
            if error { "error" } else { "answered" },
            figures::millis(took),
            answer_detail(krpc, error)
        ),
    )]
}

/// What an answer said: `: 8 node(s), 2 peer(s)`, or the error.
fn answer_detail(krpc: &str, error: bool) -> String {
    if error {
        return krpc
            .split("description: ")
            .nth(1)
            .map_or_else(String::new, |d| {
                format!(": {}", d.split('}').next().unwrap_or(d).trim())
            });
    }
    let summary = krpc_summary(krpc);
    match summary.split_once(", ") {
        Some((_, counts)) => format!(": {counts}"),
        None => String::new(),
    }
}

/// The requests of a finished lookup or store (about the id `target`, as mainline
/// prints it) that never got an answer: they timed out.
fn silent(target: &str) -> Vec<(u8, String)> {
    let short: String = short_id(target).trim_end_matches('…').to_owned();
    let gone = dht_requests::timed_out(&short);
    if gone.is_empty() {
        return Vec::new();
    }
    let list: Vec<String> = gone.iter().map(|s| format!("udp://{}", s.to)).collect();
    vec![(
        STEP,
        format!(
            "no answer from {} ({} of {short}…): timed out",
            list.join(", "),
            gone[0].kind
        ),
    )]
}

/// True the first time the bootstrap node `from` is heard from.
fn first_from_bootstrap(from: SocketAddrV4) -> bool {
    let Ok(mut unheard) = UNHEARD.lock() else {
        return false;
    };
    match unheard.iter().position(|a| *a == from) {
        Some(at) => {
            unheard.swap_remove(at);
            true
        }
        None => false,
    }
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

/// `FindNode(FindNodeRequestArguments { … })` (or plain `FindNode`) → `find_node`.
pub(super) fn snake_case(debug: &str) -> String {
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
        .map_or_else(|| "?".to_owned(), snake_case);
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
        .remove(0);
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
        .remove(0);
        assert_eq!(line, "lookup get_peers of a9993e36… started");
        assert!(tell(&fields(&[("message", "Rotating secrets")])).is_empty());
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
