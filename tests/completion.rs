//! The committed shell completions work below the top level in a real shell: for
//! one subcommand of every tool, `TOOL SUB --<TAB>` offers that subcommand's flags.

use crate::common;
use std::process::Command;

/// A subcommand of each tool and a flag only it takes.
const CASES: [(&str, &str, &str); 5] = [
    ("p2p-dht", "get-peers", "--topic"),
    ("p2p-discover", "tracker", "--interval"),
    ("p2p-dns-rr", "serve", "--zone"),
    ("p2p-keygen", "new", "--output"),
    ("p2p-punch", "nat", "--lifetime"),
];

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running the shell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completes_subcommand_flags() {
    if !common::have("bash_completes_subcommand_flags", "bash") {
        return;
    }
    let dir = common::repo_root().join("completions");
    for (tool, sub, flag) in CASES {
        // What bash does on `TOOL SUB --<TAB>`: fill COMP_WORDS and call the function
        // with the command, the word being completed and the one before it.
        let script = format!(
            "source '{}'; COMP_WORDS=({tool} {sub} --); COMP_CWORD=2; \
             _{fun} {tool} -- {sub}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            dir.join(format!("{tool}.bash")).display(),
            fun = tool.replace('-', "__"),
        );
        let offered = output(Command::new("bash").args(["--norc", "-c", &script]));
        assert!(
            offered.lines().any(|l| l == flag),
            "bash offered no {flag} for `{tool} {sub} --`: {offered:?}"
        );
    }
}

#[test]
fn fish_completes_subcommand_flags() {
    if !common::have("fish_completes_subcommand_flags", "fish") {
        return;
    }
    let dir = common::repo_root().join("completions");
    for (tool, sub, flag) in CASES {
        let script = format!(
            "source '{}'; complete -C '{tool} {sub} --'",
            dir.join(format!("{tool}.fish")).display()
        );
        let offered = output(Command::new("fish").args(["--no-config", "-c", &script]));
        assert!(
            offered.lines().any(|l| l.split('\t').next() == Some(flag)),
            "fish offered no {flag} for `{tool} {sub} --`: {offered:?}"
        );
    }
}
