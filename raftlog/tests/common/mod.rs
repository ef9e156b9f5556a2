//! Helpers shared by the raftlog test files.
#![allow(dead_code)]

use slog::{Discard, Logger, o};
use tinyraft_log::RaftLog;
use tinyraft_log::storage::MemStorage;
use tinyraft_proto::eraftpb::{ConfState, Entry, Snapshot, SnapshotMetadata};

pub fn logger() -> Logger {
    Logger::root(Discard, o!())
}

/// An entry with no payload.
pub fn e(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

/// An entry with a payload of `len` bytes.
pub fn big(index: u64, term: u64, len: usize) -> Entry {
    Entry {
        index,
        term,
        data: vec![7u8; len].into(),
        ..Default::default()
    }
}

/// Entries `lo..=hi`, all of `term`.
pub fn ents(lo: u64, hi: u64, term: u64) -> Vec<Entry> {
    (lo..=hi).map(|i| e(i, term)).collect()
}

pub fn snap(index: u64, term: u64) -> Snapshot {
    Snapshot {
        data: "image".into(),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(ConfState::from((vec![1, 2, 3], vec![]))),
            index,
            term,
        }),
    }
}

/// A storage holding `stored` durably.
pub fn storage_with(stored: &[Entry]) -> MemStorage {
    let s = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    s.wl().append(stored).expect("append to a fresh storage");
    s
}

/// A log over a storage holding `stored` durably.
pub fn log_with(stored: &[Entry]) -> RaftLog<MemStorage> {
    RaftLog::new(storage_with(stored), logger())
}

/// Persists the log's unstable part the way an engine does, then acknowledges it.
pub fn persist(log: &mut RaftLog<MemStorage>) {
    let store = log.store().clone();
    if let Some(s) = log.unstable_snapshot().cloned() {
        let idx = s.metadata.as_ref().unwrap().index;
        store.wl().apply_snapshot(s).unwrap();
        log.stable_snap_to(idx);
    }
    let un = log.unstable_entries().to_vec();
    if let Some(last) = un.last() {
        store.wl().append(&un).unwrap();
        log.stable_to(last.index, last.term);
    }
}

/// The encoded size of an entry.
pub fn size(e: &Entry) -> u64 {
    use prost::Message as _;
    e.encoded_len() as u64
}
