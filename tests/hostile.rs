//! Hostile input against the listening tools (issue 16): each test reproduces one
//! attack the way the probe measured it, scaled down, on loopback, and asserts the
//! server holds. Heavier load is in `scripts/soak`.

use crate::common::{self, Running};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// `program ARGS…` run under `ulimit -n fds`.
fn with_fd_limit(program: &Path, home: &Path, fds: u32, args: &[&str]) -> Command {
    let mut cmd = common::command(Path::new("sh"), home);
    cmd.arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(program)
        .args(args);
    cmd
}

/// One HTTP GET; the status line and body, or `None` if no answer came in time.
fn http_get(addr: SocketAddr, target: &str) -> Option<(String, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let end = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = String::from_utf8_lossy(&reply[..end])
        .lines()
        .next()?
        .to_owned();
    Some((status, reply[end + 4..].to_vec()))
}

fn tracker_addr(listening: &serde_json::Value) -> SocketAddr {
    listening["addr"]
        .as_str()
        .unwrap()
        .trim_start_matches("tcp://")
        .parse()
        .unwrap()
}

/// Issue 16, item 1: idle connections past `ulimit -n` ended the tracker with "Too
/// many open files". Now the oldest connections are shed and it keeps answering.
#[test]
fn the_tracker_outlives_more_idle_connections_than_descriptors() {
    let home = common::tempdir();
    let cmd = with_fd_limit(
        &bin!("p2p-discover"),
        home.path(),
        64,
        &["tracker", "--bind", "127.0.0.1:0"],
    );
    let mut tracker = Running::start(cmd);
    let listening = tracker.wait_for(WAIT, |r| r["type"] == "listening");
    let addr = tracker_addr(&listening);
    let idle: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() > 100, "only {} connections opened", idle.len());
    let end = Instant::now() + WAIT;
    let answer = loop {
        assert!(
            tracker.wait(Duration::from_millis(1)).is_none(),
            "the tracker exited: {}",
            tracker.stderr()
        );
        if let Some(answer) = http_get(addr, "/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa") {
            break answer;
        }
        assert!(Instant::now() < end, "no HTTP answer: {}", tracker.stderr());
    };
    assert_eq!(answer.0, "HTTP/1.1 200 OK");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut connect = 0x0417_2710_1980_u64.to_be_bytes().to_vec();
    connect.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4]);
    udp.send_to(&connect, addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = udp.recv_from(&mut buf).expect("UDP still answered");
    assert_eq!(n, 16);
    assert!(tracker.wait(Duration::from_millis(100)).is_none());
    drop(idle);
}
