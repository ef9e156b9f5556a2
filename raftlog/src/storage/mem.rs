//! [`MemStorage`]: the in-memory [`Storage`] used by tests, the simulator and
//! examples.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use tinyraft_proto::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};

use super::stored_entry::StoredEntry;
use super::{MAX_LOG_INDEX, RaftState, Result, Storage, StorageError};

/// The data behind a [`MemStorage`] handle; reach it with [`MemStorage::wl`]
/// (to change it) or [`MemStorage::rl`] (to read it).
///
/// It keeps the log as a *dummy* entry (the index and term of the last
/// compacted or snapshotted entry) followed by the live entries, so
/// `first_index() == dummy + 1` and `term(dummy)` still answers after a
/// compaction or snapshot.
#[derive(Debug, Default)]
pub struct MemStorageCore {
    raft_state: RaftState,
    /// Index of the dummy entry: the last one compacted away or covered by a
    /// snapshot (0 for a fresh log).
    dummy_index: u64,
    /// Term of the dummy entry.
    dummy_term: u64,
    /// Live entries; `entries[i]` has index `dummy_index + 1 + i`. Kept in
    /// the compact [`StoredEntry`] form (48 bytes instead of 88, payloads
    /// shared): a log holds many.
    entries: Vec<StoredEntry>,
    /// The latest snapshot made by `create_snapshot` or `apply_snapshot`.
    snapshot: Option<Snapshot>,
    /// Test hook: the next `Storage::snapshot` call fails once.
    snap_unavailable_once: bool,
}

impl MemStorageCore {
    /// The index of the first live entry (`dummy + 1`).
    pub fn first_index(&self) -> u64 {
        // dummy_index <= MAX_LOG_INDEX, so this never overflows.
        self.dummy_index + 1
    }

    /// The index of the last entry (the dummy's if there are no live ones).
    pub fn last_index(&self) -> u64 {
        self.dummy_index + self.entries.len() as u64
    }

    /// The term of the entry at `idx`: `Compacted` below the dummy entry,
    /// `Unavailable` beyond the last one.
    pub fn term(&self, idx: u64) -> Result<u64> {
        if idx == self.dummy_index {
            return Ok(self.dummy_term);
        }
        if idx < self.dummy_index {
            return Err(StorageError::Compacted);
        }
        if idx > self.last_index() {
            return Err(StorageError::Unavailable);
        }
        Ok(self.entries[(idx - self.first_index()) as usize].term())
    }

    /// Entries in `[low, high)`, at most `max_size` bytes but at least one
    /// entry. See [`Storage::entries`].
    pub fn entries(&self, low: u64, high: u64, max_size: Option<u64>) -> Result<Vec<Entry>> {
        if low < self.first_index() {
            return Err(StorageError::Compacted);
        }
        if high > self.last_index() + 1 {
            return Err(StorageError::Unavailable);
        }
        if low > high {
            return Err(StorageError::Other(format!(
                "invalid entry range: low {low} > high {high}"
            )));
        }
        let lo = (low - self.first_index()) as usize;
        let hi = (high - self.first_index()) as usize;
        // Measure while copying, and only what fits: a lagging follower's
        // range can be the whole log, and the vector must not be sized by it.
        let stored = &self.entries[lo..hi];
        let Some(max) = max_size else {
            return Ok(stored
                .iter()
                .zip(low..)
                .map(|(s, i)| s.to_entry(i))
                .collect());
        };
        let mut size: u64 = 0;
        let mut keep = 0;
        for (s, i) in stored.iter().zip(low..) {
            size = size.saturating_add(s.size(i));
            if keep > 0 && size > max {
                break;
            }
            keep += 1;
        }
        Ok(stored[..keep]
            .iter()
            .zip(low..)
            .map(|(s, i)| s.to_entry(i))
            .collect())
    }

    /// The hard state last set (or raised by [`apply_snapshot`](Self::apply_snapshot)).
    pub fn hard_state(&self) -> &HardState {
        &self.raft_state.hard_state
    }

    /// Records the hard state the core reported in a `Ready`.
    pub fn set_hardstate(&mut self, hs: HardState) {
        self.raft_state.hard_state = hs;
    }

    /// The membership last set or taken from a snapshot.
    pub fn conf_state(&self) -> &ConfState {
        &self.raft_state.conf_state
    }

    /// Records the membership (after a conf change was applied).
    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.raft_state.conf_state = cs;
    }

    /// Both parts of the durable state.
    pub fn raft_state(&self) -> &RaftState {
        &self.raft_state
    }

    /// Sets the hard state's commit index. `Unavailable` if `index` is beyond
    /// the last entry (a commit index must name an entry the node holds).
    pub fn commit_to(&mut self, index: u64) -> Result<()> {
        if index > self.last_index() {
            return Err(StorageError::Unavailable);
        }
        self.raft_state.hard_state.commit = index;
        Ok(())
    }

    /// Appends `ents`, which must be contiguous.
    ///
    /// Entries below `first_index()` are silently dropped (they are already
    /// covered by the snapshot or compaction point); every existing entry
    /// from the first new index on is replaced, because entries after a
    /// conflict are no longer part of the leader's log. A first index beyond
    /// `last_index() + 1` would leave a gap and is an error, as are
    /// non-contiguous entries or an index above [`MAX_LOG_INDEX`]; on error
    /// nothing changes.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::eraftpb::Entry;
    /// let e = |index, term| Entry { index, term, ..Default::default() };
    ///
    /// let s = MemStorage::new();
    /// s.wl().append(&[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
    /// s.wl().append(&[e(2, 2)]).unwrap(); // conflict at 2: 3 goes too
    /// assert_eq!(s.rl().last_index(), 2);
    /// assert!(s.wl().append(&[e(4, 2)]).is_err()); // gap
    /// ```
    pub fn append(&mut self, ents: &[Entry]) -> Result<()> {
        let Some(skip) = self.check_append(ents)? else {
            return Ok(());
        };
        self.entries
            .extend(ents[skip..].iter().map(StoredEntry::new));
        Ok(())
    }

    /// [`append`](Self::append), taking the entries by value (an engine
    /// handing over a `Ready`'s entries): payloads move into the storage
    /// instead of being shared with a copy that is dropped right after.
    /// Same rules, same errors; on error nothing changes.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use tinyraft::storage::{MemStorage, Storage};
    /// use tinyraft::eraftpb::Entry;
    /// let e = |index, term| Entry { index, term, ..Default::default() };
    ///
    /// let s = MemStorage::new();
    /// s.wl().append_owned(vec![e(1, 1), e(2, 1), e(3, 1)]).unwrap();
    /// s.wl().append_owned(vec![e(2, 2)]).unwrap(); // conflict at 2: 3 goes too
    /// assert_eq!(s.entries(1, 3, None).unwrap(), vec![e(1, 1), e(2, 2)]);
    /// assert!(s.wl().append_owned(vec![e(4, 2)]).is_err()); // gap
    /// ```
    pub fn append_owned(&mut self, mut ents: Vec<Entry>) -> Result<()> {
        let Some(skip) = self.check_append(&ents)? else {
            return Ok(());
        };
        self.entries
            .extend(ents.drain(skip..).map(StoredEntry::from_entry));
        Ok(())
    }

    /// The checks of [`append`](Self::append); on success the storage is
    /// truncated where `ents` take over and the answer is how many leading
    /// entries to skip (already compacted), or `None` if there is nothing
    /// to write.
    fn check_append(&mut self, ents: &[Entry]) -> Result<Option<usize>> {
        let (Some(first), Some(last)) = (ents.first(), ents.last()) else {
            return Ok(None);
        };
        check_contiguous(ents)?;
        if last.index > MAX_LOG_INDEX {
            return Err(StorageError::Other(format!(
                "entry index {} exceeds the largest log index {MAX_LOG_INDEX}",
                last.index
            )));
        }
        if first.index > self.last_index() + 1 {
            return Err(StorageError::Other(format!(
                "append would leave a gap: first new index {}, last index {}",
                first.index,
                self.last_index()
            )));
        }
        if last.index < self.first_index() {
            return Ok(None);
        }
        let start = first.index.max(self.first_index());
        let skip = (start - first.index) as usize;
        self.entries.truncate((start - self.first_index()) as usize);
        Ok(Some(skip))
    }

    /// Drops the entries below `compact_index`, so `first_index() ==
    /// compact_index` afterwards and `term(compact_index - 1)` still answers.
    ///
    /// A no-op for `compact_index <= first_index()`; `Unavailable` for
    /// `compact_index > last_index() + 1`. Compaction does not make a
    /// snapshot: call [`create_snapshot`](Self::create_snapshot) first so a
    /// lagging follower can still be caught up.
    pub fn compact(&mut self, compact_index: u64) -> Result<()> {
        if compact_index <= self.first_index() {
            return Ok(());
        }
        if compact_index > self.last_index() + 1 {
            return Err(StorageError::Unavailable);
        }
        let new_dummy = compact_index - 1;
        let term = self.term(new_dummy)?;
        let drop = (compact_index - self.first_index()) as usize;
        self.entries.drain(..drop);
        self.dummy_index = new_dummy;
        self.dummy_term = term;
        Ok(())
    }

    /// Replaces the log with `snap` (a snapshot received from a leader).
    ///
    /// Afterwards `first_index() == index + 1`, `term(index)` is the
    /// snapshot's term, the hard state's commit and term are raised to at
    /// least the snapshot's index and term, and the membership is the
    /// snapshot's (an absent conf state counts as empty, as protobuf
    /// defaults say). `SnapshotOutOfDate` if the snapshot's index is not
    /// beyond the current dummy entry (`first_index() - 1`): the storage
    /// already covers it. `Other` for a snapshot without metadata or with an
    /// index above [`MAX_LOG_INDEX`]. On error nothing changes.
    pub fn apply_snapshot(&mut self, snap: Snapshot) -> Result<()> {
        let Some(meta) = snap.metadata.as_ref() else {
            return Err(StorageError::Other("snapshot has no metadata".to_string()));
        };
        if meta.index > MAX_LOG_INDEX {
            return Err(StorageError::Other(format!(
                "snapshot index {} exceeds the largest log index {MAX_LOG_INDEX}",
                meta.index
            )));
        }
        if meta.index < self.first_index() {
            return Err(StorageError::SnapshotOutOfDate);
        }
        self.entries.clear();
        self.dummy_index = meta.index;
        self.dummy_term = meta.term;
        let hs = &mut self.raft_state.hard_state;
        hs.commit = hs.commit.max(meta.index);
        hs.term = hs.term.max(meta.term);
        self.raft_state.conf_state = meta.conf_state.clone().unwrap_or_default();
        self.snapshot = Some(snap);
        Ok(())
    }

    /// Makes (and keeps, for [`Storage::snapshot`]) a snapshot of the state
    /// machine at `idx`, whose image is `data`. Its term is `term(idx)`; its
    /// membership is `cs`, or the storage's current one if `cs` is `None`.
    /// The log is not compacted (call [`compact`](Self::compact) for that).
    ///
    /// `SnapshotOutOfDate` if `idx` is not beyond the latest snapshot or is
    /// below the dummy entry; `Unavailable` if `idx > last_index()`.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
    /// use tinyraft::storage::{MemStorage, Storage};
    /// use tinyraft::eraftpb::Entry;
    ///
    /// let s = MemStorage::new_with_conf_state((vec![1], vec![]));
    /// let ents: Vec<Entry> =
    ///     (1..=5).map(|i| Entry { index: i, term: 1, ..Default::default() }).collect();
    /// s.wl().append(&ents).unwrap();
    /// let snap = s.wl().create_snapshot(3, None, "image".into()).unwrap();
    /// s.wl().compact(4).unwrap();
    /// assert_eq!(snap.metadata.as_ref().unwrap().index, 3);
    /// assert_eq!(s.snapshot(3, 0).unwrap(), snap);
    /// assert_eq!(s.first_index().unwrap(), 4);
    /// ```
    pub fn create_snapshot(
        &mut self,
        idx: u64,
        cs: Option<ConfState>,
        data: Bytes,
    ) -> Result<Snapshot> {
        if idx <= self.snapshot_index() || idx < self.dummy_index {
            return Err(StorageError::SnapshotOutOfDate);
        }
        if idx > self.last_index() {
            return Err(StorageError::Unavailable);
        }
        let term = self.term(idx)?;
        let conf_state = cs.unwrap_or_else(|| self.raft_state.conf_state.clone());
        let snap = Snapshot {
            data,
            metadata: Some(SnapshotMetadata {
                conf_state: Some(conf_state),
                index: idx,
                term,
            }),
        };
        self.snapshot = Some(snap.clone());
        Ok(snap)
    }

    /// The latest snapshot made by [`create_snapshot`](Self::create_snapshot)
    /// or [`apply_snapshot`](Self::apply_snapshot); if there is none, an
    /// empty one at index 0 carrying the current membership.
    pub fn latest_snapshot(&self) -> Snapshot {
        match &self.snapshot {
            Some(s) => s.clone(),
            None => Snapshot {
                data: Bytes::new(),
                metadata: Some(SnapshotMetadata {
                    conf_state: Some(self.raft_state.conf_state.clone()),
                    index: 0,
                    term: 0,
                }),
            },
        }
    }

    /// What [`Storage::snapshot`] answers: the latest snapshot if it is at
    /// least `request_index` and its membership includes `to` (or `to` is 0);
    /// otherwise one built on demand at the hard state's commit index with
    /// the current membership and an empty image, as raft-rs's `MemStorage`
    /// does, so an engine that never snapshots by hand can still bring a
    /// joining node in. The built snapshot is not kept.
    ///
    /// The on-demand snapshot takes the *current* conf state, so it is only
    /// right when every committed conf change has been applied (and recorded
    /// with [`set_conf_state`](Self::set_conf_state)), as in the ordinary
    /// Ready loop; an engine that applies lazily builds its own.
    fn snapshot_for(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        let latest = self.latest_snapshot();
        let includes_to = |s: &Snapshot| {
            to == 0
                || s.metadata
                    .as_ref()
                    .and_then(|m| m.conf_state.as_ref())
                    .is_some_and(|cs| cs.names(to))
        };
        if self.snapshot_index() >= request_index && includes_to(&latest) {
            return Ok(latest);
        }
        let idx = self.raft_state.hard_state.commit.min(self.last_index());
        if idx < request_index || idx < self.snapshot_index() {
            return Err(StorageError::SnapshotTemporarilyUnavailable);
        }
        let term = self
            .term(idx)
            .map_err(|_| StorageError::SnapshotTemporarilyUnavailable)?;
        Ok(Snapshot {
            data: Bytes::new(),
            metadata: Some(SnapshotMetadata {
                conf_state: Some(self.raft_state.conf_state.clone()),
                index: idx,
                term,
            }),
        })
    }

    /// The index of the latest snapshot (0 if none).
    fn snapshot_index(&self) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.metadata.as_ref())
            .map_or(0, |m| m.index)
    }

    /// Test hook: the next [`Storage::snapshot`] call returns
    /// [`StorageError::SnapshotTemporarilyUnavailable`] once (as an engine
    /// still building its snapshot would), then behaviour returns to normal.
    pub fn trigger_snap_unavailable(&mut self) {
        self.snap_unavailable_once = true;
    }
}

/// Whether `ents` have consecutive indexes; the storage's index arithmetic
/// relies on it.
fn check_contiguous(ents: &[Entry]) -> Result<()> {
    for w in ents.windows(2) {
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(StorageError::Other(format!(
                "entries are not contiguous: {} followed by {}",
                w[0].index, w[1].index
            )));
        }
    }
    Ok(())
}

/// An in-memory [`Storage`]: a cheap, cloneable handle to one shared
/// [`MemStorageCore`], so the application and the consensus core see the
/// same log.
///
/// ```
/// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
/// use tinyraft::storage::{MemStorage, Storage};
/// use tinyraft::eraftpb::{Entry, HardState};
///
/// let s = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
/// let app = s.clone(); // same log
/// app.wl().append(&[Entry { index: 1, term: 1, ..Default::default() }]).unwrap();
/// app.wl().set_hardstate(HardState { term: 1, vote: 1, commit: 1 });
/// assert_eq!(s.last_index().unwrap(), 1);
/// assert_eq!(s.initial_state().unwrap().hard_state.commit, 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    core: Arc<RwLock<MemStorageCore>>,
}

impl MemStorage {
    /// An empty storage: no entries, no members, default hard state.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// An empty storage whose membership is `cs`, e.g.
    /// `(vec![1, 2, 3], vec![])` for three voters: how a new cluster or a
    /// test starts.
    pub fn new_with_conf_state(cs: impl Into<ConfState>) -> MemStorage {
        let s = MemStorage::new();
        s.wl().set_conf_state(cs.into());
        s
    }

    /// Write access to the shared core. Holding the guard blocks every
    /// other user of this storage, the consensus core included.
    pub fn wl(&self) -> RwLockWriteGuard<'_, MemStorageCore> {
        // A panic elsewhere while holding the lock leaves the data itself
        // intact (every method keeps the core consistent before returning),
        // so poisoning is not a reason to fail here.
        self.core.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read access to the shared core.
    pub fn rl(&self) -> RwLockReadGuard<'_, MemStorageCore> {
        self.core.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> Result<RaftState> {
        Ok(self.rl().raft_state.clone())
    }

    fn entries(&self, low: u64, high: u64, max_size: Option<u64>) -> Result<Vec<Entry>> {
        self.rl().entries(low, high, max_size)
    }

    fn term(&self, idx: u64) -> Result<u64> {
        self.rl().term(idx)
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.rl().first_index())
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.rl().last_index())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        let mut core = self.wl();
        if core.snap_unavailable_once {
            core.snap_unavailable_once = false;
            return Err(StorageError::SnapshotTemporarilyUnavailable);
        }
        core.snapshot_for(request_index, to)
    }
}
