//! The plumbing every tool uses: the one entry point that parses arguments, runs the
//! tool and picks the exit status ([`entry`]), the hidden `--generate` of man pages and
//! completions ([`generate`]), progress on stderr ([`progress`]), human durations
//! ([`duration`]), the shutdown signals of long-running tools ([`shutdown`]) and the
//! map of the toolbox ([`toolbox`]).

pub mod duration;
pub mod entry;
pub mod generate;
pub mod progress;
pub mod shutdown;
pub mod toolbox;
