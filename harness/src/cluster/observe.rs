//! Observation after a node moved: role, hard state and commit changes are
//! traced and checked; durability of the committed prefix across crashes.

use std::collections::BTreeSet;

use tinyraft::StateRole;
use tinyraft::eraftpb::ConfState;
use tinyraft::quorum::JointConfig;
use tinyraft::storage::{MemStorage, Storage};

use super::Cluster;
use crate::disk::snapshot_index;
use crate::invariants::Breach;
use crate::trace::EventKind;

impl Cluster {
    /// Compares a node's role, hard state and commit with what was last
    /// seen, records changes and runs the per-node invariants.
    pub(super) fn observe(&mut self, id: u64) {
        let Some(raw) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return;
        };
        let r = &raw.raft;
        let term = r.term;
        let now_role = (r.state, r.term, r.leader_id);
        let hs = r.hard_state();
        let commit = r.raft_log.committed;
        let mut breaches: Vec<Breach> = Vec::new();
        let mut events = Vec::new();
        if self.last_role.get(&id) != Some(&now_role) {
            let was_leader = self
                .last_role
                .get(&id)
                .is_some_and(|&(s, t, _)| s == StateRole::Leader && t == r.term);
            events.push(EventKind::Role {
                node: id,
                role: role_name(r.state).into(),
                term: r.term,
                leader: r.leader_id,
            });
            if r.state == StateRole::Leader && !was_leader {
                if self.checker.known_leader(r.term).is_none() {
                    self.stats.elections += 1;
                }
                if let Err(b) = self.checker.on_role(id, r.term, true) {
                    breaches.push(b);
                }
                let config = r.prs().joint_config();
                if let Err(b) = self.checker.votes.on_leader(id, r.term, config) {
                    breaches.push(b);
                }
                let last = r.raft_log.last_index();
                if let Err(b) = self
                    .checker
                    .on_new_leader(id, r.term, last, |i| r.raft_log.term(i).ok())
                {
                    breaches.push(b);
                }
                if let Err(b) = crate::schedules::election_config(
                    id,
                    r.term,
                    r.prs().joint_config(),
                    &self.committed_config,
                    self.knows_unapplied_conf(id),
                ) {
                    breaches.push(b);
                }
            }
            self.last_role.insert(id, now_role);
        }
        if let Err(b) = self.checker.on_hard_state(id, &hs) {
            breaches.push(b);
        }
        let leader_commit =
            r.state == StateRole::Leader && self.last_commit.get(&id).is_some_and(|&c| c < commit);
        if self.last_commit.get(&id) != Some(&commit) {
            events.push(EventKind::Commit {
                node: id,
                index: commit,
            });
            if r.state == StateRole::Leader && commit > 0 {
                // Commit never exceeds what a quorum of voters durably holds.
                if let Ok(t) = r.raft_log.term(commit) {
                    // The configuration that counted may be the one before
                    // this event applied a conf change, or the one after
                    // (the core re-counts when a change shrinks the quorum):
                    // a durable majority of either is sound.
                    let now_voters = r.prs().joint_config().clone();
                    let before = self
                        .last_voters
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| now_voters.clone());
                    let holding: BTreeSet<u64> = now_voters
                        .ids()
                        .union(&before.ids())
                        .copied()
                        .filter(|v| {
                            self.nodes
                                .get(v)
                                .is_some_and(|n| durably_holds(&n.store, commit, t))
                        })
                        .collect();
                    // While joint, a majority of each half (thesis §4.3).
                    if !now_voters.has_quorum(&holding) && !before.has_quorum(&holding) {
                        breaches.push((
                            "commit_quorum",
                            format!(
                                "leader {id} committed {t}/{commit} but only {holding:?} of voters {} store it durably",
                                show(&now_voters)
                            ),
                        ));
                    }
                }
            }
            self.last_commit.insert(id, commit);
        }
        if r.state == StateRole::Leader && !r.prs().is_voter(id) {
            // A leader that applied its own removal steps down at once.
            breaches.push((
                "leader_is_voter",
                format!(
                    "node {id} leads term {} but is not a voter of its configuration {:?}",
                    r.term,
                    r.prs().voter_ids()
                ),
            ));
        }
        let leading = (r.state == StateRole::Leader && self.cfg.check_quorum)
            .then(|| (r.term, r.prs().joint_config()));
        let window = crate::checks::check_quorum_window(&self.cfg);
        if let Err(b) = self
            .checker
            .quorum
            .observe(id, leading, self.world.now(), window)
        {
            breaches.push(b);
        }
        if r.state == StateRole::Leader {
            let voters = r.prs().joint_config();
            if self.last_voters.get(&id) != Some(voters) {
                self.last_voters.insert(id, voters.clone());
            }
        } else {
            self.last_voters.remove(&id);
        }
        let new_leader = events
            .iter()
            .any(|e| matches!(e, EventKind::Role { role, .. } if role == "leader"));
        for e in events {
            self.push(e);
        }
        for b in breaches {
            self.breach(b);
        }
        if new_leader {
            self.on_new_leader(id);
        } else if leader_commit {
            self.on_leader_commit(id, term);
        }
        self.on_observed(id);
    }

    /// The voter sets that could elect a leader now, as halves that each
    /// need a majority: the committed configuration's, and those each live
    /// voter of it currently uses (a member that has not applied the latest
    /// change yet still counts votes by the one before; single-step changes
    /// keep the two overlapping, and a joint configuration is two halves
    /// that both need a majority, thesis §4.3), and those the conf changes
    /// in its unapplied log produce (its campaigns need them too). Sorted,
    /// deduplicated.
    pub(crate) fn voter_configs(&self) -> Vec<Vec<u64>> {
        let mut configs = halves(&self.committed_config);
        for id in self.committed_config.ids() {
            if let Some(raw) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) {
                let jc = raw.raft.prs().joint_config();
                if jc.contains(id) {
                    configs.extend(halves(jc));
                    // A campaign also needs a quorum of every configuration
                    // its unapplied log may already be in.
                    for p in raw.raft.configs_in_unapplied_log() {
                        configs.extend(halves(&p));
                    }
                }
            }
        }
        configs.sort();
        configs.dedup();
        configs
    }

    /// Durability (Raft §5.4 with crashes that lose unsynced writes): no
    /// quorum of the committed configuration (a majority of each half while
    /// joint) can form without a node whose disk still holds the committed
    /// prefix; otherwise that quorum could elect a leader lacking a
    /// committed entry. Checked after every crash, restart and membership
    /// change, the only events that shrink what is durable or change the
    /// quorums.
    ///
    /// Only the committed configuration is checked: a member still counting
    /// by an older one cannot gather its votes past the members whose longer
    /// logs hold the newer configuration (the safety argument of apply-time
    /// changes, single-step or joint). Had one done so, election safety,
    /// leader completeness and state machine safety would still catch the
    /// consequences.
    pub(super) fn check_durability(&mut self) {
        let g = self.checker.committed_len();
        let Some((t, _)) = self.checker.committed_entry(g) else {
            return;
        };
        let t = *t;
        let holds = |id: &u64| {
            self.nodes
                .get(id)
                .is_some_and(|n| durably_holds(&n.store, g, t))
        };
        let vs = &self.committed_config;
        let missing: BTreeSet<u64> = vs.ids().into_iter().filter(|v| !holds(v)).collect();
        if vs.has_quorum(&missing) {
            let detail = format!(
                "committed entry {t}/{g} is missing from the disks of {missing:?}, a quorum of voters {}",
                show(vs)
            );
            self.breach(("durability", detail));
        }
    }

    /// Records the configuration a node applied first (the committed one).
    pub(super) fn set_committed_config(&mut self, cs: &ConfState) {
        self.committed_config = JointConfig::new_joint(
            cs.voters.iter().copied().collect(),
            cs.voters_outgoing.iter().copied().collect(),
        );
    }

    /// The committed configuration as a `ConfState` with voters only (both
    /// halves while joint).
    pub(crate) fn committed_conf_state(&self) -> ConfState {
        ConfState {
            voters: self.committed_config.incoming.iter().copied().collect(),
            voters_outgoing: self.committed_config.outgoing.iter().copied().collect(),
            ..Default::default()
        }
    }
}

/// The non-empty halves of a voter configuration.
fn halves(jc: &JointConfig) -> Vec<Vec<u64>> {
    [&jc.incoming, &jc.outgoing]
        .into_iter()
        .filter(|h| !h.is_empty())
        .map(|h| h.iter().copied().collect())
        .collect()
}

/// `[1, 2, 3]`, or `[1, 2, 4] & [1, 2, 3]` while joint.
pub(crate) fn show(jc: &JointConfig) -> String {
    let v = |h: &BTreeSet<u64>| format!("{:?}", h.iter().collect::<Vec<_>>());
    if jc.is_joint() {
        format!("{} & {}", v(&jc.incoming), v(&jc.outgoing))
    } else {
        v(&jc.incoming)
    }
}

/// Whether `store` durably holds entry (index, term), or a snapshot past it.
fn durably_holds(store: &MemStorage, index: u64, term: u64) -> bool {
    if snapshot_index(store) >= index {
        return true;
    }
    store.term(index).is_ok_and(|t| t == term)
}

fn role_name(r: StateRole) -> &'static str {
    match r {
        StateRole::Follower => "follower",
        StateRole::Candidate => "candidate",
        StateRole::PreCandidate => "pre_candidate",
        StateRole::Leader => "leader",
    }
}
