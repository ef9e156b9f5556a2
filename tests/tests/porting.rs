//! Issue 12, porting from raft-rs: the rules that make tinyraft's wire and
//! configuration safe to mix with raft-rs habits.
//!
//! - `Config::cluster_id`: every message a node sends carries it; a message
//!   carrying another non-zero id is `InvalidMessage` and changes nothing;
//!   zero on either side interoperates.
//! - Enum values tinyraft does not act on are refused where they would enter
//!   the log: an unknown `ConfChangeType` is `ConfChangeRefused`, an unknown
//!   entry type in a proposal is `InvalidMessage`; nothing is appended. A
//!   `ConfChangeV2` entry encoded as raft-rs encodes it is accepted.
//! - raft-rs's `max_size_per_msg = 0`: one entry per `MsgAppend`.

use prost::Message as _;
use tinyraft::eraftpb::{
    ConfChangeSingle, ConfChangeType, ConfChangeV2, Entry, EntryType, Message, MessageType,
};
use tinyraft::{Error, StateRole};
use tinyraft_tests::*;

/// `config_with(id, false, false)` in cluster `cluster_id`.
fn config_in(id: u64, cluster_id: u64) -> tinyraft::Config {
    let mut c = config_with(id, false, false);
    c.cluster_id = cluster_id;
    c
}

/// A fresh node `id` of voters {1, 2, 3} in cluster `cluster_id`.
fn node_in(id: u64, cluster_id: u64) -> tinyraft::Raft<tinyraft::storage::MemStorage> {
    raft_from(&config_in(id, cluster_id), new_storage(&[1, 2, 3], &[]))
}

/// The test's own injected messages (local `MsgHup`, `MsgPropose`) carry no
/// id; everything a node sent does.
fn sent_by_nodes(net: &Network) -> Vec<&Message> {
    net.delivered
        .iter()
        .filter(|m| m.msg_type() != MessageType::MsgHup && m.from != m.to)
        .collect()
}

#[test]
fn cluster_id_is_carried_by_every_message_sent() {
    let mut net = Network::new(vec![
        Peer::node(node_in(1, 7)),
        Peer::node(node_in(2, 7)),
        Peer::node(node_in(3, 7)),
    ]);
    net.send(vec![hup(1)]);
    net.send(vec![propose(1, "x")]);
    assert_eq!(net.peer(1).state, StateRole::Leader);
    assert!(net.errors.is_empty(), "refused: {:?}", net.errors);
    let sent = sent_by_nodes(&net);
    assert!(
        sent.len() >= 8,
        "too little traffic to judge: {}",
        sent.len()
    );
    for m in sent {
        assert_eq!(m.cluster_id, 7, "message without the cluster id: {m}");
    }
    for id in 1..=3 {
        assert_eq!(net.peer(id).raft_log.committed, 2, "node {id} commit");
    }
}

#[test]
fn cluster_id_message_from_another_cluster_is_invalid_and_changes_nothing() {
    // Node 3 belongs to cluster 8 but sits where cluster 7 expects its node 3
    // (a misrouted address): it must neither vote nor take appends.
    let mut net = Network::new(vec![
        Peer::node(node_in(1, 7)),
        Peer::node(node_in(2, 7)),
        Peer::node(node_in(3, 8)),
    ]);
    net.send(vec![hup(1)]);
    net.send(vec![propose(1, "x")]);
    assert_eq!(net.peer(1).state, StateRole::Leader, "1 wins with 2's vote");
    assert_eq!(net.peer(2).raft_log.committed, 2);
    let stranger = net.peer(3);
    assert_eq!(
        (stranger.term, stranger.vote, stranger.leader_id),
        (0, 0, 0),
        "the stranger adopted cluster 7's term, vote or leader"
    );
    assert_eq!(stranger.raft_log.last_index(), 0, "the stranger appended");
    assert!(!net.errors.is_empty(), "nothing was refused");
    for (m, e) in &net.errors {
        assert_eq!(m.to, 3, "a refusal outside the stranger: {m}");
        assert_eq!(m.cluster_id, 7);
        assert!(matches!(e, Error::InvalidMessage(_)), "{m}: {e:?}");
    }
    // And the other way round: the stranger's own vote request is refused
    // by cluster 7 without touching its term.
    let before = net.peer(1).hard_state();
    let mut req = vote_req(MessageType::MsgRequestVote, 3, 1, 99, 9, 99);
    req.cluster_id = 8;
    let res = net.peer_mut(1).step(req);
    assert!(matches!(res, Err(Error::InvalidMessage(_))), "{res:?}");
    assert_eq!(net.peer(1).hard_state(), before);
    assert!(net.peer(1).msgs.is_empty());
}

#[test]
fn cluster_id_zero_interoperates_with_any() {
    // Node 1 sets an id, nodes 2 and 3 (raft-rs peers, say) send none; and
    // a node with no id accepts a message that carries one.
    let mut net = Network::new(vec![
        Peer::node(node_in(1, 7)),
        Peer::node(node_in(2, 0)),
        Peer::node(node_in(3, 0)),
    ]);
    net.send(vec![hup(2)]);
    net.send(vec![propose(2, "x")]);
    assert_eq!(net.peer(2).state, StateRole::Leader);
    assert!(net.errors.is_empty(), "refused: {:?}", net.errors);
    for id in 1..=3 {
        assert_eq!(net.peer(id).raft_log.committed, 2, "node {id} commit");
    }
    for m in sent_by_nodes(&net) {
        let want = if m.from == 1 { 7 } else { 0 };
        assert_eq!(m.cluster_id, want, "{m}");
    }
}

/// A leader of {1, 2, 3} with its term's entry committed, so only the rule
/// under test can refuse a conf change.
fn leader() -> tinyraft::Raft<tinyraft::storage::MemStorage> {
    let mut r = node_in(1, 0);
    make_leader_with_committed_noop(&mut r);
    r
}

fn propose_entry(e: Entry) -> Message {
    let mut m = msg(1, 1, MessageType::MsgPropose, 0);
    m.entries = vec![e];
    m
}

fn assert_refused_unchanged(
    r: &mut tinyraft::Raft<tinyraft::storage::MemStorage>,
    e: Entry,
) -> Error {
    let (log, pending) = (log_ids(r), r.pending_conf_index);
    let err = r.step(propose_entry(e)).expect_err("proposal accepted");
    assert_eq!(log_ids(r), log, "a refused proposal was appended");
    assert_eq!(r.pending_conf_index, pending);
    assert!(take_msgs(r).is_empty(), "a refused proposal was sent");
    err
}

/// A raft-rs application proposes joint changes as `EntryConfChangeV2`
/// entries with raft-rs's encoding: they enter the log as they are.
#[test]
fn conf_change_v2_proposal_enters_the_log() {
    let mut r = leader();
    let mut cc = ConfChangeV2::default();
    for (t, id) in [
        (ConfChangeType::AddNode, 4),
        (ConfChangeType::RemoveNode, 3),
    ] {
        let mut c = ConfChangeSingle {
            node_id: id,
            ..Default::default()
        };
        c.set_change_type(t);
        cc.changes.push(c);
    }
    let mut e = Entry {
        data: cc.encode_to_vec().into(),
        ..Default::default()
    };
    e.set_entry_type(EntryType::EntryConfChangeV2);
    r.step(propose_entry(e)).expect("V2 conf change");
    assert_eq!(r.raft_log.last_index(), 2);
    assert_eq!(r.pending_conf_index, 2);
    let stored = &r.raft_log.entries(2, None).unwrap()[0];
    assert_eq!(stored.entry_type(), EntryType::EntryConfChangeV2);
    assert_eq!(ConfChangeV2::decode(&stored.data[..]).unwrap(), cc);
}

#[test]
fn unknown_conf_change_type_is_refused_at_proposal_time() {
    let mut r = leader();
    let mut cc = conf_change(ConfChangeType::AddNode, 4);
    cc.change_type = 3; // one past AddLearnerNode: no such type
    let err = assert_refused_unchanged(&mut r, conf_change_entry(&cc));
    assert!(
        matches!(err, Error::ConfChangeRefused(ref s) if s.contains("unknown conf change type 3")),
        "{err:?}"
    );
}

#[test]
fn unknown_entry_type_in_a_proposal_is_invalid_message() {
    let mut r = leader();
    let e = Entry {
        entry_type: 3, // after EntryConfChangeV2: prost would read it as EntryNormal
        data: "x".into(),
        ..Default::default()
    };
    let err = assert_refused_unchanged(&mut r, e);
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
}

#[test]
fn unknown_message_type_is_invalid_message() {
    // 19 was tinyraft's MsgCheckQuorum before the raft-rs numbering; now it
    // is no type at all and must not be read as one.
    let mut n = new_raw_node(1, &[1, 2, 3]);
    let mut m = msg(2, 1, MessageType::MsgHeartbeat, 1);
    m.msg_type = 19;
    let err = n.step(m.clone()).expect_err("unknown type accepted");
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    let mut r = node_in(1, 0);
    let err = r.step(m).expect_err("unknown type accepted by Raft::step");
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    assert_eq!(r.term, 0);
}

#[test]
fn max_size_per_msg_zero_means_one_entry_per_append() {
    let mut c = config_in(1, 0);
    c.max_size_per_msg = 0;
    c.validate().expect("raft-rs's 0 is accepted");
    let mut r = raft_from(&c, new_storage(&[1, 2], &[]));
    r.become_candidate();
    r.become_leader();
    persist(&mut r);
    take_msgs(&mut r);
    for d in ["a", "b", "c"] {
        r.step(propose(1, d)).expect("propose");
        persist(&mut r);
    }
    take_msgs(&mut r);
    // Node 2 acks the empty entry; its probe answer makes the leader send
    // the rest, which must go one entry per message.
    r.step(append_ack(2, 1, r.term, 1)).expect("ack");
    let apps = filter_msgs(&take_msgs(&mut r), MessageType::MsgAppend, 2);
    let sizes: Vec<usize> = apps.iter().map(|m| m.entries.len()).collect();
    assert!(!sizes.is_empty(), "nothing sent");
    assert!(
        sizes.iter().all(|&n| n == 1),
        "entries per append: {sizes:?}"
    );
}

/// A raft-rs leader may replicate an `EntryConfChangeV2`: a tinyraft
/// follower stores it and hands it out committed under its own type (2),
/// never as a V1 change or a normal entry, and does not act on it.
#[test]
fn committed_conf_change_v2_entry_is_handed_out_as_v2_and_not_applied() {
    let mut n = new_raw_node(2, &[1, 2, 3]);
    let mut e = entry_data(1, 1, ConfChangeV2::default().encode_to_vec());
    e.set_entry_type(EntryType::EntryConfChangeV2);
    n.step(append_msg(1, 2, 1, 0, 0, 1, vec![e]))
        .expect("a V2 entry from a leader is well formed");
    let mut kinds = vec![];
    while n.has_ready() {
        let rd = n.ready();
        n.store().wl().append(&rd.entries).expect("append");
        if let Some(hs) = rd.hs {
            n.store().wl().set_hardstate(hs);
        }
        kinds.extend(rd.committed_entries.iter().map(|e| e.entry_type));
        n.advance(rd);
    }
    assert_eq!(kinds, vec![EntryType::EntryConfChangeV2 as i32]);
    assert_eq!(
        n.raft.prs().voter_ids(),
        vec![1, 2, 3],
        "membership changed"
    );
    assert_eq!(n.raft.raft_log.applied, 1);
}
