//! `p2p`, the front command: the tool list, the role table, running `p2p NAME …`, and
//! the role line in every tool's `--help`.

use crate::common::{self, DEADLINE};

fn p2p(args: &[&str]) -> common::Finished {
    let home = common::tempdir();
    let mut cmd = common::command(&bin!("p2p"), home.path());
    cmd.args(args);
    common::run(cmd, b"", DEADLINE)
}

const TOOLS: [&str; 8] = [
    "p2p-keygen",
    "p2p-discover",
    "p2p-dns-rr",
    "p2p-dht",
    "p2p-punch",
    "p2p-relay",
    "p2p-pipe",
    "p2p-gossip",
];

#[test]
fn alone_it_lists_every_tool_and_roles_fill_the_table() {
    let out = p2p(&[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    for tool in TOOLS {
        assert!(
            out.text().contains(tool),
            "{tool} missing from:\n{}",
            out.text()
        );
    }
    let roles = p2p(&["roles", "--json"]).records();
    let named: Vec<&str> = roles.iter().map(|r| r["tool"].as_str().unwrap()).collect();
    assert_eq!(named, TOOLS);
    for layer in [
        "identity",
        "discovery",
        "peer routing",
        "stream",
        "content routing",
    ] {
        assert!(roles.iter().any(|r| r["role"] == layer), "no {layer} row");
    }
    let table = p2p(&["roles"]).text();
    assert!(table.starts_with("role "), "{table}");
    assert_eq!(table.lines().count(), 2 + TOOLS.len(), "{table}");
}

#[test]
fn p2p_name_runs_the_tool() {
    let out = p2p(&["keygen", "new"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let records = out.records();
    assert_eq!(records[0]["type"], "identity");
    assert_eq!(records[0]["secret_key"].as_str().unwrap().len(), 64);
    let wrong = p2p(&["dht", "no-such-command"]);
    assert_eq!(wrong.code(), 2, "the tool's own usage status comes back");
    let unknown = p2p(&["nope"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown.stderr.contains("'nope' is not a p2p command"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn every_tools_help_names_its_role() {
    let home = common::tempdir();
    for (tool, path, role) in [
        ("p2p-keygen", bin!("p2p-keygen"), "identity"),
        ("p2p-discover", bin!("p2p-discover"), "discovery"),
        ("p2p-dns-rr", bin!("p2p-dns-rr"), "discovery"),
        ("p2p-dht", bin!("p2p-dht"), "peer routing"),
        ("p2p-punch", bin!("p2p-punch"), "peer routing"),
        ("p2p-relay", bin!("p2p-relay"), "peer routing"),
        ("p2p-pipe", bin!("p2p-pipe"), "stream"),
        ("p2p-gossip", bin!("p2p-gossip"), "content routing"),
    ] {
        let mut cmd = common::command(&path, home.path());
        cmd.arg("--help");
        let out = common::run(cmd, b"", DEADLINE);
        let first = out.text().lines().next().unwrap_or_default().to_owned();
        assert!(first.starts_with(&format!("{tool} · {role}: ")), "{first}");
    }
}
