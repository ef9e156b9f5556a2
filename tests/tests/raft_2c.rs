//! TinyKV part 2C: log compaction and snapshots (Raft §7; issue 4), against
//! API.md (Snapshots rule, MemStorage behaviour).
#![allow(clippy::type_complexity)]

use tinyraft::eraftpb::{Entry, HardState, Message, MessageType};
use tinyraft::storage::Storage;
use tinyraft::{ProgressState, Raft, SnapshotStatus, StateRole};
use tinyraft_tests::faulty_storage::FaultyStorage;
use tinyraft_tests::*;

/// Compacts live peer `id`'s storage at its commit index, snapshotting there.
fn compact_at_commit(nt: &Network, id: u64) -> u64 {
    let p = nt.peer(id);
    let idx = p.raft_log.committed;
    let cs = p.prs().conf_state();
    let s = nt.storage(id);
    s.wl()
        .create_snapshot(idx, Some(cs), "image".into())
        .expect("create snapshot");
    s.wl().compact(idx).expect("compact");
    idx
}

/// §7 / 2C: a follower that missed entries the leader has since compacted
/// away receives a snapshot (the leader notices the compaction by itself)
/// and then the rest of the log; it ends with the leader's log and commit.
#[test]
fn snapshot_to_slow_follower_after_compaction_2c() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    for i in 0..10 {
        nt.send(vec![propose(1, format!("v{i}").into_bytes())]);
    }
    let idx = compact_at_commit(&nt, 1);
    assert_eq!(idx, 11);
    assert_eq!(nt.peer(1).raft_log.first_index(), 11);
    nt.recover();
    nt.send(vec![beat(1)]);
    nt.send(vec![propose(1, "after")]);
    let snaps: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgSnapshot)
        .collect();
    assert!(!snaps.is_empty(), "the leader sent a snapshot");
    assert!(snaps.iter().all(|m| m.to == 3));
    let meta = snaps[0]
        .snapshot
        .as_ref()
        .and_then(|s| s.metadata.clone())
        .expect("metadata");
    assert_eq!(meta.index, 11);
    let f = nt.peer(3);
    assert_eq!(f.raft_log.committed, 12);
    assert_eq!(f.raft_log.last_index(), 12);
    assert_eq!(f.raft_log.term(11).expect("snapshot term"), 1);
    assert_eq!(
        &f.raft_log.entries(12, None).expect("entry 12")[0].data[..],
        b"after"
    );
    assert_eq!(
        nt.storage(3).first_index().expect("first"),
        12,
        "snapshot persisted to storage"
    );
    assert_eq!(nt.peer(1).prs().get(3).expect("progress").matched, 12);
    assert_eq!(
        nt.peer(1).prs().get(3).expect("progress").state,
        ProgressState::Replicate
    );
}

/// §7: a follower restores a newer snapshot: log reset to it, commit at its
/// index, membership from its conf state, and it answers with its index.
#[test]
fn follower_restores_snapshot_2c() {
    let mut r = new_raft(1, &[1, 2], 10, 1);
    let mut m = msg(2, 1, MessageType::MsgSnapshot, 2);
    m.snapshot = Some(snapshot(11, 2, &[1, 2, 3], &[]));
    r.step(m).expect("snapshot");
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.leader_id, 2);
    assert_eq!(r.raft_log.last_index(), 11);
    assert_eq!(r.raft_log.term(11).expect("term"), 2);
    assert_eq!(r.raft_log.committed, 11);
    assert_eq!(r.prs().voter_ids(), vec![1, 2, 3]);
    assert!(r.raft_log.unstable_snapshot().is_some());
    persist(&mut r);
    let resp = filter_msgs(&r.msgs, MessageType::MsgAppendResponse, 2);
    assert_eq!(resp.len(), 1, "{:?}", r.msgs);
    assert!(!resp[0].reject);
    assert_eq!(resp[0].index, 11);
    assert!(r.raft_log.unstable_snapshot().is_none(), "persisted");
    assert_eq!(r.raft_log.store().first_index().expect("first"), 12);
}

/// §7 / issue 4: a snapshot at or below the commit index is ignored and
/// answered with the current commit, so the leader moves on.
#[test]
fn snapshot_below_commit_ignored_2c() {
    let mut r = new_raft(1, &[1, 2], 10, 1);
    r.become_follower(1, 2);
    let ents: Vec<Entry> = (1..=5).map(|i| entry(1, i)).collect();
    r.step(append_msg(2, 1, 1, 0, 0, 5, ents)).expect("append");
    persist(&mut r);
    take_msgs(&mut r);
    let before = log_ids(&r);
    let mut m = msg(2, 1, MessageType::MsgSnapshot, 1);
    m.snapshot = Some(snapshot(3, 1, &[1, 2], &[]));
    r.step(m).expect("old snapshot is not an error");
    assert_eq!(log_ids(&r), before);
    assert_eq!(r.raft_log.committed, 5);
    assert!(r.raft_log.unstable_snapshot().is_none());
    let resp = filter_msgs(&r.msgs, MessageType::MsgAppendResponse, 2);
    assert_eq!(resp.len(), 1, "{:?}", r.msgs);
    assert_eq!(resp[0].index, 5, "answered with the current commit");
}

/// API.md, Snapshots rule: a snapshot whose conf state contains this node
/// neither as voter nor as learner is ignored.
#[test]
fn snapshot_without_this_node_ignored_2c() {
    for (voters, learners) in [(vec![2, 3], vec![]), (vec![2], vec![4]), (vec![], vec![])] {
        let mut r = new_raft(1, &[1, 2, 3], 10, 1);
        r.become_follower(1, 2);
        let mut m = msg(2, 1, MessageType::MsgSnapshot, 1);
        m.snapshot = Some(snapshot(10, 1, &voters, &learners));
        let _ = r.step(m);
        assert_eq!(r.raft_log.last_index(), 0, "{voters:?}/{learners:?}");
        assert_eq!(r.raft_log.committed, 0);
        assert!(r.raft_log.unstable_snapshot().is_none());
        assert_eq!(r.prs().voter_ids(), vec![1, 2, 3]);
    }
}

/// Issue 4: a snapshot's conf state rebuilds membership (voters and learners).
#[test]
fn snapshot_changes_membership_2c() {
    let mut r = new_raft(1, &[1, 2, 3], 10, 1);
    r.become_follower(1, 2);
    let mut m = msg(2, 1, MessageType::MsgSnapshot, 1);
    m.snapshot = Some(snapshot(10, 1, &[1, 2, 4], &[5]));
    r.step(m).expect("snapshot");
    assert_eq!(r.prs().voter_ids(), vec![1, 2, 4]);
    assert_eq!(r.prs().learner_ids(), vec![5]);
    // A node that is only a learner in the snapshot keeps it too.
    let mut l = new_raft(5, &[1, 2, 3], 10, 1);
    let mut m = msg(2, 5, MessageType::MsgSnapshot, 1);
    m.snapshot = Some(snapshot(10, 1, &[1, 2, 4], &[5]));
    l.step(m).expect("snapshot");
    assert_eq!(l.raft_log.last_index(), 10);
    assert_eq!(l.prs().learner_ids(), vec![5]);
}

/// Ready carries an accepted snapshot once; after `advance`, `applied` is the
/// snapshot's index; entries after it arrive in later Readies.
#[test]
fn snapshot_through_ready_moves_applied_2c() {
    let mut rn = new_raw_node(2, &[1, 2, 3]);
    let mut m = msg(1, 2, MessageType::MsgSnapshot, 3);
    m.snapshot = Some(snapshot(20, 3, &[1, 2, 3], &[]));
    rn.step(m).expect("snapshot");
    let r = handle_ready(&mut rn);
    let s = r.snapshot.clone().expect("Ready::snapshot");
    assert_eq!(s.metadata.as_ref().map(|m| m.index), Some(20));
    assert!(r.committed_entries.is_empty(), "the snapshot covers them");
    assert_eq!(rn.raft.raft_log.applied, 20);
    assert_eq!(
        r.persisted_messages
            .iter()
            .filter(|m| m.msg_type() == MessageType::MsgAppendResponse && m.index == 20)
            .count(),
        1
    );
    assert!(!rn.has_ready());
    rn.step(append_msg(1, 2, 3, 3, 20, 21, vec![entry_data(3, 21, "x")]))
        .expect("append");
    let r = handle_ready(&mut rn);
    assert!(r.snapshot.is_none(), "handed out once");
    assert_eq!(
        r.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![21]
    );
    let r = handle_ready(&mut rn);
    assert_eq!(
        r.committed_entries
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![21]
    );
    let s = rn.raft.raft_log.store().clone();
    assert_eq!(s.first_index().expect("first"), 21);
    assert_eq!(s.last_index().expect("last"), 21);
}

/// Restart from a storage that holds an applied snapshot: the node resumes
/// from it and can take part in the cluster again.
#[test]
fn restart_from_snapshot_rejoins_2c() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    for i in 0..5 {
        cl.node(1)
            .propose("", format!("v{i}").into_bytes())
            .expect("propose");
    }
    cl.settle();
    // Node 3 snapshots what it applied, compacts, and restarts.
    let applied = cl.node(3).raft.raft_log.applied;
    assert_eq!(applied, 6);
    let store = cl.node(3).raft.raft_log.store().clone();
    let cs = cl.node(3).raft.prs().conf_state();
    store
        .wl()
        .create_snapshot(applied, Some(cs), "sm".into())
        .expect("snapshot");
    store.wl().compact(applied).expect("compact");
    let mut c = new_config(3, 10, 1);
    c.applied = applied;
    let rn = raw_node_from(&c, store);
    assert_eq!(rn.raft.raft_log.committed, 6);
    assert_eq!(rn.raft.term, 1);
    cl.add(3, rn);
    cl.node(1).propose("", "after").expect("propose");
    cl.settle();
    assert_eq!(cl.node(3).raft.raft_log.committed, 7);
    assert_eq!(cl.node(3).raft.raft_log.applied, 7);
    assert_eq!(cl.applied_data(3).last(), Some(&b"after".to_vec()));
}

/// A leader of {1,2} whose log was compacted to 10 (snapshot at 10, term 1),
/// in term 2, with follower 2 having answered its first append with an empty log.
fn leader_needing_snapshot(st: FaultyStorage) -> Raft<FaultyStorage> {
    {
        let mut core = st.inner.wl();
        let ents: Vec<Entry> = (1..=10).map(|i| entry(1, i)).collect();
        core.append(&ents).expect("append");
        core.set_hardstate(HardState {
            term: 1,
            vote: 1,
            commit: 10,
        });
        core.create_snapshot(10, None, "img".into())
            .expect("snapshot");
        core.compact(10).expect("compact");
    }
    let mut c = new_config(1, 10, 1);
    c.applied = 10;
    let mut r = Raft::new(&c, st, &logger()).expect("raft");
    r.become_candidate();
    r.become_leader();
    r.msgs.clear();
    let mut rej = msg(2, 1, MessageType::MsgAppendResponse, 2);
    rej.reject = true;
    rej.index = 10;
    rej.reject_hint = 0;
    r.step(rej).expect("rejection");
    r
}

/// Issue 4: `SnapshotTemporarilyUnavailable` keeps the follower probing (no
/// panic, no MsgSnapshot, not in Snapshot state); once the storage has one,
/// the leader sends it and pauses the follower in Snapshot state.
#[test]
fn snapshot_temporarily_unavailable_keeps_probing_2c() {
    let st = FaultyStorage::new(new_storage(&[1, 2], &[]));
    st.snapshot_unavailable.set(true);
    let mut r = leader_needing_snapshot(st.clone());
    assert!(
        st.snapshot_calls.get() >= 1,
        "the leader asked storage for a snapshot"
    );
    assert!(
        r.msgs
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgSnapshot),
        "{:?}",
        r.msgs
    );
    assert_ne!(
        r.prs().get(2).expect("progress").state,
        ProgressState::Snapshot
    );
    assert_eq!(r.state, StateRole::Leader);
    r.msgs.clear();
    st.snapshot_unavailable.set(false);
    r.step(msg(2, 1, MessageType::MsgHeartbeatResponse, 2))
        .expect("heartbeat response");
    let snaps: Vec<&Message> = r
        .msgs
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgSnapshot)
        .collect();
    assert_eq!(
        snaps.len(),
        1,
        "the leader retries once the snapshot exists: {:?}",
        r.msgs
    );
    assert_eq!(
        snaps[0]
            .snapshot
            .as_ref()
            .and_then(|s| s.metadata.as_ref())
            .map(|m| m.index),
        Some(10)
    );
    assert_eq!(
        r.prs().get(2).expect("progress").state,
        ProgressState::Snapshot
    );
    // Paused: proposals do not go to 2 while it installs the snapshot.
    r.msgs.clear();
    let _ = r.step(propose(1, "x"));
    assert!(
        r.msgs
            .iter()
            .all(|m| !(m.to == 2 && m.msg_type() == MessageType::MsgAppend)),
        "{:?}",
        r.msgs
    );
}

/// Issue 4 / RawNode::report_snapshot: Finish or Failure takes the follower
/// out of Snapshot state back to probing.
#[test]
fn report_snapshot_2c() {
    for status in [SnapshotStatus::Finish, SnapshotStatus::Failure] {
        let s = new_storage(&[1, 2], &[]);
        {
            let mut core = s.wl();
            let ents: Vec<Entry> = (1..=10).map(|i| entry(1, i)).collect();
            core.append(&ents).expect("append");
            core.set_hardstate(HardState {
                term: 1,
                vote: 1,
                commit: 10,
            });
            core.create_snapshot(10, None, "img".into())
                .expect("snapshot");
            core.compact(10).expect("compact");
        }
        let mut c = new_config(1, 10, 1);
        c.applied = 10;
        let mut rn = raw_node_from(&c, s);
        rn.campaign().expect("campaign");
        handle_ready(&mut rn);
        rn.step(vote_resp(
            MessageType::MsgRequestVoteResponse,
            2,
            1,
            2,
            true,
        ))
        .expect("grant");
        assert_eq!(rn.raft.state, StateRole::Leader);
        let r = handle_ready(&mut rn);
        let app = r
            .messages
            .iter()
            .find(|m| m.msg_type() == MessageType::MsgAppend && m.to == 2)
            .cloned();
        let mut rej = msg(2, 1, MessageType::MsgAppendResponse, 2);
        rej.reject = true;
        rej.index = app.map_or(10, |m| m.index);
        rej.reject_hint = 0;
        rn.step(rej).expect("rejection");
        let r = handle_ready(&mut rn);
        assert!(
            r.messages
                .iter()
                .chain(r.persisted_messages.iter())
                .any(|m| m.msg_type() == MessageType::MsgSnapshot && m.to == 2),
            "{r:?}"
        );
        assert_eq!(
            rn.raft.prs().get(2).expect("progress").state,
            ProgressState::Snapshot
        );
        rn.report_snapshot(2, status);
        assert_eq!(
            rn.raft.prs().get(2).expect("progress").state,
            ProgressState::Probe,
            "{status:?}"
        );
    }
}

/// §7: the leader's snapshot carries its membership, and a follower that was
/// behind a conf change learns it from the snapshot.
#[test]
fn snapshot_carries_leader_membership_2c() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.isolate(3);
    for d in ["a", "b", "c"] {
        nt.send(vec![propose(1, d)]);
    }
    let p = nt.peer(1);
    let idx = p.raft_log.committed;
    let s = nt.storage(1);
    s.wl()
        .create_snapshot(idx, Some((vec![1, 2, 3], vec![4]).into()), "img".into())
        .expect("snapshot");
    s.wl().compact(idx).expect("compact");
    nt.recover();
    nt.send(vec![beat(1)]);
    assert_eq!(nt.peer(3).prs().learner_ids(), vec![4]);
    assert_eq!(nt.peer(3).raft_log.committed, idx);
}

/// Issue 4 + API.md Snapshots rule: a node added through the log after the
/// leader compacted catches up from a snapshot whose conf state (taken after
/// the add was applied) contains it, then follows the log.
#[test]
fn added_node_catches_up_via_snapshot_2c() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, 10, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    for i in 0..5 {
        cl.node(1)
            .propose("", format!("v{i}").into_bytes())
            .expect("propose");
    }
    cl.settle();
    cl.add(
        4,
        raw_node_from(&new_config(4, 10, 1), new_storage(&[1, 2, 3], &[])),
    );
    cl.pause(4);
    let cc = conf_change(tinyraft::eraftpb::ConfChangeType::AddNode, 4);
    cl.node(1).propose_conf_change("", cc).expect("add 4");
    cl.settle();
    let leader = &cl.nodes[&1].raft;
    assert_eq!(leader.prs().voter_ids(), vec![1, 2, 3, 4]);
    let applied = leader.raft_log.applied;
    let cs = leader.prs().conf_state();
    let store = leader.raft_log.store().clone();
    store
        .wl()
        .create_snapshot(applied, Some(cs), "sm".into())
        .expect("snapshot");
    store.wl().compact(applied).expect("compact");
    cl.resume(4);
    for _ in 0..3 {
        cl.node(1).tick();
        cl.settle();
    }
    cl.node(1).propose("", "after").expect("propose");
    cl.settle();
    assert!(
        cl.delivered
            .iter()
            .any(|m| m.msg_type() == MessageType::MsgSnapshot && m.to == 4)
    );
    assert_eq!(cl.node(4).raft.prs().voter_ids(), vec![1, 2, 3, 4]);
    assert_eq!(
        cl.applied_data(4),
        vec![b"after".to_vec()],
        "4 applied only what follows the snapshot"
    );
    assert_eq!(
        cl.nodes[&4].raft.raft_log.applied,
        cl.nodes[&1].raft.raft_log.applied
    );
}
