//! TinyKV part 3A: leader transfer (thesis §3.10), single-server membership
//! change through the log (thesis §4.1, Ongaro's 2015 fix), learners,
//! ReadIndex (thesis §6.4), and regression scenarios named for their bugs.
#![allow(clippy::type_complexity)]

use tinyraft::eraftpb::{ConfChangeType, Message, MessageType};
use tinyraft::{Error, StateRole};
use tinyraft_tests::*;

const ET: usize = 10;

/// `MsgTransferLeader` as the leader (or a follower, which forwards) sees it:
/// `from` is the transferee.
fn transfer(transferee: u64, to: u64) -> Message {
    msg(transferee, to, MessageType::MsgTransferLeader, 0)
}

fn three() -> Network {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt
}

fn assert_leader(nt: &Network, leader: u64, term: u64) {
    for id in nt.live_ids() {
        let p = nt.peer(id);
        if id == leader {
            assert_eq!(p.state, StateRole::Leader, "node {id} should lead");
        } else {
            assert_ne!(p.state, StateRole::Leader, "node {id} must not lead");
        }
        assert_eq!(p.term, term, "node {id}");
    }
}

// ---------------------------------------------------------------- transfer

/// Thesis §3.10: transfer to an up-to-date follower: `MsgTimeoutNow` at once,
/// the transferee wins the next term; the old leader follows it.
#[test]
fn transfer_to_up_to_date_node_3a() {
    let mut nt = three();
    nt.send(vec![transfer(2, 1)]);
    assert_leader(&nt, 2, 2);
    assert_eq!(nt.peer(1).leader_id, 2);
    assert_eq!(nt.peer(1).lead_transferee, None);
    let now: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgTimeoutNow)
        .collect();
    assert_eq!(now.len(), 1);
    assert_eq!((now[0].from, now[0].to), (1, 2));
    // The new leader works: a proposal commits everywhere.
    nt.send(vec![propose(2, "x")]);
    for id in 1..=3 {
        assert_eq!(nt.peer(id).raft_log.committed, 3, "node {id}");
    }
}

/// Thesis §3.10: a transfer requested at a follower is forwarded to the leader.
#[test]
fn transfer_forwarded_by_follower_3a() {
    let mut nt = three();
    nt.send(vec![transfer(2, 2)]);
    assert_leader(&nt, 2, 2);
}

/// Thesis §3.10: a lagging transferee is first caught up, then told to time out.
#[test]
fn transfer_to_slow_follower_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![propose(1, "a")]);
    nt.recover();
    assert_eq!(nt.peer(1).prs().get(3).expect("progress").matched, 1);
    nt.send(vec![transfer(3, 1)]);
    assert_leader(&nt, 3, 2);
    assert!(
        log_full(nt.peer(3)).iter().any(|e| e.2 == b"a"),
        "caught up before leading"
    );
}

/// Thesis §3.10 + §7: a transferee that needs a snapshot gets it, then leads.
#[test]
fn transfer_to_snapshot_needing_node_3a() {
    let mut nt = three();
    nt.isolate(3);
    for d in ["a", "b", "c"] {
        nt.send(vec![propose(1, d)]);
    }
    let idx = nt.peer(1).raft_log.committed;
    let cs = nt.peer(1).prs().conf_state();
    let s = nt.storage(1);
    s.wl()
        .create_snapshot(idx, Some(cs), "img".into())
        .expect("snapshot");
    s.wl().compact(idx).expect("compact");
    nt.recover();
    nt.send(vec![transfer(3, 1)]);
    // Heartbeats, if needed, let the leader notice 3 is behind.
    nt.send(vec![beat(1)]);
    assert!(
        nt.delivered
            .iter()
            .any(|m| m.msg_type() == MessageType::MsgSnapshot && m.to == 3)
    );
    assert_leader(&nt, 3, 2);
    assert_eq!(
        nt.peer(3).raft_log.committed,
        idx + 1,
        "the new leader committed its own entry"
    );
}

/// Thesis §3.10: transfer to self is a no-op, and cancels a pending transfer.
#[test]
fn transfer_to_self_3a() {
    let mut nt = three();
    nt.send(vec![transfer(1, 1)]);
    assert_leader(&nt, 1, 1);
    assert_eq!(nt.peer(1).lead_transferee, None);
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    nt.send(vec![transfer(1, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, None, "transfer to self cancels");
    nt.send(vec![propose(1, "ok")]);
    assert_eq!(nt.peer(1).raft_log.committed, 2, "proposals accepted again");
}

/// Issue 4: transfer to a non-member (or a learner) is ignored.
#[test]
fn transfer_to_non_member_or_learner_ignored_3a() {
    let mut nt = three();
    nt.send(vec![transfer(4, 1)]);
    assert_leader(&nt, 1, 1);
    assert_eq!(nt.peer(1).lead_transferee, None);

    let s = new_storage(&[1, 2], &[3]);
    let mut r = raft_from(&new_config(1, ET, 1), s);
    make_leader_with_committed_noop(&mut r);
    r.step(transfer(3, 1)).expect("transfer");
    assert_eq!(r.lead_transferee, None, "learners never receive a transfer");
    assert!(
        r.msgs
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgTimeoutNow)
    );
    assert_eq!(r.state, StateRole::Leader);
}

/// Thesis §3.10: an unfinished transfer is abandoned after an election
/// timeout; the leader keeps leading and accepts proposals again.
#[test]
fn transfer_aborted_by_timeout_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    nt.tick_n(1, ET - 1);
    assert_eq!(
        nt.peer(1).lead_transferee,
        Some(3),
        "not before the timeout"
    );
    nt.tick_n(1, 1);
    assert_eq!(
        nt.peer(1).lead_transferee,
        None,
        "abandoned after an election timeout"
    );
    assert_leader(&nt, 1, 1);
}

/// Issue 4: while a transfer is pending, proposals return `ProposalDropped`
/// and append nothing.
#[test]
fn proposals_dropped_during_transfer_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    let last = nt.peer(1).raft_log.last_index();
    let res = nt.peer_mut(1).step(propose(1, "x"));
    assert_eq!(res, Err(Error::ProposalDropped));
    assert_eq!(nt.peer(1).raft_log.last_index(), last);
}

/// Thesis §3.10: a second transfer to another node replaces the first.
#[test]
fn second_transfer_replaces_first_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    nt.send(vec![transfer(2, 1)]);
    assert_eq!(nt.peer(2).state, StateRole::Leader);
    assert_eq!(nt.peer(2).term, 2);
    assert_eq!(nt.peer(1).state, StateRole::Follower);
}

/// Issue 4: the leader still steps down on a higher term during a transfer.
#[test]
fn transfer_leader_steps_down_on_higher_term_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    nt.send(vec![hup(2)]);
    assert_eq!(nt.peer(2).state, StateRole::Leader);
    assert_eq!(nt.peer(1).state, StateRole::Follower);
    assert_eq!(nt.peer(1).term, 2);
    assert_eq!(nt.peer(1).lead_transferee, None);
}

/// Issue 4: `MsgTimeoutNow` skips pre-vote and overrides the check-quorum
/// vote lease, so a transfer works with both options on.
#[test]
fn transfer_with_pre_vote_and_check_quorum_3a() {
    let mut nt = Network::fresh(3, true, true);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![transfer(2, 1)]);
    assert_leader(&nt, 2, 2);
    assert!(
        !nt.delivered
            .iter()
            .any(|m| m.from == 2 && m.msg_type() == MessageType::MsgRequestPreVote),
        "the transferee campaigned without pre-vote"
    );
}

/// Issue 4: a non-member ignores `MsgTimeoutNow`.
#[test]
fn non_member_ignores_timeout_now_3a() {
    let mut r = new_raft(4, &[1, 2, 3], ET, 1);
    r.become_follower(1, 1);
    let _ = r.step(msg(1, 4, MessageType::MsgTimeoutNow, 1));
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 1);
    assert!(
        r.msgs
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgRequestVote)
    );
}

// ------------------------------------------------------------- conf change

/// Only one conf change may be pending: a second is refused with
/// `ConfChangeRefused` and appends nothing.
#[test]
fn one_pending_conf_change_3a() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 4)))
        .expect("first change");
    let last = r.raft_log.last_index();
    assert_eq!(r.pending_conf_index, last);
    let res = r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 5)));
    assert!(matches!(res, Err(Error::ConfChangeRefused(_))), "{res:?}");
    assert_eq!(r.raft_log.last_index(), last, "nothing appended");
    // A normal proposal is still fine.
    r.step(propose(1, "x")).expect("normal proposal");
    assert_eq!(r.raft_log.last_index(), last + 1);
}

/// Ongaro's 2015 rule: a leader refuses a conf change until it has committed
/// an entry of its own term.
#[test]
fn conf_change_refused_before_own_term_commit_3a() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    r.become_candidate();
    r.become_leader();
    persist(&mut r);
    let last = r.raft_log.last_index();
    let res = r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 4)));
    assert!(matches!(res, Err(Error::ConfChangeRefused(_))), "{res:?}");
    assert_eq!(r.raft_log.last_index(), last);
    r.step(append_ack(2, 1, 1, last)).expect("ack");
    assert_eq!(r.raft_log.committed, last);
    r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 4)))
        .expect("now allowed");
    assert_eq!(r.raft_log.last_index(), last + 1);
}

/// Refused at proposal time through RawNode too.
#[test]
fn raw_node_conf_change_refused_3a() {
    let mut rn = new_raw_node(1, &[1]);
    rn.campaign().expect("campaign");
    handle_ready(&mut rn);
    handle_ready(&mut rn);
    assert_eq!(rn.raft.raft_log.committed, 1);
    let res = rn.propose_conf_change("", conf_change(ConfChangeType::RemoveNode, 1));
    assert!(
        matches!(res, Err(Error::ConfChangeRefused(_))),
        "removing the last voter: {res:?}"
    );
    assert_eq!(rn.raft.raft_log.last_index(), 1);
    rn.propose_conf_change("", conf_change(ConfChangeType::AddNode, 2))
        .expect("add");
    let res = rn.propose_conf_change("", conf_change(ConfChangeType::AddNode, 3));
    assert!(
        matches!(res, Err(Error::ConfChangeRefused(_))),
        "second pending: {res:?}"
    );
}

/// Proposing to remove the last voter is refused.
#[test]
fn refuse_removing_last_voter_3a() {
    let mut r = new_raft(1, &[1], ET, 1);
    r.step(hup(1)).expect("hup");
    persist(&mut r);
    assert_eq!(r.raft_log.committed, 1);
    let res = r.step(propose_conf(1, &conf_change(ConfChangeType::RemoveNode, 1)));
    assert!(matches!(res, Err(Error::ConfChangeRefused(_))), "{res:?}");
    assert_eq!(r.raft_log.last_index(), 1);
}

/// API.md Membership rule: `apply_conf_change` applies any committed change
/// deterministically: duplicate add and absent remove are `Ok` no-ops; removing
/// the last voter leaves an empty voter set.
#[test]
fn apply_conf_change_is_total_3a() {
    let mut r = new_raft(1, &[1, 2], ET, 1);
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::AddNode, 2))
        .expect("dup add");
    assert_eq!(cs.voters, vec![1, 2]);
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 7))
        .expect("absent remove");
    assert_eq!(cs.voters, vec![1, 2]);
    assert_eq!(r.prs().voter_ids(), vec![1, 2]);
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::AddNode, 3))
        .expect("add");
    assert_eq!(cs.voters, vec![1, 2, 3]);
    assert!(r.prs().get(3).is_some(), "new member has progress");
    r.apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 2))
        .expect("remove");
    r.apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 3))
        .expect("remove");
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 1))
        .expect("remove last");
    assert!(cs.voters.is_empty());
    assert!(r.prs().voter_ids().is_empty());
}

/// Learners: AddLearnerNode adds a learner; AddNode on a learner promotes it.
#[test]
fn learner_promotion_3a() {
    let mut r = new_raft(1, &[1, 2], ET, 1);
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::AddLearnerNode, 3))
        .expect("learner");
    assert_eq!(
        (cs.voters.clone(), cs.learners.clone()),
        (vec![1, 2], vec![3])
    );
    assert_eq!(r.prs().learner_ids(), vec![3]);
    let cs = r
        .apply_conf_change(&conf_change(ConfChangeType::AddNode, 3))
        .expect("promote");
    assert_eq!((cs.voters, cs.learners), (vec![1, 2, 3], vec![]));
    assert_eq!(r.prs().voter_ids(), vec![1, 2, 3]);
    assert!(r.prs().learner_ids().is_empty());
}

/// §5.3 with membership change: when a member is removed, the leader
/// recomputes commit over the new quorum at once.
#[test]
fn commit_advances_when_member_removed_3a() {
    let mut r = new_raft(1, &[1, 2], ET, 1);
    make_leader_with_committed_noop(&mut r);
    r.step(propose_conf(1, &conf_change(ConfChangeType::RemoveNode, 2)))
        .expect("remove 2");
    persist(&mut r);
    r.step(append_ack(2, 1, 1, 2)).expect("ack");
    assert_eq!(r.raft_log.committed, 2);
    take_msgs(&mut r);
    r.step(propose(1, "x")).expect("propose");
    persist(&mut r);
    assert_eq!(r.raft_log.committed, 2, "2 has not acked");
    r.apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 2))
        .expect("apply");
    assert_eq!(r.raft_log.committed, 3, "quorum of {{1}} commits at once");
}

/// A leader that applies its own removal steps down.
#[test]
fn removed_leader_steps_down_3a() {
    let mut r = new_raft(1, &[1, 2, 3], ET, 1);
    make_leader_with_committed_noop(&mut r);
    r.apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 1))
        .expect("apply");
    assert_ne!(r.state, StateRole::Leader);
    assert_eq!(r.prs().voter_ids(), vec![2, 3]);
    for _ in 0..5 * ET {
        r.tick();
    }
    assert_eq!(
        r.state,
        StateRole::Follower,
        "a removed node never campaigns"
    );
    assert_eq!(r.term, 1);
}

/// Learners receive the log but never count toward the quorum, never campaign.
#[test]
fn learners_replicate_but_do_not_vote_or_campaign_3a() {
    // Commit counting ignores a learner's ack.
    let mut r = raft_from(&new_config(1, ET, 1), new_storage(&[1, 2], &[3]));
    make_leader_with_committed_noop(&mut r);
    r.step(propose(1, "x")).expect("propose");
    persist(&mut r);
    r.step(append_ack(3, 1, 1, 2)).expect("learner ack");
    assert_eq!(r.raft_log.committed, 1, "a learner's ack is not a vote");
    r.step(append_ack(2, 1, 1, 2)).expect("voter ack");
    assert_eq!(r.raft_log.committed, 2);

    // A learner's grant is not counted.
    let mut c = raft_from(&new_config(1, ET, 1), new_storage(&[1, 2, 3], &[4]));
    c.step(hup(1)).expect("hup");
    c.step(vote_resp(
        MessageType::MsgRequestVoteResponse,
        4,
        1,
        1,
        true,
    ))
    .expect("learner grant");
    assert_eq!(c.state, StateRole::Candidate);
    assert!(
        c.msgs
            .iter()
            .all(|m| !(m.to == 4 && m.msg_type() == MessageType::MsgRequestVote)),
        "learners are not asked"
    );

    // A learner never campaigns.
    let mut l = raft_from(&new_config(2, ET, 1), new_storage(&[1], &[2]));
    for _ in 0..5 * ET {
        l.tick();
    }
    let _ = l.step(hup(2));
    assert_eq!(l.state, StateRole::Follower);
    assert_eq!(l.term, 0);

    // And it gets the log.
    let lead = raft_from(&new_config(1, ET, 1), new_storage(&[1], &[2]));
    let learner = raft_from(&new_config(2, ET, 1), new_storage(&[1], &[2]));
    let mut nt = Network::new(vec![Peer::node(lead), Peer::node(learner)]);
    nt.send(vec![hup(1)]);
    nt.send(vec![propose(1, "x")]);
    assert_eq!(log_full(nt.peer(2)), log_full(nt.peer(1)));
    assert_eq!(nt.peer(2).raft_log.committed, 2);
}

/// End to end through RawNode: adding a node via the log, then it catches up
/// and votes; removing one shrinks the quorum.
#[test]
fn add_and_remove_through_the_log_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    let s4 = new_storage(&[1, 2, 3], &[]);
    cl.add(4, raw_node_from(&new_config(4, ET, 1), s4));
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::AddNode, 4))
        .expect("add 4");
    cl.settle();
    cl.node(1).propose("", "after add").expect("propose");
    cl.settle();
    for id in 1..=4 {
        assert_eq!(
            cl.node(id).raft.prs().voter_ids(),
            vec![1, 2, 3, 4],
            "node {id}"
        );
        assert_eq!(
            cl.applied_data(id).last(),
            Some(&b"after add".to_vec()),
            "node {id}"
        );
    }
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::RemoveNode, 2))
        .expect("remove 2");
    cl.settle();
    cl.pause(2);
    cl.node(1).propose("", "after remove").expect("propose");
    cl.settle();
    assert_eq!(cl.node(1).raft.prs().voter_ids(), vec![1, 3, 4]);
    assert_eq!(cl.applied_data(1).last(), Some(&b"after remove".to_vec()));
}

// --------------------------------------------------------------- ReadIndex

fn raw_three() -> RawCluster {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.node(1).propose("", "x").expect("propose");
    cl.settle();
    cl
}

/// Thesis §6.4: ReadIndex on the leader yields the commit index with the
/// request context once a quorum confirmed leadership.
#[test]
fn read_index_on_leader_3a() {
    let mut cl = raw_three();
    let commit = cl.node(1).raft.raft_log.committed;
    cl.node(1).read_index("ctx-1");
    cl.settle();
    let rs = &cl.read_states[&1];
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0].index, commit);
    assert_eq!(&rs[0].request_ctx[..], b"ctx-1");
}

/// Thesis §6.4: a follower forwards ReadIndex to the leader and relays the answer.
#[test]
fn read_index_on_follower_3a() {
    let mut cl = raw_three();
    let commit = cl.node(1).raft.raft_log.committed;
    cl.node(2).read_index("ctx-2");
    cl.settle();
    let rs = cl.read_states.get(&2).cloned().unwrap_or_default();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0].index, commit);
    assert_eq!(&rs[0].request_ctx[..], b"ctx-2");
    let fwd: Vec<&Message> = cl
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgReadIndex)
        .collect();
    assert_eq!(fwd.len(), 1);
    assert_eq!(
        fwd[0].entries.len(),
        1,
        "API.md wire shape: the context is the single entry's data"
    );
    assert_eq!(&fwd[0].entries[0].data[..], b"ctx-2");
    let resp: Vec<&Message> = cl
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgReadIndexResp)
        .collect();
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].index, commit);
    assert_eq!(&resp[0].entries[0].data[..], b"ctx-2");
}

/// Thesis §6.4: a single-voter leader answers ReadIndex at once.
#[test]
fn read_index_single_voter_3a() {
    let mut rn = new_raw_node(1, &[1]);
    rn.campaign().expect("campaign");
    handle_ready(&mut rn);
    handle_ready(&mut rn);
    rn.read_index("solo");
    let r = handle_ready(&mut rn);
    assert_eq!(r.read_states.len(), 1);
    assert_eq!(r.read_states[0].index, 1);
    assert_eq!(&r.read_states[0].request_ctx[..], b"solo");
}

/// Thesis §6.4: a leader cut off from the quorum must not return a read
/// index (it may be stale: a new leader may have committed more).
#[test]
fn read_index_partitioned_leader_not_stale_3a() {
    let mut cl = raw_three();
    cl.isolate(1);
    // 2 and 3 elect a new leader and commit more.
    cl.node(2).campaign().expect("campaign");
    cl.settle();
    assert_eq!(cl.node(2).raft.state, StateRole::Leader);
    cl.node(2).propose("", "newer").expect("propose");
    cl.settle();
    let new_commit = cl.node(2).raft.raft_log.committed;
    cl.node(1).read_index("stale?");
    for _ in 0..3 {
        cl.node(1).tick();
        cl.settle();
    }
    for rs in cl.read_states.get(&1).cloned().unwrap_or_default() {
        assert!(
            rs.index >= new_commit,
            "stale read index {} < {new_commit}",
            rs.index
        );
    }
    assert!(
        cl.read_states.get(&1).is_none_or(|v| v.is_empty()),
        "no quorum, no read"
    );
}

/// etcd #7331: a new leader answers ReadIndex only after it has committed an
/// entry of its own term (its commit index may be stale before that).
#[test]
fn read_index_waits_for_own_term_commit_etcd_7331_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.ignore(MessageType::MsgAppendResponse);
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    assert_eq!(cl.node(1).raft.state, StateRole::Leader);
    assert_eq!(cl.node(1).raft.raft_log.committed, 0);
    cl.node(1).read_index("early");
    cl.settle();
    assert!(
        cl.read_states.get(&1).is_none_or(|v| v.is_empty()),
        "answered before committing in its term"
    );
    cl.recover();
    for _ in 0..3 {
        cl.node(1).tick();
        cl.settle();
    }
    assert_eq!(cl.node(1).raft.raft_log.committed, 1);
    let rs = cl.read_states.get(&1).cloned().unwrap_or_default();
    assert_eq!(rs.len(), 1, "{rs:?}");
    assert_eq!(rs[0].index, 1);
    assert_eq!(&rs[0].request_ctx[..], b"early");
}

// -------------------------------------------------------------- regressions

/// Ongaro's single-server change bug (raft-dev, 2015): C={1,2,3,4}; leader 1
/// appends +5 seen only by itself; 2 leads term 2 and commits -1 with 2,3,4;
/// 1 returns and must not win with 1,4,5 nor overwrite the committed -1.
#[test]
fn ongaro_single_server_change_scenario_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3, 4], |id| new_config(id, ET, 1));
    cl.add(
        5,
        raw_node_from(&new_config(5, ET, 1), new_storage(&[1, 2, 3, 4], &[])),
    );
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    for id in 2..=4 {
        cl.cut(1, id);
    }
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::AddNode, 5))
        .expect("+5");
    cl.settle();
    cl.node(2).campaign().expect("campaign");
    cl.settle();
    assert_eq!(cl.node(2).raft.state, StateRole::Leader);
    let res = cl
        .node(2)
        .propose_conf_change("", conf_change(ConfChangeType::RemoveNode, 1));
    res.expect("-1 allowed once 2 committed its term-2 entry");
    cl.settle();
    let removed_at = cl.node(2).raft.raft_log.committed;
    assert_eq!(cl.node(2).raft.prs().voter_ids(), vec![2, 3, 4]);
    // 1 crashes and returns (restarted from its durable state: a follower of
    // term 1 whose log ends with the uncommitted +5), talking only to 4 and 5.
    let store1 = cl.node(1).raft.raft_log.store().clone();
    let mut c1 = new_config(1, ET, 1);
    c1.applied = cl.node(1).raft.raft_log.applied;
    cl.add(1, raw_node_from(&c1, store1));
    cl.recover();
    cl.cut(1, 2);
    cl.cut(1, 3);
    for _ in 0..4 * ET {
        cl.node(1).tick();
        cl.node(5).tick();
        cl.settle();
    }
    assert_ne!(
        cl.node(1).raft.state,
        StateRole::Leader,
        "1 must not win with 1,4,5"
    );
    // No committed entry was lost or overwritten.
    let reference = cl.node(2).raft.raft_log.all_entries();
    for id in 1..=5 {
        let n = &cl.nodes[&id].raft;
        for i in n.raft_log.first_index()..=n.raft_log.committed {
            let e = n.raft_log.entries(i, None).expect("committed entry")[0].clone();
            let r = reference
                .iter()
                .find(|x| x.index == i)
                .expect("reference has it");
            assert_eq!((e.term, &e.data), (r.term, &r.data), "node {id} index {i}");
        }
    }
    for id in 2..=4 {
        assert!(
            cl.node(id).raft.raft_log.committed >= removed_at,
            "node {id}"
        );
    }
}

/// etcd #12133: no two leaders in one term via a transfer while a committed
/// conf change is not yet applied: the transferee must not campaign (by
/// `MsgTimeoutNow`, MsgHup or timeout) until it applied it.
#[test]
fn etcd_12133_no_campaign_with_unapplied_conf_change_3a() {
    let mut nt = three();
    nt.send(vec![propose_conf(
        1,
        &conf_change(ConfChangeType::AddNode, 4),
    )]);
    let cc_index = nt.peer(1).raft_log.last_index();
    for id in 1..=3 {
        assert_eq!(nt.peer(id).raft_log.committed, cc_index, "node {id}");
    }
    // Nobody applied the change (a bare Raft applies nothing by itself).
    nt.send(vec![transfer(2, 1)]);
    assert_eq!(
        nt.peer(2).state,
        StateRole::Follower,
        "campaigned with an unapplied conf change"
    );
    assert_eq!(nt.peer(2).term, 1);
    nt.send(vec![hup(2)]);
    assert_eq!(nt.peer(2).state, StateRole::Follower);
    assert_eq!(nt.peer(2).term, 1);
    // Once 2 applied it, it may campaign.
    {
        let p = nt.peer_mut(2);
        #[allow(clippy::let_unit_value)]
        let _ = p.raft_log.applied_to(cc_index);
        p.apply_conf_change(&conf_change(ConfChangeType::AddNode, 4))
            .expect("apply");
    }
    nt.send(vec![hup(2)]);
    let leaders_t2: Vec<u64> = (1..=3)
        .filter(|id| nt.peer(*id).state == StateRole::Leader && nt.peer(*id).term == 2)
        .collect();
    assert!(
        leaders_t2.len() <= 1,
        "two leaders in term 2: {leaders_t2:?}"
    );
}

/// etcd #12133 through RawNode: transfer + pending conf change never yields
/// two leaders in one term.
#[test]
fn etcd_12133_transfer_with_pending_conf_change_raw_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.add(
        4,
        raw_node_from(&new_config(4, ET, 1), new_storage(&[1, 2, 3], &[])),
    );
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::AddNode, 4))
        .expect("add 4");
    cl.node(1).transfer_leader(2);
    let mut by_term = std::collections::BTreeMap::<u64, std::collections::BTreeSet<u64>>::new();
    for round in 0..4 * ET {
        if round == 0 {
            cl.settle();
        } else {
            cl.tick_all();
        }
        for (id, term) in cl.leaders() {
            by_term.entry(term).or_default().insert(id);
        }
    }
    for (t, ls) in &by_term {
        assert!(ls.len() <= 1, "term {t}: leaders {ls:?}");
    }
    assert_eq!(cl.leaders().len(), 1);
}

/// A removed node that rejoins (it never learned of its removal) cannot
/// disrupt the cluster when pre-vote and check-quorum are on.
#[test]
fn removed_node_rejoins_without_disruption_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| config_with(id, true, true));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    assert_eq!(cl.node(1).raft.state, StateRole::Leader);
    cl.isolate(3);
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::RemoveNode, 3))
        .expect("remove 3");
    cl.settle();
    assert_eq!(cl.node(1).raft.prs().voter_ids(), vec![1, 2]);
    let term = cl.node(1).raft.term;
    for _ in 0..4 * ET {
        cl.tick_all();
    }
    cl.recover();
    for _ in 0..6 * ET {
        cl.tick_all();
    }
    assert_eq!(cl.node(1).raft.state, StateRole::Leader);
    assert_eq!(cl.node(1).raft.term, term);
    assert_eq!(cl.node(2).raft.term, term);
    cl.node(1).propose("", "still here").expect("propose");
    cl.settle();
    assert_eq!(cl.applied_data(2).last(), Some(&b"still here".to_vec()));
}

/// A removed node's responses are answered with `StepPeerNotFound`.
#[test]
fn removed_node_messages_refused_3a() {
    let mut rn = new_raw_node(1, &[1, 2]);
    rn.campaign().expect("campaign");
    handle_ready(&mut rn);
    rn.step(vote_resp(
        MessageType::MsgRequestVoteResponse,
        2,
        1,
        1,
        true,
    ))
    .expect("grant");
    handle_ready(&mut rn);
    rn.apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 2))
        .expect("remove");
    let res = rn.step(append_ack(2, 1, 1, 1));
    assert_eq!(res, Err(Error::StepPeerNotFound));
}

/// Issue 4: removing the transferee abandons the transfer.
#[test]
fn removing_transferee_aborts_transfer_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    nt.peer_mut(1)
        .apply_conf_change(&conf_change(ConfChangeType::RemoveNode, 3))
        .expect("remove 3");
    assert_eq!(nt.peer(1).lead_transferee, None);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![propose(1, "ok")]);
    assert_eq!(nt.peer(1).raft_log.committed, 2);
}

/// Issue 4: ReadIndex with no known leader is dropped — no read state, nothing
/// sent, no panic.
#[test]
fn read_index_without_leader_dropped_3a() {
    let mut rn = new_raw_node(2, &[1, 2, 3]);
    rn.read_index("nobody leads");
    let r = handle_ready(&mut rn);
    assert!(r.read_states.is_empty());
    assert!(
        r.all_messages()
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgReadIndex),
        "{r:?}"
    );
    assert_eq!(rn.raft.term, 0);
}

/// One pending change at a time, across leaders: a new leader whose log holds
/// a conf change it has not applied yet (from an earlier term) refuses another
/// until that one is applied — else two changes could be in flight at once.
#[test]
fn new_leader_counts_unapplied_conf_change_in_log_as_pending_3a() {
    let s = new_storage(&[1, 2, 3], &[]);
    {
        let mut cc = conf_change_entry(&conf_change(ConfChangeType::AddNode, 4));
        cc.term = 1;
        cc.index = 2;
        let mut core = s.wl();
        core.append(&[entry(1, 1), cc]).expect("append");
        core.set_hardstate(tinyraft::eraftpb::HardState {
            term: 1,
            vote: 0,
            commit: 1,
        });
    }
    let mut c = new_config(1, ET, 1);
    c.applied = 1;
    let mut r = raft_from(&c, s);
    r.become_candidate();
    r.become_leader();
    persist(&mut r);
    let last = r.raft_log.last_index();
    assert_eq!(last, 3);
    r.step(append_ack(2, 1, r.term, last)).expect("ack");
    assert_eq!(
        r.raft_log.committed, 3,
        "the term-2 entry commits the old change too"
    );
    let res = r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 5)));
    assert!(
        matches!(res, Err(Error::ConfChangeRefused(_))),
        "old change not applied yet: {res:?}"
    );
    assert_eq!(r.raft_log.last_index(), last);
    #[allow(clippy::let_unit_value)]
    let _ = r.raft_log.applied_to(3);
    r.apply_conf_change(&conf_change(ConfChangeType::AddNode, 4))
        .expect("apply");
    r.step(propose_conf(1, &conf_change(ConfChangeType::AddNode, 5)))
        .expect("now allowed");
    assert_eq!(r.raft_log.last_index(), last + 1);
}

/// Thesis §3.10 (etcd's TestLeaderTransferSecondTransferToSameNode): asking
/// again for the same transferee does not restart the transfer's timeout.
#[test]
fn repeated_transfer_to_same_node_keeps_timeout_3a() {
    let mut nt = three();
    nt.isolate(3);
    nt.send(vec![transfer(3, 1)]);
    nt.tick_n(1, ET / 2);
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    nt.tick_n(1, ET - ET / 2);
    assert_eq!(
        nt.peer(1).lead_transferee,
        None,
        "aborted at the first request's timeout"
    );
    assert_leader(&nt, 1, 1);
}

/// etcd #12133 by timeout: a follower with a committed but unapplied conf
/// change does not campaign when its election timer fires either.
#[test]
fn etcd_12133_no_timeout_campaign_with_unapplied_conf_change_3a() {
    let mut nt = three();
    nt.send(vec![propose_conf(
        1,
        &conf_change(ConfChangeType::AddNode, 4),
    )]);
    let cc_index = nt.peer(1).raft_log.last_index();
    assert_eq!(nt.peer(2).raft_log.committed, cc_index);
    nt.isolate(1);
    nt.tick_n(2, 3 * ET);
    assert_eq!(nt.peer(2).state, StateRole::Follower);
    assert_eq!(nt.peer(2).term, 1);
}

/// Removed leader, end to end: the leader proposes its own removal; once
/// applied it steps down, never campaigns again, and the rest elect a new
/// leader that commits without it.
#[test]
fn removed_leader_steps_down_end_to_end_3a() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::RemoveNode, 1))
        .expect("remove self");
    cl.settle();
    assert_ne!(
        cl.node(1).raft.state,
        StateRole::Leader,
        "applied its own removal"
    );
    for id in 2..=3 {
        assert_eq!(cl.node(id).raft.prs().voter_ids(), vec![2, 3], "node {id}");
    }
    for _ in 0..5 * ET {
        cl.tick_all();
    }
    let leaders = cl.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let (l, _) = leaders[0];
    assert_ne!(l, 1, "the removed node never leads again");
    cl.node(l).propose("", "without 1").expect("propose");
    cl.settle();
    for id in 2..=3 {
        assert_eq!(
            cl.applied_data(id).last(),
            Some(&b"without 1".to_vec()),
            "node {id}"
        );
    }
}
