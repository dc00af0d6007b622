//! Stopping long-running tools cleanly: SIGINT and SIGTERM end a tool's main loop
//! (so it can say goodbye on the network, e.g. an mDNS goodbye) instead of killing
//! it mid-write.

use crate::Result;
use async_signal::{Signal, Signals};
use futures_lite::StreamExt;

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn signalled() -> Result<()> {
    let mut signals = Signals::new([Signal::Int, Signal::Term])?;
    signals.next().await;
    Ok(())
}
