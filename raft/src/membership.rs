//! Single-step membership change through the log (TinyKV 3A, thesis §4.1).
//!
//! A change is proposed as an `EntryConfChange` and takes effect when the
//! application applies it after commit. Proposal time refuses what must not
//! enter the log; application time applies whatever the log agreed on.

use slog::{info, warn};
use tinyraft_log::storage::Storage;
use tinyraft_proto::ConfChangeI;
use tinyraft_proto::eraftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType};

use crate::election::decode_conf_change;
use crate::errors::{Error, Result};
use crate::raft::{INVALID_ID, Raft, StateRole};

impl<S: Storage> Raft<S> {
    /// Proposal-time checks on a leader for one conf change entry.
    pub(crate) fn check_conf_change_proposal(&self, e: &Entry) -> Result<()> {
        let refuse = |s: String| Err(Error::ConfChangeRefused(s));
        if e.entry_type() == EntryType::EntryConfChangeV2 {
            // Decoded and carried on the wire, but joint consensus is not
            // implemented: such an entry must not enter the log.
            return refuse("ConfChangeV2 (joint consensus) is not supported yet".into());
        }
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
        let Some(cc) = decode_conf_change(&e.data) else {
            return refuse("entry data is not a ConfChange".into());
        };
        if ConfChangeType::try_from(cc.change_type).is_err() {
            // prost would read an unknown type as AddNode; the log must only
            // carry changes every node can apply.
            return refuse(format!("unknown conf change type {}", cc.change_type));
        }
        if cc.node_id == INVALID_ID {
            return refuse("node id 0 is not a node".into());
        }
        if cc.change_type() == ConfChangeType::RemoveNode {
            let voters = self.prs.voter_ids();
            if voters == [cc.node_id] {
                return refuse(format!("removing {} would leave no voter", cc.node_id));
            }
        }
        Ok(())
    }

    /// Applies a committed conf change and returns the new membership. A
    /// duplicate add or an absent remove is an `Ok` no-op: every node applies
    /// the same log the same way.
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> Result<ConfState> {
        if let Some(v1) = cc.as_v1() {
            return self.apply_simple_change(v1);
        }
        let v2 = cc.as_v2();
        if v2.leave_joint() {
            // Never joint here: leaving is a no-op.
            return Ok(self.conf_state());
        }
        match (v2.enter_joint(), v2.changes.as_slice()) {
            (None, [one]) => {
                // `Auto` with one change is a simple change.
                let v1 = ConfChange {
                    change_type: one.change_type,
                    node_id: one.node_id,
                    context: v2.context.clone(),
                };
                self.apply_simple_change(&v1)
            }
            _ => Err(Error::ConfChangeRefused(
                "entering a joint configuration (ConfChangeV2) is not supported yet".into(),
            )),
        }
    }

    /// Applies one simple (single-node) change.
    fn apply_simple_change(&mut self, cc: &ConfChange) -> Result<ConfState> {
        let id = cc.node_id;
        let next = self.raft_log.last_index().saturating_add(1);
        let change = ConfChangeType::try_from(cc.change_type).map_err(|_| {
            Error::InvalidMessage(format!("unknown conf change type {}", cc.change_type))
        })?;
        info!(self.logger, "applying conf change"; "type" => ?change, "node" => id);
        match change {
            ConfChangeType::AddNode => {
                if !self.prs.is_voter(id) {
                    let existed = self.prs.is_member(id);
                    self.prs.add_voter(id, next);
                    if !existed {
                        self.mark_new_member_active(id);
                    }
                }
            }
            ConfChangeType::AddLearnerNode => {
                if !self.prs.is_member(id) {
                    self.prs.add_learner(id, next);
                    self.mark_new_member_active(id);
                }
            }
            ConfChangeType::RemoveNode => {
                if self.prs.is_member(id) {
                    self.prs.remove(id);
                    if self.lead_transferee == Some(id) {
                        self.abort_leader_transfer();
                    }
                }
            }
        }
        if self.state == StateRole::Leader {
            if !self.prs.is_voter(self.id) {
                // A leader that is no longer a voter cannot lead.
                warn!(self.logger, "removed from the voters; stepping down"; "term" => self.term);
                let term = self.term;
                self.become_follower(term, INVALID_ID);
            } else {
                if self.maybe_commit() {
                    // Fewer voters may mean a smaller quorum already holds more.
                    self.on_commit_advanced();
                }
                // ...and already acknowledged a pending read.
                self.release_reads_confirmed_by_quorum();
            }
        }
        Ok(self.conf_state())
    }

    /// A freshly added member counts as active for check-quorum until the
    /// next round (it has had no chance to answer yet).
    fn mark_new_member_active(&mut self, id: u64) {
        if let Some(pr) = self.prs.get_mut(id) {
            pr.recent_active = true;
            pr.active_by_grace = true;
        }
    }
}
