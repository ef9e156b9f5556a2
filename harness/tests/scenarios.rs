//! Scenarios through the `Cluster` API beyond the 6.824 lab: membership,
//! leader transfer and message budgets of sequential agreement, each
//! asserting its outcome and the safety invariants at the end.
//!
//! The lab's own scenarios (election, re-election after disconnect,
//! agreement with failures, Figure 8 with crashes, unreliable networks,
//! churn, persistence, snapshots) are translated once, in
//! `tests/tests/lab.rs`, where `grade` scores them by part.

use tinyraft_harness::{Cluster, SimConfig};

/// `SCENARIO_SEED_OFFSET=k` shifts every seed here by `k`, to sweep the
/// scenarios over other schedules.
fn shifted(seed: u64) -> u64 {
    let k = std::env::var("SCENARIO_SEED_OFFSET").ok();
    seed.wrapping_add(k.and_then(|k| k.parse().ok()).unwrap_or(0))
}

fn cluster(nodes: usize, seed: u64) -> Cluster {
    Cluster::new(SimConfig {
        nodes,
        seed: shifted(seed),
        ..Default::default()
    })
}

fn safe(c: &Cluster) {
    if let Err(v) = c.check_invariants() {
        panic!("{v}");
    }
}

/// Membership (Raft §6, single-server changes): add a node, it catches up
/// and counts; remove another, agreement continues.
#[test]
fn add_and_remove_nodes() {
    let mut c = cluster(3, 13);
    c.one(b"m1".to_vec(), 3, true).unwrap();
    c.add_node(4).unwrap();
    let idx = c.one(b"m2".to_vec(), 4, true).unwrap();
    assert_eq!(c.n_committed(idx).0, 4);
    let l = c.check_one_leader().unwrap();
    let victim = if l == 1 { 2 } else { 1 };
    c.remove_node(victim).unwrap();
    c.one(b"m3".to_vec(), 3, true).unwrap();
    safe(&c);
}

/// Leader transfer (thesis §3.10): leadership moves to the named node.
#[test]
fn leader_transfer() {
    let mut c = cluster(3, 14);
    c.one(b"t".to_vec(), 3, true).unwrap();
    let l = c.check_one_leader().unwrap();
    let to = l % 3 + 1;
    c.transfer_leader(to).unwrap();
    assert!(c.is_leader(to));
    c.one(b"t2".to_vec(), 3, true).unwrap();
    safe(&c);
}

/// 6.824's message budgets (TestCount2B, counted in messages: an RPC is a
/// request and its reply): an election costs at most ~60 messages, ten
/// sequential agreements about 8 each (append, reply, and the heartbeat
/// round that carries the commit), an idle second at most ~120.
#[test]
fn message_budgets_6824() {
    for seed in 15..20 {
        let mut c = cluster(3, seed);
        let total = |c: &Cluster| (1..=3).map(|i| c.messages_sent(i)).sum::<u64>();
        c.check_one_leader().unwrap();
        assert!(total(&c) <= 60, "election took {} messages", total(&c));
        let before = total(&c);
        for i in 0..10u8 {
            c.one(vec![i], 3, false).unwrap();
        }
        let agree = total(&c) - before;
        assert!(agree <= 120, "{agree} messages for 10 agreements");
        let idle0 = total(&c);
        c.run_for(1_000);
        assert!(
            total(&c) - idle0 <= 120,
            "{} messages in an idle second",
            total(&c) - idle0
        );
        safe(&c);
    }
}
