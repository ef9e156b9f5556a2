//! Unit tests of `RaftLog`, one rule per test (Raft paper §5.3/§5.4, the
//! etcd-raft/raft-rs conventions the API follows, and the never-panic rule).

mod common;

use common::*;
use tinyraft_log::storage::{MemStorage, Storage};
use tinyraft_log::{RaftLog, StorageError};

/// A fresh log: first 1, last 0, term(0) == 0, nothing to apply or persist.
#[test]
fn empty_log_conventions() {
    let log = log_with(&[]);
    assert_eq!(log.first_index(), 1);
    assert_eq!(log.last_index(), 0);
    assert_eq!(log.last_term(), 0);
    assert_eq!(log.term(0), Ok(0));
    assert_eq!(log.term(1), Err(StorageError::Unavailable));
    assert_eq!((log.committed, log.applied, log.stabled), (0, 0, 0));
    assert!(log.all_entries().is_empty());
    assert!(log.unstable_entries().is_empty());
    assert!(log.unstable_snapshot().is_none());
    assert_eq!(log.next_entries(), None);
    assert!(!log.has_next_entries());
    assert_eq!(log.entries(1, None), Ok(vec![]));
    assert_eq!(log.entries(2, None), Err(StorageError::Unavailable));
}

/// Restart: stabled == storage last, committed == hard state commit,
/// applied == snapshot index (issue 2, "a node restarting from MemStorage").
#[test]
fn new_restores_cursors_from_storage() {
    let store = storage_with(&ents(1, 10, 1));
    store.wl().create_snapshot(4, None, "img".into()).unwrap();
    store.wl().compact(5).unwrap();
    store.wl().commit_to(7).unwrap();
    let log = RaftLog::new(store, logger());
    assert_eq!(log.first_index(), 5);
    assert_eq!(log.last_index(), 10);
    assert_eq!(log.stabled, 10);
    assert_eq!(log.committed, 7);
    assert_eq!(log.applied, 4);
    assert_eq!(log.next_entries(), Some(ents(5, 7, 1)));
}

/// A stored commit beyond the stored log is clamped, never trusted or panicked on.
#[test]
fn new_clamps_commit_beyond_last_index() {
    let store = storage_with(&ents(1, 3, 1));
    let mut hs = *store.rl().hard_state();
    hs.commit = 99;
    store.wl().set_hardstate(hs);
    let log = RaftLog::new(store, logger());
    assert_eq!(log.committed, 3);
}

/// Raft §5.3: an append that matches at (idx, term) writes only from the
/// first conflict; existing same-term entries are not rewritten.
#[test]
fn maybe_append_truncates_only_at_first_conflict_5_3() {
    let mut log = log_with(&ents(1, 3, 1));
    // All present: no conflict, nothing changes, commit follows.
    assert_eq!(log.maybe_append(0, 0, 2, &ents(1, 3, 1)), Some((0, 3)));
    assert_eq!(log.stabled, 3);
    assert_eq!(log.committed, 2);
    // Conflict at 3 (term 2), and a new entry 4.
    assert_eq!(log.maybe_append(2, 1, 2, &[e(3, 2), e(4, 2)]), Some((3, 4)));
    assert_eq!(log.all_entries(), vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
    assert_eq!(
        log.stabled, 2,
        "the replaced durable entry is no longer stable"
    );
    assert_eq!(log.unstable_entries(), &[e(3, 2), e(4, 2)]);
    // Mismatch at the previous index: rejected.
    assert_eq!(log.maybe_append(4, 1, 4, &[e(5, 2)]), None);
    assert_eq!(log.maybe_append(9, 2, 4, &[]), None);
    assert_eq!(log.committed, 2);
}

/// A shorter, matching append (a stale, reordered message) must not truncate
/// the longer log (§5.3: "if an existing entry conflicts ...").
#[test]
fn maybe_append_stale_prefix_keeps_longer_log() {
    let mut log = log_with(&ents(1, 5, 1));
    assert_eq!(log.maybe_append(1, 1, 0, &[e(2, 1)]), Some((0, 2)));
    assert_eq!(log.last_index(), 5);
}

/// Commit from an append is min(leader commit, last new index) (§5.3).
#[test]
fn maybe_append_commits_at_most_last_new() {
    let mut log = log_with(&ents(1, 5, 1));
    assert_eq!(log.maybe_append(1, 1, 10, &[e(2, 1)]), Some((0, 2)));
    assert_eq!(log.committed, 2);
}

/// A conflict at or below committed is a message no correct leader sends:
/// refused, logged, nothing changes, no panic.
#[test]
fn maybe_append_refuses_to_rewrite_committed() {
    let mut log = log_with(&ents(1, 5, 1));
    log.commit_to(3).unwrap();
    let before = log.all_entries();
    assert_eq!(log.maybe_append(1, 1, 5, &[e(2, 2), e(3, 2)]), None);
    assert_eq!(log.all_entries(), before);
    assert_eq!(log.committed, 3);
}

/// Entries not contiguous from idx+1 are malformed: refused, no panic.
#[test]
fn maybe_append_refuses_non_contiguous() {
    let mut log = log_with(&ents(1, 2, 1));
    assert_eq!(log.maybe_append(2, 1, 0, &[e(4, 1)]), None);
    assert_eq!(log.maybe_append(2, 1, 0, &[e(3, 1), e(5, 1)]), None);
    assert_eq!(log.maybe_append(2, 1, 0, &[e(u64::MAX, 1)]), None);
    assert_eq!(log.last_index(), 2);
}

/// stable_to ignores an acknowledgement whose term no longer matches.
#[test]
fn stable_to_ignores_stale_term() {
    let mut log = log_with(&[]);
    log.append(&ents(1, 3, 1));
    log.stable_to(2, 2);
    assert_eq!(log.stabled, 0);
    log.stable_to(2, 1);
    assert_eq!(log.stabled, 2);
    assert_eq!(log.unstable_entries(), &[e(3, 1)]);
    log.stable_to(9, 1); // beyond the log
    assert_eq!(log.stabled, 2);
}

/// commit_to never moves backwards and refuses an index beyond the last.
#[test]
fn commit_to_monotonic_and_bounded() {
    let mut log = log_with(&ents(1, 3, 1));
    assert_eq!(log.commit_to(2), Ok(()));
    assert_eq!(log.commit_to(1), Ok(()));
    assert_eq!(log.committed, 2);
    assert_eq!(log.commit_to(4), Err(StorageError::Unavailable));
    assert_eq!(log.commit_to(u64::MAX), Err(StorageError::Unavailable));
    assert_eq!(log.committed, 2);
}

/// applied_to: only committed entries, never backwards.
#[test]
fn applied_to_bounds() {
    let mut log = log_with(&ents(1, 3, 1));
    log.commit_to(2).unwrap();
    assert!(log.applied_to(3).is_err());
    assert_eq!(log.applied_to(2), Ok(()));
    assert!(log.applied_to(1).is_err());
    assert_eq!(log.applied, 2);
}

/// next_entries is exactly (applied, min(committed, stabled)].
#[test]
fn next_entries_needs_commit_and_durability() {
    let mut log = log_with(&ents(1, 2, 1));
    log.append(&ents(3, 5, 1));
    log.commit_to(4).unwrap();
    assert_eq!(log.next_entries(), Some(ents(1, 2, 1)));
    persist(&mut log);
    assert_eq!(log.stabled, 5);
    assert_eq!(log.next_entries(), Some(ents(1, 4, 1)));
    log.applied_to(3).unwrap();
    assert_eq!(log.next_entries(), Some(ents(4, 4, 1)));
    assert_eq!(log.next_entries_limited(Some(0)), Some(ents(4, 4, 1)));
}

/// restore keeps the snapshot pending until persisted; the log starts after it.
#[test]
fn restore_keeps_snapshot_pending() {
    let mut log = log_with(&ents(1, 3, 1));
    log.commit_to(2).unwrap();
    log.restore(snap(10, 3)).unwrap();
    assert_eq!(log.unstable_snapshot(), Some(&snap(10, 3)));
    assert_eq!(log.first_index(), 11);
    assert_eq!(log.last_index(), 10);
    assert_eq!(log.term(10), Ok(3));
    assert_eq!(log.term(9), Err(StorageError::Compacted));
    assert_eq!(log.committed, 10);
    assert_eq!(log.stabled, 3);
    assert_eq!(log.applied, 0);
    assert_eq!(log.next_entries(), None);
    assert_eq!(log.snapshot(0), Ok(snap(10, 3)));
    log.append(&ents(11, 12, 3));
    persist(&mut log);
    assert!(log.unstable_snapshot().is_none());
    assert_eq!(log.stabled, 12);
    assert_eq!(log.store().first_index(), Ok(11));
    assert_eq!(log.all_entries(), ents(11, 12, 3));
}

/// restore refuses a snapshot without metadata or not beyond committed.
#[test]
fn restore_refuses_bad_snapshots() {
    let mut log = log_with(&ents(1, 3, 1));
    log.commit_to(3).unwrap();
    assert!(matches!(
        log.restore(Default::default()),
        Err(StorageError::Other(_))
    ));
    assert_eq!(
        log.restore(snap(3, 1)),
        Err(StorageError::SnapshotOutOfDate)
    );
    assert!(log.restore(snap(u64::MAX, 1)).is_err());
    assert!(log.unstable_snapshot().is_none());
    assert_eq!(log.committed, 3);
}

/// Store and log agree: MemStorage is a shared handle.
#[test]
fn store_is_shared_handle() {
    let store = MemStorage::new();
    let log = RaftLog::new(store.clone(), logger());
    store.wl().append(&ents(1, 2, 1)).unwrap();
    assert_eq!(log.store().last_index(), Ok(2));
}
