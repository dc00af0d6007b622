//! `p2p-punch` in the NAT lab (scripts/natlab): `nat` reports the type each lab NAT
//! really is, the punch matrix over all sixteen pairs of NAT types, signalling over
//! stdio through a symmetric NAT, and the mapping lifetime. Needs root (network
//! namespaces, iptables); skips with a message otherwise.

use crate::common;
use crate::common::{DEADLINE, Finished, Running};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const TYPES: [&str; 4] = ["full", "restricted", "port-restricted", "symmetric"];
const SERVER: &str = "203.0.113.1:3478";

/// One lab, removed (with everything running in it) on drop, also when a test fails.
struct Lab {
    name: String,
}

static LABS: AtomicU32 = AtomicU32::new(0);

impl Lab {
    fn up(type_a: &str, type_b: &str) -> Option<Lab> {
        Self::up_with(type_a, type_b, None)
    }

    fn up_with(type_a: &str, type_b: &str, udp_timeout: Option<u32>) -> Option<Lab> {
        if !common::is_root() {
            common::skip(
                &format!("NAT lab {type_a} x {type_b}"),
                "the NAT lab needs root (network namespaces, iptables)",
            );
            return None;
        }
        let name = format!(
            "pp{}x{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab { name };
        let mut cmd = Command::new(common::repo_root().join("scripts/natlab"));
        cmd.args(["up", &lab.name, type_a, type_b]);
        if let Some(seconds) = udp_timeout {
            cmd.env("NATLAB_UDP_TIMEOUT", seconds.to_string());
        }
        let out = common::run(cmd, b"", DEADLINE);
        assert_eq!(out.code(), 0, "natlab up: {}", out.stderr);
        Some(lab)
    }

    /// `p2p-punch ARGS` run in `place` (srv, a or b).
    fn command(&self, home: &Path, place: &str, args: &[&str]) -> Command {
        let ns = match place {
            "srv" => format!("{}-srv", self.name),
            "a" => format!("{}-ha", self.name),
            "b" => format!("{}-hb", self.name),
            _ => unreachable!(),
        };
        let mut cmd = common::command(Path::new("ip"), home);
        cmd.args(["netns", "exec", &ns])
            .arg(bin!("p2p-punch"))
            .args(args);
        cmd
    }

    fn run(&self, home: &Path, place: &str, args: &[&str]) -> Finished {
        common::run(self.command(home, place, args), b"", DEADLINE)
    }

    /// The STUN/rendezvous server on both server addresses.
    fn serve(&self, home: &Path) -> Running {
        let mut server = Running::start(self.command(
            home,
            "srv",
            &["serve", "--bind", SERVER, "--alt", "203.0.113.2:3479"],
        ));
        server.wait_for(WAIT, |r| r["type"] == "listening");
        server
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(common::repo_root().join("scripts/natlab"))
            .args(["down", &self.name])
            .status();
    }
}

/// An identity file in `home`: its path and its peer id.
fn make_key(home: &Path) -> (String, String) {
    let id = common::make_key(home, "key.json");
    (home.join("key.json").display().to_string(), id)
}

fn nat_report_matches(lab_type: &str, label: &str, mapping: &str, filtering: &str) {
    let home = common::tempdir();
    let Some(lab) = Lab::up(lab_type, "port-restricted") else {
        return;
    };
    let _server = lab.serve(home.path());
    let out = lab.run(home.path(), "a", &["nat", "--server", SERVER]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let nat = &out.records()[0];
    assert_eq!(nat["nat"], label, "{nat}");
    assert_eq!(nat["mapping"], mapping, "{nat}");
    assert_eq!(nat["filtering"], filtering, "{nat}");
    assert_eq!(
        nat["public"].as_str().unwrap().split(':').nth(1),
        Some("//198.51.100.1")
    );
    assert_eq!(nat["port_preserving"], lab_type != "symmetric", "{nat}");
    assert_eq!(nat["hairpinning"], false);
    assert!(nat["elapsed_ms"].as_f64().unwrap() < 5000.0, "{nat}");
}

#[test]
fn nat_reports_a_full_cone() {
    nat_report_matches(
        "full",
        "full-cone",
        "endpoint-independent",
        "endpoint-independent",
    );
}

#[test]
fn nat_reports_a_restricted_cone() {
    nat_report_matches(
        "restricted",
        "restricted-cone",
        "endpoint-independent",
        "address-dependent",
    );
}

#[test]
fn nat_reports_a_port_restricted_cone() {
    nat_report_matches(
        "port-restricted",
        "port-restricted-cone",
        "endpoint-independent",
        "address-and-port-dependent",
    );
}

#[test]
fn nat_reports_a_symmetric_nat() {
    nat_report_matches(
        "symmetric",
        "symmetric",
        "address-and-port-dependent",
        "address-and-port-dependent",
    );
}

#[test]
fn nat_measures_the_mapping_lifetime() {
    let home = common::tempdir();
    let Some(lab) = Lab::up_with("port-restricted", "port-restricted", Some(3)) else {
        return;
    };
    let _server = lab.serve(home.path());
    let out = lab.run(
        home.path(),
        "a",
        &[
            "nat",
            "--server",
            SERVER,
            "--lifetime",
            "--lifetime-max",
            "10s",
        ],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let nat = &out.records()[0];
    // conntrack forgets an idle mapping after 3 s (give or take its 1 s timer).
    let alive = nat["lifetime_s"].as_u64().unwrap();
    let dead = nat["lifetime_dead_s"].as_u64().unwrap();
    assert!((2..=4).contains(&alive), "{nat}");
    assert!((3..=6).contains(&dead) && dead > alive, "{nat}");
    assert!(nat["keepalive_s"].as_u64().unwrap() < alive);
}

/// What one punch between a host behind `type_a` (listening) and one behind
/// `type_b` (connecting) came to: both sides' `punch` records.
fn punch_pair(type_a: &str, type_b: &str) -> Option<(Value, Value)> {
    let home = common::tempdir();
    let lab = Lab::up(type_a, type_b)?;
    let _server = lab.serve(home.path());
    let (key, id) = make_key(home.path());
    let timeout = "3s";
    let mut listener = Running::start(lab.command(
        home.path(),
        "a",
        &[
            "listen",
            "-i",
            &key,
            "--rendezvous",
            SERVER,
            "--punch-timeout",
            timeout,
        ],
    ));
    listener.wait_for(WAIT, |r| r["type"] == "listening");
    let out = lab.run(
        home.path(),
        "b",
        &[
            "connect",
            &id,
            "--rendezvous",
            SERVER,
            "--punch-timeout",
            timeout,
        ],
    );
    let connector = out
        .records()
        .into_iter()
        .find(|r| r["type"] == "punch")
        .unwrap_or_else(|| panic!("no punch record: {}", out.stderr));
    let listened = listener.wait_for(WAIT, |r| r["type"] == "punch");
    let expect = i32::from(connector["ok"] != true);
    assert_eq!(out.code(), expect, "{}", out.stderr);
    Some((listened, connector))
}

/// The technique a pair must punch with (None: it must fail).
fn expected(type_a: &str, type_b: &str) -> Option<&'static str> {
    match (type_a, type_b) {
        ("symmetric", "symmetric") => None,
        ("symmetric", "port-restricted") | ("port-restricted", "symmetric") => Some("birthday"),
        _ => Some("simultaneous-open"),
    }
}

fn matrix_row(type_a: &str) {
    for type_b in TYPES {
        let Some((a, b)) = punch_pair(type_a, type_b) else {
            return;
        };
        eprintln!(
            "{type_a:>15} x {type_b:<15} {:<18} listener {:>8} ms, connector {:>8} ms",
            b["technique"].as_str().unwrap_or("failed"),
            a["elapsed_ms"],
            b["elapsed_ms"]
        );
        match expected(type_a, type_b) {
            Some(technique) => {
                for side in [&a, &b] {
                    assert_eq!(side["ok"], true, "{type_a} x {type_b}: {side}");
                    assert_eq!(side["technique"], technique, "{type_a} x {type_b}: {side}");
                    assert!(side["elapsed_ms"].as_f64().unwrap() < 2500.0, "{side}");
                }
                assert_eq!(
                    a["remote"].as_str().unwrap().split(':').nth(1),
                    Some("//198.51.100.2")
                );
                assert_eq!(
                    b["remote"].as_str().unwrap().split(':').nth(1),
                    Some("//198.51.100.1")
                );
            }
            None => {
                assert_eq!(a["ok"], false, "{a}");
                assert_eq!(b["ok"], false, "{b}");
            }
        }
    }
}

#[test]
fn punch_matrix_from_a_full_cone() {
    matrix_row("full");
}

#[test]
fn punch_matrix_from_a_restricted_cone() {
    matrix_row("restricted");
}

#[test]
fn punch_matrix_from_a_port_restricted_cone() {
    matrix_row("port-restricted");
}

#[test]
fn punch_matrix_from_a_symmetric_nat() {
    matrix_row("symmetric");
}

#[test]
fn stdio_signalling_punches_through_a_symmetric_nat() {
    let home = common::tempdir();
    let Some(lab) = Lab::up("symmetric", "port-restricted") else {
        return;
    };
    let _server = lab.serve(home.path());
    let args = ["connect", "--signal", "stdio", "--stun", SERVER];
    let mut a = Running::start(lab.command(home.path(), "a", &args));
    let mut b = Running::start(lab.command(home.path(), "b", &args));
    let ca = a.wait_for(WAIT, |r| r["type"] == "candidate");
    let cb = b.wait_for(WAIT, |r| r["type"] == "candidate");
    assert_eq!(ca["mapping"], "endpoint-dependent", "{ca}");
    assert_eq!(cb["mapping"], "endpoint-independent", "{cb}");
    a.send_line(&cb.to_string());
    b.send_line(&ca.to_string());
    let pa = a.wait_for(WAIT, |r| r["type"] == "punch");
    let pb = b.wait_for(WAIT, |r| r["type"] == "punch");
    assert_eq!(pa["ok"], true, "{pa}\n{}", a.stderr());
    assert_eq!(pb["ok"], true, "{pb}\n{}", b.stderr());
    assert_eq!(pa["technique"], "birthday");
    assert_eq!(pb["id"], ca["id"]);
}

#[test]
fn natlab_leaves_nothing_behind() {
    let Some(lab) = Lab::up("symmetric", "full") else {
        return;
    };
    let name = lab.name.clone();
    let listed = |name: &str| {
        let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&format!("{name}-")))
            .count()
    };
    assert_eq!(listed(&name), 6);
    drop(lab);
    assert_eq!(listed(&name), 0);
}
