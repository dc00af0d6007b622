//! Stopping long-running tools (issue 10, issue 16 item 13): SIGINT ends every
//! server and watcher with 130, SIGTERM with 143, also when a script started it in
//! the background (where the shell ignores SIGINT for it); a server or watcher whose
//! stdout reader went away ends itself within a second even when idle.

use crate::common::{self, Guard, Running};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// Every long-running tool, with arguments that keep it running on loopback, and
/// the scratch directory some of them read.
fn servers(home: &Path, dht_node: &str) -> Vec<(PathBuf, Vec<String>)> {
    let peers = home.join("peers.ndjson");
    std::fs::write(
        &peers,
        "{\"type\":\"peer\",\"addrs\":[\"udp://127.0.0.1:4000\"],\"topic\":\"t\"}\n",
    )
    .unwrap();
    let list = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    vec![
        (
            crate::bin!("p2p-dns-rr"),
            list(&["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"]),
        ),
        (
            crate::bin!("p2p-punch"),
            list(&["serve", "--bind", "127.0.0.1:0"]),
        ),
        (
            crate::bin!("p2p-discover"),
            list(&["tracker", "--bind", "127.0.0.1:0"]),
        ),
        (
            crate::bin!("p2p-discover"),
            list(&[
                "t",
                "--watch",
                "--peers",
                peers.to_str().unwrap(),
                "--dht",
                "--bootstrap",
                dht_node,
            ]),
        ),
        (
            crate::bin!("p2p-dht"),
            list(&["serve", "--bind", "127.0.0.1:0", "--bootstrap", dht_node]),
        ),
        (crate::bin!("p2p-dht"), list(&["testnet", "2"])),
    ]
}

/// A local DHT for the tools that join one; holds it while alive.
fn testnet(home: &Path) -> (Running, String) {
    let mut cmd = common::command(&crate::bin!("p2p-dht"), home);
    cmd.args(["testnet", "2"]);
    let mut net = Running::start(cmd);
    let boot = net.wait_for(WAIT, |r| r["type"] == "bootstrap");
    let node = boot["addrs"][0].as_str().unwrap().to_owned();
    (net, node)
}

/// Starts `program args` in the background of a non-interactive `sh` (which makes
/// it ignore SIGINT, as scripts do), waits for its first record, sends `signal` and
/// returns the exit status `sh` reports for it.
fn stopped_from_a_script(home: &Path, program: &Path, args: &[String], signal: &str) -> i32 {
    let mut cmd = common::command(Path::new("sh"), home);
    cmd.current_dir(home)
        .args(["-c", "\"$@\" & echo \"{\\\"pid\\\":$!}\"; wait $!", "sh"])
        .arg(program)
        .args(args);
    let mut sh = Running::start(cmd);
    // The program's first record may come before or after the shell's pid line.
    let (mut pid, mut ready) = (None, false);
    while pid.is_none() || !ready {
        let record = sh.wait_for(WAIT, |r| r["pid"].is_u64() || r["type"].is_string());
        match record["pid"].as_u64() {
            Some(n) => pid = Some(n.to_string()),
            None => ready = true,
        }
    }
    let pid = pid.unwrap();
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(
        killed.success(),
        "{} {args:?} ended before SIG{signal}",
        program.display()
    );
    let status = sh
        .wait(WAIT)
        .unwrap_or_else(|| panic!("{} {args:?} ignored SIG{signal}", program.display()));
    status.code().unwrap()
}

#[test]
fn sigint_and_sigterm_stop_every_server_with_130_and_143() {
    let home = common::tempdir();
    let (_net, node) = testnet(home.path());
    for (program, args) in servers(home.path(), &node) {
        for (signal, want) in [("INT", 130), ("TERM", 143)] {
            let code = stopped_from_a_script(home.path(), &program, &args, signal);
            assert_eq!(
                code,
                want,
                "{} {args:?} after SIG{signal}",
                program.display()
            );
        }
    }
}

#[test]
fn a_server_whose_reader_went_away_ends_within_a_second() {
    let home = common::tempdir();
    let (_net, node) = testnet(home.path());
    for (program, args) in servers(home.path(), &node) {
        let mut cmd = common::command(&program, home.path());
        cmd.current_dir(home.path())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = Guard(cmd.spawn().unwrap());
        let stdout = child.0.stdout.take().unwrap();
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        let record: Value = common::parse_record(&first);
        assert!(record["type"].is_string(), "{first}");
        // The reader (and with it the pipe's only read end) is gone now, as after
        // `| head -1`; the server has nothing more to write.
        let closed = Instant::now();
        let status = child
            .wait_until(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{} {args:?} ran on with nobody reading", program.display()));
        let took = closed.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "{} {args:?} took {took:?} to notice",
            program.display()
        );
        assert_eq!(status.code(), Some(0), "{} {args:?}", program.display());
    }
}
