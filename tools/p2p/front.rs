//! What `p2p` prints and runs: the tool list, the role table, and `p2p NAME …`.

use p2p_shared::cli::entry::Ctx;
use p2p_shared::cli::toolbox::{TOOLS, table};
use p2p_shared::{Error, Result, Status};
use serde_json::json;
use std::ffi::OsString;
use std::fmt::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// `p2p` and `p2p tools`: one line per tool, or `tool` records.
pub fn tools(json: bool, ctx: &Ctx) -> Result<Status> {
    if json {
        for tool in TOOLS {
            ctx.out.record(&json!({
                "type": "tool", "name": tool.name, "role": tool.role, "job": tool.job,
            }))?;
        }
        return Ok(Status::Success);
    }
    let width = TOOLS.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut text = String::from("The p2p toolbox (p2p roles shows what each answers):\n\n");
    for tool in TOOLS {
        let _ = writeln!(text, "  {:<width$}  {}", tool.name, tool.job);
    }
    text.push_str("\nEach has --help with examples and a man page; run one as p2p NAME ….\n");
    ctx.out.write(text.as_bytes())?;
    Ok(Status::Success)
}

/// `p2p roles`: the role layers as a table, or `role` records.
pub fn roles(json: bool, ctx: &Ctx) -> Result<Status> {
    if json {
        for tool in TOOLS {
            ctx.out.record(&json!({
                "type": "role", "role": tool.role, "answers": tool.answers,
                "tool": tool.name, "example": tool.example,
            }))?;
        }
        return Ok(Status::Success);
    }
    let rows: Vec<Vec<&str>> = TOOLS
        .iter()
        .map(|t| vec![t.role, t.answers, t.name, t.example])
        .collect();
    let text = table(&["role", "what it answers", "tool", "example"], &rows);
    ctx.out.write(text.as_bytes())?;
    Ok(Status::Success)
}

/// `p2p NAME ARGS…`: replaces this process with `p2p-NAME ARGS…`.
pub fn dispatch(argv: &[OsString]) -> Result<Status> {
    let (name, rest) = argv
        .split_first()
        .ok_or_else(|| Error::usage("no command given"))?;
    let name = name.to_string_lossy();
    let program = format!("p2p-{name}");
    if !TOOLS.iter().any(|t| t.name == program) {
        let names: Vec<&str> = TOOLS.iter().map(|t| &t.name[4..]).collect();
        return Err(Error::usage(format!(
            "'{name}' is not a p2p command; the commands are tools, roles and {}",
            names.join(", ")
        )));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&program)))
        .filter(|path| path.is_file());
    let path = beside.unwrap_or_else(|| PathBuf::from(&program));
    let err = Command::new(&path).args(rest).exec();
    Err(Error::failure(format!("cannot run {program}: {err}")))
}
