//! The one shutdown path of every tool: SIGINT, SIGTERM, and a stdout whose reader
//! went away.
//!
//! [`watch`] (called by the entry point before a tool runs) installs handlers for
//! SIGINT and SIGTERM, which also undoes the "ignore SIGINT" a shell gives jobs it
//! starts in the background, and looks at stdout every [`TICK`] for a reader that is
//! gone (`POLLERR`/`POLLHUP` on the descriptor), so a server in `… | head -1` ends
//! within a second even when it has nothing to write.
//!
//! A tool with goodbyes to say (an mDNS goodbye, closing its sockets) races its
//! work against [`signalled`] and returns; every other tool is ended by the watcher
//! at once, after it cleared a progress line. Either way the exit status is 130
//! after SIGINT, 143 after SIGTERM (128 + the signal, as shells report), and 0
//! when the reader went away (as for a broken pipe). A tool that handles the
//! shutdown but does not finish within [`GRACE`] is ended by the watcher.

use async_signal::{Signal, Signals};
use futures_lite::{FutureExt, StreamExt};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

/// How often the watcher looks at stdout.
pub const TICK: Duration = Duration::from_millis(200);

/// How long a tool that handles the shutdown itself has to finish.
pub const GRACE: Duration = Duration::from_secs(3);

/// Why a tool is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// SIGINT (Ctrl-C).
    Interrupt = 1,
    /// SIGTERM.
    Terminate = 2,
    /// Nobody reads stdout any more.
    ReaderGone = 3,
}

impl Reason {
    /// The exit status a tool stopped for this reason ends with.
    pub fn exit_code(self) -> u8 {
        match self {
            Reason::Interrupt => 130,
            Reason::Terminate => 143,
            Reason::ReaderGone => 0,
        }
    }

    fn from_u8(value: u8) -> Option<Reason> {
        match value {
            1 => Some(Reason::Interrupt),
            2 => Some(Reason::Terminate),
            3 => Some(Reason::ReaderGone),
            _ => None,
        }
    }
}

static REASON: AtomicU8 = AtomicU8::new(0);
static HANDLED: AtomicBool = AtomicBool::new(false);

/// Why the tool was asked to stop, if it was.
pub fn requested() -> Option<Reason> {
    Reason::from_u8(REASON.load(Ordering::SeqCst))
}

/// Starts the watcher thread. Errors installing the handlers are reported and
/// leave the default actions in place.
pub fn watch() {
    let signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(signals) => signals,
        Err(e) => {
            crate::diag::warn(format_args!("cannot watch for signals: {e}"));
            return;
        }
    };
    std::thread::spawn(move || smol::block_on(run(signals)));
}

async fn run(mut signals: Signals) {
    let reason = loop {
        let next = async { Some(signals.next().await) }
            .or(async {
                smol::Timer::after(TICK).await;
                None
            })
            .await;
        match next {
            Some(Some(Ok(Signal::Int))) => break Reason::Interrupt,
            Some(Some(Ok(_))) => break Reason::Terminate,
            // The signal stream ended: nothing more will come from it.
            Some(None) => {
                smol::Timer::after(TICK).await;
            }
            _ => {}
        }
        if stdout_gone() {
            break Reason::ReaderGone;
        }
    };
    REASON.store(reason as u8, Ordering::SeqCst);
    if HANDLED.load(Ordering::SeqCst) {
        smol::Timer::after(GRACE).await;
    }
    clear_progress_line();
    std::process::exit(i32::from(reason.exit_code()));
}

/// True when stdout is a pipe or socket whose reader has gone.
fn stdout_gone() -> bool {
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        _ => false,
    }
}

/// Erases a progress line left on a terminal.
fn clear_progress_line() {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = stderr.write_all(b"\r\x1b[2K");
    }
}

/// Resolves when the tool is asked to stop (SIGINT, SIGTERM or stdout gone); the
/// tool then says its goodbyes and returns within [`GRACE`]. The entry point
/// picks the exit status.
pub async fn signalled() -> Reason {
    HANDLED.store(true, Ordering::SeqCst);
    loop {
        if let Some(reason) = requested() {
            return reason;
        }
        smol::Timer::after(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Reason::Interrupt.exit_code(), 130);
        assert_eq!(Reason::Terminate.exit_code(), 143);
        assert_eq!(Reason::ReaderGone.exit_code(), 0);
        for reason in [Reason::Interrupt, Reason::Terminate, Reason::ReaderGone] {
            assert_eq!(Reason::from_u8(reason as u8), Some(reason));
        }
    }
}
