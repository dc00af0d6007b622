//! The flag vocabulary of docs/cli.md, checked against a tool's clap definition.
//!
//! Each tool's `args.rs` has a test that calls [`check`] on its full command: a flag
//! the table names must take the value, short option and environment variable the
//! table gives, a short option the table gives belongs to that flag only, and a
//! time is a `DURATION`.

use clap::Command;

/// docs/cli.md, read at build time so the check and the document cannot drift.
const DOC: &str = include_str!("../../../docs/cli.md");

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The long name, without `--`.
    pub long: String,
    /// The short option, if the table gives one.
    pub short: Option<char>,
    /// The value name, or `None` for a switch.
    pub value: Option<String>,
    /// The environment variable, if any.
    pub env: Option<String>,
}

/// The rows of the "Flags" table in docs/cli.md.
pub fn flags() -> Vec<Flag> {
    let code = |cell: &str| {
        let cell = cell.trim();
        cell.strip_prefix('`')
            .and_then(|c| c.split_once('`'))
            .map(|(inner, _)| inner.to_owned())
    };
    DOC.lines()
        .filter(|l| l.starts_with("| `--"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            if cells.len() != 5 {
                return None;
            }
            Some(Flag {
                long: code(cells[0])?.trim_start_matches("--").to_owned(),
                short: code(cells[1]).and_then(|s| s.trim_start_matches('-').chars().next()),
                value: code(cells[2]),
                env: code(cells[4]),
            })
        })
        .collect()
}

/// Every way `cmd` (and its subcommands) departs from the vocabulary, one line each.
pub fn check(cmd: &Command) -> Vec<String> {
    let table = flags();
    let mut problems = Vec::new();
    let mut cmd = cmd.clone();
    cmd.build();
    walk(&cmd, cmd.get_name(), &table, &mut problems);
    problems
}

fn walk(cmd: &Command, path: &str, table: &[Flag], problems: &mut Vec<String>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let long = arg.get_long().unwrap_or_default();
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(ToString::to_string);
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let mut complain = |what: String| problems.push(format!("{path} --{long}: {what}"));
        if let Some(flag) = table.iter().find(|f| f.long == long) {
            if flag.short.is_some() && arg.get_short() != flag.short {
                complain(format!(
                    "short option should be -{}",
                    flag.short.unwrap_or('?')
                ));
            }
            if arg.get_short().is_some() && flag.short.is_none() {
                complain("takes no short option".to_owned());
            }
            if takes_value && flag.value != value {
                complain(format!(
                    "value is {value:?}, docs/cli.md says {:?}",
                    flag.value
                ));
            }
            if env.is_some() && flag.env != env {
                complain(format!("reads {env:?}, docs/cli.md says {:?}", flag.env));
            }
        } else if let Some(owner) = arg
            .get_short()
            .and_then(|short| table.iter().find(|f| f.short == Some(short)))
        {
            complain(format!(
                "-{} belongs to --{}",
                owner.short.unwrap_or('?'),
                owner.long
            ));
        }
        if matches!(value.as_deref(), Some("D" | "SECS" | "SECONDS" | "MS")) {
            complain("a time is a DURATION".to_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        walk(sub, &format!("{path} {}", sub.get_name()), table, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    #[test]
    fn the_table_is_read() {
        let table = flags();
        let bootstrap = table.iter().find(|f| f.long == "bootstrap").unwrap();
        assert_eq!(bootstrap.value.as_deref(), Some("ADDR"));
        assert_eq!(bootstrap.env.as_deref(), Some("P2P_DHT_BOOTSTRAP"));
        let count = table.iter().find(|f| f.long == "count").unwrap();
        assert_eq!(count.short, Some('n'));
        assert!(table.iter().any(|f| f.long == "quiet" && f.value.is_none()));
    }

    #[test]
    fn departures_are_named() {
        let cmd = Command::new("p2p-x").subcommand(
            Command::new("go")
                .arg(Arg::new("timeout").long("timeout").value_name("SECS"))
                .arg(Arg::new("n").short('n').long("number").value_name("N"))
                .arg(Arg::new("bind").long("bind").value_name("IP")),
        );
        let problems = check(&cmd);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("p2p-x go --number: -n belongs to --count"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("--bind: value is Some(\"IP\")"))
        );
    }
}
