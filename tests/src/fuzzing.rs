//! Fuzz target bodies (issue 6): plain functions of `&[u8]` that panic only
//! on a real bug, with an assertion naming the violated property.
//!
//! `fuzz/fuzz_targets/*.rs` hands libFuzzer's inputs to them, and
//! `tests/tests/fuzz_corpus.rs` runs them over the checked-in corpus
//! (`fuzz/corpus/<target>/`) and seeded random bytes on stable.
//!
//! ```
//! tinyraft_tests::fuzzing::step_message(b"\x00\x03\x01\x02");
//! ```

use bytes::Bytes;
use prost::Message as _;
use tinyraft::eraftpb::{
    ConfState, Entry, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use tinyraft::storage::MemStorage;
use tinyraft::{Error, Raft, RaftLog, StateRole};
use tinyraft_harness::faults::{FaultKind, FaultSchedule};
use tinyraft_harness::{Cluster, SimConfig};

use crate::builders::{
    config_with, hup, logger, persist, raft_from, storage_with_terms, take_msgs, vote_resp,
};
use crate::faulty_storage::FaultyStorage;

/// Reads little pieces of an input; past its end every read yields zero, so
/// every byte string is a valid (if short) program.
pub struct Bytes8<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes8<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes8 { data, pos: 0 }
    }
    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    /// A little-endian u64 from the next eight bytes.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, i| acc | (u64::from(self.u8()) << (8 * i)))
    }
    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        u64::from(self.u8()) % n
    }
    /// A value near `base` (within -2..=+5), occasionally anywhere in u64:
    /// terms and indexes mostly make sense, and sometimes sit at the edges.
    pub fn near(&mut self, base: u64) -> u64 {
        match self.u8() {
            0..=7 => self.u64(),
            8..=11 => u64::MAX - self.below(3),
            b => base.saturating_add(u64::from(b % 8)).saturating_sub(2),
        }
    }
}

const ROLES: [StateRole; 4] = [
    StateRole::Follower,
    StateRole::PreCandidate,
    StateRole::Candidate,
    StateRole::Leader,
];

/// Node 1 of group {1,2,3} in `role`, restarted from a log of `terms`
/// (committed up to `commit`), with its disk caught up and outbox empty.
fn node_in(role: StateRole, terms: &[u64], commit: u64) -> Raft<MemStorage> {
    let term = terms.iter().copied().max().unwrap_or(0).max(1);
    let s = storage_with_terms(&[1, 2, 3], terms, term);
    s.wl().set_hardstate(HardState {
        term,
        vote: 0,
        commit: commit.min(terms.len() as u64),
    });
    let mut r = raft_from(&config_with(1, role == StateRole::PreCandidate, false), s);
    match role {
        StateRole::Follower => r.become_follower(term, 2),
        StateRole::PreCandidate | StateRole::Candidate => r.step(hup(1)).expect("campaign"),
        StateRole::Leader => {
            r.step(hup(1)).expect("campaign");
            persist(&mut r);
            let t = r.term;
            let grant = vote_resp(MessageType::MsgRequestVoteResponse, 2, 1, t, true);
            r.step(grant).expect("grant");
        }
    }
    persist(&mut r);
    take_msgs(&mut r);
    assert_eq!(r.state, role, "fuzz setup: node did not reach its role");
    r
}

/// A role and a short log from the input.
fn setup(rd: &mut Bytes8) -> Raft<MemStorage> {
    let role = ROLES[rd.below(4) as usize];
    let n = rd.below(5) as usize;
    let mut terms = Vec::with_capacity(n);
    let mut t = 1;
    for _ in 0..n {
        t += rd.below(2);
        terms.push(t);
    }
    let commit = rd.below(n as u64 + 1);
    node_in(role, &terms, commit)
}

/// A message to node 1 built from the input: mostly plausible, sometimes
/// malformed (gaps, decreasing terms, huge numbers, a snapshot without
/// metadata).
fn message(rd: &mut Bytes8, r: &Raft<MemStorage>) -> Message {
    let t = rd.u8() % 20;
    let mut m = Message {
        msg_type: i32::from(t),
        to: if rd.u8() < 240 { 1 } else { rd.below(5) },
        from: rd.below(5),
        term: rd.near(r.term),
        log_term: rd.near(r.raft_log.last_term()),
        index: rd.near(r.raft_log.last_index()),
        commit: rd.near(r.raft_log.committed),
        reject: rd.u8() & 1 == 1,
        reject_hint: rd.near(r.raft_log.last_index()),
        ..Default::default()
    };
    let n = rd.below(4);
    let mut idx = m.index;
    let mut et = m.log_term;
    for _ in 0..n {
        let k = rd.u8();
        idx = if k < 230 {
            idx.saturating_add(1)
        } else {
            rd.near(idx)
        };
        et = if k & 0x10 == 0 { et } else { rd.near(et) };
        let data: Bytes = if k & 0x20 == 0 {
            Bytes::new()
        } else {
            vec![k].into()
        };
        m.entries.push(Entry {
            entry_type: i32::from(k & 0x40 != 0 && rd.u8() & 1 == 1),
            term: et,
            index: idx,
            data,
            ..Default::default()
        });
    }
    if m.msg_type() == MessageType::MsgSnapshot || rd.u8() > 250 {
        let k = rd.u8();
        m.snapshot = match k % 4 {
            0 => None,
            1 => Some(Snapshot::default()),
            _ => Some(Snapshot {
                data: Bytes::new(),
                metadata: Some(SnapshotMetadata {
                    conf_state: Some(ConfState {
                        voters: if k & 0x10 == 0 {
                            vec![1, 2, 3]
                        } else {
                            vec![2, 3]
                        },
                        learners: if k & 0x20 == 0 { vec![] } else { vec![1] },
                        ..Default::default()
                    }),
                    index: rd.near(r.raft_log.committed),
                    term: rd.near(r.term),
                }),
            }),
        };
    }
    m
}

/// What a step must leave alone when it refuses a message.
fn durable_view(r: &Raft<MemStorage>) -> (HardState, Vec<(u64, u64)>) {
    let ids = r
        .raft_log
        .all_entries()
        .iter()
        .map(|e| (e.index, e.term))
        .collect();
    (r.hard_state(), ids)
}

/// Steps `m` into `r` and checks the node's own invariants afterwards.
fn step_checked(r: &mut Raft<MemStorage>, m: Message) {
    let before = durable_view(r);
    let term = r.term;
    let desc = format!("{:?} term {} index {}", m.msg_type, m.term, m.index);
    let res = r.step(m);
    if let Err(Error::InvalidMessage(_)) = &res {
        assert!(
            durable_view(r) == before,
            "invalid-message rule: a refused message changed state ({desc})"
        );
    }
    assert!(
        r.term >= term,
        "§5.1: term decreased {term} -> {} ({desc})",
        r.term
    );
    let last = r.raft_log.last_index();
    assert!(
        r.raft_log.committed <= last,
        "commit {} beyond last index {last} ({desc})",
        r.raft_log.committed
    );
    let ents = r.raft_log.all_entries();
    for w in ents.windows(2) {
        assert!(
            w[0].index + 1 == w[1].index && w[0].term <= w[1].term,
            "log contiguity: ({}, {}) followed by ({}, {}) ({desc})",
            w[0].index,
            w[0].term,
            w[1].index,
            w[1].term
        );
    }
    if let Some(e) = ents.last() {
        assert_eq!(e.index, last, "last_index disagrees with the log ({desc})");
    }
}

/// `step_message`: a role setup, then messages built from the bytes, each
/// stepped into the node, with an optional persist between them.
pub fn step_message(data: &[u8]) {
    let mut rd = Bytes8::new(data);
    let mut r = setup(&mut rd);
    let mut steps = 0;
    while !rd.is_empty() && steps < 64 {
        let m = message(&mut rd, &r);
        step_checked(&mut r, m);
        if rd.u8() & 1 == 1 {
            persist(&mut r);
        }
        take_msgs(&mut r);
        steps += 1;
    }
}

/// `decode_message`: the bytes as a protobuf `Message`; if it decodes, it is
/// addressed to node 1 and stepped into a node in each role.
pub fn decode_message(data: &[u8]) {
    let Ok(mut m) = Message::decode(data) else {
        return;
    };
    m.to = 1;
    for role in ROLES {
        let mut r = node_in(role, &[1, 1, 2], 2);
        step_checked(&mut r, m.clone());
        persist(&mut r);
    }
}

/// The model of a log: a snapshot point and the terms after it, plus the
/// three cursors.
#[derive(Debug)]
struct LogModel {
    snap: (u64, u64),
    terms: Vec<u64>,
    committed: u64,
    applied: u64,
}

impl LogModel {
    fn last(&self) -> u64 {
        self.snap.0 + self.terms.len() as u64
    }
    fn term(&self, idx: u64) -> Option<u64> {
        if idx == self.snap.0 {
            Some(self.snap.1)
        } else if idx > self.snap.0 && idx <= self.last() {
            Some(self.terms[(idx - self.snap.0 - 1) as usize])
        } else {
            None
        }
    }
}

fn check_log(log: &RaftLog<FaultyStorage>, model: &LogModel, op: &str) {
    assert_eq!(log.last_index(), model.last(), "last_index after {op}");
    assert_eq!(log.committed, model.committed, "committed after {op}");
    assert_eq!(log.applied, model.applied, "applied after {op}");
    assert!(
        log.stabled <= log.last_index(),
        "stabled beyond last after {op}"
    );
    assert!(
        log.applied <= log.committed,
        "applied beyond committed after {op}"
    );
    for idx in log.first_index()..=log.last_index() {
        assert_eq!(
            log.term(idx).ok(),
            model.term(idx),
            "term({idx}) after {op}: model {model:?}"
        );
    }
}

/// The model's answer for `log.slice(low, high, None)`: `None` for an error.
fn model_slice(
    log: &RaftLog<FaultyStorage>,
    m: &LogModel,
    low: u64,
    high: u64,
) -> Option<Vec<u64>> {
    if low > high || low < log.first_index() || high > m.last() + 1 {
        return None;
    }
    (low..high).map(|i| m.term(i)).collect()
}

/// `raftlog_ops`: a byte-driven op sequence on `RaftLog` over a
/// `MemStorage` (that sometimes fails reads), cross-checked after every op
/// against a plain model of the log: append, persist, commit, apply, compact, restore,
/// a leader's `maybe_append`, `slice`, `find_conflict_by_term`,
/// `is_up_to_date` and reads while the storage fails.
pub fn raftlog_ops(data: &[u8]) {
    let mut rd = Bytes8::new(data);
    let store = FaultyStorage::new(MemStorage::new_with_conf_state((vec![1, 2, 3], vec![])));
    let failing = store.fail_reads.clone();
    let mut log = RaftLog::new(store, logger());
    let mut m = LogModel {
        snap: (0, 0),
        terms: Vec::new(),
        committed: 0,
        applied: 0,
    };
    let mut ops = 0;
    while !rd.is_empty() && ops < 128 {
        ops += 1;
        match rd.below(12) {
            0 | 1 => {
                // append or truncate-append at `from` with non-decreasing terms
                let from = if rd.u8() < 128 {
                    m.last() + 1
                } else {
                    m.last().saturating_sub(rd.below(4)) + rd.below(2)
                };
                let n = rd.below(4) + 1;
                let mut t = m.term(from.saturating_sub(1)).unwrap_or(m.snap.1);
                let ents: Vec<Entry> = (0..n)
                    .map(|i| {
                        t += rd.below(2);
                        Entry {
                            term: t,
                            index: from + i,
                            ..Default::default()
                        }
                    })
                    .collect();
                let ok = from > m.committed && from > m.snap.0 && from <= m.last() + 1;
                let r = log.append(&ents);
                if ok {
                    m.terms.truncate((from - m.snap.0 - 1) as usize);
                    m.terms.extend(ents.iter().map(|e| e.term));
                }
                assert_eq!(r, m.last(), "append returned last index (ok={ok})");
                check_log(&log, &m, "append");
            }
            2 => {
                // the engine persists the unstable part
                if let Some(snap) = log.unstable_snapshot().cloned() {
                    let idx = snap.metadata.as_ref().map_or(0, |md| md.index);
                    log.store()
                        .inner
                        .wl()
                        .apply_snapshot(snap)
                        .expect("persist snapshot");
                    log.stable_snap_to(idx);
                }
                let ents = log.unstable_entries().to_vec();
                if let Some(e) = ents.last() {
                    log.store()
                        .inner
                        .wl()
                        .append(&ents)
                        .expect("persist entries");
                    log.stable_to(e.index, e.term);
                }
                assert_eq!(log.stabled, m.last(), "stable_to: everything durable");
                assert!(
                    log.unstable_entries().is_empty(),
                    "stable_to: nothing unstable"
                );
                check_log(&log, &m, "stable_to");
            }
            3 => {
                let to = m.committed + rd.below(4);
                let res = log.commit_to(to);
                if to <= m.last() {
                    assert!(res.is_ok(), "commit_to({to}) within the log refused");
                    m.committed = m.committed.max(to);
                } else {
                    assert!(
                        res.is_err(),
                        "commit_to({to}) beyond the last index accepted"
                    );
                }
                check_log(&log, &m, "commit_to");
            }
            4 => {
                let to = m.applied + rd.below(4);
                let res = log.applied_to(to);
                assert_eq!(res.is_ok(), to <= m.committed, "applied_to({to})");
                if res.is_ok() {
                    m.applied = to;
                }
                check_log(&log, &m, "applied_to");
            }
            5 => {
                // compact the durable log up to the applied index
                let to = m.applied.saturating_sub(rd.below(2));
                let stored_last = log.store().inner.rl().last_index();
                // An engine compacts only what it persisted and applied, and
                // never while a received snapshot still waits to be persisted.
                let pending = log.unstable_snapshot().is_some();
                if to <= stored_last && to <= log.stabled && to > 0 && !pending {
                    let res = log.store().inner.wl().compact(to);
                    assert!(res.is_ok(), "compact({to}) within the stored log: {res:?}");
                }
                check_log(&log, &m, "compact");
            }
            7 | 8 => {
                // a leader's append (Raft §5.3) at (idx, term), sometimes
                // repeating entries the log already has
                let lo = log.first_index() - 1;
                let idx = lo + rd.below(m.last() - lo + 3);
                let term = match rd.below(4) {
                    0 => rd.below(8),
                    _ => m.term(idx).unwrap_or(1),
                };
                let matches = idx >= lo && m.term(idx) == Some(term);
                assert_eq!(
                    log.match_term(idx, term),
                    matches,
                    "match_term({idx}, {term})"
                );
                let mut t = term;
                let ents: Vec<Entry> = (idx + 1..idx + 1 + rd.below(5))
                    .map(|i| {
                        match m.term(i) {
                            Some(et) if et >= t && rd.u8() < 160 => t = et,
                            _ => t += rd.below(2),
                        }
                        Entry {
                            term: t,
                            index: i,
                            ..Default::default()
                        }
                    })
                    .collect();
                let leader_commit = m.committed + rd.below(8);
                let last_new = idx + ents.len() as u64;
                let conflict = ents
                    .iter()
                    .find(|e| m.term(e.index) != Some(e.term))
                    .map_or(0, |e| e.index);
                assert_eq!(log.find_conflict(&ents), conflict, "find_conflict");
                let res = log.maybe_append(idx, term, leader_commit, &ents);
                let expect = if !matches || (conflict != 0 && conflict <= m.committed) {
                    None
                } else {
                    if conflict != 0 {
                        m.terms.truncate((conflict - m.snap.0 - 1) as usize);
                        m.terms
                            .extend(ents[(conflict - idx - 1) as usize..].iter().map(|e| e.term));
                    }
                    m.committed = m.committed.max(leader_commit.min(last_new));
                    Some((conflict, last_new))
                };
                assert_eq!(res, expect, "maybe_append({idx}, {term}, {leader_commit})");
                check_log(&log, &m, "maybe_append");
            }
            9 => {
                // reads of a range, with and without the storage failing
                let lo = log.first_index().saturating_sub(2);
                let low = lo + rd.below(m.last() - lo + 3);
                let high = low + rd.below(5);
                let fail = rd.u8() < 64;
                failing.set(fail);
                let got = log.slice(low, high, None);
                failing.set(false);
                let want = model_slice(&log, &m, low, high);
                match (got, want) {
                    (Ok(ents), Some(terms)) => {
                        let got_terms: Vec<u64> = ents.iter().map(|e| e.term).collect();
                        assert_eq!(got_terms, terms, "slice({low}, {high})");
                    }
                    (Err(_), None) => {}
                    // A failing storage may fail any read that touches it.
                    (Err(_), Some(_)) if fail => {}
                    (got, want) => panic!("slice({low}, {high}): got {got:?}, model {want:?}"),
                }
                check_log(&log, &m, "slice");
            }
            10 => {
                // election and rejection-hint queries
                let index = rd.near(m.last());
                let term = rd.near(m.snap.1.max(m.terms.last().copied().unwrap_or(0)));
                let last_term = m.term(m.last()).unwrap_or(0);
                assert_eq!(
                    log.is_up_to_date(index, term),
                    term > last_term || (term == last_term && index >= m.last()),
                    "is_up_to_date({index}, {term}) (Raft §5.4.1)"
                );
                let (hi, ht) = log.find_conflict_by_term(index, term);
                assert!(hi <= index.min(m.last()), "find_conflict_by_term index");
                if hi + 1 >= log.first_index() {
                    assert_eq!(m.term(hi), Some(ht), "find_conflict_by_term term");
                    assert!(ht <= term, "find_conflict_by_term: term above the query");
                    // Every index between the hint and the query has a
                    // larger term, so none of them can match.
                    for i in hi + 1..=index.min(m.last()) {
                        assert!(
                            m.term(i).is_some_and(|t| t > term),
                            "hint skipped index {i}"
                        );
                    }
                }
                check_log(&log, &m, "find_conflict_by_term");
            }
            _ => {
                // a snapshot from a leader
                let index = m.committed + rd.below(6);
                let term = m
                    .term(index)
                    .unwrap_or(m.snap.1.max(m.terms.last().copied().unwrap_or(0)) + rd.below(2));
                let snap = Snapshot {
                    data: Bytes::new(),
                    metadata: Some(SnapshotMetadata {
                        conf_state: Some(ConfState {
                            voters: vec![1, 2, 3],
                            learners: vec![],
                            ..Default::default()
                        }),
                        index,
                        term,
                    }),
                };
                let res = log.restore(snap);
                assert_eq!(res.is_ok(), index > m.committed, "restore at {index}");
                if res.is_ok() {
                    m.snap = (index, term);
                    m.terms.clear();
                    m.committed = index;
                }
                check_log(&log, &m, "restore");
            }
        }
    }
}

/// `sim_schedule`: a small simulated cluster (3–5 nodes, a few simulated
/// seconds) under a fault schedule drawn from the bytes, with proposals;
/// every harness invariant must hold.
pub fn sim_schedule(data: &[u8]) {
    let mut rd = Bytes8::new(data);
    let nodes = 3 + rd.below(3) as usize;
    let seed = rd.u64();
    let mask = rd.u8();
    let kinds: Vec<FaultKind> = FaultKind::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, k)| *k)
        .collect();
    let duration = 2000 + 500 * rd.below(9);
    let cfg = SimConfig {
        nodes,
        seed,
        pre_vote: rd.u8() & 1 == 1,
        check_quorum: rd.u8() & 1 == 1,
        snapshot_interval: if kinds.contains(&FaultKind::Snapshot) {
            Some(5)
        } else {
            None
        },
        ..SimConfig::default()
    };
    let mut c = Cluster::new(cfg);
    let schedule = FaultSchedule::generate(seed, nodes, &kinds, duration);
    c.install_faults(&schedule);
    let mut t = 0;
    let mut cmd = 0u32;
    while t < duration {
        let step = 100 + 100 * rd.below(5);
        c.run_for(step);
        t += step;
        if let Some(l) = c.leader() {
            cmd += 1;
            c.start(l, cmd.to_le_bytes().to_vec());
        }
    }
    c.end_faults();
    c.run_for(500);
    if let Err(v) = c.check_invariants() {
        panic!("harness invariant violated under {schedule:?}: {v}");
    }
}
