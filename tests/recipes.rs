//! The recipes of `scripts/examples/`, each run as a user would run it (the suite's
//! binaries first on `$PATH`), on loopback, a local DHT testnet, or network
//! namespaces, with their output checked, so no recipe rots.

use crate::common;
use crate::common::netns::Pair;
use crate::common::{DEADLINE, Running};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// `bash scripts/examples/NAME ARGS` in the suite's clean environment, with the
/// toolbox first on `$PATH` and in its own process group (so [`Recipe`] can stop a
/// whole pipeline).
fn recipe(home: &Path, name: &str, args: &[&str]) -> Command {
    let mut cmd = common::command(Path::new("bash"), home);
    cmd.arg(script(name))
        .args(args)
        .current_dir(home)
        .env("PATH", path())
        .process_group(0);
    cmd
}

fn script(name: &str) -> String {
    common::repo_root()
        .join("scripts/examples")
        .join(name)
        .display()
        .to_string()
}

fn path() -> String {
    let bins = bin!("p2p-pipe").parent().unwrap().to_path_buf();
    format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A recipe running in the background; dropping it stops its whole process group.
struct Recipe(Running);

impl Drop for Recipe {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.pid())])
            .status();
        let _ = self.0.wait(Duration::from_secs(5));
    }
}

/// Waits until the recipe's stderr contains `text`; returns the stderr.
fn stderr_until(r: &Recipe, text: &str) -> String {
    let end = Instant::now() + WAIT;
    loop {
        let err = r.0.stderr();
        if err.contains(text) {
            return err;
        }
        assert!(Instant::now() < end, "no {text:?} on stderr:\n{err}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A DHT testnet of 5 nodes on loopback and its `$P2P_DHT_BOOTSTRAP` value.
fn testnet(home: &Path) -> (Running, String) {
    let mut cmd = common::command(&bin!("p2p-dht"), home);
    cmd.args(["testnet", "5", "--bind", "127.0.0.1"]);
    let mut net = Running::start(cmd);
    let bootstrap = net.wait_for(DEADLINE, |r| r["type"] == "bootstrap")["env"]
        .as_str()
        .unwrap()
        .trim_start_matches("P2P_DHT_BOOTSTRAP=")
        .to_owned();
    (net, bootstrap)
}

/// A port that was free a moment ago (UDP or TCP).
fn have_jq(test: &str) -> bool {
    common::have(test, "jq")
}

#[test]
fn dht_smoke_passes_on_a_working_dht_and_fails_on_a_dead_one() {
    let test = "dht_smoke_passes_on_a_working_dht_and_fails_on_a_dead_one";
    if !have_jq(test) {
        return;
    }
    let home = common::tempdir();
    let (_net, bootstrap) = testnet(home.path());
    let mut ok = recipe(home.path(), "dht-smoke", &[]);
    ok.env("P2P_DHT_BOOTSTRAP", &bootstrap);
    let out = common::run(ok, b"", WAIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("dht-smoke: ok"), "{}", out.stderr);
    // Nobody listens on the discard port of loopback: the smoke test must say so.
    let mut dead = recipe(home.path(), "dht-smoke", &["127.0.0.1:9"]);
    dead.env("SMOKE_TIMEOUT", "3s");
    let out = common::run(dead, b"", WAIT);
    assert_ne!(out.code(), 0, "a dead DHT passed: {}", out.stderr);
    assert!(out.stderr.contains("dht-smoke:"), "{}", out.stderr);
    // And without any DHT named it refuses rather than using the public one.
    let out = common::run(recipe(home.path(), "dht-smoke", &[]), b"", WAIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
}

/// A TCP echo server (standing in for sshd): returns what it reads, then closes.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn ssh_by_peer_id_reaches_a_forwarded_tcp_service_through_a_proxy_command() {
    let test = "ssh_by_peer_id_reaches_a_forwarded_tcp_service_through_a_proxy_command";
    if !have_jq(test) {
        return;
    }
    let home = common::tempdir();
    let id = common::make_key(home.path(), "server.json");
    common::make_key(home.path(), "laptop.json");
    let (_net, bootstrap) = testnet(home.path());
    let mut serve = recipe(home.path(), "ssh-by-peer-id", &["serve", "server.json"]);
    serve
        .env("P2P_DHT_BOOTSTRAP", &bootstrap)
        .env("TARGET", format!("tcp://{}", echo_server()));
    let server = Recipe(Running::start(serve));
    stderr_until(&server, "ssh-by-peer-id: serving");
    // What ssh runs for `ProxyCommand ssh-by-peer-id proxy %h` with %h = ID.p2p.
    for round in ["first ssh session", "second ssh session"] {
        let mut proxy = Command::new("sh");
        proxy
            .args([
                "-c",
                &format!("bash {} proxy %h", script("ssh-by-peer-id"))
                    .replace("%h", &format!("{id}.p2p")),
            ])
            .current_dir(home.path())
            .env_remove("P2P_IDENTITY")
            .env("HOME", home.path())
            .env("P2P_DHT_BOOTSTRAP", &bootstrap)
            .env("PATH", path());
        let out = common::run(proxy, round.as_bytes(), WAIT);
        assert_eq!(out.code(), 0, "{round}: {}", out.stderr);
        assert_eq!(out.stdout, round.as_bytes(), "{round}: the echo differs");
    }
}

/// A tracker on loopback (`p2p-discover tracker`) and its HTTP announce URL.
fn tracker(home: &Path) -> (Running, String) {
    let mut cmd = common::command(&bin!("p2p-discover"), home);
    cmd.args(["tracker", "--bind", "127.0.0.1:0"]);
    let mut tracker = Running::start(cmd);
    let url = tracker.wait_for(DEADLINE, |r| r["type"] == "listening")["announce_http"]
        .as_str()
        .unwrap()
        .to_owned();
    (tracker, url)
}

#[test]
fn share_pictures_fetches_by_topic_and_takes_a_tampered_file_from_the_other_sharer() {
    let test = "share_pictures_fetches_by_topic_and_takes_a_tampered_file_from_the_other_sharer";
    if !have_jq(test) || !common::have(test, "socat") {
        return;
    }
    let home = common::tempdir();
    let files = [
        ("beach.jpg", vec![1u8; 300_000]),
        ("cat.png", b"\x89PNG not really a cat".to_vec()),
        ("sunset.jpg", (0..=255u8).cycle().take(70_000).collect()),
    ];
    let (_tracker, url) = tracker(home.path());
    // Two sharers of the same pictures on topic "holiday", each from its own folder.
    let mut sharers = Vec::new();
    for name in ["anna", "bert"] {
        let id = common::make_key(home.path(), &format!("{name}.json"));
        let dir = home.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (file, data) in &files {
            std::fs::write(dir.join(file), data).unwrap();
        }
        let key = format!("{name}.json");
        let mut serve = recipe(
            home.path(),
            "share-pictures",
            &["serve", &key, name, "holiday"],
        );
        serve.env("TRACKER", &url);
        let sharer = Recipe(Running::start(serve));
        stderr_until(&sharer, "3 files indexed and signed");
        sharers.push((id, dir, sharer));
    }
    // The fetcher tries sharers in order of peer id: the first one's copy of cat.png
    // changes after it was indexed and signed, so the fetcher must refuse it there.
    sharers.sort_by(|a, b| a.0.cmp(&b.0));
    let (bad_id, bad_dir, _) = &sharers[0];
    let good_id = sharers[1].0.clone();
    std::fs::write(bad_dir.join("cat.png"), b"\x89PNG a dog").unwrap();
    let fetch = |out: &str| {
        let mut cmd = recipe(home.path(), "share-pictures", &["fetch", "holiday", out]);
        cmd.env("TRACKER", &url);
        common::run(cmd, b"", WAIT)
    };
    let out = fetch("got");
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("REFUSED cat.png from {bad_id}")),
        "the tampered copy was not refused by name: {}",
        out.stderr
    );
    // The recipe's own records (not a p2p-* tool's, so not in docs/ndjson.md's table).
    let fetched: Vec<serde_json::Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(fetched.len(), 3, "{}", out.text());
    for (name, data) in &files {
        let got = std::fs::read(home.path().join("got").join(name)).unwrap();
        assert_eq!(&got, data, "{name} arrived different");
    }
    let cat = fetched.iter().find(|r| r["name"] == "cat.png").unwrap();
    assert_eq!(cat["from"], good_id.as_str(), "cat.png: {cat}");
    let beach = fetched.iter().find(|r| r["name"] == "beach.jpg").unwrap();
    assert_eq!(
        beach["from"],
        bad_id.as_str(),
        "the first sharer was not asked first"
    );
    // With the good sharer gone, nobody has a good cat.png: refused, not kept, exit 1.
    drop(sharers.pop());
    let out = fetch("again");
    assert_eq!(
        out.code(),
        1,
        "a tampered file was accepted: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("no good copy of: cat.png"),
        "{}",
        out.stderr
    );
    assert!(
        !home.path().join("again/cat.png").exists(),
        "the tampered file was kept"
    );
    assert!(
        home.path().join("again/beach.jpg").exists(),
        "the good files were lost"
    );
}

#[test]
fn nat_check_gives_a_verdict_for_a_punch_that_works_and_one_that_cannot() {
    let test = "nat_check_gives_a_verdict_for_a_punch_that_works_and_one_that_cannot";
    if !have_jq(test) {
        return;
    }
    let home = common::tempdir();
    let mut cmd = common::command(&bin!("p2p-punch"), home.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--alt", "127.0.0.2:0"]);
    let mut server = Running::start(cmd);
    let addr = server.wait_for(DEADLINE, |r| r["type"] == "listening")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = common::run(recipe(home.path(), "nat-check", &[&addr]), b"", WAIT);
    assert_eq!(out.code(), 0, "{}\n{}", out.text(), out.stderr);
    let text = out.text();
    assert!(text.contains("\"type\":\"nat\""), "{text}");
    assert!(text.contains("\"type\":\"punch\""), "{text}");
    assert!(
        text.contains("verdict: NAT is ") && text.contains("punch ok"),
        "{text}"
    );
    // A peer that never registered cannot be punched to: the verdict says what to do.
    let absent = common::make_key(home.path(), "absent.json");
    let out = common::run(
        recipe(home.path(), "nat-check", &[&addr, &absent]),
        b"",
        WAIT,
    );
    assert_eq!(out.code(), 1, "{}\n{}", out.text(), out.stderr);
    assert!(out.text().contains("punch FAILED"), "{}", out.text());
}

#[test]
fn swarm_dns_serves_the_peers_a_dht_topic_finds() {
    let test = "swarm_dns_serves_the_peers_a_dht_topic_finds";
    if !have_jq(test) {
        return;
    }
    let home = common::tempdir();
    let (_net, bootstrap) = testnet(home.path());
    let mut announcers = Vec::new();
    for port in ["4101", "4102"] {
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(["announce", "--topic", "web", "--port", port])
            .env("P2P_DHT_BOOTSTRAP", &bootstrap);
        let out = common::run(cmd, b"", WAIT);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        announcers.push(port);
    }
    // Port 0: the server picks a port free for both UDP and TCP and says which (a
    // port picked here and bound later was sometimes taken by then).
    let mut cmd = recipe(
        home.path(),
        "swarm-dns",
        &["web", "swarm.test", "127.0.0.1:0"],
    );
    cmd.env("P2P_DHT_BOOTSTRAP", &bootstrap);
    let mut server = Recipe(Running::start(cmd));
    let listening = server.0.wait_for(WAIT, |r| r["type"] == "listening");
    let dns = listening["addr"]
        .as_str()
        .and_then(|a| a.strip_prefix("udp://"))
        .expect("the listening record's udp:// address")
        .to_owned();
    // Ask until both announced ports are served (discovery streams them in).
    let end = Instant::now() + WAIT;
    loop {
        let mut q = common::command(&bin!("p2p-dns-rr"), home.path());
        q.args([
            "query",
            "_p2p._udp.swarm.test",
            "--type",
            "srv",
            "--server",
            &dns,
        ]);
        let out = common::run(q, b"", DEADLINE);
        let text = out.text();
        if announcers.iter().all(|p| text.contains(&format!(":{p}"))) {
            break;
        }
        assert!(
            Instant::now() < end,
            "the swarm's ports never appeared: {text}\n{}",
            server.0.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn lan_chat_carries_a_line_between_two_hosts_found_by_mdns() {
    let test = "lan_chat_carries_a_line_between_two_hosts_found_by_mdns";
    if !have_jq(test) {
        return;
    }
    let Some(lab) = Pair::new(test) else {
        return;
    };
    let home = common::tempdir();
    common::make_key(home.path(), "a.json");
    common::make_key(home.path(), "b.json");
    let start = |i: usize, key: &str| {
        let mut cmd = lab.command(i, Path::new("bash"), home.path());
        cmd.args([&script("lan-chat"), key, "lab"])
            .current_dir(home.path())
            .env("PATH", path())
            .env("INTERFACE", &lab.iface[i])
            .process_group(0);
        Recipe(Running::start(cmd))
    };
    let mut a = start(0, "a.json");
    let mut b = start(1, "b.json");
    // Until the two have found each other a line may have nowhere to go: say it again.
    let end = Instant::now() + WAIT;
    loop {
        a.0.send_line("hello from a");
        if let Some(line) = b.0.next_line(Duration::from_secs(2)) {
            assert!(line.ends_with(": hello from a"), "b printed {line:?}");
            break;
        }
        assert!(
            Instant::now() < end,
            "b never got a's line: {}",
            b.0.stderr()
        );
    }
    b.0.send_line("and hello from b");
    let end = Instant::now() + WAIT;
    loop {
        let line = a.0.next_line(Duration::from_secs(2));
        if line
            .as_deref()
            .is_some_and(|l| l.ends_with(": and hello from b"))
        {
            break;
        }
        assert!(
            Instant::now() < end,
            "a never got b's line: {}",
            a.0.stderr()
        );
    }
}
