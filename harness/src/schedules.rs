//! Targeted schedules that fire on what a node sees (a message landing, a
//! commit it learns), and the invariant that names etcd #12133's harm.
//!
//! - A transfer's `MsgTimeoutNow` lands: the old leader is cut off from
//!   every node (clients still reach it). The transferee wins inside the old
//!   leader's lease, so a lease read the old leader still answers would be
//!   stale (thesis §6.4.1: a leader revokes its lease when it starts a
//!   transfer).
//! - A follower learns that a conf change is committed but has not applied
//!   it yet: the leader transfers leadership to it. A node in that state
//!   does not know its configuration and must not campaign (etcd #12133).
//!
//! `one_change_at_a_time` is the harm of Ongaro's bug in a core whose
//! configurations take effect when applied: a leader that appends a conf
//! change while an earlier one is still uncommitted in its log has both
//! decided under the configuration before the first, two changes away from
//! the one they produce, and their quorums can miss each other (thesis
//! §4.1: one change at a time; a new leader waits for its log's tail).
//!
//! [`election_config`] is the harm a campaign with unapplied conf changes
//! does: a node that wins counting votes in a configuration two voter
//! changes behind the committed one may have been elected by a quorum that
//! shares no node with a quorum of the committed configuration, so a second
//! leader of the same term could be elected there (the overlap argument of
//! thesis §4.1 holds only between neighbouring configurations).

use prost::Message as _;
use tinyraft::StateRole;
use tinyraft::eraftpb::{ConfChange, ConfChangeType, Entry, EntryType, Message, MessageType};

use std::collections::BTreeSet;

use tinyraft::quorum::JointConfig;

use crate::cluster::{Cluster, show};
use crate::faults::Trigger;
use crate::invariants::Breach;
use crate::trace::EventKind;

/// Whether some majority of `a` and some majority of `b` share no node
/// (never for `a` and `b` one voter apart; see the tests).
pub(crate) fn quorums_may_miss(a: &[u64], b: &[u64]) -> bool {
    joint_quorums_may_miss(
        &JointConfig::new(a.iter().copied().collect()),
        &JointConfig::new(b.iter().copied().collect()),
    )
}

/// Whether some quorum of `a` and some quorum of `b` share no node; a
/// quorum of a joint configuration is a majority of each half (thesis
/// §4.3). Exhaustive over the subsets of `a`'s voters (a dozen at most in
/// the simulator); `false` beyond 16 voters.
pub(crate) fn joint_quorums_may_miss(a: &JointConfig, b: &JointConfig) -> bool {
    let ids: Vec<u64> = a.ids().into_iter().collect();
    if ids.is_empty() || b.ids().is_empty() || ids.len() > 16 {
        return false;
    }
    let quorum = |jc: &JointConfig, set: &BTreeSet<u64>| {
        [&jc.incoming, &jc.outgoing]
            .into_iter()
            .filter(|h| !h.is_empty())
            .all(|h| h.iter().filter(|v| set.contains(v)).count() * 2 > h.len())
    };
    (0u32..1 << ids.len()).any(|mask| {
        let qa: BTreeSet<u64> = (0..ids.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| ids[i])
            .collect();
        quorum(a, &qa) && {
            let rest: BTreeSet<u64> = b.ids().difference(&qa).copied().collect();
            quorum(b, &rest)
        }
    })
}

/// Checked when `id` becomes leader of `term` counting votes among
/// `voters` while it knew (`knew_newer`) that a conf change was committed
/// that it had not applied: some majority of `voters` must still meet
/// every majority of the last committed configuration `committed`.
///
/// A node that does not know of the newer commit is not judged here: after
/// a crash its durable commit index may lag, it replays its log only as far
/// as that, and may legitimately campaign on an older configuration.
pub(crate) fn election_config(
    id: u64,
    term: u64,
    voters: &JointConfig,
    committed: &JointConfig,
    knew_newer: bool,
) -> Result<(), Breach> {
    if knew_newer && joint_quorums_may_miss(voters, committed) {
        return Err((
            "election_config",
            format!(
                "node {id} won term {term} counting votes in {} while it knew of a committed conf change it had not applied (the committed configuration is {}): a quorum of each can miss the other, so a second leader of term {term} could be elected",
                show(voters),
                show(committed)
            ),
        ));
    }
    Ok(())
}

impl Cluster {
    /// A message is about to be stepped into its receiver.
    pub(crate) fn on_deliver(&mut self, msg: &Message) {
        if !self.faults.active || msg.msg_type() != MessageType::MsgTimeoutNow {
            return;
        }
        let now = self.now_ms();
        let fired = self.faults.take_trigger(
            |t| matches!(*t, Trigger::CutOnTimeoutNow(l, until) if l == msg.from && now <= until),
        );
        if fired.is_none() {
            return;
        }
        let old = msg.from;
        let rest: Vec<u64> = self.node_ids().into_iter().filter(|&n| n != old).collect();
        self.push(EventKind::Fault {
            description: format!("MsgTimeoutNow {old}->{} landed: old leader cut off", msg.to),
        });
        self.partition(&[&[old], &rest]);
    }

    /// `id` was just driven and observed.
    pub(crate) fn on_observed(&mut self, id: u64) {
        if let Err(b) = self.one_change_at_a_time(id) {
            self.breach(b);
        }
        if !self.faults.active {
            return;
        }
        let now = self.now_ms();
        self.faults.drop_triggers(
            |t| matches!(*t, Trigger::TransferOnUnappliedConf(_, until) if now > until),
        );
        let armed = |t: &Trigger| matches!(*t, Trigger::TransferOnUnappliedConf(n, _) if n == id);
        if !self.faults.has_trigger(armed) {
            return;
        }
        let follower = self
            .nodes
            .get(&id)
            .and_then(|n| n.raw.as_ref())
            .is_some_and(|r| r.raft.state != StateRole::Leader);
        if !follower || !self.knows_unapplied_conf(id) {
            return;
        }
        let Some(l) = self.leader().filter(|&l| l != id) else {
            return;
        };
        self.faults.take_trigger(armed);
        self.push(EventKind::Fault {
            description: format!(
                "node {id} knows a committed conf change it has not applied: leader {l} transfers to it"
            ),
        });
        if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
            raw.transfer_leader(id);
        }
        self.drive(l);
    }

    /// Checks the conf changes leader `id` appended since it was last
    /// observed: none may follow an uncommitted conf change in its log if
    /// the configuration before that one and the one after both can have
    /// quorums that miss each other.
    fn one_change_at_a_time(&mut self, id: u64) -> Result<(), Breach> {
        let Some(raw) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return Ok(());
        };
        let r = &raw.raft;
        if r.state != StateRole::Leader {
            self.checker.conf_scan.remove(&id);
            return Ok(());
        }
        let log = &r.raft_log;
        let last = log.last_index();
        let from = match self.checker.conf_scan.get(&id) {
            Some(&(term, upto)) if term == r.term => upto + 1,
            // Newly leading: what it appends from now on is its own.
            _ => last + 1,
        };
        let (term, committed) = (r.term, log.committed);
        let mut out = Ok(());
        if from <= last && committed < last {
            let fresh = log
                .slice(from.max(log.first_index()), last + 1, None)
                .unwrap_or_default();
            for e in fresh.iter().filter(|e| e.term == term && is_conf(e)) {
                let lo = (committed + 1).max(log.first_index());
                let before: Vec<Entry> = if lo < e.index {
                    log.slice(lo, e.index, None).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let pending: Vec<&Entry> = before.iter().filter(|x| is_conf(x)).collect();
                let Some(first) = pending.first() else {
                    continue;
                };
                let chain = || pending.iter().copied().chain(std::iter::once(e));
                if r.prs().is_joint()
                    || chain().any(|x| x.entry_type() != EntryType::EntryConfChange)
                {
                    // Joint changes: the core's own rules (thesis §4.3).
                    continue;
                }
                let now = r.prs().voter_ids();
                let mut after = now.clone();
                for x in chain() {
                    apply_voters(&mut after, x);
                }
                if quorums_may_miss(&now, &after) {
                    out = Err((
                        "one_change_at_a_time",
                        format!(
                            "leader {id} of term {term} appended a conf change at {} while the one at {} (term {}) was not committed (commit {committed}): voters {now:?} become {after:?}, whose quorums can miss each other's",
                            e.index, first.index, first.term
                        ),
                    ));
                    break;
                }
            }
        }
        self.checker.conf_scan.insert(id, (term, last));
        out
    }

    /// Whether node `id` knows a conf change is committed but has not
    /// applied it.
    pub(crate) fn knows_unapplied_conf(&self, id: u64) -> bool {
        let Some(raw) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return false;
        };
        let log = &raw.raft.raft_log;
        if log.committed <= log.applied {
            return false;
        }
        let lo = (log.applied + 1).max(log.first_index());
        if lo > log.committed {
            return false;
        }
        log.slice(lo, log.committed + 1, None).is_ok_and(|ents| {
            ents.iter().any(|e| {
                matches!(
                    e.entry_type(),
                    EntryType::EntryConfChange | EntryType::EntryConfChangeV2
                )
            })
        })
    }
}

fn is_conf(e: &Entry) -> bool {
    matches!(
        e.entry_type(),
        EntryType::EntryConfChange | EntryType::EntryConfChangeV2
    )
}

/// The voter set after a single-step change (V1; the caller leaves joint
/// changes out).
fn apply_voters(voters: &mut Vec<u64>, e: &Entry) {
    if e.entry_type() != EntryType::EntryConfChange {
        return;
    }
    let Ok(cc) = ConfChange::decode(&e.data[..]) else {
        return;
    };
    match cc.change_type() {
        ConfChangeType::AddNode => {
            if !voters.contains(&cc.node_id) {
                voters.push(cc.node_id);
                voters.sort_unstable();
            }
        }
        ConfChangeType::RemoveNode | ConfChangeType::AddLearnerNode => {
            voters.retain(|&v| v != cc.node_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thesis §4.1: neighbouring configurations (one voter added or
    /// removed) always share a node between any two majorities; two voters
    /// added (or removed) at once need not, which is what a node campaigning
    /// on a configuration two changes old does (etcd #12133, the TLA+
    /// counterexample {1,2,3} -> +4 -> +5).
    #[test]
    fn quorums_overlap_only_between_neighbouring_configurations() {
        assert!(!quorums_may_miss(&[1, 2, 3], &[1, 2, 3]));
        assert!(!quorums_may_miss(&[1, 2, 3], &[1, 2, 3, 4]));
        assert!(!quorums_may_miss(&[1, 2, 3, 4, 5], &[1, 2, 3, 4]));
        assert!(!quorums_may_miss(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6]));
        assert!(quorums_may_miss(&[1, 2, 3], &[1, 2, 3, 4, 5]));
        assert!(quorums_may_miss(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6, 7]));
        assert!(quorums_may_miss(&[1, 2, 3, 4, 5], &[1, 2, 3]));
        assert!(quorums_may_miss(&[1, 2, 3], &[3, 4, 5]));
        assert!(!quorums_may_miss(&[], &[1]));
        let jc = |v: &[u64]| JointConfig::new(v.iter().copied().collect());
        let e = election_config(1, 7, &jc(&[1, 2, 3]), &jc(&[1, 2, 3, 4, 5]), true).unwrap_err();
        assert_eq!(e.0, "election_config");
        assert!(election_config(1, 7, &jc(&[1, 2, 3]), &jc(&[1, 2, 3, 4]), true).is_ok());
        // A node that did not know of the newer commit is not judged.
        assert!(election_config(1, 7, &jc(&[1, 2, 3]), &jc(&[1, 2, 3, 4, 5]), false).is_ok());
        // Thesis §4.3: the joint configuration overlaps both of its halves,
        // while its halves alone need not overlap each other.
        let joint = JointConfig::new_joint([3, 4, 5].into(), [1, 2, 3].into());
        assert!(!joint_quorums_may_miss(&joint, &jc(&[1, 2, 3])));
        assert!(!joint_quorums_may_miss(&jc(&[3, 4, 5]), &joint));
        assert!(joint_quorums_may_miss(&jc(&[3, 4, 5]), &jc(&[1, 2, 3])));
    }
}
