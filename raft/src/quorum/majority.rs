//! Majority arithmetic (Raft §5.2, §5.3): pure functions over one voter set.

use std::collections::{BTreeMap, BTreeSet};

/// The outcome of an election as far as the votes received tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// A majority of voters granted.
    Won,
    /// A majority rejected: the election cannot be won any more.
    Lost,
    /// Neither yet.
    Pending,
}

/// The size of a majority of `n` voters.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// The largest index stored on a majority, given every voter's match index
/// (missing voters count as 0). An empty voter set commits nothing (0).
///
/// ```
/// use tinyraft::quorum::committed_index;
/// assert_eq!(committed_index(&[5, 3, 1]), 3);
/// assert_eq!(committed_index(&[5, 3, 1, 4]), 3);
/// ```
pub fn committed_index(matched: &[u64]) -> u64 {
    committed_index_in_place(&mut matched.to_vec())
}

/// [`committed_index`] on a buffer the caller owns (reordered), so the
/// leader's commit check copies the match indexes once, not twice.
pub(crate) fn committed_index_in_place(matched: &mut [u64]) -> u64 {
    if matched.is_empty() {
        return 0;
    }
    // Descending: the majority-th largest value is on at least a majority.
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched[majority(matched.len()) - 1]
}

/// Tallies `votes` (voter -> granted) over `voters`; votes from non-voters
/// are ignored. An empty voter set wins (nothing can oppose it), but the core
/// never lets a node without a vote campaign.
///
/// ```
/// use std::collections::{BTreeMap, BTreeSet};
/// use tinyraft::quorum::{vote_result, VoteResult};
/// let voters: BTreeSet<u64> = [1, 2, 3].into();
/// let votes: BTreeMap<u64, bool> = [(1, true), (2, true)].into();
/// assert_eq!(vote_result(&voters, &votes), VoteResult::Won);
/// ```
pub fn vote_result(voters: &BTreeSet<u64>, votes: &BTreeMap<u64, bool>) -> VoteResult {
    if voters.is_empty() {
        return VoteResult::Won;
    }
    let (mut granted, mut rejected) = (0, 0);
    for id in voters {
        match votes.get(id) {
            Some(true) => granted += 1,
            Some(false) => rejected += 1,
            None => {}
        }
    }
    let q = majority(voters.len());
    if granted >= q {
        VoteResult::Won
    } else if rejected >= q {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

/// Whether `acks` contains a majority of `voters` (ids outside `voters`
/// do not count). An empty voter set has no quorum.
///
/// ```
/// use std::collections::BTreeSet;
/// use tinyraft::quorum::has_quorum;
/// let voters: BTreeSet<u64> = [1, 2, 3].into();
/// assert!(has_quorum(&voters, &[1, 3].into()));
/// assert!(!has_quorum(&voters, &[1, 9].into()));
/// ```
pub fn has_quorum(voters: &BTreeSet<u64>, acks: &BTreeSet<u64>) -> bool {
    let n = voters.iter().filter(|id| acks.contains(id)).count();
    !voters.is_empty() && n >= majority(voters.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §5.3: an entry is committed once stored on a majority.
    #[test]
    fn committed_index_is_the_majority_th_largest_match_5_3() {
        assert_eq!(committed_index(&[]), 0);
        assert_eq!(committed_index(&[7]), 7);
        assert_eq!(committed_index(&[7, 2]), 2);
        assert_eq!(committed_index(&[1, 2, 3]), 2);
        assert_eq!(committed_index(&[3, 3, 0, 0]), 0);
        assert_eq!(committed_index(&[4, 3, 9, 0, 1]), 3);
    }

    /// §5.2: a candidate wins with a majority, and loses once a majority said no.
    #[test]
    fn vote_tally_won_lost_pending_5_2() {
        let voters: BTreeSet<u64> = [1, 2, 3, 4, 5].into();
        let t = |v: &[(u64, bool)]| vote_result(&voters, &v.iter().copied().collect());
        assert_eq!(t(&[(1, true)]), VoteResult::Pending);
        assert_eq!(t(&[(1, true), (2, true), (3, true)]), VoteResult::Won);
        assert_eq!(t(&[(1, true), (2, false), (3, false)]), VoteResult::Pending);
        assert_eq!(
            t(&[(1, true), (2, false), (3, false), (4, false)]),
            VoteResult::Lost
        );
        // Votes from non-voters (learners, removed nodes) do not count.
        assert_eq!(t(&[(1, true), (2, true), (9, true)]), VoteResult::Pending);
        assert_eq!(
            vote_result(&BTreeSet::new(), &BTreeMap::new()),
            VoteResult::Won
        );
    }

    /// §5.2/§5.3: a quorum is a majority of the voters; non-voters' acks
    /// do not count, and no set of acks is a quorum of nobody.
    #[test]
    fn has_quorum_needs_a_majority_of_voters_5_2() {
        let voters: BTreeSet<u64> = [1, 2, 3, 4].into();
        assert!(!has_quorum(&voters, &[1, 2].into()));
        assert!(has_quorum(&voters, &[1, 2, 4].into()));
        assert!(!has_quorum(&voters, &[1, 2, 7, 8].into()));
        assert!(!has_quorum(&BTreeSet::new(), &[1].into()));
    }
}
