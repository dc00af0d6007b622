//! `p2p-pipe` end to end on loopback: bytes in = bytes out both ways (checksummed),
//! half-close in either direction, exit statuses of a clean close, a killed peer and a
//! refused peer, the dialer refusing a wrong key, the allow list, a bare peer id
//! resolved through a local DHT testnet, `--signal stdio`, and TCP forwarding with
//! concurrent connections, `--progress` (under a pty, and without a terminal), and
//! what the first byte's speed rests on (one GRO socket per endpoint, static release
//! builds).
//! The NAT lab tests are in `pipe_lab.rs`.

use crate::common;
use crate::common::{DEADLINE, Guard, Running};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A running `p2p-pipe` whose stdout bytes (and their end) are collected.
struct Pipe {
    guard: Guard,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Option<Vec<u8>>>,
    got: Vec<u8>,
    eof: bool,
    stderr: Arc<Mutex<String>>,
}

impl Pipe {
    fn start(mut cmd: Command) -> Pipe {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starting p2p-pipe");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(n) => {
                        if tx.send(Some(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                sink.lock().unwrap().clone_from(&text);
            }
        });
        Pipe {
            guard: Guard(child),
            stdin,
            chunks,
            got: Vec::new(),
            eof: false,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Writes `data` to stdin from a thread (the tool reads it while we read its
    /// output); with `close`, closes stdin afterwards.
    fn feed(&mut self, data: Vec<u8>, close: bool) -> std::thread::JoinHandle<()> {
        let mut stdin = if close {
            let stdin = self.stdin.take().unwrap();
            std::fs::File::from(std::os::fd::OwnedFd::from(stdin))
        } else {
            self.stdin.as_ref().unwrap().try_clone_for_test()
        };
        // A tool that exits early closes the pipe; the test's assertions say more.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    }

    /// Collects stdout until at least `n` bytes or EOF arrived.
    fn read_at_least(&mut self, n: usize, timeout: Duration) {
        let end = Instant::now() + timeout;
        while self.got.len() < n && !self.eof {
            let left = end.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(Some(chunk)) => self.got.extend_from_slice(&chunk),
                Ok(None) => self.eof = true,
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "only {} of {n} bytes within {timeout:?}; stderr:\n{}",
                        self.got.len(),
                        self.stderr()
                    )
                }
            }
        }
    }

    /// Collects stdout to its end.
    fn read_to_eof(&mut self, timeout: Duration) -> &[u8] {
        self.read_at_least(usize::MAX, timeout);
        &self.got
    }

    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        self.guard.wait_until(timeout).unwrap_or_else(|| {
            panic!(
                "p2p-pipe did not exit within {timeout:?}:\n{}",
                self.stderr()
            )
        })
    }
}

/// `ChildStdin` cannot be cloned; a duplicate of its descriptor can.
trait CloneForTest {
    fn try_clone_for_test(&self) -> std::fs::File;
}

impl CloneForTest for ChildStdin {
    fn try_clone_for_test(&self) -> std::fs::File {
        use std::os::fd::AsFd;
        std::fs::File::from(self.as_fd().try_clone_to_owned().unwrap())
    }
}

/// A test's home with identity files.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: common::tempdir(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes identity `name` and returns (its path, its peer id).
    fn key(&self, name: &str) -> (String, String) {
        let id = common::make_key(self.path(), name);
        (self.path().join(name).display().to_string(), id)
    }

    fn pipe(&self, args: &[&str]) -> Command {
        let mut cmd = common::command(&bin!("p2p-pipe"), self.path());
        cmd.args(args).current_dir(self.path());
        cmd
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }
}

/// Waits for a file to appear (the listener writes its ticket atomically).
fn wait_for_file(path: &Path, listener: &Pipe) -> String {
    let end = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "no {} within {WAIT:?}:\n{}",
            path.display(),
            listener.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a listener on loopback with `extra` arguments; returns it and its ticket.
fn listener(home: &Home, key: &str, extra: &[&str]) -> (Pipe, Value) {
    let ticket_file = home.file(&format!("ticket-{}.json", rand_tag()));
    let ticket_arg = ticket_file.display().to_string();
    let mut args = vec![
        "listen",
        "-i",
        key,
        "--bind",
        "127.0.0.1:0",
        "--ticket-file",
        &ticket_arg,
    ];
    args.extend_from_slice(extra);
    let pipe = Pipe::start(home.pipe(&args));
    let text = wait_for_file(&ticket_file, &pipe);
    let ticket: Value = serde_json::from_str(text.trim()).unwrap();
    (pipe, ticket)
}

fn rand_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn random_bytes(n: usize, seed: u8) -> Vec<u8> {
    // A cheap, non-repeating pattern: SHA-256 in counter mode.
    let mut out = Vec::with_capacity(n + 32);
    let mut counter = 0u64;
    while out.len() < n {
        let mut h = Sha256::new();
        h.update([seed]);
        h.update(counter.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(n);
    out
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_large_transfer_arrives_intact_both_ways() {
    let home = Home::new();
    let (key_a, id_a) = home.key("a.json");
    let (key_b, id_b) = home.key("b.json");
    let listen_events = home.file("listen.ndjson");
    let (mut l, ticket) = listener(
        &home,
        &key_a,
        &["--events", listen_events.to_str().unwrap()],
    );
    assert_eq!(ticket["type"], "ticket");
    assert_eq!(ticket["id"], id_a.as_str());
    let up = random_bytes(24 << 20, 1);
    let down = random_bytes(16 << 20, 2);
    let connect_events = home.file("connect.ndjson");
    let mut c = Pipe::start(home.pipe(&[
        "connect",
        ticket["ticket"].as_str().unwrap(),
        "-i",
        &key_b,
        "--events",
        connect_events.to_str().unwrap(),
    ]));
    let fed_c = c.feed(up.clone(), true);
    let fed_l = l.feed(down.clone(), true);
    assert_eq!(
        sha(l.read_to_eof(WAIT)),
        sha(&up),
        "listener received other bytes"
    );
    assert_eq!(
        sha(c.read_to_eof(WAIT)),
        sha(&down),
        "connector received other bytes"
    );
    fed_c.join().unwrap();
    fed_l.join().unwrap();
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
    let ev = events(&connect_events);
    assert_eq!(ev[0]["event"], "path", "{ev:?}");
    assert_eq!(ev[0]["path"], "direct");
    assert_eq!(ev[0]["id"], id_a.as_str());
    let closed = ev.iter().find(|e| e["event"] == "closed").unwrap();
    assert_eq!(closed["ok"], true);
    assert_eq!(closed["bytes_out"], up.len());
    assert_eq!(closed["bytes_in"], down.len());
    let mine = ev[0].clone();
    let ev = events(&listen_events);
    assert_eq!(
        ev[0]["id"],
        id_b.as_str(),
        "the listener knows who connected"
    );
    // The connector is bound to the wildcard address; its path names the address
    // its packets really leave from, the one the listener sees them come from.
    assert_eq!(mine["local"], ev[0]["remote"], "{mine} {}", ev[0]);
    assert_eq!(mine["remote"], ev[0]["local"], "{mine} {}", ev[0]);
    assert!(c.stderr().contains("path: direct"), "{}", c.stderr());
}

/// One side closes its stdin first; the other reads EOF while its own stdin is still
/// open, then answers, and both exit 0.
fn half_close(connector_first: bool) {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &[]);
    let mut c =
        Pipe::start(home.pipe(&["connect", ticket["ticket"].as_str().unwrap(), "-i", &key_b]));
    let (first, second) = if connector_first {
        (&mut c, &mut l)
    } else {
        (&mut l, &mut c)
    };
    let question = b"question, then EOF".to_vec();
    first.feed(question.clone(), true).join().unwrap();
    // The other side reads the whole question and EOF while its stdin is open.
    assert_eq!(second.read_to_eof(WAIT), question.as_slice());
    assert!(second.stdin.is_some());
    let answer = random_bytes(3 << 20, 3);
    second.feed(answer.clone(), true).join().unwrap();
    assert_eq!(sha(first.read_to_eof(WAIT)), sha(&answer));
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
}

#[test]
fn half_close_from_the_connector_keeps_the_way_back_open() {
    half_close(true);
}

#[test]
fn half_close_from_the_listener_keeps_the_way_back_open() {
    half_close(false);
}

#[test]
fn a_killed_peer_ends_the_other_side_with_status_1() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &[]);
    let mut c = Pipe::start(home.pipe(&[
        "connect",
        ticket["ticket"].as_str().unwrap(),
        "-i",
        &key_b,
        "--idle-timeout",
        "2s",
    ]));
    let _feeding = c.feed(b"some data".to_vec(), false);
    l.read_at_least(9, WAIT);
    l.guard.0.kill().unwrap();
    let status = c.wait(WAIT);
    assert_eq!(status.code(), Some(1), "{}", c.stderr());
    assert!(c.stderr().contains("vanished"), "{}", c.stderr());
}

#[test]
fn the_allow_list_admits_only_its_peers() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, id_b) = home.key("b.json");
    let (key_c, _) = home.key("c.json");
    let allowed = home.file("allowed.ndjson");
    std::fs::write(
        &allowed,
        format!("# friends\n{}\n", json!({"type":"peer","id":id_b})),
    )
    .unwrap();
    let (mut l, ticket) = listener(&home, &key_a, &["--allow", allowed.to_str().unwrap()]);
    let t = ticket["ticket"].as_str().unwrap();
    let stranger = common::run(
        home.pipe(&["connect", t, "-i", &key_c]),
        b"let me in",
        DEADLINE,
    );
    assert_eq!(stranger.code(), 1, "{}", stranger.stderr);
    assert!(stranger.stderr.contains("refused"), "{}", stranger.stderr);
    // The listener is still waiting for an allowed peer.
    l.stdin.take();
    let friend = common::run(
        home.pipe(&["connect", t, "-i", &key_b]),
        b"a friend",
        DEADLINE,
    );
    assert_eq!(friend.code(), 0, "{}", friend.stderr);
    assert_eq!(l.read_to_eof(WAIT), b"a friend");
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
    assert!(
        l.stderr().contains("not on the allow list"),
        "{}",
        l.stderr()
    );
}

#[test]
fn the_dialer_refuses_a_listener_with_another_key() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (_, id_c) = home.key("c.json");
    let (_l, ticket) = listener(&home, &key_a, &[]);
    let forged = home.file("forged.json");
    let mut record = ticket.clone();
    record["id"] = json!(id_c);
    std::fs::write(&forged, record.to_string()).unwrap();
    let out = common::run(
        home.pipe(&[
            "connect",
            "--peer-file",
            forged.to_str().unwrap(),
            "-i",
            &key_b,
        ]),
        b"secret",
        DEADLINE,
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("not the {id_c}")),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_targets_are_usage_errors() {
    let home = Home::new();
    for target in ["p2ptnotaticket", "hello"] {
        let out = common::run(home.pipe(&["connect", target]), b"", DEADLINE);
        assert_eq!(out.code(), 2, "{target}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_tool_quietly() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &[]);
    let mut c =
        Pipe::start(home.pipe(&["connect", ticket["ticket"].as_str().unwrap(), "-i", &key_b]));
    let _feeding = l.feed(random_bytes(8 << 20, 4), true);
    c.read_at_least(1, WAIT);
    drop(c.chunks);
    // Dropping the receiver ends the reader thread at its next chunk: stdout closes.
    c.chunks = mpsc::channel().1;
    assert_eq!(c.wait(WAIT).code(), Some(0), "{}", c.stderr());
    let status = l.wait(WAIT);
    assert_eq!(status.code(), Some(1), "{}", l.stderr());
    assert!(
        l.stderr().contains("closed by its reader"),
        "{}",
        l.stderr()
    );
}

#[test]
fn stdio_signalling_punches_and_pipes() {
    let home = Home::new();
    let (key_a, id_a) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let mut l = Pipe::start(home.pipe(&[
        "listen",
        "-i",
        &key_a,
        "--signal",
        "stdio",
        "--bind",
        "127.0.0.1:0",
    ]));
    let mut c = Pipe::start(home.pipe(&[
        "connect",
        &id_a,
        "-i",
        &key_b,
        "--signal",
        "stdio",
        "--bind",
        "127.0.0.1:0",
    ]));
    let line = |p: &mut Pipe| {
        p.read_at_least(1, WAIT);
        while !p.got.contains(&b'\n') {
            let have = p.got.len();
            p.read_at_least(have + 1, WAIT);
        }
        let end = p.got.iter().position(|&b| b == b'\n').unwrap() + 1;
        let first: Vec<u8> = p.got.drain(..end).collect();
        first
    };
    let cand_l = line(&mut l);
    let cand_c = line(&mut c);
    let record: Value = serde_json::from_slice(&cand_l).unwrap();
    assert_eq!(record["type"], "candidate");
    let mut with_data = cand_c.clone();
    with_data.extend_from_slice(b"from the listener");
    l.feed(with_data, true).join().unwrap();
    let mut with_data = cand_l.clone();
    with_data.extend_from_slice(b"from the connector");
    c.feed(with_data, true).join().unwrap();
    assert_eq!(l.read_to_eof(WAIT), b"from the connector");
    assert_eq!(c.read_to_eof(WAIT), b"from the listener");
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(
        l.wait(WAIT).success(),
        "{}\n---\n{}",
        l.stderr(),
        c.stderr()
    );
    assert!(
        c.stderr().contains("path: punched (direct)"),
        "{}",
        c.stderr()
    );
}

/// A TCP echo server on loopback (one thread per connection).
fn echo_server() -> std::net::SocketAddr {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in server.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut reader = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut reader, &mut conn);
                let _ = conn.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

#[test]
fn tcp_forwarding_carries_concurrent_connections() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let echo = echo_server();
    let forward = format!("tcp://{echo}");
    let (_l, ticket) = listener(&home, &key_a, &["--forward", &forward, "--keep"]);
    let t = ticket["ticket"].as_str().unwrap();
    let ev = home.file("local.ndjson");
    let _c = Running::start(home.pipe(&[
        "connect",
        t,
        "-i",
        &key_b,
        "--local",
        "tcp://127.0.0.1:0",
        "--events",
        ev.to_str().unwrap(),
    ]));
    let end = Instant::now() + WAIT;
    let local = loop {
        if let Some(e) = events(&ev).into_iter().find(|e| e["event"] == "listening") {
            break e["addr"]
                .as_str()
                .unwrap()
                .trim_start_matches("tcp://")
                .to_owned();
        }
        assert!(
            Instant::now() < end,
            "connect --local did not start listening"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // While that peer stays connected, a second peer uses the listener as a
    // ProxyCommand would: stdin in, the echo out.
    let proxied = common::run(
        home.pipe(&["connect", t, "-i", &key_b]),
        b"through the proxy",
        DEADLINE,
    );
    assert_eq!(proxied.code(), 0, "{}", proxied.stderr);
    assert_eq!(proxied.stdout, b"through the proxy");
    let clients: Vec<_> = (0..6u8)
        .map(|i| {
            let local = local.clone();
            std::thread::spawn(move || {
                let data = random_bytes(1 << 20, 10 + i);
                let mut conn = TcpStream::connect(&local).unwrap();
                conn.set_read_timeout(Some(WAIT)).unwrap();
                let mut writer = conn.try_clone().unwrap();
                let sent = data.clone();
                let w = std::thread::spawn(move || {
                    writer.write_all(&sent).unwrap();
                    writer.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut back = Vec::new();
                conn.read_to_end(&mut back).unwrap();
                w.join().unwrap();
                sha(&back) == sha(&data)
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        assert!(
            client.join().unwrap(),
            "connection {i} got other bytes back"
        );
    }
}

/// A bare peer id, resolved through a `p2p-dht testnet` as `p2p-dht resolve` does,
/// used as an ssh ProxyCommand would (`p2p-pipe connect %h`) against a listener that
/// forwards to a TCP service (an echo server standing in for sshd).
#[test]
fn a_bare_peer_id_is_resolved_through_a_local_dht_as_a_proxy_command() {
    let home = Home::new();
    let (key_a, id_a) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let mut testnet = Running::start({
        let mut cmd = common::command(&bin!("p2p-dht"), home.path());
        cmd.args(["testnet", "5", "--bind", "127.0.0.1"]);
        cmd
    });
    let bootstrap = testnet.wait_for(DEADLINE, |r| r["type"] == "bootstrap")["env"]
        .as_str()
        .unwrap()
        .trim_start_matches("P2P_DHT_BOOTSTRAP=")
        .to_owned();
    let forward = format!("tcp://{}", echo_server());
    let (mut l, ticket) = listener(&home, &key_a, &["--forward", &forward]);
    let addr = ticket["addrs"][0].as_str().unwrap().to_owned();
    let mut publish = common::command(&bin!("p2p-dht"), home.path());
    publish.args([
        "publish",
        "-i",
        &key_a,
        "--addr",
        &addr,
        "--bootstrap",
        &bootstrap,
    ]);
    let out = common::run(publish, b"", DEADLINE);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let hello = random_bytes(200_000, 7);
    let out = common::run(
        home.pipe(&["connect", &id_a, "-i", &key_b, "--bootstrap", &bootstrap]),
        &hello,
        DEADLINE,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        sha(&out.stdout),
        sha(&hello),
        "the echo came back different"
    );
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
}

#[test]
fn keep_serves_one_peer_after_another() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &["--keep"]);
    l.stdin.take();
    let t = ticket["ticket"].as_str().unwrap();
    for word in ["first", "second"] {
        let out = common::run(
            home.pipe(&["connect", t, "-i", &key_b]),
            word.as_bytes(),
            DEADLINE,
        );
        assert_eq!(out.code(), 0, "{word}: {}", out.stderr);
    }
    l.read_at_least(11, WAIT);
    assert_eq!(l.got, b"firstsecond");
    assert!(
        l.guard.wait_until(Duration::from_millis(200)).is_none(),
        "--keep exited"
    );
}

#[test]
fn an_interrupted_peer_is_reported_at_once() {
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &["--idle-timeout", "60s"]);
    let mut c =
        Pipe::start(home.pipe(&["connect", ticket["ticket"].as_str().unwrap(), "-i", &key_b]));
    let _feeding = c.feed(b"half a message".to_vec(), false);
    l.read_at_least(14, WAIT);
    let killed = Command::new("kill")
        .args(["-TERM", &c.guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // SIGTERM ends a tool with 143, as everywhere (docs/cli.md).
    assert_eq!(c.wait(WAIT).code(), Some(143), "{}", c.stderr());
    assert!(c.stderr().contains("interrupted"), "{}", c.stderr());
    // Long before the 60 s idle timeout: the close said so.
    let status = l.guard.wait_until(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", l.stderr());
    assert!(l.stderr().contains("interrupted"), "{}", l.stderr());
}

/// Two addresses that both reach the listener: both handshakes succeed, the dialer
/// keeps one and closes the other, and the listener pipes with the one kept.
#[test]
fn happy_eyeballs_keeps_one_of_two_working_paths() {
    let home = Home::new();
    let (key_a, id_a) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let ticket_file = home.file("wild.json");
    let mut l = Pipe::start(home.pipe(&[
        "listen",
        "-i",
        &key_a,
        "--bind",
        "0.0.0.0:0",
        "--ticket-file",
        ticket_file.to_str().unwrap(),
    ]));
    let ticket: Value = serde_json::from_str(wait_for_file(&ticket_file, &l).trim()).unwrap();
    let port = ticket["addrs"][0]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let both = home.file("both.json");
    let record = json!({"type": "ticket", "id": id_a,
        "addrs": [format!("udp://127.0.0.1:{port}"), format!("udp://127.0.0.2:{port}")]});
    std::fs::write(&both, record.to_string()).unwrap();
    l.stdin.take();
    // The race may go either way; the loser must never be taken for the stream.
    let out = common::run(
        home.pipe(&[
            "connect",
            "--peer-file",
            both.to_str().unwrap(),
            "-i",
            &key_b,
        ]),
        b"one of two",
        DEADLINE,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(l.read_to_eof(WAIT), b"one of two");
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
}

/// Every byte arrives in order through a link that drops 5% of the datagrams each
/// way, duplicates 1% and delays each by 1-8 ms (which reorders them); the figures
/// (throughput, what the link did) go to stderr for docs/hardening.md.
#[test]
fn a_transfer_survives_loss_duplication_and_reordering() {
    use crate::common::lossy::{Faults, LossyLink};
    use p2p_shared::connect::ticket::Ticket;
    use std::sync::atomic::Ordering::Relaxed;
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &[]);
    let real = Ticket::decode(ticket["ticket"].as_str().unwrap()).unwrap();
    let server = *real
        .addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .expect("the listener has a loopback address");
    let link = LossyLink::start(
        server,
        Faults {
            loss: 500,
            duplicate: 100,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(8),
            drop_first: 0,
            seed: 17,
        },
    );
    let through_link = Ticket {
        id: real.id,
        addrs: vec![link.addr()],
        rendezvous: None,
        relay: None,
    };
    let data = random_bytes(4 << 20, 5);
    let started = Instant::now();
    let mut c = Pipe::start(home.pipe(&[
        "connect",
        &through_link.encode(),
        "-i",
        &key_b,
        "--require-direct",
    ]));
    let fed = c.feed(data.clone(), true);
    let _ = l.feed(Vec::new(), true);
    let got = l.read_to_eof(Duration::from_mins(2)).to_vec();
    let elapsed = started.elapsed();
    assert_eq!(got.len(), data.len(), "{}", c.stderr());
    assert_eq!(sha(&got), sha(&data), "bytes changed or reordered");
    fed.join().unwrap();
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
    let counts = &link.counts;
    assert!(counts.dropped.load(Relaxed) > 0, "{}", link.summary());
    assert!(counts.reordered.load(Relaxed) > 0, "{}", link.summary());
    eprintln!(
        "lossy link: {} MiB in {elapsed:.1?} = {} KiB/s; {}",
        data.len() >> 20,
        (data.len() as u128 >> 10) * 1000 / elapsed.as_millis().max(1),
        link.summary()
    );
}

/// Sends `chunks` pieces of 64 KiB to `c`, one every 50 ms, until `enough` says so
/// (or all are sent); returns everything sent. Slow on purpose: the progress display
/// redraws every 200 ms, so a transfer this long gives it several chances to show.
fn trickle(c: &mut Pipe, chunks: usize, enough: impl Fn() -> bool) -> Vec<u8> {
    let mut sent = Vec::new();
    for seed in (0..=u8::MAX).take(chunks) {
        let chunk = random_bytes(64 << 10, seed);
        c.feed(chunk.clone(), false).join().unwrap();
        sent.extend_from_slice(&chunk);
        if enough() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c.stdin.take());
    sent
}

#[test]
fn progress_shows_on_a_terminal_only_and_leaves_the_data_alone() {
    let test = "progress_shows_on_a_terminal_only_and_leaves_the_data_alone";
    if !common::have(test, "script") {
        return;
    }
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    // On a terminal: the listener runs under `script` (util-linux), so its stderr is a
    // pty whose output lands in `terminal.txt`; its stdout is a plain file.
    let ticket_file = home.file("ticket.json");
    let received = home.file("received.bin");
    let terminal = home.file("terminal.txt");
    let inner = format!(
        "exec {} listen -i {key_a} --bind 127.0.0.1:0 --ticket-file {} --progress \
         < /dev/null > {}",
        bin!("p2p-pipe").display(),
        ticket_file.display(),
        received.display()
    );
    let mut cmd = common::command(Path::new("script"), home.path());
    // A terminal that can redraw a line (the harness sets TERM=dumb, which cannot).
    cmd.args(["-qfec", &inner, terminal.to_str().unwrap()])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut script = Guard(cmd.spawn().unwrap());
    let end = Instant::now() + WAIT;
    while !std::fs::read_to_string(&ticket_file).is_ok_and(|t| t.ends_with('\n')) {
        assert!(
            Instant::now() < end,
            "no ticket from the listener under script"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let ticket: Value =
        serde_json::from_str(&std::fs::read_to_string(&ticket_file).unwrap()).unwrap();
    let connect = |home: &Home, ticket: &Value| {
        Pipe::start(home.pipe(&[
            "connect",
            ticket["ticket"].as_str().unwrap(),
            "-i",
            &key_b,
            "-q",
        ]))
    };
    let shown = || {
        std::fs::read_to_string(&terminal)
            .is_ok_and(|t| t.contains("received") && t.contains("/s)"))
    };
    let mut c = connect(&home, &ticket);
    let sent = trickle(&mut c, 100, shown);
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    let status = script
        .wait_until(WAIT)
        .expect("the listener under script never exited");
    assert!(status.success(), "listener under script: {status}");
    let screen = std::fs::read_to_string(&terminal).unwrap();
    assert!(shown(), "no progress line on the terminal:\n{screen}");
    assert!(screen.contains("sent 0 B, received "), "{screen}");
    assert_eq!(
        sha(&std::fs::read(&received).unwrap()),
        sha(&sent),
        "the data on stdout differs from what was sent"
    );
    // Not on a terminal (stderr a pipe): the same transfer prints no progress at all.
    let (mut l, ticket) = listener(&home, &key_a, &["--progress"]);
    drop(l.stdin.take());
    let mut c = connect(&home, &ticket);
    let sent = trickle(&mut c, 16, || false);
    assert_eq!(
        sha(l.read_to_eof(WAIT)),
        sha(&sent),
        "listener received other bytes"
    );
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
    let err = l.stderr();
    assert!(err.contains("p2p-pipe: closed:"), "{err}");
    assert!(
        !err.contains(", received ") && !err.contains("/s)") && !err.contains('\x1b'),
        "progress was drawn without a terminal:\n{err:?}"
    );
}

/// A network namespace with nothing but `lo`, deleted on drop: dumbpipe's defaults
/// reach out to public relays and discovery servers, so it runs nowhere else.
struct LoOnly(String);

impl LoOnly {
    fn new(test: &str) -> Option<LoOnly> {
        if !common::is_root() {
            common::skip(test, "a network namespace needs root");
            return None;
        }
        let ns = LoOnly(format!("p2pdp{}x{}", std::process::id(), rand_tag()));
        for args in [
            vec!["netns", "add", &ns.0],
            vec!["-n", &ns.0, "link", "set", "lo", "up"],
        ] {
            let status = Command::new("ip").args(&args).status().unwrap();
            assert!(status.success(), "ip {args:?} failed");
        }
        Some(ns)
    }

    /// `program` run inside the namespace.
    fn command(&self, program: &Path, home: &Home) -> Command {
        let mut cmd = common::command(Path::new("ip"), home.path());
        cmd.args(["netns", "exec", &self.0])
            .arg(program)
            .current_dir(home.path());
        cmd
    }
}

impl Drop for LoOnly {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
#[ignore = "needs dumbpipe, a 10-25 minute cargo build: run by scripts/interop-dumbpipe"]
fn connect_dumbpipe_pipes_both_ways_with_a_real_dumbpipe_listener() {
    let test = "connect_dumbpipe_pipes_both_ways_with_a_real_dumbpipe_listener";
    if !common::have(test, "dumbpipe") {
        return;
    }
    let Some(ns) = LoOnly::new(test) else {
        return;
    };
    let home = Home::new();
    let (key, _) = home.key("b.json");
    let mut dumbpipe = ns.command(Path::new("dumbpipe"), &home);
    dumbpipe.args(["listen", "--ipv4-addr", "127.0.0.1:0"]);
    let mut l = Pipe::start(dumbpipe);
    // It first waits (5 s at most) for a home relay it cannot reach from here.
    let end = Instant::now() + WAIT;
    let ticket = loop {
        let err = l.stderr();
        if let Some(at) = err.find("dumbpipe connect endpoint") {
            let ticket = err[at + "dumbpipe connect ".len()..]
                .split_whitespace()
                .next();
            if let Some(ticket) = ticket.filter(|_| err[at..].contains('\n')) {
                break ticket.to_owned();
            }
        }
        assert!(Instant::now() < end, "no ticket from dumbpipe:\n{err}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let up = random_bytes(3 << 20, 7);
    let down = random_bytes(2 << 20, 8);
    let mut c = Pipe::start({
        let mut cmd = ns.command(&bin!("p2p-pipe"), &home);
        cmd.args(["connect", "--dumbpipe", &ticket, "-i", &key]);
        cmd
    });
    let fed_c = c.feed(up.clone(), true);
    let fed_l = l.feed(down.clone(), true);
    assert_eq!(
        sha(l.read_to_eof(WAIT)),
        sha(&up),
        "dumbpipe received other bytes"
    );
    assert_eq!(
        sha(c.read_to_eof(WAIT)),
        sha(&down),
        "p2p-pipe received other bytes"
    );
    fed_c.join().unwrap();
    fed_l.join().unwrap();
    assert!(c.wait(WAIT).success(), "p2p-pipe: {}", c.stderr());
    assert!(l.wait(WAIT).success(), "dumbpipe: {}", l.stderr());
    assert!(c.stderr().contains("path: direct"), "{}", c.stderr());
}

#[test]
#[ignore = "needs dumbpipe, a 10-25 minute cargo build: run by scripts/interop-dumbpipe"]
fn listen_dumbpipe_is_reached_by_a_real_dumbpipe_connect() {
    let test = "listen_dumbpipe_is_reached_by_a_real_dumbpipe_connect";
    if !common::have(test, "dumbpipe") {
        return;
    }
    let Some(ns) = LoOnly::new(test) else {
        return;
    };
    let home = Home::new();
    let (key, id) = home.key("a.json");
    let mut l = Pipe::start({
        let mut cmd = ns.command(&bin!("p2p-pipe"), &home);
        cmd.args(["listen", "--dumbpipe", "--bind", "127.0.0.1:0", "-i", &key]);
        cmd
    });
    let end = Instant::now() + WAIT;
    let ticket = loop {
        let err = l.stderr();
        let line = err
            .lines()
            .find_map(|l| l.strip_prefix("p2p-pipe: dumbpipe connect "));
        if let Some(ticket) = line.filter(|_| err.ends_with('\n')) {
            break ticket.to_owned();
        }
        assert!(Instant::now() < end, "no dumbpipe ticket:\n{err}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let up = random_bytes(3 << 20, 9);
    let down = random_bytes(2 << 20, 10);
    let mut c = Pipe::start({
        let mut cmd = ns.command(Path::new("dumbpipe"), &home);
        cmd.args(["connect", &ticket]);
        cmd
    });
    let fed_c = c.feed(up.clone(), true);
    let fed_l = l.feed(down.clone(), true);
    assert_eq!(
        sha(l.read_to_eof(WAIT)),
        sha(&up),
        "p2p-pipe received other bytes"
    );
    assert_eq!(
        sha(c.read_to_eof(WAIT)),
        sha(&down),
        "dumbpipe received other bytes"
    );
    fed_c.join().unwrap();
    fed_l.join().unwrap();
    assert!(c.wait(WAIT).success(), "dumbpipe: {}", c.stderr());
    assert!(l.wait(WAIT).success(), "p2p-pipe: {}", l.stderr());
    // The ticket named the listener's own key: dumbpipe's handshake checked it.
    assert!(ticket.starts_with("endpoint"), "{ticket}");
    assert!(
        l.stderr().contains(&format!("listening as {id}")),
        "{}",
        l.stderr()
    );
}

/// An endpoint enables UDP GRO on its own socket and asks no other whether GRO works
/// (the published quinn-udp enabled it on a throwaway `[::]:0` socket too, which flips
/// a kernel static key on and off on every CPU, on the way to a dial's first packet:
/// patches/quinn-udp/README.md). The dialer runs under strace.
#[test]
fn an_endpoint_asks_its_own_socket_whether_gro_works() {
    let test = "pipe::an_endpoint_asks_its_own_socket_whether_gro_works";
    if !common::have(test, "strace") {
        return;
    }
    let home = Home::new();
    let (key_a, _) = home.key("a.json");
    let (key_b, _) = home.key("b.json");
    let (mut l, ticket) = listener(&home, &key_a, &[]);
    let trace = home.file("trace.txt");
    let mut cmd = common::command(Path::new("strace"), home.path());
    cmd.args(["-f", "-qq", "-e", "trace=socket,setsockopt", "-o"])
        .arg(&trace)
        .arg(bin!("p2p-pipe"))
        .args(["connect", "-i", &key_b, ticket["ticket"].as_str().unwrap()]);
    let mut c = Pipe::start(cmd);
    c.feed(b"x".to_vec(), true).join().unwrap();
    l.feed(Vec::new(), true).join().unwrap();
    assert_eq!(l.read_to_eof(WAIT), b"x");
    assert!(c.wait(WAIT).success(), "{}", c.stderr());
    assert!(l.wait(WAIT).success(), "{}", l.stderr());
    let trace = std::fs::read_to_string(&trace).expect("strace's output");
    let udp_sockets = trace
        .lines()
        .filter(|l| l.contains("socket(AF_INET") && l.contains("SOCK_DGRAM"))
        .count();
    let gro: Vec<&str> = trace.lines().filter(|l| l.contains("UDP_GRO")).collect();
    // The endpoint's socket and the GSO probe at least: strace saw the socket calls.
    assert!(udp_sockets >= 2, "{trace}");
    assert_eq!(
        gro.len(),
        1,
        "GRO enabled on more than the endpoint's socket:\n{trace}"
    );
}

/// `scripts/install` and `scripts/build-release` link statically on Linux with glibc
/// (docs/pipe.md, "Fourth round": dynamic loading cost p2p-pipe's first byte about
/// 0.6 ms), naming the target so that proc-macros still build; elsewhere they leave
/// the build as cargo makes it.
#[test]
fn release_builds_are_linked_statically_on_linux_with_glibc() {
    let host = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = Command::new("bash")
        .args([
            "-c",
            ". scripts/lib/release.sh && printf '%s\\n%s\\n' \"$RELEASE_TARGET\" \"$RUSTFLAGS\"",
        ])
        .current_dir(common::repo_root())
        .env("RUSTFLAGS", "-C debuginfo=1")
        .output()
        .expect("bash");
    assert!(out.status.success(), "{out:?}");
    let out = String::from_utf8_lossy(&out.stdout);
    let mut lines = out.lines();
    let (target, flags) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    if host.ends_with("-linux-gnu") {
        assert_eq!(target, host);
        assert_eq!(flags, "-C debuginfo=1 -C target-feature=+crt-static");
    } else {
        assert_eq!(target, "");
        assert_eq!(flags, "-C debuginfo=1");
    }
}
