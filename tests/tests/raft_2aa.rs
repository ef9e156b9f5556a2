//! TinyKV part 2AA: leader election (Raft §5.1, §5.2, §5.4.1; thesis §9.6
//! pre-vote and check-quorum), against API.md's public contract.
#![allow(clippy::type_complexity)]

use std::collections::BTreeSet;

use tinyraft::StateRole;
use tinyraft::eraftpb::{Message, MessageType};
use tinyraft_tests::*;

const ET: usize = 10;

/// §5.1: "If a server receives a request with a larger term, it updates its
/// term and converts to follower" — from every role, and an append names the
/// sender as leader.
#[test]
fn update_term_from_message_any_role_2aa() {
    for role in [StateRole::Follower, StateRole::Candidate, StateRole::Leader] {
        let mut r = new_raft(1, &[1, 2, 3], ET, 1);
        match role {
            StateRole::Follower => r.become_follower(1, 2),
            StateRole::Candidate => r.become_candidate(),
            _ => {
                r.become_candidate();
                r.become_leader();
            }
        }
        assert_eq!(r.term, 1, "{role:?}");
        r.step(append_msg(2, 1, 2, 0, 0, 0, vec![]))
            .expect("step higher-term append");
        assert_eq!(r.term, 2, "{role:?}: term adopted");
        assert_eq!(r.state, StateRole::Follower, "{role:?}: steps down");
        assert_eq!(
            r.leader_id, 2,
            "{role:?}: sender of an append is the leader"
        );
    }
}

/// §5.1: a higher-term vote request makes a leader a follower with no known leader.
#[test]
fn higher_term_vote_request_deposes_leader_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_candidate();
    r.become_leader();
    r.step(vote_req(MessageType::MsgRequestVote, 2, 1, 5, 1, 1))
        .expect("step");
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 5);
    assert_eq!(r.leader_id, 0);
}

/// §5.1: "If a server receives a request with a stale term number, it rejects
/// the request": a stale append changes no state and is never accepted.
#[test]
fn stale_term_append_changes_nothing_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_follower(3, 2);
    let before = (
        r.term,
        r.vote,
        r.leader_id,
        log_ids(&r),
        r.raft_log.committed,
    );
    r.step(append_msg(3, 1, 2, 0, 0, 1, vec![entry(2, 1)]))
        .expect("stale append is not an error");
    assert_eq!(
        before,
        (
            r.term,
            r.vote,
            r.leader_id,
            log_ids(&r),
            r.raft_log.committed
        )
    );
    assert!(
        !r.msgs
            .iter()
            .any(|m| m.msg_type() == MessageType::MsgAppendResponse && !m.reject && m.index >= 1),
        "stale append accepted: {:?}",
        r.msgs
    );
}

/// §5.1: stale vote responses are ignored: a candidate of term 2 does not win
/// on term-1 grants.
#[test]
fn stale_vote_responses_ignored_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_candidate();
    r.become_candidate();
    assert_eq!(r.term, 2);
    for from in [2, 3] {
        r.step(vote_resp(
            MessageType::MsgRequestVoteResponse,
            from,
            1,
            1,
            true,
        ))
        .expect("step");
    }
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.term, 2);
}

/// §5.1 on a leader: a stale-term append response does not move progress.
#[test]
fn stale_append_response_ignored_by_leader_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_candidate();
    r.become_candidate();
    r.become_leader();
    persist(&mut r);
    take_msgs(&mut r);
    let term = r.term;
    r.step(append_ack(2, 1, term - 1, 1)).expect("step");
    assert_eq!(r.prs().get(2).expect("progress").matched, 0);
    assert_eq!(r.state, StateRole::Leader);
    assert_eq!(r.term, term);
}

/// §5.2: servers start up as followers at term 0.
#[test]
fn start_as_follower_2aa() {
    let r = new_raft(1, &[1, 2, 3], ET, 1);
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 0);
    assert_eq!(r.vote, 0);
    assert_eq!(r.leader_id, 0);
}

/// §5.2: a leader sends heartbeats to every follower every heartbeat tick.
#[test]
fn leader_bcast_beat_2aa() {
    let hb = 2;
    let mut r = new_raft(1, &[1, 2, 3], ET, hb);
    r.become_candidate();
    r.become_leader();
    take_msgs(&mut r);
    for _ in 0..hb {
        r.tick();
    }
    let mut beats: Vec<(u64, u64)> = r
        .msgs
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgHeartbeat)
        .map(|m| (m.to, m.term))
        .collect();
    beats.sort();
    assert_eq!(beats, vec![(2, 1), (3, 1)]);
}

/// §5.2: a follower (and a candidate, for a new election) that hears nothing
/// for its election timeout becomes a candidate of term+1, votes for itself
/// and asks every other voter with its last log position.
#[test]
fn follower_and_candidate_start_election_2aa() {
    for start in [StateRole::Follower, StateRole::Candidate] {
        let mut r = new_raft(1, &[1, 2, 3], ET, 1);
        if start == StateRole::Follower {
            r.become_follower(1, 2);
        } else {
            r.become_candidate();
        }
        take_msgs(&mut r);
        for _ in 0..r.randomized_election_timeout() {
            r.tick();
        }
        persist(&mut r);
        assert_eq!(r.state, StateRole::Candidate, "{start:?}");
        assert_eq!(r.term, 2, "{start:?}");
        assert_eq!(r.vote, 1, "{start:?}");
        let mut reqs: Vec<(u64, u64, u64, u64)> = r
            .msgs
            .iter()
            .filter(|m| m.msg_type() == MessageType::MsgRequestVote)
            .map(|m| (m.to, m.term, m.index, m.log_term))
            .collect();
        reqs.sort();
        assert_eq!(reqs, vec![(2, 2, 0, 0), (3, 2, 0, 0)], "{start:?}");
    }
}

/// §5.2: the election timer fires exactly at the randomized timeout, not before.
#[test]
fn campaign_exactly_at_randomized_timeout_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    let t = r.randomized_election_timeout();
    assert!((ET..2 * ET).contains(&t), "timeout {t}");
    for _ in 0..t - 1 {
        r.tick();
    }
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.election_elapsed(), t - 1);
    r.tick();
    assert_eq!(r.state, StateRole::Candidate);
}

/// §5.2: the randomized timeout is uniform over [et, 2et), and redrawn on
/// every become_follower / become_candidate (so split votes don't repeat).
#[test]
fn randomized_timeout_range_and_redraw_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    let mut seen = BTreeSet::new();
    let mut draws = Vec::new();
    for i in 0..1000u64 {
        if i % 2 == 0 {
            r.become_follower(i + 1, 0);
        } else {
            r.become_candidate();
        }
        let t = r.randomized_election_timeout();
        assert!((ET..2 * ET).contains(&t), "timeout {t} outside [et, 2et)");
        seen.insert(t);
        draws.push(t);
    }
    assert_eq!(
        seen,
        (ET..2 * ET).collect::<BTreeSet<_>>(),
        "every value in [et, 2et) drawn"
    );
    // Roughly uniform: no value takes more than a quarter of the draws.
    for v in &seen {
        let n = draws.iter().filter(|t| *t == v).count();
        assert!(n < 250, "value {v} drawn {n}/1000 times");
    }
}

/// §5.2 with `min_election_tick` / `max_election_tick`: draws stay in [min, max).
#[test]
fn custom_election_range_2aa() {
    let mut c = new_config(1, ET, 1);
    c.min_election_tick = 12;
    c.max_election_tick = 15;
    let mut r = raft_from(&c, new_storage(&[1, 2, 3], &[]));
    let mut seen = BTreeSet::new();
    for t in 1..300 {
        r.become_follower(t, 0);
        let v = r.randomized_election_timeout();
        assert!((12..15).contains(&v), "timeout {v} outside [12, 15)");
        seen.insert(v);
    }
    assert_eq!(seen.len(), 3);
}

/// §5.2: a candidate wins with a majority of votes, keeps waiting without one,
/// and steps back to follower on a majority of rejections.
#[test]
fn election_in_one_round_2aa() {
    use StateRole::*;
    let cases: Vec<(u64, Vec<(u64, bool)>, StateRole)> = vec![
        (1, vec![], Leader),
        (3, vec![(2, true), (3, true)], Leader),
        (3, vec![(2, true)], Leader),
        (5, vec![(2, true), (3, true), (4, true), (5, true)], Leader),
        (5, vec![(2, true), (3, true)], Leader),
        (3, vec![], Candidate),
        (5, vec![(2, true)], Candidate),
        (5, vec![(2, false), (3, false)], Candidate),
        (5, vec![(2, true), (3, false), (4, false)], Candidate),
        (3, vec![(2, false), (3, false)], Follower),
        (5, vec![(2, false), (3, false), (4, false)], Follower),
        (
            5,
            vec![(2, true), (3, false), (4, false), (5, false)],
            Follower,
        ),
    ];
    for (i, (size, votes, want)) in cases.into_iter().enumerate() {
        let ids: Vec<u64> = (1..=size).collect();
        let mut r = new_raft(1, &ids, ET, 1);
        r.step(hup(1)).expect("hup");
        persist(&mut r);
        for (from, granted) in votes {
            r.step(vote_resp(
                MessageType::MsgRequestVoteResponse,
                from,
                1,
                1,
                granted,
            ))
            .expect("vote response");
        }
        assert_eq!(r.state, want, "case {i}");
        assert_eq!(r.term, 1, "case {i}");
    }
}

/// §5.2: "each server will vote for at most one candidate in a given term, on
/// a first-come-first-served basis".
#[test]
fn follower_votes_at_most_once_per_term_2aa() {
    let cases = [
        (0, 2, false),
        (0, 3, false),
        (2, 2, false),
        (3, 3, false),
        (2, 3, true),
        (3, 2, true),
    ];
    for (vote, candidate, want_reject) in cases {
        let mut r = voted_raft(1, &[1, 2, 3], 1, vote);
        r.step(vote_req(MessageType::MsgRequestVote, candidate, 1, 1, 0, 0))
            .expect("step");
        persist(&mut r);
        let resp = filter_msgs(&r.msgs, MessageType::MsgRequestVoteResponse, candidate);
        assert_eq!(
            resp.len(),
            1,
            "vote {vote} candidate {candidate}: {:?}",
            r.msgs
        );
        assert_eq!(
            resp[0].reject, want_reject,
            "vote {vote} candidate {candidate}"
        );
        assert_eq!(resp[0].term, 1);
        let want_vote = if want_reject { vote } else { candidate };
        assert_eq!(r.vote, want_vote);
    }
}

/// §5.2: a candidate that already voted for itself rejects another candidate
/// of the same term.
#[test]
fn candidate_rejects_rival_same_term_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.step(hup(1)).expect("hup");
    take_msgs(&mut r);
    r.step(vote_req(MessageType::MsgRequestVote, 2, 1, 1, 0, 0))
        .expect("step");
    let resp = filter_msgs(&r.msgs, MessageType::MsgRequestVoteResponse, 2);
    assert_eq!(resp.len(), 1);
    assert!(resp[0].reject);
    assert_eq!(r.vote, 1);
    assert_eq!(r.state, StateRole::Candidate);
}

/// §5.2: "If the leader's term is at least as large as the candidate's
/// current term, then the candidate recognizes the leader as legitimate".
#[test]
fn candidate_fallback_to_leader_append_2aa() {
    for term in [1, 2] {
        let mut r = new_raft(1, &[1, 2, 3], ET, 1);
        r.step(hup(1)).expect("hup");
        assert_eq!(r.state, StateRole::Candidate);
        r.step(append_msg(2, 1, term, 0, 0, 0, vec![]))
            .expect("step");
        assert_eq!(r.state, StateRole::Follower, "term {term}");
        assert_eq!(r.term, term);
        assert_eq!(r.leader_id, 2);
    }
}

/// §5.2: a single-voter cluster elects itself at once.
#[test]
fn single_node_becomes_leader_2aa() {
    let mut nt = Network::new(vec![Peer::Fresh]);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
    assert_eq!(nt.peer(1).leader_id, 1);
}

/// §5.2: a leader ignores MsgHup (its term does not move).
#[test]
fn leader_ignores_hup_2aa() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
}

/// §5.2: elections through the network with black holes: a quorum elects, a
/// minority cannot.
#[test]
fn leader_election_with_black_holes_2aa() {
    use Peer::{BlackHole as B, Fresh as F};
    let cases: Vec<(Vec<Peer>, StateRole)> = vec![
        (vec![F, F, F], StateRole::Leader),
        (vec![F, F, B], StateRole::Leader),
        (vec![F, B, B], StateRole::Candidate),
        (vec![F, B, B, F], StateRole::Candidate),
        (vec![F, B, B, F, F], StateRole::Leader),
    ];
    for (i, (peers, want)) in cases.into_iter().enumerate() {
        let mut nt = Network::new(peers);
        nt.send(vec![hup(1)]);
        assert_eq!(nt.peer(1).state, want, "case {i}");
        assert_eq!(nt.peer(1).term, 1, "case {i}");
    }
}

/// §5.2: every node can become leader in turn; the others follow it.
#[test]
fn leader_cycle_2aa() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    for campaigner in 1..=3u64 {
        nt.send(vec![hup(campaigner)]);
        for id in 1..=3u64 {
            let p = nt.peer(id);
            if id == campaigner {
                assert_eq!(p.state, StateRole::Leader, "campaigner {campaigner}");
            } else {
                assert_eq!(
                    p.state,
                    StateRole::Follower,
                    "campaigner {campaigner}, node {id}"
                );
                assert_eq!(p.leader_id, campaigner);
            }
            assert_eq!(p.term, campaigner);
        }
    }
}

/// §5.4.1: a voter denies its vote to a candidate whose log is less up to
/// date (last term lower, or same last term and shorter).
#[test]
fn vote_up_to_date_check_2aa() {
    // (voter log terms, candidate last term, candidate last index, reject)
    let cases: Vec<(Vec<u64>, u64, u64, bool)> = vec![
        (vec![1], 1, 1, false),
        (vec![1], 1, 2, false),
        (vec![1, 1], 1, 1, true),
        (vec![1], 2, 1, false),
        (vec![1, 1], 2, 1, false),
        (vec![2], 1, 1, true),
        (vec![2], 1, 5, true),
        (vec![1, 2], 2, 2, false),
        (vec![1, 2], 2, 1, true),
        (vec![1, 2], 3, 1, false),
    ];
    for (i, (terms, lt, li, reject)) in cases.into_iter().enumerate() {
        let mut r = raft_with_terms(1, &[1, 2], &terms, new_config(1, ET, 1));
        r.step(vote_req(MessageType::MsgRequestVote, 2, 1, 3, lt, li))
            .expect("step");
        persist(&mut r);
        let resp = filter_msgs(&r.msgs, MessageType::MsgRequestVoteResponse, 2);
        assert_eq!(resp.len(), 1, "case {i}: {:?}", r.msgs);
        assert_eq!(resp[0].reject, reject, "case {i}");
        assert_eq!(resp[0].term, 3, "case {i}");
        assert_eq!(r.term, 3, "case {i}");
    }
}

/// §5.2 dueling candidates: a candidate with a stale log that gets a higher
/// term deposes the leader but cannot win; everyone ends a follower of the
/// new term and the elected log survives.
#[test]
fn dueling_candidates_2aa() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.cut(1, 3);
    nt.send(vec![hup(1)]);
    nt.send(vec![hup(3)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(3).state, StateRole::Candidate);
    nt.recover();
    // 3's log is behind (no term-1 entry): its term-2 campaign fails.
    nt.send(vec![hup(3)]);
    for (id, log) in [(1, vec![(1, 1)]), (2, vec![(1, 1)]), (3, vec![])] {
        let p = nt.peer(id);
        assert_eq!(p.state, StateRole::Follower, "node {id}");
        assert_eq!(p.term, 2, "node {id}");
        assert_eq!(log_ids(p), log, "node {id}");
    }
    assert_eq!(nt.peer(1).raft_log.committed, 1);
    assert_eq!(nt.peer(2).raft_log.committed, 1);
}

/// §5.2 dueling candidates with pre-vote: the stale candidate's pre-vote
/// fails and nobody's term moves.
#[test]
fn dueling_pre_candidates_2aa() {
    let mut nt = Network::fresh(3, true, false);
    nt.cut(1, 3);
    nt.send(vec![hup(1)]);
    nt.send(vec![hup(3)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.recover();
    nt.send(vec![hup(3)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
    assert_eq!(nt.peer(2).term, 1);
    assert_eq!(nt.peer(3).term, 1);
    assert_eq!(nt.peer(3).state, StateRole::Follower);
    assert_eq!(log_ids(nt.peer(3)), Vec::<(u64, u64)>::new());
}

/// A node outside its own configuration (waiting to be added), or with an
/// empty one, never campaigns (API.md, Membership rule).
#[test]
fn non_member_never_campaigns_2aa() {
    for voters in [vec![2, 3], vec![]] {
        let mut r = new_raft(1, &voters, ET, 1);
        for _ in 0..10 * ET {
            r.tick();
        }
        r.step(hup(1)).expect("hup");
        assert_eq!(r.state, StateRole::Follower, "voters {voters:?}");
        assert_eq!(r.term, 0, "voters {voters:?}");
        assert!(r.msgs.is_empty(), "voters {voters:?}: {:?}", r.msgs);
    }
}

/// Thesis §9.6: a pre-candidate asks at term+1 without bumping its own term,
/// and a voter answering a pre-vote does not bump its term either.
#[test]
fn pre_vote_does_not_bump_terms_2aa() {
    let mut r = raft_from(&config_with(1, true, false), new_storage(&[1, 2, 3], &[]));
    r.step(hup(1)).expect("hup");
    persist(&mut r);
    assert_eq!(r.state, StateRole::PreCandidate);
    assert_eq!(r.term, 0);
    let reqs: Vec<Message> = r
        .msgs
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgRequestPreVote)
        .cloned()
        .collect();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter().all(|m| m.term == 1),
        "pre-votes ask at term+1: {reqs:?}"
    );

    let mut v = raft_from(&config_with(2, true, false), new_storage(&[1, 2, 3], &[]));
    v.become_follower(1, 0);
    v.step(vote_req(MessageType::MsgRequestPreVote, 1, 2, 2, 0, 0))
        .expect("pre-vote");
    persist(&mut v);
    assert_eq!(
        v.term, 1,
        "a pre-vote request does not change the voter's term"
    );
    assert_eq!(v.vote, 0, "a pre-vote is not a vote");
    let resp = filter_msgs(&v.msgs, MessageType::MsgRequestPreVoteResponse, 1);
    assert_eq!(resp.len(), 1);
    assert!(!resp[0].reject);
}

/// Thesis §9.6: with pre-vote the election still succeeds (pre-vote majority,
/// then a real election at term+1).
#[test]
fn pre_vote_election_succeeds_2aa() {
    let mut nt = Network::fresh(3, true, false);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
    assert_eq!(nt.peer(2).leader_id, 1);
    assert_eq!(nt.peer(3).leader_id, 1);
}

/// Thesis §9.6: a pre-candidate cut off from the cluster stays at its term,
/// however long it tries.
#[test]
fn isolated_pre_candidate_keeps_term_2aa() {
    let mut nt = Network::fresh(3, true, false);
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    for _ in 0..5 {
        nt.send(vec![hup(3)]);
    }
    nt.tick_n(3, 5 * ET);
    assert_eq!(nt.peer(3).term, 1);
    assert_ne!(nt.peer(3).state, StateRole::Leader);
    assert_ne!(nt.peer(3).state, StateRole::Candidate);
}

/// Check-quorum: a leader that hears from no quorum for an election timeout
/// steps down (without bumping its term).
#[test]
fn check_quorum_isolated_leader_steps_down_2aa() {
    let mut nt = Network::fresh(3, false, true);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.isolate(1);
    nt.tick_n(1, 2 * ET + 1);
    assert_eq!(nt.peer(1).state, StateRole::Follower);
    assert_eq!(nt.peer(1).term, 1);
}

/// Check-quorum: a leader that keeps hearing from its followers stays leader.
#[test]
fn check_quorum_connected_leader_stays_2aa() {
    let mut nt = Network::fresh(3, false, true);
    nt.send(vec![hup(1)]);
    nt.tick_n(1, 5 * ET);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
}

/// Check-quorum: a follower that heard from its leader within the election
/// timeout ignores a (higher-term) vote request — it neither votes nor moves
/// its term.
#[test]
fn check_quorum_lease_ignores_vote_request_2aa() {
    let mut nt = Network::fresh(3, false, true);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(2).leader_id, 1);
    let f = nt.peer_mut(2);
    take_msgs(f);
    f.step(vote_req(MessageType::MsgRequestVote, 3, 2, 2, 5, 100))
        .expect("step");
    assert_eq!(f.term, 1);
    assert_eq!(f.vote, 1);
    assert_eq!(f.leader_id, 1);
    assert!(
        !f.msgs
            .iter()
            .any(|m| m.msg_type() == MessageType::MsgRequestVoteResponse && !m.reject),
        "vote granted inside the leader lease: {:?}",
        f.msgs
    );
}

/// Pre-vote + check-quorum (thesis §9.6): a partitioned node that rejoins does
/// not depose a healthy leader, and the cluster's term does not move.
#[test]
fn partitioned_node_rejoins_without_disruption_2aa() {
    let mut nt = Network::fresh(3, true, true);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.isolate(3);
    nt.send(vec![propose(1, "while 3 was away")]);
    nt.tick_n(3, 4 * ET);
    nt.recover();
    nt.tick_n(3, 2 * ET);
    nt.tick_n(1, 2 * ET);
    nt.send(vec![propose(1, "after")]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert_eq!(nt.peer(1).term, 1);
    assert_eq!(nt.peer(2).term, 1);
    assert_eq!(nt.peer(3).term, 1);
    assert_eq!(nt.peer(3).state, StateRole::Follower);
    assert_eq!(log_full(nt.peer(3)), log_full(nt.peer(1)));
    assert_eq!(nt.peer(3).raft_log.committed, 3);
}

/// With check-quorum or pre-vote on, a node answers a lower-term append so
/// the stale sender learns the new term (as etcd does), and changes nothing.
#[test]
fn lower_term_append_answered_2aa() {
    for (pv, cq) in [(true, false), (false, true), (true, true)] {
        let mut r = raft_from(&config_with(2, pv, cq), new_storage(&[1, 2, 3], &[]));
        r.become_follower(3, 3);
        r.step(append_msg(1, 2, 2, 0, 0, 0, vec![]))
            .expect("stale append");
        persist(&mut r);
        assert_eq!(r.term, 3, "pv {pv} cq {cq}");
        assert_eq!(r.leader_id, 3, "pv {pv} cq {cq}");
        let to_stale: Vec<&Message> = r.msgs.iter().filter(|m| m.to == 1).collect();
        assert!(
            !to_stale.is_empty(),
            "pv {pv} cq {cq}: no answer to the stale leader"
        );
        assert!(
            to_stale.iter().all(|m| m.term == 3),
            "pv {pv} cq {cq}: {to_stale:?}"
        );

        // The stale leader learns the term and steps down.
        let mut old = raft_from(&config_with(1, pv, cq), new_storage(&[1, 2, 3], &[]));
        old.become_candidate();
        old.become_candidate();
        old.become_leader();
        for m in to_stale {
            old.step(m.clone()).expect("answer");
        }
        assert_eq!(old.state, StateRole::Follower, "pv {pv} cq {cq}");
        assert_eq!(old.term, 3, "pv {pv} cq {cq}");
    }
}

/// Check-quorum frees a stuck candidate: a node that campaigned alone (term
/// ahead) rejoins; the cluster eventually agrees on one leader and one term.
#[test]
fn stuck_candidate_rejoins_2aa() {
    let mut nt = Network::fresh(3, false, true);
    nt.send(vec![hup(1)]);
    nt.isolate(1);
    nt.send(vec![hup(3)]);
    nt.send(vec![hup(3)]);
    assert_eq!(nt.peer(3).state, StateRole::Candidate);
    nt.recover();
    for _ in 0..4 * ET {
        nt.tick(1);
        nt.tick(2);
        nt.tick(3);
    }
    let leaders: Vec<u64> = (1..=3)
        .filter(|id| nt.peer(*id).state == StateRole::Leader)
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one leader");
    let t = nt.peer(leaders[0]).term;
    for id in 1..=3 {
        assert_eq!(nt.peer(id).term, t);
    }
}

/// Term-0 local messages never change the term (API.md, Terms rule).
#[test]
fn local_messages_ignore_term_field_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_follower(4, 2);
    let mut m = hup(1);
    m.term = 99;
    r.step(m).expect("hup");
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.term, 5, "MsgHup's term field is ignored");
}

fn election_trace(seed: u64) -> (Vec<Message>, Vec<usize>) {
    let peers = vec![Peer::Fresh, Peer::Fresh, Peer::Fresh];
    let mut nt = Network::new_with_config(peers, |id| {
        let mut c = new_config(id, ET, 1);
        c.seed = seed;
        c
    });
    let timeouts = (1..=3)
        .map(|id| nt.peer(id).randomized_election_timeout())
        .collect();
    for _ in 0..3 * ET {
        for id in 1..=3 {
            nt.tick(id);
        }
    }
    (nt.delivered.clone(), timeouts)
}

/// Determinism (API.md): one seed and one input sequence give identical
/// message sequences; another seed changes the election timing.
#[test]
fn determinism_same_seed_same_messages_2aa() {
    let (a, ta) = election_trace(42);
    let (b, tb) = election_trace(42);
    assert!(!a.is_empty(), "an election happened");
    assert_eq!(ta, tb);
    assert_eq!(a, b, "same seed, same messages");
    let mut differs = false;
    for seed in 43..53 {
        let (c, tc) = election_trace(seed);
        if tc != ta || c != a {
            differs = true;
            break;
        }
    }
    assert!(differs, "ten other seeds all produced the seed-42 election");
    // Nodes sharing one seed still draw different timeouts (seed mixed with id).
    let mut per_node: Vec<Vec<usize>> = Vec::new();
    for id in 1..=3 {
        let mut r = new_raft(id, &[1, 2, 3], ET, 1);
        let v: Vec<usize> = (1..20)
            .map(|t| {
                r.become_follower(t, 0);
                r.randomized_election_timeout()
            })
            .collect();
        per_node.push(v);
    }
    assert!(
        per_node[0] != per_node[1] || per_node[1] != per_node[2],
        "ids not mixed into the seed"
    );
}

/// Issue 3 (construction): `Config::validate` and `Raft::new` refuse invalid
/// configs with `ConfigInvalid`.
#[test]
fn config_validation_2aa() {
    let mut bad = Vec::new();
    let mut c = new_config(0, ET, 1);
    c.id = 0;
    bad.push(("id 0", c));
    bad.push(("heartbeat 0", new_config(1, ET, 0)));
    bad.push(("election <= heartbeat", new_config(1, 3, 3)));
    let mut c = new_config(1, ET, 1);
    c.max_inflight_msgs = 0;
    bad.push(("max_inflight_msgs 0", c));
    let mut c = new_config(1, ET, 1);
    c.min_election_tick = 15;
    c.max_election_tick = 12;
    bad.push(("min > max election tick", c));
    for (what, c) in bad {
        assert!(
            matches!(c.validate(), Err(tinyraft::Error::ConfigInvalid(_))),
            "{what}: {:?}",
            c.validate()
        );
        let r = tinyraft::Raft::new(&c, new_storage(&[1, 2, 3], &[]), &logger());
        assert!(
            matches!(r, Err(tinyraft::Error::ConfigInvalid(_))),
            "{what}"
        );
    }
    new_config(1, ET, 1)
        .validate()
        .expect("the helpers' config is valid");
    tinyraft::Config::new(1)
        .validate()
        .expect("Config::new is valid");
}

/// Issue 3 (restart): `Raft::new` loads term, vote and commit from storage,
/// and every member (itself included) has a progress.
#[test]
fn raft_new_loads_hard_state_2aa() {
    let s = storage_with_terms(&[1, 2, 3], &[1, 2, 5], 5);
    s.wl().set_hardstate(tinyraft::eraftpb::HardState {
        term: 5,
        vote: 2,
        commit: 2,
    });
    let r = raft_from(&new_config(1, ET, 1), s);
    assert_eq!((r.term, r.vote, r.raft_log.committed), (5, 2, 2));
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.raft_log.last_index(), 3);
    for id in 1..=3 {
        assert!(r.prs().get(id).is_some(), "progress for {id}");
    }
    // It keeps its vote: another candidate of term 5 is refused.
    let mut r = r;
    r.step(vote_req(MessageType::MsgRequestVote, 3, 1, 5, 5, 3))
        .expect("step");
    persist(&mut r);
    let resp = filter_msgs(&r.msgs, MessageType::MsgRequestVoteResponse, 3);
    assert_eq!(resp.len(), 1);
    assert!(resp[0].reject, "already voted for 2 in term 5");
}

/// Issue 3 (bad input): a message addressed to another node is refused and
/// changes nothing.
#[test]
fn message_to_other_node_refused_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    let res = r.step(append_msg(2, 3, 4, 0, 0, 0, vec![entry(4, 1)]));
    assert!(res.is_err(), "{res:?}");
    assert_eq!(r.term, 0);
    assert_eq!(r.raft_log.last_index(), 0);
}

/// Pre-vote with a split vote (as etcd's TestPreVoteWithSplitVote): after the
/// leader is lost, two nodes pre-campaign at once, both become candidates of
/// the same term and split; the next pre-vote round elects one of them.
#[test]
fn pre_vote_split_vote_then_recovers_2aa() {
    let mut nt = Network::fresh(3, true, false);
    nt.send(vec![hup(1)]);
    nt.isolate(1);
    nt.send(vec![hup(2), hup(3)]);
    assert_eq!(nt.peer(2).state, StateRole::Candidate);
    assert_eq!(nt.peer(3).state, StateRole::Candidate);
    assert_eq!(nt.peer(2).term, 2);
    assert_eq!(nt.peer(3).term, 2);
    nt.send(vec![hup(2)]);
    assert_eq!(nt.peer(2).state, StateRole::Leader);
    assert_eq!(nt.peer(2).term, 3);
    assert_eq!(nt.peer(3).state, StateRole::Follower);
    assert_eq!(nt.peer(3).term, 3);
}

/// Thesis §9.6: a pre-candidate rejected by nodes of a higher term learns
/// that term and steps down to follower (it cannot win, and must not keep
/// asking with a stale term).
#[test]
fn pre_candidate_learns_higher_term_from_rejection_2aa() {
    let mut nt = Network::fresh(3, true, false);
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    nt.send(vec![hup(2)]);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    let t = nt.peer(1).term;
    assert_eq!(t, 3);
    assert_eq!(nt.peer(3).term, 1);
    nt.recover();
    nt.send(vec![hup(3)]);
    assert_eq!(nt.peer(3).state, StateRole::Follower);
    assert_eq!(
        nt.peer(3).term,
        t,
        "learned the higher term from the rejections"
    );
    assert_eq!(
        nt.peer(1).state,
        StateRole::Leader,
        "the pre-vote did not disturb the leader"
    );
    assert_eq!(nt.peer(1).term, t);
}

/// Issue 3: `become_candidate` bumps the term and votes for itself but sends
/// nothing (the MsgHup handler sends the requests).
#[test]
fn become_candidate_emits_nothing_2aa() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_candidate();
    assert_eq!((r.term, r.vote, r.state), (1, 1, StateRole::Candidate));
    assert!(r.msgs.is_empty(), "{:?}", r.msgs);
}

/// Figure 2: a follower restarts its election timer when it hears from the
/// current leader or *grants* a vote. A higher-term vote request it rejects
/// (the candidate's log is behind) moves its term but not its timer, so the
/// up-to-date node still campaigns on time. Restarting the timer let stale
/// candidates starve every node that could win (without pre-vote, 6.824's
/// TestPersist22C then saw no leader for 10 s).
#[test]
fn rejected_higher_term_vote_does_not_restart_election_timer_2aa() {
    let c = new_config(1, ET, 1);
    let mut r = raft_with_terms(1, &[1, 2, 3], &[1, 1], c);
    r.set_randomized_election_timeout(ET);
    for _ in 0..ET - 2 {
        r.tick();
    }
    // Node 2 campaigns at term 5 with a log that ends before ours.
    let req = vote_req(MessageType::MsgRequestVote, 2, 1, 5, 1, 1);
    r.step(req).unwrap();
    assert_eq!(r.term, 5, "§5.1: the higher term is adopted");
    let msgs = take_msgs(&mut r);
    assert!(
        msgs.iter()
            .any(|m| m.msg_type() == MessageType::MsgRequestVoteResponse && m.reject),
        "§5.4.1: the stale candidate is refused: {msgs:?}"
    );
    r.tick();
    r.tick();
    assert_eq!(
        r.state,
        StateRole::Candidate,
        "the timer kept running through the rejected vote"
    );
    assert_eq!(r.term, 6);

    // A granted vote does restart it.
    let c = new_config(1, ET, 1);
    let mut r = raft_with_terms(1, &[1, 2, 3], &[1, 1], c);
    r.set_randomized_election_timeout(ET);
    for _ in 0..ET - 2 {
        r.tick();
    }
    r.step(vote_req(MessageType::MsgRequestVote, 2, 1, 5, 1, 2))
        .unwrap();
    assert_eq!(r.vote, 2);
    r.tick();
    r.tick();
    assert_eq!(r.state, StateRole::Follower, "granting restarted the timer");
}
