//! The one entry point every tool's `main` calls.
//!
//! It parses the arguments (adding the toolbox-wide `-q/--quiet`, the network tools'
//! `-v/--verbose` and the hidden `--generate`), runs the tool, flushes its output, and maps the outcome to the exit
//! status. It is the only place that decides the exit status: a broken pipe on
//! stdout ends quietly with 0, every other error is printed once as
//! `TOOL: error: MESSAGE` and ends with its status. A tool stopped by SIGINT or
//! SIGTERM ends with 130 or 143 ([`shutdown`]).

use crate::cli::{generate, shutdown, toolbox, verbose};
use crate::ndjson::output::Output;
use crate::{Result, Status, diag};
use clap::{Arg, ArgAction, Command, CommandFactory};
use std::ffi::OsString;
use std::process::ExitCode;

/// What a running tool gets besides its own arguments.
pub struct Ctx {
    /// Where data records go (stdout).
    pub out: Output,
    /// `-q/--quiet`: no progress and no notes on stderr (warnings and errors remain).
    pub quiet: bool,
}

impl Ctx {
    /// Prints a note for a human on stderr, unless `--quiet`.
    pub fn note(&self, message: std::fmt::Arguments<'_>) {
        if !self.quiet {
            diag::note(message);
        }
    }
}

/// The id of the toolbox-wide quiet flag.
const QUIET: &str = "quiet";

/// The id of the network tools' verbose flag.
const VERBOSE: &str = "verbose";

/// The exit statuses, appended to every tool's `--help`.
const EXIT_STATUSES: &str =
    "Exit status: 0 ok, 1 failed or nothing found, 2 usage or input error, 3 timed out.";

/// The tool's full clap command: its own definition plus the toolbox-wide flags.
pub fn command<A: CommandFactory>() -> Command {
    let mut cmd = A::command();
    let mut network = false;
    if let Some(tool) = toolbox::find(cmd.get_name()) {
        let role = format!("{} · {}: {}", tool.name, tool.role, tool.answers);
        cmd = cmd.before_help(role);
        network = tool.network;
    }
    cmd = with_exit_statuses(cmd);
    // Every subcommand's help states its exit statuses, once: its own when it has
    // them, else the toolbox's.
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, with_exit_statuses);
    }
    cmd = cmd.arg(
        Arg::new(QUIET)
            .short('q')
            .long("quiet")
            .global(true)
            .action(ArgAction::SetTrue)
            .help("No progress bars or notes on stderr (warnings and errors still show)"),
    );
    if network {
        cmd = cmd.arg(
            Arg::new(VERBOSE)
                .short('v')
                .long("verbose")
                .global(true)
                .action(ArgAction::Count)
                .help(
                    "Say what happens on the wire, on stderr: -v each step (servers and \
                     nodes asked, answers, retries, candidates), -vv each packet too",
                ),
        );
    }
    cmd
}

/// `cmd` with the toolbox's exit statuses after its long help, unless its own text
/// already states them.
fn with_exit_statuses(cmd: Command) -> Command {
    let own = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    match own {
        Some(text) if text.contains("Exit status") => cmd,
        Some(text) => cmd.after_long_help(format!("{text}\n\n{EXIT_STATUSES}")),
        None => cmd.after_long_help(EXIT_STATUSES),
    }
}

/// Parses the command line, runs the tool and returns its exit code.
pub fn main<A: clap::Parser>(run: fn(A, &Ctx) -> Result<Status>) -> ExitCode {
    main_from(std::env::args_os().collect(), run)
}

fn main_from<A: clap::Parser>(argv: Vec<OsString>, run: fn(A, &Ctx) -> Result<Status>) -> ExitCode {
    let cmd = command::<A>();
    diag::set_tool_name(cmd.get_name());
    shutdown::watch();
    if argv.get(1).is_some_and(|a| a == "--generate") {
        return finish(generate::run(cmd, argv.get(2)));
    }
    let matches = match cmd.try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => return clap_exit(&e),
    };
    let quiet = matches.get_flag(QUIET);
    if let Ok(Some(level)) = matches.try_get_one::<u8>(VERBOSE) {
        verbose::set_level(*level);
    }
    let args = match A::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => return clap_exit(&e),
    };
    let ctx = Ctx {
        out: Output::stdout(),
        quiet,
    };
    let outcome = run(args, &ctx).and_then(|status| ctx.out.flush().map(|()| status));
    verbose::exiting();
    finish(outcome)
}

fn clap_exit(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(Status::Usage.code()))
}

fn finish(outcome: Result<Status>) -> ExitCode {
    // A tool that stopped because it was asked to ends with the status that says so.
    if let Some(reason) = shutdown::requested() {
        return ExitCode::from(reason.exit_code());
    }
    match outcome {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            diag::error(format_args!("{e}"));
            ExitCode::from(e.status().code())
        }
    }
}
