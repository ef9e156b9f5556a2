//! Membership change through the log: single-step changes (TinyKV 3A,
//! thesis §4.1) and joint consensus (thesis §4.3).
//!
//! A change is proposed as an `EntryConfChange` (V1) or `EntryConfChangeV2`
//! and takes effect when the application applies it after commit. Proposal
//! time refuses what must not enter the log; application time applies
//! whatever the log agreed on. The rules from one configuration to the next
//! are the pure functions of [`crate::confchange`]; this file wires them into
//! the node: progress, leadership and the automatic leave.

use prost::Message as _;
use slog::{info, warn};
use tinyraft_log::storage::Storage;
use tinyraft_proto::ConfChangeI;
use tinyraft_proto::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType,
};

use crate::confchange::Membership;
use crate::errors::{Error, Result};
use crate::quorum::JointConfig;
use crate::raft::{INVALID_ID, Raft, StateRole};

/// The conf change an entry carries, V1 or V2, or `None` if its data does
/// not decode as its type says.
pub(crate) fn decode_entry_conf_change(e: &Entry) -> Option<ConfChangeV2> {
    match e.entry_type() {
        EntryType::EntryConfChange => ConfChange::decode(&e.data[..]).ok().map(|c| c.into_v2()),
        EntryType::EntryConfChangeV2 => ConfChangeV2::decode(&e.data[..]).ok(),
        EntryType::EntryNormal => None,
    }
}

impl<S: Storage> Raft<S> {
    /// Proposal-time checks on a leader for one conf change entry.
    pub(crate) fn check_conf_change_proposal(&self, e: &Entry) -> Result<()> {
        let refuse = |s: String| Err(Error::ConfChangeRefused(s));
        if self.pending_conf_index > self.raft_log.applied {
            // One change at a time: the next one must be decided in the
            // configuration the previous one produced.
            return refuse(format!(
                "a conf change at index {} is not applied yet (applied {})",
                self.pending_conf_index, self.raft_log.applied
            ));
        }
        if !self.committed_entry_in_current_term() {
            // Ongaro (raft-dev, 2015): until a leader commits an entry of its
            // term, a change it proposes may race a change from an older term
            // and two configurations could commit with disjoint quorums.
            return refuse(format!(
                "the leader has not committed an entry of its term {} yet",
                self.term
            ));
        }
        let Some(cc) = decode_entry_conf_change(e) else {
            return refuse(format!("entry data is not a {:?}", e.entry_type()));
        };
        // The configuration rules (one voter at a time outside joint
        // consensus, no entering while joint, no leaving while not, no
        // configuration without voters, ...): the log must only carry
        // changes every node can apply.
        self.prs.membership().apply(&cc)?;
        Ok(())
    }

    /// Applies a committed conf change (V1 [`ConfChange`] or
    /// [`ConfChangeV2`]) and returns the new membership.
    ///
    /// A duplicate add or an absent remove is an `Ok` no-op, and a simple
    /// change that removes the last voter leaves an empty voter set: every
    /// node applies the same log the same way. A change that cannot apply
    /// to the current configuration at all (entering a joint state while
    /// joint, for one) is refused with `ConfChangeRefused` and changes
    /// nothing; the proposal-time checks keep such changes out of the log.
    /// So after a restart, pass the index the stored `ConfState` reflects as
    /// [`Config::applied`](crate::Config::applied): replaying an entering
    /// change onto the joint state it produced is refused.
    ///
    /// When to use which (thesis §4.1 and §4.3): a V1 change, or a V2 change
    /// with one change and the `Auto` transition, changes at most one voter
    /// directly. A V2 change with several changes, or with the `Implicit` or
    /// `Explicit` transition, enters a joint configuration, where every
    /// decision needs a majority of the old and of the new voters; it is left
    /// by an empty V2 change, proposed by the leader itself (`Auto`,
    /// `Implicit`) or by the application (`Explicit`).
    ///
    /// ```
    /// use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2};
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::{Config, Raft};
    ///
    /// let storage = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    /// let logger = slog::Logger::root(slog::Discard, slog::o!());
    /// let mut r = Raft::new(&Config::new(1), storage, &logger).unwrap();
    /// // Replace 3 by 4 atomically: one V2 change with two changes.
    /// let single = |t: ConfChangeType, id| ConfChangeSingle { change_type: t as i32, node_id: id };
    /// let replace = ConfChangeV2 {
    ///     changes: vec![single(ConfChangeType::AddNode, 4), single(ConfChangeType::RemoveNode, 3)],
    ///     ..Default::default()
    /// };
    /// let cs = r.apply_conf_change(&replace).unwrap();
    /// assert_eq!((cs.voters, cs.voters_outgoing), (vec![1, 2, 4], vec![1, 2, 3]));
    /// // Leaving the joint state: an empty change.
    /// let cs = r.apply_conf_change(&ConfChangeV2::default()).unwrap();
    /// assert_eq!((cs.voters, cs.voters_outgoing), (vec![1, 2, 4], vec![]));
    /// ```
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> Result<ConfState> {
        let next = self.prs.membership().apply_committed(cc).map_err(|r| {
            warn!(self.logger, "committed conf change refused"; "reason" => %r);
            Error::from(r)
        })?;
        info!(self.logger, "applying conf change";
            "change" => ?cc.as_v2().changes, "transition" => cc.as_v2().transition,
            "voters" => ?next.voters, "outgoing" => ?next.voters_outgoing,
            "learners" => ?next.learners, "learners_next" => ?next.learners_next);
        self.switch_membership(next);
        Ok(self.conf_state())
    }

    /// Moves the node to configuration `next`.
    fn switch_membership(&mut self, next: Membership) {
        let next_idx = self.raft_log.last_index().saturating_add(1);
        for id in self.prs.set_membership(next, next_idx) {
            self.mark_new_member_active(id);
        }
        if let Some(t) = self.lead_transferee {
            if !self.prs.is_voter(t) {
                self.abort_leader_transfer();
            }
        }
        if self.state != StateRole::Leader {
            return;
        }
        // The change applied was the first of the pending ones.
        self.refresh_pending_configs();
        if !self.prs.is_voter(self.id) {
            // A leader that is no longer a voter cannot lead. Through joint
            // consensus this happens when the leave applies: until then it
            // led the joint configuration as an outgoing voter (thesis
            // §4.2.2).
            warn!(self.logger, "not a voter any more; stepping down"; "term" => self.term);
            let term = self.term;
            self.become_follower(term, INVALID_ID);
            return;
        }
        if self.maybe_commit() {
            // A different quorum may already hold more.
            self.on_commit_advanced();
        }
        // ...and may already have acknowledged a pending read.
        self.release_reads_confirmed_by_quorum();
    }

    /// Records the configurations that the conf changes in the log past the
    /// applied index produce (see [`ProgressTracker::set_pending`]), on a
    /// node that campaigns or has just won: it cannot tell whether those
    /// changes are committed, and the newest may already be in force on a
    /// quorum that its applied configuration does not overlap (joint
    /// consensus moves between configurations whose majorities need not
    /// intersect). Found by the campaign: a new leader that had not applied
    /// an enter and a leave committed its first entry with the old voters
    /// alone, and the new voters' majority lacked it.
    ///
    /// [`ProgressTracker::set_pending`]: crate::ProgressTracker
    pub(crate) fn refresh_pending_configs(&mut self) {
        let pending = self.configs_in_unapplied_log();
        let next = self.raft_log.last_index().saturating_add(1);
        for id in self.prs.set_pending(pending, next) {
            self.mark_new_member_active(id);
        }
    }

    /// The voter configurations that the leave-joint changes in this node's
    /// log past its applied index produce, in log order (committed or not:
    /// the node cannot tell). A campaign needs votes from a quorum of each, and
    /// a new leader commits only what a quorum of each holds; so Raft's
    /// promise of progress holds when a quorum of each of these (and of the
    /// applied configuration) can talk.
    pub fn configs_in_unapplied_log(&self) -> Vec<JointConfig> {
        let (lo, hi) = (
            self.raft_log.applied.saturating_add(1),
            self.raft_log.last_index(),
        );
        let mut pending = Vec::new();
        if lo > hi || lo < self.raft_log.first_index() {
            return pending;
        }
        match self.raft_log.slice(lo, hi.saturating_add(1), None) {
            Ok(ents) => {
                let mut m = self.prs.membership().clone();
                for e in ents
                    .iter()
                    .filter(|e| e.entry_type() != EntryType::EntryNormal)
                {
                    let Some(cc) = decode_entry_conf_change(e) else {
                        continue;
                    };
                    if let Ok(next) = m.apply_committed(&cc) {
                        m = next;
                        // Every quorum of a single-step change's result
                        // overlaps one of its origin (thesis §4.1), and so
                        // does every quorum of a joint configuration (its
                        // outgoing half is the origin). Only past a leave
                        // can the configuration in force have no majority
                        // in common with the applied one (§4.3).
                        if cc.leave_joint() {
                            pending.push(m.joint_config());
                        }
                    }
                }
            }
            Err(e) => {
                warn!(self.logger, "cannot read the unapplied log for conf changes"; "err" => %e)
            }
        }
        pending
    }

    /// A freshly added member counts as active for check-quorum until the
    /// next round (it has had no chance to answer yet).
    fn mark_new_member_active(&mut self, id: u64) {
        if let Some(pr) = self.prs.get_mut(id) {
            pr.recent_active = true;
            pr.active_by_grace = true;
        }
    }

    /// Thesis §4.3, etcd's `auto_leave`: a leader in a joint configuration
    /// entered with the `Auto` or `Implicit` transition proposes the empty
    /// change that leaves it as soon as the entering change is applied (any
    /// leader of a later term too: the joint state is durable and outlives
    /// the leader that entered it). Called as `applied` moves and on each
    /// heartbeat tick, so a proposal that was dropped (during a leader
    /// transfer, say) is retried.
    pub(crate) fn maybe_auto_leave(&mut self) {
        if self.state != StateRole::Leader
            || !self.prs.membership().auto_leave
            || self.pending_conf_index > self.raft_log.applied
            || !self.committed_entry_in_current_term()
            || self.lead_transferee.is_some()
        {
            return;
        }
        let leave = Entry {
            entry_type: EntryType::EntryConfChangeV2 as i32,
            data: ConfChangeV2::default().encode_to_vec().into(),
            ..Default::default()
        };
        let m = Message {
            msg_type: MessageType::MsgPropose as i32,
            from: self.id,
            entries: vec![leave],
            ..Default::default()
        };
        match self.propose_as_leader(m) {
            Ok(()) => info!(self.logger, "proposed leaving the joint configuration";
                "term" => self.term, "index" => self.pending_conf_index),
            Err(e) => {
                warn!(self.logger, "could not propose leaving the joint configuration; will retry"; "err" => %e)
            }
        }
    }
}
