//! Pipelines between tools, joined by real pipes: what one tool prints, the next one
//! reads, with signatures surviving the trip.

use crate::common;
use crate::common::{DEADLINE, Running};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn tool(program: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command(program, home);
    cmd.current_dir(home).args(args);
    cmd
}

/// Runs `first | second` and returns the second's exit code and stdout.
fn pipe(mut first: Command, mut second: Command) -> (i32, String, String) {
    let mut upstream = common::Guard(
        first
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let from = upstream.0.stdout.take().unwrap();
    let mut downstream = common::Guard(
        second
            .stdin(Stdio::from(from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = downstream
        .wait_until(DEADLINE)
        .expect("the pipeline did not finish");
    let mut out = String::new();
    downstream
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    downstream
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    upstream.wait_until(DEADLINE);
    (status.code().unwrap(), out, err)
}

#[test]
fn discovered_signed_records_still_verify_with_keygen() {
    let home = common::tempdir();
    let id = common::make_key(home.path(), "alice.json");
    let mut tracker = Running::start(tool(
        &bin!("p2p-discover"),
        home.path(),
        &["tracker", "--bind", "127.0.0.1:0"],
    ));
    let url = tracker.wait_for(WAIT, |r| r["type"] == "listening")["announce_http"]
        .as_str()
        .unwrap()
        .to_owned();
    let _alice = Running::start(tool(
        &bin!("p2p-discover"),
        home.path(),
        &[
            "room",
            "--tracker",
            &url,
            "--announce",
            "4000",
            "--addr",
            "udp://192.0.2.5:4000",
            "-i",
            "alice.json",
        ],
    ));
    let found = (0..50).find_map(|_| {
        let (code, out, err) = pipe(
            tool(
                &bin!("p2p-discover"),
                home.path(),
                &["room", "--tracker", &url, "--count", "1", "--timeout", "2s"],
            ),
            tool(
                &bin!("p2p-keygen"),
                home.path(),
                &["verify", "--signer", &id],
            ),
        );
        (!out.is_empty()).then_some((code, out, err))
    });
    let (code, out, err) = found.expect("the tracker never handed out alice's record");
    assert_eq!(code, 0, "{err}");
    let record: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        record["via"], "tracker",
        "verify passes the line through unchanged"
    );
    assert_eq!(record["id"], id.as_str());
}

#[test]
fn discovered_peers_are_served_as_dns_and_read_back() {
    let home = common::tempdir();
    common::make_key(home.path(), "key.json");
    let record = common::run(
        tool(
            &bin!("p2p-keygen"),
            home.path(),
            &[
                "peer",
                "-i",
                "key.json",
                "--addr",
                "udp://198.51.100.7:4000",
                "--topic",
                "t",
            ],
        ),
        b"",
        DEADLINE,
    )
    .records()
    .remove(0);
    std::fs::write(
        home.path().join("boot.ndjson"),
        format!("{record}\n192.0.2.9:4001\n"),
    )
    .unwrap();
    let mut discover = tool(
        &bin!("p2p-discover"),
        home.path(),
        &["t", "--peers", "boot.ndjson"],
    );
    let dns = tool(
        &bin!("p2p-dns-rr"),
        home.path(),
        &["serve", "--zone", "peers.test", "--bind", "127.0.0.1:0"],
    );
    let mut upstream = common::Guard(
        discover
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let from_discover = Stdio::from(upstream.0.stdout.take().unwrap());
    let mut server = Running::start_reading(dns, from_discover);
    let addr = server.wait_for(WAIT, |r| r["type"] == "listening")["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("udp://")
        .to_owned();
    upstream
        .wait_until(DEADLINE)
        .expect("discover did not finish");
    let name = format!("{}.peers.test", record["id"].as_str().unwrap());
    let answer = (0..100)
        .find_map(|_| {
            let out = common::run(
                tool(
                    &bin!("p2p-dns-rr"),
                    home.path(),
                    &["query", &name, "--server", &addr],
                ),
                b"",
                DEADLINE,
            );
            let records = out.records();
            (out.code() == 0 && !records.is_empty()).then(|| records[0].clone())
        })
        .expect("the server never answered with the discovered peer");
    assert_eq!(
        answer["sig"], record["sig"],
        "the signed record survives discover | serve | query"
    );
    assert_eq!(answer["via"], "dns");
}
