//! Every EXAMPLES line of every tool's `--help` (and so of the man pages, rendered
//! from the same text) runs, as written, and succeeds.
//!
//! The lines come from the real `--help` of all nine binaries and of every
//! subcommand. Each help page's examples run in order, as one shell session, each
//! line in its own `bash -c` with `set -o pipefail` (exported variables carry over to
//! the next line), in a directory of their own, inside a fresh network namespace
//! that has nothing but `lo`: no example can reach beyond this machine, and the
//! fixed ports the examples name cannot clash with anything else running. In that
//! namespace the documentation ranges 192.0.2.0/24, 198.51.100.0/24 and
//! 203.0.113.0/24 are local addresses (`ip route add local … dev lo`), so an example
//! that names `203.0.113.1:3478` binds or reaches exactly that.
//!
//! What a session starts with (the examples' headers name it): `key.json` and
//! `bob.json` (identities) with `$PEER_ID` and `$AUTHOR_ID` their ids; `$SECRET` (a
//! relay's shared secret); `$P2P_DHT_BOOTSTRAP` naming a local testnet of
//! five nodes; for the pages of `p2p-dns-rr publish`, Knot DNS at 192.0.2.53 serving
//! example.org and taking updates signed with `update.key`; the files of [`SETUP`]; `$HOME` the session directory; the toolbox
//! first on `PATH`.
//!
//! A line fails the test when it exits non-zero, runs longer than [`LINE_TIME`], or
//! prints a line that is not an NDJSON record of a type docs/ndjson.md lists, and
//! that the man page's RECORDS (`p2p_shared::cli::emits`) list for its command (checked
//! when the pipeline ends in a toolbox command that prints records, i.e. not in
//! `jq`, `dig`, `p2p-pipe`'s stream or `p2p-keygen open`'s plaintext). A line ending
//! in `&` is a server for the lines after it: it runs in the background, the next
//! line waits until it is ready (its first record, which is `listening` for every
//! server; its first stderr line when the line sends its stdout to a file), and when the page is done
//! it is stopped with SIGINT and must end with status 130 (or 0, if it was done).

use crate::common::{self, Finished, Running};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The longest one example line may take.
const LINE_TIME: Duration = Duration::from_secs(40);
/// The longest a background line may take to be ready.
const READY_TIME: Duration = Duration::from_secs(30);

/// Files every session directory starts with (beside `key.json`).
const SETUP: &str = r#"set -e
p2p-keygen id -i key.json | jq -r .id > peer_id
p2p-keygen peer -i key.json --addr udp://192.0.2.7:4000 --topic chat > peers.ndjson
printf '{"%s":"udp://192.0.2.8:4000"}\n' "$(cat peer_id)" > peers.json
printf '{"type":"peer","addrs":["udp://192.0.2.9:4000"],"topic":"chat"}\n' > more.ndjson
printf 'hello\nworld\n' > lines.txt
printf '{"type":"message","text":"hi"}\n' > lines.ndjson
cp peer_id peers.txt
p2p-keygen new -o bob.json | jq -r .id > author_id
mkdir -p dir && echo 'a file' > dir/file
"#;

/// The help pages of `tool`: its own and every subcommand's, as (command, text).
pub fn pages(tool: &Path) -> Vec<(String, String)> {
    let name = tool.file_name().unwrap().to_string_lossy().into_owned();
    let top = help(tool, &[]);
    let mut pages = vec![(name.clone(), top.clone())];
    for sub in subcommands(&top) {
        pages.push((format!("{name} {sub}"), help(tool, &[&sub])));
    }
    pages
}

fn help(tool: &Path, sub: &[&str]) -> String {
    let home = common::tempdir();
    let mut cmd = common::command(tool, home.path());
    cmd.args(sub).arg("--help").env("COLUMNS", "100");
    let out = common::run(cmd, b"", common::DEADLINE);
    assert_eq!(
        out.code(),
        0,
        "{} {sub:?} --help: {}",
        tool.display(),
        out.stderr
    );
    out.text()
}

/// The names under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The example command lines of a help page: the indented lines under a line that
/// starts with `Examples` (its heading ends with `:`), lines ending in `\` joined
/// with the next.
pub fn examples(help: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut header = false;
    let mut inside = false;
    let mut pending = String::new();
    for line in help.lines() {
        if !inside {
            // The heading may run over more than one line; it ends with `:`.
            header = header || line.starts_with("Example");
            inside = header && line.ends_with(':');
            continue;
        }
        if !line.starts_with("  ") {
            break;
        }
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    assert!(pending.is_empty(), "an example ends in a continuation");
    lines
}

/// The program that prints the pipeline's stdout, and whether that is NDJSON.
fn prints_records(line: &str) -> bool {
    let line = line.split(" #").next().unwrap_or(line);
    let last = line.rsplit(" | ").next().unwrap_or(line);
    let last = last.rsplit("&& ").next().unwrap_or(last).trim();
    let mut words = last.split_whitespace();
    let program = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    match program {
        "p2p" => rest.contains(&"--json"),
        "p2p-pipe" => false,
        // `open` prints the plaintext, `convert --to FORM` the bare form.
        "p2p-keygen" => match rest.first() {
            Some(&"open") => false,
            Some(&"convert") => !rest.contains(&"--to"),
            _ => true,
        },
        p => p.starts_with("p2p-"),
    }
}

/// The testnet every session has.
const TESTNET: &str = "p2p-dht testnet 5 --bind 127.0.0.1";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace with only `lo` (the documentation ranges local on it), a
/// session directory, and the servers every session has.
struct Lab {
    ns: String,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    background: Vec<(String, Running)>,
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args:?} failed");
}

impl Lab {
    fn new() -> Lab {
        let ns = format!(
            "p2px-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &ns]);
        let mut lab = Lab {
            ns,
            dir: common::tempdir(),
            env: Vec::new(),
            background: Vec::new(),
        };
        ip(&["-n", &lab.ns, "link", "set", "lo", "up"]);
        for net in ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] {
            ip(&["-n", &lab.ns, "route", "add", "local", net, "dev", "lo"]);
        }
        let bin_dir = crate::bin!("p2p").parent().unwrap().to_owned();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        lab.env.push(("PATH".into(), path));
        common::make_key(lab.dir.path(), "key.json");
        lab.finished("setup", SETUP);
        let id = std::fs::read_to_string(lab.dir.path().join("peer_id")).unwrap();
        lab.env.push(("PEER_ID".into(), id.trim().to_owned()));
        let author = std::fs::read_to_string(lab.dir.path().join("author_id")).unwrap();
        lab.env.push(("AUTHOR_ID".into(), author.trim().to_owned()));
        lab.env
            .push(("SECRET".into(), "examples-secret".to_owned()));
        let mut testnet = Running::start_reading(lab.bash(TESTNET), Stdio::null());
        let boot = testnet.wait_for(READY_TIME, |r| r["type"] == "bootstrap");
        lab.background.push((TESTNET.to_owned(), testnet));
        let env = boot["env"].as_str().expect("the testnet's bootstrap line");
        let (_, list) = env.split_once('=').unwrap();
        lab.env.push(("P2P_DHT_BOOTSTRAP".into(), list.to_owned()));
        lab
    }

    /// Knot DNS at 192.0.2.53:53, authoritative for example.org and taking RFC 2136
    /// updates signed with the TSIG key in `update.key`: the server the
    /// `p2p-dns-rr publish` examples update.
    fn start_knot(&mut self) {
        let dir = self.dir.path().join("knot");
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let secret = "ZXhhbXBsZXMtb25seS10c2lnLWtleS1mb3ItcDJw";
        let config = format!(
            "server:\n    rundir: \"{d}\"\n    listen: 192.0.2.53@53\n\
database:\n    storage: \"{d}\"\n\
key:\n  - id: update\n    algorithm: hmac-sha256\n    secret: {secret}\n\
acl:\n  - id: updates\n    key: update\n    action: update\n\
zone:\n  - domain: example.org\n    storage: \"{d}\"\n    file: example.org.zone\n    acl: updates\n"
        );
        std::fs::write(dir.join("knot.conf"), config).unwrap();
        std::fs::write(
            dir.join("example.org.zone"),
            "$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n",
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join("update.key"),
            format!("hmac-sha256:update:{secret}\n"),
        )
        .unwrap();
        let knot = Running::start_reading(
            self.bash(&format!("exec knotd -c {d}/knot.conf")),
            Stdio::null(),
        );
        self.background.push(("knotd".to_owned(), knot));
        // Ready when it answers for its zone.
        let end = Instant::now() + READY_TIME;
        loop {
            let out = common::run(
                self.bash("dig +short +time=1 +tries=1 @192.0.2.53 example.org SOA"),
                b"",
                LINE_TIME,
            );
            if !out.stdout.is_empty() {
                break;
            }
            assert!(Instant::now() < end, "knotd did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `bash -c SCRIPT` in the namespace and the session directory.
    fn bash(&self, script: &str) -> Command {
        let home = self.dir.path();
        let mut cmd = common::command(Path::new("ip"), home);
        cmd.args(["netns", "exec", &self.ns, "bash", "-c", script])
            .current_dir(home)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Runs `script` to its end; fails unless it exits 0.
    fn finished(&self, what: &str, script: &str) -> Finished {
        let out = common::run(self.bash(script), b"", LINE_TIME);
        assert!(
            out.status.success(),
            "`{what}` failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            out.stderr
        );
        out
    }

    /// One example line in the foreground.
    fn run_line(&self, line: &str) {
        let out = self.finished(line, &session_script(line));
        if prints_records(line) {
            let text = String::from_utf8_lossy(&out.stdout);
            for record in text.lines() {
                let record = check_record(line, record);
                check_emitted(line, &record);
            }
        }
    }

    /// Starts a background line and waits until it is ready; returns its first
    /// record (null when it sent its stdout elsewhere).
    fn start(&mut self, line: &str) -> serde_json::Value {
        let mut running = Running::start_reading(self.bash(&session_script(line)), Stdio::null());
        // Wait for stderr when stdout goes elsewhere or carries no records.
        let redirected = line.contains(" >") || !prints_records(line);
        let end = Instant::now() + READY_TIME;
        let ready = loop {
            assert!(
                Instant::now() < end,
                "`{line}` was not ready within {READY_TIME:?}: {}",
                running.stderr()
            );
            if redirected {
                if !running.stderr().is_empty() {
                    break serde_json::Value::Null;
                }
            } else if let Some(record) = running.next_line(Duration::from_millis(50)) {
                let record = check_record(line, &record);
                check_emitted(line, &record);
                break record;
            }
            if let Some(status) = running.wait(Duration::ZERO) {
                panic!(
                    "`{line}` ended ({status}) before it was ready: {}",
                    running.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.background.push((line.to_owned(), running));
        ready
    }

    /// Stops the background lines (SIGINT to each one's process group) and checks how
    /// they ended and what they printed.
    fn stop(&mut self) {
        while let Some((line, mut running)) = self.background.pop() {
            signal_group(&running, "INT");
            let status = running
                .wait(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("`{line}` did not stop on SIGINT"));
            assert!(
                matches!(status.code(), Some(0 | 130)) || status.signal() == Some(2),
                "`{line}` ended with {status} on SIGINT: {}",
                running.stderr()
            );
            if prints_records(&line) {
                while let Some(record) = running.next_line(Duration::from_millis(100)) {
                    check_emitted(&line, &check_record(&line, &record));
                }
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, running) in &self.background {
            signal_group(running, "KILL");
        }
        self.background.clear();
        // Whatever an example left behind in the namespace goes with it.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if pid.parse::<u32>().is_ok() {
                    let _ = Command::new("bash")
                        .args(["-c", &format!("kill -KILL {pid}")])
                        .status();
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// The commands that print the line's stdout (the last stage of each pipeline of an
/// `a && b` list): `p2p-dht get-peers`, or a tool alone.
fn printers(line: &str) -> Vec<String> {
    let line = line.split(" #").next().unwrap_or(line);
    line.split("&& ")
        .map(|pipeline| {
            let last = pipeline.rsplit(" | ").next().unwrap_or(pipeline);
            let words: Vec<&str> = last.split_whitespace().take(2).collect();
            let both = words.join(" ");
            if p2p_shared::cli::emits::of(&both).is_some() {
                both
            } else {
                words.first().copied().unwrap_or("").to_owned()
            }
        })
        .collect()
}

/// Fails unless the record's type is one p2p_shared::cli::emits (the man pages'
/// RECORDS sections) lists for a command that printed the line's output.
/// `p2p-keygen sign` and `verify` pass through records of any type.
fn check_emitted(line: &str, record: &serde_json::Value) {
    let commands = printers(line);
    let kind = record["type"].as_str().unwrap_or("");
    let listed = commands.iter().any(|command| {
        command == "p2p-keygen sign"
            || command == "p2p-keygen verify"
            || p2p_shared::cli::emits::of(command)
                .unwrap_or_else(|| panic!("`{command}` is not in p2p_shared::cli::emits"))
                .types
                .contains(&kind)
    });
    assert!(
        listed,
        "`{line}` printed a `{kind}` record, which the RECORDS of {commands:?} do not list"
    );
}

/// Sends `signal` to the process group a background line runs in (its `bash` leads
/// it), with bash's own `kill`: procps 4.0's `kill -KILL -PGID` signals every process.
fn signal_group(running: &Running, signal: &str) {
    let _ = Command::new("bash")
        .args(["-c", &format!("kill -{signal} -- -{}", running.pid())])
        .status();
}

/// The `bash -c` script for one line: the exports of the lines before it, then the
/// line, then its exports saved for the next.
fn session_script(line: &str) -> String {
    format!(
        "[ -f .exports ] && . ./.exports\nset -o pipefail\n{line}\nstatus=$?\nexport -p > .exports\nexit $status\n"
    )
}

fn check_record(line: &str, record: &str) -> serde_json::Value {
    let parsed = std::panic::catch_unwind(|| common::parse_record(record));
    parsed.unwrap_or_else(|_| {
        panic!("`{line}` printed a line that is not a documented NDJSON record: {record:?}")
    })
}

/// Runs every example of every help page of `tool`.
fn run_examples(test: &str, tool: &Path) {
    if !common::is_root() {
        common::skip(
            test,
            "the examples run in a network namespace, which needs root",
        );
        return;
    }
    let mut ran = 0;
    for (command, help) in pages(tool) {
        let lines = examples(&help);
        if lines.is_empty() {
            assert!(!help.contains("\nExample"), "{command}: examples not found");
            continue;
        }
        let mut lab = Lab::new();
        if lines.iter().any(|l| l.contains("p2p-dns-rr publish")) {
            if !common::have(test, "knotd") {
                return;
            }
            lab.start_knot();
        }
        for line in &lines {
            eprintln!("{command}: {line}");
            match line
                .split(" #")
                .next()
                .unwrap()
                .trim_end()
                .strip_suffix('&')
            {
                Some(server) => {
                    lab.start(server.trim_end());
                }
                None => lab.run_line(line),
            }
            ran += 1;
        }
        lab.stop();
    }
    assert!(ran > 0, "{test}: no examples found");
}

macro_rules! examples_of {
    ($($test:ident => $tool:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            run_examples(stringify!($test), &crate::bin!($tool));
        }
    )*};
}

examples_of! {
    p2p => "p2p",
    p2p_keygen => "p2p-keygen",
    p2p_dht => "p2p-dht",
    p2p_discover => "p2p-discover",
    p2p_dns_rr => "p2p-dns-rr",
    p2p_punch => "p2p-punch",
    p2p_relay => "p2p-relay",
    p2p_gossip => "p2p-gossip",
    p2p_pipe => "p2p-pipe",
}

#[test]
fn example_lines_are_extracted_whole() {
    let help = "Usage: x\n\nExamples (on a testnet,\nsee x):\n  x a   # one\n  x b \\\n      --c d\n\nExit status: 0 ok.\n";
    assert_eq!(examples(help), ["x a   # one", "x b --c d"]);
    assert!(prints_records("p2p-dht get x | p2p-keygen verify"));
    assert!(!prints_records("p2p roles --json | jq -r .tool"));
    assert!(!prints_records(
        "echo x | p2p-keygen seal --to I | p2p-keygen open -i k"
    ));
    assert_eq!(
        printers("p2p-dht put x && p2p-dht get y   # z"),
        ["p2p-dht put", "p2p-dht get"]
    );
    assert_eq!(printers("p2p-discover chat --dht"), ["p2p-discover"]);
}
