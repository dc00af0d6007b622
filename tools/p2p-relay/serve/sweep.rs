//! The once-a-second sweep: expired and idle allocations end, expired permissions
//! and channels go; and the `stats` records.

use super::Server;
use p2p_shared::ndjson::records;
use serde_json::{Value, json};
use smol::Timer;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

impl Server {
    pub(super) async fn sweep_loop(self: Rc<Self>) {
        let mut next_stats = self.args.stats_every.map(|every| Instant::now() + every);
        loop {
            Timer::after(Duration::from_secs(1)).await;
            let now = Instant::now();
            self.sweep(now);
            if let (Some(at), Some(every)) = (next_stats, self.args.stats_every)
                && now >= at
            {
                self.stats_record();
                next_stats = Some(now + every);
            }
        }
    }

    pub(super) fn sweep(&self, now: Instant) {
        let idle = self.args.limits.idle_timeout;
        let ended: Vec<(SocketAddr, &str)> = {
            let mut state = self.state.borrow_mut();
            for allocation in state.allocations.values_mut() {
                allocation.sweep(now);
            }
            state
                .allocations
                .iter()
                .filter_map(|(client, a)| {
                    if a.expires <= now {
                        Some((*client, "lifetime"))
                    } else if now.duration_since(a.active) >= idle {
                        Some((*client, "idle"))
                    } else {
                        None
                    }
                })
                .collect()
        };
        for (client, reason) in ended {
            self.end(client, reason);
        }
    }

    pub(super) fn stats_record(&self) {
        let state = self.state.borrow();
        let s = &state.stats;
        let refusals: serde_json::Map<String, Value> = s
            .refusals
            .iter()
            .map(|(c, n)| (c.to_string(), json!(n)))
            .collect();
        self.event(&records::stats(json!({
            "allocations": state.allocations.len(),
            "bytes_to_peers": s.to_peers,
            "bytes_to_clients": s.to_clients,
            "dropped_no_permission": s.dropped_no_permission,
            "dropped_rate": s.dropped_rate,
            "malformed": s.malformed,
            "challenges": s.challenges,
            "dropped_behind": s.dropped_behind,
            "dropped_requests": s.dropped_requests,
            "refusals": refusals,
        })));
    }
}
