//! The committed shell completions work below the top level in a real shell: for
//! every tool, `TOOL SUB --<TAB>` offers that subcommand's flags in bash, zsh and
//! fish (p2p-gossip has no subcommands: its own flags).

use crate::common;
use std::path::Path;
use std::process::Command;

/// Each tool, the words typed before `--<TAB>`, and a flag only that command takes.
const CASES: [(&str, &str, &str); 9] = [
    ("p2p", "roles", "--json"),
    ("p2p-dht", "get-peers", "--topic"),
    ("p2p-discover", "tracker", "--interval"),
    ("p2p-dns-rr", "serve", "--zone"),
    ("p2p-gossip", "", "--allow-author"),
    ("p2p-keygen", "new", "--output"),
    ("p2p-pipe", "connect", "--peer-file"),
    ("p2p-punch", "nat", "--lifetime"),
    ("p2p-relay", "probe", "--auth-secret"),
];

/// The words on the command line, ending with the `--` being completed.
fn words(tool: &str, sub: &str) -> Vec<String> {
    [tool, sub, "--"]
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running the shell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn completions() -> std::path::PathBuf {
    common::repo_root().join("completions")
}

#[test]
fn bash_completes_subcommand_flags() {
    if !common::have("bash_completes_subcommand_flags", "bash") {
        return;
    }
    for (tool, sub, flag) in CASES {
        // What bash does on `TOOL SUB --<TAB>`: fill COMP_WORDS and call the function
        // with the command, the word being completed and the one before it.
        let words = words(tool, sub);
        let script = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; \
             _{fun} {tool} -- {prev}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            completions().join(format!("{tool}.bash")).display(),
            words.join(" "),
            words.len() - 1,
            fun = tool.replace('-', "__"),
            prev = words[words.len() - 2],
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
    for (tool, sub, flag) in CASES {
        let script = format!(
            "source '{}'; complete -C '{}'",
            completions().join(format!("{tool}.fish")).display(),
            words(tool, sub).join(" ")
        );
        let offered = output(Command::new("fish").args(["--no-config", "-c", &script]));
        assert!(
            offered.lines().any(|l| l.split('\t').next() == Some(flag)),
            "fish offered no {flag} for `{tool} {sub} --`: {offered:?}"
        );
    }
}

/// Drives an interactive zsh on a pseudo-terminal (the `zsh/zpty` module): loads
/// `compinit` with the completions directory on `fpath`, types `$2` and TAB, and
/// prints every candidate the completion system offered, one a line. `compadd` is
/// wrapped to report what it adds; a key bound to a widget marks the end (the
/// markers are spelled in pieces so the terminal's echo of the input never matches).
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 4
zpty shell zsh -f -i
zpty -w shell "PS1='' PROMPT='' RPROMPT=''"
zpty -w shell "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w shell 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi; local -a hits; builtin compadd -A hits "$@"; local h; for h in $hits; do print -r -- "<<OF""FER>>$h"; done; builtin compadd "$@"; }'
zpty -w shell 'comp-done() { print -r -- "<<DO""NE>>" }; zle -N comp-done; bindkey "^X" comp-done'
zpty -w -n shell "$2"$'\t'$'\x18'
zpty -r -m shell out '*<<DONE>>*' || { print -r -- "zsh never finished: $out" >&2; exit 5 }
zpty -d shell
print -r -- "$out" | tr -d '\r' | sed -n 's/.*<<OFFER>>//p'
"#;

#[test]
fn zsh_completes_subcommand_flags() {
    if !common::have("zsh_completes_subcommand_flags", "zsh") {
        return;
    }
    let dir = completions();
    for (tool, sub, flag) in CASES {
        assert!(dir.join(format!("_{tool}")).is_file(), "no _{tool}");
        let typed = words(tool, sub).join(" ");
        let offered = output(&mut zsh(&dir, &typed));
        assert!(
            offered.lines().any(|l| l == flag),
            "zsh offered no {flag} for `{typed}`: {offered:?}"
        );
    }
    // p2p-discover takes a topic or a subcommand first: after a topic, its own flags.
    let offered = output(&mut zsh(&dir, "p2p-discover chat --"));
    assert!(offered.lines().any(|l| l == "--mdns"), "{offered:?}");
}

/// `zsh -f` running the driver, bounded so a completion that never returns fails.
fn zsh(dir: &Path, typed: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["30", "zsh", "-f", "-c", ZSH_DRIVER, "zsh"])
        .arg(dir)
        .arg(typed);
    cmd
}
