//! The durable side of the log: the [`Storage`] trait an engine implements,
//! its error type, and [`MemStorage`], an in-memory implementation for tests,
//! simulations and examples.
//!
//! A `Storage` holds what the engine has made durable: the hard state, the
//! membership, the latest snapshot and the log entries after it. The
//! consensus core only *reads* it; the engine writes it while processing a
//! `Ready` (for `MemStorage`, through [`MemStorage::wl`]).
//!
//! Index conventions (shared with etcd-raft and raft-rs): the entry just
//! before [`Storage::first_index`] is a *dummy*: its entry is gone (compacted
//! or covered by a snapshot) but [`Storage::term`] still answers for it, so a
//! leader can check `log_term` at the boundary. A fresh storage has
//! `first_index() == 1`, `last_index() == 0` and `term(0) == 0`.

mod mem;
mod stored_entry;

pub use mem::{MemStorage, MemStorageCore};

use tinyraft_proto::eraftpb::{ConfState, Entry, HardState, Snapshot};

/// The largest index a log entry or snapshot may have.
///
/// `u64::MAX` itself is reserved so that "one past the last index" (the
/// exclusive end of [`Storage::entries`], the first index after a snapshot)
/// is always representable. Appends and snapshots beyond it are refused with
/// an error, never wrapped.
pub const MAX_LOG_INDEX: u64 = u64::MAX - 1;

/// Errors of [`Storage`] and of the log built on it.
///
/// ```
/// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
/// use tinyraft::StorageError;
/// assert_eq!(StorageError::Compacted.to_string(), "log compacted: the requested index is below the first available entry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The requested index is below the first available entry: it was
    /// compacted away (or lies under a snapshot). A leader answers this by
    /// sending a snapshot.
    #[error("log compacted: the requested index is below the first available entry")]
    Compacted,
    /// The requested index is beyond the last entry.
    #[error("log unavailable: the requested index is beyond the last entry")]
    Unavailable,
    /// The snapshot is older than what the storage already has.
    #[error("snapshot out of date: the storage already covers its index")]
    SnapshotOutOfDate,
    /// No snapshot covering the requested index is ready yet; try again later.
    #[error("snapshot temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// Anything else: an engine's IO error, or a malformed request (the text
    /// says what was wrong).
    #[error("storage error: {0}")]
    Other(String),
}

/// The result type of [`Storage`] and of the log built on it.
pub type Result<T> = std::result::Result<T, StorageError>;

/// The durable state a node starts from: its hard state (term, vote, commit)
/// and its membership.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RaftState {
    /// Term, vote and commit index last made durable.
    pub hard_state: HardState,
    /// Voters and learners last made durable.
    pub conf_state: ConfState,
}

impl RaftState {
    /// A state from its two parts.
    pub fn new(hard_state: HardState, conf_state: ConfState) -> RaftState {
        RaftState {
            hard_state,
            conf_state,
        }
    }
}

/// Read access to an engine's durable Raft state.
///
/// Implementations return errors rather than panicking: [`StorageError::Compacted`]
/// for an index below [`first_index`](Storage::first_index) minus one,
/// [`StorageError::Unavailable`] beyond [`last_index`](Storage::last_index), and
/// [`StorageError::Other`] for their own failures. The core turns them into
/// Raft decisions (for example, a leader sends a snapshot on `Compacted`).
///
/// ```
/// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
/// use tinyraft::storage::{MemStorage, Storage};
/// use tinyraft::eraftpb::Entry;
///
/// let s = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
/// s.wl().append(&[Entry { index: 1, term: 1, ..Default::default() }]).unwrap();
/// assert_eq!(s.first_index().unwrap(), 1);
/// assert_eq!(s.last_index().unwrap(), 1);
/// assert_eq!(s.term(1).unwrap(), 1);
/// assert_eq!(s.initial_state().unwrap().conf_state.voters, vec![1, 2, 3]);
/// ```
pub trait Storage {
    /// The hard state and membership to start from.
    fn initial_state(&self) -> Result<RaftState>;

    /// Entries in `[low, high)`, cut to at most `max_size` bytes of encoded
    /// entries, but at least one entry even if it alone exceeds `max_size`
    /// (`None` means no limit). `Compacted` if `low < first_index()`,
    /// `Unavailable` if `high > last_index() + 1`.
    fn entries(&self, low: u64, high: u64, max_size: Option<u64>) -> Result<Vec<Entry>>;

    /// The term of the entry at `idx`, for `first_index() - 1 <= idx <=
    /// last_index()` (the dummy entry before the first one included).
    fn term(&self, idx: u64) -> Result<u64>;

    /// The index of the first entry still available (the one after the
    /// latest snapshot or compaction point).
    fn first_index(&self) -> Result<u64>;

    /// The index of the last entry (the snapshot's index if the log after it
    /// is empty).
    fn last_index(&self) -> Result<u64>;

    /// A snapshot for peer `to` at least as recent as `request_index`, or
    /// [`StorageError::SnapshotTemporarilyUnavailable`] if none is ready yet
    /// (the leader asks again later).
    ///
    /// The snapshot's conf state must be the membership as of its index, and
    /// should include `to`: a follower refuses to install a snapshot that
    /// leaves it out, so an engine whose latest snapshot predates `to`'s
    /// addition builds a newer one (as [`MemStorage`]
    /// does on demand).
    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot>;
}

/// Cuts `ents` to the longest prefix whose encoded size stays within
/// `max_size`, keeping at least one entry so a single large entry can still
/// make progress. `None` keeps everything; `Some(0)` keeps exactly one.
///
/// This is the bound [`Storage::entries`] applies: an engine's own
/// `Storage` calls it (as `tinyraft::util::limit_size`) to cut what it
/// returns the same way [`MemStorage`] and the core do. Sizes are
/// [`entry_size`], as raft-rs's `limit_size` counts them.
///
/// ```
/// # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
/// use tinyraft::util::{entry_size, limit_size};
/// use tinyraft::eraftpb::Entry;
///
/// let e = |i| Entry { index: i, term: 1, data: vec![0u8; 10].into(), ..Default::default() };
/// let mut ents = vec![e(1), e(2), e(3)];
/// let two = entry_size(&ents[0]) + entry_size(&ents[1]);
/// limit_size(&mut ents, Some(two));
/// assert_eq!(ents.len(), 2);
/// limit_size(&mut ents, Some(0));
/// assert_eq!(ents.len(), 1, "at least one entry");
/// ```
pub fn limit_size(ents: &mut Vec<Entry>, max_size: Option<u64>) {
    let keep = fitting_prefix(ents, max_size);
    ents.truncate(keep);
}

/// How many entries of `ents` [`limit_size`] keeps, without touching them:
/// a storage measures first and copies only what fits (a lagging
/// follower's range can be the whole log).
pub(crate) fn fitting_prefix(ents: &[Entry], max_size: Option<u64>) -> usize {
    let Some(max) = max_size else {
        return ents.len();
    };
    if ents.len() <= 1 {
        return ents.len();
    }
    let mut size: u64 = 0;
    let mut keep = 0;
    for e in ents {
        size = size.saturating_add(entry_size(e));
        if keep > 0 && size > max {
            break;
        }
        keep += 1;
    }
    keep
}

/// The encoded size of one entry (its protobuf length, without the tag
/// and length prefix of an enclosing message), the unit every `max_size`
/// limit counts in.
pub fn entry_size(e: &Entry) -> u64 {
    use prost::Message as _;
    e.encoded_len() as u64
}
