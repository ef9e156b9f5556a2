//! TinyKV part 2AC: the `RawNode` / `Ready` interface (API.md's Ready cycle
//! and its Rules: Outbox sorting, Own-log commit, `must_sync`, restart).
#![allow(clippy::type_complexity)]

use tinyraft::eraftpb::{HardState, Message, MessageType};
use tinyraft::storage::Storage;
use tinyraft::{Error, StateRole};
use tinyraft_tests::*;

fn types(msgs: &[Message]) -> Vec<MessageType> {
    msgs.iter().map(|m| m.msg_type()).collect()
}

/// A fresh node with nothing to do has no Ready.
#[test]
fn fresh_node_has_no_ready_2ac() {
    let rn = new_raw_node(1, &[1, 2, 3]);
    assert!(!rn.has_ready());
}

/// Own-log rule: a single voter commits a proposal exactly one Ready after
/// the proposal appears in `Ready::entries` (after `advance` persisted it).
#[test]
fn single_node_commit_one_ready_after_entries_2ac() {
    let mut rn = new_raw_node(1, &[1]);
    rn.campaign().expect("campaign");
    let r1 = handle_ready(&mut rn);
    assert_eq!(
        r1.ss.as_ref().map(|s| s.raft_state),
        Some(StateRole::Leader)
    );
    assert_eq!(r1.ss.as_ref().map(|s| s.leader_id), Some(1));
    assert_eq!(
        r1.entries
            .iter()
            .map(|e| (e.index, e.term))
            .collect::<Vec<_>>(),
        vec![(1, 1)]
    );
    assert!(
        r1.committed_entries.is_empty(),
        "not committed before it is durable"
    );
    let hs = r1.hs.expect("term and vote changed");
    assert_eq!((hs.term, hs.vote), (1, 1));
    let r2 = handle_ready(&mut rn);
    assert_eq!(
        r2.committed_entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(r2.hs.map(|h| h.commit), Some(1));
    assert!(r2.ss.is_none(), "role unchanged");
    assert!(!rn.has_ready());

    rn.propose("", "foo").expect("propose");
    let r3 = handle_ready(&mut rn);
    assert_eq!(r3.entries.len(), 1);
    assert_eq!((r3.entries[0].index, r3.entries[0].term), (2, 1));
    assert_eq!(&r3.entries[0].data[..], b"foo");
    assert!(r3.committed_entries.is_empty());
    assert!(r3.hs.is_none(), "nothing in the hard state changed");
    let r4 = handle_ready(&mut rn);
    assert_eq!(r4.committed_entries.len(), 1);
    assert_eq!(&r4.committed_entries[0].data[..], b"foo");
    assert_eq!(r4.hs.map(|h| h.commit), Some(2));
    assert!(r4.entries.is_empty());
    assert!(!rn.has_ready(), "has_ready is false after advance");
    assert_eq!(rn.raft.raft_log.stabled, 2, "advance moved stabled");
    assert_eq!(rn.raft.raft_log.applied, 2, "advance moved applied");
}

/// `must_sync` is true when entries are non-empty or term/vote changed, and
/// false for a commit-only hard state change.
#[test]
fn must_sync_2ac() {
    let mut rn = new_raw_node(1, &[1]);
    rn.campaign().expect("campaign");
    let r1 = handle_ready(&mut rn);
    assert!(r1.must_sync, "term/vote changed and entries");
    let r2 = handle_ready(&mut rn);
    assert!(r2.hs.is_some());
    assert!(r2.entries.is_empty());
    assert!(!r2.must_sync, "only the commit changed");
    rn.propose("", "x").expect("propose");
    let r3 = handle_ready(&mut rn);
    assert!(r3.must_sync, "entries to persist");

    // A vote alone (no entries) must be synced too.
    let mut f = new_raw_node(2, &[1, 2, 3]);
    f.step(vote_req(MessageType::MsgRequestVote, 1, 2, 1, 0, 0))
        .expect("vote request");
    let r = handle_ready(&mut f);
    assert!(r.entries.is_empty());
    assert_eq!(r.hs.map(|h| (h.term, h.vote)), Some((1, 1)));
    assert!(r.must_sync);
}

/// Outbox rule: vote requests and vote responses depend on durable term/vote,
/// so they come in `persisted_messages`; a leader's appends and heartbeats in
/// `messages`; a follower's append responses in `persisted_messages`.
#[test]
fn messages_sorted_by_durability_2ac() {
    let mut c = new_raw_node(1, &[1, 2, 3]);
    c.campaign().expect("campaign");
    let r = handle_ready(&mut c);
    let votes: Vec<MessageType> = types(&r.persisted_messages);
    assert_eq!(votes, vec![MessageType::MsgRequestVote; 2], "{r:?}");
    assert!(
        r.messages
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgRequestVote)
    );

    c.step(vote_resp(
        MessageType::MsgRequestVoteResponse,
        2,
        1,
        1,
        true,
    ))
    .expect("grant");
    assert_eq!(c.raft.state, StateRole::Leader);
    let r = handle_ready(&mut c);
    let apps: Vec<&Message> = r
        .messages
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend)
        .collect();
    assert_eq!(apps.len(), 2, "leader appends go out at once: {r:?}");
    assert!(
        r.persisted_messages
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgAppend)
    );

    let mut f = new_raw_node(2, &[1, 2, 3]);
    f.step(vote_req(MessageType::MsgRequestVote, 1, 2, 1, 0, 0))
        .expect("vote request");
    let r = handle_ready(&mut f);
    assert_eq!(
        types(&r.persisted_messages),
        vec![MessageType::MsgRequestVoteResponse]
    );
    assert!(r.messages.is_empty());
    f.step(append_msg(1, 2, 1, 0, 0, 0, vec![entry(1, 1)]))
        .expect("append");
    let r = handle_ready(&mut f);
    assert!(!r.persisted_messages.is_empty());
    assert!(
        r.persisted_messages
            .iter()
            .all(|m| m.msg_type() == MessageType::MsgAppendResponse)
    );
    assert!(
        r.messages
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgAppendResponse),
        "{r:?}"
    );
    assert_eq!(
        r.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![1]
    );
}

/// ss/hs appear only when changed against what the application last saw.
#[test]
fn soft_and_hard_state_only_when_changed_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    assert!(!cl.node(2).has_ready());
    // A proposal: followers see entries and a new commit but no new ss.
    cl.node(1).propose("", "x").expect("propose");
    cl.settle();
    for id in 1..=3 {
        let rs = &cl.readies[&id];
        let last_ss = rs
            .iter()
            .rposition(|r| r.ss.is_some())
            .expect("an ss at election");
        let first_entry_ready = rs
            .iter()
            .position(|r| r.entries.iter().any(|e| &e.data[..] == b"x"));
        assert!(
            first_entry_ready.expect("saw x") > last_ss,
            "node {id}: no ss after the election"
        );
        // Every hs reported differs from the one before it.
        let hss: Vec<HardState> = rs.iter().filter_map(|r| r.hs).collect();
        for w in hss.windows(2) {
            assert_ne!(w[0], w[1], "node {id}: unchanged hs reported twice");
        }
    }
    assert_eq!(cl.applied_data(1), vec![b"x".to_vec()]);
    assert_eq!(cl.applied_data(2), vec![b"x".to_vec()]);
    assert_eq!(cl.applied_data(3), vec![b"x".to_vec()]);
}

/// Restart from storage (no snapshot): the first Ready carries no spurious
/// hard state, and hands out the committed-but-unapplied entries.
#[test]
fn restart_from_storage_2ac() {
    let s = new_storage(&[1, 2], &[]);
    {
        let mut core = s.wl();
        core.append(&[entry_data(1, 1, "a"), entry_data(1, 2, "b")])
            .expect("append");
        core.set_hardstate(HardState {
            term: 1,
            vote: 1,
            commit: 1,
        });
    }
    let mut rn = raw_node_from(&new_config(1, 10, 1), s);
    assert_eq!(
        (rn.raft.term, rn.raft.vote, rn.raft.raft_log.committed),
        (1, 1, 1)
    );
    assert_eq!(rn.raft.state, StateRole::Follower);
    assert!(rn.has_ready());
    let r = handle_ready(&mut rn);
    assert!(
        r.hs.is_none(),
        "restart's first Ready carries no spurious hs: {:?}",
        r.hs
    );
    assert!(r.entries.is_empty(), "stored entries are not unstable");
    assert_eq!(
        r.committed_entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert!(!rn.has_ready());
}

/// Restart with `Config::applied`: already-applied entries are not handed out again.
#[test]
fn restart_respects_applied_2ac() {
    let s = new_storage(&[1, 2], &[]);
    {
        let mut core = s.wl();
        core.append(&[entry(1, 1), entry(1, 2), entry(1, 3)])
            .expect("append");
        core.set_hardstate(HardState {
            term: 1,
            vote: 1,
            commit: 3,
        });
    }
    let mut c = new_config(1, 10, 1);
    c.applied = 2;
    let mut rn = raw_node_from(&c, s);
    let r = handle_ready(&mut rn);
    assert_eq!(
        r.committed_entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![3]
    );
}

/// Restart from a snapshot plus entries: the log starts after the snapshot,
/// the first Ready hands out only the entries after it, and no hs.
#[test]
fn restart_from_snapshot_2ac() {
    let s = new_storage(&[1, 2], &[]);
    {
        let mut core = s.wl();
        core.apply_snapshot(snapshot(2, 1, &[1, 2], &[]))
            .expect("snapshot");
        core.append(&[entry_data(1, 3, "c")]).expect("append");
        core.set_hardstate(HardState {
            term: 1,
            vote: 0,
            commit: 3,
        });
    }
    let mut c = new_config(1, 10, 1);
    c.applied = 2;
    let mut rn = raw_node_from(&c, s);
    assert_eq!(rn.raft.raft_log.first_index(), 3);
    assert_eq!(rn.raft.raft_log.last_index(), 3);
    assert_eq!(rn.raft.prs().voter_ids(), vec![1, 2]);
    let r = handle_ready(&mut rn);
    assert!(r.hs.is_none());
    assert!(
        r.snapshot.is_none(),
        "the stored snapshot is not handed out again"
    );
    assert_eq!(
        r.committed_entries
            .iter()
            .map(|e| (e.index, e.data.to_vec()))
            .collect::<Vec<_>>(),
        vec![(3, b"c".to_vec())]
    );
    assert!(!rn.has_ready());
}

/// Restart keeps term, vote and commit; the restarted node rejoins and
/// learns new entries.
#[test]
fn restart_rejoins_cluster_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.node(1).propose("", "a").expect("propose");
    cl.settle();
    let store = cl.node(3).raft.raft_log.store().clone();
    let (term, vote, commit) = {
        let r = &cl.node(3).raft;
        (r.term, r.vote, r.raft_log.committed)
    };
    let mut c = new_config(3, 10, 1);
    c.applied = commit;
    let rn = raw_node_from(&c, store);
    assert_eq!(
        (rn.raft.term, rn.raft.vote, rn.raft.raft_log.committed),
        (term, vote, commit)
    );
    cl.add(3, rn);
    assert!(!cl.node(3).has_ready(), "nothing new after a clean restart");
    cl.node(1).propose("", "b").expect("propose");
    cl.settle();
    let applied = cl.applied_data(3);
    assert_eq!(applied.last(), Some(&b"b".to_vec()));
    assert_eq!(
        cl.nodes[&3].raft.raft_log.committed,
        cl.nodes[&1].raft.raft_log.committed
    );
}

/// RawNode::step refuses local message types with `StepLocalMsg` and
/// changes nothing.
#[test]
fn step_local_msg_refused_2ac() {
    let mut rn = new_raw_node(1, &[1, 2, 3]);
    for t in [
        MessageType::MsgHup,
        MessageType::MsgBeat,
        MessageType::MsgUnreachable,
        MessageType::MsgSnapStatus,
        MessageType::MsgCheckQuorum,
    ] {
        let res = rn.step(msg(2, 1, t, 0));
        assert_eq!(res, Err(Error::StepLocalMsg), "{t:?}");
        assert_eq!(rn.raft.state, StateRole::Follower, "{t:?}");
        assert_eq!(rn.raft.term, 0, "{t:?}");
    }
    assert!(!rn.has_ready());
}

/// RawNode::step refuses responses from non-members with `StepPeerNotFound`.
#[test]
fn step_peer_not_found_2ac() {
    let mut rn = new_raw_node(1, &[1, 2, 3]);
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
    assert_eq!(rn.raft.state, StateRole::Leader);
    for t in [
        MessageType::MsgAppendResponse,
        MessageType::MsgHeartbeatResponse,
        MessageType::MsgRequestVoteResponse,
        MessageType::MsgRequestPreVoteResponse,
    ] {
        let mut m = msg(9, 1, t, 1);
        m.index = 1;
        assert_eq!(rn.step(m), Err(Error::StepPeerNotFound), "{t:?}");
    }
    assert_eq!(rn.raft.state, StateRole::Leader);
    assert!(rn.raft.prs().get(9).is_none());
}

/// A three-node cluster driven only through RawNode/Ready commits and
/// applies proposals in order on every node.
#[test]
fn three_nodes_commit_through_ready_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    assert_eq!(cl.leaders(), vec![(1, 1)]);
    for i in 0..5 {
        cl.node(1)
            .propose("", format!("v{i}").into_bytes())
            .expect("propose");
    }
    cl.settle();
    // A follower's proposal is forwarded.
    cl.node(2).propose("", "from 2").expect("forwarded");
    cl.settle();
    let want: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("v{i}").into_bytes())
        .chain([b"from 2".to_vec()])
        .collect();
    for id in 1..=3 {
        assert_eq!(cl.applied_data(id), want, "node {id}");
        assert_eq!(cl.node(id).raft.raft_log.applied, 7, "node {id}");
    }
    assert!(cl.errors.is_empty(), "{:?}", cl.errors);
}

/// Ticks through RawNode elect a leader and nothing is left pending.
#[test]
fn election_by_ticks_through_ready_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    for _ in 0..40 {
        cl.tick_all();
    }
    let leaders = cl.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    for id in 1..=3 {
        assert!(!cl.node(id).has_ready());
        assert_eq!(cl.node(id).raft.leader_id, leaders[0].0);
    }
}

/// Committed entries only include what this node has persisted: a follower's
/// committed_entries never run ahead of its own durable log.
#[test]
fn committed_entries_limited_to_persisted_2ac() {
    let mut f = new_raw_node(2, &[1, 2, 3]);
    f.step(append_msg(1, 2, 1, 0, 0, 2, vec![entry(1, 1), entry(1, 2)]))
        .expect("append");
    let r = f.ready();
    let committed: Vec<u64> = r.committed_entries.iter().map(|e| e.index).collect();
    assert!(
        committed.is_empty(),
        "entries in this very Ready are not durable yet: {committed:?}"
    );
    let store = f.raft.raft_log.store().clone();
    store.wl().append(&r.entries).expect("append");
    if let Some(hs) = &r.hs {
        store.wl().set_hardstate(*hs);
    }
    f.advance(r);
    let r = handle_ready(&mut f);
    assert_eq!(
        r.committed_entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

/// `status()` (issue 3) reports id, hard and soft state, applied and, on a
/// leader only, every member's progress. API.md does not fix the field
/// names; these are raft-rs's (`id`, `hs`, `ss`, `applied`, `progress`).
#[test]
fn status_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.node(1).propose("", "x").expect("propose");
    cl.settle();
    let st = cl.node(1).status();
    assert_eq!(st.id, 1);
    assert_eq!((st.hs.term, st.hs.vote, st.hs.commit), (1, 1, 2));
    assert_eq!((st.ss.leader_id, st.ss.raft_state), (1, StateRole::Leader));
    assert_eq!(st.applied, 2);
    let prs = st.progress.expect("a leader reports progress");
    assert_eq!(prs.voter_ids(), vec![1, 2, 3]);
    for id in 1..=3 {
        assert_eq!(
            prs.get(id).expect("member progress").matched,
            2,
            "node {id}"
        );
    }
    let fs = cl.node(2).status();
    assert_eq!(fs.id, 2);
    assert_eq!(
        (fs.ss.leader_id, fs.ss.raft_state),
        (1, StateRole::Follower)
    );
    assert_eq!(fs.applied, 2);
    assert!(fs.progress.is_none(), "a follower reports no progress");
}

/// RawNode::propose without a known leader returns `ProposalDropped` and
/// produces nothing to persist.
#[test]
fn raw_node_propose_without_leader_dropped_2ac() {
    let mut rn = new_raw_node(1, &[1, 2, 3]);
    assert_eq!(rn.propose("", "x"), Err(Error::ProposalDropped));
    assert!(!rn.has_ready());
    rn.campaign().expect("campaign");
    handle_ready(&mut rn);
    assert_eq!(rn.raft.state, StateRole::Candidate);
    assert_eq!(rn.propose("", "x"), Err(Error::ProposalDropped));
    assert!(!rn.has_ready() || handle_ready(&mut rn).entries.is_empty());
}

/// Own-log rule (API.md; thesis §10.2.1): the leader sends its appends
/// (`Ready::messages`) before its own disk write; it commits once enough
/// *others* persisted — never on its own unpersisted copy — and a leader
/// crash that loses its unsynced tail loses no committed entry.
#[test]
fn leader_commits_before_own_sync_and_crash_loses_nothing_2ac() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    let base = cl.nodes[&1].raft.raft_log.committed;
    cl.node(1).propose("", "x").expect("propose");
    let rd = cl.node(1).ready();
    assert_eq!(rd.entries.len(), 1, "x is in this Ready's entries");
    let appends: Vec<Message> = rd
        .messages
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend)
        .cloned()
        .collect();
    assert_eq!(appends.len(), 2, "appends go out before the leader's write");
    // Only follower 2 persists and acks: with the leader's copy not durable, no quorum.
    let mut acks = Vec::new();
    for m in &appends {
        let to = m.to;
        cl.node(to).step(m.clone()).expect("append");
        let r = handle_ready(cl.node(to));
        acks.push(r.persisted_messages);
    }
    for m in acks[0].clone() {
        cl.node(1).step(m).expect("ack");
    }
    assert_eq!(
        cl.nodes[&1].raft.raft_log.committed, base,
        "one follower + unpersisted leader copy is no quorum"
    );
    for m in acks[1].clone() {
        cl.node(1).step(m).expect("ack");
    }
    assert_eq!(
        cl.nodes[&1].raft.raft_log.committed,
        base + 1,
        "two followers persisted: committed"
    );
    // The leader crashes before its write: restart it from storage without x.
    drop(rd);
    let store = cl.nodes[&1].raft.raft_log.store().clone();
    assert_eq!(
        store.last_index().expect("last"),
        base,
        "x never reached the leader's disk"
    );
    let mut c = new_config(1, 10, 1);
    c.applied = cl.nodes[&1].raft.raft_log.applied;
    cl.add(1, raw_node_from(&c, store));
    cl.settle();
    for _ in 0..40 {
        cl.tick_all();
    }
    let leaders = cl.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    for id in 1..=3 {
        assert!(
            cl.applied_data(id).contains(&b"x".to_vec()),
            "node {id} applied the committed x"
        );
    }
}
