//! Simulation tests: many nodes in one process, virtual time, deterministic.

use super::frame::Wire;
use super::message::Message;
use super::node::{Config, Mode};
use super::sim::{NetConfig, Sim};
use crate::identity::Identity;
use serde_json::json;

fn swarm(n: usize, mode: Mode, seed: u64) -> Sim {
    let mut sim = Sim::new(NetConfig {
        seed,
        ..NetConfig::default()
    });
    let mut cfg = Config::new("t");
    cfg.mode = mode;
    for i in 0..n {
        sim.add_node(cfg.clone());
        if i > 0 {
            // Each joins through a random earlier node.
            let contact = usize::try_from(seed)
                .unwrap()
                .wrapping_mul(7919)
                .wrapping_add(i * 104_729)
                % i;
            sim.join(i, contact);
        }
        sim.run_for(20);
    }
    sim.run_for(3_000);
    sim
}

/// Publishes `count` messages from rotating authors, 5 ms apart, then settles.
fn publish(sim: &mut Sim, count: usize) -> Vec<[u8; 32]> {
    let alive = sim.alive();
    let mut ids = Vec::new();
    for k in 0..count {
        let author = alive[(k * 31) % alive.len()];
        ids.push(sim.publish(author, &json!({ "k": k })).expect("published"));
        sim.run_for(5);
    }
    sim.run_for(2_000);
    ids
}

fn assert_all_delivered(sim: &Sim, ids: &[[u8; 32]]) {
    let alive = sim.alive();
    for id in ids {
        let (author, _) = sim.published[id];
        let got = sim.deliveries.get(id).map_or(0, |d| {
            d.iter().filter(|d| sim.node(d.node).is_some()).count()
        });
        let want = alive.iter().filter(|&&i| i != author).count();
        assert_eq!(
            got,
            want,
            "message {} reached {got} of {want}",
            hex::encode(id)
        );
    }
    assert_eq!(sim.redelivered, 0, "a node delivered a message twice");
}

fn redundancy(sim: &Sim) -> f64 {
    let (dups, delivered) = sim.alive().iter().fold((0, 0), |(d, n), &i| {
        let s = sim.stats(i).unwrap();
        (d + s.duplicates, n + s.delivered)
    });
    #[allow(clippy::cast_precision_loss)]
    let r = dups as f64 / delivered.max(1) as f64;
    r
}

#[test]
fn plumtree_delivers_everything_exactly_once_with_low_redundancy_in_steady_state() {
    let mut sim = swarm(40, Mode::Plumtree, 3);
    for i in sim.alive() {
        let s = sim.stats(i).unwrap();
        assert!(
            s.active >= 1 && s.active <= 5,
            "node {i}: active {}",
            s.active
        );
    }
    let warmup = publish(&mut sim, 50);
    assert_all_delivered(&sim, &warmup);
    let before: Vec<_> = sim.alive().iter().map(|&i| sim.stats(i).unwrap()).collect();
    let ids = publish(&mut sim, 200);
    assert_all_delivered(&sim, &ids);
    let (dups, delivered) = sim
        .alive()
        .iter()
        .zip(&before)
        .fold((0, 0), |(d, n), (&i, b)| {
            let s = sim.stats(i).unwrap();
            (
                d + s.duplicates - b.duplicates,
                n + s.delivered - b.delivered,
            )
        });
    #[allow(clippy::cast_precision_loss)]
    let steady = dups as f64 / delivered as f64;
    assert!(steady < 0.1, "steady-state redundancy {steady}");
}

#[test]
fn flood_delivers_everything_but_with_many_copies() {
    let mut sim = swarm(30, Mode::Flood, 4);
    let ids = publish(&mut sim, 50);
    assert_all_delivered(&sim, &ids);
    assert!(
        redundancy(&sim) > 1.0,
        "flood redundancy {}",
        redundancy(&sim)
    );
}

#[test]
fn the_overlay_repairs_itself_after_a_fifth_of_the_nodes_die() {
    let mut sim = swarm(40, Mode::Plumtree, 5);
    publish(&mut sim, 20);
    for i in (0..40).step_by(5) {
        sim.kill(i);
    }
    // Messages sent right after the kills still reach everyone alive.
    let during = publish(&mut sim, 30);
    sim.run_for(3_000);
    assert_all_delivered(&sim, &during);
    let after = publish(&mut sim, 50);
    assert_all_delivered(&sim, &after);
    for i in sim.alive() {
        let s = sim.stats(i).unwrap();
        assert!(s.active >= 2, "node {i} kept only {} neighbours", s.active);
    }
}

#[test]
fn a_late_joiner_catches_up_through_anti_entropy() {
    let mut sim = swarm(10, Mode::Plumtree, 6);
    let before = publish(&mut sim, 20);
    let late = sim.add_node(Config::new("t"));
    sim.join(late, 3);
    sim.run_for(2_000);
    for id in &before {
        assert!(
            sim.deliveries[id].iter().any(|d| d.node == late),
            "the late node missed {}",
            hex::encode(id)
        );
    }
    assert_eq!(sim.stats(late).unwrap().pulled, 20);
    assert_eq!(sim.redelivered, 0);
}

/// A node killed (as by SIGKILL: its neighbours notice only after 5 s) and
/// started again with the same identity at once, joining through a neighbour that
/// still counts it as active, is taken in again at once and pulls what it missed,
/// long before the kill is noticed or a shuffle comes by. The contact used to
/// leave a JOIN from a peer it held active unanswered, and the other neighbour
/// ignored the walk announcing it, so the restarted node stayed alone (the
/// process test of the restart took 6-16 s, waiting for a shuffle).
#[test]
fn a_restarted_node_is_taken_in_again_at_once_by_neighbours_holding_its_old_link() {
    let mut sim = Sim::new(NetConfig {
        detect_ms: 5_000,
        ..NetConfig::default()
    });
    let cfg = Config::new("t");
    for _ in 0..3 {
        sim.add_node(cfg.clone());
    }
    // 0 - 1, and 2 joins through 1 (its walk makes 0 take it in as well).
    sim.join(1, 0);
    sim.run_for(100);
    sim.join(2, 1);
    // Killed within a second of joining, so that its neighbours answered its
    // first summary less than a second before the restarted node sends its own.
    sim.run_for(300);
    let holders = |sim: &Sim| {
        [0, 1]
            .into_iter()
            .filter(|&i| {
                sim.node(i)
                    .unwrap()
                    .active()
                    .contains(&sim.node(2).unwrap().id())
            })
            .count()
    };
    assert_eq!(holders(&sim), 2, "both count 2 as a neighbour");
    sim.kill(2);
    let missed = [
        sim.publish(0, &json!("m1")).unwrap(),
        sim.publish(0, &json!("m2")).unwrap(),
    ];
    // Restarted before its neighbours notice (pushing m1 and m2 to it tells them
    // within 50 ms in the simulation; its own connection replaces the stale link).
    sim.run_for(10);
    sim.restart(2, cfg);
    sim.join(2, 1);
    sim.run_for(1_000);
    let restarted = sim.node(2).unwrap();
    assert!(
        !restarted.active().is_empty(),
        "the restarted node has a neighbour"
    );
    for id in &missed {
        assert!(
            sim.deliveries
                .get(id)
                .is_some_and(|d| d.iter().any(|d| d.node == 2)),
            "the restarted node pulled {}",
            hex::encode(id)
        );
    }
    assert_eq!(sim.redelivered, 0);
}

#[test]
fn two_halves_reconcile_when_a_partition_heals() {
    let mut sim = Sim::new(NetConfig::default());
    let cfg = Config::new("t");
    for i in 0..12 {
        sim.add_node(cfg.clone());
        if i % 6 != 0 {
            sim.join(i, i - 1);
        }
        sim.run_for(20);
    }
    sim.run_for(2_000);
    let left = sim.publish(0, &json!("left")).unwrap();
    let right = sim.publish(7, &json!("right")).unwrap();
    sim.run_for(2_000);
    assert_eq!(sim.deliveries[&left].len(), 5, "the left half only");
    sim.join(2, 9);
    sim.run_for(3_000);
    assert_eq!(sim.deliveries[&left].len(), 11);
    assert_eq!(sim.deliveries[&right].len(), 11);
    assert_eq!(sim.redelivered, 0);
}

#[test]
fn forged_replayed_and_seq_raised_messages_are_dropped() {
    let mut sim = swarm(5, Mode::Plumtree, 8);
    let author = Identity::from_seed([42; 32]);
    let ts = 1_700_000_000_000 + sim.now();
    let good = Message::sign(&author, "t", 10, ts, &json!("hi"));
    let send = |sim: &mut Sim, bytes: Vec<u8>| {
        let message = bytes.into();
        sim.inject(1, 0, Wire::Gossip { hops: 1, message });
        sim.run_for(100);
    };
    send(&mut sim, good.wire.to_vec());
    assert_eq!(
        sim.deliveries[&good.id].len(),
        5,
        "the genuine message spreads"
    );
    let text = String::from_utf8(good.wire.to_vec()).unwrap();
    let raised = text.replace("\"seq\":10", "\"seq\":11");
    let forged = text.replace("\"hi\"", "\"bye\"");
    send(&mut sim, raised.into_bytes());
    send(&mut sim, forged.into_bytes());
    let s = sim.stats(0).unwrap();
    // The raised seq fails the signature; the altered payload reuses seq 10, which
    // the replay window already holds, so it is dropped before its signature is checked.
    assert_eq!((s.invalid, s.replayed), (1, 1), "{s:?}");
    assert_eq!(s.delivered, 1);
    // A replay of an older seq (signed, but below what the window remembers).
    let mut cfg_small = Config::new("t");
    cfg_small.replay_window = 2;
    cfg_small.dedup = 1;
    let mut sim2 = Sim::new(NetConfig::default());
    sim2.add_node(cfg_small);
    sim2.add_node(Config::new("t"));
    let old = Message::sign(&author, "t", 1, ts, &json!(1));
    for seq in [1, 2, 3] {
        let m = Message::sign(&author, "t", seq, ts, &json!(seq));
        sim2.inject(
            1,
            0,
            Wire::Gossip {
                hops: 1,
                message: m.wire.clone(),
            },
        );
        sim2.run_for(10);
    }
    sim2.inject(
        1,
        0,
        Wire::Gossip {
            hops: 1,
            message: old.wire.clone(),
        },
    );
    sim2.run_for(10);
    let s = sim2.stats(0).unwrap();
    assert_eq!((s.delivered, s.replayed), (3, 1), "{s:?}");
}

#[test]
fn a_flooding_neighbour_is_rate_limited_and_the_others_still_get_through() {
    let mut sim = Sim::new(NetConfig::default());
    let mut cfg = Config::new("t");
    cfg.rate.rate = 100.0;
    cfg.rate.burst = 100.0;
    for _ in 0..3 {
        sim.add_node(cfg.clone());
    }
    sim.join(1, 0);
    sim.join(2, 0);
    sim.run_for(500);
    let flooder = Identity::from_seed([7; 32]);
    let ts = 1_700_000_000_000 + sim.now();
    for seq in 1..=1000 {
        let m = Message::sign(&flooder, "t", seq, ts, &json!(seq));
        sim.inject(
            1,
            0,
            Wire::Gossip {
                hops: 1,
                message: m.wire.clone(),
            },
        );
    }
    let honest = sim.publish(2, &json!("still here")).unwrap();
    sim.run_for(1_000);
    let s = sim.stats(0).unwrap();
    assert!(s.rate_limited >= 800, "{s:?}");
    assert!(sim.deliveries[&honest].iter().any(|d| d.node == 0));
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut sim = swarm(15, Mode::Plumtree, seed);
        publish(&mut sim, 10);
        (sim.traffic.frames, sim.traffic.bytes)
    };
    assert_eq!(run(9), run(9));
}

#[test]
fn many_authors_at_once_do_not_split_the_tree() {
    let mut sim = swarm(50, Mode::Plumtree, 11);
    // 200 messages/s from rotating authors: many cross each other in flight.
    publish(&mut sim, 300);
    let alive = sim.alive();
    let mut ids = Vec::new();
    for k in 0..200 {
        ids.push(
            sim.publish(alive[(k * 17) % alive.len()], &json!(k))
                .unwrap(),
        );
        sim.run_for(10);
    }
    sim.run_for(2_000);
    assert_all_delivered(&sim, &ids);
    let mut reach: Vec<u64> = ids
        .iter()
        .map(|id| {
            let (_, at) = sim.published[id];
            sim.deliveries[id].iter().map(|d| d.at - at).max().unwrap()
        })
        .collect();
    reach.sort_unstable();
    let (median, p99) = (reach[reach.len() / 2], reach[reach.len() * 99 / 100]);
    // Links take 1-2 ms and a graft 80 ms: a split tree makes most messages wait
    // for grafts (a median near 180 ms before the fix).
    assert!(median < 40 && p99 < 150, "median {median} ms, p99 {p99} ms");
    let eager: usize = alive.iter().map(|&i| sim.stats(i).unwrap().eager).sum();
    assert!(
        eager >= 2 * (alive.len() - 1),
        "eager links {eager}: not a spanning tree"
    );
}

#[test]
fn descheduled_nodes_slow_the_swarm_but_everything_still_arrives_once() {
    let mut sim = Sim::new(NetConfig {
        seed: 5,
        pause_ms: 40,
        run_ms: 20,
        ..NetConfig::default()
    });
    for i in 0..20 {
        sim.add_node(Config::new("t"));
        if i > 0 {
            sim.join(i, (i * 7) % i);
        }
        sim.run_for(20);
    }
    sim.run_for(3_000);
    let ids = publish(&mut sim, 60);
    assert_all_delivered(&sim, &ids);
    let mut reach: Vec<u64> = ids
        .iter()
        .map(|id| {
            let (_, at) = sim.published[id];
            sim.deliveries[id].iter().map(|d| d.at - at).max().unwrap()
        })
        .collect();
    reach.sort_unstable();
    // Links take 1-2 ms; nodes paused two thirds of the time make each hop wait
    // for the receiver to run again.
    let median = reach[reach.len() / 2];
    assert!(
        median > 40,
        "median {median} ms: the pauses did not slow anything"
    );
}

/// Fifty nodes joining at the same instant, each through a random earlier node, as
/// the one-process benchmark starts them: every node is in one overlay and gets
/// every message. Two nodes joining at once through the same contact used to end
/// up each other's only neighbour, the contact (full by then, so it refused them)
/// their only candidate: an island that received nothing, in seeds 4 and 13 here
/// (in the benchmark, 2-3 nodes missing every message in about one run of three).
#[test]
fn fifty_nodes_joining_at_once_form_one_overlay() {
    for seed in 1..=13 {
        let mut sim = Sim::new(NetConfig {
            seed,
            ..NetConfig::default()
        });
        let mut rng = super::rng::Rng::new(seed);
        for i in 0..50 {
            sim.add_node(Config::new("t"));
            if i > 0 {
                sim.join(i, rng.below(i));
            }
        }
        sim.run_for(3_000);
        let ids = publish(&mut sim, 20);
        for &node in &sim.alive() {
            let missed = ids
                .iter()
                .filter(|id| {
                    sim.published[*id].0 != node
                        && !sim.deliveries[*id].iter().any(|d| d.node == node)
                })
                .count();
            let s = sim.stats(node).unwrap();
            assert_eq!(
                missed, 0,
                "seed {seed}: node {node} missed {missed} of 20 (active {}, passive {})",
                s.active, s.passive
            );
        }
        assert_all_delivered(&sim, &ids);
    }
}
