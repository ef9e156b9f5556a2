//! Raft's safety properties (§5.2 Election Safety, §5.3 Log Matching, §5.4
//! Leader Completeness / State Machine Safety) checked after every step of
//! seeded random runs: partitions, lossy links, restarts from storage and
//! proposals, with and without pre-vote / check-quorum. Part 2AB (with 2AA's
//! elections underneath), so `cargo test 2ab` runs it.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::StateRole;
use tinyraft_tests::*;

const N: u64 = 5;

struct Checker {
    /// term -> the leader seen in that term.
    leaders: BTreeMap<u64, u64>,
    /// index -> (term, data) of every entry ever seen committed.
    committed: BTreeMap<u64, (u64, Vec<u8>)>,
    /// node -> last commit index seen.
    commit_seen: BTreeMap<u64, u64>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            commit_seen: BTreeMap::new(),
        }
    }

    fn check(&mut self, nt: &Network, ctx: &str) {
        for id in nt.live_ids() {
            let p = nt.peer(id);
            if p.state == StateRole::Leader {
                let prev = *self.leaders.entry(p.term).or_insert(id);
                assert_eq!(
                    prev, id,
                    "{ctx}: election safety: two leaders in term {}",
                    p.term
                );
            }
            let c = p.raft_log.committed;
            assert!(
                c <= p.raft_log.last_index(),
                "{ctx}: node {id} commit {c} beyond its log"
            );
            let seen = self.commit_seen.entry(id).or_insert(0);
            assert!(
                c >= *seen,
                "{ctx}: node {id} commit went back from {seen} to {c}"
            );
            *seen = c;
            let first = p.raft_log.first_index();
            if c >= first {
                for e in p.raft_log.entries(first, None).expect("log entries") {
                    if e.index > c {
                        break;
                    }
                    let got = (e.term, e.data.to_vec());
                    let want = self.committed.entry(e.index).or_insert_with(|| got.clone());
                    assert_eq!(
                        *want, got,
                        "{ctx}: state machine safety at index {} on node {id}",
                        e.index
                    );
                }
            }
        }
        // Log matching: same index and term => identical prefixes.
        let ids = nt.live_ids();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (la, lb) = (
                    nt.peer(*a).raft_log.all_entries(),
                    nt.peer(*b).raft_log.all_entries(),
                );
                let mb: BTreeMap<u64, (u64, Vec<u8>)> = lb
                    .iter()
                    .map(|e| (e.index, (e.term, e.data.to_vec())))
                    .collect();
                let mut highest_match = None;
                for e in la.iter().rev() {
                    if mb.get(&e.index).is_some_and(|(t, _)| *t == e.term) {
                        highest_match = Some(e.index);
                        break;
                    }
                }
                if let Some(hm) = highest_match {
                    for e in la.iter().filter(|e| e.index <= hm) {
                        if let Some(other) = mb.get(&e.index) {
                            assert_eq!(
                                *other,
                                (e.term, e.data.to_vec()),
                                "{ctx}: log matching between {a} and {b} at {}",
                                e.index
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Returns (accepted proposals, final commit, number of terms that had a leader).
fn run(seed: u64, pre_vote: bool, check_quorum: bool, rounds: usize) -> (usize, u64, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cfg = move |id: u64| {
        let mut c = config_with(id, pre_vote, check_quorum);
        c.seed = seed;
        c
    };
    let peers = (0..N).map(|_| Peer::Fresh).collect();
    let mut nt = Network::new_with_config(peers, cfg);
    nt.set_seed(seed ^ 0xd20b);
    let mut chk = Checker::new();
    let mut proposals = 0usize;
    for round in 0..rounds {
        let ctx = format!("seed {seed} pv {pre_vote} cq {check_quorum} round {round}");
        match rng.random_range(0..100) {
            0..=4 => {
                // New fault pattern.
                nt.recover();
                match rng.random_range(0..4) {
                    0 => {}
                    1 => nt.isolate(rng.random_range(1..=N)),
                    2 => {
                        let a = rng.random_range(1..=N);
                        let b = rng.random_range(1..=N);
                        for x in 1..=N {
                            for y in 1..=N {
                                let side = |v: u64| v == a || v == b;
                                if x != y && side(x) != side(y) {
                                    nt.drop(x, y, 1.0);
                                }
                            }
                        }
                    }
                    _ => {
                        for x in 1..=N {
                            for y in 1..=N {
                                if x != y {
                                    nt.drop(x, y, 0.2);
                                }
                            }
                        }
                    }
                }
            }
            5..=6 => {
                // Restart a node from its storage (everything it sent was persisted first).
                let id = rng.random_range(1..=N);
                let store = nt.storage(id);
                nt.set_peer(id, Some(raft_from(&cfg(id), store)));
            }
            7..=26 => {
                let id = rng.random_range(1..=N);
                let data = format!("p{round}").into_bytes();
                let res = nt.peer_mut(id).step(propose(id, data));
                if res.is_ok() {
                    proposals += 1;
                }
                nt.flush(id);
            }
            _ => {
                for id in 1..=N {
                    nt.tick(id);
                }
            }
        }
        chk.check(&nt, &ctx);
    }
    // Heal and let the cluster settle: it must elect a leader and converge.
    nt.recover();
    for _ in 0..100 {
        for id in 1..=N {
            nt.tick(id);
        }
    }
    chk.check(&nt, &format!("seed {seed} healed"));
    let leaders: Vec<u64> = (1..=N)
        .filter(|id| nt.peer(*id).state == StateRole::Leader)
        .collect();
    assert_eq!(
        leaders.len(),
        1,
        "seed {seed} pv {pre_vote} cq {check_quorum}: one leader after healing"
    );
    let l = leaders[0];
    nt.send(vec![propose(l, "final")]);
    chk.check(&nt, &format!("seed {seed} final"));
    let want = log_full(nt.peer(l));
    for id in 1..=N {
        assert_eq!(
            log_full(nt.peer(id)),
            want,
            "seed {seed}: node {id} converged"
        );
    }
    (proposals, nt.peer(l).raft_log.committed, chk.leaders.len())
}

/// §5.2/§5.3/§5.4 safety under random faults, plain Raft.
#[test]
fn random_faults_keep_safety_2ab() {
    let mut led_terms = 0;
    for seed in 1..=12 {
        let (props, commit, terms) = run(seed, false, false, 600);
        assert!(
            props > 10 && commit > 10,
            "seed {seed}: no progress ({props}, {commit})"
        );
        led_terms += terms;
    }
    assert!(
        led_terms > 24,
        "the faults caused elections: {led_terms} led terms in 12 runs"
    );
}

/// Same with pre-vote and check-quorum on (thesis §9.6).
#[test]
fn random_faults_keep_safety_prevote_checkquorum_2ab() {
    for seed in 101..=112 {
        let (props, commit, _) = run(seed, true, true, 600);
        assert!(
            props > 10 && commit > 10,
            "seed {seed}: the run made progress ({props}, {commit})"
        );
    }
}

/// Same with pre-vote only.
#[test]
fn random_faults_keep_safety_prevote_2ab() {
    for seed in 201..=208 {
        run(seed, true, false, 600);
    }
}
