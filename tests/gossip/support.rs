//! Helpers for the `p2p-gossip` tests: a running node that remembers every record
//! it printed, and swarms in a line or a random graph.

use crate::common::{self, Running};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long any one awaited event may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// One `p2p-gossip` process and what it printed so far.
pub struct Node {
    /// The process.
    pub run: Running,
    /// Its peer id.
    pub id: String,
    /// Its address as printed (`udp://127.0.0.1:PORT`).
    pub addr: String,
    /// Its identity file name.
    pub key: String,
    /// Every record printed after `listening`.
    pub records: Vec<Value>,
}

impl Node {
    /// Starts a node with key `key` (made if missing) on loopback, topic `t`.
    pub fn start(home: &Path, key: &str, extra: &[&str]) -> Node {
        if !home.join(key).exists() {
            common::make_key(home, key);
        }
        let mut cmd = common::command(&bin!("p2p-gossip"), home);
        cmd.current_dir(home)
            .args(["-i", key, "--bind", "127.0.0.1:0", "--topic", "t"])
            .args(extra);
        let mut run = Running::start(cmd);
        let listening = run.wait_for(WAIT, |r| r["type"] == "listening");
        Node {
            id: listening["id"].as_str().unwrap().to_owned(),
            addr: listening["addr"].as_str().unwrap().to_owned(),
            key: key.to_owned(),
            records: vec![listening],
            run,
        }
    }

    /// `ID@ADDR`, as `--peer` takes it.
    pub fn contact(&self) -> String {
        format!("{}@{}", self.id, self.addr)
    }

    /// This node as a `peer` record, as `p2p-discover` prints one.
    pub fn peer_record(&self) -> String {
        json!({"type": "peer", "id": self.id, "addrs": [self.addr], "topic": "t"}).to_string()
    }

    /// Reads records until `want` holds for the records so far, failing at the
    /// deadline.
    pub fn until(&mut self, what: &str, want: impl Fn(&[Value]) -> bool) {
        let end = Instant::now() + WAIT;
        while !want(&self.records) {
            let left = end.saturating_duration_since(Instant::now());
            match self.run.next_record(left) {
                Some(record) => self.records.push(record),
                None => panic!(
                    "node {}: no {what} within {WAIT:?}; records: {:#?}\nstderr:\n{}",
                    self.key,
                    self.records,
                    self.run.stderr()
                ),
            }
        }
    }

    /// The `message` records received.
    pub fn messages(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["type"] == "message")
            .collect()
    }

    /// The data of the messages received, in order.
    pub fn data(&self) -> Vec<Value> {
        self.messages().iter().map(|m| m["data"].clone()).collect()
    }

    /// Waits until messages carrying each of `data` arrived.
    pub fn wait_data(&mut self, data: &[Value]) {
        let want: Vec<Value> = data.to_vec();
        self.until("messages", |records| {
            let got: Vec<&Value> = records
                .iter()
                .filter(|r| r["type"] == "message")
                .map(|r| &r["data"])
                .collect();
            want.iter().all(|w| got.contains(&w))
        });
    }

    /// Asserts no message id was printed twice.
    pub fn assert_no_duplicates(&self) {
        let mut seen = HashSet::new();
        for m in self.messages() {
            assert!(
                seen.insert(m["id"].as_str().unwrap().to_owned()),
                "node {} printed message {} twice",
                self.key,
                m["id"]
            );
        }
    }

    /// Waits for the next `stats` record and returns it.
    pub fn next_stats(&mut self) -> Value {
        let before = self.records.len();
        self.until("stats", |r| {
            r[before..].iter().any(|r| r["type"] == "stats")
        });
        self.records[before..]
            .iter()
            .rev()
            .find(|r| r["type"] == "stats")
            .unwrap()
            .clone()
    }
}

/// Starts `n` nodes; node i joins through the nodes `contacts(i)` names.
pub fn swarm(home: &Path, n: usize, contacts: impl Fn(usize) -> Vec<usize>) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let peers: Vec<String> = contacts(i)
            .into_iter()
            .flat_map(|c| ["--peer".to_owned(), nodes[c].contact()])
            .collect();
        let args: Vec<&str> = peers.iter().map(String::as_str).collect();
        nodes.push(Node::start(home, &format!("n{i}.json"), &args));
    }
    for node in &mut nodes {
        node.until("neighbour", |r| r.iter().any(|r| r["type"] == "peer_up"));
    }
    nodes
}

/// Each of `authors` publishes `per` messages; every node must receive every one
/// not its own, once. A last message from node 0 is the barrier after which
/// duplicates are looked for.
pub fn broadcast_and_check(nodes: &mut [Node], authors: &[usize], per: usize, tag: &str) {
    let mut sent: HashMap<usize, Vec<Value>> = HashMap::new();
    for &a in authors {
        for k in 0..per {
            let data = if k % 2 == 0 {
                json!({"tag": tag, "author": a, "k": k})
            } else {
                Value::String(format!("{tag} plain line {k} from {a}"))
            };
            nodes[a].run.send_line(&match &data {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            sent.entry(a).or_default().push(data);
        }
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let want: Vec<Value> = sent
            .iter()
            .filter(|(a, _)| **a != i)
            .flat_map(|(_, d)| d.clone())
            .collect();
        node.wait_data(&want);
    }
    let barrier = json!({"barrier": tag});
    nodes[0].run.send_line(&barrier.to_string());
    for node in nodes.iter_mut().skip(1) {
        node.wait_data(std::slice::from_ref(&barrier));
    }
    for (i, node) in nodes.iter().enumerate() {
        node.assert_no_duplicates();
        for m in node.messages() {
            assert_ne!(
                m["author"],
                node.id.as_str(),
                "node {i} got its own message"
            );
            assert!(m["hops"].as_u64().unwrap() >= 1);
            assert_eq!(m["id"].as_str().unwrap().len(), 64);
        }
    }
}
