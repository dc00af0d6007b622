//! The command-line contract across the toolbox (issue 10): what one tool prints,
//! every other tool's address flags accept.

use crate::common::{self, DEADLINE, Running};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn tool(program: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command(program, home);
    cmd.current_dir(home).args(args);
    cmd
}

fn addr_of(record: &Value) -> String {
    record["addr"].as_str().unwrap().to_owned()
}

/// `udp://127.0.0.1:5` → `127.0.0.1:5`: the bare form every flag also takes.
fn bare(addr: &str) -> String {
    addr.split_once("://")
        .map_or(addr, |(_, rest)| rest)
        .to_owned()
}

/// Runs `args` and fails unless the address was accepted: no usage error, nothing
/// said about the address's form. Returns the exit code.
fn accepted(program: &Path, home: &Path, args: &[&str]) -> i32 {
    let out = common::run(tool(program, home, args), b"", DEADLINE);
    assert!(
        out.code() != 2 && !out.stderr.contains("is not an address"),
        "{args:?} refused an address: status {}: {}",
        out.code(),
        out.stderr
    );
    out.code()
}

#[test]
fn every_printed_address_is_accepted_by_every_address_flag() {
    let home = common::tempdir();
    let home = home.path();
    let dns_rr = crate::bin!("p2p-dns-rr");
    let punch = crate::bin!("p2p-punch");
    let dht = crate::bin!("p2p-dht");
    let discover = crate::bin!("p2p-discover");

    let mut dns = Running::start(tool(
        &dns_rr,
        home,
        &[
            "serve",
            "--zone",
            "peers.test",
            "--bind",
            "udp://127.0.0.1:0",
        ],
    ));
    let dns_addr = addr_of(&dns.wait_for(WAIT, |r| r["type"] == "listening"));
    let mut stun = Running::start(tool(
        &punch,
        home,
        &["serve", "--bind", "udp://127.0.0.1:0"],
    ));
    let stun_addr = addr_of(&stun.wait_for(WAIT, |r| r["type"] == "listening"));
    let mut tracker = Running::start(tool(
        &discover,
        home,
        &["tracker", "--bind", "tcp://127.0.0.1:0"],
    ));
    let tracker_addr = addr_of(&tracker.wait_for(WAIT, |r| r["type"] == "listening"));
    let mut testnet = Running::start(tool(
        &dht,
        home,
        &["testnet", "3", "--bind", "udp://127.0.0.1:0"],
    ));
    let boot = testnet.wait_for(WAIT, |r| r["type"] == "bootstrap");
    let node_addr = boot["addrs"][0].as_str().unwrap().to_owned();
    let relay_bin = crate::bin!("p2p-relay");
    let mut relay = Running::start(tool(
        &relay_bin,
        home,
        &[
            "serve",
            "--bind",
            "udp://127.0.0.1:0",
            "--user",
            "u:p",
            "--allow-loopback-peers",
        ],
    ));
    let relay_addr = addr_of(&relay.wait_for(WAIT, |r| r["type"] == "listening"));
    for addr in [&dns_addr, &stun_addr, &node_addr, &relay_addr] {
        assert!(addr.starts_with("udp://127.0.0.1:"), "{addr}");
    }
    assert!(
        tracker_addr.starts_with("tcp://127.0.0.1:"),
        "{tracker_addr}"
    );

    clients_take(home, &dns_addr, &stun_addr, &node_addr);
    relay_and_pipe_take(home, &stun_addr, &relay_addr);
    // Every server's --bind takes every other server's printed address (and then
    // finds it taken: status 1, having tried exactly that address).
    let pipe = crate::bin!("p2p-pipe");
    common::make_key(home, "key.json");
    let binds: [(&Path, &[&str]); 6] = [
        (&dns_rr, &["serve", "--zone", "peers.test", "--bind"]),
        (&punch, &["serve", "--bind"]),
        (&discover, &["tracker", "--bind"]),
        (&dht, &["serve", "--bind"]),
        (&relay_bin, &["serve", "--user", "u:p", "--bind"]),
        (&pipe, &["listen", "-i", "key.json", "--bind"]),
    ];
    for (program, args) in binds {
        for addr in [
            &dns_addr,
            &stun_addr,
            &tracker_addr,
            &node_addr,
            &relay_addr,
        ] {
            let mut args = args.to_vec();
            args.push(addr);
            let code = accepted(program, home, &args);
            assert_eq!(code, 1, "{args:?} should find {addr} taken");
        }
    }
    // The punch client binds too, from any form.
    accepted(
        &punch,
        home,
        &[
            "stun",
            &stun_addr,
            "--bind",
            "udp://127.0.0.1:0",
            "--timeout",
            "2s",
        ],
    );
    for server in [&mut dns, &mut stun, &mut tracker, &mut testnet, &mut relay] {
        server.terminate();
    }
}

/// The client flags (`--server`, `--dns-server`, `--stun`, `--bootstrap`, …) take
/// the servers' printed addresses, and the bare `host:port`.
fn clients_take(home: &Path, dns_addr: &str, stun_addr: &str, node_addr: &str) {
    let dns_rr = crate::bin!("p2p-dns-rr");
    let punch = crate::bin!("p2p-punch");
    let dht = crate::bin!("p2p-dht");
    let discover = crate::bin!("p2p-discover");
    for form in [dns_addr.to_owned(), bare(dns_addr)] {
        let code = accepted(&dns_rr, home, &["query", "x.peers.test", "--server", &form]);
        assert!(code <= 1, "query --server {form}: {code}");
        accepted(
            &discover,
            home,
            &[
                "t",
                "--dns",
                "x.peers.test",
                "--dns-server",
                &form,
                "--timeout",
                "1s",
            ],
        );
    }
    for form in [stun_addr.to_owned(), bare(stun_addr)] {
        assert_eq!(
            accepted(&punch, home, &["stun", &form, "--timeout", "2s"]),
            0
        );
        accepted(&punch, home, &["nat", "--server", &form, "--timeout", "2s"]);
        // With stdin empty, connect ends once it printed its candidate, which it
        // learned from the STUN server named.
        let out = common::run(
            tool(
                &punch,
                home,
                &[
                    "connect",
                    "--signal",
                    "stdio",
                    "--stun",
                    &form,
                    "--timeout",
                    "2s",
                ],
            ),
            b"",
            DEADLINE,
        );
        let candidate = &out.records()[0];
        assert_eq!(candidate["type"], "candidate", "{}", out.stderr);
        assert!(candidate["observed"].is_string(), "{candidate}");
    }
    for form in [node_addr.to_owned(), bare(node_addr)] {
        assert_eq!(accepted(&dht, home, &["ping", &form]), 0, "ping {form}");
        accepted(
            &dht,
            home,
            &[
                "get-peers",
                "--topic",
                "x",
                "--bootstrap",
                &form,
                "--timeout",
                "3s",
            ],
        );
        accepted(
            &discover,
            home,
            &["t", "--dht", "--bootstrap", &form, "--timeout", "2s"],
        );
    }
}

/// p2p-relay's and p2p-pipe's flags read addresses with the same parser: the relay's
/// printed address (and bare, and `turn://`, `turn:`) reaches it; the rendezvous and
/// STUN flags of p2p-pipe take the STUN server's printed address and the bare form.
fn relay_and_pipe_take(home: &Path, stun_addr: &str, relay_addr: &str) {
    let relay = crate::bin!("p2p-relay");
    let pipe = crate::bin!("p2p-pipe");
    let hostport = bare(relay_addr);
    for form in [
        relay_addr.to_owned(),
        hostport.clone(),
        format!("turn://{hostport}"),
        format!("turn:{hostport}?transport=udp"),
    ] {
        let args = [
            "probe",
            &form,
            "--user",
            "u:p",
            "--bind",
            "udp://127.0.0.1:0",
        ];
        assert_eq!(accepted(&relay, home, &args), 0, "probe {form}");
    }
    let nobody = common::make_key(home, "nobody.json");
    for form in [stun_addr.to_owned(), bare(stun_addr)] {
        accepted(
            &pipe,
            home,
            &[
                "connect",
                &nobody,
                "--rendezvous",
                &form,
                "--no-relay",
                "--timeout",
                "1s",
                "--bind",
                "udp://127.0.0.1:0",
            ],
        );
        // With stdin empty, connect ends (status 2: no candidate came) once it
        // printed its own, which it learned from the STUN server named.
        let out = common::run(
            tool(
                &pipe,
                home,
                &[
                    "connect",
                    &nobody,
                    "--signal",
                    "stdio",
                    "--stun",
                    &form,
                    "--relay",
                    relay_addr,
                    "--timeout",
                    "1s",
                ],
            ),
            b"",
            DEADLINE,
        );
        assert!(!out.stderr.contains("is not"), "{}", out.stderr);
        let text = out.text();
        let candidate: Value = serde_json::from_str(text.lines().next().unwrap_or("{}")).unwrap();
        assert_eq!(candidate["type"], "candidate", "{}", out.stderr);
        assert!(candidate["observed"].is_string(), "{candidate}");
    }
}

#[test]
fn address_errors_say_what_was_wrong() {
    let home = common::tempdir();
    let out = common::run(
        tool(
            &crate::bin!("p2p-dns-rr"),
            home.path(),
            &["query", "x.test", "--server", "127.0.0.1:99999"],
        ),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("bad port '99999'"), "{}", out.stderr);
    let out = common::run(
        tool(
            &crate::bin!("p2p-punch"),
            home.path(),
            &["stun", "udp://garbage line"],
        ),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("'udp://garbage line' is not an address"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dead_bootstrap_is_no_dht_node_answered_and_a_timeout() {
    let home = common::tempdir();
    let home = home.path();
    let key = home.join("key.json");
    common::make_key(home, "key.json");
    let id = common::make_key(home, "other.json");
    let dead = ["--bootstrap", "127.0.0.1:9", "--timeout", "10s"];
    let dht = crate::bin!("p2p-dht");
    let key = key.to_str().unwrap();
    let cases: [(&Path, Vec<&str>); 6] = [
        (&dht, vec!["get-peers", "--topic", "x"]),
        (&dht, vec!["announce", "--topic", "x", "-p", "4000"]),
        (
            &dht,
            vec!["get", "0000000000000000000000000000000000000000"],
        ),
        (
            &dht,
            vec!["publish", "-i", key, "--addr", "udp://127.0.0.1:4000"],
        ),
        (&dht, vec!["resolve", &id]),
        (&crate::bin!("p2p-discover"), vec!["x", "--dht"]),
    ];
    for (program, mut args) in cases {
        args.extend(dead);
        let out = common::run(tool(program, home, &args), b"", DEADLINE);
        assert_eq!(out.code(), 3, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("no DHT node answered (asked 1: 127.0.0.1:9)"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn discover_out_of_time_with_a_silent_dns_server_is_a_timeout() {
    let home = common::tempdir();
    // A socket that takes the queries and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let out = common::run(
        tool(
            &crate::bin!("p2p-discover"),
            home.path(),
            &[
                "x",
                "--dns",
                "x.peers.test",
                "--dns-server",
                &server,
                "--timeout",
                "1s",
            ],
        ),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_closed_stun_port_is_refused_at_once_not_udp_blocked() {
    let home = common::tempdir();
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let server = format!("127.0.0.1:{port}");
    let punch = crate::bin!("p2p-punch");
    for args in [
        vec!["stun", &server, "--timeout", "5s"],
        vec!["nat", "--server", &server, "--timeout", "5s"],
    ] {
        let started = std::time::Instant::now();
        let out = common::run(tool(&punch, home.path(), &args), b"", DEADLINE);
        assert_eq!(out.code(), 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("refused (ICMP port unreachable"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.text().contains("udp-blocked"), "{}", out.text());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn timeouts_exit_3_within_a_few_hundred_ms_of_the_budget() {
    let home = common::tempdir();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let peer = common::make_key(home.path(), "peer.json");
    let cases: [(PathBuf, Vec<&str>); 4] = [
        (
            crate::bin!("p2p-punch"),
            vec!["connect", &peer, "--rendezvous", &server],
        ),
        (crate::bin!("p2p-punch"), vec!["stun", &server]),
        (crate::bin!("p2p-punch"), vec!["nat", "--server", &server]),
        (
            crate::bin!("p2p-dns-rr"),
            vec!["query", "x.test", "--server", &server],
        ),
    ];
    for (program, mut args) in cases {
        args.extend(["--timeout", "2s"]);
        let started = std::time::Instant::now();
        let out = common::run(tool(&program, home.path(), &args), b"", DEADLINE);
        let took = started.elapsed();
        assert_eq!(out.code(), 3, "{args:?}: {}", out.stderr);
        assert!(
            took < Duration::from_millis(2400),
            "{args:?} took {took:?} for a 2s budget"
        );
    }
}

#[test]
fn the_records_table_matches_the_docs_and_names_every_command() {
    use p2p_shared::cli::emits::EMITS;
    let listed: std::collections::HashSet<String> = EMITS
        .iter()
        .flat_map(|e| e.types.iter().map(|t| (*t).to_owned()))
        .collect();
    let documented = common::documented_types();
    let mut missing: Vec<_> = documented.difference(&listed).collect();
    let mut undocumented: Vec<_> = listed.difference(documented).collect();
    missing.sort();
    undocumented.sort();
    assert!(
        missing.is_empty() && undocumented.is_empty(),
        "docs/ndjson.md lists types no command prints: {missing:?}; \
         commands print types it does not list: {undocumented:?}"
    );
    let tools = [
        crate::bin!("p2p"),
        crate::bin!("p2p-keygen"),
        crate::bin!("p2p-dht"),
        crate::bin!("p2p-discover"),
        crate::bin!("p2p-dns-rr"),
        crate::bin!("p2p-punch"),
        crate::bin!("p2p-relay"),
        crate::bin!("p2p-gossip"),
        crate::bin!("p2p-pipe"),
    ];
    for tool in &tools {
        let name = tool.file_name().unwrap().to_string_lossy().into_owned();
        for (command, help) in crate::examples::pages(tool) {
            // A tool whose top level needs a subcommand prints nothing itself.
            if command == name && help.contains(&format!("Usage: {name} [OPTIONS] <COMMAND>")) {
                continue;
            }
            assert!(
                EMITS.iter().any(|e| e.command == command),
                "`{command}` is missing from p2p_shared::cli::emits::EMITS"
            );
        }
        let man =
            std::fs::read_to_string(common::repo_root().join(format!("man/{name}.1"))).unwrap();
        assert!(man.contains("RECORDS"), "man/{name}.1 has no RECORDS");
    }
}
