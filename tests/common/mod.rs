//! Test harness shared by the integration tests: run the real binaries with a
//! scrubbed environment, hold long-running ones in guards that kill and reap them on
//! drop, and read their NDJSON output with deadlines (never fixed sleeps).

pub mod dns;
pub mod libtorrent;
pub mod lossy;
pub mod natlab;
pub mod netns;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The path of one of the toolbox's binaries, e.g. `bin!("p2p-keygen")`.
#[macro_export]
macro_rules! bin {
    ($name:literal) => {
        std::path::PathBuf::from(env!(concat!("CARGO_BIN_EXE_", $name)))
    };
}

/// The default deadline for one command.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A command for `program` with an environment free of the user's identity and
/// configuration: `HOME` and `XDG_CONFIG_HOME` point into `home`.
pub fn command(program: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "P2P_IDENTITY",
        "P2P_ALLOW_READABLE_KEY",
        "P2P_DHT_BOOTSTRAP",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("NO_COLOR", "1")
        .env("TERM", "dumb");
    cmd
}

/// What a finished command printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: Vec<u8>,
    /// Everything on stderr, as text.
    pub stderr: String,
}

impl Finished {
    /// The exit code (panics on death by signal).
    pub fn code(&self) -> i32 {
        self.status.code().expect("killed by a signal")
    }

    /// stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is not UTF-8")
    }

    /// stdout parsed as NDJSON records.
    pub fn records(&self) -> Vec<Value> {
        self.text().lines().map(parse_record).collect()
    }
}

/// Parses one NDJSON line a tool printed, and fails the test when its `type` is not
/// one that docs/ndjson.md lists: every record any test sees is checked against the
/// contract's table.
pub fn parse_record(line: &str) -> Value {
    let record: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
    if let Some(kind) = record["type"].as_str() {
        assert!(
            documented_types().contains(kind),
            "record type `{kind}` is not listed in docs/ndjson.md: {line}"
        );
    }
    record
}

/// The record types of the table in docs/ndjson.md: the `` `name` ``s of its rows'
/// first cells (one or several, comma-separated).
pub fn documented_types() -> &'static std::collections::HashSet<String> {
    static TYPES: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    TYPES.get_or_init(|| {
        let doc = std::fs::read_to_string(repo_root().join("docs/ndjson.md")).unwrap();
        // A row may name several types in its first cell: `peer_up`, `peer_down`.
        doc.lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once(" |"))
            .flat_map(|(cell, _)| {
                cell.split(", `")
                    .map(|name| name.trim_matches('`').to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

/// Runs `cmd` to completion with `stdin` as its input, killing it after `deadline`.
pub fn run(mut cmd: Command, stdin: &[u8], deadline: Duration) -> Finished {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Guard(cmd.spawn().expect("cannot start the binary"));
    let mut input = child.0.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.0.stdout.take().unwrap();
    let mut err = child.0.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = err.read_to_string(&mut buf);
        buf
    });
    let status = child.wait_until(deadline).unwrap_or_else(|| {
        panic!("{cmd:?} did not finish within {deadline:?}");
    });
    let _ = writer.join();
    Finished {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// A child process that is killed and reaped when dropped.
pub struct Guard(pub Child);

impl Guard {
    /// Waits for the child to exit, at most until `deadline` has passed.
    pub fn wait_until(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A long-running tool: its stdout lines arrive on a channel, its stderr is kept.
pub struct Running {
    guard: Guard,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Whether it is one of the toolbox's binaries, whose records must be documented.
    toolbox: bool,
    /// Its standard input, while open.
    pub stdin: Option<ChildStdin>,
}

impl Running {
    /// Starts `cmd` with piped stdin, stdout and stderr.
    pub fn start(cmd: Command) -> Running {
        Self::start_reading(cmd, Stdio::piped())
    }

    /// Starts `cmd` reading `stdin` (e.g. another tool's stdout), with piped stdout
    /// and stderr.
    pub fn start_reading(mut cmd: Command, stdin: Stdio) -> Running {
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let toolbox = Path::new(cmd.get_program())
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("p2p-"));
        let mut child = cmd.spawn().expect("cannot start the binary");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Running {
            guard: Guard(child),
            lines,
            stderr,
            toolbox,
            stdin,
        }
    }

    /// The next stdout line parsed as JSON, or `None` if none came within `timeout`
    /// (or the process closed stdout).
    pub fn next_record(&mut self, timeout: Duration) -> Option<Value> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) if self.toolbox => Some(parse_record(&line)),
            Ok(line) => Some(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}")),
            ),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next stdout line as text (for scripts that print text), or `None` if none
    /// came within `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Reads records until one satisfies `want`, failing the test at the deadline.
    pub fn wait_for(&mut self, timeout: Duration, want: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.next_record(left) {
                Some(record) if want(&record) => return record,
                Some(_) => {}
                None => panic!(
                    "no matching record within {timeout:?}; stderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// Writes one line to the tool's stdin.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin closed");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes the tool's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the tool to exit on its own.
    pub fn wait(&mut self, deadline: Duration) -> Option<ExitStatus> {
        self.guard.wait_until(deadline)
    }

    /// What the tool has printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Asks the tool to stop, as Ctrl-C would (SIGTERM), so it can say goodbye.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.guard.0.id()
    }
}

/// Makes an identity file `name` in `home` with the real `p2p-keygen` and returns
/// its peer id.
pub fn make_key(home: &Path, name: &str) -> String {
    let mut cmd = command(&crate::bin!("p2p-keygen"), home);
    cmd.args(["new", "-o", name]).current_dir(home);
    let out = run(cmd, b"", DEADLINE);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    out.records()[0]["id"].as_str().unwrap().to_owned()
}

/// The Python interpreter that has python3-libtorrent (Debian's package installs
/// it for the system Python).
pub const PYTHON: &str = "/usr/bin/python3";

/// True when python3-libtorrent can be imported; otherwise says why `test` skips.
pub fn libtorrent_available(test: &str) -> bool {
    let found = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip(
            test,
            "python3-libtorrent is missing (scripts/test installs it as root)",
        );
    }
    found
}

/// The environment variable that turns every skip into a failure (CI sets it), so a
/// run on a machine without the peer programs or root can never pass unnoticed.
pub const REQUIRE_PEERS: &str = "P2P_REQUIRE_PEERS";

/// Says on stderr why `test` is skipped; under `P2P_REQUIRE_PEERS=1` fails it instead.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os(REQUIRE_PEERS).is_none_or(|v| v != "1"),
        "{test} cannot run: {why}, and {REQUIRE_PEERS}=1 forbids skipping"
    );
    eprintln!("skipping {test}: {why}");
}

/// True when `program` is installed; otherwise skips `test` (see [`skip`]).
pub fn have(test: &str, program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip(
            test,
            &format!("`{program}` is not installed (scripts/test installs it as root)"),
        );
    }
    found
}

/// True when running as root (network namespace tests need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A fresh temporary directory for a test's files.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
