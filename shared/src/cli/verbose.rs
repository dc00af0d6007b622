//! `-v/--verbose`: what happened on the wire, told on stderr in human terms, as
//! `dig +trace` and libtorrent's logs do.
//!
//! One process-wide level, set once by the entry point from the repeatable flag:
//! `-v` ([`STEP`]) says each step a network tool takes (servers tried and what they
//! answered, nodes asked, candidates, retries, the path chosen); `-vv` ([`PACKET`])
//! adds per-packet and per-request detail. Each line is
//! `;; +0.5ms p2p-punch: udp://127.0.0.1:3478 answered binding request in 0.205 ms: …`:
//! `;;` as dig marks its comments, the time since the tool started, the tool's name
//! (several tools of one pipeline share a terminal). Narration goes to stderr only,
//! never to stdout, and nothing at all is said without `-v`. It is independent of
//! `--quiet`, which hides progress and notes; while narrating, progress bars are
//! hidden, so the lines are not drawn over.

use crate::diag;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// `-v`: each step.
pub const STEP: u8 = 1;
/// `-vv`: each packet or request as well.
pub const PACKET: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(0);
static START: OnceLock<Instant> = OnceLock::new();

/// Sets the level (the number of `-v`s) and starts the clock the lines count from.
pub fn set_level(level: u8) {
    let _ = START.get_or_init(Instant::now);
    LEVEL.store(level, Ordering::Relaxed);
}

/// The level: 0 silent, [`STEP`], [`PACKET`].
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether lines of `level` are told.
pub fn enabled(level: u8) -> bool {
    level > 0 && self::level() >= level
}

/// Writes one narration line (when its `level` is enabled); use [`narrate!`](crate::narrate) and
/// [`narrate_packet!`](crate::narrate_packet), which build the message only when it is
/// told.
pub fn say(level: u8, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let elapsed = START.get_or_init(Instant::now).elapsed();
    let ms = elapsed.as_secs_f64() * 1000.0;
    let at = if ms < 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    };
    let text = diag::terminal_safe(&message.to_string(), diag::MAX_MESSAGE);
    let line = format!(";; +{at} {}: {text}\n", diag::tool_name());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// What is told once a tool's work is done, before it exits (for example the
/// requests still unanswered then).
static AT_EXIT: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Has `tell` run once the tool's work is done (by the entry point, before the tool
/// exits). Register each `tell` once.
pub fn at_exit(tell: fn()) {
    if let Ok(mut tells) = AT_EXIT.lock() {
        tells.push(tell);
    }
}

/// Runs what [`at_exit`] registered (the entry point calls it once the tool ran).
pub fn exiting() {
    let tells = AT_EXIT
        .lock()
        .map(|mut tells| std::mem::take(&mut *tells))
        .unwrap_or_default();
    for tell in tells {
        tell();
    }
}

/// Tells a step on stderr under `-v`: `narrate!("asked {server}")`.
#[macro_export]
macro_rules! narrate {
    ($($arg:tt)*) => {
        if $crate::cli::verbose::enabled($crate::cli::verbose::STEP) {
            $crate::cli::verbose::say($crate::cli::verbose::STEP, format_args!($($arg)*));
        }
    };
}

/// Tells per-packet detail on stderr under `-vv`.
#[macro_export]
macro_rules! narrate_packet {
    ($($arg:tt)*) => {
        if $crate::cli::verbose::enabled($crate::cli::verbose::PACKET) {
            $crate::cli::verbose::say($crate::cli::verbose::PACKET, format_args!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_nest() {
        // The level is process-wide; this is the only unit test that sets it.
        assert!(!enabled(STEP));
        set_level(STEP);
        assert!(enabled(STEP) && !enabled(PACKET));
        set_level(PACKET);
        assert!(enabled(STEP) && enabled(PACKET));
        set_level(0);
        assert!(!enabled(STEP));
    }
}
