//! The never-panic rule (issue 2, "Done when"): no input to a public
//! `RaftLog`/`MemStorage` function panics, including indexes near `u64::MAX`,
//! nonsense ranges, malformed entries and a storage that fails.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{e, ents, logger, snap};
use proptest::prelude::*;
use tinyraft_log::storage::{MemStorage, RaftState, Storage};
use tinyraft_log::{RaftLog, Result, StorageError};
use tinyraft_proto::eraftpb::{Entry, Snapshot};

/// A storage that fails every call while `fail` is set, as a broken disk does.
#[derive(Clone, Default)]
struct Flaky {
    inner: MemStorage,
    fail: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            Err(StorageError::Other("disk on fire".into()))
        } else {
            Ok(())
        }
    }
}

impl Storage for Flaky {
    fn initial_state(&self) -> Result<RaftState> {
        self.check()?;
        self.inner.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max_size: Option<u64>) -> Result<Vec<Entry>> {
        self.check()?;
        self.inner.entries(low, high, max_size)
    }
    fn term(&self, idx: u64) -> Result<u64> {
        self.check()?;
        self.inner.term(idx)
    }
    fn first_index(&self) -> Result<u64> {
        self.check()?;
        self.inner.first_index()
    }
    fn last_index(&self) -> Result<u64> {
        self.check()?;
        self.inner.last_index()
    }
    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        self.check()?;
        self.inner.snapshot(request_index, to)
    }
}

/// A failing storage at startup is an error from `try_new`, not a panic.
#[test]
fn try_new_reports_storage_failure() {
    let s = Flaky::default();
    s.fail.store(true, Ordering::SeqCst);
    assert!(matches!(
        RaftLog::try_new(s, logger()),
        Err(StorageError::Other(_))
    ));
}

/// A storage failing mid-run: reads are errors (or logged fallbacks where
/// the signature has no room for one), nothing panics, and the log works
/// again once the storage recovers.
#[test]
fn failing_storage_is_errors_not_panics() {
    let s = Flaky::default();
    s.inner.wl().append(&ents(1, 5, 1)).unwrap();
    let mut log = RaftLog::new(s.clone(), logger());
    log.append(&ents(6, 7, 2));
    s.fail.store(true, Ordering::SeqCst);

    assert!(log.term(3).is_err());
    assert_eq!(log.term(7), Ok(2), "unstable entries need no storage");
    assert!(log.entries(1, None).is_err());
    assert!(log.slice(2, 4, None).is_err());
    assert!(log.snapshot(0, 0).is_err());
    assert!(!log.match_term(3, 1));
    let _ = log.first_index();
    let _ = log.last_index();
    let _ = log.last_term();
    let _ = log.all_entries();
    let _ = log.is_up_to_date(7, 2);
    let _ = log.find_conflict(&ents(1, 7, 1));
    let _ = log.find_conflict_by_term(7, 1);
    assert_eq!(log.maybe_append(3, 1, 3, &[e(4, 1)]), None);
    let _ = log.maybe_commit(7, 2);
    let _ = log.commit_to(7);
    let _ = log.applied_to(1);
    log.stable_to(6, 2);
    let _ = log.next_entries();
    let _ = log.has_next_entries();
    let _ = log.restore(snap(9, 3));

    s.fail.store(false, Ordering::SeqCst);
    assert_eq!(log.last_index(), 9);
    assert_eq!(log.term(9), Ok(3));
}

/// Argument values that find edge cases: small, near u64::MAX, anything.
fn num() -> impl Strategy<Value = u64> {
    prop_oneof![0..12u64, (u64::MAX - 3)..=u64::MAX, any::<u64>()]
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    prop_oneof![
        // contiguous run
        (num(), 0..4u64, 0..4u64).prop_map(|(at, n, t)| {
            (0..n)
                .map_while(|k| at.checked_add(k))
                .map(|i| e(i, t))
                .collect()
        }),
        // anything
        proptest::collection::vec((num(), num()).prop_map(|(i, t)| e(i, t)), 0..4),
    ]
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    prop_oneof![
        3 => (num(), num()).prop_map(|(i, t)| snap(i, t)),
        1 => Just(Snapshot::default()),
    ]
}

#[derive(Debug, Clone)]
enum Call {
    Append(Vec<Entry>),
    MaybeAppend(u64, u64, u64, Vec<Entry>),
    CommitTo(u64),
    MaybeCommit(u64, u64),
    AppliedTo(u64),
    StableTo(u64, u64),
    StableSnapTo(u64),
    Restore(Snapshot),
    Reads(u64, u64, Option<u64>),
    StoreAppend(Vec<Entry>),
    StoreCompact(u64),
    StoreApplySnapshot(Snapshot),
    StoreCreateSnapshot(u64),
    StoreReads(u64, u64, Option<u64>),
    StoreCommitTo(u64),
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        entries().prop_map(Call::Append),
        (num(), num(), num(), entries()).prop_map(|(a, b, c, d)| Call::MaybeAppend(a, b, c, d)),
        num().prop_map(Call::CommitTo),
        (num(), num()).prop_map(|(a, b)| Call::MaybeCommit(a, b)),
        num().prop_map(Call::AppliedTo),
        (num(), num()).prop_map(|(a, b)| Call::StableTo(a, b)),
        num().prop_map(Call::StableSnapTo),
        snapshot().prop_map(Call::Restore),
        (num(), num(), proptest::option::of(num())).prop_map(|(a, b, c)| Call::Reads(a, b, c)),
        entries().prop_map(Call::StoreAppend),
        num().prop_map(Call::StoreCompact),
        snapshot().prop_map(Call::StoreApplySnapshot),
        num().prop_map(Call::StoreCreateSnapshot),
        (num(), num(), proptest::option::of(num())).prop_map(|(a, b, c)| Call::StoreReads(a, b, c)),
        num().prop_map(Call::StoreCommitTo),
    ]
}

/// Runs `calls`. With `only_log` the storage never changes, so every
/// acknowledgement is one the engine did not back with a write: the log must
/// still keep its own invariants after every call.
fn run(calls: Vec<Call>, only_log: bool) -> std::result::Result<(), TestCaseError> {
    let store = MemStorage::new_with_conf_state((vec![1], vec![]));
    store.wl().append(&ents(1, 3, 1)).unwrap();
    let mut log = RaftLog::new(store.clone(), logger());
    for c in calls {
        match c {
            Call::Append(ents) => {
                log.append(&ents);
            }
            Call::MaybeAppend(i, t, c, ents) => {
                let _ = log.maybe_append(i, t, c, &ents);
            }
            Call::CommitTo(i) => {
                let _ = log.commit_to(i);
            }
            Call::MaybeCommit(i, t) => {
                let _ = log.maybe_commit(i, t);
            }
            Call::AppliedTo(i) => {
                let _ = log.applied_to(i);
            }
            Call::StableTo(i, t) => log.stable_to(i, t),
            Call::StableSnapTo(i) => log.stable_snap_to(i),
            Call::Restore(s) => {
                let _ = log.restore(s);
            }
            Call::Reads(a, b, m) => {
                let _ = log.term(a);
                let _ = log.slice(a, b, m);
                let _ = log.entries(a, m);
                let _ = log.find_conflict_by_term(a, b);
                let _ = log.is_up_to_date(a, b);
                let _ = log.snapshot(a, 0);
                let _ = log.next_entries_limited(m);
                let _ = log.all_entries();
                let _ = log.unstable_entries();
                let _ = log.to_string();
            }
            _ if only_log => {}
            Call::StoreAppend(ents) => {
                let _ = store.wl().append(&ents);
            }
            Call::StoreCompact(i) => {
                let _ = store.wl().compact(i);
            }
            Call::StoreApplySnapshot(s) => {
                let _ = store.wl().apply_snapshot(s);
            }
            Call::StoreCreateSnapshot(i) => {
                let _ = store.wl().create_snapshot(i, None, "x".into());
            }
            Call::StoreReads(a, b, m) => {
                let _ = store.term(a);
                let _ = store.entries(a, b, m);
                let _ = store.snapshot(a, 0);
                let _ = store.initial_state();
            }
            Call::StoreCommitTo(i) => {
                let _ = store.wl().commit_to(i);
            }
        }
        prop_assert!(log.applied <= log.committed, "{log}");
        let (sf, sl) = (store.first_index().unwrap(), store.last_index().unwrap());
        prop_assert!(sf <= sl.saturating_add(1), "storage first {sf} last {sl}");
        if only_log {
            // An engine rewriting storage behind the log's back can break
            // the view (that is its bug); the log alone never does.
            let (first, last) = (log.first_index(), log.last_index());
            prop_assert!(first <= last.saturating_add(1), "first {first} last {last}");
            prop_assert!(log.committed <= last, "{log}");
            prop_assert_eq!(log.all_entries().len() as u64, last + 1 - first);
            prop_assert!(log.unstable_entries().iter().all(|e| e.index > log.stabled));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary calls on the log with arbitrary arguments never panic and
    /// keep its cursors ordered: applied <= committed <= last_index,
    /// first_index <= last_index + 1.
    #[test]
    fn arbitrary_log_calls_never_panic(calls in proptest::collection::vec(call(), 1..40)) {
        run(calls, true)?;
    }

    /// Arbitrary calls on the log and on the storage under it never panic.
    #[test]
    fn arbitrary_log_and_storage_calls_never_panic(calls in proptest::collection::vec(call(), 1..40)) {
        run(calls, false)?;
    }
}
