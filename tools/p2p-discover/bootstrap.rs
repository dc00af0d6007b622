//! Bootstrap lists (`--peers FILE`): each file read and parsed by
//! [`p2p_shared::discovery::bootstrap`], its peers and bad lines reported.

use crate::found::{self, Found, Sender};
use p2p_shared::diag;
use p2p_shared::discovery::bootstrap::parse;
use std::path::PathBuf;

/// The mechanism's name in `via`.
pub const VIA: &str = "bootstrap";

/// Reads every file and reports its peers (for `topic`, when one is given).
pub async fn run(files: Vec<PathBuf>, topic: Option<String>, tx: Sender) {
    for file in files {
        let shown = file.display().to_string();
        let text = match smol::fs::read_to_string(&file).await {
            Ok(text) => text,
            Err(e) => {
                found::problem(&tx, VIA, format!("{shown}: {e}"), true).await;
                continue;
            }
        };
        let parsed = parse(&text);
        for note in &parsed.notes {
            diag::note(format_args!("{VIA}: {shown}: {note}"));
        }
        for item in parsed.peers {
            let found = match item {
                Ok(mut peer) => {
                    peer.via = Some(VIA.to_owned());
                    if peer.topic.is_none() && !peer.is_signed() {
                        peer.topic.clone_from(&topic);
                    }
                    Found::Peer(peer)
                }
                Err((line, why)) => Found::Problem {
                    via: VIA,
                    message: format!("{shown}: line {line}: {why}"),
                    input: true,
                },
            };
            if tx.send(found).await.is_err() {
                return;
            }
        }
    }
}
