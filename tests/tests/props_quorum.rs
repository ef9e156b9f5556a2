//! Property tests of the quorum and flow-control math (Raft §5.2, §5.3;
//! joint majorities, thesis §4.3):
//! each pure function is checked against an obviously-correct model over
//! arbitrary inputs, with proptest shrinking any counterexample.
//!
//! Case counts: `PROPTEST_CASES` (proptest's default config reads it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tinyraft::quorum::{JointConfig, VoteResult, committed_index, majority, vote_result};
use tinyraft::{Inflights, Progress, ProgressState};

/// Proptest's defaults (`PROPTEST_CASES` honoured), with regressions kept
/// in `tests/proptest-regressions/` (the source-relative default cannot find
/// a crate root from `tests/tests/`).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/props_quorum.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Model of §5.3's commit rule: the largest index `i` such that a majority
/// of voters have `match >= i` (0 when no index qualifies).
fn model_committed(matched: &[u64]) -> u64 {
    if matched.is_empty() {
        return 0;
    }
    let need = matched.len() / 2 + 1;
    let mut best = 0;
    for &cand in matched {
        let n = matched.iter().filter(|&&m| m >= cand).count();
        if n >= need && cand > best {
            best = cand;
        }
    }
    best
}

proptest! {
    #![proptest_config(config())]

    /// §5.3: the committed index equals the sorted-median definition
    /// (the `majority`-th largest match index) and the counting model.
    #[test]
    fn committed_index_is_sorted_median_props(matched in prop::collection::vec(0u64..50, 0..9)) {
        let got = committed_index(&matched);
        prop_assert_eq!(got, model_committed(&matched));
        if !matched.is_empty() {
            let mut asc = matched.clone();
            asc.sort_unstable();
            // Ascending, the majority-th largest sits at len - majority.
            prop_assert_eq!(got, asc[asc.len() - majority(asc.len())]);
            // A majority stores it; no larger value is on a majority.
            let on = matched.iter().filter(|&&m| m >= got).count();
            prop_assert!(on >= majority(matched.len()));
        }
    }

    /// §5.3: the commit index never decreases when a follower's match
    /// index grows (matches only grow on a live leader).
    #[test]
    fn committed_index_is_monotone_in_matches_props(
        matched in prop::collection::vec(0u64..50, 1..9),
        who in any::<prop::sample::Index>(),
        bump in 0u64..20,
    ) {
        let before = committed_index(&matched);
        let mut after = matched.clone();
        let i = who.index(after.len());
        after[i] += bump;
        prop_assert!(committed_index(&after) >= before);
    }

    /// §5.2: vote tallies agree with a counting model; votes from
    /// non-voters never count.
    #[test]
    fn vote_result_matches_counting_model_props(
        voters in prop::collection::btree_set(1u64..10, 0..8),
        votes in prop::collection::btree_map(1u64..14, any::<bool>(), 0..12),
    ) {
        let got = vote_result(&voters, &votes);
        let granted = voters.iter().filter(|v| votes.get(v) == Some(&true)).count();
        let rejected = voters.iter().filter(|v| votes.get(v) == Some(&false)).count();
        let q = voters.len() / 2 + 1;
        let want = if voters.is_empty() || granted >= q {
            VoteResult::Won
        } else if rejected >= q {
            VoteResult::Lost
        } else {
            VoteResult::Pending
        };
        prop_assert_eq!(got, want);
        // Election safety's arithmetic: two disjoint vote sets can't both win.
        if !voters.is_empty() {
            prop_assert!(!(granted >= q && rejected >= q));
        }
    }

    /// §5.2: adding a granted vote never turns a win into anything else,
    /// nor a pending election into a loss.
    #[test]
    fn granting_a_vote_never_hurts_props(
        voters in prop::collection::btree_set(1u64..8, 1..8),
        votes in prop::collection::btree_map(1u64..8, any::<bool>(), 0..8),
        extra in 1u64..8,
    ) {
        let before = vote_result(&voters, &votes);
        let mut more: BTreeMap<u64, bool> = votes.clone();
        if more.contains_key(&extra) {
            return Ok(());
        }
        more.insert(extra, true);
        let after = vote_result(&voters, &more);
        match before {
            VoteResult::Won => prop_assert_eq!(after, VoteResult::Won),
            VoteResult::Pending => prop_assert_ne!(after, VoteResult::Lost),
            VoteResult::Lost => prop_assert_eq!(after, VoteResult::Lost),
        }
    }
}

/// One operation on the inflight window.
#[derive(Clone, Debug)]
enum InflightOp {
    /// Add an append whose last index is the previous one plus this step.
    Add(u64),
    /// Acknowledge through previous-last minus this much.
    FreeTo(u64),
    /// A heartbeat response frees one slot.
    FreeFirstOne,
    /// Forget everything (state change).
    Reset,
}

fn inflight_op() -> impl Strategy<Value = InflightOp> {
    prop_oneof![
        4 => (0u64..5).prop_map(InflightOp::Add),
        2 => (0u64..8).prop_map(InflightOp::FreeTo),
        1 => Just(InflightOp::FreeFirstOne),
        1 => Just(InflightOp::Reset),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Flow control (etcd/raft's inflights): the window behaves exactly
    /// like a bounded FIFO of increasing indexes.
    #[test]
    fn inflights_match_vecdeque_model_props(
        cap in 1usize..8,
        ops in prop::collection::vec(inflight_op(), 0..80),
    ) {
        let mut w = Inflights::new(cap);
        let mut model: VecDeque<u64> = VecDeque::new();
        let mut last = 0u64;
        for op in &ops {
            match *op {
                InflightOp::Add(step) => {
                    // The caller contract: check `full()` before adding.
                    if w.full() {
                        prop_assert_eq!(model.len(), cap);
                        continue;
                    }
                    last += step;
                    w.add(last);
                    model.push_back(last);
                }
                InflightOp::FreeTo(back) => {
                    let to = last.saturating_sub(back);
                    w.free_to(to);
                    while model.front().is_some_and(|&f| f <= to) {
                        model.pop_front();
                    }
                }
                InflightOp::FreeFirstOne => {
                    w.free_first_one();
                    model.pop_front();
                }
                InflightOp::Reset => {
                    w.reset();
                    model.clear();
                }
            }
            prop_assert_eq!(w.count(), model.len(), "after {:?}", op);
            prop_assert_eq!(w.full(), model.len() >= cap, "after {:?}", op);
            prop_assert_eq!(w.cap(), cap);
        }
    }
}

/// One event a leader's view of a follower goes through.
#[derive(Clone, Debug)]
enum ProgressOp {
    /// The follower acknowledged this index.
    Ack(u64),
    /// An append ending at `next_idx - 1 + n` was sent (replicate state).
    Sent(u64),
    /// The follower rejected an append at `next_idx - 1 - back`, hinting this.
    Reject(u64, u64),
    Probe,
    Replicate,
    Snapshot(u64),
}

fn progress_op() -> impl Strategy<Value = ProgressOp> {
    prop_oneof![
        3 => (0u64..40).prop_map(ProgressOp::Ack),
        2 => (1u64..5).prop_map(ProgressOp::Sent),
        2 => ((0u64..3), (0u64..40)).prop_map(|(b, h)| ProgressOp::Reject(b, h)),
        1 => Just(ProgressOp::Probe),
        1 => Just(ProgressOp::Replicate),
        1 => (0u64..40).prop_map(ProgressOp::Snapshot),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// §5.3 leader bookkeeping: `matched` never decreases (stale acks and
    /// rejections never move it back), `next_idx` stays past `matched`, and a
    /// probe state pauses exactly while a probe is outstanding.
    #[test]
    fn progress_transitions_keep_match_below_next_props(
        ops in prop::collection::vec(progress_op(), 0..60),
    ) {
        let mut p = Progress::new(1, 4);
        for op in &ops {
            let before = p.matched;
            match *op {
                ProgressOp::Ack(n) => {
                    let moved = p.maybe_update(n);
                    prop_assert_eq!(moved, n > before);
                    if p.state == ProgressState::Replicate {
                        p.ins.free_to(n);
                    }
                }
                ProgressOp::Sent(n) => {
                    if p.state == ProgressState::Replicate && !p.ins.full() {
                        let last = p.next_idx - 1 + n;
                        p.optimistic_update(last);
                        p.ins.add(last);
                    } else if p.state == ProgressState::Probe {
                        p.pause();
                        prop_assert!(p.is_paused());
                    }
                }
                ProgressOp::Reject(back, hint) => {
                    let rejected = (p.next_idx - 1).saturating_sub(back);
                    // The core falls back to probing after a real rejection
                    // in replicate state (the inflight window is void).
                    if p.maybe_decr_to(rejected, hint) && p.state == ProgressState::Replicate {
                        p.become_probe();
                    }
                }
                ProgressOp::Probe => p.become_probe(),
                ProgressOp::Replicate => p.become_replicate(),
                ProgressOp::Snapshot(i) => p.become_snapshot(i),
            }
            prop_assert!(p.matched >= before, "matched went back after {:?}", op);
            prop_assert!(p.next_idx > p.matched, "next {} <= matched {} after {:?}", p.next_idx, p.matched, op);
            if p.state == ProgressState::Snapshot {
                prop_assert!(p.is_paused());
            }
        }
    }
}

/// Whether `acks` holds a majority of `half`, counted one voter at a time.
fn model_half_ok(half: &BTreeSet<u64>, acks: &BTreeSet<u64>) -> bool {
    let mut n = 0;
    for id in half {
        if acks.contains(id) {
            n += 1;
        }
    }
    2 * n > half.len()
}

/// Model of thesis §4.3's joint commit rule: the largest index `i` such that
/// the voters with `match >= i` hold a majority of each non-empty half,
/// found by trying every `i` (0 when neither half has voters).
fn model_joint_committed(
    incoming: &BTreeSet<u64>,
    outgoing: &BTreeSet<u64>,
    matched: &BTreeMap<u64, u64>,
) -> u64 {
    if incoming.is_empty() && outgoing.is_empty() {
        return 0;
    }
    let m = |id: &u64| matched.get(id).copied().unwrap_or(0);
    let top = incoming.iter().chain(outgoing).map(m).max().unwrap_or(0);
    let mut best = 0;
    for i in 0..=top {
        let holders: BTreeSet<u64> = incoming
            .iter()
            .chain(outgoing)
            .copied()
            .filter(|id| m(id) >= i)
            .collect();
        let ok = |half: &BTreeSet<u64>| half.is_empty() || model_half_ok(half, &holders);
        if ok(incoming) && ok(outgoing) {
            best = i;
        }
    }
    best
}

/// Model of thesis §4.3's joint election by enumeration: every way the
/// voters who have not answered yet could answer. Won if every completion
/// wins both halves; lost if in every completion some half is refused by a
/// majority; else pending. An empty half is always won, never refused.
fn model_joint_vote(
    incoming: &BTreeSet<u64>,
    outgoing: &BTreeSet<u64>,
    votes: &BTreeMap<u64, bool>,
) -> VoteResult {
    let all: BTreeSet<u64> = incoming.union(outgoing).copied().collect();
    let silent: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| !votes.contains_key(id))
        .collect();
    let (mut all_won, mut all_lost) = (true, true);
    for mask in 0u32..(1 << silent.len()) {
        let mut v: BTreeMap<u64, bool> = votes.clone();
        for (bit, id) in silent.iter().enumerate() {
            v.insert(*id, mask & (1 << bit) != 0);
        }
        let yes: BTreeSet<u64> = v.iter().filter(|(_, g)| **g).map(|(id, _)| *id).collect();
        let no: BTreeSet<u64> = v.iter().filter(|(_, g)| !**g).map(|(id, _)| *id).collect();
        let won = |h: &BTreeSet<u64>| h.is_empty() || model_half_ok(h, &yes);
        let refused = |h: &BTreeSet<u64>| !h.is_empty() && model_half_ok(h, &no);
        all_won &= won(incoming) && won(outgoing);
        all_lost &= refused(incoming) || refused(outgoing);
    }
    if all_won {
        VoteResult::Won
    } else if all_lost {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

proptest! {
    #![proptest_config(config())]

    /// Thesis §4.3: the joint committed index equals the brute-force model
    /// (largest index on a majority of each non-empty half), is the
    /// minimum of the halves' own committed indexes, and reduces to §5.3's
    /// rule when the outgoing half is empty.
    #[test]
    fn joint_committed_index_matches_brute_force_4_3_props(
        incoming in prop::collection::btree_set(1u64..9, 0..6),
        outgoing in prop::collection::btree_set(1u64..9, 0..6),
        matched in prop::collection::btree_map(1u64..9, 0u64..12, 0..9),
    ) {
        let c = JointConfig::new_joint(incoming.clone(), outgoing.clone());
        let m = |id: u64| matched.get(&id).copied().unwrap_or(0);
        let got = c.committed_index(m);
        prop_assert_eq!(got, model_joint_committed(&incoming, &outgoing, &matched));
        let half = |h: &BTreeSet<u64>| committed_index(&h.iter().map(|&id| m(id)).collect::<Vec<_>>());
        if !incoming.is_empty() {
            prop_assert!(got <= half(&incoming));
        }
        if !outgoing.is_empty() {
            prop_assert!(got <= half(&outgoing));
        }
        if outgoing.is_empty() {
            prop_assert_eq!(got, half(&incoming));
        }
    }

    /// Thesis §4.3: a joint election's outcome equals the enumeration of
    /// every way the silent voters could still answer.
    #[test]
    fn joint_vote_result_matches_enumeration_4_3_props(
        incoming in prop::collection::btree_set(1u64..9, 0..6),
        outgoing in prop::collection::btree_set(1u64..9, 0..6),
        votes in prop::collection::btree_map(1u64..11, any::<bool>(), 0..10),
    ) {
        let c = JointConfig::new_joint(incoming.clone(), outgoing.clone());
        prop_assert_eq!(c.vote_result(&votes), model_joint_vote(&incoming, &outgoing, &votes));
        if outgoing.is_empty() {
            prop_assert_eq!(c.vote_result(&votes), vote_result(&incoming, &votes));
        }
    }

    /// Thesis §4.3: acks form a joint quorum exactly when they hold a
    /// majority of each non-empty half, and any two joint quorums share a
    /// voter of each non-empty half (what makes two leaders or two commits
    /// of different entries impossible).
    #[test]
    fn joint_quorums_match_model_and_intersect_4_3_props(
        incoming in prop::collection::btree_set(1u64..9, 0..6),
        outgoing in prop::collection::btree_set(1u64..9, 0..6),
        a in prop::collection::btree_set(1u64..11, 0..10),
        b in prop::collection::btree_set(1u64..11, 0..10),
    ) {
        let c = JointConfig::new_joint(incoming.clone(), outgoing.clone());
        let want = |acks: &BTreeSet<u64>| {
            !(incoming.is_empty() && outgoing.is_empty())
                && (incoming.is_empty() || model_half_ok(&incoming, acks))
                && (outgoing.is_empty() || model_half_ok(&outgoing, acks))
        };
        prop_assert_eq!(c.has_quorum(&a), want(&a));
        prop_assert_eq!(c.has_quorum(&b), want(&b));
        if c.has_quorum(&a) && c.has_quorum(&b) {
            for half in [&incoming, &outgoing] {
                if !half.is_empty() {
                    prop_assert!(half.iter().any(|id| a.contains(id) && b.contains(id)));
                }
            }
        }
    }
}
