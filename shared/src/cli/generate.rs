//! Man pages and shell completions, generated from each tool's clap definition.
//!
//! Every tool answers the hidden `--generate <man|bash|zsh|fish>` by printing the
//! file; `completions/` and `man/` hold the committed copies, and a test regenerates
//! them from the binaries and fails when one is stale. Output is deterministic (no
//! dates), so regenerating an unchanged tool changes nothing.

use crate::{Error, Result, Status};
use clap::Command;
use clap_complete::Shell;
use std::ffi::OsString;
use std::io::Write;

/// The file kinds `--generate` can produce.
pub const KINDS: [&str; 4] = ["man", "bash", "zsh", "fish"];

/// Answers `--generate KIND` for `cmd` on stdout.
pub fn run(cmd: Command, kind: Option<&OsString>) -> Result<Status> {
    let kind = kind.and_then(|k| k.to_str()).unwrap_or("");
    let bytes = render(cmd, kind)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes)?;
    stdout.flush()?;
    Ok(Status::Success)
}

/// Renders `kind` (one of [`KINDS`]) for `cmd`.
pub fn render(mut cmd: Command, kind: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let name = cmd.get_name().to_owned();
    let shell = match kind {
        "man" => return man_page(cmd),
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => {
            return Err(Error::usage(format!(
                "--generate takes one of {}, not '{other}'",
                KINDS.join(", ")
            )));
        }
    };
    clap_complete::generate(shell, &mut cmd, name.clone(), &mut buf);
    if shell == Shell::Bash {
        buf = fix_bash_names(&buf, &name);
    }
    let positional = cmd.get_positionals().any(|a| !a.is_hide_set());
    if shell == Shell::Zsh && positional && cmd.has_subcommands() {
        buf = fix_zsh_positional(&buf, &name);
    }
    Ok(buf)
}

/// clap_complete's zsh script for a command that takes a positional argument or a
/// subcommand (`p2p-discover TOPIC` or `p2p-discover tracker`) reads the first word
/// as the positional, so `p2p-discover tracker --<TAB>` offers the top level's flags.
/// Rewrites it so the first word is looked up as a subcommand, and any other first
/// word (a topic) falls back to the top level's flags.
fn fix_zsh_positional(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let mut lines: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut top = true;
    for line in text.lines() {
        if top && line.starts_with("'::") {
            continue;
        }
        if top && line.starts_with('\'') {
            options.push(line.to_owned());
        }
        if top && line.starts_with("&& ret=0") {
            top = false;
        }
        lines.push(line.replace("$line[2]", "$line[1]"));
    }
    // The top-level `case` closes with the script function's last `esac`.
    let fallback = format!(
        "(*)\n_arguments \"${{_arguments_options[@]}}\" : \\\n{}\n&& ret=0\n;;",
        options.join("\n")
    );
    let mut out = lines.join("\n");
    let end = format!("        esac\n    ;;\nesac\n}}\n\n(( $+functions[_{name}_commands] ))");
    if let Some(at) = out.find(&end) {
        out.insert_str(at, &format!("{fallback}\n"));
    }
    out.push('\n');
    out.into_bytes()
}

/// clap_complete's bash script names a hyphenated binary's subcommands two ways
/// (clap#6421): the words it walks set `cmd` to `p2p__dht__subcmd__get` while the
/// branches are labelled `p2p__subcmd__dht__subcmd__get`, so nothing below the top
/// level completes. Spells the labels the way `cmd` is set.
fn fix_bash_names(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = name.replace('-', "__subcmd__");
    let right = name.replace('-', "__");
    text.replace(&format!("{wrong}__"), &format!("{right}__"))
        .into_bytes()
}

/// The tool's man page: the usual sections, then one subsection per subcommand
/// (synopsis, description, options), the examples, and the exit statuses.
fn man_page(mut cmd: Command) -> Result<Vec<u8>> {
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    let subcommands: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    if !subcommands.is_empty() {
        writeln!(out, ".SH COMMANDS")?;
        for sub in &subcommands {
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            writeln!(out, ".TP\n\\fB{}\\fR\n{}", sub.get_name(), escape(&about))?;
        }
    }
    if let Some(emits) = crate::cli::emits::of(cmd.get_name()) {
        records_section(&mut out, ".SH", emits)?;
    }
    for sub in subcommands {
        subcommand_section(&mut out, cmd.get_name(), sub)?;
    }
    if let Some(examples) = cmd.get_after_help() {
        writeln!(out, ".SH EXAMPLES")?;
        literal_block(&mut out, &examples.to_string())?;
    }
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    environment_section(&mut out, &cmd)?;
    out.extend_from_slice(FILES.as_bytes());
    see_also_section(&mut out, cmd.get_name())?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// ENVIRONMENT: every variable any of the tool's flags reads, with that flag's help.
fn environment_section(out: &mut Vec<u8>, cmd: &Command) -> Result<()> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut visit = vec![cmd];
    while let Some(c) = visit.pop() {
        for arg in c.get_arguments() {
            if let Some(var) = arg.get_env() {
                let var = var.to_string_lossy().into_owned();
                if !vars.iter().any(|(v, _)| *v == var) {
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    vars.push((
                        var,
                        format!(
                            "\\-\\-{}: {}",
                            escape(arg.get_long().unwrap_or_default()),
                            escape(&help)
                        ),
                    ));
                }
            }
        }
        visit.extend(c.get_subcommands());
    }
    vars.sort();
    writeln!(out, ".SH ENVIRONMENT")?;
    for (var, help) in vars {
        writeln!(out, ".TP\n\\fB{var}\\fR\n{help}")?;
    }
    writeln!(
        out,
        ".TP\n\\fBXDG_CONFIG_HOME\\fR\nWhere the default identity file is looked for."
    )?;
    Ok(())
}

/// SEE ALSO: the other tools of the toolbox and the documents every tool follows.
fn see_also_section(out: &mut Vec<u8>, name: &str) -> Result<()> {
    let others: Vec<String> = crate::cli::toolbox::TOOLS
        .iter()
        .filter(|t| t.name != name)
        .map(|t| format!("\\fB{}\\fR(1)", escape(t.name)))
        .collect();
    writeln!(out, ".SH \"SEE ALSO\"")?;
    writeln!(out, "{}", others.join(", "))?;
    writeln!(
        out,
        ".PP\nThe NDJSON records and their fields: docs/ndjson.md; the flags every tool spells alike: docs/cli.md."
    )?;
    Ok(())
}

fn subcommand_section(out: &mut Vec<u8>, tool: &str, sub: &Command) -> Result<()> {
    let full = format!("{tool} {}", sub.get_name());
    let sub = sub.clone().bin_name(&full);
    let man = clap_mangen::Man::new(sub.clone());
    let mut body = Vec::new();
    man.render_synopsis_section(&mut body)?;
    man.render_description_section(&mut body)?;
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut body)?;
    }
    writeln!(out, ".SH \"COMMAND: {full}\"")?;
    // The sub-page's own sections become subsections of this one.
    for line in String::from_utf8_lossy(&body).lines() {
        match line.strip_prefix(".SH ") {
            Some(title) => writeln!(out, ".SS {title}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    if let Some(emits) = crate::cli::emits::of(&full) {
        records_section(out, ".SS", emits)?;
    }
    if let Some(examples) = sub.get_after_long_help().or_else(|| sub.get_after_help()) {
        writeln!(out, ".SS EXAMPLES")?;
        literal_block(out, &examples.to_string())?;
    }
    Ok(())
}

/// RECORDS: the record types the command prints (from [`crate::cli::emits`]), as a
/// section (`.SH`) or a subsection (`.SS`).
fn records_section(out: &mut Vec<u8>, level: &str, emits: &crate::cli::emits::Emits) -> Result<()> {
    writeln!(out, "{level} RECORDS")?;
    let types: Vec<String> = emits
        .types
        .iter()
        .map(|t| format!("\\fB{}\\fR", escape(t)))
        .collect();
    let mut text = if types.is_empty() {
        "No records.".to_owned()
    } else {
        format!("NDJSON records of type {}.", types.join(", "))
    };
    if !emits.note.is_empty() {
        text = format!("{text} ({})", escape(emits.note));
    }
    writeln!(out, "{text} Their fields: docs/ndjson.md.")?;
    Ok(())
}

/// Escapes text for roff: backslashes and hyphens, and a leading control character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Writes `text` as an unfilled block, so example commands keep their lines.
fn literal_block(out: &mut Vec<u8>, text: &str) -> Result<()> {
    writeln!(out, ".nf")?;
    for line in text.lines() {
        writeln!(out, "{}", escape(line))?;
    }
    writeln!(out, ".fi")?;
    Ok(())
}

const FILES: &str = r".SH FILES
.TP
\fI$XDG_CONFIG_HOME/p2p/identity.json\fR
The default identity file (ed25519 key, mode 0600), used when neither \fB\-i\fR nor \fBP2P_IDENTITY\fR names one.
";

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success. Also when stdout is closed early by the reader (a broken pipe), as \fBhead\fR expects.
.TP
\fB1\fR
The operation failed: nothing found, verification failed, connection failed.
.TP
\fB2\fR
Usage or input error: a bad option, or a malformed input line (reported on stderr with its line number).
.TP
\fB3\fR
Timed out.
.TP
\fB130\fR, \fB143\fR
Stopped by SIGINT or SIGTERM (also when started in the background by a script). A server or watcher whose stdout reader went away ends with 0 within a second.
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn demo() -> Command {
        Command::new("p2p-demo")
            .version("1.0")
            .about("A demo tool")
            .after_help("Examples:\n  p2p-demo go --fast\n")
            .subcommand(
                Command::new("go")
                    .about("Go")
                    .arg(Arg::new("fast").long("fast")),
            )
    }

    #[test]
    fn man_page_has_subcommands_examples_and_exit_status() {
        let page = String::from_utf8(render(demo(), "man").unwrap()).unwrap();
        assert!(page.contains(".SH \"COMMAND: p2p-demo go\""), "{page}");
        assert!(page.contains(".SS SYNOPSIS"), "{page}");
        assert!(page.contains("p2p\\-demo go \\-\\-fast"), "{page}");
        assert!(page.contains("EXIT STATUS"), "{page}");
        for section in [".SH ENVIRONMENT", ".SH FILES", ".SH \"SEE ALSO\""] {
            assert!(page.contains(section), "{page}");
        }
    }

    #[test]
    fn output_is_deterministic() {
        for kind in KINDS {
            assert_eq!(render(demo(), kind).unwrap(), render(demo(), kind).unwrap());
        }
    }

    #[test]
    fn bash_branches_match_the_walked_names() {
        let script = String::from_utf8(render(demo(), "bash").unwrap()).unwrap();
        assert!(script.contains("cmd=\"p2p__demo__subcmd__go\""), "{script}");
        assert!(
            script.contains("        p2p__demo__subcmd__go)"),
            "{script}"
        );
        assert!(!script.contains("p2p__subcmd__demo"), "{script}");
    }

    #[test]
    fn zsh_reads_the_first_word_as_a_subcommand_then_a_positional() {
        let cmd = demo().arg(Arg::new("topic"));
        let script = String::from_utf8(render(cmd, "zsh").unwrap()).unwrap();
        assert!(!script.contains("'::topic"), "{script}");
        assert!(!script.contains("$line[2]"), "{script}");
        assert!(script.contains("(*)\n_arguments"), "{script}");
    }

    #[test]
    fn unknown_kind_is_a_usage_error() {
        let err = render(demo(), "pdf").unwrap_err();
        assert_eq!(err.status(), Status::Usage);
    }
}
