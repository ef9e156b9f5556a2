//! Hostile input (API.md, Invalid input rule; COMMON.md standards): malformed
//! messages get `Err(InvalidMessage)` and change nothing; anything else from
//! the network is handled by Raft's rules; nothing panics, in any role;
//! terms and indexes near `u64::MAX` never panic or wrap.
#![allow(clippy::type_complexity)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{Entry, HardState, Message, MessageType};
use tinyraft::storage::MemStorage;
use tinyraft::{Error, Raft, StateRole};
use tinyraft_tests::*;

const ROLES: [StateRole; 4] = [
    StateRole::Follower,
    StateRole::PreCandidate,
    StateRole::Candidate,
    StateRole::Leader,
];

/// A node of cluster {1,2,3} in `role`: log terms [1, 1, 2], committed 2, term 2.
fn node_in(role: StateRole) -> Raft<MemStorage> {
    let s = storage_with_terms(&[1, 2, 3], &[1, 1, 2], 2);
    s.wl().set_hardstate(HardState {
        term: 2,
        vote: 0,
        commit: 2,
    });
    let mut r = raft_from(&config_with(1, role == StateRole::PreCandidate, false), s);
    match role {
        StateRole::Follower => r.become_follower(2, 2),
        StateRole::PreCandidate => r.step(hup(1)).expect("pre-campaign"),
        StateRole::Candidate => r.step(hup(1)).expect("campaign"),
        StateRole::Leader => {
            r.step(hup(1)).expect("campaign");
            persist(&mut r);
            let t = r.term;
            r.step(vote_resp(
                MessageType::MsgRequestVoteResponse,
                2,
                1,
                t,
                true,
            ))
            .expect("grant");
        }
    }
    persist(&mut r);
    take_msgs(&mut r);
    assert_eq!(r.state, role);
    r
}

type Snap = (HardState, Vec<Entry>, u64, StateRole, u64);

fn snap(r: &Raft<MemStorage>) -> Snap {
    (
        r.hard_state(),
        r.raft_log.all_entries(),
        r.raft_log.committed,
        r.state,
        r.leader_id,
    )
}

fn is_invalid(res: &Result<(), Error>) -> bool {
    matches!(res, Err(Error::InvalidMessage(_)))
}

/// The malformed kinds API.md lists, built for a receiver at `term` with last index 3.
fn malformed(term: u64) -> Vec<(&'static str, Message)> {
    let t = term;
    let mut v = vec![
        (
            "gap after index",
            append_msg(2, 1, t, 1, 1, 0, vec![entry(t, 3)]),
        ),
        (
            "gap inside entries",
            append_msg(2, 1, t, 1, 1, 0, vec![entry(t, 2), entry(t, 4)]),
        ),
        (
            "duplicate index",
            append_msg(2, 1, t, 1, 1, 0, vec![entry(t, 2), entry(t, 2)]),
        ),
        (
            "entry at index itself",
            append_msg(2, 1, t, 1, 1, 0, vec![entry(t, 1)]),
        ),
        (
            "entries going backwards",
            append_msg(2, 1, t, 2, 3, 0, vec![entry(t, 4), entry(t, 3)]),
        ),
        (
            "entry index 0",
            append_msg(2, 1, t, 0, 0, 0, vec![entry(t, 0)]),
        ),
        (
            "decreasing terms",
            append_msg(2, 1, t, 1, 1, 0, vec![entry(t, 2), entry(t - 1, 3)]),
        ),
        (
            "entry term above message term",
            append_msg(2, 1, t, 2, 3, 0, vec![entry(t + 1, 4)]),
        ),
        (
            "entry term above message term, later",
            append_msg(2, 1, t, 2, 3, 0, vec![entry(t, 4), entry(t + 5, 5)]),
        ),
        (
            "index + len overflows",
            append_msg(2, 1, t, 2, u64::MAX, 0, vec![entry(t, 0)]),
        ),
        (
            "index overflows with two",
            append_msg(
                2,
                1,
                t,
                2,
                u64::MAX - 1,
                0,
                vec![entry(t, u64::MAX), entry(t, 0)],
            ),
        ),
    ];
    let no_snap = msg(2, 1, MessageType::MsgSnapshot, t);
    v.push(("snapshot missing", no_snap));
    let mut no_meta = msg(2, 1, MessageType::MsgSnapshot, t);
    no_meta.snapshot = Some(tinyraft::eraftpb::Snapshot {
        data: "x".into(),
        metadata: None,
    });
    v.push(("snapshot metadata missing", no_meta));
    v
}

/// Each malformed kind API.md lists, in every role, at the receiver's term and
/// at a higher term: `Err(InvalidMessage)`, and hard state, log, commit,
/// role and leader unchanged (a malformed message must not even move the term).
#[test]
fn malformed_messages_rejected_every_role_hostile() {
    let mut failures = Vec::new();
    for role in ROLES {
        for bump in [0, 1, 7] {
            let base = node_in(role).term;
            for (what, m) in malformed(base + bump) {
                let mut r = node_in(role);
                let before = snap(&r);
                let res = catch_unwind(AssertUnwindSafe(|| r.step(m.clone())));
                match res {
                    Err(_) => failures.push(format!("{role:?} +{bump} {what}: PANIC")),
                    Ok(res) => {
                        if !is_invalid(&res) {
                            failures.push(format!("{role:?} +{bump} {what}: got {res:?}"));
                        }
                        if snap(&r) != before {
                            failures.push(format!("{role:?} +{bump} {what}: state changed"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn any_type(rng: &mut ChaCha8Rng) -> i32 {
    const TYPES: [MessageType; 14] = [
        MessageType::MsgPropose,
        MessageType::MsgAppend,
        MessageType::MsgAppendResponse,
        MessageType::MsgRequestVote,
        MessageType::MsgRequestVoteResponse,
        MessageType::MsgSnapshot,
        MessageType::MsgHeartbeat,
        MessageType::MsgHeartbeatResponse,
        MessageType::MsgTransferLeader,
        MessageType::MsgTimeoutNow,
        MessageType::MsgRequestPreVote,
        MessageType::MsgRequestPreVoteResponse,
        MessageType::MsgReadIndex,
        MessageType::MsgReadIndexResp,
    ];
    if rng.random_range(0..20) == 0 {
        rng.random_range(20..1000)
    } else {
        TYPES[rng.random_range(0..TYPES.len())] as i32
    }
}

fn any_u64(rng: &mut ChaCha8Rng, around: u64) -> u64 {
    match rng.random_range(0..8) {
        0 => 0,
        1 => u64::MAX,
        2 => u64::MAX - rng.random_range(0..3),
        3 => rng.random(),
        _ => around
            .saturating_add(rng.random_range(0..4))
            .saturating_sub(rng.random_range(0..3)),
    }
}

fn garbage(rng: &mut ChaCha8Rng, term: u64) -> Message {
    let mut m = Message {
        msg_type: any_type(rng),
        ..Default::default()
    };
    m.from = rng.random_range(0..6);
    m.to = if rng.random_range(0..10) == 0 {
        rng.random_range(0..6)
    } else {
        1
    };
    m.term = any_u64(rng, term);
    m.log_term = any_u64(rng, term);
    m.index = any_u64(rng, 3);
    m.commit = any_u64(rng, 3);
    m.reject = rng.random();
    m.reject_hint = any_u64(rng, 3);
    let n = rng.random_range(0..4);
    let contiguous = rng.random_range(0..2) == 0;
    for i in 0..n {
        let index = if contiguous {
            m.index.wrapping_add(i + 1)
        } else {
            any_u64(rng, 4)
        };
        let t = if contiguous {
            m.term.min(any_u64(rng, term))
        } else {
            any_u64(rng, term)
        };
        m.entries.push(entry_data(t, index, "g"));
    }
    if m.msg_type == MessageType::MsgSnapshot as i32 && rng.random_range(0..2) == 0 {
        let idx = any_u64(rng, 5);
        let voters: Vec<u64> = match rng.random_range(0..3) {
            0 => vec![1, 2, 3],
            1 => vec![2, 3],
            _ => vec![],
        };
        m.snapshot = Some(snapshot(idx, any_u64(rng, term), &voters, &[]));
    }
    m
}

/// Malformed by API.md's definition (entries, snapshot, overflow).
fn is_malformed(m: &Message) -> bool {
    if m.msg_type == MessageType::MsgSnapshot as i32 {
        return m.snapshot.as_ref().is_none_or(|s| s.metadata.is_none());
    }
    if m.msg_type != MessageType::MsgAppend as i32 {
        return false;
    }
    let mut prev_term = 0;
    for (i, e) in m.entries.iter().enumerate() {
        let Some(want) = m.index.checked_add(i as u64 + 1) else {
            return true;
        };
        if e.index != want || e.term < prev_term || e.term > m.term {
            return true;
        }
        prev_term = e.term;
    }
    false
}

/// Hundreds of random messages per role (random types, including unknown
/// numbers; random from/to/terms/indexes, many near `u64::MAX`; random
/// entries and snapshots): no panic; malformed ones (from a member, to this
/// node) get `Err(InvalidMessage)`; any `InvalidMessage` leaves state
/// unchanged; commit never passes the last index nor goes backwards.
#[test]
fn random_garbage_never_panics_every_role_hostile() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6a7b_a6e5);
    let mut failures = Vec::new();
    for role in ROLES {
        for i in 0..400 {
            let mut r = node_in(role);
            let term = r.term;
            let m = garbage(&mut rng, term);
            let before = snap(&r);
            let res = catch_unwind(AssertUnwindSafe(|| {
                let res = r.step(m.clone());
                persist(&mut r);
                res
            }));
            let Ok(res) = res else {
                failures.push(format!("{role:?} #{i}: PANIC on {m:?}"));
                continue;
            };
            let member = (1..=3).contains(&m.from);
            if member && m.to == 1 && m.from != 1 && is_malformed(&m) && !is_invalid(&res) {
                failures.push(format!(
                    "{role:?} #{i}: malformed accepted ({res:?}): {m:?}"
                ));
            }
            if is_invalid(&res) && snap(&r) != before {
                failures.push(format!(
                    "{role:?} #{i}: InvalidMessage but state changed: {m:?}"
                ));
            }
            if r.raft_log.committed > r.raft_log.last_index() {
                failures.push(format!("{role:?} #{i}: commit past last index: {m:?}"));
            }
            if r.raft_log.committed < before.2 {
                failures.push(format!("{role:?} #{i}: commit went backwards: {m:?}"));
            }
            if r.term < before.0.term {
                failures.push(format!(
                    "{role:?} #{i}: term went backwards (wrapped?): {m:?}"
                ));
            }
            // The node keeps working: ticking it never panics either.
            if catch_unwind(AssertUnwindSafe(|| {
                for _ in 0..25 {
                    r.tick();
                }
                persist(&mut r);
            }))
            .is_err()
            {
                failures.push(format!("{role:?} #{i}: PANIC ticking after {m:?}"));
            }
        }
    }
    failures.truncate(40);
    assert!(
        failures.is_empty(),
        "failures (first 40):\n{}",
        failures.join("\n")
    );
}

/// Terms near `u64::MAX` (API.md, Terms rule): a node driven to the top term
/// by a well-formed message keeps working — elections and ticks never panic
/// and its term never wraps.
#[test]
fn term_near_u64_max_never_wraps_hostile() {
    for t in [u64::MAX, u64::MAX - 1] {
        for role in ROLES {
            let mut r = node_in(role);
            let res = catch_unwind(AssertUnwindSafe(|| {
                let _ = r.step(append_msg(2, 1, t, 0, 0, 0, vec![]));
                persist(&mut r);
                for _ in 0..60 {
                    r.tick();
                    persist(&mut r);
                }
                let _ = r.step(hup(1));
                persist(&mut r);
            }));
            assert!(res.is_ok(), "{role:?} term {t}: panic");
            assert!(r.term >= t, "{role:?} term {t}: term wrapped to {}", r.term);
        }
    }
}

/// Indexes near `u64::MAX` in otherwise well-formed messages: rejected or
/// ignored, never a panic, and commit never passes the log.
#[test]
fn indexes_near_u64_max_handled_hostile() {
    let mut failures = Vec::new();
    for role in ROLES {
        let term = node_in(role).term;
        let mut cases: Vec<(&str, Message)> = vec![
            (
                "append far ahead",
                append_msg(
                    2,
                    1,
                    term,
                    term,
                    u64::MAX - 1,
                    u64::MAX,
                    vec![entry(term, u64::MAX)],
                ),
            ),
            (
                "append commit max",
                append_msg(2, 1, term, 1, 1, u64::MAX, vec![]),
            ),
            (
                "vote request max log",
                vote_req(
                    MessageType::MsgRequestVote,
                    2,
                    1,
                    term + 1,
                    u64::MAX,
                    u64::MAX,
                ),
            ),
            (
                "pre-vote request max log",
                vote_req(
                    MessageType::MsgRequestPreVote,
                    2,
                    1,
                    term + 1,
                    u64::MAX,
                    u64::MAX,
                ),
            ),
        ];
        let mut hb = msg(2, 1, MessageType::MsgHeartbeat, term);
        hb.commit = u64::MAX;
        cases.push(("heartbeat commit max", hb));
        let mut ack = append_ack(2, 1, term, u64::MAX);
        ack.commit = u64::MAX;
        cases.push(("append ack index max", ack));
        let mut rej = append_ack(2, 1, term, u64::MAX);
        rej.reject = true;
        rej.reject_hint = u64::MAX;
        rej.log_term = u64::MAX;
        cases.push(("append reject hint max", rej));
        let mut hbr = msg(2, 1, MessageType::MsgHeartbeatResponse, term);
        hbr.commit = u64::MAX;
        hbr.index = u64::MAX;
        cases.push(("heartbeat response max", hbr));
        let mut sn = msg(2, 1, MessageType::MsgSnapshot, term);
        sn.snapshot = Some(snapshot(u64::MAX, term, &[1, 2, 3], &[]));
        cases.push(("snapshot index max", sn));
        let mut ri = msg(2, 1, MessageType::MsgReadIndexResp, term);
        ri.index = u64::MAX;
        ri.entries = vec![entry_data(0, 0, "ctx")];
        cases.push(("read index resp max", ri));
        for (what, m) in cases {
            let mut r = node_in(role);
            let res = catch_unwind(AssertUnwindSafe(|| {
                let _ = r.step(m.clone());
                persist(&mut r);
                for _ in 0..25 {
                    r.tick();
                }
                persist(&mut r);
                if r.state == StateRole::Leader {
                    let _ = r.step(propose(1, "after"));
                    persist(&mut r);
                }
            }));
            if res.is_err() {
                failures.push(format!("{role:?} {what}: PANIC"));
                continue;
            }
            if r.raft_log.committed > r.raft_log.last_index() {
                failures.push(format!(
                    "{role:?} {what}: commit {} > last {}",
                    r.raft_log.committed,
                    r.raft_log.last_index()
                ));
            }
            if let Some(p) = r.prs().get(2) {
                if r.state == StateRole::Leader && p.matched > r.raft_log.last_index() {
                    failures.push(format!(
                        "{role:?} {what}: match {} beyond the leader's log",
                        p.matched
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Well-formed but stale or inconsistent messages are not errors: they are
/// rejected or ignored (API.md, Invalid input rule).
#[test]
fn stale_or_inconsistent_messages_are_not_errors_hostile() {
    for role in ROLES {
        let term = node_in(role).term;
        let cases: Vec<(&str, Message)> = vec![
            ("stale append", append_msg(2, 1, term - 1, 0, 0, 0, vec![])),
            (
                "mismatched log_term",
                append_msg(2, 1, term, 9, 3, 0, vec![]),
            ),
            (
                "append beyond log",
                append_msg(2, 1, term, term, 50, 0, vec![entry(term, 51)]),
            ),
            (
                "stale vote",
                vote_req(MessageType::MsgRequestVote, 2, 1, term - 1, 0, 0),
            ),
            (
                "stale heartbeat",
                msg(2, 1, MessageType::MsgHeartbeat, term - 1),
            ),
        ];
        for (what, m) in cases {
            let mut r = node_in(role);
            let res = r.step(m);
            assert!(!is_invalid(&res), "{role:?} {what}: {res:?}");
            assert!(r.raft_log.committed <= r.raft_log.last_index());
        }
        let mut r = node_in(role);
        let mut old = msg(2, 1, MessageType::MsgSnapshot, term);
        old.snapshot = Some(snapshot(1, 1, &[1, 2, 3], &[]));
        let before = r.raft_log.all_entries();
        let res = r.step(old);
        assert!(!is_invalid(&res), "{role:?} old snapshot: {res:?}");
        assert_eq!(
            r.raft_log.all_entries(),
            before,
            "{role:?}: a snapshot below commit changes nothing"
        );
    }
}

/// API.md, Terms rule: a message with term 0 carries no term and never
/// changes the receiver's term — not even an append or heartbeat (which only
/// a buggy or hostile peer sends without a term) in any role.
#[test]
fn term_zero_network_message_never_lowers_term_hostile() {
    let mut failures = Vec::new();
    for role in ROLES {
        for t in [
            MessageType::MsgAppend,
            MessageType::MsgHeartbeat,
            MessageType::MsgSnapshot,
        ] {
            let mut r = node_in(role);
            let term = r.term;
            let mut m = msg(2, 1, t, 0);
            if t == MessageType::MsgSnapshot {
                m.snapshot = Some(snapshot(1, 1, &[1, 2, 3], &[]));
            }
            let res = r.step(m);
            if r.term != term {
                failures.push(format!(
                    "{role:?} {t:?}: term {term} -> {} ({res:?})",
                    r.term
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A storage that can be switched to fail every log read with `Unavailable`
/// (an engine whose disk hiccups).
#[derive(Clone)]
struct FailingStorage {
    inner: MemStorage,
    fail: std::rc::Rc<std::cell::Cell<bool>>,
    fail_init: bool,
}

impl tinyraft::storage::Storage for FailingStorage {
    fn initial_state(&self) -> tinyraft::storage::Result<tinyraft::storage::RaftState> {
        if self.fail_init {
            return Err(tinyraft::StorageError::Other("disk on fire".into()));
        }
        self.inner.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max: Option<u64>) -> tinyraft::storage::Result<Vec<Entry>> {
        if self.fail.get() {
            return Err(tinyraft::StorageError::Unavailable);
        }
        self.inner.entries(lo, hi, max)
    }
    fn term(&self, idx: u64) -> tinyraft::storage::Result<u64> {
        if self.fail.get() {
            return Err(tinyraft::StorageError::Unavailable);
        }
        self.inner.term(idx)
    }
    fn first_index(&self) -> tinyraft::storage::Result<u64> {
        self.inner.first_index()
    }
    fn last_index(&self) -> tinyraft::storage::Result<u64> {
        self.inner.last_index()
    }
    fn snapshot(
        &self,
        request_index: u64,
        to: u64,
    ) -> tinyraft::storage::Result<tinyraft::eraftpb::Snapshot> {
        if self.fail.get() {
            return Err(tinyraft::StorageError::Unavailable);
        }
        self.inner.snapshot(request_index, to)
    }
}

/// COMMON.md standards: storage errors surface as `Err`, never a panic; a
/// temporarily unavailable log means "try again later".
#[test]
fn storage_errors_never_panic_hostile() {
    use tinyraft::storage::Storage as _;
    let inner = new_storage(&[1, 2], &[]);
    {
        let mut core = inner.wl();
        let ents: Vec<Entry> = (1..=10).map(|i| entry(1, i)).collect();
        core.append(&ents).expect("append");
        core.set_hardstate(HardState {
            term: 1,
            vote: 1,
            commit: 10,
        });
    }
    // initial_state failing: Raft::new and RawNode::new return Err(Store).
    let broken = FailingStorage {
        inner: inner.clone(),
        fail: Default::default(),
        fail_init: true,
    };
    let r = Raft::new(&new_config(1, 10, 1), broken.clone(), &logger());
    assert!(
        matches!(r, Err(Error::Store(_))),
        "Raft::new: {:?}",
        r.as_ref().err()
    );
    let rn = tinyraft::RawNode::new(&new_config(1, 10, 1), broken, &logger());
    assert!(matches!(rn, Err(Error::Store(_))), "RawNode::new");

    let fail = std::rc::Rc::new(std::cell::Cell::new(false));
    let st = FailingStorage {
        inner: inner.clone(),
        fail: fail.clone(),
        fail_init: false,
    };
    let mut rn = tinyraft::RawNode::new(&new_config(1, 10, 1), st, &logger()).expect("raw node");
    let res = catch_unwind(AssertUnwindSafe(|| {
        fail.set(true);
        // Committed entries are unreadable: the Ready cycle must not panic.
        let _ = rn.has_ready();
        let rd = rn.ready();
        rn.advance(rd);
        let _ = rn.campaign();
        let _ = rn.step(vote_resp(
            MessageType::MsgRequestVoteResponse,
            2,
            1,
            2,
            true,
        ));
        let _ = rn.propose("", "x");
        let mut rej = msg(2, 1, MessageType::MsgAppendResponse, rn.raft.term);
        rej.reject = true;
        rej.index = 10;
        rej.reject_hint = 5;
        let _ = rn.step(rej);
        let _ = rn.step(msg(2, 1, MessageType::MsgHeartbeatResponse, rn.raft.term));
        for _ in 0..30 {
            rn.tick();
        }
        if rn.has_ready() {
            let rd = rn.ready();
            rn.advance(rd);
        }
    }));
    assert!(res.is_ok(), "a storage error panicked the node");
    // The disk recovers: the node works again.
    fail.set(false);
    let res = catch_unwind(AssertUnwindSafe(|| {
        for _ in 0..5 {
            if rn.has_ready() {
                let rd = rn.ready();
                let store = inner.clone();
                store.wl().append(&rd.entries).expect("append");
                if let Some(hs) = rd.hs {
                    store.wl().set_hardstate(hs);
                }
                rn.advance(rd);
            }
        }
    }));
    assert!(res.is_ok(), "panicked after the storage recovered");
    assert!(rn.raft.raft_log.committed <= rn.raft.raft_log.last_index());
    assert!(inner.last_index().expect("last") >= 10);
}

/// RawNode::step validates like Raft::step: malformed input is refused with
/// `InvalidMessage` and leaves nothing to do.
#[test]
fn raw_node_refuses_malformed_messages_hostile() {
    for (what, m) in malformed(1) {
        let mut rn = new_raw_node(1, &[1, 2, 3]);
        let res = rn.step(m);
        assert!(is_invalid(&res), "{what}: {res:?}");
        assert!(!rn.has_ready(), "{what}: a refused message left a Ready");
        assert_eq!(rn.raft.term, 0, "{what}");
    }
}
