//! The plumbing every tool uses: the one entry point that parses arguments, runs the
//! tool and picks the exit status ([`entry`]), how address flags read their values
//! ([`address`]), the flag vocabulary of docs/cli.md ([`vocabulary`]), the hidden
//! `--generate` of man pages and completions ([`generate`]), the record types each
//! command prints, for their RECORDS sections ([`emits`]), progress on stderr
//! ([`progress`]), human durations ([`duration`]), numbers rounded for people
//! ([`figures`]), the one shutdown path of every tool ([`shutdown`]), the narration of
//! `-v/--verbose` ([`verbose`]) and the map of the toolbox ([`toolbox`]).

pub mod address;
pub mod duration;
pub mod emits;
pub mod entry;
pub mod figures;
pub mod generate;
pub mod progress;
pub mod shutdown;
pub mod toolbox;
pub mod verbose;
pub mod vocabulary;
