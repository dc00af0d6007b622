//! Human messages on stderr, prefixed with the tool's name.
//!
//! Writing to stderr never panics here (unlike `eprintln!`): a closed stderr loses the
//! message, never the data on stdout.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

static TOOL: OnceLock<String> = OnceLock::new();

/// Records the tool's name for message prefixes; the first call wins.
pub fn set_tool_name(name: &str) {
    let _ = TOOL.set(name.to_owned());
}

/// The tool's name as given to [`set_tool_name`], or `p2p` before that.
pub fn tool_name() -> &'static str {
    TOOL.get().map_or("p2p", String::as_str)
}

fn emit(level: &str, message: fmt::Arguments<'_>) {
    let line = format!("{}: {level}{message}\n", tool_name());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Prints `TOOL: warning: MESSAGE` on stderr.
pub fn warn(message: fmt::Arguments<'_>) {
    emit("warning: ", message);
}

/// Prints `TOOL: error: MESSAGE` on stderr.
pub fn error(message: fmt::Arguments<'_>) {
    emit("error: ", message);
}

/// Prints `TOOL: MESSAGE` on stderr (information for a human).
pub fn note(message: fmt::Arguments<'_>) {
    emit("", message);
}
