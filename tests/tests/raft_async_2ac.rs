//! The Ready cycle with asynchronous storage (API.md Rules: Outbox,
//! Own-log, `must_sync`), under seeded random scheduling: each node takes a
//! Ready, sends `Ready::messages` at once, and only later persists the Ready
//! and sends `persisted_messages`; the network reorders, duplicates and
//! drops; nodes compact their logs behind snapshots; a node may crash with a
//! Ready not yet persisted (losing it) and restart from storage.
//! After every step: one leader per term, no two nodes apply different
//! entries at one index, and no entry applied anywhere is later missing from
//! a majority's durable logs. Part 2AC.

use std::collections::BTreeMap;

use prost::Message as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{ConfChange, EntryType, Message};
use tinyraft::storage::{MemStorage, Storage};
use tinyraft::{RawNode, Ready, StateRole};
use tinyraft_tests::*;

const N: u64 = 3;

struct Node {
    rn: RawNode<MemStorage>,
    store: MemStorage,
    pending: Option<Ready>,
}

struct World {
    nodes: BTreeMap<u64, Node>,
    net: Vec<Message>,
    leaders: BTreeMap<u64, u64>,
    applied: BTreeMap<u64, (u64, Vec<u8>)>,
    seed: u64,
    snapshots: usize,
}

impl World {
    fn cfg(seed: u64, id: u64) -> tinyraft::Config {
        let mut c = config_with(id, true, true);
        c.seed = seed;
        c
    }

    fn new(seed: u64) -> World {
        let ids: Vec<u64> = (1..=N).collect();
        let mut nodes = BTreeMap::new();
        for &id in &ids {
            let store = new_storage(&ids, &[]);
            let rn = raw_node_from(&World::cfg(seed, id), store.clone());
            nodes.insert(
                id,
                Node {
                    rn,
                    store,
                    pending: None,
                },
            );
        }
        World {
            nodes,
            net: Vec::new(),
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            seed,
            snapshots: 0,
        }
    }

    /// Takes a Ready and sends its `messages` at once (before any write).
    fn take_ready(&mut self, id: u64) {
        let n = self.nodes.get_mut(&id).expect("node");
        if n.pending.is_some() || !n.rn.has_ready() {
            return;
        }
        let rd = n.rn.ready();
        self.net.extend(rd.messages.iter().cloned());
        n.pending = Some(rd);
    }

    /// Persists the pending Ready, sends `persisted_messages`, applies, advances.
    fn sync(&mut self, id: u64) {
        let n = self.nodes.get_mut(&id).expect("node");
        let Some(rd) = n.pending.take() else { return };
        {
            let mut core = n.store.wl();
            if let Some(s) = &rd.snapshot {
                core.apply_snapshot(s.clone()).expect("apply snapshot");
            }
            core.append(&rd.entries).expect("append");
            if let Some(hs) = rd.hs {
                core.set_hardstate(hs);
            }
        }
        self.net.extend(rd.persisted_messages.iter().cloned());
        for e in &rd.committed_entries {
            let got = (e.term, e.data.to_vec());
            let want = self.applied.entry(e.index).or_insert_with(|| got.clone());
            assert_eq!(
                *want, got,
                "seed {}: node {id} applied a different entry at {}",
                self.seed, e.index
            );
            if e.entry_type() == EntryType::EntryConfChange && !e.data.is_empty() {
                let cc = ConfChange::decode(&e.data[..]).expect("conf change");
                let cs = n.rn.apply_conf_change(&cc).expect("apply conf change");
                n.store.wl().set_conf_state(cs);
            }
        }
        n.rn.advance(rd);
    }

    /// Crash: the pending Ready (not yet durable) is lost; restart from storage.
    fn crash(&mut self, id: u64) {
        let n = self.nodes.get_mut(&id).expect("node");
        let applied = n.rn.raft.raft_log.applied;
        n.pending = None;
        let mut c = World::cfg(self.seed, id);
        c.applied = applied;
        n.rn = raw_node_from(&c, n.store.clone());
    }

    fn check(&mut self, ctx: &str) {
        for (id, n) in &self.nodes {
            let r = &n.rn.raft;
            if r.state == StateRole::Leader {
                let prev = *self.leaders.entry(r.term).or_insert(*id);
                assert_eq!(prev, *id, "{ctx}: two leaders in term {}", r.term);
            }
        }
        // Every applied entry is durable on a majority (so no election can lose it).
        for (idx, (term, _)) in &self.applied {
            let holders = self
                .nodes
                .values()
                .filter(|n| {
                    let s = &n.store;
                    s.term(*idx).ok() == Some(*term)
                        || s.first_index().map(|f| f > *idx).unwrap_or(false)
                })
                .count() as u64;
            assert!(
                holders * 2 > N,
                "{ctx}: applied entry {idx} durable on only {holders} nodes"
            );
        }
    }
}

fn run(seed: u64, rounds: usize) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = World::new(seed);
    let mut crashes = 0;
    for round in 0..rounds {
        let id = rng.random_range(1..=N);
        match rng.random_range(0..100) {
            0..=24 => {
                w.nodes.get_mut(&id).expect("node").rn.tick();
            }
            25..=44 => w.take_ready(id),
            45..=64 => w.sync(id),
            65..=84 => {
                // Deliver a few messages chosen at random (reordering), dropping some.
                for _ in 0..rng.random_range(1..6) {
                    if w.net.is_empty() {
                        break;
                    }
                    let i = rng.random_range(0..w.net.len());
                    let m = w.net.swap_remove(i);
                    if rng.random_range(0..10) == 0 {
                        w.net.push(m.clone()); // duplicated by the network
                    }
                    if rng.random_range(0..10) != 0 {
                        if m.msg_type() == tinyraft::eraftpb::MessageType::MsgSnapshot {
                            w.snapshots += 1;
                        }
                        if let Some(n) = w.nodes.get_mut(&m.to) {
                            let _ = n.rn.step(m);
                        }
                    }
                }
            }
            85..=94 => {
                let _ = w
                    .nodes
                    .get_mut(&id)
                    .expect("node")
                    .rn
                    .propose("", format!("s{seed}r{round}").into_bytes());
            }
            95..=96 => {
                // The engine snapshots its state machine and compacts.
                let n = &w.nodes[&id];
                let applied = n.rn.raft.raft_log.applied;
                if applied > n.store.first_index().expect("first") + 3 {
                    let cs = n.rn.raft.prs().conf_state();
                    let mut core = n.store.wl();
                    if core.create_snapshot(applied, Some(cs), "sm".into()).is_ok() {
                        core.compact(applied).expect("compact at applied");
                    }
                }
            }
            _ => {
                if rng.random_range(0..4) == 0 {
                    w.crash(id);
                    crashes += 1;
                }
            }
        }
        w.check(&format!("seed {seed} round {round}"));
    }
    // Quiesce: deliver and sync everything, ticking, until a leader commits a final entry.
    let mut done = false;
    let mut proposed_in = None;
    for _ in 0..2000 {
        for id in 1..=N {
            w.take_ready(id);
            w.sync(id);
        }
        while let Some(m) = w.net.pop() {
            if let Some(n) = w.nodes.get_mut(&m.to) {
                let _ = n.rn.step(m);
            }
        }
        for id in 1..=N {
            w.nodes.get_mut(&id).expect("node").rn.tick();
        }
        w.check(&format!("seed {seed} quiesce"));
        let leader = w
            .nodes
            .iter()
            .find(|(_, n)| n.rn.raft.state == StateRole::Leader)
            .map(|(id, _)| *id);
        if let Some(l) = leader {
            // A proposal accepted by a leader that then loses its term may
            // be overwritten (Raft promises nothing for it): propose again
            // to each new leader until it is applied.
            let term = w.nodes[&l].rn.raft.term;
            if proposed_in != Some(term) {
                let ok = w
                    .nodes
                    .get_mut(&l)
                    .expect("leader")
                    .rn
                    .propose("", "final")
                    .is_ok();
                if ok {
                    proposed_in = Some(term);
                    done = true;
                }
            }
        }
        if done && w.applied.values().any(|(_, d)| d == b"final") {
            let fin = *w
                .applied
                .iter()
                .find(|(_, (_, d))| d == b"final")
                .expect("final")
                .0;
            if w.nodes.values().all(|n| n.rn.raft.raft_log.applied >= fin) {
                if std::env::var("RANDOM_DEBUG").is_ok() {
                    eprintln!(
                        "seed {seed}: {} led terms, {} applied, {crashes} crashes, {} snapshots",
                        w.leaders.len(),
                        w.applied.len(),
                        w.snapshots
                    );
                }
                return crashes;
            }
        }
    }
    panic!("seed {seed}: the cluster did not converge after healing");
}

/// Async Ready cycle with reordering, drops and crashes: safety holds and
/// the cluster converges.
#[test]
fn random_async_ready_cycle_with_crashes_2ac() {
    let mut crashes = 0;
    for seed in 1..=30 {
        crashes += run(seed, 3000);
    }
    assert!(crashes > 30, "crashes were exercised ({crashes})");
}
