//! Membership-change rules (Raft thesis §4.1 and §4.3), as pure functions
//! from one configuration to the next.
//!
//! A [`Membership`] is what a [`ConfState`](crate::eraftpb::ConfState) records: the voters, the
//! learners, and while joint the outgoing voters, the voters to become
//! learners on leaving (`learners_next`) and whether the leader leaves by
//! itself (`auto_leave`). [`Membership::apply`] computes the configuration a
//! committed [`ConfChange`](crate::eraftpb::ConfChange) or [`ConfChangeV2`](crate::eraftpb::ConfChangeV2)
//! produces, or the [`Refusal`] naming the rule it breaks:
//!
//! - a **simple** change (one change, `Auto`) applies directly and may
//!   change at most one voter (thesis §4.1);
//! - **entering** the joint state copies the voters to the outgoing half,
//!   then applies every change to the incoming half; a voter demoted to
//!   learner stays an outgoing voter, recorded in `learners_next`;
//! - **leaving** (an empty change) drops the outgoing half and makes
//!   `learners_next` learners.
//!
//! ```
//! use tinyraft::confchange::Membership;
//! use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2};
//!
//! // Replace 3 by 4 atomically: add 4 and remove 3 in one change.
//! let m = Membership::from_conf_state(&(vec![1, 2, 3], vec![]).into());
//! let add = ConfChangeSingle { change_type: ConfChangeType::AddNode as i32, node_id: 4 };
//! let remove = ConfChangeSingle { change_type: ConfChangeType::RemoveNode as i32, node_id: 3 };
//! let enter = ConfChangeV2 { changes: vec![add, remove], ..Default::default() };
//! let joint = m.apply(&enter).unwrap();
//! assert!(joint.is_joint() && joint.auto_leave);
//! assert_eq!(joint.to_conf_state().voters_outgoing, vec![1, 2, 3]);
//! let left = joint.apply(&ConfChangeV2::default()).unwrap();
//! assert_eq!(left.to_conf_state(), (vec![1, 2, 4], vec![]).into());
//! ```

mod changer;
mod membership;
#[cfg(test)]
mod props;

pub use membership::Membership;

use thiserror::Error as ThisError;

/// Why a membership change cannot apply to a configuration.
#[derive(Clone, Debug, PartialEq, Eq, ThisError)]
pub enum Refusal {
    /// Entering a joint state, or a simple change, while already joint.
    #[error("the configuration is already joint; leave it first")]
    AlreadyJoint,
    /// A leave (empty) change while not joint.
    #[error("the configuration is not joint: nothing to leave")]
    NotJoint,
    /// The change would leave the incoming configuration without a voter.
    #[error("the change removes every voter of the incoming configuration")]
    NoVoters,
    /// The configuration would have this node both voting and learning.
    #[error("node {0} would be both a voter and a learner")]
    VoterAndLearner(u64),
    /// `AddNode` for a voter being demoted (in `learners_next`).
    #[error("node {0} is being demoted (in learners_next); it cannot be promoted")]
    PromoteLearnerNext(u64),
    /// A simple change altering more than one voter (thesis §4.1: only one
    /// at a time is safe without joint consensus).
    #[error("a simple change may change one voter, this one changes {0}; use joint consensus")]
    SimpleChangesTooManyVoters(usize),
    /// A change naming node id 0.
    #[error("node id 0 is not a node")]
    InvalidNodeId,
    /// A change type number this version does not know.
    #[error("unknown conf change type {0}")]
    UnknownChangeType(i32),
    /// A transition number this version does not know.
    #[error("unknown conf change transition {0}")]
    UnknownTransition(i32),
    /// Another broken rule of a configuration; the text names it.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl From<Refusal> for crate::Error {
    fn from(r: Refusal) -> crate::Error {
        crate::Error::ConfChangeRefused(r.to_string())
    }
}

#[cfg(test)]
mod tests;
