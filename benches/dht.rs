//! `p2p-dht` beside direct use of the `mainline` crate, on a local testnet of 50 nodes
//! (loopback only). Run by `scripts/bench-dht`; prints medians and ratios.
//!
//! Each operation is timed from a cold start of a new process on both sides: `p2p-dht`,
//! or this benchmark binary run as `dht direct …`, a minimal program that does the same
//! with the `mainline` crate directly (build a client, bootstrap, one operation, print
//! the result, exit). Both start, bootstrap and print alike, so the ratio is what the
//! toolbox adds. A third column times a new `mainline::Dht` client inside this
//! already running process, for scale: the difference is the cost of a process.
//! The sides take turns target by target, so machine noise hits all alike.
//!
//! Part 1 uses the toolbox's testnet (`p2p_shared::discovery::dht::local_testnet`). Part 2 uses
//! `mainline::Testnet`, whose nodes hand out silent clients as close nodes, to show
//! the ~2 s finished lookup and the two ways around it: the toolbox's testnet, or a
//! shorter `--request-timeout`.

// A benchmark's output is its figures, for a person to read.
#![allow(clippy::print_stdout)]

use mainline::async_dht::AsyncDht;
use mainline::{Dht, MutableItem};
use p2p_shared::discovery::dht::{local_testnet, topic_infohash};
use p2p_shared::identity::Identity;
use smol::stream::StreamExt;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TARGETS: usize = 20;
const SLOW_TARGETS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("direct") {
        direct::main(&args[1..]);
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_p2p-dht"));
    let me = std::env::current_exe().expect("the benchmark's own path");
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("key.json");
    let identity = Identity::generate().expect("random key");
    identity.save(&key_path, false).expect("saving the key");
    smol::block_on(async {
        let testnet = local_testnet(50, Ipv4Addr::LOCALHOST)
            .await
            .expect("testnet");
        let bootstrap = testnet.bootstrap();
        println!(
            "p2p-dht vs mainline 8, {TARGETS} targets, 50-node testnet on loopback; medians\n\
             in-process: a new mainline client in this running process; \
             mainline: a minimal program using the crate, one process per operation; \
             ratio: p2p-dht / mainline\n"
        );
        println!("1. the toolbox's testnet (p2p-dht testnet)");
        let bench = Bench {
            bin: &bin,
            me: &me,
            bootstrap: &bootstrap,
            identity: &identity,
        };
        bench.announce_all("bench", TARGETS).await;
        let mut table = Table::default();
        let id = identity.id().to_string();
        let seed = hex::encode(identity.signing_key().to_bytes());
        let key = hex::encode(identity.id().to_bytes());
        for i in 0..TARGETS {
            let topic = format!("bench-{i}");
            let inproc = bench.inproc_get_peers(&topic).await;
            let (direct, tool) = pair(
                i,
                || process(bench.direct(&["get-peers", &topic])),
                || process(bench.tool(&["get-peers", "--topic", &topic])),
            );
            table.add(
                "get-peers: first peer",
                [inproc.first, direct.first, tool.first],
            );
            table.add("get-peers: finished", [inproc.done, direct.done, tool.done]);
            table.found(direct.found, tool.found);
            let salt = format!("salt-{i}");
            let value = format!("\"value {i}\"");
            let inproc = bench.inproc_put(&salt, &value).await;
            let (direct, tool) = pair(
                i,
                || process(bench.direct(&["put", &seed, &salt, &value])),
                || {
                    let key_path = path_str(&key_path);
                    process(bench.tool(&["put", "-i", key_path, "--salt", &salt, &value]))
                },
            );
            table.add("put mutable", [inproc, direct.done, tool.done]);
            let inproc = bench.inproc_get(&salt).await;
            let (direct, tool) = pair(
                i,
                || process(bench.direct(&["get", &key, &salt])),
                || process(bench.tool(&["get", &id, "--salt", &salt])),
            );
            table.add("get mutable", [inproc, direct.done, tool.done]);
        }
        table.print();
        drop(testnet);
        slow_part(&bench).await;
    });
}

/// Part 2: the same lookups on `mainline::Testnet`, whose finished lookups take 2 s.
async fn slow_part(bench: &Bench<'_>) {
    println!("\n2. mainline::Testnet::builder(50) ({SLOW_TARGETS} targets)");
    let slow = mainline::Testnet::builder(50)
        .build()
        .expect("mainline testnet");
    let slow_bootstrap: Vec<SocketAddrV4> = slow
        .bootstrap
        .iter()
        .take(4)
        .map(|a| a.parse().expect("testnet address"))
        .collect();
    let bench = Bench {
        bootstrap: &slow_bootstrap,
        ..*bench
    };
    bench.announce_all("slow", SLOW_TARGETS).await;
    let mut table = Table::default();
    for i in 0..SLOW_TARGETS {
        let topic = format!("slow-{i}");
        let inproc = bench.inproc_get_peers(&topic).await;
        let direct = process(bench.direct(&["get-peers", &topic]));
        let tool = process(bench.tool(&["get-peers", "--topic", &topic]));
        let short =
            process(bench.tool(&["get-peers", "--topic", &topic, "--request-timeout", "250ms"]));
        table.add(
            "get-peers: first peer",
            [inproc.first, direct.first, tool.first],
        );
        table.add("get-peers: finished", [inproc.done, direct.done, tool.done]);
        table.add(
            "finished, p2p-dht --request-timeout 250ms",
            [inproc.done, direct.done, short.done],
        );
        table.found(direct.found, tool.found.min(short.found));
    }
    table.print();
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// Timings of one operation: to its first output line and to its end.
struct Lookup {
    first: Duration,
    done: Duration,
    found: usize,
}

struct Bench<'a> {
    bin: &'a Path,
    me: &'a Path,
    bootstrap: &'a [SocketAddrV4],
    identity: &'a Identity,
}

impl Bench<'_> {
    fn client(&self) -> AsyncDht {
        direct::client(self.bootstrap)
    }

    fn bootstrap_arg(&self) -> String {
        self.bootstrap
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Announces one peer (port 4000 + i) for each of `count` topics.
    async fn announce_all(&self, prefix: &str, count: usize) {
        let client = self.client();
        for i in 0..count {
            let port = u16::try_from(4000 + i).expect("port");
            client
                .announce_peer(topic_infohash(&format!("{prefix}-{i}")), Some(port))
                .await
                .expect("announce");
        }
    }

    /// `p2p-dht ARGS --bootstrap …`.
    fn tool(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(args).args(["--bootstrap", &self.bootstrap_arg()]);
        with_env(cmd)
    }

    /// This binary as the minimal direct-mainline program: `direct OP BOOTSTRAP ARGS`.
    fn direct(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.me);
        cmd.arg("direct")
            .arg(args[0])
            .arg(self.bootstrap_arg())
            .args(&args[1..]);
        with_env(cmd)
    }

    async fn inproc_get_peers(&self, topic: &str) -> Lookup {
        let started = Instant::now();
        let client = self.client();
        let mut stream = client.get_peers(topic_infohash(topic));
        let mut first = None;
        let mut seen = HashSet::new();
        while let Some(batch) = stream.next().await {
            if !batch.is_empty() && first.is_none() {
                first = Some(started.elapsed());
            }
            seen.extend(batch);
        }
        let done = started.elapsed();
        Lookup {
            first: first.unwrap_or(done),
            done,
            found: seen.len(),
        }
    }

    async fn inproc_put(&self, salt: &str, value: &str) -> Duration {
        let started = Instant::now();
        let client = self.client();
        direct::put(&client, self.identity.signing_key().clone(), salt, value).await;
        started.elapsed()
    }

    async fn inproc_get(&self, salt: &str) -> Duration {
        let started = Instant::now();
        let client = self.client();
        let key = self.identity.id().to_bytes();
        direct::get(&client, &key, salt).await.expect("the item");
        started.elapsed()
    }
}

/// Runs `direct` and `tool`, in turns which goes first.
fn pair<T>(i: usize, direct: impl FnOnce() -> T, tool: impl FnOnce() -> T) -> (T, T) {
    if i.is_multiple_of(2) {
        let d = direct();
        (d, tool())
    } else {
        let t = tool();
        (direct(), t)
    }
}

/// Runs a child with a clean environment and its stdout piped.
fn with_env(mut cmd: Command) -> Command {
    cmd.env_remove("P2P_DHT_BOOTSTRAP")
        .env_remove("P2P_IDENTITY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Runs a process to its end, timing its first output line and its exit.
fn process(mut cmd: Command) -> Lookup {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("starting a process");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = None;
    let mut found = 0;
    for line in BufReader::new(stdout).lines() {
        line.expect("reading a child's output");
        first.get_or_insert_with(|| started.elapsed());
        found += 1;
    }
    let status = child.wait().expect("wait");
    let done = started.elapsed();
    assert!(status.success(), "{cmd:?}: {status}");
    Lookup {
        first: first.unwrap_or(done),
        done,
        found,
    }
}

/// The minimal program using mainline directly, run as `dht direct OP BOOTSTRAP ARGS`:
/// `get-peers TOPIC` prints each new peer, `put SEED_HEX SALT VALUE` stores a mutable
/// item, `get KEY_HEX SALT` prints its value.
mod direct {
    use super::{
        AsyncDht, Dht, HashSet, Ipv4Addr, MutableItem, SocketAddrV4, StreamExt, topic_infohash,
    };
    use std::io::Write;

    pub fn client(bootstrap: &[SocketAddrV4]) -> AsyncDht {
        Dht::builder()
            .bootstrap(bootstrap)
            .bind_address(Ipv4Addr::LOCALHOST)
            .port(0)
            .build()
            .expect("client")
            .as_async()
    }

    pub async fn put(client: &AsyncDht, key: mainline::SigningKey, salt: &str, value: &str) {
        let seq = i64::try_from(p2p_shared::ndjson::peer::now_millis()).expect("seq");
        let item = MutableItem::new(key, value.as_bytes(), seq, Some(salt.as_bytes()));
        client.put_mutable(item, None).await.expect("put");
    }

    pub async fn get(client: &AsyncDht, key: &[u8; 32], salt: &str) -> Option<MutableItem> {
        client
            .get_mutable_most_recent(key, Some(salt.as_bytes()))
            .await
    }

    fn bytes<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .expect("hex bytes")
    }

    pub fn main(args: &[String]) {
        let [op, bootstrap, rest @ ..] = args else {
            panic!("usage: dht direct OP BOOTSTRAP ARGS");
        };
        let bootstrap: Vec<SocketAddrV4> = bootstrap
            .split(',')
            .map(|a| a.parse().expect("bootstrap address"))
            .collect();
        let mut out = std::io::stdout().lock();
        smol::block_on(async {
            let client = client(&bootstrap);
            match (op.as_str(), rest) {
                ("get-peers", [topic]) => {
                    let mut stream = client.get_peers(topic_infohash(topic));
                    let mut seen = HashSet::new();
                    while let Some(batch) = stream.next().await {
                        for peer in batch {
                            if seen.insert(peer) {
                                writeln!(out, "{peer}")
                                    .and_then(|()| out.flush())
                                    .expect("stdout");
                            }
                        }
                    }
                }
                ("put", [seed, salt, value]) => {
                    let key = mainline::SigningKey::from_bytes(&bytes(seed));
                    put(&client, key, salt, value).await;
                    writeln!(out, "stored").expect("stdout");
                }
                ("get", [key, salt]) => {
                    let item = get(&client, &bytes(key), salt).await.expect("the item");
                    out.write_all(item.value())
                        .and_then(|()| writeln!(out))
                        .expect("stdout");
                }
                _ => panic!("unknown direct operation {args:?}"),
            }
        });
    }
}

/// Timings per operation: in-process, direct mainline process, p2p-dht process.
#[derive(Default)]
struct Table {
    rows: Vec<(&'static str, [Vec<Duration>; 3])>,
    found: (usize, usize),
}

impl Table {
    fn add(&mut self, name: &'static str, samples: [Duration; 3]) {
        let index = match self.rows.iter().position(|row| row.0 == name) {
            Some(index) => index,
            None => {
                self.rows.push((name, Default::default()));
                self.rows.len() - 1
            }
        };
        for (column, sample) in self.rows[index].1.iter_mut().zip(samples) {
            column.push(sample);
        }
    }

    fn found(&mut self, direct: usize, tool: usize) {
        self.found.0 += direct;
        self.found.1 += tool;
    }

    fn print(&self) {
        println!(
            "{:<42} {:>11} {:>10} {:>9} {:>7}",
            "median (ms)", "in-process", "mainline", "p2p-dht", "ratio"
        );
        for (name, [inproc, direct, tool]) in &self.rows {
            let (i, d, t) = (median(inproc), median(direct), median(tool));
            println!("{name:<42} {i:>11.1} {d:>10.1} {t:>9.1} {:>6.2}x", t / d);
        }
        println!(
            "distinct peers found: mainline {}, p2p-dht {}",
            self.found.0, self.found.1
        );
    }
}

fn median(samples: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let mid = ms.len() / 2;
    if ms.len().is_multiple_of(2) {
        f64::midpoint(ms[mid - 1], ms[mid])
    } else {
        ms[mid]
    }
}
