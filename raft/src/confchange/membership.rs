//! The configuration a `ConfState` records, as sets, with its invariants.

use std::collections::BTreeSet;

use tinyraft_proto::eraftpb::ConfState;

use super::Refusal;
use crate::quorum::JointConfig;

/// One membership configuration, joint or not (thesis §4.3).
///
/// Invariants ([`check`](Membership::check)): no node is both a voter (of
/// either half) and a learner; `learners_next` are outgoing voters that are
/// not incoming voters; `auto_leave` is false when not joint. The
/// configuration is joint exactly when `voters_outgoing` is non-empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// The voters (of the incoming half, while joint).
    pub voters: BTreeSet<u64>,
    /// Nodes that receive the log but do not vote.
    pub learners: BTreeSet<u64>,
    /// The voters of the outgoing half; empty when not joint.
    pub voters_outgoing: BTreeSet<u64>,
    /// Outgoing voters that become learners when the joint state is left.
    pub learners_next: BTreeSet<u64>,
    /// Whether the leader leaves the joint state by itself once it applies
    /// the entry that entered it.
    pub auto_leave: bool,
}

impl Membership {
    /// The configuration `cs` records (repeated ids collapse; call
    /// [`check`](Membership::check) to validate it).
    pub fn from_conf_state(cs: &ConfState) -> Membership {
        let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        Membership {
            voters: set(&cs.voters),
            learners: set(&cs.learners),
            voters_outgoing: set(&cs.voters_outgoing),
            learners_next: set(&cs.learners_next),
            auto_leave: cs.auto_leave,
        }
    }

    /// The configuration `cs` records, repaired so that it keeps the
    /// invariants [`check`](Membership::check) asks for: a conf state read
    /// from storage or a snapshot is not trusted to be well formed. An id
    /// listed both as voter and learner is a voter (the stronger role
    /// wins); a learner that is an outgoing voter is in `learners_next`;
    /// `learners_next` keeps only outgoing voters that are not incoming
    /// voters; `auto_leave` is dropped when not joint.
    pub fn repaired_from(cs: &ConfState) -> Membership {
        let mut conf = Membership::from_conf_state(cs);
        let voters = conf.voters.clone();
        conf.learners.retain(|id| !voters.contains(id));
        let outgoing = conf.voters_outgoing.clone();
        let demoted: Vec<u64> = conf
            .learners
            .iter()
            .filter(|id| outgoing.contains(id))
            .copied()
            .collect();
        for id in demoted {
            conf.learners.remove(&id);
            conf.learners_next.insert(id);
        }
        conf.learners_next
            .retain(|id| outgoing.contains(id) && !voters.contains(id));
        if !conf.is_joint() {
            conf.auto_leave = false;
        }
        conf
    }

    /// This configuration as a `ConfState` (ascending id lists).
    pub fn to_conf_state(&self) -> ConfState {
        let vec = |s: &BTreeSet<u64>| s.iter().copied().collect::<Vec<u64>>();
        ConfState {
            voters: vec(&self.voters),
            learners: vec(&self.learners),
            voters_outgoing: vec(&self.voters_outgoing),
            learners_next: vec(&self.learners_next),
            auto_leave: self.auto_leave,
        }
    }

    /// Whether this is a joint configuration (thesis §4.3).
    pub fn is_joint(&self) -> bool {
        !self.voters_outgoing.is_empty()
    }

    /// The voters of both halves, for the quorum arithmetic.
    pub fn joint_config(&self) -> JointConfig {
        JointConfig::new_joint(self.voters.clone(), self.voters_outgoing.clone())
    }

    /// Checks the invariants; the refusal names the first one broken.
    pub fn check(&self) -> Result<(), Refusal> {
        if let Some(&id) = self.learners.intersection(&self.voters).next() {
            return Err(Refusal::VoterAndLearner(id));
        }
        if let Some(&id) = self.learners.intersection(&self.voters_outgoing).next() {
            // An outgoing voter being demoted belongs in learners_next.
            return Err(Refusal::VoterAndLearner(id));
        }
        if let Some(&id) = self.learners_next.intersection(&self.voters).next() {
            return Err(Refusal::VoterAndLearner(id));
        }
        if let Some(&id) = self.learners_next.difference(&self.voters_outgoing).next() {
            return Err(Refusal::Invalid(format!(
                "learners_next holds {id}, which is not an outgoing voter"
            )));
        }
        if !self.is_joint() && self.auto_leave {
            return Err(Refusal::Invalid(
                "auto_leave is set outside a joint configuration".into(),
            ));
        }
        if self.is_joint() && self.voters.is_empty() {
            return Err(Refusal::NoVoters);
        }
        Ok(())
    }
}
