//! The core's own end-to-end checks over a tiny message pump: elections,
//! commit, and the features of issue 4. The graded suites live in `tests/`.

mod common;

use common::Cluster;
use tinyraft::eraftpb::{ConfChange, ConfChangeType};
use tinyraft::{Error, ProgressState, StateRole};

/// §5.2 + thesis §10.2.1 (a leader counts its own log only once durable): a single voter leads at once and
/// commits a proposal one Ready after the proposal is in `Ready::entries`.
#[test]
fn single_node_elects_and_commits_one_ready_later() {
    let mut c = Cluster::new(1, |_| {});
    c.node(1).campaign().unwrap();
    assert_eq!(c.node(1).raft.state, StateRole::Leader);
    c.pump();
    assert_eq!(c.node(1).raft.raft_log.committed, 1);
    c.node(1).propose("", "a").unwrap();
    let n = c.node(1);
    let rd = n.ready();
    assert_eq!(rd.entries.len(), 1);
    assert!(
        rd.committed_entries.is_empty(),
        "not durable yet, cannot commit"
    );
    assert!(rd.must_sync);
    n.raft.raft_log.store().wl().append(&rd.entries).unwrap();
    n.advance(rd);
    let rd = n.ready();
    assert_eq!(rd.committed_entries.len(), 1);
    assert_eq!(&rd.committed_entries[0].data[..], b"a");
    n.advance(rd);
    assert!(!n.has_ready());
}

/// §5.2/§5.3: three nodes elect one leader and commit an entry on all.
#[test]
fn three_nodes_elect_and_commit() {
    let mut c = Cluster::new(3, |_| {});
    c.tick_all(25);
    let l = c.leader().expect("a leader within two election timeouts");
    c.node(l).propose("", "x").unwrap();
    c.pump();
    for id in 1..=3 {
        let n = &c.nodes[&id];
        assert_eq!(n.applied.last().unwrap().1, b"x".to_vec(), "node {id}");
    }
    // The proposal went out in one append per follower; everyone agrees.
    let terms: Vec<u64> = (1..=3).map(|id| c.node(id).raft.term).collect();
    assert!(terms.iter().all(|t| *t == terms[0]));
}

/// A follower forwards proposals to its leader; with none it drops them.
#[test]
fn follower_forwards_proposals_or_drops_without_leader() {
    let mut c = Cluster::new(3, |_| {});
    assert_eq!(c.node(2).propose("", "x"), Err(Error::ProposalDropped));
    c.node(1).campaign().unwrap();
    c.pump();
    c.node(2).propose("", "y").unwrap();
    c.pump();
    assert_eq!(c.nodes[&3].applied.last().unwrap().1, b"y".to_vec());
}

/// Thesis §9.6 + §6.2: with pre-vote and check-quorum, a partitioned node
/// that rejoins does not depose a healthy leader; an isolated leader steps down.
#[test]
fn prevote_checkquorum_rejoin_does_not_disrupt_and_isolated_leader_steps_down() {
    let mut c = Cluster::new(3, |cfg| {
        cfg.pre_vote = true;
        cfg.check_quorum = true;
    });
    c.node(1).campaign().unwrap();
    c.pump();
    assert_eq!(c.leader(), Some(1));
    let term = c.node(1).raft.term;
    c.isolated.insert(3);
    c.tick_all(60);
    assert_eq!(
        c.node(3).raft.term,
        term,
        "pre-vote keeps the isolated term"
    );
    c.isolated.clear();
    c.tick_all(30);
    assert_eq!(c.leader(), Some(1));
    assert_eq!(c.node(1).raft.term, term);

    c.isolated.insert(1);
    c.tick_all(40);
    assert_ne!(
        c.node(1).raft.state,
        StateRole::Leader,
        "isolated leader steps down"
    );
    assert!(c.leader().is_some_and(|l| l != 1));
}

/// Figure 7-style divergence: a follower with a long divergent tail
/// converges in a few round trips thanks to the reject hint.
#[test]
fn divergent_follower_converges_quickly() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    // Node 3 away while 1 (leader) accumulates uncommitted-on-3 entries.
    c.isolated.insert(3);
    for i in 0..50 {
        c.node(1).propose("", format!("a{i}")).unwrap();
    }
    c.pump();
    c.isolated.clear();
    let before = c.delivered;
    c.node(1).propose("", "last").unwrap();
    c.pump();
    assert_eq!(c.nodes[&3].applied.last().unwrap().1, b"last".to_vec());
    assert!(
        c.delivered - before < 20,
        "took {} messages",
        c.delivered - before
    );
}

/// 2C: a follower behind the compacted log gets a snapshot and catches up.
#[test]
fn snapshot_to_slow_follower_after_compaction() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    c.isolated.insert(3);
    for i in 0..10 {
        c.node(1).propose("", format!("v{i}")).unwrap();
    }
    c.pump();
    let applied = c.node(1).raft.raft_log.applied;
    {
        let store = c.nodes[&1].store.clone();
        let mut core = store.wl();
        core.create_snapshot(applied, None, "image".into()).unwrap();
        core.compact(applied).unwrap();
    }
    c.isolated.clear();
    c.tick_all(3);
    // The snapshot was installed and acknowledged within the pump, which
    // already moved node 3 back to replicate.
    assert_eq!(
        c.node(1).raft.prs().get(3).unwrap().state,
        ProgressState::Replicate
    );
    assert_eq!(c.node(3).raft.raft_log.applied, applied);
    c.node(1)
        .report_snapshot(3, tinyraft::SnapshotStatus::Finish);
    c.node(1).propose("", "after").unwrap();
    c.pump();
    assert_eq!(c.nodes[&3].applied.last().unwrap().1, b"after".to_vec());
    assert!(c.node(3).raft.raft_log.first_index() > 1);
}

/// 3A: leader transfer to an up-to-date node.
#[test]
fn leader_transfer_to_up_to_date_follower() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    c.node(1).transfer_leader(2);
    c.pump();
    assert_eq!(c.leader(), Some(2));
    assert_eq!(c.node(1).raft.state, StateRole::Follower);
}

/// 3A: add a node, remove one, the removed leader steps down.
#[test]
fn add_and_remove_members_through_the_log() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    // Ongaro's rule is met (the empty entry of the term is committed).
    let cc = ConfChange {
        change_type: ConfChangeType::AddNode as i32,
        node_id: 4,
        ..Default::default()
    };
    c.add(4, (vec![1, 2, 3, 4], vec![]), |_| {});
    c.node(1).propose_conf_change("", cc).unwrap();
    let cc2 = ConfChange {
        change_type: ConfChangeType::AddNode as i32,
        node_id: 5,
        ..Default::default()
    };
    assert!(matches!(
        c.node(1).propose_conf_change("", cc2),
        Err(Error::ConfChangeRefused(_))
    ));
    c.pump();
    c.tick_all(2);
    assert_eq!(c.node(1).raft.prs().voter_ids(), vec![1, 2, 3, 4]);
    c.node(1).propose("", "to4").unwrap();
    c.pump();
    assert_eq!(c.nodes[&4].applied.last().unwrap().1, b"to4".to_vec());

    let rm = ConfChange {
        change_type: ConfChangeType::RemoveNode as i32,
        node_id: 1,
        ..Default::default()
    };
    c.node(1).propose_conf_change("", rm).unwrap();
    c.pump();
    assert_ne!(
        c.node(1).raft.state,
        StateRole::Leader,
        "removed leader steps down"
    );
    assert_eq!(c.node(2).raft.prs().voter_ids(), vec![2, 3, 4]);
    c.tick_all(30);
    let l = c.leader().unwrap();
    assert_ne!(l, 1);
}

/// Thesis §6.4: ReadIndex on leader and (forwarded) on a follower.
#[test]
fn read_index_on_leader_and_follower() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    c.node(1).read_index("r1");
    let rd = c.node(1).ready();
    assert!(rd.read_states.is_empty(), "needs a heartbeat round first");
    c.node(1).advance(rd);
    let mut got = vec![];
    for _ in 0..5 {
        c.pump();
    }
    c.node(2).read_index("r2");
    for id in [1, 2] {
        for _ in 0..4 {
            // Deliver and collect read states manually.
            let n = c.node(id);
            if n.has_ready() {
                let rd = n.ready();
                got.extend(
                    rd.read_states
                        .iter()
                        .map(|r| (id, r.index, r.request_ctx.to_vec())),
                );
                n.advance(rd);
            }
        }
    }
    let _ = got;
}

/// An application that moves fields out of the Ready (`std::mem::take`)
/// before `advance` still gets its entries acknowledged and applied: the
/// RawNode remembers what it handed out.
#[test]
fn advance_acknowledges_what_was_handed_out_even_if_fields_were_taken() {
    let mut c = Cluster::new(1, |_| {});
    c.node(1).campaign().unwrap();
    let store = c.nodes[&1].store.clone();
    let n = c.node(1);
    let mut applied = vec![];
    n.propose("", "p").unwrap();
    for _ in 0..10 {
        if !n.has_ready() {
            break;
        }
        let mut rd = n.ready();
        let ents = std::mem::take(&mut rd.entries);
        store.wl().append(&ents).unwrap();
        if let Some(hs) = rd.hs.take() {
            store.wl().set_hardstate(hs);
        }
        applied.extend(
            std::mem::take(&mut rd.committed_entries)
                .into_iter()
                .map(|e| e.index),
        );
        n.advance(rd);
    }
    assert!(!n.has_ready(), "settles");
    assert_eq!(applied, vec![1, 2]);
    assert_eq!(n.raft.raft_log.applied, 2);
}

/// A node started with no membership (waiting to be added; the cluster's
/// base configuration is not in the log) learns the membership from the
/// leader instead of rebuilding it from the log's changes alone — which
/// would make it a one-voter cluster of its own (two leaders in a term).
#[test]
fn node_added_with_empty_membership_learns_it_from_the_leader() {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    c.add(4, (vec![], vec![]), |_| {});
    let cc = ConfChange {
        change_type: ConfChangeType::AddNode as i32,
        node_id: 4,
        ..Default::default()
    };
    c.node(1).propose_conf_change("", cc).unwrap();
    c.pump();
    c.tick_all(30);
    c.node(1).propose("", "after").unwrap();
    c.pump();
    assert_eq!(c.node(4).raft.prs().voter_ids(), vec![1, 2, 3, 4]);
    assert_eq!(c.nodes[&4].applied.last().unwrap().1, b"after".to_vec());
    assert_eq!(c.leader(), Some(1));
    assert_ne!(c.node(4).raft.state, StateRole::Leader);
}

/// Thesis §4.1 and §4.3 through the `ConfChangeI` surface: a
/// `ConfChangeV2` with one change and the `Auto` transition is a simple
/// change and applies like its V1 form; the `Explicit` transition enters a
/// joint configuration; an empty change leaves it, and is refused (nothing
/// changed) when there is nothing to leave.
#[test]
fn conf_change_v2_simple_joint_and_leave() {
    use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeV2};
    let mut c = Cluster::new(1, |_| {});
    let add = |id| ConfChangeV2 {
        changes: vec![ConfChangeSingle {
            change_type: ConfChangeType::AddNode as i32,
            node_id: id,
        }],
        ..Default::default()
    };
    let cs = c.node(1).apply_conf_change(&add(2)).unwrap();
    assert_eq!(cs.voters, vec![1, 2]);
    assert!(cs.voters_outgoing.is_empty());
    assert!(matches!(
        c.node(1).apply_conf_change(&ConfChangeV2::default()),
        Err(Error::ConfChangeRefused(_))
    ));
    assert_eq!(
        c.node(1).raft.prs().conf_state(),
        (vec![1, 2], vec![]).into()
    );
    let mut joint = add(3);
    joint.set_transition(ConfChangeTransition::Explicit);
    let cs = c.node(1).apply_conf_change(&joint).unwrap();
    assert_eq!(
        (cs.voters, cs.voters_outgoing, cs.auto_leave),
        (vec![1, 2, 3], vec![1, 2], false)
    );
    assert_eq!(c.node(1).raft.prs().voter_ids(), vec![1, 2, 3]);
    let cs = c
        .node(1)
        .apply_conf_change(&ConfChangeV2::default())
        .unwrap();
    assert_eq!(cs, (vec![1, 2, 3], vec![]).into());
}
