//! The command line of `p2p`.

use clap::{Parser, Subcommand};
use std::ffi::OsString;

const EXAMPLES: &str = "\
Examples:
  p2p                            # the tools, one line each
  p2p roles                      # which tool fills which role, with an example
  p2p roles --json | jq -r .tool
  p2p keygen new -o alice.json   # the same as p2p-keygen new -o alice.json";

/// The p2p toolbox: small peer-to-peer tools that speak NDJSON.
///
/// Without a command, lists the tools. `p2p NAME ARGS…` runs `p2p-NAME ARGS…` (looked
/// for beside this program first, then on PATH).
#[derive(Debug, Parser)]
#[command(name = "p2p", version, after_help = EXAMPLES)]
pub struct Args {
    /// Print NDJSON records (`tool`, `role`) instead of a table
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tools, one line each (the default)
    Tools,
    /// Print the handbook's role layers: what each answers, the tool that fills it,
    /// an example
    Roles,
    /// Run p2p-NAME with the remaining arguments
    #[command(external_subcommand)]
    Run(Vec<OsString>),
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::CommandFactory;

    #[test]
    fn command_is_well_formed() {
        Args::command().debug_assert();
    }

    /// Every flag follows docs/cli.md.
    #[test]
    fn follows_the_flag_vocabulary() {
        let problems = p2p_shared::cli::vocabulary::check(&Args::command());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
