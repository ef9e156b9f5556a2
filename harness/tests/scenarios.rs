//! 6.824-style scenarios through the `Cluster` API: each names the lab test
//! (or paper rule) it follows and asserts its outcome, plus the safety
//! invariants at the end.

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

/// 6.824 TestInitialElection2A: one leader, terms agree, and the term stays
/// put while nothing fails.
#[test]
fn initial_election_2a() {
    let mut c = cluster(3, 1);
    c.check_one_leader().unwrap();
    // As the lab does: give followers a moment to hear of the election
    // (a vote request can still be in flight when the leader wins).
    c.run_for(50);
    let t1 = c.check_terms().unwrap();
    assert!(t1 >= 1);
    c.run_for(2_000);
    let t2 = c.check_terms().unwrap();
    assert_eq!(t1, t2, "term changed with no failures");
    c.check_one_leader().unwrap();
    safe(&c);
}

/// 6.824 TestReElection2A: a disconnected leader is replaced; no quorum,
/// no leader; a quorum again elects one.
#[test]
fn re_election_after_disconnect_2a() {
    let mut c = cluster(3, 2);
    let l1 = c.check_one_leader().unwrap();
    c.disconnect(l1);
    let l2 = c.check_one_leader().unwrap();
    assert_ne!(l1, l2);
    c.connect(l1);
    let l3 = c.check_one_leader().unwrap();
    c.disconnect(l3);
    c.disconnect(l3 % 3 + 1);
    c.run_for(2_000);
    c.check_no_leader().unwrap();
    c.connect(l3 % 3 + 1);
    c.check_one_leader().unwrap();
    c.connect(l3);
    c.check_one_leader().unwrap();
    safe(&c);
}

/// 6.824 TestManyElections2A: random disconnections of two of seven.
#[test]
fn many_elections_2a() {
    let mut c = cluster(7, 3);
    c.check_one_leader().unwrap();
    for i in 0..6u64 {
        let a = 1 + (i * 3) % 7;
        let b = 1 + (i * 5 + 1) % 7;
        c.disconnect(a);
        c.disconnect(b);
        c.check_one_leader().unwrap();
        c.connect(a);
        c.connect(b);
    }
    c.check_one_leader().unwrap();
    safe(&c);
}

/// 6.824 TestBasicAgree2B: each command commits on every node at the next index.
#[test]
fn basic_agreement_2b() {
    let mut c = cluster(3, 4);
    c.check_one_leader().unwrap();
    let mut last = 0;
    for i in 0..5u8 {
        let idx = c.one(vec![b'a', i], 3, false).unwrap();
        assert!(idx > last);
        last = idx;
        let (n, v) = c.n_committed(idx);
        assert_eq!((n, v), (3, Some(vec![b'a', i])));
    }
    safe(&c);
}

/// 6.824 TestFailAgree2B: agreement with one follower disconnected, and
/// the follower catches up on reconnect.
#[test]
fn agreement_with_follower_disconnected_2b() {
    let mut c = cluster(3, 5);
    c.one(b"101".to_vec(), 3, false).unwrap();
    let l = c.check_one_leader().unwrap();
    let f = l % 3 + 1;
    c.disconnect(f);
    for cmd in [&b"102"[..], b"103", b"104", b"105"] {
        c.one(cmd.to_vec(), 2, false).unwrap();
    }
    c.connect(f);
    let idx = c.one(b"106".to_vec(), 3, true).unwrap();
    c.one(b"107".to_vec(), 3, true).unwrap();
    assert_eq!(c.n_committed(idx).0, 3);
    safe(&c);
}

/// 6.824 TestFailNoAgree2B: without a quorum nothing commits.
#[test]
fn no_agreement_without_quorum_2b() {
    let mut c = cluster(5, 6);
    c.one(b"10".to_vec(), 5, false).unwrap();
    let l = c.check_one_leader().unwrap();
    for k in 1..=3 {
        c.disconnect((l + k - 1) % 5 + 1);
    }
    let (idx, _) = c.start(l, b"20".to_vec()).expect("leader accepts");
    c.run_for(2_000);
    assert_eq!(c.n_committed(idx).0, 0, "committed without a majority");
    for k in 1..=3 {
        c.connect((l + k - 1) % 5 + 1);
    }
    c.one(b"30".to_vec(), 5, true).unwrap();
    safe(&c);
}

/// 6.824 TestPersist12C: crash and restart everyone; agreement continues
/// and nothing committed is lost.
#[test]
fn persist_across_total_crash_2c() {
    let mut c = cluster(3, 7);
    let idx = c.one(b"11".to_vec(), 3, true).unwrap();
    for id in 1..=3 {
        c.crash(id);
    }
    for id in 1..=3 {
        c.restart(id);
    }
    c.one(b"12".to_vec(), 3, true).unwrap();
    let l = c.check_one_leader().unwrap();
    c.crash(l);
    c.restart(l);
    c.one(b"13".to_vec(), 3, true).unwrap();
    assert_eq!(c.n_committed(idx).1, Some(b"11".to_vec()));
    safe(&c);
}

/// 6.824 TestFigure82C (Raft §5.4.2, Figure 8): leaders crash right after
/// proposing; an entry from an old term must never be committed by
/// counting replicas alone.
#[test]
fn figure_8_with_crashes_2c() {
    let mut c = cluster(5, 8);
    c.one(b"start".to_vec(), 1, true).unwrap();
    let mut up = 5;
    for iter in 0..60u64 {
        let mut leader = None;
        for id in 1..=5 {
            if c.start(id, format!("f{iter}").into_bytes()).is_some() {
                leader = Some(id);
            }
        }
        let ms = if iter % 10 == 0 {
            30 + (iter * 37) % 500
        } else {
            5 + (iter * 13) % 15
        };
        c.run_for(ms);
        if let Some(l) = leader {
            if iter % 2 == 0 {
                c.crash(l);
                up -= 1;
            }
        }
        if up < 3 {
            let s = 1 + (iter * 7) % 5;
            if !c.is_up(s) {
                c.restart(s);
                up += 1;
            }
        }
        safe(&c);
    }
    for id in 1..=5 {
        if !c.is_up(id) {
            c.restart(id);
        }
    }
    c.one(b"end".to_vec(), 5, true).unwrap();
    safe(&c);
}

/// 6.824 TestUnreliableAgree2C: 10% loss and jittered delays.
#[test]
fn unreliable_network_agreement_2c() {
    let mut c = cluster(5, 9);
    c.set_unreliable(true);
    for i in 0..20u8 {
        let l = c.leader().unwrap_or(1);
        c.start(l, vec![b'u', i]);
        c.run_for(50);
    }
    c.set_unreliable(false);
    c.one(b"done".to_vec(), 5, true).unwrap();
    safe(&c);
}

/// 6.824 TestFigure8Unreliable2C: long reordering plus crashes of leaders.
#[test]
fn figure_8_unreliable_long_reordering_2c() {
    let mut c = cluster(5, 10);
    c.set_unreliable(true);
    c.set_long_reordering(true);
    c.one(b"x".to_vec(), 1, true).unwrap();
    for iter in 0..100u64 {
        if iter == 80 {
            c.set_long_reordering(false);
        }
        for id in 1..=5 {
            if c.start(id, format!("r{iter}").into_bytes()).is_some() && iter % 7 == 0 {
                c.disconnect(id);
            }
        }
        c.run_for(if iter % 10 == 0 { 200 } else { 13 });
        if (0..5).filter(|k| !c.is_up(k + 1)).count() == 0 && iter % 5 == 4 {
            for id in 1..=5 {
                c.connect(id);
            }
        }
    }
    for id in 1..=5 {
        c.connect(id);
    }
    c.set_unreliable(false);
    c.one(b"final".to_vec(), 5, true).unwrap();
    safe(&c);
}

/// 6.824 churn (TestReliableChurn2C): random crashes, restarts and
/// disconnects while commands flow; at the end everything agrees.
#[test]
fn churn_2c() {
    let mut c = cluster(5, 11);
    for iter in 0..40u64 {
        let victim = 1 + (iter * 3) % 5;
        match iter % 4 {
            0 => c.crash(victim),
            1 => c.restart(victim),
            2 => c.disconnect(victim),
            _ => c.connect(victim),
        }
        if let Some(l) = c.leader() {
            c.start(l, format!("c{iter}").into_bytes());
        }
        c.run_for(100 + (iter * 71) % 400);
        safe(&c);
    }
    for id in 1..=5 {
        c.connect(id);
        if !c.is_up(id) {
            c.restart(id);
        }
    }
    c.one(b"after churn".to_vec(), 5, true).unwrap();
    safe(&c);
}

/// 6.824 2D: with snapshot_interval the log stays small, and a follower
/// that was away catches up (by snapshot) after reconnecting.
#[test]
fn snapshots_bound_the_log_and_catch_up_a_follower_2d() {
    let mut c = Cluster::new(SimConfig {
        nodes: 3,
        seed: shifted(12),
        snapshot_interval: Some(10),
        ..Default::default()
    });
    let l = c.check_one_leader().unwrap();
    let f = l % 3 + 1;
    c.disconnect(f);
    for i in 0..40u8 {
        c.one(vec![b's', i], 2, true).unwrap();
    }
    assert!(c.first_index(l) > 1, "leader never compacted");
    assert!(c.snapshot_bytes(l) > 0);
    c.connect(f);
    let idx = c.one(b"after".to_vec(), 3, true).unwrap();
    assert_eq!(c.n_committed(idx).0, 3);
    c.crash(f);
    c.restart(f);
    c.one(b"after restart".to_vec(), 3, true).unwrap();
    safe(&c);
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
