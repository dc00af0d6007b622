//! `p2p-dht` beside direct use of the `mainline` crate, on a local testnet of 50 nodes
//! (loopback only). Run by `scripts/bench-dht`; prints medians and ratios.
//!
//! Each operation is timed from a cold start on both sides: a new `p2p-dht` process,
//! or a new `mainline::Dht` client in this process, bootstrapping from the testnet.
//! The two sides alternate target by target, so machine noise hits both alike.
//!
//! Part 1 uses the toolbox's testnet (`p2p_shared::dht::local_testnet`). Part 2 uses
//! `mainline::Testnet`, whose nodes hand out silent clients as close nodes, to show
//! the ~2 s finished lookup and the two ways around it: the toolbox's testnet, or a
//! shorter `--request-timeout`.

// A benchmark's output is its figures, for a person to read.
#![allow(clippy::print_stdout)]

use mainline::async_dht::AsyncDht;
use mainline::{Dht, MutableItem};
use p2p_shared::dht::{local_testnet, topic_infohash};
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
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_p2p-dht"));
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
            "p2p-dht vs mainline 8, cold start per operation, {TARGETS} targets, 50-node testnet on loopback\n"
        );
        println!("1. the toolbox's testnet (p2p-dht testnet)");
        let bench = Bench {
            bin: &bin,
            bootstrap: &bootstrap,
            identity: &identity,
        };
        bench.announce_all("bench", TARGETS).await;
        let mut table = Table::default();
        for i in 0..TARGETS {
            let topic = format!("bench-{i}");
            let (direct, tool) = if i % 2 == 0 {
                let d = bench.direct_get_peers(&topic).await;
                (d, bench.tool_get_peers(&topic, &[]))
            } else {
                let t = bench.tool_get_peers(&topic, &[]);
                (bench.direct_get_peers(&topic).await, t)
            };
            table.add("get-peers: first peer", direct.first, tool.first);
            table.add("get-peers: finished", direct.done, tool.done);
            table.found(direct.found, tool.found);
            let salt = format!("salt-{i}");
            let value = format!("\"value {i}\"");
            let d_put = bench.direct_put(&salt, &value).await;
            let t_put = bench.tool(&["put", "-i", path_str(&key_path), "--salt", &salt, &value]);
            table.add("put mutable", d_put, t_put);
            let d_get = bench.direct_get(&salt).await;
            let t_get = bench.tool(&["get", &identity.id().to_string(), "--salt", &salt]);
            table.add("get mutable", d_get, t_get);
        }
        table.print();
        drop(testnet);

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
            ..bench
        };
        bench.announce_all("slow", SLOW_TARGETS).await;
        let mut table = Table::default();
        for i in 0..SLOW_TARGETS {
            let topic = format!("slow-{i}");
            let direct = bench.direct_get_peers(&topic).await;
            let tool = bench.tool_get_peers(&topic, &[]);
            let short = bench.tool_get_peers(&topic, &["--request-timeout", "250ms"]);
            table.add("get-peers: first peer", direct.first, tool.first);
            table.add("get-peers: finished", direct.done, tool.done);
            table.add("finished, --request-timeout 250ms", direct.done, short.done);
            table.found(direct.found, tool.found.min(short.found));
        }
        table.print();
    });
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// Timings of one lookup.
struct Lookup {
    first: Duration,
    done: Duration,
    found: usize,
}

struct Bench<'a> {
    bin: &'a Path,
    bootstrap: &'a [SocketAddrV4],
    identity: &'a Identity,
}

impl Bench<'_> {
    fn client(&self) -> AsyncDht {
        Dht::builder()
            .bootstrap(self.bootstrap)
            .bind_address(Ipv4Addr::LOCALHOST)
            .port(0)
            .build()
            .expect("client")
            .as_async()
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

    async fn direct_get_peers(&self, topic: &str) -> Lookup {
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

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .args(["--bootstrap", &self.bootstrap_arg()])
            .env_remove("P2P_DHT_BOOTSTRAP")
            .env_remove("P2P_IDENTITY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd
    }

    fn tool_get_peers(&self, topic: &str, extra: &[&str]) -> Lookup {
        let started = Instant::now();
        let mut args = vec!["get-peers", "--topic", topic];
        args.extend_from_slice(extra);
        let mut child = self.command(&args).spawn().expect("p2p-dht");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = None;
        let mut found = 0;
        for line in BufReader::new(stdout).lines() {
            line.expect("reading p2p-dht");
            first.get_or_insert_with(|| started.elapsed());
            found += 1;
        }
        let status = child.wait().expect("wait");
        let done = started.elapsed();
        assert!(status.success(), "p2p-dht get-peers {topic}: {status}");
        Lookup {
            first: first.unwrap_or(done),
            done,
            found,
        }
    }

    /// Runs `p2p-dht ARGS` to the end; returns how long it took.
    fn tool(&self, args: &[&str]) -> Duration {
        let started = Instant::now();
        let out = self.command(args).output().expect("p2p-dht");
        assert!(out.status.success(), "p2p-dht {args:?}: {}", out.status);
        started.elapsed()
    }

    async fn direct_put(&self, salt: &str, value: &str) -> Duration {
        let started = Instant::now();
        let client = self.client();
        let seq = i64::try_from(p2p_shared::peer::now_millis()).expect("seq");
        let item = MutableItem::new(
            self.identity.signing_key().clone(),
            value.as_bytes(),
            seq,
            Some(salt.as_bytes()),
        );
        client.put_mutable(item, None).await.expect("put");
        started.elapsed()
    }

    async fn direct_get(&self, salt: &str) -> Duration {
        let started = Instant::now();
        let client = self.client();
        let key = self.identity.id().to_bytes();
        client
            .get_mutable_most_recent(&key, Some(salt.as_bytes()))
            .await
            .expect("the item");
        started.elapsed()
    }
}

/// Timings per operation, both sides.
#[derive(Default)]
struct Table {
    rows: Vec<(&'static str, Vec<Duration>, Vec<Duration>)>,
    found: (usize, usize),
}

impl Table {
    fn add(&mut self, name: &'static str, direct: Duration, tool: Duration) {
        if let Some(row) = self.rows.iter_mut().find(|row| row.0 == name) {
            row.1.push(direct);
            row.2.push(tool);
        } else {
            self.rows.push((name, vec![direct], vec![tool]));
        }
    }

    fn found(&mut self, direct: usize, tool: usize) {
        self.found.0 += direct;
        self.found.1 += tool;
    }

    fn print(&self) {
        println!(
            "{:<36} {:>14} {:>14} {:>7}",
            "median of each", "mainline (ms)", "p2p-dht (ms)", "ratio"
        );
        for (name, direct, tool) in &self.rows {
            let (d, t) = (median(direct), median(tool));
            println!("{name:<36} {d:>14.1} {t:>14.1} {:>6.2}x", t / d);
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
