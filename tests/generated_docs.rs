//! The committed man pages and completions match what the binaries generate.
//!
//! A stale file is rewritten and the test fails, so a forgotten regeneration fails
//! CI and one local test run fixes it.

use crate::common;
use std::path::PathBuf;

/// Every tool binary, by name and path.
fn tools() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("p2p-keygen", bin!("p2p-keygen")),
        ("p2p-dns-rr", bin!("p2p-dns-rr")),
        ("p2p-dht", bin!("p2p-dht")),
        ("p2p-discover", bin!("p2p-discover")),
        ("p2p-punch", bin!("p2p-punch")),
        ("p2p", bin!("p2p")),
        ("p2p-relay", bin!("p2p-relay")),
        ("p2p-pipe", bin!("p2p-pipe")),
        ("p2p-gossip", bin!("p2p-gossip")),
    ]
}

#[test]
fn every_binary_in_the_manifest_is_covered() {
    let manifest = std::fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| section.lines().find_map(|l| l.strip_prefix("name = ")))
        .map(|name| name.trim_matches('"'))
        .collect();
    bins.sort_unstable();
    let mut listed: Vec<&str> = tools().iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(bins, listed, "add the new tool to tools() above");
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let root = common::repo_root();
    let home = common::tempdir();
    let mut stale = Vec::new();
    for (name, path) in tools() {
        for (kind, file) in [
            ("man", root.join("man").join(format!("{name}.1"))),
            (
                "bash",
                root.join("completions").join(format!("{name}.bash")),
            ),
            ("zsh", root.join("completions").join(format!("_{name}"))),
            (
                "fish",
                root.join("completions").join(format!("{name}.fish")),
            ),
        ] {
            let mut cmd = common::command(&path, home.path());
            cmd.args(["--generate", kind]);
            let out = common::run(cmd, b"", common::DEADLINE);
            assert_eq!(out.code(), 0, "{name} --generate {kind}: {}", out.stderr);
            assert!(
                !out.stdout.is_empty(),
                "{name} --generate {kind} printed nothing"
            );
            if std::fs::read(&file).ok().as_deref() != Some(&out.stdout[..]) {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &out.stdout).unwrap();
                stale.push(file.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these generated files were stale and have been rewritten; commit them:\n{}",
        stale.join("\n")
    );
}
