//! Joint majorities (Raft thesis §4.3): while a configuration changes
//! through joint consensus, agreement (elections and commitment) requires
//! separate majorities from both the old and the new configuration.

use std::collections::{BTreeMap, BTreeSet};

use super::majority::{self, VoteResult};

/// The voters of a configuration, as two halves: `incoming` (the new
/// configuration) and `outgoing` (the old one, empty when not joint).
///
/// An empty half imposes no constraint, so a non-joint configuration is a
/// `JointConfig` with an empty `outgoing` and behaves exactly as the
/// single-majority functions of [`crate::quorum`] on `incoming`.
///
/// ```
/// use std::collections::BTreeMap;
/// use tinyraft::quorum::{JointConfig, VoteResult};
///
/// // Replacing 3 by 4: old {1, 2, 3}, new {1, 2, 4}.
/// let c = JointConfig::new_joint([1, 2, 4].into(), [1, 2, 3].into());
/// let matched: BTreeMap<u64, u64> = [(1, 5), (3, 7), (4, 9)].into();
/// // {1, 4} hold 5 (a majority of the new), {1, 3} hold 5 (of the old).
/// assert_eq!(c.committed_index(|id| matched.get(&id).copied().unwrap_or(0)), 5);
/// let votes = [(1, true), (4, true)].into();
/// // A majority of the new half granted, but only 1 of the old half.
/// assert_eq!(c.vote_result(&votes), VoteResult::Pending);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JointConfig {
    /// The voters of the configuration being entered (or the only one).
    pub incoming: BTreeSet<u64>,
    /// The voters of the configuration being left; empty when not joint.
    pub outgoing: BTreeSet<u64>,
}

impl JointConfig {
    /// A simple (non-joint) configuration of `voters`.
    pub fn new(voters: BTreeSet<u64>) -> JointConfig {
        JointConfig {
            incoming: voters,
            outgoing: BTreeSet::new(),
        }
    }

    /// A joint configuration moving from `outgoing` to `incoming`.
    pub fn new_joint(incoming: BTreeSet<u64>, outgoing: BTreeSet<u64>) -> JointConfig {
        JointConfig { incoming, outgoing }
    }

    /// Whether this is a joint configuration (the outgoing half has voters).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Every voter of either half, ascending and without repeats.
    pub fn ids(&self) -> BTreeSet<u64> {
        self.incoming.union(&self.outgoing).copied().collect()
    }

    /// Whether `id` votes in either half.
    pub fn contains(&self, id: u64) -> bool {
        self.incoming.contains(&id) || self.outgoing.contains(&id)
    }

    /// The largest index stored on a majority of each non-empty half, given
    /// each voter's match index (thesis §4.3: commitment needs both
    /// majorities). The minimum of the two halves' committed indexes; 0 when
    /// neither half has voters.
    pub fn committed_index(&self, matched: impl Fn(u64) -> u64) -> u64 {
        let half = |voters: &BTreeSet<u64>| -> Option<u64> {
            if voters.is_empty() {
                return None;
            }
            let mut m: Vec<u64> = voters.iter().map(|&id| matched(id)).collect();
            Some(majority::committed_index_in_place(&mut m))
        };
        match (half(&self.incoming), half(&self.outgoing)) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 0,
        }
    }

    /// Tallies `votes` (voter -> granted) in both halves (thesis §4.3): won
    /// only if both halves are won, lost if either is lost, else pending.
    /// An empty half counts as won, as [`majority::vote_result`] does.
    pub fn vote_result(&self, votes: &BTreeMap<u64, bool>) -> VoteResult {
        let a = majority::vote_result(&self.incoming, votes);
        let b = majority::vote_result(&self.outgoing, votes);
        match (a, b) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }

    /// Whether `acks` contains a majority of each non-empty half (check-quorum
    /// and ReadIndex confirmation while joint). No set of acks is a quorum
    /// when neither half has voters.
    pub fn has_quorum(&self, acks: &BTreeSet<u64>) -> bool {
        let half = |voters: &BTreeSet<u64>| voters.is_empty() || majority::has_quorum(voters, acks);
        (!self.incoming.is_empty() || !self.outgoing.is_empty())
            && half(&self.incoming)
            && half(&self.outgoing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    fn matches(pairs: &[(u64, u64)]) -> impl Fn(u64) -> u64 + '_ {
        move |id| pairs.iter().find(|p| p.0 == id).map_or(0, |p| p.1)
    }

    /// Thesis §4.3: a joint configuration commits only what a majority of
    /// the old and a majority of the new configuration store.
    #[test]
    fn joint_commit_is_the_min_of_both_majorities_4_3() {
        let c = JointConfig::new_joint(set(&[1, 2, 3]), set(&[3, 4, 5]));
        // New half {1, 2, 3}: majority holds 8; old half {3, 4, 5}: holds 2.
        let m = [(1, 9), (2, 8), (3, 2), (4, 1), (5, 0)];
        assert_eq!(c.committed_index(matches(&m)), 1);
        let m = [(1, 9), (2, 8), (3, 2), (4, 2), (5, 0)];
        assert_eq!(c.committed_index(matches(&m)), 2);
        // Old majority ahead of the new: the new half bounds it.
        let m = [(1, 1), (2, 0), (3, 7), (4, 7), (5, 7)];
        assert_eq!(c.committed_index(matches(&m)), 1);
    }

    /// An empty outgoing half imposes nothing: the non-joint rule (§5.3).
    #[test]
    fn empty_outgoing_half_is_the_simple_majority_5_3() {
        let c = JointConfig::new(set(&[1, 2, 3]));
        assert!(!c.is_joint());
        assert_eq!(c.committed_index(matches(&[(1, 4), (2, 6), (3, 1)])), 4);
        assert_eq!(JointConfig::default().committed_index(|_| 7), 0);
        let votes = [(1, true), (2, true)].into();
        assert_eq!(c.vote_result(&votes), VoteResult::Won);
        assert!(c.has_quorum(&set(&[2, 3])));
        assert!(!JointConfig::default().has_quorum(&set(&[1])));
    }

    /// Thesis §4.3: an election in the joint state needs both majorities;
    /// either half refusing by a majority loses it.
    #[test]
    fn joint_election_needs_both_majorities_4_3() {
        let c = JointConfig::new_joint(set(&[1, 2, 3]), set(&[1, 4, 5]));
        let t = |v: &[(u64, bool)]| c.vote_result(&v.iter().copied().collect());
        assert_eq!(t(&[(1, true), (2, true)]), VoteResult::Pending);
        assert_eq!(t(&[(1, true), (2, true), (4, true)]), VoteResult::Won);
        assert_eq!(
            t(&[(1, true), (2, true), (4, false), (5, false)]),
            VoteResult::Lost
        );
        assert_eq!(
            t(&[(2, false), (3, false), (4, true), (1, true)]),
            VoteResult::Lost
        );
    }

    /// Thesis §4.3 (and §6.2/§6.4 while joint): a quorum of acks is a
    /// majority of each half.
    #[test]
    fn joint_quorum_needs_both_halves_4_3() {
        let c = JointConfig::new_joint(set(&[1, 2, 3]), set(&[3, 4, 5]));
        assert!(!c.has_quorum(&set(&[1, 2])));
        assert!(c.has_quorum(&set(&[1, 3, 4])));
        assert!(c.has_quorum(&set(&[2, 3, 5])));
        assert!(!c.has_quorum(&set(&[4, 5, 9])));
        assert_eq!(c.ids(), set(&[1, 2, 3, 4, 5]));
        assert!(c.contains(5) && !c.contains(6));
    }
}
