//! What a leader knows about one follower's log (Raft §5.3's nextIndex and
//! matchIndex), plus the flow-control state that paces appends to it.

use super::inflights::Inflights;

/// How the leader currently sends appends to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProgressState {
    /// The leader does not know where the follower's log matches: one append
    /// in flight at a time until a response arrives (or a heartbeat response
    /// shows the follower alive).
    #[default]
    Probe,
    /// The follower's log matches up to `matched`: appends are pipelined
    /// optimistically, at most `max_inflight_msgs` at once.
    Replicate,
    /// A snapshot is on its way; appends pause until it is reported done.
    Snapshot,
}

/// The leader's view of one member.
///
/// ```
/// use tinyraft::{Progress, ProgressState};
/// let mut p = Progress::new(6, 4);
/// assert_eq!(p.state, ProgressState::Probe);
/// assert!(p.maybe_update(5));
/// p.become_replicate();
/// assert_eq!(p.next_idx, 6);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Highest index known to be replicated on the member.
    pub matched: u64,
    /// Index of the next entry to send.
    pub next_idx: u64,
    /// Flow-control state.
    pub state: ProgressState,
    /// Whether the member was heard from since the last check-quorum round.
    pub recent_active: bool,
    /// `recent_active` was granted, not earned: the member was added this
    /// round and has had no chance to answer. It spares check-quorum a
    /// spurious step-down, but never counts toward a read lease (thesis
    /// §6.4.1: only members that actually heard from the leader promise not
    /// to elect another).
    pub active_by_grace: bool,
    /// In probe state: an append is in flight, so wait.
    pub probe_sent: bool,
    /// In snapshot state: the index of the snapshot being sent.
    pub pending_snapshot: u64,
    /// The appends in flight in replicate state.
    pub ins: Inflights,
    /// In snapshot state: a whole election timeout passed without a report,
    /// so the next one gives up waiting (the message may be lost).
    pub snapshot_stale: bool,
}

impl Progress {
    /// A member about to be probed from `next_idx`, with a window of `ins_size`.
    pub fn new(next_idx: u64, ins_size: usize) -> Progress {
        Progress {
            matched: 0,
            next_idx,
            state: ProgressState::Probe,
            recent_active: false,
            active_by_grace: false,
            probe_sent: false,
            pending_snapshot: 0,
            ins: Inflights::new(ins_size),
            snapshot_stale: false,
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.snapshot_stale = false;
        self.state = state;
        self.ins.reset();
    }

    /// Back to probing: from snapshot state, probing starts after the
    /// snapshot (it may have been applied); otherwise after `matched`.
    pub fn become_probe(&mut self) {
        let from_snapshot = self.pending_snapshot;
        let was_snapshot = self.state == ProgressState::Snapshot;
        self.reset_state(ProgressState::Probe);
        self.next_idx = if was_snapshot {
            self.matched.max(from_snapshot).saturating_add(1)
        } else {
            self.matched.saturating_add(1)
        };
    }

    /// The logs are known to match up to `matched`: pipeline from there.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_idx = self.matched.saturating_add(1);
    }

    /// A snapshot at `snap_idx` is being sent: pause appends.
    pub fn become_snapshot(&mut self, snap_idx: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snap_idx;
    }

    /// The member acknowledged `n`. Returns whether `matched` moved (stale
    /// acknowledgements never move it back).
    pub fn maybe_update(&mut self, n: u64) -> bool {
        let updated = self.matched < n;
        if updated {
            self.matched = n;
            self.probe_sent = false;
        }
        if self.next_idx <= n {
            self.next_idx = n.saturating_add(1);
        }
        updated
    }

    /// An append ending at `last` was sent in replicate state: move
    /// `next_idx` past it without waiting for the answer.
    pub fn optimistic_update(&mut self, last: u64) {
        self.next_idx = last.saturating_add(1);
    }

    /// The member rejected an append whose preceding index was `rejected`,
    /// hinting that its log may match up to `match_hint`. Returns false if the
    /// rejection is stale (answers an append the leader has moved past).
    pub fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            // A rejection at or below matched answers an old append.
            if rejected <= self.matched {
                return false;
            }
            self.next_idx = self.matched.saturating_add(1);
            return true;
        }
        // Probe/snapshot: only the answer to the last probe counts.
        if self.next_idx == 0 || self.next_idx - 1 != rejected {
            return false;
        }
        self.next_idx = rejected
            .min(match_hint.saturating_add(1))
            .max(self.matched.saturating_add(1))
            .max(1);
        self.probe_sent = false;
        true
    }

    /// Whether the leader must not send an append now.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.ins.full(),
            ProgressState::Snapshot => true,
        }
    }

    /// Marks a probe as sent (probe state waits for its answer).
    pub fn pause(&mut self) {
        self.probe_sent = true;
    }

    /// Allows the next probe.
    pub fn resume(&mut self) {
        self.probe_sent = false;
    }

    /// Sending the snapshot failed: forget it, so probing resends one.
    pub fn snapshot_failure(&mut self) {
        self.pending_snapshot = 0;
    }

    /// A snapshot in flight is superseded once the member matches past it.
    pub fn is_snapshot_caught_up(&self) -> bool {
        self.state == ProgressState::Snapshot && self.matched >= self.pending_snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// etcd/raft-rs flow control: probe sends one append then pauses.
    #[test]
    fn probe_pauses_after_one_append_and_resumes_on_answer() {
        let mut p = Progress::new(5, 10);
        assert!(!p.is_paused());
        p.pause();
        assert!(p.is_paused());
        // A rejection of the probe (prev index 4) moves next back and resumes.
        assert!(p.maybe_decr_to(4, 2));
        assert_eq!(p.next_idx, 3);
        assert!(!p.is_paused());
        // A stale rejection (prev index 4 again) is ignored.
        assert!(!p.maybe_decr_to(4, 1));
        assert_eq!(p.next_idx, 3);
        p.pause();
        assert!(p.maybe_update(4));
        assert!(!p.is_paused());
        assert_eq!((p.matched, p.next_idx), (4, 5));
    }

    #[test]
    fn replicate_pipelines_until_window_full_and_rejects_reset_to_match() {
        let mut p = Progress::new(1, 2);
        p.maybe_update(3);
        p.become_replicate();
        assert_eq!(p.next_idx, 4);
        p.optimistic_update(6);
        p.ins.add(6);
        p.optimistic_update(8);
        p.ins.add(8);
        assert!(p.is_paused());
        p.ins.free_to(6);
        assert!(!p.is_paused());
        // Stale reject (at or below matched) ignored; a real one resets next.
        assert!(!p.maybe_decr_to(3, 0));
        assert!(p.maybe_decr_to(7, 0));
        assert_eq!(p.next_idx, 4);
    }

    #[test]
    fn maybe_update_never_moves_backwards() {
        let mut p = Progress::new(10, 4);
        assert!(p.maybe_update(9));
        assert!(!p.maybe_update(5));
        assert_eq!((p.matched, p.next_idx), (9, 10));
        assert!(!p.maybe_update(u64::MAX - 1) || p.next_idx == u64::MAX);
    }

    #[test]
    fn snapshot_pauses_and_probe_resumes_after_snapshot() {
        let mut p = Progress::new(3, 4);
        p.become_snapshot(10);
        assert!(p.is_paused());
        assert!(!p.is_snapshot_caught_up());
        p.maybe_update(10);
        assert!(p.is_snapshot_caught_up());
        p.become_probe();
        assert_eq!(p.next_idx, 11);
        let mut q = Progress::new(3, 4);
        q.become_snapshot(10);
        q.snapshot_failure();
        q.become_probe();
        assert_eq!(q.next_idx, 1);
    }
}
