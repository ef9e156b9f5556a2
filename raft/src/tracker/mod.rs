//! The leader's bookkeeping of every member: progress, votes and liveness.

mod inflights;
mod progress;

pub use inflights::Inflights;
pub use progress::{Progress, ProgressState};

use std::collections::{BTreeMap, BTreeSet};

use tinyraft_proto::eraftpb::ConfState;

use crate::quorum::{self, VoteResult};

/// Progress of every member (voters and learners, this node included), the
/// votes of the current election, and the membership itself.
///
/// ```
/// use tinyraft::ProgressTracker;
/// let mut t = ProgressTracker::new(256);
/// t.apply_conf_state(&(vec![1, 2, 3], vec![4]).into(), 1);
/// assert_eq!(t.voter_ids(), vec![1, 2, 3]);
/// assert_eq!(t.learner_ids(), vec![4]);
/// assert!(t.get(4).is_some());
/// ```
#[derive(Clone, Debug)]
pub struct ProgressTracker {
    progress: BTreeMap<u64, Progress>,
    /// The keys of `progress`, sorted: broadcasts walk them by position.
    ids: Vec<u64>,
    voters: BTreeSet<u64>,
    learners: BTreeSet<u64>,
    votes: BTreeMap<u64, bool>,
    max_inflight: usize,
    /// The encoded size of the last append queued to each member, keyed by
    /// what identifies that message's entries (see [`QueuedAppend`]), so
    /// batching a proposal into it does not re-measure the whole batch.
    queued_appends: BTreeMap<u64, QueuedAppend>,
}

/// What identifies an append message's entries within a leader's log (its
/// term, the index before its first entry and its last entry's index), and
/// their encoded size. Within one term the leader's log never changes, so
/// equal keys mean equal entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueuedAppend {
    pub term: u64,
    pub prev: u64,
    pub last: u64,
    pub size: u64,
}

impl ProgressTracker {
    /// An empty tracker whose members get an inflight window of `max_inflight`.
    pub fn new(max_inflight: usize) -> ProgressTracker {
        ProgressTracker {
            progress: BTreeMap::new(),
            ids: Vec::new(),
            voters: BTreeSet::new(),
            learners: BTreeSet::new(),
            votes: BTreeMap::new(),
            max_inflight,
            queued_appends: BTreeMap::new(),
        }
    }

    /// Replaces the membership with `cs`; every member gets a fresh progress
    /// probing from `next_idx`.
    pub fn apply_conf_state(&mut self, cs: &ConfState, next_idx: u64) {
        self.progress.clear();
        self.ids.clear();
        self.voters.clear();
        self.learners.clear();
        self.votes.clear();
        self.queued_appends.clear();
        for &id in &cs.voters {
            self.add_voter(id, next_idx);
        }
        for &id in &cs.learners {
            // An id in both lists is a voter (the stronger role wins).
            if !self.voters.contains(&id) {
                self.add_learner(id, next_idx);
            }
        }
    }

    /// The progress of member `id`.
    pub fn get(&self, id: u64) -> Option<&Progress> {
        self.progress.get(&id)
    }

    /// The progress of member `id`, mutably.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Progress> {
        self.progress.get_mut(&id)
    }

    /// Every member's progress, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Progress)> {
        self.progress.iter()
    }

    /// Every member's progress, mutably, by id.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&u64, &mut Progress)> {
        self.progress.iter_mut()
    }

    /// Voter ids, sorted.
    pub fn voter_ids(&self) -> Vec<u64> {
        self.voters.iter().copied().collect()
    }

    /// Learner ids, sorted.
    pub fn learner_ids(&self) -> Vec<u64> {
        self.learners.iter().copied().collect()
    }

    /// Every member id (voters and learners), sorted.
    pub fn member_ids(&self) -> Vec<u64> {
        self.progress.keys().copied().collect()
    }

    /// The `i`-th member id in id order: broadcasts walk the members by
    /// position, without allocating, while keeping `&mut` access to
    /// everything else between steps.
    pub(crate) fn member_at(&self, i: usize) -> Option<u64> {
        self.ids.get(i).copied()
    }

    fn sync_ids(&mut self) {
        self.ids.clear();
        self.ids.extend(self.progress.keys().copied());
    }

    /// The record of the append queued to `to`, if it is the one
    /// identified by `term`, `prev` and `last` (to read its size and update
    /// it in place as the append grows).
    pub(crate) fn queued_append_mut(
        &mut self,
        to: u64,
        term: u64,
        prev: u64,
        last: u64,
    ) -> Option<&mut QueuedAppend> {
        self.queued_appends
            .get_mut(&to)
            .filter(|q| q.term == term && q.prev == prev && q.last == last)
    }

    /// Records the size of the append now queued to `to`.
    pub(crate) fn set_queued_append(&mut self, to: u64, q: QueuedAppend) {
        if let Some(slot) = self.queued_appends.get_mut(&to) {
            *slot = q;
        } else if self.progress.contains_key(&to) {
            self.queued_appends.insert(to, q);
        }
    }

    /// The membership as a `ConfState` (sorted lists).
    pub fn conf_state(&self) -> ConfState {
        ConfState {
            voters: self.voter_ids(),
            learners: self.learner_ids(),
            ..Default::default()
        }
    }

    /// Whether `id` votes.
    pub fn is_voter(&self, id: u64) -> bool {
        self.voters.contains(&id)
    }

    /// Whether `id` is a learner.
    pub fn is_learner(&self, id: u64) -> bool {
        self.learners.contains(&id)
    }

    /// Whether this node knows any membership at all (a node waiting to be
    /// added knows none).
    pub fn has_members(&self) -> bool {
        !self.progress.is_empty()
    }

    /// Whether `id` is a member at all.
    pub fn is_member(&self, id: u64) -> bool {
        self.progress.contains_key(&id)
    }

    /// Whether exactly one voter exists and it is `id`.
    pub fn is_singleton(&self, id: u64) -> bool {
        self.voters.len() == 1 && self.voters.contains(&id)
    }

    /// Adds `id` as a voter (promoting a learner, keeping its progress).
    pub fn add_voter(&mut self, id: u64, next_idx: u64) {
        self.learners.remove(&id);
        self.voters.insert(id);
        let cap = self.max_inflight;
        if let std::collections::btree_map::Entry::Vacant(v) = self.progress.entry(id) {
            v.insert(Progress::new(next_idx, cap));
            self.sync_ids();
        }
    }

    /// Adds `id` as a learner; a voter stays a voter (a demotion is not a
    /// single-step change this crate offers).
    pub fn add_learner(&mut self, id: u64, next_idx: u64) {
        if self.voters.contains(&id) {
            return;
        }
        self.learners.insert(id);
        let cap = self.max_inflight;
        if let std::collections::btree_map::Entry::Vacant(v) = self.progress.entry(id) {
            v.insert(Progress::new(next_idx, cap));
            self.sync_ids();
        }
    }

    /// Removes member `id` (no-op if absent).
    pub fn remove(&mut self, id: u64) {
        self.voters.remove(&id);
        self.learners.remove(&id);
        if self.progress.remove(&id).is_some() {
            self.sync_ids();
        }
        self.votes.remove(&id);
        self.queued_appends.remove(&id);
    }

    /// Forgets the votes of the last election.
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records `id`'s answer; the first answer from a node counts.
    pub fn record_vote(&mut self, id: u64, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// Granted and rejected votes so far, and the election's outcome.
    pub fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let granted = self
            .votes
            .iter()
            .filter(|(id, g)| **g && self.is_voter(**id))
            .count();
        let rejected = self
            .votes
            .iter()
            .filter(|(id, g)| !**g && self.is_voter(**id))
            .count();
        (
            granted,
            rejected,
            quorum::vote_result(&self.voters, &self.votes),
        )
    }

    /// The largest index stored on a majority of voters (0 without voters).
    pub fn committed(&self) -> u64 {
        let matched: Vec<u64> = self
            .voters
            .iter()
            .map(|id| self.progress.get(id).map_or(0, |p| p.matched))
            .collect();
        quorum::committed_index(&matched)
    }

    /// Whether a majority of voters (counting `self_id` as always active)
    /// was heard from since the last call; then clears every member's
    /// `recent_active` flag for the next round (check-quorum, thesis §6.2).
    pub fn quorum_recently_active(&mut self, self_id: u64) -> bool {
        let mut active = 0;
        for (&id, pr) in self.progress.iter_mut() {
            if id == self_id {
                pr.recent_active = true;
                if self.voters.contains(&id) {
                    active += 1;
                }
                continue;
            }
            if pr.recent_active && self.voters.contains(&id) {
                active += 1;
            }
            pr.recent_active = false;
            pr.active_by_grace = false;
        }
        !self.voters.is_empty() && active >= quorum::majority(self.voters.len())
    }

    /// Whether a majority of voters was actually heard from this round
    /// (without clearing anything): used by lease reads. Members marked
    /// active only because they were just added do not count.
    pub fn has_active_quorum(&self, self_id: u64) -> bool {
        let active = self
            .voters
            .iter()
            .filter(|id| {
                **id == self_id
                    || self
                        .progress
                        .get(id)
                        .is_some_and(|p| p.recent_active && !p.active_by_grace)
            })
            .count();
        !self.voters.is_empty() && active >= quorum::majority(self.voters.len())
    }

    /// Whether `ids` contains a majority of the voters.
    pub fn has_quorum(&self, ids: &BTreeSet<u64>) -> bool {
        let n = self.voters.iter().filter(|id| ids.contains(id)).count();
        !self.voters.is_empty() && n >= quorum::majority(self.voters.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(voters: &[u64], learners: &[u64]) -> ProgressTracker {
        let mut t = ProgressTracker::new(8);
        t.apply_conf_state(&(voters.to_vec(), learners.to_vec()).into(), 1);
        t
    }

    /// §5.3 commit counts voters only; learners never count toward a quorum.
    #[test]
    fn committed_counts_voters_not_learners() {
        let mut t = tracker(&[1, 2, 3], &[4, 5]);
        for (id, m) in [(1, 5), (2, 1), (3, 1), (4, 9), (5, 9)] {
            t.get_mut(id).unwrap().matched = m;
        }
        assert_eq!(t.committed(), 1);
        t.get_mut(2).unwrap().matched = 4;
        assert_eq!(t.committed(), 4);
        assert_eq!(tracker(&[], &[]).committed(), 0);
    }

    #[test]
    fn votes_first_answer_counts_and_learners_do_not_vote() {
        let mut t = tracker(&[1, 2, 3], &[4]);
        t.record_vote(1, true);
        t.record_vote(4, true);
        assert_eq!(t.tally_votes(), (1, 0, VoteResult::Pending));
        t.record_vote(2, false);
        t.record_vote(2, true);
        assert_eq!(t.tally_votes(), (1, 1, VoteResult::Pending));
        t.record_vote(3, true);
        assert_eq!(t.tally_votes().2, VoteResult::Won);
    }

    #[test]
    fn quorum_active_counts_self_and_resets_flags() {
        let mut t = tracker(&[1, 2, 3], &[4]);
        t.get_mut(4).unwrap().recent_active = true;
        assert!(!t.quorum_recently_active(1));
        t.get_mut(2).unwrap().recent_active = true;
        assert!(t.has_active_quorum(1));
        assert!(t.quorum_recently_active(1));
        assert!(!t.get(2).unwrap().recent_active);
        assert!(!t.quorum_recently_active(1));
    }

    /// Thesis §6.4.1 (issue 14, bug 3c): a member marked active only because
    /// it was just added has promised nothing, so it never counts toward a
    /// read lease; check-quorum still spares it for one round.
    ///
    /// Fails without: the `&& !p.active_by_grace` filter in
    /// `has_active_quorum` (the lease is granted with 1, 2 and 4-by-grace).
    #[test]
    fn lease_ignores_members_active_only_by_grace() {
        let mut t = tracker(&[1, 2, 3, 4], &[]);
        t.get_mut(2).unwrap().recent_active = true;
        let p4 = t.get_mut(4).unwrap();
        p4.recent_active = true;
        p4.active_by_grace = true;
        assert!(
            !t.has_active_quorum(1),
            "1, 2 and a just-added 4 is no lease"
        );
        t.get_mut(3).unwrap().recent_active = true;
        assert!(t.has_active_quorum(1), "1, 2 and 3 answered");
        assert!(t.quorum_recently_active(1), "check-quorum counts the grace");
        assert!(!t.get(4).unwrap().active_by_grace, "grace lasts one round");
    }

    /// Broadcasts walk the members in id order (Raft §5.3: every follower
    /// gets its append) by position, through membership changes.
    #[test]
    fn member_at_walks_members_in_order() {
        let walk = |t: &ProgressTracker| {
            let mut seen = vec![];
            while let Some(id) = t.member_at(seen.len()) {
                seen.push(id);
            }
            seen
        };
        let mut t = tracker(&[3, 1, 7], &[5]);
        assert_eq!(walk(&t), vec![1, 3, 5, 7]);
        assert_eq!(walk(&t), t.member_ids());
        t.add_learner(4, 1);
        t.add_voter(5, 1);
        t.remove(1);
        assert_eq!(walk(&t), vec![3, 4, 5, 7]);
        t.apply_conf_state(&(vec![2], vec![]).into(), 1);
        assert_eq!(walk(&t), vec![2]);
        assert_eq!(walk(&tracker(&[], &[])), Vec::<u64>::new());
    }

    /// A recorded append size answers only for the same message (term,
    /// prev, last) and is forgotten with the member.
    #[test]
    fn queued_append_size_is_keyed_by_message() {
        let mut t = tracker(&[1, 2], &[]);
        let q = QueuedAppend {
            term: 2,
            prev: 4,
            last: 9,
            size: 700,
        };
        t.set_queued_append(2, q);
        t.set_queued_append(9, q);
        let size = |t: &mut ProgressTracker, to, term, prev, last| {
            t.queued_append_mut(to, term, prev, last).map(|q| q.size)
        };
        assert_eq!(size(&mut t, 2, 2, 4, 9), Some(700));
        assert_eq!(size(&mut t, 2, 3, 4, 9), None);
        assert_eq!(size(&mut t, 2, 2, 4, 10), None);
        assert_eq!(size(&mut t, 9, 2, 4, 9), None, "not a member");
        t.set_queued_append(
            2,
            QueuedAppend {
                last: 10,
                size: 800,
                ..q
            },
        );
        assert_eq!(size(&mut t, 2, 2, 4, 10), Some(800));
        t.remove(2);
        assert_eq!(size(&mut t, 2, 2, 4, 10), None);
    }

    #[test]
    fn membership_changes_promote_and_remove() {
        let mut t = tracker(&[1], &[2]);
        t.get_mut(2).unwrap().matched = 7;
        t.add_voter(2, 1);
        assert_eq!(t.voter_ids(), vec![1, 2]);
        assert_eq!(t.get(2).unwrap().matched, 7, "promotion keeps progress");
        t.add_learner(2, 1);
        assert!(t.is_voter(2));
        t.remove(1);
        t.remove(9);
        assert_eq!(t.conf_state(), (vec![2], vec![]).into());
    }
}
