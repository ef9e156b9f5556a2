//! The 6.824-style test API: leaders, agreement, network and membership
//! operations a test suite drives the cluster with.

use std::collections::BTreeMap;

use bytes::Bytes;
use rand::Rng;
use tinyraft::StateRole;
use tinyraft::eraftpb::ConfChangeType;
use tinyraft::storage::Storage;

use super::Cluster;
use crate::disk::{self, snapshot_index};
use crate::embedder::Snapshots;
use crate::node::SimNode;
use crate::trace::EventKind;

impl Cluster {
    pub(super) fn live_connected(&self) -> impl Iterator<Item = (u64, &SimNode)> + '_ {
        self.nodes
            .iter()
            .filter(|(id, n)| n.is_up() && self.net.is_connected(**id))
            .map(|(id, n)| (*id, n))
    }

    /// The unique leader of the highest term among live connected nodes.
    pub fn leader(&self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        let mut tie = false;
        for (id, n) in self.live_connected() {
            let Some(raw) = n.raw.as_ref() else { continue };
            if raw.raft.state != StateRole::Leader {
                continue;
            }
            match best {
                Some((t, _)) if raw.raft.term < t => {}
                Some((t, _)) if raw.raft.term == t => tie = true,
                _ => {
                    best = Some((raw.raft.term, id));
                    tie = false;
                }
            }
        }
        if tie { None } else { best.map(|(_, id)| id) }
    }

    pub(super) fn violation_err(&self) -> Option<String> {
        self.violation.as_ref().map(|v| v.to_string())
    }

    /// 6.824's `checkOneLeader`: up to 10 polls, each after 450–550 ms of
    /// simulated time; fails if some term has two leaders or none is found.
    pub fn check_one_leader(&mut self) -> Result<u64, String> {
        for _ in 0..10 {
            let ms = self.rng.random_range(450..=550);
            self.run_for(ms);
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let mut by_term: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for (id, n) in self.live_connected() {
                if let Some(raw) = n.raw.as_ref() {
                    if raw.raft.state == StateRole::Leader {
                        by_term.entry(raw.raft.term).or_default().push(id);
                    }
                }
            }
            for (t, ls) in &by_term {
                if ls.len() > 1 {
                    return Err(format!("term {t} has {} (>1) leaders: {ls:?}", ls.len()));
                }
            }
            if let Some((_, ls)) = by_term.last_key_value() {
                return Ok(ls[0]);
            }
        }
        Err("expected one leader, got none".into())
    }

    /// No live connected node believes it leads.
    pub fn check_no_leader(&self) -> Result<(), String> {
        for (id, n) in self.live_connected() {
            if n.raw
                .as_ref()
                .is_some_and(|r| r.raft.state == StateRole::Leader)
            {
                return Err(format!(
                    "expected no leader among connected servers, but {id} claims to be leader"
                ));
            }
        }
        Ok(())
    }

    /// Live connected nodes agree on the term; returns it (0 if none).
    pub fn check_terms(&self) -> Result<u64, String> {
        let mut term = None;
        for (id, n) in self.live_connected() {
            let Some(raw) = n.raw.as_ref() else { continue };
            match term {
                None => term = Some(raw.raft.term),
                Some(t) if t != raw.raft.term => {
                    return Err(format!(
                        "servers disagree on term: {t} vs {} (node {id})",
                        raw.raft.term
                    ));
                }
                _ => {}
            }
        }
        Ok(term.unwrap_or(0))
    }

    /// Current term of `id`; for a crashed node, its last durable term.
    pub fn term_of(&self, id: u64) -> u64 {
        match self.nodes.get(&id) {
            Some(n) => match n.raw.as_ref() {
                Some(r) => r.raft.term,
                None => n.store.rl().hard_state().term,
            },
            None => 0,
        }
    }

    /// Whether `id` is up and believes it leads.
    pub fn is_leader(&self, id: u64) -> bool {
        self.nodes
            .get(&id)
            .and_then(|n| n.raw.as_ref())
            .is_some_and(|r| r.raft.state == StateRole::Leader)
    }

    /// Proposes `cmd` on `id` if it is a live leader: `(index, term)` it took.
    pub fn start(&mut self, id: u64, cmd: Vec<u8>) -> Option<(u64, u64)> {
        let r = self.propose_on(id, cmd.into());
        if r.is_some() {
            self.drive(id);
        }
        r
    }

    /// Proposes without driving the node (callers batch, then drive).
    pub(crate) fn propose_on(&mut self, id: u64, data: Bytes) -> Option<(u64, u64)> {
        let now = self.world.now();
        let raw = self.nodes.get_mut(&id)?.raw.as_mut()?;
        if raw.raft.state != StateRole::Leader {
            return None;
        }
        let before = raw.raft.raft_log.last_index();
        raw.propose(Bytes::new(), data).ok()?;
        let idx = raw.raft.raft_log.last_index();
        let term = raw.raft.term;
        if idx <= before {
            return None;
        }
        self.stats.proposals += 1;
        self.proposed_at.insert(idx, (term, now));
        self.push(EventKind::Propose {
            node: id,
            index: idx,
            term,
        });
        Some((idx, term))
    }

    /// 6.824's `cfg.one`: submit `cmd` to whichever live connected node
    /// leads, and wait for `expected_nodes` to apply it; retries for up to
    /// 10 s simulated (re-submitting if `retry`).
    pub fn one(&mut self, cmd: Vec<u8>, expected_nodes: usize, retry: bool) -> Result<u64, String> {
        let t0 = self.now_ms();
        let ids = self.node_ids();
        let mut starts = 0usize;
        while self.now_ms() < t0 + 10_000 {
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let mut index = None;
            for _ in 0..ids.len() {
                starts = (starts + 1) % ids.len();
                let id = ids[starts];
                if self.net.is_connected(id) && self.is_up(id) {
                    if let Some((i, _)) = self.start(id, cmd.clone()) {
                        index = Some(i);
                        break;
                    }
                }
            }
            if let Some(index) = index {
                let t1 = self.now_ms();
                while self.now_ms() < t1 + 2_000 {
                    let (nd, v) = self.n_committed(index);
                    if nd > 0 && nd >= expected_nodes && v.as_deref() == Some(&cmd[..]) {
                        return Ok(index);
                    }
                    self.run_for(20);
                }
                if !retry {
                    return Err(format!(
                        "one({:?}) failed to reach agreement",
                        String::from_utf8_lossy(&cmd)
                    ));
                }
            } else {
                self.run_for(50);
            }
        }
        Err(format!(
            "one({:?}) failed to reach agreement",
            String::from_utf8_lossy(&cmd)
        ))
    }

    /// How many nodes applied `index` (ever, across restarts), and the
    /// entry's data (empty for an empty entry). Disagreement between nodes
    /// is a `state_machine_safety` violation, reported by
    /// [`Cluster::check_invariants`].
    pub fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        let n = self
            .nodes
            .keys()
            .filter(|id| self.checker.max_applied(**id) >= index)
            .count();
        let data = if n > 0 {
            self.checker.committed_entry(index).map(|(_, d)| d.to_vec())
        } else {
            None
        };
        (n, data)
    }

    /// 6.824's `cfg.wait`: waits (with backoff, about 10 s at most) for `n`
    /// nodes to apply `index`. `Ok(None)` if some node moved past
    /// `start_term`; `Err` if too few applied it.
    pub fn wait(
        &mut self,
        index: u64,
        n: usize,
        start_term: Option<u64>,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut to = 10;
        for _ in 0..30 {
            let (nd, _) = self.n_committed(index);
            if nd >= n {
                break;
            }
            self.run_for(to);
            if to < 1000 {
                to *= 2;
            }
            if let Some(st) = start_term {
                let moved = self
                    .nodes
                    .values()
                    .filter_map(|nd| nd.raw.as_ref())
                    .any(|r| r.raft.term > st);
                if moved {
                    return Ok(None);
                }
            }
        }
        let (nd, v) = self.n_committed(index);
        if nd < n {
            return Err(format!("only {nd} decided for index {index}; wanted {n}"));
        }
        Ok(v)
    }

    /// Cuts `id` off the network (it keeps running).
    pub fn disconnect(&mut self, id: u64) {
        self.net.disconnect(id);
        self.push(EventKind::Disconnect { node: id });
    }

    /// Reconnects `id`.
    pub fn connect(&mut self, id: u64) {
        self.net.connect(id);
        self.push(EventKind::Connect { node: id });
    }

    /// Splits the network into `groups`; nodes in no group are isolated.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        self.net.partition(groups);
        self.push(EventKind::Partition {
            groups: groups.iter().map(|g| g.to_vec()).collect(),
        });
    }

    /// Blocks messages from `from` to `to` only (an asymmetric cut).
    pub fn cut_one_way(&mut self, from: u64, to: u64) {
        self.net.cut(from, to);
        self.push(EventKind::Fault {
            description: format!("cut {from}->{to}"),
        });
    }

    /// Reconnects everyone and clears partitions and cuts.
    pub fn heal(&mut self) {
        self.net.heal();
        self.push(EventKind::Heal);
    }

    /// 6.824's unreliable network: 10% drops, 0–27 ms delays. `false`
    /// returns to `SimConfig::net`.
    pub fn set_unreliable(&mut self, on: bool) {
        self.net.set_unreliable(on);
    }

    /// 6.824's long reordering: about 2/3 of responses are delayed
    /// 200 + U(0, U(0, 2000)) ms.
    pub fn set_long_reordering(&mut self, on: bool) {
        self.net.set_long_reordering(on);
    }

    /// Messages `id` handed to the network since the run began.
    pub fn messages_sent(&self, id: u64) -> u64 {
        self.net.traffic(id).messages
    }

    /// Encoded bytes of those messages.
    pub fn bytes_sent(&self, id: u64) -> u64 {
        self.net.traffic(id).bytes
    }

    /// The index `id` has applied; for a crashed node, what its durable
    /// state restores (its durable commit index, at least its snapshot).
    pub fn applied_index(&self, id: u64) -> u64 {
        let Some(n) = self.nodes.get(&id) else {
            return 0;
        };
        if n.is_up() {
            return n.sm_applied;
        }
        let commit = n.store.rl().hard_state().commit;
        let last = n.store.last_index().unwrap_or(0);
        commit.min(last).max(snapshot_index(&n.store))
    }

    /// First index of `id`'s durable log (snapshot index + 1).
    pub fn first_index(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .and_then(|n| n.store.first_index().ok())
            .unwrap_or(0)
    }

    /// Last index of `id`'s durable log.
    pub fn last_index(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .and_then(|n| n.store.last_index().ok())
            .unwrap_or(0)
    }

    /// Encoded size of `id`'s durable hard state and log entries.
    pub fn persisted_bytes(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .map(|n| disk::persisted_bytes(&n.store))
            .unwrap_or(0)
    }

    /// Encoded size of `id`'s durable snapshot.
    pub fn snapshot_bytes(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .map(|n| disk::snapshot_bytes(&n.store))
            .unwrap_or(0)
    }

    pub(super) fn change_membership(
        &mut self,
        change_type: ConfChangeType,
        id: u64,
    ) -> Result<(), String> {
        let cc = super::fault_apply::simple_change(change_type, id);
        self.spawn_joiners(&cc);
        let deadline = self.now_ms() + 10_000;
        while self.now_ms() < deadline {
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let Some(l) = self.leader() else {
                self.run_for(50);
                continue;
            };
            let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) else {
                self.run_for(50);
                continue;
            };
            let before = raw.raft.raft_log.last_index();
            if raw.propose_conf_change(Bytes::new(), cc.clone()).is_err() {
                self.run_for(50);
                continue;
            }
            let idx = raw.raft.raft_log.last_index();
            let term = raw.raft.term;
            if idx <= before {
                self.run_for(50);
                continue;
            }
            self.push(EventKind::Propose {
                node: l,
                index: idx,
                term,
            });
            self.drive(l);
            let left = deadline.saturating_sub(self.now_ms());
            self.run_until(left, |c| c.checker.committed_len() >= idx);
            match self.checker.committed_entry(idx) {
                Some((t, _)) if *t == term => return Ok(()),
                Some(_) => continue,
                None => break,
            }
        }
        Err(format!("{change_type:?} {id}: not committed within 10 s"))
    }

    /// Adds `id` as a voter through a conf change in the log (creating the
    /// node if needed); returns once the change is committed.
    pub fn add_node(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::AddNode, id)
    }

    /// Adds `id` as a learner (or demotes nothing: see the core's rules).
    pub fn add_learner(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::AddLearnerNode, id)
    }

    /// Removes `id` from the membership; the node keeps running.
    pub fn remove_node(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::RemoveNode, id)
    }

    /// Asks the current leader to hand leadership to `to`; returns once `to`
    /// leads (at most 5 s simulated).
    pub fn transfer_leader(&mut self, to: u64) -> Result<(), String> {
        let Some(l) = self.leader() else {
            return Err("no leader to transfer from".into());
        };
        if l == to {
            return Ok(());
        }
        if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
            raw.transfer_leader(to);
        }
        self.push(EventKind::Fault {
            description: format!("transfer leader {l} -> {to}"),
        });
        self.drive(l);
        if self.run_until(5_000, |c| c.is_leader(to)) {
            Ok(())
        } else {
            Err(format!(
                "leadership did not move from {l} to {to} within 5 s"
            ))
        }
    }

    /// Snapshots `id`'s state machine at `index` (≤ applied) and compacts its
    /// log through it. No-op if `id` is down, `index` is past what it applied
    /// or not past its snapshot.
    pub fn compact(&mut self, id: u64, index: u64) {
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if !n.is_up() || index > n.sm_applied || index <= n.last_snap {
            return;
        }
        if n.profile.snapshots == Snapshots::Never {
            // This engine never snapshots by hand.
            return;
        }
        match n.snapshot_upto(index) {
            Ok(true) => self.push(EventKind::Snapshot { node: id, index }),
            Ok(false) => {}
            Err(e) => self.breach(("storage", format!("node {id} compact({index}): {e}"))),
        }
    }
}
