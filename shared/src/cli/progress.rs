//! Progress on stderr: shown only when stderr is a terminal, `--quiet` was not given
//! and nothing is being narrated (`-v`, whose lines a redrawn bar would overwrite).
//! Rates show three significant digits (`48200/s`, not `48213.7712/s`).

use crate::cli::{figures, verbose};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A spinner with a message, hidden when `quiet` or when stderr is not a terminal.
pub fn spinner(quiet: bool, message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target(quiet));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    // A hidden spinner needs no ticker thread (short-lived tools start it on every run).
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    bar
}

/// A counter of work done (`{pos}` items, with a rate), hidden like [`spinner`].
pub fn counter(quiet: bool, message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target(quiet));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} ({rate}) [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&figures::per_second(state.per_sec()));
                },
            ),
    );
    bar.set_message(message.into());
    bar
}

/// A byte-transfer display (its message says what moved), hidden like [`spinner`];
/// the caller sets the message.
pub fn bytes(quiet: bool, message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target(quiet));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    bar
}

fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if quiet || verbose::enabled(verbose::STEP) || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}
