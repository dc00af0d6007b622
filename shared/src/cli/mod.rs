//! The plumbing every tool uses: how address flags read their values ([`address`]), the one entry point that parses arguments, runs the
//! tool and picks the exit status ([`entry`]), the hidden `--generate` of man pages and
//! completions ([`generate`]), progress on stderr ([`progress`]), human durations
//! ([`duration`]) and the shutdown signals of long-running tools ([`shutdown`]).

pub mod address;
pub mod duration;
pub mod entry;
pub mod generate;
pub mod progress;
pub mod shutdown;
pub mod vocabulary;
