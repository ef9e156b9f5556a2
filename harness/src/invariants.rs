//! Raft's safety invariants, checked incrementally after every simulated
//! event. Each check looks only at what the event changed (a role, a hard
//! state, a written or applied entry), so the cost per event is small and a
//! campaign can afford to check everything all the time.
//!
//! The checks, by name (the name a [`Violation`] reports):
//! - `election_safety`: at most one leader per term, over the whole run.
//! - `log_matching`: an entry's (index, term) fixes its data and the term of
//!   its predecessor — inductively, two logs agreeing on (index, term) agree
//!   on every entry up to it.
//! - `leader_completeness`: a new leader holds every entry committed so far.
//! - `state_machine_safety`: no two nodes apply different entries at one
//!   index; each node applies in order with no gaps.
//! - `durability`: after every crash, restart and membership change, no
//!   quorum of the committed voter set lacks the committed prefix on disk.
//! - `monotonicity`: term, vote-within-term and commit never go backwards
//!   (in memory within a life; on disk across restarts).
//! - `commit_quorum`: a leader's commit index never exceeds what a quorum of
//!   its voters durably stores.
//! - `state_machine_digest`: every node's key/value state machine has the
//!   same digest at the same applied index — after applying, after
//!   installing a snapshot, and after a restart from its own snapshot.
//! - `committed_kept`: no node cuts or overwrites its durable copy of an
//!   entry it knows is committed (it may only compact it into a snapshot).
//!   Copies a node does not know are committed may be rewritten by a stale
//!   leader; the majority that committed them keeps them (see
//!   `durability`).
//! - `check_quorum`: see [`crate::quorum_watch`].
//! - `election_quorum`: a new leader holds its term's vote grants from a
//!   quorum of its configuration, both halves while joint (see
//!   [`crate::vote_watch`]).
//! - `durable_ack`: a node sends an append ack or a granted vote only once
//!   its disk holds what it promises (checked as the message is sent).
//! - `apply_once`: the core hands each committed entry out once, in order,
//!   however many Readies are outstanding.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use tinyraft::eraftpb::{Entry, HardState};

use crate::quorum_watch::QuorumWatch;
use crate::trace::{Fnv64, TraceEvent};
use crate::vote_watch::VoteWatch;

/// A broken invariant: which one, where in the run, and what led to it.
///
/// ```
/// use tinyraft_harness::{Cluster, SimConfig};
/// # fn demo(c: &Cluster) {
/// if let Err(v) = c.check_invariants() {
///     eprintln!("{v}"); // seed, event number, invariant, last events
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Violation {
    /// Seed of the run.
    pub seed: u64,
    /// Number of simulated events processed when the violation was seen.
    pub event: u64,
    /// Simulated time (ms) of the violation.
    pub time_ms: u64,
    /// Name of the invariant (see the module docs).
    pub invariant: String,
    /// What exactly was wrong.
    pub detail: String,
    /// The last trace events before the violation, oldest first.
    pub recent: Vec<TraceEvent>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invariant `{}` violated at event {} ({} ms simulated), seed {}: {}",
            self.invariant, self.event, self.time_ms, self.seed, self.detail
        )?;
        if !self.recent.is_empty() {
            writeln!(f, "last {} events:", self.recent.len())?;
            for e in &self.recent {
                writeln!(f, "  {e}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// A failed check: (invariant name, detail).
pub(crate) type Breach = (&'static str, String);

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.bytes(b);
    h.finish()
}

/// Incremental state of every invariant.
#[derive(Debug, Default)]
pub struct Checker {
    /// term → the node that led it.
    leaders: BTreeMap<u64, u64>,
    /// Hard state last seen in memory, per node (this life).
    mem: BTreeMap<u64, HardState>,
    /// Hard state last made durable, per node (whole run).
    durable: BTreeMap<u64, HardState>,
    /// (index, term) → (data hash, predecessor's term) for every entry any
    /// node ever wrote.
    entries: BTreeMap<(u64, u64), (u64, u64)>,
    /// The committed log as first applied anywhere: position i is index i+1.
    applied: Vec<(u64, Bytes)>,
    /// Per node: index of the last entry applied to its state machine in
    /// its current life.
    node_applied: BTreeMap<u64, u64>,
    /// Per node: highest index it ever applied (across lives), for
    /// `n_committed`.
    node_max_applied: BTreeMap<u64, u64>,
    /// The highest commit index any node has held.
    max_commit: u64,
    /// Term → the highest commit index any node held when some node first
    /// reached that term. Everything up to it was committed by leaders of
    /// earlier terms, which is what Leader Completeness speaks of.
    term_bounds: BTreeMap<u64, u64>,
    /// Applied index → digest of the state machine right after applying it
    /// (as first seen on any node).
    digests: BTreeMap<u64, u64>,
    /// The check-quorum watch.
    pub(crate) quorum: QuorumWatch,
    /// The election-quorum watch.
    pub(crate) votes: VoteWatch,
    /// Per node: the committed prefix its disk held after its last write,
    /// up to its own commit index (`committed_kept`).
    pub(crate) held: BTreeMap<u64, u64>,
}

impl Checker {
    /// A checker that has seen nothing.
    pub fn new() -> Checker {
        Checker::default()
    }

    /// The globally committed log length: the highest index any node applied.
    pub fn committed_len(&self) -> u64 {
        self.applied.len() as u64
    }

    /// The entry first applied at `index`: (term, data).
    pub fn committed_entry(&self, index: u64) -> Option<&(u64, Bytes)> {
        index
            .checked_sub(1)
            .and_then(|i| self.applied.get(i as usize))
    }

    /// Highest index `node` ever applied (across restarts).
    pub fn max_applied(&self, node: u64) -> u64 {
        self.node_max_applied.get(&node).copied().unwrap_or(0)
    }

    /// `node` is (or is not) leader at `term`.
    pub fn on_role(&mut self, node: u64, term: u64, is_leader: bool) -> Result<(), Breach> {
        if !is_leader {
            return Ok(());
        }
        match self.leaders.get(&term) {
            Some(&other) if other != node => Err((
                "election_safety",
                format!("nodes {other} and {node} both lead term {term}"),
            )),
            Some(_) => Ok(()),
            None => {
                self.leaders.insert(term, node);
                Ok(())
            }
        }
    }

    /// Whether `node` is already known as the leader of `term`.
    pub fn known_leader(&self, term: u64) -> Option<u64> {
        self.leaders.get(&term).copied()
    }

    fn monotonic(prev: &HardState, hs: &HardState, node: u64, what: &str) -> Result<(), Breach> {
        if hs.term < prev.term {
            return Err((
                "monotonicity",
                format!("node {node} {what} term went {} -> {}", prev.term, hs.term),
            ));
        }
        if hs.term == prev.term && prev.vote != 0 && hs.vote != prev.vote {
            return Err((
                "monotonicity",
                format!(
                    "node {node} {what} vote changed {} -> {} within term {}",
                    prev.vote, hs.vote, hs.term
                ),
            ));
        }
        if hs.commit < prev.commit {
            return Err((
                "monotonicity",
                format!(
                    "node {node} {what} commit went {} -> {}",
                    prev.commit, hs.commit
                ),
            ));
        }
        Ok(())
    }

    /// The in-memory hard state of a live node.
    pub fn on_hard_state(&mut self, node: u64, hs: &HardState) -> Result<(), Breach> {
        let newest = self.term_bounds.last_key_value().map_or(0, |(&t, _)| t);
        if hs.term > newest {
            self.term_bounds.insert(hs.term, self.max_commit);
        }
        self.max_commit = self.max_commit.max(hs.commit);
        if let Some(prev) = self.mem.get(&node) {
            if prev == hs {
                return Ok(());
            }
            Self::monotonic(prev, hs, node, "in-memory")?;
        }
        self.mem.insert(node, *hs);
        Ok(())
    }

    /// A hard state just became durable on `node`.
    pub fn on_durable_hard_state(&mut self, node: u64, hs: &HardState) -> Result<(), Breach> {
        if let Some(prev) = self.durable.get(&node) {
            Self::monotonic(prev, hs, node, "durable")?;
        }
        self.durable.insert(node, *hs);
        Ok(())
    }

    /// `node` crashed and came back: its in-memory state restarts from disk,
    /// its state machine from the snapshot at `snap_index`.
    pub fn on_restart(&mut self, node: u64, snap_index: u64) {
        self.mem.remove(&node);
        self.node_applied.insert(node, snap_index);
    }

    /// `node` durably wrote `entries`; `prev_term` is the term of the entry
    /// before the first one in its log (None if unknown, e.g. compacted).
    pub fn on_entries(
        &mut self,
        node: u64,
        entries: &[Entry],
        prev_term: Option<u64>,
    ) -> Result<(), Breach> {
        let mut prev = prev_term;
        for e in entries {
            let h = hash_bytes(&e.data);
            match self.entries.get(&(e.index, e.term)) {
                Some(&(oh, op)) => {
                    if oh != h {
                        return Err((
                            "log_matching",
                            format!(
                                "node {node} wrote entry {}/{} with data that differs from another copy",
                                e.term, e.index
                            ),
                        ));
                    }
                    if let Some(p) = prev {
                        if p != op {
                            return Err((
                                "log_matching",
                                format!(
                                    "node {node} holds entry {}/{} after an entry of term {p}, another log after term {op}",
                                    e.term, e.index
                                ),
                            ));
                        }
                    }
                }
                None => {
                    if let Some(p) = prev {
                        self.entries.insert((e.index, e.term), (h, p));
                    }
                }
            }
            prev = Some(e.term);
        }
        Ok(())
    }

    /// `node` just became leader of `term` with log end `last_index`;
    /// `term_at(i)` reads its log (None when compacted away).
    ///
    /// Leader Completeness (Raft §5.4) promises the leader every entry
    /// committed in an *earlier* term. A leader can win a term late (its
    /// vote answers were delayed) after a later term's leader committed
    /// more, so only the prefix committed before any node reached `term` is
    /// required of it.
    pub fn on_new_leader(
        &self,
        node: u64,
        term: u64,
        last_index: u64,
        term_at: impl Fn(u64) -> Option<u64>,
    ) -> Result<(), Breach> {
        let before_term = self
            .term_bounds
            .range(term..)
            .next()
            .map_or(self.max_commit, |(_, &b)| b);
        let g = self.committed_len().min(before_term);
        if g == 0 {
            return Ok(());
        }
        if last_index < g {
            return Err((
                "leader_completeness",
                format!(
                    "node {node} leads term {term} with last index {last_index}, but {g} was committed before"
                ),
            ));
        }
        let want = self.applied[(g - 1) as usize].0;
        match term_at(g) {
            Some(t) if t != want => Err((
                "leader_completeness",
                format!(
                    "node {node} leads term {term} holding term {t} at committed index {g} (committed term {want})"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `node` applied the committed entry (index, term, data).
    pub fn on_apply(
        &mut self,
        node: u64,
        index: u64,
        term: u64,
        data: &Bytes,
    ) -> Result<(), Breach> {
        let last = self.node_applied.get(&node).copied().unwrap_or(0);
        if index != last + 1 {
            return Err((
                "state_machine_safety",
                format!(
                    "node {node} applied index {index} right after {last} (out of order or a gap)"
                ),
            ));
        }
        self.node_applied.insert(node, index);
        let m = self.node_max_applied.entry(node).or_insert(0);
        *m = (*m).max(index);
        let len = self.applied.len() as u64;
        if index <= len {
            let (t, d) = &self.applied[(index - 1) as usize];
            if *t != term || d != data {
                return Err((
                    "state_machine_safety",
                    format!(
                        "node {node} applied {term}/{index}, but another node applied {t}/{index} with other data"
                    ),
                ));
            }
        } else if index == len + 1 {
            self.applied.push((term, data.clone()));
        } else {
            return Err((
                "state_machine_safety",
                format!(
                    "node {node} applied index {index} while nothing is known applied past {len}"
                ),
            ));
        }
        Ok(())
    }

    /// `node` replaced its state machine with a snapshot at `index`.
    pub fn on_snapshot_installed(&mut self, node: u64, index: u64) -> Result<(), Breach> {
        if index > self.committed_len() {
            return Err((
                "state_machine_safety",
                format!(
                    "node {node} installed a snapshot at {index}, past the committed log ({})",
                    self.committed_len()
                ),
            ));
        }
        self.node_applied.insert(node, index);
        let m = self.node_max_applied.entry(node).or_insert(0);
        *m = (*m).max(index);
        Ok(())
    }
}

impl Checker {
    /// `node`'s state machine has digest `digest` at applied index `index`;
    /// `how` says when it was taken (apply, snapshot install, restart).
    pub fn on_digest(
        &mut self,
        node: u64,
        index: u64,
        digest: u64,
        how: &str,
    ) -> Result<(), Breach> {
        match self.digests.get(&index) {
            Some(&d) if d != digest => Err((
                "state_machine_digest",
                format!(
                    "node {node}'s state machine at applied index {index} ({how}) has digest \
                     {digest:#018x}, another node's had {d:#018x}"
                ),
            )),
            Some(_) => Ok(()),
            None => {
                self.digests.insert(index, digest);
                Ok(())
            }
        }
    }

    /// The highest committed index `term_at` (a node's durable log) holds
    /// with its committed term: the committed prefix that node stores (by
    /// log matching, a matching entry implies the whole prefix). `last` is
    /// the log's last index; `snap` its snapshot index.
    pub fn committed_prefix_held(
        &self,
        last: u64,
        snap: u64,
        term_at: impl Fn(u64) -> Option<u64>,
    ) -> u64 {
        let g = self.committed_len().min(last);
        if g <= snap {
            return g.min(snap);
        }
        match self.committed_entry(g) {
            Some((t, _)) if term_at(g) == Some(*t) => g,
            _ => snap.min(self.committed_len()),
        }
    }

    /// After a durable write on `node`: it held the committed prefix up to
    /// `held` before, and must still hold it (in its log or under its
    /// snapshot). `term_at` reads the log after the write.
    pub fn on_durable_write(
        &self,
        node: u64,
        held: u64,
        snap: u64,
        term_at: impl Fn(u64) -> Option<u64>,
    ) -> Result<(), Breach> {
        if held == 0 || held <= snap {
            return Ok(());
        }
        let Some((t, _)) = self.committed_entry(held) else {
            return Ok(());
        };
        match term_at(held) {
            Some(x) if x == *t => Ok(()),
            got => Err((
                "committed_kept",
                format!(
                    "node {node} durably held committed entry {t}/{held}; after a write its log \
                     has {} there (snapshot at {snap})",
                    got.map_or("nothing".to_string(), |x| format!("term {x}"))
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(index: u64, term: u64, data: &'static [u8]) -> Entry {
        Entry {
            index,
            term,
            data: Bytes::from_static(data),
            ..Default::default()
        }
    }

    /// Raft §5.2 election safety: a second leader in one term is caught.
    #[test]
    fn election_safety_catches_two_leaders_in_a_term() {
        let mut c = Checker::new();
        c.on_role(1, 3, true).unwrap();
        c.on_role(1, 3, true).unwrap();
        c.on_role(2, 4, true).unwrap();
        assert_eq!(c.on_role(2, 3, true).unwrap_err().0, "election_safety");
    }

    fn hs(term: u64, vote: u64, commit: u64) -> HardState {
        HardState { term, vote, commit }
    }

    /// Raft §5.3 log matching: same (index, term), different data or
    /// different predecessor.
    #[test]
    fn log_matching_catches_divergent_copies() {
        let mut c = Checker::new();
        c.on_entries(1, &[ent(1, 1, b"a"), ent(2, 1, b"b")], Some(0))
            .unwrap();
        c.on_entries(2, &[ent(1, 1, b"a"), ent(2, 1, b"b")], Some(0))
            .unwrap();
        assert_eq!(
            c.on_entries(3, &[ent(2, 1, b"X")], Some(1)).unwrap_err().0,
            "log_matching"
        );
        assert_eq!(
            c.on_entries(3, &[ent(2, 1, b"b")], Some(7)).unwrap_err().0,
            "log_matching"
        );
    }

    /// Raft §5.4.3 leader completeness: a leader missing a committed entry.
    #[test]
    fn leader_completeness_catches_a_short_or_divergent_leader() {
        let mut c = Checker::new();
        c.on_hard_state(1, &hs(2, 1, 2)).unwrap();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        c.on_apply(1, 2, 2, &Bytes::from_static(b"b")).unwrap();
        assert_eq!(
            c.on_new_leader(3, 3, 1, |_| Some(1)).unwrap_err().0,
            "leader_completeness"
        );
        assert_eq!(
            c.on_new_leader(3, 3, 2, |_| Some(1)).unwrap_err().0,
            "leader_completeness"
        );
        c.on_new_leader(2, 3, 2, |_| Some(2)).unwrap();
    }

    /// Leader Completeness speaks of entries committed in earlier terms: a
    /// candidate of term 4 whose delayed vote answers arrive after a term-5
    /// leader committed more wins legitimately without those entries (seed
    /// 9915, pre-vote off, was flagged by the old check).
    #[test]
    fn leader_completeness_allows_a_late_winner_of_an_earlier_term() {
        let mut c = Checker::new();
        c.on_hard_state(1, &hs(4, 0, 1)).unwrap();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        c.on_hard_state(3, &hs(5, 3, 2)).unwrap();
        c.on_apply(3, 1, 1, &Bytes::from_static(b"a")).unwrap();
        c.on_apply(3, 2, 5, &Bytes::from_static(b"b")).unwrap();
        // Node 2 wins term 4 holding only entry 1.
        c.on_new_leader(2, 4, 1, |i| (i == 1).then_some(1)).unwrap();
        // A leader of term 6 must hold entry 2.
        c.on_hard_state(3, &hs(6, 3, 2)).unwrap();
        assert_eq!(
            c.on_new_leader(2, 6, 1, |i| (i == 1).then_some(1))
                .unwrap_err()
                .0,
            "leader_completeness"
        );
    }

    /// Raft §5.4.3 state machine safety: different data at one index, and a gap.
    #[test]
    fn state_machine_safety_catches_disagreement_and_gaps() {
        let mut c = Checker::new();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        assert_eq!(
            c.on_apply(2, 1, 1, &Bytes::from_static(b"z"))
                .unwrap_err()
                .0,
            "state_machine_safety"
        );
        let mut c = Checker::new();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        assert_eq!(
            c.on_apply(1, 3, 1, &Bytes::from_static(b"c"))
                .unwrap_err()
                .0,
            "state_machine_safety"
        );
        // After a restart from snapshot 0, re-applying the same entry is fine.
        let mut c = Checker::new();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        c.on_restart(1, 0);
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        assert_eq!(c.max_applied(1), 1);
    }

    /// Monotonicity: term, vote within a term and commit never go back.
    #[test]
    fn monotonicity_catches_regressions() {
        let mut c = Checker::new();
        c.on_hard_state(1, &hs(2, 1, 5)).unwrap();
        assert_eq!(
            c.on_hard_state(1, &hs(1, 1, 5)).unwrap_err().0,
            "monotonicity"
        );
        assert_eq!(
            c.on_hard_state(1, &hs(2, 3, 5)).unwrap_err().0,
            "monotonicity"
        );
        assert_eq!(
            c.on_hard_state(1, &hs(2, 1, 4)).unwrap_err().0,
            "monotonicity"
        );
        c.on_durable_hard_state(1, &hs(2, 1, 5)).unwrap();
        c.on_restart(1, 0);
        // In memory restarts from disk; on disk nothing may go back.
        c.on_hard_state(1, &hs(2, 1, 3)).unwrap();
        assert_eq!(
            c.on_durable_hard_state(1, &hs(2, 1, 3)).unwrap_err().0,
            "monotonicity"
        );
    }

    /// A snapshot beyond anything committed is a state-machine violation.
    #[test]
    fn snapshot_past_commit_is_caught() {
        let mut c = Checker::new();
        assert_eq!(
            c.on_snapshot_installed(1, 5).unwrap_err().0,
            "state_machine_safety"
        );
    }

    /// State machine digests: two nodes at one applied index must agree
    /// (a snapshot image or a double apply that diverges is caught).
    #[test]
    fn state_machine_digest_catches_diverging_state_machines() {
        let mut c = Checker::new();
        c.on_digest(1, 5, 0xaa, "apply").unwrap();
        c.on_digest(2, 5, 0xaa, "apply").unwrap();
        c.on_digest(3, 6, 0xbb, "snapshot install").unwrap();
        assert_eq!(
            c.on_digest(2, 5, 0xab, "restart").unwrap_err().0,
            "state_machine_digest"
        );
    }

    /// Committed entries stay on disk: a node that held committed entry 2
    /// and then truncated or overwrote it is caught; compaction under a
    /// snapshot is fine.
    #[test]
    fn committed_kept_catches_a_cut_or_overwritten_committed_entry() {
        let mut c = Checker::new();
        c.on_apply(1, 1, 1, &Bytes::from_static(b"a")).unwrap();
        c.on_apply(1, 2, 1, &Bytes::from_static(b"b")).unwrap();
        let log = |i: u64| (i <= 3).then_some(1);
        let held = c.committed_prefix_held(3, 0, log);
        assert_eq!(held, 2);
        // Overwritten with another term.
        let over = |i: u64| match i {
            1 => Some(1),
            2 => Some(2),
            _ => None,
        };
        assert_eq!(
            c.on_durable_write(2, held, 0, over).unwrap_err().0,
            "committed_kept"
        );
        // Cut: the log now ends at 1.
        let cut = |i: u64| (i == 1).then_some(1);
        assert_eq!(
            c.on_durable_write(2, held, 0, cut).unwrap_err().0,
            "committed_kept"
        );
        // Compacted into a snapshot at 2: kept.
        c.on_durable_write(2, held, 2, |_| None).unwrap();
        // A node holding another term at 2 holds only the prefix below.
        assert_eq!(c.committed_prefix_held(2, 1, over), 1);
    }
}
