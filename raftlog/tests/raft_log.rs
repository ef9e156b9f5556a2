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
    assert_eq!(log.snapshot(0, 0), Ok(snap(10, 3)));
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

/// A log beginning after a snapshot: the dummy entry answers, below is compacted.
#[test]
fn log_beginning_after_snapshot() {
    let store = MemStorage::new_with_conf_state((vec![1], vec![]));
    store.wl().apply_snapshot(snap(5, 2)).unwrap();
    store.wl().append(&[e(6, 2), e(7, 3), e(8, 3)]).unwrap();
    let log = RaftLog::new(store, logger());
    assert_eq!(log.first_index(), 6);
    assert_eq!(log.last_index(), 8);
    assert_eq!(log.last_term(), 3);
    assert_eq!((log.committed, log.applied, log.stabled), (5, 5, 8));
    assert_eq!(log.term(5), Ok(2));
    assert_eq!(log.term(4), Err(StorageError::Compacted));
    assert_eq!(log.term(0), Err(StorageError::Compacted));
    assert_eq!(log.entries(5, None), Err(StorageError::Compacted));
    assert_eq!(log.entries(6, None), Ok(vec![e(6, 2), e(7, 3), e(8, 3)]));
    assert_eq!(log.all_entries().len(), 3);
    assert!(log.match_term(5, 2));
    assert!(!log.match_term(4, 2));
    assert_eq!(log.snapshot(5, 0), Ok(snap(5, 2)));
}

/// Term lookups across the boundary between a pending snapshot and the
/// unstable entries after it, and between storage and unstable entries.
#[test]
fn term_across_snapshot_and_unstable_boundaries() {
    let mut log = log_with(&[e(1, 1), e(2, 1)]);
    log.append(&[e(3, 2), e(4, 2)]);
    assert_eq!(log.term(2), Ok(1)); // storage
    assert_eq!(log.term(3), Ok(2)); // unstable
    assert_eq!(log.term(5), Err(StorageError::Unavailable));
    log.restore(snap(6, 3)).unwrap();
    log.append(&[e(7, 3), e(8, 4)]);
    assert_eq!(log.term(5), Err(StorageError::Compacted));
    assert_eq!(log.term(6), Ok(3)); // pending snapshot
    assert_eq!(log.term(7), Ok(3));
    assert_eq!(log.term(8), Ok(4));
    assert_eq!(log.term(9), Err(StorageError::Unavailable));
    persist(&mut log);
    assert_eq!(log.term(6), Ok(3)); // now the storage's dummy entry
    assert_eq!(log.term(5), Err(StorageError::Compacted));
    assert_eq!(log.term(8), Ok(4));
    assert_eq!(log.store().term(8), Ok(4));
}

/// Compaction of the storage under a log with unstable entries, at the
/// first, a middle, the last stored, and one past the last stored index.
#[test]
fn compaction_under_log_first_middle_last() {
    for (compact, first) in [(1, 1), (3, 3), (5, 5), (6, 6)] {
        let mut log = log_with(&ents(1, 5, 1));
        log.append(&ents(6, 7, 2));
        log.store().wl().compact(compact).unwrap();
        assert_eq!(log.first_index(), first, "compact({compact})");
        assert_eq!(log.last_index(), 7);
        assert!(
            log.term(first - 1).is_ok(),
            "dummy term after compact({compact})"
        );
        if first > 1 {
            assert_eq!(log.term(first - 2), Err(StorageError::Compacted));
            assert_eq!(log.entries(first - 1, None), Err(StorageError::Compacted));
        }
        let all = log.all_entries();
        assert_eq!(all.first().map(|x| x.index), Some(first));
        assert_eq!(all.last().map(|x| x.index), Some(7));
        assert_eq!(all.len() as u64, 8 - first);
    }
}

/// Conflicting append at, below and above `stabled`.
#[test]
fn conflicting_append_at_below_above_stabled() {
    // storage 1..=5 (stabled 5), unstable 6..=7
    let base = || {
        let mut log = log_with(&ents(1, 5, 1));
        log.append(&ents(6, 7, 1));
        assert_eq!(log.stabled, 5);
        log
    };

    // At stabled: the last durable entry is replaced.
    let mut log = base();
    assert_eq!(log.append(&[e(5, 2)]), 5);
    assert_eq!(log.stabled, 4);
    assert_eq!(log.unstable_entries(), &[e(5, 2)]);
    assert_eq!(
        log.all_entries(),
        vec![e(1, 1), e(2, 1), e(3, 1), e(4, 1), e(5, 2)]
    );
    persist(&mut log);
    assert_eq!(log.stabled, 5);
    assert_eq!(log.store().entries(1, 6, None).unwrap(), log.all_entries());

    // Below stabled.
    let mut log = base();
    assert_eq!(log.append(&[e(3, 2), e(4, 2)]), 4);
    assert_eq!(log.stabled, 2);
    assert_eq!(log.unstable_entries(), &[e(3, 2), e(4, 2)]);
    assert_eq!(log.term(5), Err(StorageError::Unavailable));
    persist(&mut log);
    assert_eq!(log.store().last_index(), Ok(4));
    assert_eq!(log.all_entries(), vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);

    // Above stabled: only unstable entries change.
    let mut log = base();
    assert_eq!(log.append(&[e(7, 2), e(8, 2)]), 8);
    assert_eq!(log.stabled, 5);
    assert_eq!(log.unstable_entries(), &[e(6, 1), e(7, 2), e(8, 2)]);
    // A stale acknowledgement of the old entry 7 is ignored.
    log.stable_to(7, 1);
    assert_eq!(log.stabled, 5);
    persist(&mut log);
    assert_eq!(log.stabled, 8);
}

/// append refuses (logs, returns the unchanged last index) a gap, a rewrite
/// of committed entries, non-contiguous entries, and indexes near u64::MAX.
#[test]
fn append_refusals_change_nothing() {
    let mut log = log_with(&ents(1, 3, 1));
    log.commit_to(2).unwrap();
    let before = log.all_entries();
    assert_eq!(log.append(&[e(5, 1)]), 3, "gap");
    assert_eq!(log.append(&[e(2, 2)]), 3, "at committed");
    assert_eq!(log.append(&[e(1, 2)]), 3, "below committed");
    assert_eq!(log.append(&[e(0, 2)]), 3, "index 0");
    assert_eq!(log.append(&[e(4, 1), e(6, 1)]), 3, "not contiguous");
    assert_eq!(log.append(&[e(u64::MAX, 1)]), 3, "u64::MAX");
    assert_eq!(log.all_entries(), before);
    assert_eq!(log.stabled, 3);
    assert_eq!(log.append(&[]), 3);
    assert_eq!(log.append(&[e(4, 1)]), 4);
}

/// An append under a pending snapshot is refused.
#[test]
fn append_below_pending_snapshot_refused() {
    let mut log = log_with(&[]);
    log.restore(snap(5, 1)).unwrap();
    log.committed = 0; // even with a tampered commit index
    assert_eq!(log.append(&[e(3, 1)]), 5);
    assert_eq!(log.append(&[e(5, 1)]), 5);
    assert_eq!(log.unstable_snapshot(), Some(&snap(5, 1)));
    assert_eq!(log.append(&[e(6, 1)]), 6);
}

/// entries()/slice() with max_size 0, exact fit and overflow, across the
/// storage/unstable boundary.
#[test]
fn entries_max_size_across_boundary() {
    let all = vec![big(1, 1, 10), big(2, 1, 10), big(3, 1, 10), big(4, 1, 10)];
    let mut log = log_with(&all[..2]);
    log.append(&all[2..]);
    let one = size(&all[0]);
    assert_eq!(
        log.entries(1, Some(0)).unwrap(),
        all[..1].to_vec(),
        "0 still gives one"
    );
    assert_eq!(
        log.entries(3, Some(0)).unwrap(),
        all[2..3].to_vec(),
        "0, unstable only"
    );
    assert_eq!(
        log.entries(1, Some(3 * one)).unwrap(),
        all[..3].to_vec(),
        "exact fit"
    );
    assert_eq!(
        log.entries(1, Some(3 * one - 1)).unwrap(),
        all[..2].to_vec(),
        "overflow"
    );
    assert_eq!(
        log.entries(2, Some(2 * one)).unwrap(),
        all[1..3].to_vec(),
        "straddles"
    );
    assert_eq!(log.entries(1, None).unwrap(), all);
    assert_eq!(log.entries(1, Some(u64::MAX)).unwrap(), all);
    assert_eq!(log.slice(2, 4, Some(0)).unwrap(), all[1..2].to_vec());
    assert_eq!(log.slice(2, 4, None).unwrap(), all[1..3].to_vec());
    assert_eq!(log.entries(5, None), Ok(vec![]));
    assert_eq!(log.entries(6, None), Err(StorageError::Unavailable));
    assert_eq!(log.slice(0, 2, None), Err(StorageError::Compacted));
    assert_eq!(log.slice(1, 6, None), Err(StorageError::Unavailable));
    assert!(matches!(log.slice(3, 2, None), Err(StorageError::Other(_))));
    assert_eq!(log.slice(3, 3, None), Ok(vec![]));
    let huge = log_with(&[big(1, 1, 5000)]);
    assert_eq!(huge.entries(1, Some(1)).unwrap().len(), 1);
}

/// find_conflict: 0 when all present, the first mismatching index otherwise
/// (a conflict or a new entry).
#[test]
fn find_conflict_cases() {
    let log = log_with(&[e(1, 1), e(2, 2), e(3, 3)]);
    assert_eq!(log.find_conflict(&[]), 0);
    assert_eq!(log.find_conflict(&[e(1, 1), e(2, 2), e(3, 3)]), 0);
    assert_eq!(log.find_conflict(&[e(2, 2), e(3, 3)]), 0);
    assert_eq!(log.find_conflict(&[e(2, 2), e(3, 3), e(4, 4)]), 4);
    assert_eq!(log.find_conflict(&[e(4, 4), e(5, 4)]), 4);
    assert_eq!(log.find_conflict(&[e(1, 4), e(2, 4)]), 1);
    assert_eq!(log.find_conflict(&[e(2, 1), e(3, 4)]), 2);
    assert_eq!(log.find_conflict(&[e(u64::MAX, 1)]), u64::MAX);
}

/// find_conflict_by_term: the largest index <= index whose term <= term
/// (etcd's fast-backtracking hint); clamps, never panics.
#[test]
fn find_conflict_by_term_cases() {
    // terms: 1:1 2:1 3:2 4:2 5:4 6:4
    let log = log_with(&[e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 4), e(6, 4)]);
    assert_eq!(log.find_conflict_by_term(6, 4), (6, 4));
    assert_eq!(log.find_conflict_by_term(6, 3), (4, 2));
    assert_eq!(log.find_conflict_by_term(6, 2), (4, 2));
    assert_eq!(log.find_conflict_by_term(3, 1), (2, 1));
    assert_eq!(log.find_conflict_by_term(6, 0), (0, 0));
    assert_eq!(log.find_conflict_by_term(100, 5), (6, 4), "clamped to last");
    assert_eq!(log.find_conflict_by_term(u64::MAX, u64::MAX), (6, 4));
    assert_eq!(log.find_conflict_by_term(0, 0), (0, 0));

    // After compaction the boundary answers; below it the term is unknown.
    let store = storage_with(&[e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 4), e(6, 4)]);
    store.wl().compact(4).unwrap();
    let log = RaftLog::new(store, logger());
    assert_eq!(log.find_conflict_by_term(6, 3), (4, 2));
    assert_eq!(
        log.find_conflict_by_term(6, 1),
        (2, 0),
        "compacted: unknown term"
    );
}

/// maybe_commit: only an entry of the given term, only forwards (§5.4.2).
#[test]
fn maybe_commit_requires_term_match() {
    let mut log = log_with(&[e(1, 1), e(2, 2), e(3, 2)]);
    assert!(!log.maybe_commit(2, 1), "wrong term");
    assert_eq!(log.committed, 0);
    assert!(log.maybe_commit(2, 2));
    assert_eq!(log.committed, 2);
    assert!(!log.maybe_commit(1, 1), "backwards");
    assert!(!log.maybe_commit(2, 2), "not beyond committed");
    assert!(!log.maybe_commit(4, 2), "beyond last");
    assert!(!log.maybe_commit(u64::MAX, u64::MAX));
    assert!(log.maybe_commit(3, 2));
    assert_eq!(log.committed, 3);
}

/// is_up_to_date: later last term wins; equal terms, longer log (§5.4.1).
#[test]
fn is_up_to_date_5_4_1() {
    let log = log_with(&[e(1, 1), e(2, 2), e(3, 2)]);
    assert!(log.is_up_to_date(1, 3), "higher term, shorter");
    assert!(log.is_up_to_date(3, 2), "same");
    assert!(log.is_up_to_date(4, 2), "longer, same term");
    assert!(!log.is_up_to_date(2, 2), "shorter, same term");
    assert!(!log.is_up_to_date(10, 1), "lower term, longer");
    assert!(log.is_up_to_date(0, u64::MAX));
    assert!(log_with(&[]).is_up_to_date(0, 0));
}

/// Acknowledging entries after a pending snapshot makes the snapshot durable
/// too (the engine persists the snapshot first); a stale snapshot ack is ignored.
#[test]
fn stable_to_after_pending_snapshot() {
    let mut log = log_with(&ents(1, 3, 1));
    log.restore(snap(10, 2)).unwrap();
    log.append(&ents(11, 12, 2));
    log.stable_snap_to(9); // wrong index: ignored
    assert!(log.unstable_snapshot().is_some());
    log.stable_to(10, 1); // wrong term for the snapshot: ignored
    assert!(log.unstable_snapshot().is_some());
    let store = log.store().clone();
    store.wl().apply_snapshot(snap(10, 2)).unwrap();
    store.wl().append(&ents(11, 12, 2)).unwrap();
    log.stable_to(12, 2);
    assert!(log.unstable_snapshot().is_none());
    assert!(log.unstable_entries().is_empty());
    assert_eq!(log.stabled, 12);
    assert_eq!(log.all_entries(), ents(11, 12, 2));
}

/// stable_to naming exactly the pending snapshot is stable_snap_to.
#[test]
fn stable_to_at_snapshot_index() {
    let mut log = log_with(&[]);
    log.restore(snap(4, 2)).unwrap();
    log.store().wl().apply_snapshot(snap(4, 2)).unwrap();
    log.stable_to(4, 2);
    assert!(log.unstable_snapshot().is_none());
    assert_eq!(log.stabled, 4);
}

/// After a snapshot arrives and is persisted, applied moves to its index
/// (what `advance` does) and later entries become applicable.
#[test]
fn apply_after_restore() {
    let mut log = log_with(&ents(1, 3, 1));
    log.commit_to(1).unwrap();
    log.restore(snap(5, 2)).unwrap();
    log.append(&ents(6, 7, 2));
    persist(&mut log);
    assert_eq!(log.applied_to(5), Ok(()));
    assert_eq!(log.next_entries(), None, "6 and 7 are not committed yet");
    log.commit_to(7).unwrap();
    assert_eq!(log.next_entries(), Some(ents(6, 7, 2)));
}

/// restore lowers stabled to the snapshot index when it was beyond it.
#[test]
fn restore_lowers_stabled_beyond_snapshot() {
    let mut log = log_with(&ents(1, 8, 1));
    log.commit_to(2).unwrap();
    log.restore(snap(5, 2)).unwrap();
    assert_eq!(log.stabled, 5);
    assert_eq!(log.last_index(), 5);
    assert!(log.unstable_entries().is_empty());
    assert_eq!(
        log.snapshot(100, 0),
        Ok(snap(5, 2)),
        "pending snapshot is served"
    );
}

/// Every method with extreme arguments returns, without panicking.
#[test]
fn extreme_arguments_never_panic() {
    for stored in [vec![], ents(1, 3, 1)] {
        let mut log = log_with(&stored);
        for x in [0, 1, 2, u64::MAX - 1, u64::MAX] {
            let _ = log.term(x);
            let _ = log.entries(x, Some(x));
            let _ = log.slice(x, u64::MAX, None);
            let _ = log.slice(0, x, Some(0));
            let _ = log.match_term(x, x);
            let _ = log.is_up_to_date(x, x);
            let _ = log.find_conflict_by_term(x, x);
            let _ = log.find_conflict(&[e(x, x)]);
            let _ = log.maybe_commit(x, x);
            let _ = log.maybe_append(x, x, x, &[e(x, x)]);
            let _ = log.maybe_append(x.wrapping_sub(1), 1, x, &[e(x, 1)]);
            let _ = log.commit_to(x);
            let _ = log.applied_to(x);
            log.stable_to(x, x);
            log.stable_snap_to(x);
            let _ = log.append(&[e(x, x)]);
            let _ = log.snapshot(x, 0);
            let _ = log.next_entries_limited(Some(x));
        }
        let _ = log.restore(snap(u64::MAX, 1));
        let _ = log.restore(snap(u64::MAX - 1, 1));
        assert_eq!(log.first_index(), u64::MAX);
        assert_eq!(log.last_index(), u64::MAX - 1);
        assert_eq!(log.entries(u64::MAX, None), Ok(vec![]));
        assert_eq!(log.append(&[e(u64::MAX, 1)]), u64::MAX - 1);
        let _ = log.to_string();
    }
}

/// Display gives the cursors for a log line.
#[test]
fn display_shows_cursors() {
    let log = log_with(&ents(1, 2, 1));
    let s = log.to_string();
    assert!(s.contains("committed=0") && s.contains("stabled=2"), "{s}");
}

/// An acknowledgement the storage does not (yet) reflect must not make
/// entries vanish: the log serves them from memory until the storage shows
/// them (a test that never writes, or an engine whose reads lag its acks).
#[test]
fn ack_without_write_keeps_entries_in_view() {
    let mut log = log_with(&ents(1, 2, 1));
    log.append(&ents(3, 4, 1));
    log.stable_to(4, 1);
    assert_eq!(log.stabled, 4);
    assert!(log.unstable_entries().is_empty());
    assert_eq!(log.last_index(), 4);
    assert_eq!(log.all_entries(), ents(1, 4, 1));
    log.commit_to(4).unwrap();
    assert_eq!(log.next_entries(), Some(ents(1, 4, 1)));
    assert!(log.to_string().contains("unstable.len=2"), "{log}");
    // Once the storage has them, the next acknowledgement releases memory.
    log.store().wl().append(&ents(3, 4, 1)).unwrap();
    log.stable_to(4, 1);
    assert!(log.to_string().contains("unstable.len=0"), "{log}");
    assert_eq!(log.all_entries(), ents(1, 4, 1));
}

/// A conflicting append after an unbacked acknowledgement lowers stabled
/// and offers the replacement for persisting.
#[test]
fn conflict_after_unbacked_ack() {
    let mut log = log_with(&ents(1, 2, 1));
    log.append(&ents(3, 5, 1));
    log.stable_to(5, 1);
    assert_eq!(log.append(&[e(4, 2)]), 4);
    assert_eq!(log.stabled, 3);
    assert_eq!(log.unstable_entries(), &[e(4, 2)]);
    assert_eq!(log.all_entries(), vec![e(1, 1), e(2, 1), e(3, 1), e(4, 2)]);
}

/// A snapshot acknowledged before the storage applied it stays the log's
/// base (the storage still has the old log) but is no longer pending.
#[test]
fn snapshot_ack_without_apply_keeps_view() {
    let mut log = log_with(&ents(1, 3, 1));
    log.restore(snap(8, 2)).unwrap();
    log.stable_snap_to(8);
    assert!(log.unstable_snapshot().is_none());
    assert_eq!(log.stabled, 8);
    assert_eq!(log.first_index(), 9);
    assert_eq!(log.term(8), Ok(2));
    assert_eq!(log.snapshot(0, 0), Ok(snap(8, 2)));
    log.append(&ents(9, 9, 2));
    assert_eq!(log.unstable_entries(), &ents(9, 9, 2)[..]);
    // The storage catches up; the next acknowledgement releases memory.
    log.store().wl().apply_snapshot(snap(8, 2)).unwrap();
    log.store().wl().append(&ents(9, 9, 2)).unwrap();
    log.stable_to(9, 2);
    assert!(!log.to_string().contains("snapshot"), "{log}");
    assert_eq!(log.first_index(), 9);
    assert_eq!(log.all_entries(), ents(9, 9, 2));
}

/// The storage still holding the *replaced* entries (same indexes, old
/// terms) does not count as showing the acknowledged ones.
#[test]
fn stale_storage_entries_do_not_release_new_ones() {
    let mut log = log_with(&ents(1, 5, 1));
    log.append(&ents(3, 5, 2));
    log.stable_to(5, 2); // acknowledged, but the storage still has term 1 there
    assert_eq!(
        log.all_entries(),
        vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 2)]
    );
    assert_eq!(log.term(4), Ok(2));
    assert!(log.to_string().contains("unstable.len=3"), "{log}");
}

/// Entries after a restored snapshot stay in memory until the storage has
/// applied the snapshot, even if the old log in storage happens to show the
/// same index and term: applying the snapshot erases that old log.
#[test]
fn entries_after_unapplied_snapshot_are_not_released() {
    let mut log = log_with(&ents(1, 3, 4));
    log.restore(snap(1, 1)).unwrap();
    log.maybe_append(1, 1, 0, &ents(2, 4, 4)).unwrap();
    log.stable_to(3, 4); // acknowledged before the engine applied the snapshot
    log.store().wl().apply_snapshot(snap(1, 1)).unwrap();
    assert_eq!(log.first_index(), 2);
    assert_eq!(log.all_entries(), ents(2, 4, 4));
    assert_eq!(log.term(3), Ok(4));
}

/// An acknowledgement of a prefix the storage shows, while the storage
/// still holds a stale tail past the log's end, keeps the log's end its own.
#[test]
fn stale_storage_tail_does_not_extend_the_log() {
    let mut log = log_with(&ents(1, 5, 1));
    log.commit_to(1).unwrap();
    assert_eq!(log.append(&[e(2, 1)]), 2); // truncates 3..=5 (identical entry 2)
    log.stable_to(2, 1); // the storage shows 1..=2, and still 3..=5
    assert_eq!(log.last_index(), 2);
    assert_eq!(log.all_entries(), ents(1, 2, 1));
    assert_eq!(log.term(3), Err(StorageError::Unavailable));
}

/// `store.wl().append(log.unstable_entries())` is how an engine persists:
/// `unstable_entries` (and `unstable_snapshot`) must not take the storage's
/// lock, or that line deadlocks. Run in a thread so a regression fails
/// instead of hanging.
#[test]
fn unstable_accessors_do_not_lock_storage() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let store = MemStorage::new();
        let mut log = RaftLog::new(store.clone(), logger());
        log.restore(snap(3, 1)).unwrap();
        log.append(&ents(4, 5, 1));
        if let Some(s) = log.unstable_snapshot() {
            store.wl().apply_snapshot(s.clone()).unwrap();
        }
        store.wl().append(log.unstable_entries()).unwrap();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("unstable accessors deadlocked on the storage lock");
}
