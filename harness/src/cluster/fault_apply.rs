//! Fault application: the cluster carries out the actions a
//! [`FaultSchedule`] produces, at their times, and the reactions armed
//! triggers ask for. The schedule and its state ([`crate::faults`]) know
//! nothing of the cluster.

use std::collections::BTreeSet;

use bytes::Bytes;
use rand::Rng;
use tinyraft::ConfChangeI;
use tinyraft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2,
};

use super::Cluster;
use super::drive::describe_change;
use crate::faults::{FaultAction, FaultSchedule, JointTarget, Reaction, Trigger};
use crate::net::NetConfig;
use crate::trace::EventKind;
use crate::world::Event;

impl Cluster {
    /// Installs `schedule`: each action fires at its time (from now on).
    pub fn install_faults(&mut self, schedule: &FaultSchedule) {
        self.faults.schedule = schedule.actions.clone();
        self.faults.active = true;
        for (i, a) in schedule.actions.iter().enumerate() {
            self.world.schedule(a.at_ms, Event::Fault { step: i });
        }
    }

    /// Stops the fault schedule and undoes its lasting effects: heals the
    /// network, ends bursts and disk spikes, restarts crashed nodes.
    pub fn end_faults(&mut self) {
        self.stop_faults();
        for id in self.node_ids() {
            if !self.is_up(id) {
                self.restart(id);
            }
        }
    }

    /// Stops scheduled actions, bursts and disk spikes, and heals the
    /// network; crashed nodes stay down.
    pub(super) fn stop_faults(&mut self) {
        self.faults.active = false;
        self.net.burst = None;
        self.heal();
        for n in self.nodes.values_mut() {
            n.disk.spike_until = 0;
            n.disk.apply_spike_until = 0;
        }
    }

    /// Phase two of a campaign (TigerBeetle's liveness mode): stops the
    /// fault schedule and heals only a *core*, a majority of the voters,
    /// chosen from the seed. Raft promises progress whenever a majority is
    /// up and connected, so this is a stronger check than healing
    /// everyone: the nodes outside the core stay crashed or are cut off.
    ///
    /// The core is a majority of the committed voter set and of every voter
    /// set a live member still uses (one conf change may be applied by some
    /// nodes and not yet by others). A conf change still in flight may
    /// commit later and need a different majority; the core then grows to
    /// one as soon as the change is applied. Core nodes are restarted
    /// and connected; bursts and disk spikes end. Returns the core, sorted.
    pub fn heal_majority(&mut self) -> Vec<u64> {
        self.stop_faults();
        for id in self.node_ids() {
            self.disconnect(id);
        }
        self.faults.core = Some(BTreeSet::new());
        self.grow_core();
        self.faults.core.iter().flatten().copied().collect()
    }

    /// Adds seeded picks to the liveness core until it holds a majority of
    /// every voter set in play; each added node is restarted if down and
    /// reconnected. A no-op before [`heal_majority`](Self::heal_majority).
    pub(crate) fn grow_core(&mut self) {
        let Some(mut core) = self.faults.core.take() else {
            return;
        };
        // A restarted node counts votes by the configuration on its disk,
        // which may differ from every one seen so far: repeat until no
        // voter set in play lacks a majority in the core.
        loop {
            let configs = self.voter_configs();
            let mut order: Vec<u64> = configs.iter().flatten().copied().collect();
            order.sort_unstable();
            order.dedup();
            // A seeded shuffle: which majority survives varies by seed.
            for i in (1..order.len()).rev() {
                let j = self.rng.random_range(0..=i);
                order.swap(i, j);
            }
            // A running node that applied its own removal or demotion no
            // longer counts itself a voter: it neither campaigns nor can be
            // relied on to make a majority of a configuration others still
            // use, so it does not count towards one here.
            let self_voter = |v: &u64| {
                self.nodes
                    .get(v)
                    .and_then(|n| n.raw.as_ref())
                    .is_none_or(|r| r.raft.prs().is_voter(*v))
            };
            let mut added = Vec::new();
            for vs in &configs {
                for &id in &order {
                    if vs
                        .iter()
                        .filter(|v| core.contains(v) && self_voter(v))
                        .count()
                        > vs.len() / 2
                    {
                        break;
                    }
                    if vs.contains(&id) && core.insert(id) {
                        added.push(id);
                    }
                }
            }
            // Raft's configurations take effect when applied (as in etcd
            // and raft-rs), so a member of the committed configuration that
            // has not applied its promotion does not campaign, yet rejects
            // candidates whose logs are behind its own. A majority alone can
            // then be stuck (a promoted learner holding the newest entries,
            // every voter behind it). When no core member that may
            // campaign has a log as up to date as every core member's, the
            // core also takes the most up-to-date node that may.
            if added.is_empty() && !self.core_has_candidate(&core) {
                if let Some(c) = self.most_up_to_date_candidate() {
                    if core.insert(c) {
                        added.push(c);
                    }
                }
            }
            if added.is_empty() {
                break;
            }
            for id in added {
                if !self.is_up(id) {
                    self.restart(id);
                }
                self.connect(id);
            }
        }
        self.faults.core = Some(core);
    }

    /// A node's (may it campaign by its own configuration, last log
    /// position (term, index)); a crashed node is judged by its disk.
    fn candidacy(&self, id: u64) -> Option<(bool, (u64, u64))> {
        use tinyraft::storage::Storage;
        let n = self.nodes.get(&id)?;
        Some(match n.raw.as_ref() {
            Some(raw) => {
                let l = &raw.raft.raft_log;
                (raw.raft.prs().is_voter(id), (l.last_term(), l.last_index()))
            }
            None => {
                let st = n.store.initial_state().ok()?;
                let cs = &st.conf_state;
                let voter = cs.voters.contains(&id) || cs.voters_outgoing.contains(&id);
                let li = n.store.last_index().unwrap_or(0);
                (voter, (n.store.term(li).unwrap_or(0), li))
            }
        })
    }

    /// Whether some member of `core` may campaign and has a log at least as
    /// up to date (Raft §5.4.1) as every member of `core`.
    fn core_has_candidate(&self, core: &BTreeSet<u64>) -> bool {
        let all: Vec<(bool, (u64, u64))> =
            core.iter().filter_map(|&id| self.candidacy(id)).collect();
        let Some(newest) = all.iter().map(|c| c.1).max() else {
            return true;
        };
        all.iter().any(|&(voter, last)| voter && last >= newest)
    }

    /// The member of the committed configuration that may campaign by its
    /// own configuration and holds the most up-to-date log (ties to the
    /// lower id).
    fn most_up_to_date_candidate(&self) -> Option<u64> {
        let mut best: Option<((u64, u64), u64)> = None;
        for id in self.committed_config.ids() {
            if let Some((true, last)) = self.candidacy(id) {
                if best.is_none_or(|(b, _)| last > b) {
                    best = Some((last, id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    pub(crate) fn fault_event(&mut self, step: usize) {
        if !self.faults.active {
            return;
        }
        let now = self.now_ms();
        if self.net.burst.is_some() && now >= self.faults.burst_until() {
            self.net.burst = None;
        }
        let Some(tf) = self.faults.schedule.get(step).cloned() else {
            return;
        };
        self.push(EventKind::Fault {
            description: tf.action.to_string(),
        });
        match tf.action {
            FaultAction::Partition(groups) => {
                let refs: Vec<&[u64]> = groups.iter().map(|g| g.as_slice()).collect();
                self.partition(&refs);
            }
            FaultAction::CutOneWay(a, b) => self.cut_one_way(a, b),
            FaultAction::IsolateLeader => {
                if let Some(l) = self.leader() {
                    let others: Vec<u64> =
                        self.node_ids().into_iter().filter(|&i| i != l).collect();
                    self.partition(&[&[l], &others]);
                }
            }
            FaultAction::Bridge {
                bridge,
                left,
                right,
            } => {
                for &a in &left {
                    for &b in &right {
                        self.cut_one_way(a, b);
                        self.cut_one_way(b, a);
                    }
                }
                let _ = bridge;
            }
            FaultAction::Heal => {
                self.net.clear_partitions();
                self.push(EventKind::Heal);
            }
            FaultAction::Crash(n) => self.crash(n),
            FaultAction::CrashLeader => {
                if let Some(l) = self.leader() {
                    self.crash(l);
                }
            }
            FaultAction::Restart(n) => {
                if !self.is_up(n) {
                    self.restart(n);
                }
            }
            FaultAction::CrashAll => {
                for id in self.node_ids() {
                    self.crash(id);
                }
            }
            FaultAction::RestartAll => {
                for id in self.node_ids() {
                    if !self.is_up(id) {
                        self.restart(id);
                    }
                }
            }
            FaultAction::NetBurst {
                drop,
                dup,
                long_delay,
                long_delay_max_ms,
                ms,
            } => {
                self.net.burst = Some(NetConfig {
                    drop_rate: drop,
                    dup_rate: dup,
                    long_delay_rate: long_delay,
                    long_delay_max_ms,
                    ..self.cfg.net.clone()
                });
                self.faults.set_burst_until(now + ms);
                // A no-op fault step marks the end of the burst.
                self.world
                    .schedule(now + ms, Event::Fault { step: usize::MAX });
            }
            FaultAction::DiskSpike { node, extra_ms, ms } => {
                if let Some(n) = self.nodes.get_mut(&node) {
                    n.disk.spike_ms = extra_ms;
                    n.disk.spike_until = now + ms;
                }
            }
            FaultAction::TransferLeader(to) => {
                if let Some(l) = self.leader() {
                    if l != to {
                        if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
                            raw.transfer_leader(to);
                        }
                        self.drive(l);
                    }
                }
            }
            FaultAction::Membership(t, id) => {
                let cc = simple_change(t, id);
                self.spawn_joiners(&cc);
                if let Some(l) = self.leader() {
                    self.propose_conf_on(l, cc);
                }
            }
            FaultAction::Compact(n) => {
                let applied = self.nodes.get(&n).map(|x| x.sm_applied).unwrap_or(0);
                self.compact(n, applied);
            }
            FaultAction::HoldLeaderLink { k, ms } => {
                if let Some((l, f)) = self.leader_and_other(k) {
                    self.net.hold(l, f, now + ms);
                }
            }
            FaultAction::ProposeBurst(n) => {
                // Beyond the inflight window, whatever its size, but not so
                // many that a one-entry-per-append seed spends its run on them.
                let n = n.min(2 * self.cfg.max_inflight_msgs as u64 + 2);
                if let Some(l) = self.leader() {
                    for i in 0..n {
                        // Not a KV command: the state machine skips it.
                        let data = Bytes::from(format!("burst {step}.{i}").into_bytes());
                        if self.propose_on(l, data).is_none() {
                            break;
                        }
                    }
                    self.drive(l);
                }
            }
            FaultAction::MinorityLeader { k } => {
                if let Some((l, f)) = self.leader_and_other(k) {
                    let rest: Vec<u64> = self
                        .node_ids()
                        .into_iter()
                        .filter(|&i| i != l && i != f)
                        .collect();
                    self.partition(&[&[l, f], &rest]);
                    let data = Bytes::from(format!("minority {step}").into_bytes());
                    if self.propose_on(l, data).is_some() {
                        self.drive(l);
                    }
                }
            }
            FaultAction::OnNextLeader(t, id) => {
                self.faults.arm(Trigger::Conf(t, id));
            }
            FaultAction::IsolateNextLeader => {
                self.faults.arm(Trigger::IsolateNextLeader);
            }
            FaultAction::IsolateLeaderOnCommit => {
                let term = self
                    .nodes
                    .values()
                    .filter_map(|n| n.raw.as_ref())
                    .map(|r| r.raft.term)
                    .max()
                    .unwrap_or(0);
                self.faults.arm(Trigger::IsolateOnCommit(term));
            }
            FaultAction::ReconnectVictim(k) => {
                if let Some(v) = self.faults.victim(k) {
                    self.connect(v);
                }
            }
            FaultAction::ReconnectVictims => {
                for v in self.faults.take_victims() {
                    self.connect(v);
                }
            }
            FaultAction::TransferCutOld { k } => {
                if let Some((l, to)) = self.leader_and_other(k) {
                    self.faults.arm(Trigger::CutOnTimeoutNow(l, now + 3000));
                    if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
                        raw.transfer_leader(to);
                    }
                    self.drive(l);
                }
            }
            FaultAction::LagConf { k, ms, apply_ms } => {
                if let Some((l, f)) = self.leader_and_other(k) {
                    self.net.hold(l, f, now + ms);
                    if let Some(n) = self.nodes.get_mut(&f) {
                        n.disk.apply_spike_ms = apply_ms;
                        n.disk.apply_spike_until = now + ms + 2000;
                    }
                    self.faults
                        .arm(Trigger::TransferOnUnappliedConf(f, now + ms + 3000));
                }
            }
            FaultAction::Joint {
                transition,
                changes,
            } => self.propose_joint(transition, &changes),
            FaultAction::LeaveJoint => {
                if !self.propose_leave_joint() {
                    // Not decided yet (no leader, the enter change still in
                    // flight, or the proposal refused): the application
                    // tries again.
                    self.world.schedule(now + 300, Event::Fault { step });
                }
            }
        }
    }

    /// Proposes one `ConfChangeV2` on the leader, its targets resolved
    /// against the leader's configuration; spares that join are created.
    fn propose_joint(
        &mut self,
        transition: ConfChangeTransition,
        changes: &[(ConfChangeType, JointTarget)],
    ) {
        let Some(l) = self.leader() else { return };
        let Some(raw) = self.nodes.get(&l).and_then(|n| n.raw.as_ref()) else {
            return;
        };
        let m = raw.raft.prs().membership();
        let voters: Vec<u64> = m.voters.iter().copied().collect();
        let learners: Vec<u64> = m.learners.iter().copied().collect();
        let pick = |v: &[u64], k: usize| (!v.is_empty()).then(|| v[k % v.len()]);
        let resolved: Vec<ConfChangeSingle> = changes
            .iter()
            .filter_map(|&(t, target)| {
                let id = match target {
                    JointTarget::Node(n) => Some(n),
                    JointTarget::Voter(k) => pick(&voters, k),
                    JointTarget::Learner(k) => pick(&learners, k),
                }?;
                Some(ConfChangeSingle {
                    change_type: t as i32,
                    node_id: id,
                })
            })
            .collect();
        if resolved.is_empty() {
            return;
        }
        let cc = ConfChangeV2 {
            transition: transition as i32,
            changes: resolved,
            context: Bytes::new(),
        };
        self.spawn_joiners(&cc);
        self.push(EventKind::Note {
            text: format!("leader {l} proposes {}", describe_change(&cc)),
        });
        self.propose_conf_on(l, cc);
    }

    /// Creates (with an empty or seeded disk, see `spawn_empty`) every node
    /// `cc` adds that does not exist yet: it waits to be added and learns
    /// the configuration from the leader.
    pub(super) fn spawn_joiners(&mut self, cc: &impl ConfChangeI) {
        for c in &cc.as_v2().changes {
            if c.change_type() != ConfChangeType::RemoveNode && !self.nodes.contains_key(&c.node_id)
            {
                self.spawn_empty(c.node_id);
            }
        }
    }

    /// Proposes `cc` on node `l` (a refusal is part of the run: not waited
    /// on, not retried) and drives it.
    fn propose_conf_on(&mut self, l: u64, cc: impl ConfChangeI) {
        if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
            let _ = raw.propose_conf_change(Bytes::new(), cc);
        }
        self.drive(l);
    }

    /// Proposes the empty `ConfChangeV2` that leaves a joint configuration
    /// on the leader. True when there is nothing more to do: the leave is
    /// in the leader's log, or no joint state is entered or entering.
    fn propose_leave_joint(&mut self) -> bool {
        let Some(l) = self.leader() else { return false };
        let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) else {
            return false;
        };
        let r = &raw.raft;
        let change_in_flight = r.pending_conf_index > r.raft_log.applied;
        if !r.prs().is_joint() {
            return !change_in_flight;
        }
        if change_in_flight {
            return false;
        }
        let ok = raw
            .propose_conf_change(Bytes::new(), ConfChangeV2::default())
            .is_ok();
        self.drive(l);
        ok
    }

    /// Called when leader `id` of `term` has just advanced its commit index:
    /// carries out an armed [`FaultAction::IsolateLeaderOnCommit`].
    pub(crate) fn on_leader_commit(&mut self, id: u64, term: u64) {
        if !self.faults.on_leader_commit(id, term) {
            return;
        }
        self.push(EventKind::Fault {
            description: format!("leader {id} of term {term} committed: isolated"),
        });
        self.disconnect(id);
    }

    /// The leader and its `k`-th other node (mod their count).
    pub(super) fn leader_and_other(&self, k: usize) -> Option<(u64, u64)> {
        let l = self.leader()?;
        let others: Vec<u64> = self.node_ids().into_iter().filter(|&i| i != l).collect();
        if others.is_empty() {
            return None;
        }
        Some((l, others[k % others.len()]))
    }

    /// Called when `id` has just become leader: carries out what an armed
    /// trigger asks (see [`FaultAction::IsolateNextLeader`] and
    /// [`FaultAction::OnNextLeader`]).
    pub(crate) fn on_new_leader(&mut self, id: u64) {
        match self.faults.on_new_leader(id) {
            None => {}
            Some(Reaction::Isolate) => {
                self.push(EventKind::Fault {
                    description: format!("new leader {id}: isolated"),
                });
                self.disconnect(id);
            }
            Some(Reaction::Conf(t, node)) => {
                let cc = simple_change(t, node);
                self.spawn_joiners(&cc);
                self.push(EventKind::Fault {
                    description: format!("new leader {id}: {t:?} {node}"),
                });
                self.propose_conf_on(id, cc);
            }
        }
    }
}

/// A single-node (V1) conf change of `t` for `id`.
pub(super) fn simple_change(t: ConfChangeType, id: u64) -> ConfChange {
    ConfChange {
        change_type: t as i32,
        node_id: id,
        context: Bytes::new(),
    }
}
