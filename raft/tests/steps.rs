//! Step-level checks of the core's rules, one role at a time, on `Raft`
//! directly (no RawNode): what each message does to state and outbox.

mod common;

use tinyraft::eraftpb::{Entry, Message, MessageType};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, Error, Raft, RawNode, StateRole};

fn raft(id: u64, voters: &[u64], tweak: impl Fn(&mut Config)) -> Raft<MemStorage> {
    let store = MemStorage::new_with_conf_state((voters.to_vec(), vec![]));
    let mut c = Config::new(id);
    tweak(&mut c);
    Raft::new(&c, store, &common::logger()).unwrap()
}

fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message {
        msg_type: t as i32,
        from,
        to,
        term,
        ..Default::default()
    }
}

/// Persist everything unstable, as an engine would, so a leader may count
/// its own log.
fn persist(r: &mut Raft<MemStorage>) {
    let ents = r.raft_log.unstable_entries().to_vec();
    if let Some(last) = ents.last() {
        r.raft_log.store().wl().append(&ents).unwrap();
        r.on_persist_entries(last.index, last.term);
    }
}

fn take(r: &mut Raft<MemStorage>) -> Vec<Message> {
    std::mem::take(&mut r.msgs)
}

/// §5.2: `become_candidate` bumps the term and votes for itself, sending
/// nothing; MsgHup asks every other voter with last index/term.
#[test]
fn candidate_asks_every_other_voter_5_2() {
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.become_candidate();
    assert_eq!((r.term, r.vote, r.state), (1, 1, StateRole::Candidate));
    assert!(r.msgs.is_empty());
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.step(msg(MessageType::MsgHup, 1, 1, 0)).unwrap();
    let ms = take(&mut r);
    assert_eq!(ms.iter().map(|m| m.to).collect::<Vec<_>>(), vec![2, 3]);
    assert!(
        ms.iter()
            .all(|m| m.msg_type() == MessageType::MsgRequestVote && m.term == 1)
    );
}

/// §5.2: one vote per term, first come first served; §5.4.1 up-to-date check.
#[test]
fn vote_granted_once_per_term_and_only_to_up_to_date_logs_5_4_1() {
    let mut r = raft(1, &[1, 2, 3], |_| {});
    let mut v = msg(MessageType::MsgRequestVote, 2, 1, 1);
    r.step(v.clone()).unwrap();
    assert_eq!(r.vote, 2);
    assert!(!take(&mut r)[0].reject);
    v.from = 3;
    r.step(v).unwrap();
    assert!(take(&mut r)[0].reject, "already voted for 2 in term 1");

    let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    store
        .wl()
        .append(&[Entry {
            index: 1,
            term: 2,
            ..Default::default()
        }])
        .unwrap();
    let mut r = Raft::new(&Config::new(1), store, &common::logger()).unwrap();
    let mut v = msg(MessageType::MsgRequestVote, 2, 1, 3);
    v.index = 5;
    v.log_term = 1;
    r.step(v).unwrap();
    let resp = take(&mut r);
    assert!(
        resp[0].reject,
        "a log with a lower last term is not up to date"
    );
    assert_eq!((r.term, r.vote), (3, 0));
}

/// §5.1: a higher term makes any role a follower; a lower term changes nothing.
#[test]
fn higher_term_turns_leader_into_follower_lower_term_ignored_5_1() {
    let mut r = raft(1, &[1], |_| {});
    r.step(msg(MessageType::MsgHup, 1, 1, 0)).unwrap();
    assert_eq!(r.state, StateRole::Leader);
    r.step(msg(MessageType::MsgHeartbeat, 2, 1, 0)).unwrap();
    assert_eq!(
        r.state,
        StateRole::Leader,
        "term 0 leader traffic is ignored"
    );
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.become_candidate();
    r.become_leader();
    take(&mut r);
    r.step(msg(MessageType::MsgAppend, 2, 1, 5)).unwrap();
    assert_eq!((r.state, r.term, r.leader_id), (StateRole::Follower, 5, 2));
    let hs = r.hard_state();
    take(&mut r);
    r.step(msg(MessageType::MsgAppend, 3, 1, 4)).unwrap();
    assert_eq!(r.hard_state(), hs);
    assert!(
        r.msgs.is_empty(),
        "without check-quorum/pre-vote a stale append is ignored"
    );
}

/// etcd behaviour: with check-quorum, a stale leader's append is answered
/// with our term so it steps down.
#[test]
fn stale_append_answered_with_check_quorum() {
    let mut r = raft(1, &[1, 2, 3], |c| c.check_quorum = true);
    r.become_follower(5, 0);
    r.step(msg(MessageType::MsgHeartbeat, 2, 1, 3)).unwrap();
    let ms = take(&mut r);
    assert_eq!(ms.len(), 1);
    assert_eq!(
        (ms[0].msg_type(), ms[0].term),
        (MessageType::MsgAppendResponse, 5)
    );
}

/// Proposals: a candidate drops them; a follower forwards with term 0.
#[test]
fn proposals_by_role() {
    let prop = |from| Message {
        msg_type: MessageType::MsgPropose as i32,
        from,
        entries: vec![Entry {
            data: "x".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.become_candidate();
    assert_eq!(r.step(prop(1)), Err(Error::ProposalDropped));
    r.become_follower(2, 3);
    r.step(prop(1)).unwrap();
    let ms = take(&mut r);
    assert_eq!(
        (ms[0].to, ms[0].term, ms[0].msg_type()),
        (3, 0, MessageType::MsgPropose)
    );
}

/// Thesis §10.2.1: a leader commits only what is durable on a quorum, counting its
/// own log only after `on_persist_entries`.
#[test]
fn leader_counts_own_log_only_once_persisted() {
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.become_candidate();
    r.become_leader();
    take(&mut r);
    let mut ack = msg(MessageType::MsgAppendResponse, 2, 1, 1);
    ack.index = 1;
    r.step(ack).unwrap();
    assert_eq!(r.raft_log.committed, 0, "1 of 3 stored it durably");
    persist(&mut r);
    assert_eq!(r.raft_log.committed, 1);
}

/// Responses from non-members are StepPeerNotFound; RawNode refuses local types.
#[test]
fn non_member_responses_and_local_types_refused() {
    let mut r = raft(1, &[1, 2, 3], |_| {});
    let resp = msg(MessageType::MsgAppendResponse, 9, 1, 0);
    assert_eq!(r.step(resp), Err(Error::StepPeerNotFound));
    let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    let mut n = RawNode::new(&Config::new(1), store, &common::logger()).unwrap();
    for t in [
        MessageType::MsgHup,
        MessageType::MsgBeat,
        MessageType::MsgCheckQuorum,
        MessageType::MsgSnapStatus,
        MessageType::MsgUnreachable,
    ] {
        assert_eq!(n.step(msg(t, 2, 1, 0)), Err(Error::StepLocalMsg));
    }
}

/// Determinism: one seed, one timeline; a different seed draws different timeouts.
#[test]
fn election_timeouts_are_seeded_and_in_range() {
    let draws = |seed: u64, id: u64| {
        let mut r = raft(id, &[1, 2, 3], |c| c.seed = seed);
        (0..50)
            .map(|_| {
                r.become_follower(r.term + 1, 0);
                r.randomized_election_timeout()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(draws(7, 1), draws(7, 1));
    assert_ne!(draws(7, 1), draws(8, 1));
    assert_ne!(
        draws(7, 1),
        draws(7, 2),
        "ids sharing a seed draw differently"
    );
    assert!(draws(7, 1).iter().all(|t| (10..20).contains(t)));
}

/// §5.3 heartbeat safety: a heartbeat carries min(matched, committed).
#[test]
fn heartbeat_commit_never_exceeds_follower_match() {
    let mut r = raft(1, &[1, 2, 3], |_| {});
    r.become_candidate();
    r.become_leader();
    persist(&mut r);
    let mut ack = msg(MessageType::MsgAppendResponse, 2, 1, 1);
    ack.index = 1;
    r.step(ack).unwrap();
    assert_eq!(r.raft_log.committed, 1);
    take(&mut r);
    r.bcast_heartbeat();
    let ms = take(&mut r);
    let commit_to = |id| ms.iter().find(|m| m.to == id).unwrap().commit;
    assert_eq!((commit_to(2), commit_to(3)), (1, 0));
}
