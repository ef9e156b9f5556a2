//! Unit tests of `MemStorage`: the documented MemStorage behaviour and
//! the etcd-raft/raft-rs storage conventions (dummy entry, errors not panics).

mod common;

use common::*;
use tinyraft_log::StorageError;
use tinyraft_log::storage::{MAX_LOG_INDEX, MemStorage, Storage};
use tinyraft_proto::eraftpb::{ConfState, HardState, Snapshot, SnapshotMetadata};

/// Dummy-entry convention on a fresh storage: first 1, last 0, term(0) 0.
#[test]
fn fresh_storage_conventions() {
    let s = MemStorage::new();
    assert_eq!(s.first_index(), Ok(1));
    assert_eq!(s.last_index(), Ok(0));
    assert_eq!(s.term(0), Ok(0));
    assert_eq!(s.term(1), Err(StorageError::Unavailable));
    assert_eq!(s.entries(1, 1, None), Ok(vec![]));
    assert_eq!(s.entries(1, 2, None), Err(StorageError::Unavailable));
    assert_eq!(s.initial_state().unwrap().hard_state, HardState::default());
    assert_eq!(s.initial_state().unwrap().conf_state, ConfState::default());
}

#[test]
fn new_with_conf_state_sets_membership() {
    let s = MemStorage::new_with_conf_state((vec![1, 2], vec![3]));
    let st = s.initial_state().unwrap();
    assert_eq!(st.conf_state, ConfState::from((vec![1, 2], vec![3])));
    assert_eq!(s.rl().conf_state(), &st.conf_state);
}

/// term(): Compacted below the dummy, the dummy answers, Unavailable beyond.
#[test]
fn term_across_compaction_boundary() {
    let s = storage_with(&[e(1, 1), e(2, 2), e(3, 3), e(4, 4), e(5, 5)]);
    s.wl().compact(3).unwrap();
    assert_eq!(s.term(1), Err(StorageError::Compacted));
    assert_eq!(s.term(2), Ok(2));
    assert_eq!(s.term(3), Ok(3));
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.term(6), Err(StorageError::Unavailable));
    assert_eq!(s.term(u64::MAX), Err(StorageError::Unavailable));
}

/// entries(): range errors and an empty range.
#[test]
fn entries_range_errors() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().compact(3).unwrap();
    assert_eq!(s.entries(2, 4, None), Err(StorageError::Compacted));
    assert_eq!(s.entries(3, 7, None), Err(StorageError::Unavailable));
    assert_eq!(s.entries(3, 6, None), Ok(ents(3, 5, 1)));
    assert_eq!(s.entries(6, 6, None), Ok(vec![]));
    assert!(matches!(s.entries(5, 4, None), Err(StorageError::Other(_))));
    assert_eq!(s.entries(0, u64::MAX, None), Err(StorageError::Compacted));
    assert_eq!(
        s.entries(u64::MAX, u64::MAX, None),
        Err(StorageError::Unavailable)
    );
}

/// entries() size limit: 0 still gives one, exact fit includes the last,
/// overflow stops before it, a single huge entry still comes back.
#[test]
fn entries_max_size_zero_exact_and_overflow() {
    let stored = vec![big(1, 1, 10), big(2, 1, 10), big(3, 1, 10)];
    let s = storage_with(&stored);
    let one = size(&stored[0]);
    assert_eq!(s.entries(1, 4, Some(0)).unwrap().len(), 1);
    assert_eq!(s.entries(1, 4, Some(one)).unwrap().len(), 1);
    assert_eq!(
        s.entries(1, 4, Some(2 * one)).unwrap().len(),
        2,
        "exact fit"
    );
    assert_eq!(
        s.entries(1, 4, Some(2 * one + 1)).unwrap().len(),
        2,
        "overflow"
    );
    assert_eq!(s.entries(1, 4, Some(3 * one)).unwrap().len(), 3);
    assert_eq!(s.entries(1, 4, Some(u64::MAX)).unwrap().len(), 3);
    assert_eq!(s.entries(1, 4, None).unwrap(), stored);
    let huge = storage_with(&[big(1, 1, 1000)]);
    assert_eq!(huge.entries(1, 2, Some(10)).unwrap().len(), 1);
}

/// Issue 11 (catch-up in bounded memory): a size-limited read of a long
/// range allocates for what it returns, not for the whole range, and the
/// payloads are shared with the storage rather than copied.
#[test]
fn entries_size_limited_read_is_sized_by_the_limit_not_the_range() {
    let stored: Vec<_> = (1..=10_000).map(|i| big(i, 1, 100)).collect();
    let s = storage_with(&stored);
    let one = size(&stored[0]);
    let got = s.entries(1, 10_001, Some(3 * one)).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got.capacity(), 3, "vector sized by the limit");
    assert_eq!(got[..], stored[..3]);
    let again = s.entries(1, 2, None).unwrap();
    assert_eq!(
        got[0].data.as_ptr(),
        again[0].data.as_ptr(),
        "payload shared, not copied"
    );
}

/// append(): a conflicting suffix is replaced.
#[test]
fn append_truncates_conflicting_suffix() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().append(&[e(3, 2), e(4, 2)]).unwrap();
    assert_eq!(
        s.entries(1, 5, None).unwrap(),
        vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2)]
    );
    assert_eq!(s.last_index(), Ok(4));
    // Appending right after the end extends.
    s.wl().append(&[e(5, 2)]).unwrap();
    assert_eq!(s.last_index(), Ok(5));
}

/// append(): entries below first_index are silently dropped.
#[test]
fn append_drops_entries_below_first_index() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().compact(4).unwrap();
    s.wl().append(&ents(1, 2, 1)).unwrap(); // all below
    assert_eq!(s.first_index(), Ok(4));
    assert_eq!(s.last_index(), Ok(5));
    s.wl()
        .append(&[e(2, 1), e(3, 1), e(4, 2), e(5, 2), e(6, 2)])
        .unwrap();
    assert_eq!(s.first_index(), Ok(4));
    assert_eq!(
        s.entries(4, 7, None).unwrap(),
        vec![e(4, 2), e(5, 2), e(6, 2)]
    );
    assert_eq!(s.term(3), Ok(1), "the dummy is untouched");
}

/// append(): a gap, non-contiguous entries or an index at u64::MAX are
/// errors, and nothing changes.
#[test]
fn append_rejects_gap_and_malformed() {
    let s = storage_with(&ents(1, 3, 1));
    assert!(matches!(
        s.wl().append(&[e(5, 1)]),
        Err(StorageError::Other(_))
    ));
    assert!(matches!(
        s.wl().append(&[e(4, 1), e(6, 1)]),
        Err(StorageError::Other(_))
    ));
    assert!(matches!(
        s.wl().append(&[e(4, 1), e(4, 1)]),
        Err(StorageError::Other(_))
    ));
    assert!(s.wl().append(&[e(u64::MAX, 1)]).is_err());
    assert!(
        s.wl()
            .append(&[e(u64::MAX - 1, 1), e(u64::MAX, 1)])
            .is_err()
    );
    assert_eq!(s.entries(1, 4, None).unwrap(), ents(1, 3, 1));
    s.wl().append(&[]).unwrap();
    assert_eq!(s.last_index(), Ok(3));
}

/// append_owned() follows append()'s rules exactly (conflicting suffix
/// replaced, compacted prefix dropped, gaps and malformed input refused with
/// nothing changed), and the payload moves in rather than being copied.
#[test]
fn append_owned_same_rules_as_append() {
    let cases: Vec<Vec<tinyraft_proto::eraftpb::Entry>> = vec![
        vec![e(3, 2), e(4, 2)],
        vec![e(6, 1)],
        vec![e(2, 1), e(3, 1), e(4, 2), e(5, 2), e(6, 2)],
        vec![e(1, 1)],
        vec![e(7, 1)],
        vec![e(4, 1), e(6, 1)],
        vec![e(u64::MAX, 1)],
        vec![],
    ];
    for (i, batch) in cases.into_iter().enumerate() {
        let by_ref = storage_with(&ents(1, 5, 1));
        let owned = storage_with(&ents(1, 5, 1));
        by_ref.wl().compact(3).unwrap();
        owned.wl().compact(3).unwrap();
        let r1 = by_ref.wl().append(&batch);
        let r2 = owned.wl().append_owned(batch);
        assert_eq!(r1, r2, "case {i}");
        let all = |s: &MemStorage| {
            let (f, l) = (s.first_index().unwrap(), s.last_index().unwrap());
            (f, l, s.entries(f, l + 1, None).unwrap())
        };
        assert_eq!(all(&by_ref), all(&owned), "case {i}");
    }
    let s = MemStorage::new();
    let data = bytes::Bytes::from(vec![7u8; 64]);
    let ptr = data.as_ptr();
    s.wl()
        .append_owned(vec![tinyraft_proto::eraftpb::Entry {
            index: 1,
            term: 1,
            data,
            ..Default::default()
        }])
        .unwrap();
    assert_eq!(s.entries(1, 2, None).unwrap()[0].data.as_ptr(), ptr);
}

/// compact(): at the first index (no-op), in the middle, at the last index,
/// and one past it (everything goes); beyond that is an error.
#[test]
fn compact_first_middle_last() {
    let fresh = || storage_with(&[e(1, 1), e(2, 2), e(3, 3), e(4, 4), e(5, 5)]);

    let s = fresh();
    s.wl().compact(1).unwrap(); // at first: no-op
    assert_eq!((s.first_index(), s.last_index()), (Ok(1), Ok(5)));
    s.wl().compact(0).unwrap(); // below first: no-op
    assert_eq!(s.first_index(), Ok(1));

    let s = fresh();
    s.wl().compact(3).unwrap(); // middle
    assert_eq!((s.first_index(), s.last_index()), (Ok(3), Ok(5)));
    assert_eq!(s.term(2), Ok(2));
    s.wl().compact(2).unwrap(); // now below first: no-op
    assert_eq!(s.first_index(), Ok(3));

    let s = fresh();
    s.wl().compact(5).unwrap(); // last
    assert_eq!((s.first_index(), s.last_index()), (Ok(5), Ok(5)));
    assert_eq!(s.entries(5, 6, None).unwrap(), vec![e(5, 5)]);

    let s = fresh();
    s.wl().compact(6).unwrap(); // last + 1: empty log after index 5
    assert_eq!((s.first_index(), s.last_index()), (Ok(6), Ok(5)));
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.wl().compact(8), Err(StorageError::Unavailable));
    assert_eq!(s.wl().compact(u64::MAX), Err(StorageError::Unavailable));
    // Appending continues after the compaction point.
    s.wl().append(&[e(6, 6)]).unwrap();
    assert_eq!(s.last_index(), Ok(6));
}

/// apply_snapshot(): replaces the log, raises commit and term, takes the
/// snapshot's membership, and `snapshot()` returns it.
#[test]
fn apply_snapshot_replaces_log() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().set_hardstate(HardState {
        term: 1,
        vote: 2,
        commit: 3,
    });
    s.wl().apply_snapshot(snap(8, 2)).unwrap();
    assert_eq!(s.first_index(), Ok(9));
    assert_eq!(s.last_index(), Ok(8));
    assert_eq!(s.term(8), Ok(2));
    assert_eq!(s.term(7), Err(StorageError::Compacted));
    let st = s.initial_state().unwrap();
    assert_eq!(
        st.hard_state,
        HardState {
            term: 2,
            vote: 2,
            commit: 8
        }
    );
    assert_eq!(st.conf_state, ConfState::from((vec![1, 2, 3], vec![])));
    assert_eq!(s.snapshot(8, 0), Ok(snap(8, 2)));
    assert_eq!(
        s.snapshot(9, 0),
        Err(StorageError::SnapshotTemporarilyUnavailable)
    );
}

/// apply_snapshot() never lowers the hard state.
#[test]
fn apply_snapshot_keeps_higher_hard_state() {
    let s = MemStorage::new();
    s.wl().set_hardstate(HardState {
        term: 9,
        vote: 1,
        commit: 0,
    });
    s.wl().apply_snapshot(snap(4, 2)).unwrap();
    assert_eq!(
        *s.rl().hard_state(),
        HardState {
            term: 9,
            vote: 1,
            commit: 4
        }
    );
}

/// apply_snapshot(): an old snapshot is SnapshotOutOfDate, a snapshot
/// without metadata or at u64::MAX is Other; nothing changes.
#[test]
fn apply_snapshot_errors() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().compact(4).unwrap();
    assert_eq!(
        s.wl().apply_snapshot(snap(2, 1)),
        Err(StorageError::SnapshotOutOfDate)
    );
    assert_eq!(
        s.wl().apply_snapshot(snap(3, 1)),
        Err(StorageError::SnapshotOutOfDate)
    );
    assert!(matches!(
        s.wl().apply_snapshot(Snapshot::default()),
        Err(StorageError::Other(_))
    ));
    assert!(matches!(
        s.wl().apply_snapshot(snap(u64::MAX, 1)),
        Err(StorageError::Other(_))
    ));
    assert_eq!((s.first_index(), s.last_index()), (Ok(4), Ok(5)));
    // The largest index is accepted, and nothing overflows around it.
    s.wl().apply_snapshot(snap(MAX_LOG_INDEX, 1)).unwrap();
    assert_eq!(s.first_index(), Ok(u64::MAX));
    assert_eq!(s.last_index(), Ok(MAX_LOG_INDEX));
    assert_eq!(s.entries(u64::MAX, u64::MAX, None), Ok(vec![]));
    assert!(s.wl().append(&[e(u64::MAX, 1)]).is_err());
}

/// A snapshot whose metadata lacks a conf state counts as an empty one.
#[test]
fn apply_snapshot_without_conf_state() {
    let s = MemStorage::new_with_conf_state((vec![1], vec![]));
    let snap = Snapshot {
        metadata: Some(SnapshotMetadata {
            index: 3,
            term: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    s.wl().apply_snapshot(snap).unwrap();
    assert_eq!(s.initial_state().unwrap().conf_state, ConfState::default());
}

/// snapshot(): an empty one at 0 if none, else the latest made.
#[test]
fn snapshot_latest_or_temporarily_unavailable() {
    let s = storage_with(&ents(1, 5, 1));
    let empty = s.snapshot(0, 0).unwrap();
    assert_eq!(empty.metadata.as_ref().unwrap().index, 0);
    assert_eq!(
        s.snapshot(1, 0),
        Err(StorageError::SnapshotTemporarilyUnavailable)
    );
    let made = s.wl().create_snapshot(3, None, "img".into()).unwrap();
    assert_eq!(s.snapshot(2, 0), Ok(made.clone()));
    assert_eq!(s.snapshot(3, 0), Ok(made.clone()));
    assert_eq!(
        s.snapshot(4, 0),
        Err(StorageError::SnapshotTemporarilyUnavailable)
    );
    // Test hook: fails exactly once.
    s.wl().trigger_snap_unavailable();
    assert_eq!(
        s.snapshot(0, 0),
        Err(StorageError::SnapshotTemporarilyUnavailable)
    );
    assert_eq!(s.snapshot(0, 0), Ok(made));
}

/// snapshot(request_index, to) builds one on demand at the commit index,
/// with the current membership, when the latest is older than requested or
/// leaves `to` out (raft-rs's MemStorage; the embedder issue's joining node).
#[test]
fn snapshot_on_demand_at_commit_for_a_newer_request_or_a_new_peer() {
    let s = storage_with(&ents(1, 5, 1));
    let made = s.wl().create_snapshot(2, None, "img".into()).unwrap();
    s.wl().set_hardstate(HardState {
        term: 1,
        vote: 1,
        commit: 4,
    });
    let built = s.snapshot(3, 0).unwrap();
    let meta = built.metadata.clone().unwrap();
    assert_eq!((meta.index, meta.term), (4, 1));
    assert!(built.data.is_empty());
    assert_eq!(
        meta.conf_state,
        Some(ConfState::from((vec![1, 2, 3], vec![])))
    );
    // Not kept: the latest made is still the one answered when it suffices.
    assert_eq!(s.snapshot(2, 2), Ok(made.clone()));
    // Node 4 was added after snapshot 2: it gets one with itself in it.
    s.wl()
        .set_conf_state(ConfState::from((vec![1, 2, 3, 4], vec![])));
    let for4 = s.snapshot(2, 4).unwrap();
    let cs = for4.metadata.unwrap().conf_state.unwrap();
    assert!(cs.voters.contains(&4));
    // Nothing at or past a request beyond the commit index.
    assert_eq!(
        s.snapshot(5, 0),
        Err(StorageError::SnapshotTemporarilyUnavailable)
    );
}

/// create_snapshot(): term is term(idx), cs defaults to the storage's,
/// older is SnapshotOutOfDate, beyond last is Unavailable.
#[test]
fn create_snapshot_rules() {
    let s = storage_with(&[e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
    let snap3 = s.wl().create_snapshot(3, None, "a".into()).unwrap();
    let meta = snap3.metadata.as_ref().unwrap();
    assert_eq!((meta.index, meta.term), (3, 2));
    assert_eq!(
        meta.conf_state,
        Some(ConfState::from((vec![1, 2, 3], vec![])))
    );
    assert_eq!(&snap3.data[..], b"a");
    assert_eq!(
        s.wl().create_snapshot(3, None, "b".into()),
        Err(StorageError::SnapshotOutOfDate)
    );
    assert_eq!(
        s.wl().create_snapshot(2, None, "b".into()),
        Err(StorageError::SnapshotOutOfDate)
    );
    assert_eq!(
        s.wl().create_snapshot(5, None, "b".into()),
        Err(StorageError::Unavailable)
    );
    assert_eq!(
        s.wl().create_snapshot(u64::MAX, None, "b".into()),
        Err(StorageError::Unavailable)
    );
    let cs = ConfState::from((vec![1], vec![2]));
    let snap4 = s
        .wl()
        .create_snapshot(4, Some(cs.clone()), "c".into())
        .unwrap();
    assert_eq!(snap4.metadata.unwrap().conf_state, Some(cs));
    // create_snapshot does not compact.
    assert_eq!(s.first_index(), Ok(1));
}

/// create_snapshot() below a compaction point cannot know the term: out of date.
#[test]
fn create_snapshot_below_compaction_is_out_of_date() {
    let s = storage_with(&ents(1, 5, 1));
    s.wl().compact(4).unwrap();
    assert_eq!(
        s.wl().create_snapshot(2, None, "x".into()),
        Err(StorageError::SnapshotOutOfDate)
    );
    // At the dummy entry it still works: its term is known.
    assert!(s.wl().create_snapshot(3, None, "x".into()).is_ok());
}

/// set_hardstate / hard_state / set_conf_state / commit_to round trip.
#[test]
fn hard_and_conf_state_setters() {
    let s = storage_with(&ents(1, 3, 1));
    s.wl().set_hardstate(HardState {
        term: 3,
        vote: 1,
        commit: 2,
    });
    assert_eq!(
        *s.rl().hard_state(),
        HardState {
            term: 3,
            vote: 1,
            commit: 2
        }
    );
    s.wl().commit_to(3).unwrap();
    assert_eq!(s.rl().hard_state().commit, 3);
    assert_eq!(s.wl().commit_to(4), Err(StorageError::Unavailable));
    s.wl().set_conf_state(ConfState::from((vec![4], vec![])));
    assert_eq!(s.initial_state().unwrap().conf_state.voters, vec![4]);
    assert_eq!(s.rl().raft_state().hard_state.term, 3);
}

/// Clones share one log (the application and the core hold the same store).
#[test]
fn clones_share_state() {
    let a = MemStorage::new();
    let b = a.clone();
    a.wl().append(&ents(1, 2, 1)).unwrap();
    assert_eq!(b.last_index(), Ok(2));
}

/// Error values display something a log line can use.
#[test]
fn errors_display() {
    assert!(
        StorageError::Unavailable
            .to_string()
            .contains("unavailable")
    );
    assert!(
        StorageError::Other("disk".into())
            .to_string()
            .contains("disk")
    );
    let e: Box<dyn std::error::Error> = Box::new(StorageError::SnapshotOutOfDate);
    assert!(!e.to_string().is_empty());
}
