//! `RawNode::propose` on a leader appends at once but broadcasts lazily
//! (issue 11): a batch of proposals leaves as one append per follower at the
//! next `ready()`, and any other call on the node sends them first, so the
//! node's messages keep the order of the calls that caused them.

mod common;

use bytes::Bytes;
use common::Cluster;
use tinyraft::eraftpb::{Message, MessageType};

/// A 3-node cluster with node 1 leading and both followers replicating.
fn cluster() -> Cluster {
    let mut c = Cluster::new(3, |_| {});
    c.node(1).campaign().unwrap();
    c.pump();
    assert_eq!(c.leader(), Some(1));
    c
}

fn appends(msgs: &[Message]) -> Vec<(u64, Vec<u64>)> {
    msgs.iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend)
        .map(|m| (m.to, m.entries.iter().map(|e| e.index).collect()))
        .collect()
}

/// Raft §5.3 replication, batched: five proposals are in the leader's log
/// at once (indexes stamped, readable before any Ready), and the next Ready
/// carries exactly one append per follower with all five; every node then
/// commits and applies them in order.
#[test]
fn proposals_leave_as_one_append_per_follower() {
    let mut c = cluster();
    let last = c.node(1).raft.raft_log.last_index();
    for i in 0..5u8 {
        c.node(1).propose(Bytes::new(), vec![i]).unwrap();
    }
    let leader = c.node(1);
    assert_eq!(leader.raft.raft_log.last_index(), last + 5);
    assert!(leader.raft.msgs.is_empty(), "nothing sent per proposal");
    assert!(leader.has_ready(), "the batch is work to hand out");
    let rd = leader.ready();
    let want: Vec<u64> = (last + 1..=last + 5).collect();
    assert_eq!(appends(&rd.messages), vec![(2, want.clone()), (3, want)]);
}

/// The batched proposals commit and apply everywhere, in proposal order
/// (Log Matching and State Machine Safety, §5.3-5.4).
#[test]
fn batched_proposals_apply_in_order_everywhere() {
    let mut c = cluster();
    for i in 0..5u8 {
        c.node(1).propose(Bytes::new(), vec![i]).unwrap();
    }
    c.pump();
    for id in 1..=3 {
        let applied = &c.nodes[&id].applied;
        let tail: Vec<Vec<u8>> = applied[applied.len() - 5..]
            .iter()
            .map(|(_, d)| d.clone())
            .collect();
        assert_eq!(
            tail,
            (0..5u8).map(|i| vec![i]).collect::<Vec<_>>(),
            "node {id}"
        );
    }
}

/// Message order follows call order: a proposal followed by a heartbeat
/// (`ping`) puts the proposal's appends before the heartbeats.
#[test]
fn a_later_call_sends_pending_proposals_first() {
    let mut c = cluster();
    c.node(1).propose(Bytes::new(), "x").unwrap();
    c.node(1).ping();
    let rd = c.node(1).ready();
    let kinds: Vec<(MessageType, u64)> = rd.messages.iter().map(|m| (m.msg_type(), m.to)).collect();
    assert_eq!(
        kinds,
        vec![
            (MessageType::MsgAppend, 2),
            (MessageType::MsgAppend, 3),
            (MessageType::MsgHeartbeat, 2),
            (MessageType::MsgHeartbeat, 3),
        ]
    );
}

/// A node deposed before its deferred broadcast (possible only by driving
/// `raw.raft` directly, past the RawNode calls that flush first) sends no
/// append for those proposals: only a leader sends appends (§5.3); the
/// entries stay in its log for the new leader's log to decide.
#[test]
fn deposed_leader_sends_no_deferred_appends() {
    let mut c = cluster();
    let term = c.node(1).raft.term;
    c.node(1).propose(Bytes::new(), "x").unwrap();
    let last = c.node(1).raft.raft_log.last_index();
    c.node(1).raft.become_follower(term + 1, 2);
    let rd = c.node(1).ready();
    assert_eq!(appends(&rd.messages), vec![]);
    assert_eq!(c.node(1).raft.raft_log.last_index(), last);
}
