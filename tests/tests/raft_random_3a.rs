//! Seeded random runs of a `RawNode` cluster through the full Ready cycle,
//! mixing everything parts 2 and 3A add: partitions, proposals, membership
//! changes (add, remove, learners), leader transfers, ReadIndex, log
//! compaction with snapshots, and restarts from storage. After every step:
//! §5.2 election safety (one leader per term) and state machine safety (no
//! two nodes apply different entries at one index); at the end, after
//! healing, the cluster must elect a leader and every member applies a
//! final proposal. Named `_3a` so `cargo test 3a` runs it.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::StateRole;
use tinyraft::eraftpb::{ConfChangeType, EntryType};
use tinyraft_tests::*;

const IDS: [u64; 5] = [1, 2, 3, 4, 5];

struct Safety {
    leaders: BTreeMap<u64, u64>,
    applied: BTreeMap<u64, (u64, Vec<u8>)>,
    seen: BTreeMap<u64, usize>,
}

impl Safety {
    fn check(&mut self, cl: &RawCluster, ctx: &str) {
        for (id, term) in cl.leaders() {
            let prev = *self.leaders.entry(term).or_insert(id);
            assert_eq!(prev, id, "{ctx}: two leaders in term {term}");
        }
        for (id, ents) in &cl.applied {
            let from = self.seen.get(id).copied().unwrap_or(0);
            for e in &ents[from.min(ents.len())..] {
                let got = (e.term, e.data.to_vec());
                let want = self.applied.entry(e.index).or_insert_with(|| got.clone());
                assert_eq!(
                    *want, got,
                    "{ctx}: node {id} applied a different entry at {}",
                    e.index
                );
            }
            self.seen.insert(*id, ents.len());
        }
        for (id, n) in &cl.nodes {
            let log = &n.raft.raft_log;
            assert!(
                log.committed <= log.last_index(),
                "{ctx}: node {id} commit beyond log"
            );
            assert!(
                log.applied <= log.committed,
                "{ctx}: node {id} applied beyond commit"
            );
        }
    }
}

/// The engine's side of snapshots: when a leader has a follower waiting for
/// a snapshot, refresh the stored snapshot at the leader's applied index
/// (with its current membership), as an engine answering
/// `SnapshotTemporarilyUnavailable` would; otherwise a snapshot taken before
/// the follower was added (which it must ignore, API.md Snapshots rule)
/// would be all the leader could offer.
fn refresh_snapshots(cl: &RawCluster) {
    for n in cl.nodes.values() {
        let r = &n.raft;
        if r.state != StateRole::Leader {
            continue;
        }
        let ids = r.prs().voter_ids().into_iter().chain(r.prs().learner_ids());
        let waiting = ids
            .filter_map(|id| r.prs().get(id))
            .any(|p| p.state == tinyraft::ProgressState::Snapshot);
        if waiting {
            let cs = r.prs().conf_state();
            let store = r.raft_log.store().clone();
            // Fails harmlessly if the stored snapshot is already this recent.
            let _ = store
                .wl()
                .create_snapshot(r.raft_log.applied, Some(cs), "sm".into());
        }
    }
}

fn run(seed: u64, rounds: usize) -> (usize, Vec<tinyraft::eraftpb::Message>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cfg = move |id: u64| {
        let mut c = config_with(id, true, true);
        c.seed = seed;
        c
    };
    let mut cl = RawCluster::new(&[1, 2, 3], cfg);
    for id in [4, 5] {
        cl.add(id, raw_node_from(&cfg(id), new_storage(&[1, 2, 3], &[])));
    }
    let mut safety = Safety {
        leaders: BTreeMap::new(),
        applied: BTreeMap::new(),
        seen: BTreeMap::new(),
    };
    let mut conf_changes = 0;
    for round in 0..rounds {
        let ctx = format!("seed {seed} round {round}");
        let pick = IDS[rng.random_range(0..IDS.len())];
        match rng.random_range(0..100) {
            0..=3 => {
                cl.recover();
                match rng.random_range(0..3) {
                    0 => {}
                    1 => cl.isolate(pick),
                    _ => {
                        let other = IDS[rng.random_range(0..IDS.len())];
                        for x in IDS {
                            for y in IDS {
                                let side = |v: u64| v == pick || v == other;
                                if side(x) != side(y) {
                                    cl.cut(x, y);
                                }
                            }
                        }
                    }
                }
            }
            4..=18 => {
                let _ = cl
                    .node(pick)
                    .propose("", format!("s{seed}r{round}").into_bytes());
                cl.settle();
            }
            19..=23 => {
                if let Some((l, _)) = cl.leaders().last().copied() {
                    let t = match rng.random_range(0..3) {
                        0 => ConfChangeType::AddNode,
                        1 => ConfChangeType::RemoveNode,
                        _ => ConfChangeType::AddLearnerNode,
                    };
                    if cl
                        .node(l)
                        .propose_conf_change("", conf_change(t, pick))
                        .is_ok()
                    {
                        conf_changes += 1;
                    }
                    cl.settle();
                }
            }
            24..=25 => {
                if let Some((l, _)) = cl.leaders().last().copied() {
                    cl.node(l).transfer_leader(pick);
                    cl.settle();
                }
            }
            26..=28 => {
                cl.node(pick).read_index(format!("r{round}").into_bytes());
                cl.settle();
            }
            29..=31 => {
                let n = &cl.nodes[&pick].raft;
                let applied = n.raft_log.applied;
                let first = n.raft_log.first_index();
                if applied > first {
                    let cs = n.prs().conf_state();
                    let store = n.raft_log.store().clone();
                    if store
                        .wl()
                        .create_snapshot(applied, Some(cs), "sm".into())
                        .is_ok()
                    {
                        store.wl().compact(applied).expect("compact at applied");
                    }
                }
            }
            32..=33 => {
                let n = &cl.nodes[&pick].raft;
                let store = n.raft_log.store().clone();
                let mut c = cfg(pick);
                c.applied = n.raft_log.applied;
                cl.add(pick, raw_node_from(&c, store));
                cl.settle();
            }
            _ => cl.tick_all(),
        }
        safety.check(&cl, &ctx);
        refresh_snapshots(&cl);
    }
    // Heal: a leader emerges and every member applies a final entry.
    cl.recover();
    let mut leader = None;
    for _ in 0..300 {
        cl.tick_all();
        safety.check(&cl, &format!("seed {seed} healing"));
        refresh_snapshots(&cl);
        if let Some((l, _)) = cl.leaders().last().copied() {
            if cl.node(l).propose("", "final").is_ok() {
                leader = Some((l, cl.nodes[&l].raft.raft_log.last_index()));
                break;
            }
        }
    }
    let (l, final_index) = leader
        .unwrap_or_else(|| panic!("seed {seed}: no leader accepted a proposal after healing"));
    for _ in 0..30 {
        cl.tick_all();
        refresh_snapshots(&cl);
    }
    safety.check(&cl, &format!("seed {seed} final"));
    let members: BTreeSet<u64> = {
        let cs = cl.nodes[&l].raft.prs().conf_state();
        cs.voters
            .iter()
            .chain(cs.learners.iter())
            .copied()
            .collect()
    };
    if std::env::var("RANDOM_DEBUG").is_ok() {
        let snaps = cl
            .delivered
            .iter()
            .filter(|m| m.msg_type() == tinyraft::eraftpb::MessageType::MsgSnapshot)
            .count();
        eprintln!(
            "seed {seed}: {} led terms, {snaps} snapshots, {conf_changes} conf changes, final index {final_index}",
            safety.leaders.len()
        );
        for (id, n) in &cl.nodes {
            let r = &n.raft;
            let lp = cl.nodes[&l].raft.prs().get(*id).map(|p| format!("{p:?}"));
            eprintln!(
                "node {id}: {:?} term {} lead {} first {} last {} commit {} applied {} conf {:?} leader's view {:?}",
                r.state,
                r.term,
                r.leader_id,
                r.raft_log.first_index(),
                r.raft_log.last_index(),
                r.raft_log.committed,
                r.raft_log.applied,
                r.prs().conf_state(),
                lp
            );
        }
    }
    for id in &members {
        // Applied directly, or covered by a snapshot it installed.
        let applied = cl.nodes[id].raft.raft_log.applied;
        assert!(
            applied >= final_index,
            "seed {seed}: member {id} of {members:?} applied {applied} < final entry {final_index}"
        );
        let direct = cl
            .applied
            .get(id)
            .and_then(|v| v.iter().find(|e| e.index == final_index));
        if let Some(e) = direct {
            assert_eq!(e.entry_type(), EntryType::EntryNormal);
            assert_eq!(&e.data[..], b"final", "seed {seed}: member {id}");
        }
    }
    assert!(
        cl.nodes
            .values()
            .filter(|n| n.raft.state == StateRole::Leader)
            .count()
            >= 1
    );
    (conf_changes, std::mem::take(&mut cl.delivered))
}

/// Random mixed workload through RawNode/Ready, pre-vote + check-quorum.
#[test]
fn random_cluster_with_membership_snapshots_restarts_3a() {
    let mut total = 0;
    for seed in 1..=40 {
        total += run(seed, 500).0;
    }
    assert!(total >= 40, "membership changes were exercised ({total})");
}

/// Determinism (API.md): the same seed gives the same run, message for
/// message, through the whole Ready cycle; another seed gives another run.
#[test]
fn random_cluster_is_deterministic_3a() {
    let (_, a) = run(7, 300);
    let (_, b) = run(7, 300);
    assert!(a.len() > 100);
    assert!(a == b, "same seed, different message sequences");
    let (_, c) = run(8, 300);
    assert!(a != c, "another seed, same run");
}
