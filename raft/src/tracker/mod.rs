//! The leader's bookkeeping of every member: progress, votes and liveness.

mod inflights;
mod progress;

pub use inflights::Inflights;
pub use progress::{Progress, ProgressState};

use std::collections::{BTreeMap, BTreeSet};

use tinyraft_proto::eraftpb::ConfState;

use crate::confchange::Membership;
use crate::quorum::{JointConfig, VoteResult};

/// Progress of every member (voters of either half, learners, this node
/// included), the votes of the current election, and the membership itself,
/// joint or not (thesis §4.3).
///
/// Every quorum decision (commit, vote, check-quorum, ReadIndex, lease)
/// goes through a [`JointConfig`]: outside a joint configuration it is a
/// single majority of the voters; while joint it needs a majority of the
/// incoming *and* of the outgoing voters.
///
/// ```
/// use tinyraft::ProgressTracker;
/// let mut t = ProgressTracker::new(256);
/// t.apply_conf_state(&(vec![1, 2, 3], vec![4]).into(), 1);
/// assert_eq!(t.voter_ids(), vec![1, 2, 3]);
/// assert_eq!(t.learner_ids(), vec![4]);
/// assert!(t.get(4).is_some());
///
/// // Joint: replacing 3 by 5, the voters are the union of both halves.
/// let mut cs = tinyraft::eraftpb::ConfState::from((vec![1, 2, 5], vec![]));
/// cs.voters_outgoing = vec![1, 2, 3];
/// t.apply_conf_state(&cs, 1);
/// assert!(t.is_joint());
/// assert_eq!(t.voter_ids(), vec![1, 2, 3, 5]);
/// ```
#[derive(Clone, Debug)]
pub struct ProgressTracker {
    progress: BTreeMap<u64, Progress>,
    /// The keys of `progress`, sorted: broadcasts walk them by position.
    ids: Vec<u64>,
    conf: Membership,
    /// Both voter halves, kept in step with `conf` for the quorum math.
    quorum: JointConfig,
    /// Configurations that conf changes in this node's log past its applied
    /// index will produce, in log order (set while campaigning and on a new
    /// leader, see [`set_pending`](Self::set_pending)): every quorum
    /// decision also needs each of them.
    pending: Vec<JointConfig>,
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
            conf: Membership::default(),
            quorum: JointConfig::default(),
            pending: Vec::new(),
            votes: BTreeMap::new(),
            max_inflight,
            queued_appends: BTreeMap::new(),
        }
    }

    /// Replaces the membership with `cs` (joint fields included, repaired
    /// as [`Membership::repaired_from`] does); every member gets a fresh
    /// progress probing from `next_idx`.
    pub fn apply_conf_state(&mut self, cs: &ConfState, next_idx: u64) {
        self.progress.clear();
        self.votes.clear();
        self.queued_appends.clear();
        self.pending.clear();
        self.set_membership(Membership::repaired_from(cs), next_idx);
    }

    /// Moves to configuration `conf`: members new to it get a progress
    /// probing from `next_idx`, members it no longer names are dropped
    /// (so a voter removed through the joint state keeps its progress until
    /// the leave applies), everyone else keeps theirs (a promoted learner
    /// keeps its progress). Returns the ids that were added. `conf` is taken
    /// as it is: changes come checked from [`Membership::apply_committed`],
    /// and a conf state from storage or a snapshot is repaired by
    /// [`Membership::repaired_from`], never trusted to panic on.
    pub(crate) fn set_membership(&mut self, conf: Membership, next_idx: u64) -> Vec<u64> {
        self.quorum = conf.joint_config();
        self.conf = conf;
        self.sync_members(next_idx)
    }

    /// Sets the configurations the conf changes in the log past the applied
    /// index will produce (thesis §4.1/§4.3 read with apply-time
    /// configurations): a node that has such changes in its log but has not
    /// applied them cannot tell whether they are committed, and the newest
    /// of them may already be in force elsewhere. So while campaigning it
    /// needs votes from a quorum of each, and as a new leader it commits
    /// only what a quorum of each holds; their voters get a progress (new
    /// ones probing from `next_idx`). Returns the ids that were added.
    pub(crate) fn set_pending(&mut self, pending: Vec<JointConfig>, next_idx: u64) -> Vec<u64> {
        if pending.is_empty() && self.pending.is_empty() {
            // The common case (every role change resets it): nothing to do.
            return Vec::new();
        }
        self.pending = pending;
        self.sync_members(next_idx)
    }

    /// The configurations the conf changes in the unapplied log produce, as
    /// set while campaigning or on a new leader (empty otherwise).
    pub fn pending_configs(&self) -> &[JointConfig] {
        &self.pending
    }

    /// Every configuration a quorum decision must satisfy: the applied one,
    /// then the pending ones.
    fn quorums(&self) -> impl Iterator<Item = &JointConfig> {
        std::iter::once(&self.quorum).chain(&self.pending)
    }

    /// Voters of the applied and of the pending configurations: whom a
    /// candidate asks for votes.
    pub(crate) fn campaign_voter_ids(&self) -> Vec<u64> {
        let mut ids = self.quorum.ids();
        for p in &self.pending {
            ids.extend(p.ids());
        }
        ids.into_iter().collect()
    }

    /// Keeps a progress for exactly the members of the configuration and
    /// the voters of the pending ones; returns the ids added.
    fn sync_members(&mut self, next_idx: u64) -> Vec<u64> {
        let conf = &self.conf;
        let mut members: BTreeSet<u64> = conf
            .voters
            .iter()
            .chain(&conf.voters_outgoing)
            .chain(&conf.learners)
            .chain(&conf.learners_next)
            .copied()
            .collect();
        for p in &self.pending {
            members.extend(p.ids());
        }
        self.progress.retain(|id, _| members.contains(id));
        self.votes.retain(|id, _| members.contains(id));
        self.queued_appends.retain(|id, _| members.contains(id));
        let mut added = Vec::new();
        for &id in &members {
            if !self.progress.contains_key(&id) {
                self.progress
                    .insert(id, Progress::new(next_idx, self.max_inflight));
                added.push(id);
            }
        }
        self.sync_ids();
        added
    }

    /// The membership, as sets.
    pub fn membership(&self) -> &Membership {
        &self.conf
    }

    /// The voters of both halves, for quorum decisions.
    pub fn joint_config(&self) -> &JointConfig {
        &self.quorum
    }

    /// Whether the configuration is joint (thesis §4.3).
    pub fn is_joint(&self) -> bool {
        self.conf.is_joint()
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

    /// Voter ids of either half (the union while joint), sorted.
    pub fn voter_ids(&self) -> Vec<u64> {
        self.quorum.ids().into_iter().collect()
    }

    /// Learner ids, sorted (not counting `learners_next`, which still vote
    /// in the outgoing half until the joint state is left).
    pub fn learner_ids(&self) -> Vec<u64> {
        self.conf.learners.iter().copied().collect()
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

    /// The membership as a `ConfState` (sorted lists, joint fields
    /// included).
    pub fn conf_state(&self) -> ConfState {
        self.conf.to_conf_state()
    }

    /// Whether `id` votes, in either half.
    pub fn is_voter(&self, id: u64) -> bool {
        self.quorum.contains(id)
    }

    /// Whether `id` is a learner (not counting `learners_next`).
    pub fn is_learner(&self, id: u64) -> bool {
        self.conf.learners.contains(&id)
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

    /// Whether `id` is the only voter of both halves.
    pub fn is_singleton(&self, id: u64) -> bool {
        self.pending.is_empty()
            && self.quorum.incoming.len() == 1
            && self.quorum.incoming.contains(&id)
            && self.quorum.outgoing.iter().all(|&o| o == id)
    }

    /// Forgets the votes of the last election.
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records `id`'s answer; the first answer from a node counts.
    pub fn record_vote(&mut self, id: u64, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// Granted and rejected votes so far (voters of either half), and the
    /// election's outcome: won only with a majority of each half.
    pub fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let count = |want: bool| {
            self.votes
                .iter()
                .filter(|(id, g)| **g == want && self.is_voter(**id))
                .count()
        };
        let mut result = VoteResult::Won;
        for q in self.quorums() {
            match q.vote_result(&self.votes) {
                VoteResult::Lost => return (count(true), count(false), VoteResult::Lost),
                VoteResult::Pending => result = VoteResult::Pending,
                VoteResult::Won => {}
            }
        }
        (count(true), count(false), result)
    }

    /// The largest index stored on a majority of each half (0 without
    /// voters).
    pub fn committed(&self) -> u64 {
        let progress = &self.progress;
        self.quorums()
            .map(|q| q.committed_index(|id| progress.get(&id).map_or(0, |p| p.matched)))
            .min()
            .unwrap_or(0)
    }

    /// Whether a quorum (a majority of each half, counting `self_id` as
    /// always active) was heard from since the last call; then clears every
    /// member's `recent_active` flag for the next round (check-quorum,
    /// thesis §6.2).
    pub fn quorum_recently_active(&mut self, self_id: u64) -> bool {
        let mut active = BTreeSet::new();
        for (&id, pr) in self.progress.iter_mut() {
            if id == self_id {
                pr.recent_active = true;
                active.insert(id);
                continue;
            }
            if pr.recent_active {
                active.insert(id);
            }
            pr.recent_active = false;
            pr.active_by_grace = false;
        }
        self.has_quorum(&active)
    }

    /// Whether a quorum was actually heard from this round (without
    /// clearing anything): used by lease reads. Members marked active only
    /// because they were just added do not count.
    pub fn has_active_quorum(&self, self_id: u64) -> bool {
        let active: BTreeSet<u64> = self
            .progress
            .iter()
            .filter(|(id, p)| **id == self_id || (p.recent_active && !p.active_by_grace))
            .map(|(id, _)| *id)
            .collect();
        self.has_quorum(&active)
    }

    /// Whether `ids` contains a majority of each voter half, of the
    /// applied and of every pending configuration.
    pub fn has_quorum(&self, ids: &BTreeSet<u64>) -> bool {
        self.quorums().all(|q| q.has_quorum(ids))
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
        t.set_membership(membership(&[3, 5, 7], &[4], &[]), 1);
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
        t.set_membership(membership(&[1], &[], &[]), 1);
        assert_eq!(size(&mut t, 2, 2, 4, 10), None);
    }

    fn membership(voters: &[u64], learners: &[u64], outgoing: &[u64]) -> Membership {
        let mut cs = ConfState::from((voters.to_vec(), learners.to_vec()));
        cs.voters_outgoing = outgoing.to_vec();
        cs.auto_leave = !outgoing.is_empty();
        Membership::from_conf_state(&cs)
    }

    /// TinyKV 3A: promoting a learner keeps its progress; a removed member's
    /// progress goes.
    #[test]
    fn membership_changes_promote_and_remove() {
        let mut t = tracker(&[1], &[2]);
        t.get_mut(2).unwrap().matched = 7;
        let added = t.set_membership(membership(&[1, 2], &[], &[]), 1);
        assert!(added.is_empty());
        assert_eq!(t.voter_ids(), vec![1, 2]);
        assert_eq!(t.get(2).unwrap().matched, 7, "promotion keeps progress");
        t.set_membership(membership(&[2], &[], &[]), 1);
        assert!(t.get(1).is_none());
        assert_eq!(t.conf_state(), (vec![2], vec![]).into());
    }

    /// Thesis §4.3: while joint, a voter removed from the incoming half
    /// still votes and keeps its progress in the outgoing half; it goes only
    /// when the joint state is left.
    #[test]
    fn joint_keeps_outgoing_voters_until_leave_4_3() {
        let mut t = tracker(&[1, 2, 3], &[]);
        t.get_mut(3).unwrap().matched = 9;
        let added = t.set_membership(membership(&[1, 2, 4], &[], &[1, 2, 3]), 5);
        assert_eq!(added, vec![4]);
        assert!(t.is_joint());
        assert!(t.is_voter(3) && t.is_voter(4));
        assert_eq!(t.get(3).unwrap().matched, 9);
        assert_eq!(t.conf_state().voters_outgoing, vec![1, 2, 3]);
        t.set_membership(membership(&[1, 2, 4], &[], &[]), 5);
        assert!(!t.is_joint());
        assert!(t.get(3).is_none() && !t.is_voter(3));
    }

    /// Thesis §4.3: commit, votes and quorums need a majority of each half.
    #[test]
    fn joint_decisions_need_both_majorities_4_3() {
        let mut t = tracker(&[1, 2, 3], &[]);
        t.set_membership(membership(&[1, 4, 5], &[], &[1, 2, 3]), 1);
        for (id, m) in [(1, 9), (2, 9), (3, 9), (4, 2), (5, 1)] {
            t.get_mut(id).unwrap().matched = m;
        }
        assert_eq!(t.committed(), 2, "the new half holds only 2 on a majority");
        t.record_vote(1, true);
        t.record_vote(2, true);
        t.record_vote(3, true);
        assert_eq!(t.tally_votes(), (3, 0, VoteResult::Pending));
        t.record_vote(4, true);
        assert_eq!(t.tally_votes().2, VoteResult::Won);
        assert!(!t.has_quorum(&[1, 2, 3].into()));
        assert!(t.has_quorum(&[1, 2, 4].into()));
        assert!(!t.is_singleton(1));
    }

    /// A `ConfState` read from storage is normalised: a voter also listed as
    /// learner is a voter; a learner that is an outgoing voter is being
    /// demoted (`learners_next`).
    #[test]
    fn apply_conf_state_normalises_roles() {
        let mut cs = ConfState::from((vec![1, 2], vec![2, 3]));
        cs.voters_outgoing = vec![1, 2, 3];
        cs.auto_leave = true;
        let mut t = ProgressTracker::new(8);
        t.apply_conf_state(&cs, 1);
        let got = t.conf_state();
        assert_eq!(got.voters, vec![1, 2]);
        assert!(got.learners.is_empty());
        assert_eq!(got.learners_next, vec![3]);
        assert!(got.auto_leave);
        assert_eq!(t.learner_ids(), Vec::<u64>::new());
        assert!(t.is_voter(3));
    }
}
