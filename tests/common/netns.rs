//! Network namespaces for multi-host tests: two hosts joined by a veth pair, on
//! test-net addresses, removed again when the guard drops (also when a test fails).
//! Needs root; without it, [`Pair::new`] says why the test skips and returns `None`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two namespaces, `a` (192.0.2.1) and `b` (192.0.2.2), on one veth link.
pub struct Pair {
    /// Namespace names.
    pub ns: [String; 2],
    /// Interface names inside them.
    pub iface: [String; 2],
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Pair {
    /// Builds the pair, or returns `None` (with a message) when not root or when
    /// `ip` is missing.
    pub fn new(test: &str) -> Option<Pair> {
        if !super::is_root() {
            super::skip(test, "network namespaces need root");
            return None;
        }
        if !ip(&["-V"]) {
            super::skip(test, "the ip command (iproute2) is missing");
            return None;
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{n}", std::process::id());
        let pair = Pair {
            ns: [format!("p2pt-{tag}-a"), format!("p2pt-{tag}-b")],
            iface: [format!("v{tag}a"), format!("v{tag}b")],
        };
        let [a, b] = &pair.ns;
        let [va, vb] = &pair.iface;
        let ok = ip(&["netns", "add", a])
            && ip(&["netns", "add", b])
            && ip(&["link", "add", va, "type", "veth", "peer", "name", vb])
            && ip(&["link", "set", va, "netns", a])
            && ip(&["link", "set", vb, "netns", b])
            && ip(&["-n", a, "addr", "add", "192.0.2.1/24", "dev", va])
            && ip(&["-n", b, "addr", "add", "192.0.2.2/24", "dev", vb])
            && ip(&["-n", a, "link", "set", "lo", "up"])
            && ip(&["-n", b, "link", "set", "lo", "up"])
            && ip(&["-n", a, "link", "set", va, "up"])
            && ip(&["-n", b, "link", "set", vb, "up"]);
        assert!(ok, "could not build the namespace pair");
        Some(pair)
    }

    /// A command that runs `program` inside namespace `i` (0 or 1), with the same
    /// scrubbed environment as [`super::command`].
    pub fn command(&self, i: usize, program: &Path, home: &Path) -> Command {
        let mut cmd = super::command(Path::new("ip"), home);
        cmd.args(["netns", "exec", &self.ns[i]]).arg(program);
        cmd
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in &self.ns {
            // Deleting a namespace also removes its end of the veth pair, and with
            // it the other end.
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
