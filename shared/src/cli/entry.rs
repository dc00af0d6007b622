//! The one entry point every tool's `main` calls.
//!
//! It parses the arguments (adding the toolbox-wide `-q/--quiet` and the hidden
//! `--generate`), runs the tool, flushes its output, and maps the outcome to the exit
//! status. It is the only place that decides the exit status: a broken pipe on
//! stdout ends quietly with 0, every other error is printed once as
//! `TOOL: error: MESSAGE` and ends with its status.

use crate::cli::{generate, toolbox};
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

/// The exit statuses, appended to every tool's `--help`.
const EXIT_STATUSES: &str =
    "Exit status: 0 ok, 1 failed or nothing found, 2 usage or input error, 3 timed out.";

/// The tool's full clap command: its own definition plus the toolbox-wide flags.
pub fn command<A: CommandFactory>() -> Command {
    let mut cmd = A::command();
    if let Some(tool) = toolbox::find(cmd.get_name()) {
        let role = format!("{} · {}: {}", tool.name, tool.role, tool.answers);
        cmd = cmd.before_help(role);
    }
    let long_help = match cmd.get_after_help() {
        Some(examples) => format!("{examples}\n\n{EXIT_STATUSES}"),
        None => EXIT_STATUSES.to_owned(),
    };
    cmd.after_long_help(long_help).arg(
        Arg::new(QUIET)
            .short('q')
            .long("quiet")
            .global(true)
            .action(ArgAction::SetTrue)
            .help("No progress bars or notes on stderr (warnings and errors still show)"),
    )
}

/// Parses the command line, runs the tool and returns its exit code.
pub fn main<A: clap::Parser>(run: fn(A, &Ctx) -> Result<Status>) -> ExitCode {
    main_from(std::env::args_os().collect(), run)
}

fn main_from<A: clap::Parser>(argv: Vec<OsString>, run: fn(A, &Ctx) -> Result<Status>) -> ExitCode {
    let cmd = command::<A>();
    diag::set_tool_name(cmd.get_name());
    if argv.get(1).is_some_and(|a| a == "--generate") {
        return finish(generate::run(cmd, argv.get(2)));
    }
    let matches = match cmd.try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => return clap_exit(&e),
    };
    let quiet = matches.get_flag(QUIET);
    let args = match A::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => return clap_exit(&e),
    };
    let ctx = Ctx {
        out: Output::stdout(),
        quiet,
    };
    let outcome = run(args, &ctx).and_then(|status| ctx.out.flush().map(|()| status));
    finish(outcome)
}

fn clap_exit(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(Status::Usage.code()))
}

fn finish(outcome: Result<Status>) -> ExitCode {
    match outcome {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            diag::error(format_args!("{e}"));
            ExitCode::from(e.status().code())
        }
    }
}
