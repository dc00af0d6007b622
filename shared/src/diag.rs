//! Human messages on stderr, prefixed with the tool's name.
//!
//! Writing to stderr never panics here (unlike `eprintln!`): a closed stderr loses the
//! message, never the data on stdout. Messages often quote input (a bad line, a bad
//! address), so each is made safe for a terminal on the way out: control characters
//! (terminal escapes, newlines) are shown escaped (`\u{1b}`), and a message is cut
//! at [`MAX_MESSAGE`] characters, saying how much was left out.

use std::fmt::{self, Write as _};
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

/// The most characters of one message shown.
pub const MAX_MESSAGE: usize = 400;

fn emit(level: &str, message: fmt::Arguments<'_>) {
    let mut line = format!("{}: {level}", tool_name());
    line.push_str(&terminal_safe(&message.to_string(), MAX_MESSAGE));
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `text` fit for a terminal: control characters escaped, cut after `max`
/// characters with a note of how many bytes were left out.
pub fn terminal_safe(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 2));
    for (shown, (at, c)) in text.char_indices().enumerate() {
        if shown == max {
            let _ = write!(out, "… ({} more bytes)", text.len() - at);
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_newlines_are_shown_escaped_and_long_text_is_cut() {
        let safe = terminal_safe("a\u{1b}[31mred\u{7}\nfake: error\u{9b}x", 100);
        assert!(!safe.chars().any(char::is_control), "{safe:?}");
        assert_eq!(safe, "a\\u{1b}[31mred\\u{7}\\u{a}fake: error\\u{9b}x");
        let long = "é".repeat(1000);
        let cut = terminal_safe(&long, 10);
        assert_eq!(cut, format!("{}… (1980 more bytes)", "é".repeat(10)));
        assert_eq!(terminal_safe("plain", 10), "plain");
    }
}
