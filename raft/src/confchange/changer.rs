//! The transitions: simple change, enter joint, leave joint (thesis §4.1,
//! §4.3), each checked against the configuration invariants.

use tinyraft_proto::ConfChangeI;
use tinyraft_proto::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType};

use super::{Membership, Refusal};

impl Membership {
    /// The configuration after `cc`: a leave (empty change), an enter
    /// (several changes, or the `Implicit`/`Explicit` transition) or a
    /// simple change, as [`ConfChangeV2::enter_joint`] and
    /// [`ConfChangeV2::leave_joint`] classify it.
    ///
    /// [`ConfChangeV2::enter_joint`]: crate::eraftpb::ConfChangeV2::enter_joint
    /// [`ConfChangeV2::leave_joint`]: crate::eraftpb::ConfChangeV2::leave_joint
    pub fn apply(&self, cc: &impl ConfChangeI) -> Result<Membership, Refusal> {
        self.apply_with(cc, false)
    }

    /// The configuration after a change the log already committed: as
    /// [`apply`](Membership::apply), except that a simple change may leave
    /// no voter (every node applies the log the same way, and the
    /// proposal-time check is what keeps such a change out of the log).
    pub fn apply_committed(&self, cc: &impl ConfChangeI) -> Result<Membership, Refusal> {
        self.apply_with(cc, true)
    }

    fn apply_with(
        &self,
        cc: &impl ConfChangeI,
        allow_no_voters: bool,
    ) -> Result<Membership, Refusal> {
        let cc = cc.as_v2();
        if ConfChangeTransition::try_from(cc.transition).is_err() {
            return Err(Refusal::UnknownTransition(cc.transition));
        }
        if cc.leave_joint() {
            self.leave_joint()
        } else if let Some(auto_leave) = cc.enter_joint() {
            self.enter_joint(auto_leave, &cc.changes)
        } else {
            self.simple_inner(&cc.changes, allow_no_voters)
        }
    }

    /// A change without joint consensus (thesis §4.1): refused while joint,
    /// and if the voters before and after differ in more than one node.
    pub fn simple(&self, changes: &[ConfChangeSingle]) -> Result<Membership, Refusal> {
        self.simple_inner(changes, false)
    }

    fn simple_inner(
        &self,
        changes: &[ConfChangeSingle],
        allow_no_voters: bool,
    ) -> Result<Membership, Refusal> {
        self.check()?;
        if self.is_joint() {
            return Err(Refusal::AlreadyJoint);
        }
        let mut next = self.clone();
        next.apply_changes(changes)?;
        if next.voters.is_empty() && !allow_no_voters {
            return Err(Refusal::NoVoters);
        }
        let changed = self.voters.symmetric_difference(&next.voters).count();
        if changed > 1 {
            return Err(Refusal::SimpleChangesTooManyVoters(changed));
        }
        next.check()?;
        Ok(next)
    }

    /// Enters the joint state (thesis §4.3): the current voters become the
    /// outgoing half, `changes` apply to the incoming half. `auto_leave`
    /// records whether the leader leaves by itself.
    pub fn enter_joint(
        &self,
        auto_leave: bool,
        changes: &[ConfChangeSingle],
    ) -> Result<Membership, Refusal> {
        self.check()?;
        if self.is_joint() {
            return Err(Refusal::AlreadyJoint);
        }
        if self.voters.is_empty() {
            // Nothing to be joint with: the outgoing half would be empty.
            return Err(Refusal::NoVoters);
        }
        let mut next = self.clone();
        next.voters_outgoing = self.voters.clone();
        next.apply_changes(changes)?;
        if next.voters.is_empty() {
            return Err(Refusal::NoVoters);
        }
        next.auto_leave = auto_leave;
        next.check()?;
        Ok(next)
    }

    /// Leaves the joint state (thesis §4.3): the outgoing half is dropped
    /// and the demoted voters (`learners_next`) become learners.
    pub fn leave_joint(&self) -> Result<Membership, Refusal> {
        self.check()?;
        if !self.is_joint() {
            return Err(Refusal::NotJoint);
        }
        let mut next = self.clone();
        next.learners.append(&mut next.learners_next);
        next.voters_outgoing.clear();
        next.auto_leave = false;
        next.check()?;
        Ok(next)
    }

    /// Applies each change, in order, to the incoming half and the learners.
    fn apply_changes(&mut self, changes: &[ConfChangeSingle]) -> Result<(), Refusal> {
        for c in changes {
            let id = c.node_id;
            if id == 0 {
                return Err(Refusal::InvalidNodeId);
            }
            let kind = ConfChangeType::try_from(c.change_type)
                .map_err(|_| Refusal::UnknownChangeType(c.change_type))?;
            match kind {
                ConfChangeType::AddNode => {
                    if self.learners_next.contains(&id) {
                        return Err(Refusal::PromoteLearnerNext(id));
                    }
                    self.learners.remove(&id);
                    self.voters.insert(id);
                }
                ConfChangeType::AddLearnerNode => {
                    if self.learners.contains(&id) || self.learners_next.contains(&id) {
                        continue;
                    }
                    self.voters.remove(&id);
                    if self.voters_outgoing.contains(&id) {
                        // Still votes in the outgoing half until the leave.
                        self.learners_next.insert(id);
                    } else {
                        self.learners.insert(id);
                    }
                }
                ConfChangeType::RemoveNode => {
                    self.voters.remove(&id);
                    self.learners.remove(&id);
                    self.learners_next.remove(&id);
                }
            }
        }
        Ok(())
    }
}
