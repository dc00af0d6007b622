//! The README's first command, `bash scripts/demo`, run as a user runs it (without its
//! build step: the suite's binaries are put first on `$PATH`), so the demo never rots.

use crate::common;
use std::path::Path;
use std::time::Duration;

/// The demo's promise is "under a minute after the build"; the margin is for a busy
/// machine.
const DEMO_DEADLINE: Duration = Duration::from_secs(90);

#[test]
fn the_demo_runs_the_whole_toolbox_and_exits_zero() {
    let home = common::tempdir();
    let bins = bin!("p2p-pipe").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // `common::command` gives the suite's clean environment (no user identity, no
    // bootstrap list); the program is bash running the script.
    let mut demo = common::command(Path::new("bash"), home.path());
    demo.arg(common::repo_root().join("scripts/demo"))
        .env("PATH", path)
        .env("P2P_DEMO_NO_BUILD", "1");
    let out = common::run(demo, b"", DEMO_DEADLINE);
    let stdout = out.text();
    assert_eq!(
        out.code(),
        0,
        "the demo failed\nstdout:\n{stdout}\nstderr:\n{}",
        out.stderr
    );
    for (what, needle) in [
        ("the tampered line refused", "(exit status 1)"),
        ("the sealed message opened", "meet at the usual place"),
        (
            "the DHT testnet's bootstrap",
            "P2P_DHT_BOOTSTRAP=127.0.0.1:",
        ),
        ("a peer found by discovery", "\"type\":\"peer\""),
        ("a DNS answer", "\"via\":\"dns\""),
        ("the pipe's path event", "\"event\":\"path\""),
        ("the pipe closing cleanly", "\"event\":\"closed\""),
        ("the relayed path", "\"path\":\"relayed\""),
        ("a gossip message", "\"text\":\"carol says hello\""),
    ] {
        assert!(
            stdout.contains(needle),
            "no {what} ({needle}) in:\n{stdout}"
        );
    }
    // With dig installed, the demo asks it too, and it must get Alice's address.
    if common::have(
        "the_demo_runs_the_whole_toolbox_and_exits_zero (dig step)",
        "dig",
    ) {
        let mut lines = stdout.lines().skip_while(|l| !l.starts_with("$ dig "));
        assert!(
            lines.next().is_some(),
            "the demo did not ask dig:\n{stdout}"
        );
        assert_eq!(lines.next(), Some("127.0.0.1"), "dig's answer:\n{stdout}");
    }
    let sums: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("sha256 sent     "))
        .chain(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("sha256 received ")),
        )
        .collect();
    assert_eq!(sums.len(), 2, "no checksums in:\n{stdout}");
    assert_eq!(sums[0], sums[1], "the piped file arrived different");
    let relayed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("sha256 relayed  "));
    assert_eq!(relayed, Some(sums[0]), "the relayed file arrived different");
    assert!(
        out.stderr.contains("checksum ok"),
        "no checksum verdict:\n{}",
        out.stderr
    );
}

#[test]
fn install_docs_puts_man_pages_and_completions_where_the_shells_look() {
    let home = common::tempdir();
    let mut cmd = common::command(Path::new("bash"), home.path());
    cmd.arg(common::repo_root().join("scripts/install-docs"))
        .env_remove("XDG_DATA_HOME");
    let out = common::run(cmd, b"", common::DEADLINE);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let share = home.path().join(".local/share");
    for file in [
        share.join("man/man1/p2p-pipe.1"),
        share.join("man/man1/p2p.1"),
        share.join("bash-completion/completions/p2p-gossip"),
        share.join("zsh/site-functions/_p2p-dht"),
        home.path().join(".config/fish/completions/p2p-punch.fish"),
    ] {
        assert!(
            file.is_file(),
            "{} was not installed:\n{}",
            file.display(),
            out.text()
        );
    }
    let page = std::fs::read(share.join("man/man1/p2p-pipe.1")).unwrap();
    let source = std::fs::read(common::repo_root().join("man/p2p-pipe.1")).unwrap();
    assert_eq!(page, source, "the installed man page differs");
    let bad = common::command(Path::new("bash"), home.path())
        .arg(common::repo_root().join("scripts/install-docs"))
        .arg("--wrong")
        .status()
        .unwrap();
    assert_eq!(bad.code(), Some(2), "a bad argument was accepted");
}
