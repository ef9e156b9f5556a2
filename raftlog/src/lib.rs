//! The log of tinyraft: the [`Storage`](storage::Storage) trait an engine
//! implements for its durable Raft state, [`MemStorage`](storage::MemStorage)
//! (an in-memory one for tests and simulations), and [`RaftLog`], the log as
//! the consensus core sees it: durable entries followed by an unstable
//! segment the engine has not yet persisted.
//!
//! Users normally reach these through the `tinyraft` crate
//! (`tinyraft::storage`, `tinyraft::RaftLog`).
//!
//! Index conventions follow etcd-raft and raft-rs: indexes start at 1; after
//! a snapshot or compaction at index `i`, `first_index() == i + 1` and
//! `term(i)` still answers (the *dummy* entry); a fresh log has
//! `first_index() == 1`, `last_index() == 0` and `term(0) == 0`. Nothing here
//! panics on bad indexes: they are errors ([`StorageError::Compacted`] below
//! the log, [`StorageError::Unavailable`] beyond it).
//!
//! ```
//! # mod tinyraft { pub use tinyraft_log::*; pub use tinyraft_log::storage::{RaftState, Storage}; pub use tinyraft_proto::{eraftpb, prost}; pub mod util { pub use tinyraft_log::storage::{entry_size, limit_size}; } }
//! use slog::{Discard, Logger, o};
//! use tinyraft::RaftLog;
//! use tinyraft::storage::{MemStorage, Storage};
//! use tinyraft::eraftpb::Entry;
//!
//! let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
//! let mut log = RaftLog::new(store.clone(), Logger::root(Discard, o!()));
//!
//! // The core appends entries; they are unstable until the engine persists them.
//! let last = log.append(&[
//!     Entry { index: 1, term: 1, data: "put x".into(), ..Default::default() },
//!     Entry { index: 2, term: 1, data: "put y".into(), ..Default::default() },
//! ]);
//! assert_eq!(last, 2);
//! assert_eq!(log.unstable_entries().len(), 2);
//!
//! // The engine writes them to its storage and acknowledges them.
//! store.wl().append(log.unstable_entries()).unwrap();
//! log.stable_to(2, 1);
//! assert!(log.unstable_entries().is_empty());
//! assert_eq!(store.last_index().unwrap(), 2);
//!
//! // Once committed, they are ready to apply.
//! log.commit_to(2).unwrap();
//! let ready = log.next_entries().unwrap();
//! assert_eq!(&ready[0].data[..], b"put x");
//! log.applied_to(2).unwrap();
//! assert!(!log.has_next_entries());
//! ```

#![forbid(unsafe_code)]

mod raft_log;
pub mod storage;
mod unstable;

pub use raft_log::RaftLog;
pub use storage::{Result, StorageError};
