//! TinyKV part 2AB: log replication and commit (Raft §5.3, §5.4; thesis
//! §10.2.1; flow control as etcd/raft-rs users expect), against API.md.
#![allow(clippy::type_complexity)]

use tinyraft::eraftpb::{Entry, Message, MessageType};
use tinyraft::{Error, ProgressState, StateRole};
use tinyraft_tests::*;

const ET: usize = 10;

fn appends_to(msgs: &[Message], to: u64) -> Vec<Message> {
    filter_msgs(msgs, MessageType::MsgAppend, to)
}

/// §5.3: on a proposal the leader appends the entry (stamped with its term
/// and the next index) and sends MsgAppend with the preceding index/term and
/// its commit to every follower.
#[test]
fn leader_start_replication_2ab() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    assert_eq!(r.raft_log.committed, 1);
    r.step(propose(1, "some data")).expect("propose");
    let unstable: Vec<(u64, u64, Vec<u8>)> = r
        .raft_log
        .unstable_entries()
        .iter()
        .map(|e| (e.index, e.term, e.data.to_vec()))
        .collect();
    assert_eq!(unstable, vec![(2, 1, b"some data".to_vec())]);
    for to in [2, 3] {
        let m = appends_to(&r.msgs, to);
        assert_eq!(m.len(), 1, "to {to}: {:?}", r.msgs);
        assert_eq!(
            (m[0].term, m[0].index, m[0].log_term, m[0].commit),
            (1, 1, 1, 1)
        );
        assert_eq!(m[0].entries.len(), 1);
        assert_eq!((m[0].entries[0].index, m[0].entries[0].term), (2, 1));
        assert_eq!(&m[0].entries[0].data[..], b"some data");
    }
}

/// §5.3: a new leader appends one empty entry of its term and replicates it.
#[test]
fn new_leader_appends_empty_entry_2ab() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    for id in 1..=3 {
        let p = nt.peer(id);
        assert_eq!(log_full(p), vec![(1, 1, vec![])], "node {id}");
        assert_eq!(p.raft_log.committed, 1, "node {id}");
    }
}

/// §5.3: an entry replicated on all nodes is committed everywhere, with the
/// same contents.
#[test]
fn leader_commit_entry_2ab() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.send(vec![propose(1, "some data")]);
    for id in 1..=3 {
        let p = nt.peer(id);
        assert_eq!(p.raft_log.committed, 2, "node {id}");
        assert_eq!(
            log_full(p),
            vec![(1, 1, vec![]), (2, 1, b"some data".to_vec())],
            "node {id}"
        );
    }
}

/// §5.3: an entry is committed once stored on a majority (the leader's own
/// copy counts once durable).
#[test]
fn leader_acknowledged_commit_2ab() {
    let cases: Vec<(u64, Vec<u64>, bool)> = vec![
        (1, vec![], true),
        (3, vec![], false),
        (3, vec![2], true),
        (3, vec![2, 3], true),
        (5, vec![], false),
        (5, vec![2], false),
        (5, vec![2, 3], true),
        (5, vec![2, 3, 4, 5], true),
    ];
    for (i, (size, acks, committed)) in cases.into_iter().enumerate() {
        let ids: Vec<u64> = (1..=size).collect();
        let mut r = new_raft(1, &ids, ET, 1);
        make_leader_with_committed_noop(&mut r);
        r.step(propose(1, "some data")).expect("propose");
        persist(&mut r);
        let li = r.raft_log.last_index();
        for a in acks {
            r.step(append_ack(a, 1, r.term, li)).expect("ack");
        }
        assert_eq!(
            r.raft_log.committed == li,
            committed,
            "case {i}: committed {}",
            r.raft_log.committed
        );
    }
}

/// §5.3: committing an entry commits all preceding entries, including those
/// of earlier terms.
#[test]
fn leader_commits_preceding_entries_2ab() {
    for prev in [vec![], vec![2], vec![1, 1], vec![1, 2]] {
        let mut r = raft_with_terms(1, &[1, 2, 3], &prev, new_config(1, ET, 1));
        r.become_follower(2, 0);
        r.become_candidate();
        r.become_leader();
        r.step(propose(1, "some data")).expect("propose");
        persist(&mut r);
        let li = r.raft_log.last_index();
        r.step(append_ack(2, 1, r.term, li)).expect("ack");
        assert_eq!(r.raft_log.committed, li, "prev {prev:?}");
        assert_eq!(li, prev.len() as u64 + 2);
    }
}

/// §5.3: a follower learns the commit index from appends, bounded by the
/// last entry it got in the message.
#[test]
fn follower_commit_from_append_2ab() {
    let cases: Vec<(Vec<Entry>, u64, u64)> = vec![
        (vec![entry(1, 1)], 1, 1),
        (vec![entry(1, 1), entry(1, 2)], 2, 2),
        (vec![entry(1, 1), entry(1, 2)], 1, 1),
        (vec![entry(1, 1)], 5, 1),
    ];
    for (i, (ents, commit, want)) in cases.into_iter().enumerate() {
        let mut r = new_raft(1, &[1, 2, 3], ET, 1);
        r.become_follower(1, 2);
        r.step(append_msg(2, 1, 1, 0, 0, commit, ents))
            .expect("append");
        assert_eq!(r.raft_log.committed, want, "case {i}");
    }
}

/// §5.3 consistency check: a follower rejects an append whose preceding
/// (index, term) it does not hold.
#[test]
fn follower_consistency_check_2ab() {
    // follower log [(1,1), (2,2)] committed 1
    let cases = [
        (0, 0, false),
        (1, 1, false),
        (2, 2, false),
        (1, 2, true),
        (3, 3, true),
        (2, 1, true),
    ];
    for (log_term, index, reject) in cases {
        let s = storage_with_terms(&[1, 2, 3], &[1, 2], 2);
        s.wl().set_hardstate(tinyraft::eraftpb::HardState {
            term: 2,
            vote: 0,
            commit: 1,
        });
        let mut r = raft_from(&new_config(1, ET, 1), s);
        r.become_follower(2, 2);
        r.step(append_msg(2, 1, 2, log_term, index, 1, vec![]))
            .expect("append");
        persist(&mut r);
        let resp = filter_msgs(&r.msgs, MessageType::MsgAppendResponse, 2);
        assert_eq!(resp.len(), 1, "({log_term},{index}): {:?}", r.msgs);
        assert_eq!(resp[0].reject, reject, "({log_term},{index})");
        assert_eq!(
            log_ids(&r),
            vec![(1, 1), (2, 2)],
            "a check never changes the log"
        );
    }
}

/// §5.3: "If an existing entry conflicts with a new one, delete the existing
/// entry and all that follow it; append any new entries not already in the
/// log" — and keep entries that match.
#[test]
fn follower_append_truncates_only_conflicts_2ab() {
    type Ids = Vec<(u64, u64)>;
    // (log_term, index, entries, log after, unstable after)
    let cases: Vec<(u64, u64, Vec<Entry>, Ids, Ids)> = vec![
        (
            2,
            2,
            vec![entry(3, 3)],
            vec![(1, 1), (2, 2), (3, 3)],
            vec![(3, 3)],
        ),
        (
            1,
            1,
            vec![entry(3, 2), entry(4, 3)],
            vec![(1, 1), (2, 3), (3, 4)],
            vec![(2, 3), (3, 4)],
        ),
        (0, 0, vec![entry(1, 1)], vec![(1, 1), (2, 2)], vec![]),
        (0, 0, vec![entry(3, 1)], vec![(1, 3)], vec![(1, 3)]),
        (1, 1, vec![entry(2, 2)], vec![(1, 1), (2, 2)], vec![]),
    ];
    for (i, (log_term, index, ents, want, want_unstable)) in cases.into_iter().enumerate() {
        let mut r = raft_with_terms(1, &[1, 2, 3], &[1, 2], new_config(1, ET, 1));
        r.become_follower(4, 2);
        r.step(append_msg(2, 1, 4, log_term, index, 0, ents))
            .expect("append");
        assert_eq!(log_ids(&r), want, "case {i}");
        let unstable: Vec<(u64, u64)> = r
            .raft_log
            .unstable_entries()
            .iter()
            .map(|e| (e.index, e.term))
            .collect();
        assert_eq!(unstable, want_unstable, "case {i}");
    }
}

/// The six follower logs of the Raft paper's Figure 7, each run against the
/// leader's log of term 8. Leader log terms: 1 1 1 4 4 5 5 6 6 6.
fn figure7() -> (Vec<u64>, Vec<Vec<u64>>) {
    let lead = vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers = vec![
        vec![1, 1, 1, 4, 4, 5, 5, 6, 6],
        vec![1, 1, 1, 4],
        vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
        vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
        vec![1, 1, 1, 4, 4, 4, 4],
        vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ];
    (lead, followers)
}

fn figure7_network(follower: &[u64]) -> Network {
    let ls = storage_with_terms(&[1, 2, 3], &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6], 8);
    ls.wl().set_hardstate(tinyraft::eraftpb::HardState {
        term: 8,
        vote: 0,
        commit: 10,
    });
    let lead = raft_from(&new_config(1, ET, 1), ls);
    let fs = storage_with_terms(&[1, 2, 3], follower, 7);
    let fol = raft_from(&new_config(2, ET, 1), fs);
    let mut nt = Network::new(vec![Peer::node(lead), Peer::node(fol), Peer::BlackHole]);
    nt.send(vec![hup(1)]);
    // The black hole's grant completes the election even when 2 refuses
    // (follower d's log is more up to date than the leader's).
    nt.send(vec![vote_resp(
        MessageType::MsgRequestVoteResponse,
        3,
        1,
        9,
        true,
    )]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![propose(1, "")]);
    nt
}

/// §5.3, Figure 7: each of the six follower logs (missing entries, extra
/// uncommitted entries, both) converges to the leader's log.
#[test]
fn figure7_follower_logs_converge_2ab() {
    let (_, followers) = figure7();
    for (i, f) in followers.iter().enumerate() {
        let nt = figure7_network(f);
        assert_eq!(
            log_full(nt.peer(2)),
            log_full(nt.peer(1)),
            "follower {}",
            (b'a' + i as u8) as char
        );
        assert_eq!(nt.peer(1).raft_log.last_index(), 12);
        assert_eq!(nt.peer(1).raft_log.committed, 12);
        assert_eq!(nt.peer(2).raft_log.committed, 12);
    }
}

/// §5.3 optimisation (issue 3): a rejection's hint lets the leader skip a
/// divergent tail in a few round trips, not one entry per round trip.
#[test]
fn reject_hint_converges_fast_2ab() {
    let (_, followers) = figure7();
    for (i, f) in followers.iter().enumerate() {
        let nt = figure7_network(f);
        let rejects = nt
            .delivered
            .iter()
            .filter(|m| m.msg_type() == MessageType::MsgAppendResponse && m.from == 2 && m.reject)
            .count();
        assert!(
            rejects <= 3,
            "follower {}: {rejects} rejected appends",
            (b'a' + i as u8) as char
        );
    }
}

/// §5.4.2, Figure 8: a leader never commits an entry of an earlier term by
/// counting replicas; only an entry of its own term commits (and with it the
/// earlier ones).
#[test]
fn figure8_commit_only_current_term_by_counting_2ab() {
    for (ack, want) in [(1, 0), (2, 0), (3, 3)] {
        let mut r = raft_with_terms(1, &[1, 2], &[1, 2], new_config(1, ET, 1));
        r.become_candidate();
        r.become_leader();
        assert_eq!(r.term, 3);
        persist(&mut r);
        take_msgs(&mut r);
        r.step(append_ack(2, 1, 3, ack)).expect("ack");
        assert_eq!(r.raft_log.committed, want, "ack {ack}");
    }
}

/// §5.4.2 through the network: entries a deposed leader left on a minority
/// are committed by the next leader only via an entry of the new term.
#[test]
fn commit_without_new_term_entry_2ab() {
    let mut nt = Network::new((0..5).map(|_| Peer::Fresh).collect());
    nt.send(vec![hup(1)]);
    for id in 3..=5 {
        nt.cut(1, id);
    }
    nt.send(vec![propose(1, "a")]);
    nt.send(vec![propose(1, "b")]);
    assert_eq!(nt.peer(1).raft_log.committed, 1, "no quorum holds 2 and 3");
    nt.recover();
    nt.ignore(MessageType::MsgAppend);
    nt.send(vec![hup(2)]);
    assert_eq!(nt.peer(2).state, StateRole::Leader);
    assert_eq!(
        nt.peer(2).raft_log.committed,
        1,
        "earlier-term entries are not committed by counting"
    );
    nt.recover();
    // The dropped probes paused replication; heartbeat responses resume it.
    nt.send(vec![beat(2)]);
    assert_eq!(
        nt.peer(2).raft_log.committed,
        4,
        "the term-2 entry commits, and 2..3 with it"
    );
    nt.send(vec![propose(2, "c")]);
    assert_eq!(nt.peer(2).raft_log.committed, 5);
    for id in 1..=5 {
        assert_eq!(log_full(nt.peer(id)), log_full(nt.peer(2)), "node {id}");
    }
}

/// §5.3: proposals commit when a quorum is reachable and not otherwise.
#[test]
fn proposal_with_and_without_quorum_2ab() {
    use Peer::{BlackHole as B, Fresh as F};
    let cases: Vec<(Vec<Peer>, bool)> = vec![
        (vec![F, F, F], true),
        (vec![F, F, B], true),
        (vec![F, B, B], false),
        (vec![F, B, B, F], false),
        (vec![F, B, B, F, F], true),
    ];
    for (i, (peers, success)) in cases.into_iter().enumerate() {
        let mut nt = Network::new(peers);
        nt.send(vec![hup(1)]);
        let res = nt.peer_mut(1).step(propose(1, "somedata"));
        nt.flush(1);
        if success {
            res.expect("leader accepts the proposal");
            let want = vec![(1, 1, vec![]), (2, 1, b"somedata".to_vec())];
            for id in nt.live_ids() {
                assert_eq!(log_full(nt.peer(id)), want, "case {i} node {id}");
                assert_eq!(nt.peer(id).raft_log.committed, 2, "case {i} node {id}");
            }
        } else {
            assert_eq!(
                res,
                Err(Error::ProposalDropped),
                "case {i}: a candidate drops proposals"
            );
            assert_eq!(nt.peer(1).raft_log.committed, 0, "case {i}");
            assert_eq!(nt.peer(1).raft_log.last_index(), 0, "case {i}");
        }
    }
}

/// §5.3 (clients may contact any server): a follower forwards a proposal to
/// the leader, which commits it everywhere.
#[test]
fn proposal_by_proxy_2ab() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.send(vec![propose(2, "somedata")]);
    let want = vec![(1, 1, vec![]), (2, 1, b"somedata".to_vec())];
    for id in 1..=3 {
        assert_eq!(log_full(nt.peer(id)), want, "node {id}");
        assert_eq!(nt.peer(id).raft_log.committed, 2, "node {id}");
    }
    let fwd: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgPropose && m.from == 2 && m.to == 1)
        .collect();
    assert_eq!(fwd.len(), 1, "follower forwarded to the leader");
    assert_eq!(
        fwd[0].term, 0,
        "a forwarded proposal carries no term (API.md, Terms rule)"
    );
}

/// A follower with no known leader (and a candidate) refuses a proposal with
/// `ProposalDropped`, appending nothing.
#[test]
fn proposal_dropped_without_leader_2ab() {
    let mut f = new_raft(1, &[1, 2, 3], ET, 1);
    assert_eq!(f.step(propose(1, "x")), Err(Error::ProposalDropped));
    assert_eq!(f.raft_log.last_index(), 0);
    assert!(f.msgs.is_empty());
    let mut c = new_raft(1, &[1, 2, 3], ET, 1);
    c.step(hup(1)).expect("hup");
    take_msgs(&mut c);
    assert_eq!(c.step(propose(1, "x")), Err(Error::ProposalDropped));
    assert_eq!(c.raft_log.last_index(), 0);
    assert!(
        c.msgs
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgPropose)
    );
}

/// Heartbeat-commit safety: a heartbeat carries min(follower's matched,
/// committed), so a follower never commits entries it may not share.
#[test]
fn heartbeat_commit_is_min_of_matched_and_committed_2ab() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    r.step(propose(1, "a")).expect("propose");
    r.step(propose(1, "b")).expect("propose");
    persist(&mut r);
    r.step(append_ack(2, 1, 1, 3)).expect("ack");
    assert_eq!(r.raft_log.committed, 3);
    take_msgs(&mut r);
    r.bcast_heartbeat();
    let hb2 = filter_msgs(&r.msgs, MessageType::MsgHeartbeat, 2);
    let hb3 = filter_msgs(&r.msgs, MessageType::MsgHeartbeat, 3);
    assert_eq!(hb2.len(), 1);
    assert_eq!(hb3.len(), 1);
    assert_eq!(hb2[0].commit, 3);
    assert_eq!(hb3[0].commit, 1, "3 only matched index 1");
}

/// Own-log rule (API.md, thesis §10.2.1): a leader counts its own entries only
/// once durable; it may commit when enough others persisted.
#[test]
fn leader_counts_only_persisted_own_entries_2ab() {
    // Single voter: nothing commits until the leader's own entry is durable.
    let mut r = new_raft(1, &[1], ET, 1);
    r.step(hup(1)).expect("hup");
    assert_eq!(r.state, StateRole::Leader);
    assert_eq!(r.raft_log.committed, 0, "noop not durable yet");
    persist(&mut r);
    assert_eq!(r.raft_log.committed, 1);
    r.step(propose(1, "x")).expect("propose");
    assert_eq!(r.raft_log.committed, 1, "proposal not durable yet");
    persist(&mut r);
    assert_eq!(r.raft_log.committed, 2);

    // Three voters: one follower's ack plus an unpersisted leader copy is not a quorum...
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    r.step(propose(1, "y")).expect("propose");
    r.step(append_ack(2, 1, 1, 2)).expect("ack");
    assert_eq!(r.raft_log.committed, 1, "leader's copy of 2 is not durable");
    // ...but two followers that persisted it are.
    r.step(append_ack(3, 1, 1, 2)).expect("ack");
    assert_eq!(r.raft_log.committed, 2);
}

/// Progress only moves forward: a stale (duplicate, reordered) ack does not
/// lower a follower's match.
#[test]
fn stale_append_ack_does_not_regress_progress_2ab() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    for d in ["a", "b"] {
        r.step(propose(1, d)).expect("propose");
    }
    persist(&mut r);
    r.step(append_ack(2, 1, 1, 3)).expect("ack");
    r.step(append_ack(2, 1, 1, 1)).expect("stale ack");
    let p = r.prs().get(2).expect("progress");
    assert_eq!(p.matched, 3);
    assert!(p.next_idx >= 4);
    assert_eq!(r.raft_log.committed, 3);
}

/// Flow control, Probe: at most one append in flight to a probed follower;
/// more proposals send nothing until it answers; a heartbeat response from
/// the lagging follower triggers the next append.
#[test]
fn probe_state_pauses_after_one_append_2ab() {
    let mut r = new_raft(1, &[1, 2], ET, 1);
    r.become_candidate();
    r.become_leader();
    r.send_append(2);
    assert_eq!(
        r.prs().get(2).expect("progress").state,
        ProgressState::Probe
    );
    let first = take_msgs(&mut r);
    assert_eq!(
        appends_to(&first, 2).len(),
        1,
        "exactly one probe: {first:?}"
    );
    for d in ["a", "b", "c"] {
        r.step(propose(1, d)).expect("propose");
        persist(&mut r);
    }
    let paused = take_msgs(&mut r);
    assert!(
        appends_to(&paused, 2).is_empty(),
        "probe is paused: {paused:?}"
    );
    let mut hbr = msg(2, 1, MessageType::MsgHeartbeatResponse, 1);
    hbr.commit = 0;
    r.step(hbr).expect("heartbeat response");
    let resumed = take_msgs(&mut r);
    assert_eq!(
        appends_to(&resumed, 2).len(),
        1,
        "heartbeat response resumes the probe: {resumed:?}"
    );
}

/// Flow control, Replicate: appends are pipelined up to `max_inflight_msgs`,
/// then pause; an ack frees the window; acks of everything free it fully.
#[test]
fn replicate_pipelines_up_to_window_2ab() {
    let mut c = new_config(1, ET, 1);
    c.max_inflight_msgs = 3;
    let mut r = raft_from(&c, new_storage(&[1, 2, 3], &[]));
    make_leader_with_committed_noop(&mut r);
    // Acknowledge whatever the commit broadcast put in flight.
    r.step(append_ack(2, 1, 1, 1)).expect("ack");
    take_msgs(&mut r);
    assert_eq!(
        r.prs().get(2).expect("progress").state,
        ProgressState::Replicate
    );
    let mut sent = Vec::new();
    for i in 0..10 {
        r.step(propose(1, format!("e{i}").into_bytes()))
            .expect("propose");
        sent.extend(appends_to(&take_msgs(&mut r), 2));
    }
    let with_entries: Vec<&Message> = sent.iter().filter(|m| !m.entries.is_empty()).collect();
    assert_eq!(with_entries.len(), 3, "window of 3: {with_entries:?}");
    // The first in-flight append acked: one slot frees and the rest goes out.
    let first_last = with_entries[0].entries.last().expect("entries").index;
    r.step(append_ack(2, 1, 1, first_last)).expect("ack");
    let more = appends_to(&take_msgs(&mut r), 2);
    let more: Vec<&Message> = more.iter().filter(|m| !m.entries.is_empty()).collect();
    assert_eq!(more.len(), 1, "one freed slot, one append: {more:?}");
    assert_eq!(
        more[0].entries.last().expect("entries").index,
        11,
        "it carries the rest"
    );
    // Everything acked: the window is free again, a new proposal goes out at once.
    r.step(append_ack(2, 1, 1, 11)).expect("ack");
    take_msgs(&mut r);
    r.step(propose(1, "after")).expect("propose");
    let next = appends_to(&take_msgs(&mut r), 2);
    assert_eq!(next.iter().filter(|m| !m.entries.is_empty()).count(), 1);
}

/// Batching (issue 3): several proposals in one step go out in one MsgAppend
/// per follower, and proposals queued while an append is still in the outbox
/// are merged into it.
#[test]
fn batching_proposals_into_one_append_2ab() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    let mut m = propose(1, "a");
    m.entries.push(entry_data(0, 0, "b"));
    m.entries.push(entry_data(0, 0, "c"));
    r.step(m).expect("propose three");
    for to in [2, 3] {
        let a = appends_to(&r.msgs, to);
        assert_eq!(a.len(), 1, "to {to}");
        assert_eq!(a[0].entries.len(), 3, "to {to}");
    }
    take_msgs(&mut r);
    for d in ["d", "e", "f"] {
        r.step(propose(1, d)).expect("propose");
    }
    for to in [2, 3] {
        let a = appends_to(&r.msgs, to);
        assert_eq!(a.len(), 1, "queued appends merged, to {to}: {a:?}");
        let idx: Vec<u64> = a[0].entries.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![5, 6, 7], "to {to}");
    }
}

/// Batching within `Config::max_size_per_msg` (issue 11: the merge counts
/// with the queued append's recorded size instead of re-measuring it):
/// proposals queued one by one join the queued append only while it stays
/// within the limit; the next one opens a new append, which later ones join.
#[test]
fn batching_stops_at_max_size_per_msg_2ab() {
    let mut c = new_config(1, ET, 1);
    c.max_size_per_msg = 350;
    let mut r = raft_from(&c, new_storage(&[1, 2, 3], &[]));
    make_leader_with_committed_noop(&mut r);
    for i in 0..7u8 {
        r.step(propose(1, vec![i; 100])).expect("propose");
    }
    let one = {
        use prost::Message as _;
        entry_data(1, 2, vec![0u8; 100]).encoded_len()
    };
    assert!(3 * one <= 350 && 4 * one > 350, "entry size {one}");
    for to in [2, 3] {
        let a = appends_to(&r.msgs, to);
        let idx: Vec<Vec<u64>> = a
            .iter()
            .map(|m| m.entries.iter().map(|e| e.index).collect())
            .collect();
        assert_eq!(idx, vec![vec![2, 3, 4], vec![5, 6, 7], vec![8]], "to {to}");
        assert_eq!(
            a.iter().map(|m| m.index).collect::<Vec<_>>(),
            vec![1, 4, 7],
            "each append follows the previous one, to {to}"
        );
    }
}

/// §5.3: a follower's log and commit catch up after it was cut off.
#[test]
fn lagging_follower_catches_up_2ab() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    for i in 0..20 {
        nt.send(vec![propose(1, format!("v{i}").into_bytes())]);
    }
    assert_eq!(nt.peer(1).raft_log.committed, 21);
    assert_eq!(nt.peer(3).raft_log.last_index(), 1);
    nt.recover();
    nt.send(vec![beat(1)]);
    nt.send(vec![propose(1, "last")]);
    assert_eq!(log_full(nt.peer(3)), log_full(nt.peer(1)));
    assert_eq!(nt.peer(3).raft_log.committed, 22);
}

/// Lossy network (seeded): after recovery every node holds the same committed log.
#[test]
fn lossy_network_converges_2ab() {
    let mut nt = Network::new(vec![
        Peer::Fresh,
        Peer::Fresh,
        Peer::Fresh,
        Peer::Fresh,
        Peer::Fresh,
    ]);
    nt.send(vec![hup(1)]);
    for a in 1..=5 {
        for b in 1..=5 {
            if a != b {
                nt.drop(a, b, 0.3);
            }
        }
    }
    for i in 0..30 {
        nt.send(vec![propose(1, format!("v{i}").into_bytes())]);
        if i % 5 == 0 {
            nt.tick(1);
        }
    }
    nt.recover();
    for _ in 0..3 {
        nt.send(vec![beat(1)]);
    }
    nt.send(vec![propose(1, "final")]);
    let want = log_full(nt.peer(1));
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    for id in 2..=5 {
        assert_eq!(log_full(nt.peer(id)), want, "node {id}");
        assert_eq!(
            nt.peer(id).raft_log.committed,
            nt.peer(1).raft_log.committed
        );
    }
}

/// `Config::skip_bcast_commit` (API.md): false sends an advanced commit at
/// once; true lets it ride the next append/heartbeat — except while a conf
/// change is pending.
#[test]
fn skip_bcast_commit_2ab() {
    for skip in [false, true] {
        let mut c = new_config(1, ET, 1);
        c.skip_bcast_commit = skip;
        let mut r = raft_from(&c, new_storage(&[1, 2, 3], &[]));
        make_leader_with_committed_noop(&mut r);
        r.step(propose(1, "x")).expect("propose");
        persist(&mut r);
        take_msgs(&mut r);
        r.step(append_ack(2, 1, 1, 2)).expect("ack");
        assert_eq!(r.raft_log.committed, 2);
        let to3 = appends_to(&r.msgs, 3);
        if skip {
            assert!(
                to3.is_empty(),
                "skip: commit rides the next message: {to3:?}"
            );
        } else {
            assert_eq!(to3.len(), 1, "no skip: commit sent at once");
            assert_eq!(to3[0].commit, 2);
        }
    }
    // Pending conf change: broadcast even with skip.
    let mut c = new_config(1, ET, 1);
    c.skip_bcast_commit = true;
    let mut r = raft_from(&c, new_storage(&[1, 2, 3], &[]));
    make_leader_with_committed_noop(&mut r);
    r.step(propose_conf(
        1,
        &conf_change(tinyraft::eraftpb::ConfChangeType::AddNode, 4),
    ))
    .expect("conf change");
    persist(&mut r);
    take_msgs(&mut r);
    r.step(append_ack(2, 1, 1, 2)).expect("ack");
    assert_eq!(r.raft_log.committed, 2);
    let to3 = appends_to(&r.msgs, 3);
    assert_eq!(to3.len(), 1, "conf change pending: commit goes out at once");
    assert_eq!(to3[0].commit, 2);
}

/// `Config::max_size_per_msg` (API.md): a MsgAppend carries at most that
/// many bytes of entries, but always at least one entry.
#[test]
fn max_size_per_msg_2ab() {
    let peers = vec![Peer::Fresh, Peer::Fresh, Peer::Fresh];
    let mut nt = Network::new_with_config(peers, |id| {
        let mut c = new_config(id, ET, 1);
        c.max_size_per_msg = 150;
        c
    });
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    for i in 0..6u8 {
        nt.send(vec![propose(1, vec![i; 100])]);
    }
    nt.recover();
    nt.send(vec![beat(1)]);
    let to3: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend && m.to == 3 && !m.entries.is_empty())
        .collect();
    assert!(!to3.is_empty());
    for m in &to3 {
        assert_eq!(
            m.entries.len(),
            1,
            "two 100-byte entries exceed 150 bytes: {:?}",
            m.entries.len()
        );
    }
    assert_eq!(log_full(nt.peer(3)), log_full(nt.peer(1)));
    // A single entry larger than the limit still goes out.
    nt.send(vec![propose(1, vec![7u8; 1000])]);
    assert_eq!(nt.peer(3).raft_log.last_index(), 8);
    assert_eq!(nt.peer(3).raft_log.committed, 8);
}

/// `RawNode::report_unreachable` sends a replicating follower back to probing.
#[test]
fn report_unreachable_2ab() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    assert_eq!(
        cl.node(1).raft.prs().get(2).expect("progress").state,
        ProgressState::Replicate
    );
    cl.node(1).report_unreachable(2);
    assert_eq!(
        cl.node(1).raft.prs().get(2).expect("progress").state,
        ProgressState::Probe
    );
}
