//! Model test (issue 2): random sequences of append / truncate-append /
//! compact / snapshot / stable_to / commit_to / applied_to against a plain
//! `Vec<Entry>` model. After every step the `RaftLog` view, the `MemStorage`
//! view and the model agree, and no call panics.
//!
//! The engine in these runs writes the snapshot before entries and compacts
//! only applied, written entries; it may write without acknowledging (yet)
//! and acknowledge before its storage shows the write, as an engine with
//! asynchronous persistence does. The
//! core side (the operations on `RaftLog`) is not trusted: it also sends
//! stale acknowledgements, gaps, rewrites of committed entries, snapshots
//! without metadata and indexes near `u64::MAX`, which must be refused.

mod common;

use common::{logger, snap};
use proptest::prelude::*;
use tinyraft_log::storage::{MAX_LOG_INDEX, MemStorage, Storage};
use tinyraft_log::{RaftLog, StorageError};
use tinyraft_proto::eraftpb::{Entry, Snapshot};

/// The log as it should look: a dummy entry and the entries after it.
#[derive(Debug, Clone)]
struct Model {
    dummy_index: u64,
    dummy_term: u64,
    /// `ents[i].index == dummy_index + 1 + i`.
    ents: Vec<Entry>,
    /// Restored, not yet acknowledged (`unstable_snapshot`).
    pending: Option<Snapshot>,
    /// Restored, not yet applied to the storage by the engine.
    unwritten_snap: Option<Snapshot>,
    /// The storage holds the view's entries up to here (once
    /// `unwritten_snap` is `None`).
    written: u64,
    committed: u64,
    applied: u64,
    stabled: u64,
}

impl Model {
    fn first(&self) -> u64 {
        self.dummy_index + 1
    }

    fn last(&self) -> u64 {
        self.dummy_index + self.ents.len() as u64
    }

    fn term(&self, i: u64) -> Option<u64> {
        if i == self.dummy_index {
            return Some(self.dummy_term);
        }
        if i < self.dummy_index || i > self.last() {
            return None;
        }
        Some(self.ents[(i - self.dummy_index - 1) as usize].term)
    }

    /// The entries in `[lo, hi]` (clipped).
    fn range(&self, lo: u64, hi: u64) -> Vec<Entry> {
        self.ents
            .iter()
            .filter(|e| e.index >= lo && e.index <= hi)
            .cloned()
            .collect()
    }

    /// Sets `written` to the end of the longest prefix of the view the
    /// storage holds (once it applied any restored snapshot).
    fn sync_written(&mut self, store: &MemStorage) {
        let mut w = self.dummy_index;
        while w < self.last() && store.term(w + 1).ok() == self.term(w + 1) {
            w += 1;
        }
        self.written = w;
    }

    /// Whether `RaftLog::append` must accept `ents`.
    fn append_ok(&self, ents: &[Entry]) -> bool {
        let Some(first) = ents.first() else {
            return true;
        };
        let contiguous = ents
            .windows(2)
            .all(|w| w[0].index.checked_add(1) == Some(w[1].index));
        contiguous
            && ents.last().is_some_and(|l| l.index <= MAX_LOG_INDEX)
            && first.index > self.committed
            && first.index >= self.first()
            && first.index <= self.last() + 1
    }

    fn truncate_append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        // The storage still matches the new view up to just before the
        // first entry that differs (or up to the last new entry).
        let same_upto = match ents.iter().find(|e| self.term(e.index) != Some(e.term)) {
            Some(e) => e.index - 1,
            None => ents[ents.len() - 1].index,
        };
        self.written = self.written.min(same_upto);
        let keep = (first.index - self.first()) as usize;
        self.ents.truncate(keep);
        self.ents.extend_from_slice(ents);
        if first.index <= self.stabled {
            self.stabled = first.index - 1;
        }
    }
}

/// One step. Numbers are raw choices; `World::step` turns them into indexes relative
/// to the current state so most steps do something interesting.
#[derive(Debug, Clone)]
enum Op {
    /// `RaftLog::append` at `last + 1 - back` (a truncate-append if back > 0).
    Append {
        back: u64,
        n: u64,
        term: u64,
    },
    /// `RaftLog::append` leaving a gap.
    AppendGap {
        gap: u64,
    },
    /// `RaftLog::append` with non-contiguous entries.
    AppendNonContiguous,
    /// A leader's append via `maybe_append` at `last - back`.
    MaybeAppend {
        back: u64,
        right_term: bool,
        n: u64,
        term: u64,
        commit: u64,
    },
    /// The engine writes the restored snapshot, then a prefix (`quarters`
    /// quarters) of the entries it has not written, and acknowledges them
    /// if `ack` (else it acknowledges later, or never).
    Persist {
        quarters: u64,
        ack: bool,
    },
    /// The engine acknowledges entries up to `last - back` before its
    /// storage shows them (an engine whose reads lag its writes).
    LagAck {
        back: u64,
    },
    /// A stale acknowledgement: right index, wrong term.
    StaleStable {
        back: u64,
    },
    /// The engine snapshots (sometimes) and compacts its storage.
    Compact {
        pick: u64,
        snapshot_first: bool,
    },
    /// A leader's snapshot `ahead` past the commit index.
    Restore {
        ahead: u64,
        term: u64,
    },
    /// A snapshot without metadata.
    RestoreNoMetadata,
    CommitTo {
        delta: u64,
    },
    MaybeCommit {
        back: u64,
        right_term: bool,
    },
    AppliedTo {
        delta: i64,
    },
    /// Read-only: `slice` with a size limit and `find_conflict_by_term`,
    /// checked against the model.
    Query {
        lo: u64,
        len: u64,
        max_entries: Option<u64>,
        term: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u64, 1..5u64, 1..6u64).prop_map(|(back, n, term)| Op::Append { back, n, term }),
        1 => (1..4u64).prop_map(|gap| Op::AppendGap { gap }),
        1 => Just(Op::AppendNonContiguous),
        4 => (0..6u64, any::<bool>(), 0..5u64, 1..6u64, 0..10u64).prop_map(
            |(back, right_term, n, term, commit)| Op::MaybeAppend { back, right_term, n, term, commit }
        ),
        4 => (0..5u64, prop::bool::weighted(0.8)).prop_map(|(quarters, ack)| Op::Persist { quarters, ack }),
        1 => (0..4u64).prop_map(|back| Op::LagAck { back }),
        1 => (0..4u64).prop_map(|back| Op::StaleStable { back }),
        2 => (any::<u64>(), any::<bool>())
            .prop_map(|(pick, snapshot_first)| Op::Compact { pick, snapshot_first }),
        1 => (1..8u64, 1..8u64).prop_map(|(ahead, term)| Op::Restore { ahead, term }),
        1 => Just(Op::RestoreNoMetadata),
        3 => (0..6u64).prop_map(|delta| Op::CommitTo { delta }),
        2 => (0..4u64, any::<bool>()).prop_map(|(back, right_term)| Op::MaybeCommit { back, right_term }),
        3 => (-2..5i64).prop_map(|delta| Op::AppliedTo { delta }),
        3 => (0..12u64, 0..8u64, proptest::option::of(0..5u64), 0..8u64)
            .prop_map(|(lo, len, max_entries, term)| Op::Query { lo, len, max_entries, term }),
    ]
}

fn ents_from(at: u64, n: u64, term: u64) -> Vec<Entry> {
    (0..n)
        .map_while(|k| at.checked_add(k))
        .map(|index| Entry {
            index,
            term,
            data: vec![index as u8].into(),
            ..Default::default()
        })
        .collect()
}

struct World {
    log: RaftLog<MemStorage>,
    store: MemStorage,
    model: Model,
}

impl World {
    fn new(base: u64, base_term: u64) -> World {
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        if base > 0 {
            store
                .wl()
                .apply_snapshot(snap(base, base_term))
                .expect("initial snapshot");
        }
        let term = if base > 0 { base_term } else { 0 };
        let log = RaftLog::new(store.clone(), logger());
        let model = Model {
            dummy_index: base,
            dummy_term: term,
            ents: Vec::new(),
            pending: None,
            unwritten_snap: None,
            written: base,
            committed: base,
            applied: base,
            stabled: base,
        };
        World { log, store, model }
    }

    fn step(&mut self, op: &Op) {
        let m = &mut self.model;
        let log = &mut self.log;
        match *op {
            Op::Append { back, n, term } => {
                let at = (m.last() + 1).saturating_sub(back);
                let ents = ents_from(at, n, term);
                let ok = m.append_ok(&ents);
                if ok {
                    m.truncate_append(&ents);
                }
                assert_eq!(
                    log.append(&ents),
                    m.last(),
                    "append at {at} (accepted: {ok})"
                );
            }
            Op::AppendGap { gap } => {
                let ents = ents_from(m.last().saturating_add(1).saturating_add(gap), 1, 1);
                assert_eq!(log.append(&ents), m.last());
            }
            Op::AppendNonContiguous => {
                let at = m.last() + 1;
                let ents = vec![
                    ents_from(at, 1, 9)[0].clone(),
                    ents_from(at.saturating_add(2), 1, 9)[0].clone(),
                ];
                assert_eq!(log.append(&ents), m.last());
            }
            Op::MaybeAppend {
                back,
                right_term,
                n,
                term,
                commit,
            } => {
                let idx = m.last().saturating_sub(back);
                let log_term = match (m.term(idx), right_term) {
                    (Some(t), true) => t,
                    (Some(t), false) => t + 1,
                    (None, _) => 1,
                };
                let ents = ents_from(idx.saturating_add(1), n, term);
                let leader_commit = m.committed.saturating_add(commit).saturating_sub(3);
                let expected = model_maybe_append(m, idx, log_term, leader_commit, &ents);
                assert_eq!(
                    log.maybe_append(idx, log_term, leader_commit, &ents),
                    expected
                );
            }
            Op::Persist { quarters, ack } => {
                if let Some(s) = m.unwritten_snap.take() {
                    let idx = s.metadata.as_ref().unwrap().index;
                    self.store
                        .wl()
                        .apply_snapshot(s)
                        .expect("storage takes a newer snapshot");
                    m.written = idx;
                }
                // The engine writes what its storage lacks, never rewriting
                // (and so truncating) what it already holds.
                m.sync_written(&self.store);
                if ack {
                    if let Some(s) = m.pending.take() {
                        let idx = s.metadata.as_ref().unwrap().index;
                        log.stable_snap_to(idx);
                        m.stabled = m.stabled.max(idx);
                    }
                }
                let todo = m.range(m.written + 1, m.last());
                let j = (todo.len() as u64 * quarters).div_ceil(4) as usize;
                if j > 0 {
                    self.store
                        .wl()
                        .append(&todo[..j])
                        .expect("storage takes the entries after what it holds");
                    m.written = todo[j - 1].index;
                }
                if ack && m.written > m.stabled && m.written >= m.first() {
                    log.stable_to(m.written, m.term(m.written).unwrap());
                    m.stabled = m.written;
                }
            }
            Op::LagAck { back } => {
                let idx = m.last().saturating_sub(back);
                let Some(t) = m.term(idx) else { return };
                let snap_idx = m
                    .pending
                    .as_ref()
                    .map(|s| s.metadata.as_ref().unwrap().index);
                if snap_idx == Some(idx) {
                    log.stable_to(idx, t);
                    m.pending = None;
                    m.stabled = m.stabled.max(idx);
                } else if idx > m.stabled && idx >= m.first() {
                    log.stable_to(idx, t);
                    // Entries after the snapshot are durable only on top of it.
                    m.pending = None;
                    m.stabled = idx;
                }
            }
            Op::StaleStable { back } => {
                let idx = m.last().saturating_sub(back);
                if let Some(t) = m.term(idx) {
                    log.stable_to(idx, t + 1);
                }
                // Already acknowledged: acknowledging again changes nothing.
                if m.pending.is_none() && m.stabled >= m.first() && m.stabled <= m.last() {
                    let t = m.term(m.stabled).unwrap();
                    log.stable_to(m.stabled, t);
                }
            }
            Op::Compact {
                pick,
                snapshot_first,
            } => {
                if m.unwritten_snap.is_some() {
                    return;
                }
                // An engine compacts only what it applied and wrote.
                m.sync_written(&self.store);
                let limit = m.applied.min(m.written);
                let i = if limit <= m.dummy_index {
                    m.dummy_index
                } else {
                    m.dummy_index + pick % (limit - m.dummy_index + 2)
                };
                if snapshot_first && i > m.first() {
                    let _ = self.store.wl().create_snapshot(i - 1, None, "img".into());
                }
                self.store
                    .wl()
                    .compact(i)
                    .expect("compaction within the durable log");
                if i > m.first() {
                    m.dummy_term = m.term(i - 1).unwrap();
                    m.ents.drain(..(i - m.first()) as usize);
                    m.dummy_index = i - 1;
                }
            }
            Op::Restore { ahead, term } => {
                let idx = m.committed.saturating_add(ahead);
                let s = snap(idx, term);
                let r = log.restore(s.clone());
                if idx > MAX_LOG_INDEX {
                    assert!(matches!(r, Err(StorageError::Other(_))), "{r:?}");
                } else {
                    assert_eq!(r, Ok(()));
                    m.dummy_index = idx;
                    m.dummy_term = term;
                    m.ents.clear();
                    m.committed = idx;
                    m.stabled = m.stabled.min(idx);
                    m.pending = Some(s.clone());
                    m.unwritten_snap = Some(s);
                }
            }
            Op::RestoreNoMetadata => {
                assert!(matches!(
                    log.restore(Snapshot::default()),
                    Err(StorageError::Other(_))
                ));
            }
            Op::CommitTo { delta } => {
                let k = m.committed.saturating_add(delta).saturating_sub(1);
                let r = log.commit_to(k);
                if k > m.last() && k > m.committed {
                    assert_eq!(r, Err(StorageError::Unavailable));
                } else {
                    assert_eq!(r, Ok(()));
                    m.committed = m.committed.max(k);
                }
            }
            Op::MaybeCommit { back, right_term } => {
                let k = m.last().saturating_sub(back);
                let Some(t) = m.term(k) else { return };
                let t = if right_term { t } else { t + 1 };
                let expect = right_term && k > m.committed;
                assert_eq!(log.maybe_commit(k, t), expect);
                if expect {
                    m.committed = k;
                }
            }
            Op::Query {
                lo,
                len,
                max_entries,
                term,
            } => {
                // lo counts back from one past the last index.
                let lo = (m.last() + 1).saturating_sub(lo);
                let hi = lo.saturating_add(len);
                // A limit around k entries' worth of bytes (entries here
                // differ in size only by their index's varint length).
                let one = m.ents.first().map_or(1, common::size);
                let max_size = max_entries.map(|k| k * one);
                let expected = if lo < m.first() {
                    Err(StorageError::Compacted)
                } else if hi > m.last() + 1 {
                    Err(StorageError::Unavailable)
                } else {
                    let mut v = m.range(lo, hi - 1);
                    if let Some(max) = max_size {
                        // The longest prefix within max, but at least one entry.
                        let mut total = 0;
                        let keep = v
                            .iter()
                            .take_while(|e| {
                                total += common::size(e);
                                total <= max
                            })
                            .count();
                        v.truncate(keep.max(1));
                    }
                    Ok(v)
                };
                assert_eq!(
                    log.slice(lo, hi, max_size),
                    expected,
                    "slice({lo}, {hi}, {max_size:?})"
                );
                let idx = (m.last() + 1).saturating_sub(len);
                let want = {
                    let mut i = idx.min(m.last());
                    loop {
                        match m.term(i) {
                            Some(t) if t <= term => break (i, t),
                            Some(_) if i > 0 => i -= 1,
                            Some(_) => break (0, 0),
                            None => break (i, 0),
                        }
                    }
                };
                assert_eq!(
                    log.find_conflict_by_term(idx, term),
                    want,
                    "find_conflict_by_term({idx}, {term})"
                );
            }
            Op::AppliedTo { delta } => {
                let k = m.applied.saturating_add_signed(delta);
                let r = log.applied_to(k);
                if k > m.committed || k < m.applied {
                    assert!(matches!(r, Err(StorageError::Other(_))), "{r:?}");
                } else {
                    assert_eq!(r, Ok(()));
                    m.applied = k;
                }
            }
        }
    }

    /// The three views agree.
    fn check(&self) {
        let (log, m) = (&self.log, &self.model);
        assert_eq!(log.first_index(), m.first(), "first_index");
        assert_eq!(log.last_index(), m.last(), "last_index");
        assert_eq!(log.all_entries(), m.ents, "all_entries");
        assert_eq!(
            (log.committed, log.applied, log.stabled),
            (m.committed, m.applied, m.stabled)
        );
        assert!(
            m.applied <= m.committed && m.committed <= m.last(),
            "cursor order"
        );
        for i in m.dummy_index..=m.last() {
            assert_eq!(log.term(i).ok(), m.term(i), "term({i})");
        }
        if m.dummy_index > 0 {
            assert_eq!(log.term(m.dummy_index - 1), Err(StorageError::Compacted));
        }
        if m.last() < u64::MAX {
            assert_eq!(log.term(m.last() + 1), Err(StorageError::Unavailable));
        }
        assert_eq!(log.last_term(), m.term(m.last()).unwrap());
        // Unacknowledged entries the engine already compacted may still be
        // listed (they lie below the first index); the rest are the model's.
        let unstable: Vec<Entry> = log.unstable_entries().to_vec();
        assert!(unstable.iter().all(|e| e.index > m.stabled));
        let visible: Vec<Entry> = unstable
            .into_iter()
            .filter(|e| e.index >= m.first())
            .collect();
        assert_eq!(
            visible,
            m.range(m.stabled + 1, m.last()),
            "unstable entries"
        );
        assert_eq!(log.unstable_snapshot(), m.pending.as_ref());
        let ready = m.range(m.applied + 1, m.committed.min(m.stabled));
        let ready = if ready.is_empty() { None } else { Some(ready) };
        assert_eq!(log.has_next_entries(), ready.is_some());
        assert_eq!(log.next_entries(), ready, "next_entries");
        assert_eq!(
            log.entries(m.first(), Some(0)).unwrap().len(),
            m.ents.len().min(1)
        );

        // The storage holds everything the engine wrote, identically.
        if m.unwritten_snap.is_none() {
            let s = &self.store;
            assert_eq!(s.first_index(), Ok(m.first()), "storage first_index");
            assert!(
                s.last_index().unwrap() >= m.written,
                "storage holds what was written"
            );
            assert_eq!(
                s.term(m.dummy_index),
                Ok(m.dummy_term),
                "storage dummy term"
            );
            let durable = s
                .entries(m.first(), m.written + 1, None)
                .expect("written entries");
            assert_eq!(durable, m.range(m.first(), m.written), "storage entries");
        }
    }
}

/// The §5.3 rule, written out plainly over the model.
fn model_maybe_append(
    m: &mut Model,
    idx: u64,
    term: u64,
    commit: u64,
    ents: &[Entry],
) -> Option<(u64, u64)> {
    if m.term(idx) != Some(term) {
        return None;
    }
    let last_new = idx + ents.len() as u64;
    let conflict = ents
        .iter()
        .find(|e| m.term(e.index) != Some(e.term))
        .map_or(0, |e| e.index);
    if conflict != 0 {
        if conflict <= m.committed {
            return None;
        }
        let rest = &ents[(conflict - idx - 1) as usize..];
        if !m.append_ok(rest) {
            return None;
        }
        m.truncate_append(rest);
    }
    m.committed = m.committed.max(commit.min(last_new));
    Some((conflict, last_new))
}

fn base() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        Just((0, 0)),
        (1..50u64, 1..3u64),
        Just((MAX_LOG_INDEX - 12, 2))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// RaftLog, MemStorage and the Vec model agree after every step.
    #[test]
    fn raft_log_matches_model((base, base_term) in base(), ops in proptest::collection::vec(op(), 1..80)) {
        let mut w = World::new(base, base_term);
        w.check();
        for op in &ops {
            w.step(op);
            w.check();
        }
    }
}

/// A sequence the model search found (issue 11 session): a truncating
/// append over entries the engine wrote but acknowledged late (`LagAck`)
/// must not bring the replaced entries back into view.
#[test]
fn lagging_ack_after_truncating_append_keeps_the_new_entries() {
    let mut w = World::new(0, 0);
    let ops = [
        Op::Append {
            back: 0,
            n: 2,
            term: 1,
        },
        Op::Append {
            back: 1,
            n: 3,
            term: 3,
        },
        Op::MaybeAppend {
            back: 0,
            right_term: true,
            n: 1,
            term: 2,
            commit: 0,
        },
        Op::MaybeAppend {
            back: 0,
            right_term: true,
            n: 1,
            term: 1,
            commit: 0,
        },
        Op::Persist {
            quarters: 3,
            ack: false,
        },
        Op::Append {
            back: 3,
            n: 4,
            term: 2,
        },
        Op::LagAck { back: 2 },
    ];
    w.check();
    for op in &ops {
        w.step(op);
        w.check();
    }
}
