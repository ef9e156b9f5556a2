//! [`RaftLog`]: the log as the consensus core sees it, the durable entries
//! in a [`Storage`] followed by the unstable ones not yet persisted.

use std::fmt;

use slog::{Logger, debug, error, info, warn};
use tinyraft_proto::eraftpb::{Entry, Snapshot};

use crate::storage::{MAX_LOG_INDEX, Result, Storage, StorageError, entry_size};
use crate::unstable::Unstable;

/// The Raft log of one node: the entries its [`Storage`] holds durably,
/// followed by an *unstable* segment (entries accepted but not yet persisted,
/// and possibly a snapshot received from a leader and not yet persisted).
///
/// Three cursors track progress through it, always `applied <= committed`
/// and `committed <= last_index()`:
///
/// - [`committed`](Self::committed): the highest index known committed;
/// - [`applied`](Self::applied): the highest index the application applied;
/// - [`stabled`](Self::stabled): the highest index known durable.
///
/// The methods never panic on any argument: bad requests return an error
/// (or, where the signature has no room for one, are refused, logged and
/// leave the log unchanged, as each method documents).
///
/// The engine's cycle: persist [`unstable_snapshot`](Self::unstable_snapshot)
/// (if any) and then [`unstable_entries`](Self::unstable_entries) into the
/// storage, then acknowledge with [`stable_snap_to`](Self::stable_snap_to) and
/// [`stable_to`](Self::stable_to). The log keeps acknowledged data in memory
/// until the storage shows it, so its view never has a hole even if an
/// acknowledgement runs ahead of what the storage reflects.
///
/// ```
/// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
/// use slog::{Discard, Logger, o};
/// use tinyraft::RaftLog;
/// use tinyraft::storage::MemStorage;
/// use tinyraft::eraftpb::Entry;
///
/// let store = MemStorage::new_with_conf_state((vec![1], vec![]));
/// let mut log = RaftLog::new(store.clone(), Logger::root(Discard, o!()));
/// let e = |index, term| Entry { index, term, ..Default::default() };
///
/// // A follower accepts entries 1..=2 from a leader whose commit is 1.
/// assert_eq!(log.maybe_append(0, 0, 1, &[e(1, 1), e(2, 1)]), Some((1, 2)));
/// assert_eq!(log.committed, 1);
/// // Nothing is durable yet, so nothing can be applied.
/// assert_eq!(log.unstable_entries().len(), 2);
/// assert_eq!(log.next_entries(), None);
///
/// // The engine persists the unstable entries, then acknowledges them.
/// store.wl().append(log.unstable_entries()).unwrap();
/// log.stable_to(2, 1);
/// assert_eq!(log.next_entries(), Some(vec![e(1, 1)]));
/// log.applied_to(1).unwrap();
/// assert!(!log.has_next_entries());
/// ```
pub struct RaftLog<S: Storage> {
    store: S,
    unstable: Unstable,
    /// The highest index known to be committed (stored on a quorum).
    /// Never moves backwards.
    pub committed: u64,
    /// The highest index the application has applied to its state machine.
    pub applied: u64,
    /// The highest index known to be durable in the [`Storage`]; entries
    /// after it are in [`unstable_entries`](Self::unstable_entries).
    pub stabled: u64,
    /// The lowest index this log has replaced (a truncating append) while
    /// the storage might hold the replaced version: from there on, the
    /// storage is trusted to show our entries only where every term agrees
    /// (see `release_persisted`). `None` while the log never replaced
    /// anything.
    rewritten_from: Option<u64>,
    logger: Logger,
}

impl<S: Storage> RaftLog<S> {
    /// A log over `store`, as a node (re)starts: `committed` is the stored
    /// hard state's commit index, `applied` is the snapshot index
    /// (`first_index() - 1`; the core raises it to its configured applied
    /// index), `stabled` is the storage's last index, nothing is unstable.
    ///
    /// # Panics
    ///
    /// If the storage cannot report its first index, last index or initial
    /// state: a log cannot start without knowing them. Use
    /// [`try_new`](Self::try_new) to get the error instead.
    pub fn new(store: S, logger: Logger) -> RaftLog<S> {
        match Self::try_new(store, logger) {
            Ok(log) => log,
            Err(e) => panic!(
                "RaftLog::new: the storage must report its first index, last index and \
                 initial state at startup, but failed: {e}"
            ),
        }
    }

    /// Like [`new`](Self::new), but a storage failure is returned, not a
    /// panic.
    ///
    /// A stored commit index beyond the stored log is lowered to the last
    /// index (logged): the commit index is volatile state in Raft, so
    /// lowering it is safe, while claiming entries the node lacks is not. A
    /// commit index below the snapshot is raised to it (a snapshot holds only
    /// committed entries).
    pub fn try_new(store: S, logger: Logger) -> Result<RaftLog<S>> {
        let first = store.first_index()?;
        let last = store.last_index()?;
        let hs = store.initial_state()?.hard_state;
        let snapshot_index = first.saturating_sub(1);
        let mut committed = hs.commit;
        if committed > last {
            warn!(logger, "stored commit index is beyond the stored log; lowering it";
                "commit" => committed, "last_index" => last);
            committed = last;
        }
        committed = committed.max(snapshot_index);
        Ok(RaftLog {
            store,
            unstable: Unstable::new(last.saturating_add(1)),
            committed,
            applied: snapshot_index,
            stabled: last,
            rewritten_from: None,
            logger,
        })
    }

    /// The storage this log reads durable entries from.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Mutable access to the storage.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The index of the first entry in the log: one past a snapshot received
    /// by [`restore`](Self::restore) that the storage does not show yet, else
    /// the storage's first index.
    ///
    /// If the storage fails to answer, the failure is logged and the answer
    /// is the first unstable index (the log then shows only its unstable
    /// part).
    pub fn first_index(&self) -> u64 {
        if let Some((si, _)) = self.snapshot_base() {
            return si.saturating_add(1);
        }
        match self.store.first_index() {
            Ok(i) => i,
            Err(e) => {
                error!(self.logger, "storage failed to report its first index"; "err" => %e);
                self.unstable.offset
            }
        }
    }

    /// The index of the last entry in the log (a restored snapshot's index
    /// if there are no entries after it).
    ///
    /// If the storage fails to answer, the failure is logged and the answer
    /// is the index just before the entries held in memory.
    pub fn last_index(&self) -> u64 {
        if let Some(e) = self.unstable.entries.last() {
            return e.index;
        }
        if let Some((si, _)) = self.snapshot_base() {
            return si;
        }
        match self.store.last_index() {
            Ok(i) => i,
            Err(e) => {
                error!(self.logger, "storage failed to report its last index"; "err" => %e);
                self.unstable.offset.saturating_sub(1)
            }
        }
    }

    /// The term of the last entry; 0 (logged) if the storage fails to answer.
    pub fn last_term(&self) -> u64 {
        let last = self.last_index();
        match self.term(last) {
            Ok(t) => t,
            Err(e) => {
                error!(self.logger, "failed to read the last term"; "index" => last, "err" => %e);
                0
            }
        }
    }

    /// The index and term of the last entry.
    pub fn last_index_term(&self) -> (u64, u64) {
        (self.last_index(), self.last_term())
    }

    /// The term of the entry at `idx`, including the dummy entry just before
    /// [`first_index`](Self::first_index) (a snapshot's or compaction's
    /// last index). `Compacted` below it, `Unavailable` beyond the last entry.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use slog::{Discard, Logger, o};
    /// use tinyraft::{RaftLog, StorageError};
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::eraftpb::Entry;
    ///
    /// let store = MemStorage::new();
    /// let ents: Vec<Entry> =
    ///     (1..=5).map(|i| Entry { index: i, term: i, ..Default::default() }).collect();
    /// store.wl().append(&ents).unwrap();
    /// store.wl().compact(3).unwrap(); // entries 1 and 2 are gone
    /// let log = RaftLog::new(store, Logger::root(Discard, o!()));
    /// assert_eq!(log.term(1), Err(StorageError::Compacted));
    /// assert_eq!(log.term(2), Ok(2)); // the dummy entry still answers
    /// assert_eq!(log.term(5), Ok(5));
    /// assert_eq!(log.term(6), Err(StorageError::Unavailable));
    /// ```
    pub fn term(&self, idx: u64) -> Result<u64> {
        let dummy = self.first_index().saturating_sub(1);
        if idx < dummy {
            return Err(StorageError::Compacted);
        }
        if idx > self.last_index() {
            return Err(StorageError::Unavailable);
        }
        match self.unstable.maybe_term(idx) {
            Some(t) => Ok(t),
            None => self.store.term(idx),
        }
    }

    /// Whether the entry at `idx` exists and has term `term`.
    pub fn match_term(&self, idx: u64, term: u64) -> bool {
        self.term(idx).is_ok_and(|t| t == term)
    }

    /// Whether a log ending at (`last_index`, `term`) is at least as
    /// up-to-date as this one (Raft §5.4.1: the later last term wins; with
    /// equal terms, the longer log). A voter grants its vote only to such a
    /// candidate.
    pub fn is_up_to_date(&self, last_index: u64, term: u64) -> bool {
        let my_term = self.last_term();
        term > my_term || (term == my_term && last_index >= self.last_index())
    }

    /// Entries in `[low, high)` from storage and the unstable segment, cut
    /// to at most `max_size` bytes of encoded entries but at least one entry
    /// (so `Some(0)` still yields one). `None` means no limit.
    ///
    /// `Compacted` if `low < first_index()`, `Unavailable` if `high >
    /// last_index() + 1`, `Other` if `low > high`; an empty range gives an
    /// empty `Vec`.
    pub fn slice(&self, low: u64, high: u64, max_size: Option<u64>) -> Result<Vec<Entry>> {
        if low > high {
            return Err(StorageError::Other(format!(
                "invalid slice: low {low} > high {high}"
            )));
        }
        if low < self.first_index() {
            return Err(StorageError::Compacted);
        }
        if high > self.last_index().saturating_add(1) {
            return Err(StorageError::Unavailable);
        }
        if low == high {
            return Ok(Vec::new());
        }
        let offset = self.unstable.offset;
        // With no unstable entries and no pending snapshot the storage
        // answers for the whole log.
        let storage_only = self.unstable.entries.is_empty() && self.snapshot_base().is_none();
        let stored_high = if storage_only { high } else { high.min(offset) };
        let mut ents = Vec::new();
        if low < stored_high {
            ents = self.store.entries(low, stored_high, max_size)?;
            let wanted = stored_high - low;
            let well_formed =
                ents.first().is_some_and(|e| e.index == low) && ents.len() as u64 <= wanted;
            if !well_formed {
                return Err(StorageError::Other(format!(
                    "storage returned {} entries for [{low}, {stored_high})",
                    ents.len()
                )));
            }
            if (ents.len() as u64) < wanted {
                // The size limit cut the stored part short.
                return Ok(ents);
            }
        }
        if high > stored_high {
            let unstable = self.unstable.slice(low.max(offset), high);
            match max_size {
                None => ents.extend_from_slice(unstable),
                Some(max) => {
                    // Measure first, then copy what fits in one go.
                    let mut size: u64 = ents.iter().map(entry_size).sum();
                    let mut keep = 0;
                    for e in unstable {
                        size = size.saturating_add(entry_size(e));
                        if (keep > 0 || !ents.is_empty()) && size > max {
                            break;
                        }
                        keep += 1;
                    }
                    ents.extend_from_slice(&unstable[..keep]);
                }
            }
        }
        Ok(ents)
    }

    /// Entries from `idx` to the end of the log, at most `max_size` bytes but
    /// at least one entry. Empty when `idx == last_index() + 1`;
    /// `Compacted` below the first index, `Unavailable` beyond one past the
    /// last.
    pub fn entries(&self, idx: u64, max_size: Option<u64>) -> Result<Vec<Entry>> {
        let end = self.last_index().saturating_add(1);
        if idx > end {
            return Err(StorageError::Unavailable);
        }
        self.slice(idx, end, max_size)
    }

    /// Every entry in the log, stored and unstable (for tests and
    /// debugging). Empty, with the failure logged, if the storage fails.
    pub fn all_entries(&self) -> Vec<Entry> {
        match self.entries(self.first_index(), None) {
            Ok(ents) => ents,
            Err(e) => {
                error!(self.logger, "failed to read the whole log"; "err" => %e);
                Vec::new()
            }
        }
    }

    /// The entries not yet known durable: those after
    /// [`stabled`](Self::stabled). The engine persists them (with any
    /// [`unstable_snapshot`](Self::unstable_snapshot) first), then calls
    /// [`stable_to`](Self::stable_to).
    ///
    /// Reads no storage, so it may be called while holding the storage's
    /// lock. If the engine compacted entries it wrote but had not yet
    /// acknowledged, the first few may already lie below the storage's first
    /// index; [`MemStorageCore::append`](crate::storage::MemStorageCore::append)
    /// drops such entries.
    pub fn unstable_entries(&self) -> &[Entry] {
        // No storage access here: engines write these while holding their
        // storage's write lock (`store.wl().append(log.unstable_entries())`).
        self.unstable
            .slice(self.stabled.saturating_add(1), u64::MAX)
    }

    /// A snapshot received from a leader (by [`restore`](Self::restore))
    /// that is not yet persisted.
    pub fn unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable
            .snapshot
            .as_ref()
            .filter(|_| !self.unstable.snapshot_acked)
    }

    /// The snapshot to send a follower: the one received by
    /// [`restore`](Self::restore) while the storage does not show it yet,
    /// else the storage's (`SnapshotTemporarilyUnavailable` if the storage has none
    /// covering `request_index` yet).
    pub fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        match (&self.unstable.snapshot, self.snapshot_base()) {
            (Some(s), Some(_)) => Ok(s.clone()),
            _ => self.store.snapshot(request_index, to),
        }
    }

    /// The range `[lo, hi)` of entries ready to apply, if not empty.
    fn next_range(&self) -> Option<(u64, u64)> {
        let lo = self.applied.saturating_add(1).max(self.first_index());
        let ready = self.committed.min(self.stabled).min(self.last_index());
        let hi = ready.saturating_add(1);
        (hi > lo).then_some((lo, hi))
    }

    /// The entries ready to apply: `(applied, min(committed, stabled)]`,
    /// committed and durable here but not yet applied. `None` if there are
    /// none (or, logged, if the storage fails to produce them).
    pub fn next_entries(&self) -> Option<Vec<Entry>> {
        self.next_entries_limited(None)
    }

    /// Like [`next_entries`](Self::next_entries), at most `max_size` bytes
    /// of entries (but at least one), so a big backlog is applied in
    /// batches.
    pub fn next_entries_limited(&self, max_size: Option<u64>) -> Option<Vec<Entry>> {
        let (lo, hi) = self.next_range()?;
        match self.slice(lo, hi, max_size) {
            Ok(ents) if !ents.is_empty() => Some(ents),
            Ok(_) => None,
            Err(e) => {
                error!(self.logger, "failed to read committed entries";
                    "low" => lo, "high" => hi, "err" => %e);
                None
            }
        }
    }

    /// Whether [`next_entries`](Self::next_entries) would return something.
    pub fn has_next_entries(&self) -> bool {
        self.next_range().is_some()
    }

    /// Appends `ents` (contiguous) to the log, replacing every entry from
    /// `ents[0].index` on, and returns the new last index.
    ///
    /// If the first new index is at or below [`stabled`](Self::stabled),
    /// `stabled` drops to just before it: the replaced durable entries are
    /// no longer this log's. The append is refused, logged at error level,
    /// and the current last index returned unchanged if the entries are not
    /// contiguous, start beyond `last_index() + 1` (a gap), start at or
    /// below [`committed`](Self::committed) (committed entries are never
    /// rewritten) or below a pending snapshot, or go beyond
    /// [`MAX_LOG_INDEX`](crate::storage::MAX_LOG_INDEX).
    pub fn append(&mut self, ents: &[Entry]) -> u64 {
        self.append_owned(ents.to_vec())
    }

    /// [`append`](Self::append), taking the entries by value: they move
    /// into the log instead of being cloned (a leader's fresh proposals).
    ///
    /// ```
    /// use slog::{Discard, Logger, o};
    /// use tinyraft_log::RaftLog;
    /// use tinyraft_log::storage::MemStorage;
    /// use tinyraft_proto::eraftpb::Entry;
    ///
    /// let mut log = RaftLog::new(MemStorage::new(), Logger::root(Discard, o!()));
    /// let e = |index| Entry { index, term: 1, data: "x".into(), ..Default::default() };
    /// assert_eq!(log.append_owned(vec![e(1), e(2)]), 2);
    /// assert_eq!(log.append_owned(vec![e(4)]), 2, "a gap is refused");
    /// assert_eq!(log.unstable_entries(), &[e(1), e(2)]);
    /// ```
    pub fn append_owned(&mut self, ents: Vec<Entry>) -> u64 {
        match self.check_append(&ents) {
            Ok(()) => self.unstable.truncate_and_append(ents),
            Err(reason) => {
                error!(self.logger, "refusing to append entries"; "reason" => reason,
                    "committed" => self.committed, "last_index" => self.last_index());
            }
        }
        self.last_index()
    }

    /// [`append_owned`](Self::append_owned) of a single entry, without a
    /// vector around it (a leader's proposal): same checks, same answer.
    ///
    /// ```
    /// use slog::{Discard, Logger, o};
    /// use tinyraft_log::RaftLog;
    /// use tinyraft_log::storage::MemStorage;
    /// use tinyraft_proto::eraftpb::Entry;
    ///
    /// let mut log = RaftLog::new(MemStorage::new(), Logger::root(Discard, o!()));
    /// let e = |index| Entry { index, term: 1, data: "x".into(), ..Default::default() };
    /// assert_eq!(log.append_entry(e(1)), 1);
    /// assert_eq!(log.append_entry(e(3)), 1, "a gap is refused");
    /// assert_eq!(log.unstable_entries(), &[e(1)]);
    /// ```
    pub fn append_entry(&mut self, e: Entry) -> u64 {
        match self.check_append(std::slice::from_ref(&e)) {
            Ok(()) => self.unstable.truncate_and_push(e),
            Err(reason) => {
                error!(self.logger, "refusing to append an entry"; "reason" => reason,
                    "committed" => self.committed, "last_index" => self.last_index());
            }
        }
        self.last_index()
    }

    /// Checks `ents` for [`append`](Self::append) and moves `stabled` and
    /// the unstable offset as appending them requires; the caller then puts
    /// them into the unstable segment.
    fn check_append(&mut self, ents: &[Entry]) -> std::result::Result<(), String> {
        let (Some(first), Some(last)) = (ents.first(), ents.last()) else {
            return Ok(());
        };
        for w in ents.windows(2) {
            if w[0].index.checked_add(1) != Some(w[1].index) {
                return Err(format!(
                    "not contiguous: {} followed by {}",
                    w[0].index, w[1].index
                ));
            }
        }
        let after = first.index;
        if last.index > MAX_LOG_INDEX {
            return Err(format!(
                "index {} exceeds the largest log index",
                last.index
            ));
        }
        if after <= self.committed {
            return Err(format!(
                "first index {after} would overwrite committed entries"
            ));
        }
        if let Some(si) = self.unstable.snapshot_index() {
            if after <= si {
                return Err(format!(
                    "first index {after} is under the pending snapshot {si}"
                ));
            }
        }
        if after < self.first_index() {
            return Err(format!("first index {after} is below the first index"));
        }
        let last_index = self.last_index();
        if after > last_index.saturating_add(1) {
            return Err(format!(
                "first index {after} leaves a gap after {last_index}"
            ));
        }
        if self.unstable.entries.is_empty() && after > self.unstable.offset {
            // The storage already holds entries up to `after - 1` (an
            // engine wrote them directly): they are durable.
            self.unstable.offset = after;
            self.stabled = self.stabled.max(after - 1);
        }
        if after <= self.stabled {
            self.stabled = after - 1;
        }
        if after <= last_index {
            // Entries from `after` on are replaced; the engine may have
            // written (or may still write) the old ones.
            self.rewritten_from = Some(self.rewritten_from.map_or(after, |r| r.min(after)));
        }
        Ok(())
    }

    /// The index of the first entry of `ents` that is not in the log with
    /// the same term (either it conflicts with an existing entry, or it is
    /// new), or 0 if every entry is already present. `ents` must be
    /// contiguous.
    ///
    /// Raft §5.3: an existing entry with the same index and term is the same
    /// entry (Log Matching), so only the suffix from the first mismatch needs
    /// writing.
    pub fn find_conflict(&self, ents: &[Entry]) -> u64 {
        for e in ents {
            if !self.match_term(e.index, e.term) {
                if e.index <= self.last_index() {
                    info!(self.logger, "found a conflicting entry";
                        "index" => e.index, "term" => e.term,
                        "existing_term" => self.term(e.index).unwrap_or(0));
                }
                return e.index;
            }
        }
        0
    }

    /// The largest index `<= index` whose term is `<= term`, with that term:
    /// where a leader with a log of `term` at `index` may find agreement
    /// with this log (etcd's `findConflictByTerm`), for a rejection hint that
    /// skips a whole term of mismatches at once.
    ///
    /// An `index` beyond the log is clamped to the last index. If a term
    /// cannot be read (compacted away), that index is returned with term 0:
    /// it may still match.
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut i = index.min(self.last_index());
        loop {
            match self.term(i) {
                Ok(t) if t <= term => return (i, t),
                Ok(_) if i > 0 => i -= 1,
                Ok(_) => return (0, 0),
                Err(_) => return (i, 0),
            }
        }
    }

    /// Handles a leader's append (Raft §5.3): if this log has an entry at
    /// `idx` with term `term`, writes `ents` (which must follow `idx`
    /// contiguously) from their first conflict on, commits up to
    /// `min(committed, last new index)` and returns `Some((conflict index or
    /// 0, last new index))`. Returns `None`, changing nothing, if the log
    /// does not match at `idx`.
    ///
    /// Also `None`, logged at error level and changing nothing, for a
    /// message no correct leader sends: entries not contiguous from `idx +
    /// 1`, or a conflict at or below [`committed`](Self::committed) (it
    /// would rewrite committed history; Raft's Leader Completeness says a
    /// legitimate leader holds every committed entry).
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use slog::{Discard, Logger, o};
    /// use tinyraft::RaftLog;
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::eraftpb::Entry;
    /// let e = |index, term| Entry { index, term, ..Default::default() };
    ///
    /// let mut log = RaftLog::new(MemStorage::new(), Logger::root(Discard, o!()));
    /// log.append(&[e(1, 1), e(2, 1), e(3, 1)]);
    /// // A new leader of term 2 overwrites the uncommitted entry 3.
    /// assert_eq!(log.maybe_append(2, 1, 2, &[e(3, 2), e(4, 2)]), Some((3, 4)));
    /// assert_eq!(log.term(3), Ok(2));
    /// assert_eq!(log.committed, 2);
    /// // No entry at index 9: rejected.
    /// assert_eq!(log.maybe_append(9, 2, 9, &[]), None);
    /// ```
    pub fn maybe_append(
        &mut self,
        idx: u64,
        term: u64,
        committed: u64,
        ents: &[Entry],
    ) -> Option<(u64, u64)> {
        self.maybe_append_owned(idx, term, committed, ents.to_vec())
    }

    /// [`maybe_append`](Self::maybe_append), taking the entries by value:
    /// a follower moves a leader's entries out of its `MsgAppend` into the
    /// log instead of cloning them (same rules, same answers).
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use slog::{Discard, Logger, o};
    /// use tinyraft::RaftLog;
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::eraftpb::Entry;
    /// let e = |index, term| Entry { index, term, ..Default::default() };
    ///
    /// let mut log = RaftLog::new(MemStorage::new(), Logger::root(Discard, o!()));
    /// assert_eq!(log.maybe_append_owned(0, 0, 1, vec![e(1, 1), e(2, 1)]), Some((1, 2)));
    /// // Entries 1..=2 are already there: only 3 is new.
    /// assert_eq!(log.maybe_append_owned(0, 0, 1, vec![e(1, 1), e(2, 1), e(3, 1)]), Some((3, 3)));
    /// assert_eq!(log.unstable_entries(), &[e(1, 1), e(2, 1), e(3, 1)]);
    /// assert_eq!(log.maybe_append_owned(7, 1, 7, vec![]), None, "no entry at 7");
    /// ```
    pub fn maybe_append_owned(
        &mut self,
        idx: u64,
        term: u64,
        committed: u64,
        mut ents: Vec<Entry>,
    ) -> Option<(u64, u64)> {
        let (conflict, last_new) = self.plan_append(idx, term, &ents)?;
        if conflict != 0 {
            let start = (conflict - idx - 1) as usize;
            ents.drain(..start);
            if let Err(reason) = self.check_append(&ents) {
                error!(self.logger, "rejecting an append"; "reason" => reason);
                return None;
            }
            self.unstable.truncate_and_append(ents);
        }
        self.commit_after_append(committed, last_new);
        Some((conflict, last_new))
    }

    /// The checks of [`maybe_append`](Self::maybe_append) before anything
    /// changes: `Some((conflict index or 0, last new index))` if the log
    /// matches at `idx` and the append is well formed and rewrites nothing
    /// committed; `None` (logged where no correct leader would send it)
    /// otherwise.
    fn plan_append(&self, idx: u64, term: u64, ents: &[Entry]) -> Option<(u64, u64)> {
        if !self.match_term(idx, term) {
            return None;
        }
        let mut expected = idx;
        for e in ents {
            expected = match expected.checked_add(1) {
                Some(n) if n == e.index => n,
                _ => {
                    error!(self.logger, "rejecting an append whose entries do not follow its index";
                        "index" => idx, "entry_index" => e.index);
                    return None;
                }
            };
        }
        let conflict = self.find_conflict(ents);
        if conflict != 0 && conflict <= self.committed {
            error!(self.logger, "rejecting an append that would rewrite committed entries";
                "conflict" => conflict, "committed" => self.committed);
            return None;
        }
        Some((conflict, expected))
    }

    /// A follower's commit after an accepted append: up to the leader's
    /// commit, but never past the last entry the append vouched for.
    fn commit_after_append(&mut self, committed: u64, last_new: u64) {
        if let Err(e) = self.commit_to(committed.min(last_new)) {
            error!(self.logger, "failed to commit after an append"; "err" => %e);
        }
    }

    /// Raises [`committed`](Self::committed) to `idx`. Never lowers it (a
    /// smaller `idx` is a no-op); `Unavailable` if `idx > last_index()`: a
    /// node cannot know an entry it lacks is committed.
    pub fn commit_to(&mut self, idx: u64) -> Result<()> {
        if idx <= self.committed {
            return Ok(());
        }
        let last = self.last_index();
        if idx > last {
            warn!(self.logger, "refusing to commit beyond the last index";
                "to_commit" => idx, "last_index" => last);
            return Err(StorageError::Unavailable);
        }
        self.committed = idx;
        Ok(())
    }

    /// Commits up to `max_index` if it is beyond `committed` and its entry
    /// has term `term`. A leader calls it with the quorum's match index and
    /// its own term: Raft §5.4.2 lets it count replicas only for entries of
    /// its current term. Returns whether `committed` moved.
    pub fn maybe_commit(&mut self, max_index: u64, term: u64) -> bool {
        if max_index > self.committed && self.match_term(max_index, term) {
            return self.commit_to(max_index).is_ok();
        }
        false
    }

    /// Records that the application applied every entry up to `idx`.
    /// `Other` (nothing changes) if `idx > committed` (only committed
    /// entries may be applied) or `idx < applied` (applying is never
    /// undone).
    pub fn applied_to(&mut self, idx: u64) -> Result<()> {
        if idx > self.committed {
            return Err(StorageError::Other(format!(
                "applied index {idx} beyond committed {}",
                self.committed
            )));
        }
        if idx < self.applied {
            return Err(StorageError::Other(format!(
                "applied index {idx} below applied {}",
                self.applied
            )));
        }
        self.applied = idx;
        Ok(())
    }

    /// The engine made the entries up to `idx` durable, the one at `idx`
    /// having term `term`: [`stabled`](Self::stabled) becomes `idx` and they
    /// leave [`unstable_entries`](Self::unstable_entries).
    ///
    /// Ignored (logged at debug level) if the log no longer has `term` at
    /// `idx`: the acknowledgement is stale, the entry was replaced after the
    /// engine started writing it, and the replacement is not durable yet.
    /// An acknowledgement of entries after a pending snapshot also makes
    /// the snapshot durable (the engine persists a snapshot before the
    /// entries that follow it); one naming the pending snapshot's own index
    /// and term is [`stable_snap_to`](Self::stable_snap_to).
    ///
    /// The log keeps serving acknowledged entries from memory until the
    /// storage shows them (same index and term), so an engine that
    /// acknowledges before its [`Storage`] reflects the write (or a test
    /// that never writes) never makes entries vanish from the log.
    pub fn stable_to(&mut self, idx: u64, term: u64) {
        if let Some((si, st)) = self.pending_snapshot_index_term() {
            if si == idx && st == term {
                self.stable_snap_to(idx);
                return;
            }
        }
        let known = idx >= self.unstable.offset && self.unstable.maybe_term(idx) == Some(term);
        if known && idx > self.stabled {
            if self.pending_snapshot_index_term().is_some() {
                // Entries after the snapshot are durable only on top of it.
                self.unstable.snapshot_acked = true;
            }
            self.stabled = idx;
        } else {
            debug!(self.logger, "ignoring a stale or repeated stable_to";
                "index" => idx, "term" => term, "stabled" => self.stabled);
        }
        self.release_persisted();
    }

    /// The pending snapshot at `index` is durable: it is no longer
    /// [`unstable_snapshot`](Self::unstable_snapshot) and
    /// [`stabled`](Self::stabled) becomes at least `index`. Ignored (logged
    /// at debug level) if no snapshot at `index` is pending.
    pub fn stable_snap_to(&mut self, index: u64) {
        match self.pending_snapshot_index_term() {
            Some((si, _)) if si == index => {
                self.unstable.snapshot_acked = true;
                self.stabled = self.stabled.max(index);
            }
            _ => {
                debug!(self.logger, "ignoring stable_snap_to without a pending snapshot there";
                    "index" => index);
            }
        }
        self.release_persisted();
    }

    /// The index and term of the snapshot not yet acknowledged, if any.
    fn pending_snapshot_index_term(&self) -> Option<(u64, u64)> {
        if self.unstable.snapshot_acked {
            return None;
        }
        self.unstable.snapshot_index_term()
    }

    /// The index and term of the snapshot received by `restore` while it is
    /// the base of the log: until the storage shows it (whether or not the
    /// engine acknowledged it yet).
    fn snapshot_base(&self) -> Option<(u64, u64)> {
        let (si, st) = self.unstable.snapshot_index_term()?;
        (!self.storage_shows_snapshot(si, st)).then_some((si, st))
    }

    /// Whether the storage has applied the snapshot at (`si`, `st`): its
    /// first index is past it (and its dummy entry is the snapshot's). A
    /// storage still holding the log the snapshot replaces cannot be past
    /// it, because that log was compacted at most up to the applied index,
    /// which was below the snapshot when it arrived.
    fn storage_shows_snapshot(&self, si: u64, st: u64) -> bool {
        match self.store.first_index() {
            Ok(f) if f > si.saturating_add(1) => true,
            Ok(f) if f == si.saturating_add(1) => self.store.term(si) == Ok(st),
            _ => false,
        }
    }

    /// Drops from memory the acknowledged snapshot and entries the storage
    /// now shows, so the view moves to the storage without changing.
    fn release_persisted(&mut self) {
        if self.unstable.snapshot_acked {
            if let Some((si, st)) = self.unstable.snapshot_index_term() {
                if self.storage_shows_snapshot(si, st) {
                    self.unstable.snapshot = None;
                    self.unstable.snapshot_acked = false;
                }
            }
        }
        if self.unstable.snapshot.is_some() {
            // Entries after a snapshot the storage has not applied yet: the
            // storage may still show the old log's entries at these indexes,
            // and applying the snapshot will erase them.
            return;
        }
        let Some(last) = self.unstable.entries.last().map(|e| e.index) else {
            return;
        };
        let upto = self.stabled.min(last);
        if upto < self.unstable.offset {
            return;
        }
        let Ok(store_first) = self.store.first_index() else {
            return;
        };
        let lo = self.unstable.offset.max(store_first);
        // The storage compacted beyond `upto`: it holds them in a snapshot.
        // Otherwise it shows them if it has our entries at both ends of
        // `[lo, upto]`: the storage only ever holds versions of this node's
        // log, so by Log Matching (§5.3) an entry of the same index and term
        // means the same entries up to it. Only terms are read: copying the
        // range back out just to compare it cost a copy of every entry.
        let same_term = |i: u64| {
            let mine = self.unstable.maybe_term(i);
            mine.is_some() && self.store.term(i).ok() == mine
        };
        // Log Matching needs logs built by Raft's rules; a log fed
        // otherwise (terms going down after a truncation) may agree at
        // both ends of a stale stored range and differ inside it. So where
        // this log replaced entries, every term of the range is compared.
        let rewritten = self.rewritten_from.filter(|&r| r <= upto);
        let shown = lo > upto
            || (same_term(upto)
                && same_term(lo)
                && rewritten.is_none_or(|r| (r.max(lo)..upto).all(same_term)));
        if shown {
            let mut upto = upto;
            if upto == last && self.store.last_index() != Ok(last) {
                // The storage still holds entries past the log's end (the
                // tail of a log this one truncated, not yet overwritten):
                // keep the last entry so the log's end stays its own.
                upto = upto.saturating_sub(1);
            }
            self.unstable.drop_through(upto);
        }
    }

    /// Replaces the log with `snapshot`, received from a leader: the
    /// snapshot becomes pending ([`unstable_snapshot`](Self::unstable_snapshot))
    /// until [`stable_snap_to`](Self::stable_snap_to), the log becomes empty
    /// after it, and `committed` is its index.
    ///
    /// `applied` is left to the application (the core moves it to the
    /// snapshot's index when the `Ready` carrying the snapshot is
    /// advanced). `stabled` drops to the snapshot's index if it was beyond
    /// it (the entries after it are no longer this log's) and otherwise
    /// stays until the snapshot is persisted.
    ///
    /// Errors, changing nothing: `Other` for a snapshot without metadata or
    /// with an index beyond [`MAX_LOG_INDEX`](crate::storage::MAX_LOG_INDEX);
    /// `SnapshotOutOfDate` if its index is not beyond `committed` (the log
    /// already has everything it holds).
    pub fn restore(&mut self, snapshot: Snapshot) -> Result<()> {
        let Some(meta) = snapshot.metadata.as_ref() else {
            return Err(StorageError::Other("snapshot has no metadata".to_string()));
        };
        let (index, term) = (meta.index, meta.term);
        if index > MAX_LOG_INDEX {
            return Err(StorageError::Other(format!(
                "snapshot index {index} exceeds the largest log index {MAX_LOG_INDEX}"
            )));
        }
        if index <= self.committed {
            return Err(StorageError::SnapshotOutOfDate);
        }
        info!(self.logger, "restoring log from snapshot"; "index" => index, "term" => term,
            "committed" => self.committed);
        self.committed = index;
        self.stabled = self.stabled.min(index);
        self.unstable.restore(snapshot);
        Ok(())
    }
}

impl<S: Storage> fmt::Display for RaftLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed={} applied={} stabled={} unstable.offset={} unstable.len={}{}",
            self.committed,
            self.applied,
            self.stabled,
            self.unstable.offset,
            self.unstable.entries.len(),
            if self.unstable.snapshot.is_some() {
                " snapshot pending"
            } else {
                ""
            }
        )
    }
}

impl<S: Storage + fmt::Debug> fmt::Debug for RaftLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaftLog")
            .field("store", &self.store)
            .field("unstable", &self.unstable)
            .field("committed", &self.committed)
            .field("applied", &self.applied)
            .field("stabled", &self.stabled)
            .finish()
    }
}
