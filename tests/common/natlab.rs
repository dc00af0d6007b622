//! The NAT lab (scripts/natlab) for tests: a server on the simulated internet and two
//! hosts behind NATs of chosen types, torn down (with everything running in it) when
//! the guard drops, also when a test fails. Needs root: without it, [`Lab::up`] says
//! why the test skips and returns `None` (failing it under `P2P_REQUIRE_PEERS=1`).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The server's first address (STUN and rendezvous).
pub const SERVER: &str = "203.0.113.1:3478";
/// The server's second address (RFC 5780's alternate).
pub const ALT: &str = "203.0.113.2:3479";

static LABS: AtomicU32 = AtomicU32::new(0);

/// One lab, removed on drop.
pub struct Lab {
    name: String,
}

impl Lab {
    /// Builds a lab with host A behind `type_a` and host B behind `type_b`.
    pub fn up(test: &str, type_a: &str, type_b: &str) -> Option<Lab> {
        if !super::is_root() {
            super::skip(
                test,
                "the NAT lab needs root (network namespaces, iptables)",
            );
            return None;
        }
        let name = format!(
            "pl{}x{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab { name };
        let out = super::run(
            {
                let mut cmd = Command::new(super::repo_root().join("scripts/natlab"));
                cmd.args(["up", &lab.name, type_a, type_b]);
                cmd
            },
            b"",
            super::DEADLINE,
        );
        assert_eq!(out.code(), 0, "natlab up: {}", out.stderr);
        Some(lab)
    }

    /// `program ARGS` in `place`: `srv`, `a` (host A) or `b` (host B).
    pub fn command(&self, home: &Path, place: &str, program: &Path, args: &[&str]) -> Command {
        let ns = match place {
            "srv" => format!("{}-srv", self.name),
            "a" => format!("{}-ha", self.name),
            "b" => format!("{}-hb", self.name),
            other => panic!("no place {other} in the lab"),
        };
        let mut cmd = super::command(Path::new("ip"), home);
        cmd.args(["netns", "exec", &ns]).arg(program).args(args);
        cmd
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(super::repo_root().join("scripts/natlab"))
            .args(["down", &self.name])
            .status();
    }
}
