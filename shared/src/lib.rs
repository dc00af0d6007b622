//! The library every p2p toolbox tool links. Each tool's `main` hands its clap
//! arguments and a `run` function to [`cli::entry::main`]; nearly all logic lives here,
//! in folders by role, each layer using only those above it in this list:
//!
//! | module | role |
//! |---|---|
//! | [`status`], [`diag`], [`addr`], [`random`], [`budget`], [`task`] | what everything uses: errors and exit statuses, stderr messages, URL-like addresses, OS randomness, the bounds servers hold to, where spawned tasks run |
//! | [`identity`] | key files, peer ids (and libp2p's forms of them), RFC 8785 canonical JSON, signatures, sealed boxes |
//! | [`ndjson`] | the contract between tools: the stdout writer, the stdin reader, typed records, signed peer records |
//! | [`cli`] | the entry point, `--generate`, progress, durations, shutdown signals |
//! | [`codec`] | wire formats: bencode, STUN, the tracker protocols |
//! | [`discovery`] | bootstrap lists, the DHT set-up, DNS answers as peers, the DNS responder |
//! | [`connect`] | from a peer id to a path: hole punching and its rendezvous, the QUIC transport, tickets, path selection |
//! | [`gossip`] | membership, broadcast and anti-entropy as sans-IO state machines, and their simulation |

pub mod addr;
pub mod budget;
pub mod cli;
pub mod codec;
pub mod connect;
pub mod diag;
pub mod discovery;
pub mod gossip;
pub mod identity;
pub mod ndjson;
pub mod random;
pub mod status;
pub mod task;

pub use status::{Context, Error, Result, Status};

/// The layers of the table above, lowest first: a module may use its own layer and
/// those before it, never one after it. The narration macros that `cli::verbose`
/// exports sit at the crate root (`crate::narrate`) and belong to `cli`.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["status", "diag", "addr", "random", "budget", "task"],
    &["identity"],
    &["ndjson"],
    &["cli", "narrate", "narrate_packet"],
    &["codec"],
    &["discovery"],
    &["connect"],
    &["gossip"],
];

#[cfg(test)]
mod layering {
    use super::LAYERS;
    use std::path::Path;

    /// The layer index of a top-level module.
    fn layer(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|l| l.contains(&module))
            .unwrap_or_else(|| panic!("module `{module}` is in no layer of lib.rs"))
    }

    /// The top-level modules named by `crate::…` paths in `source`, including
    /// those inside `crate::{…}` groups.
    fn used_modules(source: &str) -> Vec<String> {
        let mut used = Vec::new();
        for (index, _) in source.match_indices("crate::") {
            let rest = &source[index + 7..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                used.extend(group.split(',').map(|item| {
                    item.trim()
                        .split("::")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                }));
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                used.push(name);
            }
        }
        used.retain(|m| {
            !m.is_empty() && m.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && m != "self"
        });
        used
    }

    fn visit(dir: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }

    #[test]
    fn no_module_uses_a_layer_above_its_own() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        visit(&root, &mut files);
        let mut upward = Vec::new();
        for (path, source) in &files {
            let relative = path.trim_start_matches(&*root.display().to_string());
            let own = relative
                .trim_start_matches('/')
                .split(['/', '.'])
                .next()
                .unwrap();
            if own == "lib" {
                continue;
            }
            for used in used_modules(source) {
                if layer(&used) > layer(own) {
                    upward.push(format!("{relative} uses crate::{used}"));
                }
            }
        }
        assert!(upward.is_empty(), "arrows running back up: {upward:#?}");
    }

    #[test]
    fn grouped_and_plain_paths_are_both_seen() {
        let used =
            used_modules("use crate::{Error, diag, ndjson::output};\nuse crate::cli::entry;");
        assert_eq!(used, ["diag", "ndjson", "cli"]);
    }
}
