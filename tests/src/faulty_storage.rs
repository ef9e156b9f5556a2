//! [`FaultyStorage`]: a `MemStorage` an engine's disk can fail under, for
//! the "storage errors return `Err`, never panic" rule.

use std::cell::Cell;
use std::rc::Rc;

use tinyraft::StorageError;
use tinyraft::eraftpb::{Entry, Snapshot};
use tinyraft::storage::{MemStorage, RaftState, Result, Storage};

/// A [`MemStorage`] with switches, shared by every clone: while
/// `fail_reads` is set, `entries`, `term` and `snapshot` fail with
/// `StorageError::Other`; while `snapshot_unavailable` is set, `snapshot`
/// answers `SnapshotTemporarilyUnavailable` (an engine still building one).
/// `snapshot_calls` counts `snapshot` calls.
///
/// ```
/// use tinyraft::storage::{MemStorage, Storage};
/// use tinyraft_tests::faulty_storage::FaultyStorage;
///
/// let s = FaultyStorage::new(MemStorage::new());
/// assert!(s.term(0).is_ok());
/// s.fail_reads.set(true);
/// assert!(s.term(0).is_err());
/// ```
#[derive(Clone, Default)]
pub struct FaultyStorage {
    /// The storage answering when no failure is switched on.
    pub inner: MemStorage,
    /// Reads fail while set.
    pub fail_reads: Rc<Cell<bool>>,
    /// `snapshot` answers `SnapshotTemporarilyUnavailable` while set.
    pub snapshot_unavailable: Rc<Cell<bool>>,
    /// How many times `snapshot` was called.
    pub snapshot_calls: Rc<Cell<u32>>,
}

impl FaultyStorage {
    /// Wraps `inner` with every failure off.
    pub fn new(inner: MemStorage) -> FaultyStorage {
        FaultyStorage {
            inner,
            ..Default::default()
        }
    }

    fn read<T>(&self, ok: impl FnOnce(&MemStorage) -> Result<T>) -> Result<T> {
        if self.fail_reads.get() {
            Err(StorageError::Other("injected read failure".into()))
        } else {
            ok(&self.inner)
        }
    }
}

impl Storage for FaultyStorage {
    fn initial_state(&self) -> Result<RaftState> {
        self.inner.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max: Option<u64>) -> Result<Vec<Entry>> {
        self.read(|s| s.entries(low, high, max))
    }
    fn term(&self, idx: u64) -> Result<u64> {
        self.read(|s| s.term(idx))
    }
    fn first_index(&self) -> Result<u64> {
        self.inner.first_index()
    }
    fn last_index(&self) -> Result<u64> {
        self.inner.last_index()
    }
    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        self.snapshot_calls.set(self.snapshot_calls.get() + 1);
        if self.snapshot_unavailable.get() {
            return Err(StorageError::SnapshotTemporarilyUnavailable);
        }
        self.read(|s| s.snapshot(request_index, to))
    }
}
