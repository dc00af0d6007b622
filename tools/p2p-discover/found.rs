//! What the discovery mechanisms report to the main loop.

use p2p_shared::ndjson::peer::PeerRecord;

/// One finding of a mechanism.
#[derive(Debug, Clone)]
pub enum Found {
    /// A peer (its `via` says which mechanism found it).
    Peer(PeerRecord),
    /// A peer that left: an mDNS goodbye, or expiry from a tracker or DNS.
    Gone(PeerRecord),
    /// Something a mechanism could not do, or bad input it skipped; `input` marks
    /// bad input (exit status 2) rather than a failed mechanism.
    Problem {
        /// Which mechanism.
        via: &'static str,
        /// What went wrong.
        message: String,
        /// True for bad input such as a malformed bootstrap line.
        input: bool,
    },
}

/// The sending side every mechanism gets.
pub type Sender = smol::channel::Sender<Found>;

/// Reports a problem; a closed channel just means the main loop is done.
pub async fn problem(tx: &Sender, via: &'static str, message: String, input: bool) {
    let _ = tx
        .send(Found::Problem {
            via,
            message,
            input,
        })
        .await;
}
