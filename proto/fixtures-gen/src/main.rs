//! Writes `proto/tests/fixtures/`: bytes encoded by raft-rs's own `eraftpb`
//! (raft-proto 0.7, rust-protobuf codec), one file per value, plus
//! `expected.json` with the values they hold, as raft-rs sees them (numbers
//! and raft-rs's enum names). `proto/tests/raft_rs_fixtures.rs` decodes each
//! file with tinyraft's types and checks it against the values and the
//! original bytes, without raft-rs.
//!
//! Run from anywhere: `cargo run --manifest-path proto/fixtures-gen/Cargo.toml`
//! (it needs `protoc` on PATH, as raft-proto's build script does).
//!
//! Every value sets every field both crates have, each to a value no other
//! field of the same message has, so a swapped or renumbered field shows.
//! Fields only raft-rs has (`Entry.sync_log`, `Message.commit_term`,
//! `request_snapshot`, `priority`, `deprecated_priority`, `ConfChange.id`)
//! are left unset: tinyraft does not carry them.

use std::fs;
use std::path::PathBuf;

use protobuf::{Message as _, ProtobufEnum};
use raft_proto::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use serde_json::{json, Value};

/// Bytes as lowercase hex.
fn bytes(b: &[u8]) -> Value {
    json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn enum_value<E: ProtobufEnum>(e: E) -> Value {
    json!({ "number": e.value(), "name": e.descriptor().name() })
}

fn conf_state_json(cs: &ConfState) -> Value {
    json!({
        "voters": cs.get_voters(),
        "learners": cs.get_learners(),
        "voters_outgoing": cs.get_voters_outgoing(),
        "learners_next": cs.get_learners_next(),
        "auto_leave": cs.get_auto_leave(),
    })
}

fn metadata_json(m: &SnapshotMetadata) -> Value {
    json!({
        "conf_state": if m.has_conf_state() { conf_state_json(m.get_conf_state()) } else { Value::Null },
        "index": m.get_index(),
        "term": m.get_term(),
    })
}

fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "data": bytes(s.get_data()),
        "metadata": if s.has_metadata() { metadata_json(s.get_metadata()) } else { Value::Null },
    })
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "entry_type": enum_value(e.get_entry_type()),
        "term": e.get_term(),
        "index": e.get_index(),
        "data": bytes(e.get_data()),
        "context": bytes(e.get_context()),
    })
}

fn message_json(m: &Message) -> Value {
    json!({
        "msg_type": enum_value(m.get_msg_type()),
        "to": m.get_to(),
        "from": m.get_from(),
        "term": m.get_term(),
        "log_term": m.get_log_term(),
        "index": m.get_index(),
        "entries": m.get_entries().iter().map(entry_json).collect::<Vec<_>>(),
        "commit": m.get_commit(),
        "snapshot": if m.has_snapshot() { snapshot_json(m.get_snapshot()) } else { Value::Null },
        "reject": m.get_reject(),
        "reject_hint": m.get_reject_hint(),
        "context": bytes(m.get_context()),
    })
}

fn hard_state_json(h: &HardState) -> Value {
    json!({ "term": h.get_term(), "vote": h.get_vote(), "commit": h.get_commit() })
}

fn conf_change_json(cc: &ConfChange) -> Value {
    json!({
        "change_type": enum_value(cc.get_change_type()),
        "node_id": cc.get_node_id(),
        "context": bytes(cc.get_context()),
    })
}

fn conf_change_single_json(cc: &ConfChangeSingle) -> Value {
    json!({ "change_type": enum_value(cc.get_change_type()), "node_id": cc.get_node_id() })
}

fn conf_change_v2_json(cc: &ConfChangeV2) -> Value {
    json!({
        "transition": enum_value(cc.get_transition()),
        "changes": cc.get_changes().iter().map(conf_change_single_json).collect::<Vec<_>>(),
        "context": bytes(cc.get_context()),
    })
}

fn joint_conf_state() -> ConfState {
    let mut cs = ConfState::default();
    cs.set_voters(vec![1, 2, 4]);
    cs.set_learners(vec![5]);
    cs.set_voters_outgoing(vec![1, 2, 3]);
    cs.set_learners_next(vec![3]);
    cs.set_auto_leave(true);
    cs
}

fn conf_change() -> ConfChange {
    let mut cc = ConfChange::default();
    cc.set_change_type(ConfChangeType::AddLearnerNode);
    cc.set_node_id(5);
    cc.set_context(b"add 5 as learner".to_vec().into());
    cc
}

fn conf_change_v2(transition: ConfChangeTransition) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.set_transition(transition);
    for (t, id) in [
        (ConfChangeType::AddNode, 4),
        (ConfChangeType::RemoveNode, 3),
        (ConfChangeType::AddLearnerNode, 6),
    ] {
        let mut s = ConfChangeSingle::default();
        s.set_change_type(t);
        s.set_node_id(id);
        cc.mut_changes().push(s);
    }
    cc.set_context(b"joint".to_vec().into());
    cc
}

/// The log: a normal entry, an empty one (a new leader's), a V1 conf
/// change, a V2 conf change, and a normal entry with a large index and term.
fn log() -> Vec<Entry> {
    let mut out = vec![];
    let mut push = |t: EntryType, term: u64, index: u64, data: Vec<u8>, ctx: &[u8]| {
        let mut e = Entry::default();
        e.set_entry_type(t);
        e.set_term(term);
        e.set_index(index);
        e.set_data(data.into());
        e.set_context(ctx.to_vec().into());
        out.push(e);
    };
    push(EntryType::EntryNormal, 3, 41, b"put x 1".to_vec(), b"req-7");
    push(EntryType::EntryNormal, 4, 42, vec![], b"");
    push(
        EntryType::EntryConfChange,
        4,
        43,
        conf_change().write_to_bytes().unwrap(),
        b"cc",
    );
    push(
        EntryType::EntryConfChangeV2,
        4,
        44,
        conf_change_v2(ConfChangeTransition::Explicit)
            .write_to_bytes()
            .unwrap(),
        b"cc-v2",
    );
    push(
        EntryType::EntryNormal,
        u64::MAX - 1,
        u64::MAX - 2,
        vec![0, 255, 128],
        b"",
    );
    out
}

fn snapshot() -> Snapshot {
    let mut md = SnapshotMetadata::default();
    md.set_conf_state(joint_conf_state());
    md.set_index(40);
    md.set_term(3);
    let mut s = Snapshot::default();
    s.set_data(b"state machine image".to_vec().into());
    s.set_metadata(md);
    s
}

const ALL_TYPES: [MessageType; 19] = [
    MessageType::MsgHup,
    MessageType::MsgBeat,
    MessageType::MsgPropose,
    MessageType::MsgAppend,
    MessageType::MsgAppendResponse,
    MessageType::MsgRequestVote,
    MessageType::MsgRequestVoteResponse,
    MessageType::MsgSnapshot,
    MessageType::MsgHeartbeat,
    MessageType::MsgHeartbeatResponse,
    MessageType::MsgUnreachable,
    MessageType::MsgSnapStatus,
    MessageType::MsgCheckQuorum,
    MessageType::MsgTransferLeader,
    MessageType::MsgTimeoutNow,
    MessageType::MsgReadIndex,
    MessageType::MsgReadIndexResp,
    MessageType::MsgRequestPreVote,
    MessageType::MsgRequestPreVoteResponse,
];

/// A message of type `t` with every shared field set (distinct values).
fn message(t: MessageType) -> Message {
    let n = t.value() as u64;
    let mut m = Message::default();
    m.set_msg_type(t);
    m.set_to(2);
    m.set_from(1);
    m.set_term(100 + n);
    m.set_log_term(90 + n);
    m.set_index(40);
    m.set_commit(39);
    m.set_reject(n % 2 == 1);
    m.set_reject_hint(if n % 2 == 1 { 17 } else { 0 });
    m.set_context(format!("ctx of {t:?}").into_bytes().into());
    match t {
        MessageType::MsgAppend | MessageType::MsgPropose => {
            m.set_entries(log().into());
        }
        MessageType::MsgReadIndex | MessageType::MsgReadIndexResp => {
            let mut e = Entry::default();
            e.set_data(b"read ctx".to_vec().into());
            m.mut_entries().push(e);
        }
        MessageType::MsgSnapshot => m.set_snapshot(snapshot()),
        _ => {}
    }
    m
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    fs::create_dir_all(&dir).expect("create fixtures dir");
    let mut expected = vec![];
    let mut write = |name: String, kind: &str, bytes: Vec<u8>, value: Value| {
        fs::write(dir.join(format!("{name}.bin")), &bytes).expect("write fixture");
        expected.push(json!({ "file": format!("{name}.bin"), "kind": kind, "value": value }));
    };
    for t in ALL_TYPES {
        let m = message(t);
        write(
            format!("message_{t:?}"),
            "Message",
            m.write_to_bytes().unwrap(),
            message_json(&m),
        );
    }
    for (i, e) in log().iter().enumerate() {
        write(
            format!("entry_{i}"),
            "Entry",
            e.write_to_bytes().unwrap(),
            entry_json(e),
        );
    }
    let mut hs = HardState::default();
    hs.set_term(7);
    hs.set_vote(3);
    hs.set_commit(u64::MAX - 5);
    write(
        "hard_state".into(),
        "HardState",
        hs.write_to_bytes().unwrap(),
        hard_state_json(&hs),
    );
    let cs = joint_conf_state();
    write(
        "conf_state_joint".into(),
        "ConfState",
        cs.write_to_bytes().unwrap(),
        conf_state_json(&cs),
    );
    let mut simple = ConfState::default();
    simple.set_voters(vec![1, 2, 3]);
    simple.set_learners(vec![4]);
    write(
        "conf_state".into(),
        "ConfState",
        simple.write_to_bytes().unwrap(),
        conf_state_json(&simple),
    );
    let s = snapshot();
    let md = s.get_metadata().clone();
    write(
        "snapshot_metadata".into(),
        "SnapshotMetadata",
        md.write_to_bytes().unwrap(),
        metadata_json(&md),
    );
    write(
        "snapshot".into(),
        "Snapshot",
        s.write_to_bytes().unwrap(),
        snapshot_json(&s),
    );
    for t in [
        ConfChangeType::AddNode,
        ConfChangeType::RemoveNode,
        ConfChangeType::AddLearnerNode,
    ] {
        let mut cc = conf_change();
        cc.set_change_type(t);
        write(
            format!("conf_change_{t:?}"),
            "ConfChange",
            cc.write_to_bytes().unwrap(),
            conf_change_json(&cc),
        );
    }
    for t in [
        ConfChangeTransition::Auto,
        ConfChangeTransition::Implicit,
        ConfChangeTransition::Explicit,
    ] {
        let cc = conf_change_v2(t);
        write(
            format!("conf_change_v2_{t:?}"),
            "ConfChangeV2",
            cc.write_to_bytes().unwrap(),
            conf_change_v2_json(&cc),
        );
    }
    let leave = ConfChangeV2::default(); // an empty change: leave the joint state
    write(
        "conf_change_v2_leave".into(),
        "ConfChangeV2",
        leave.write_to_bytes().unwrap(),
        conf_change_v2_json(&leave),
    );
    let text = serde_json::to_string_pretty(&json!({
        "generator": "proto/fixtures-gen (raft-proto 0.7.0, rust-protobuf codec)",
        "fixtures": expected,
    }))
    .expect("json");
    fs::write(dir.join("expected.json"), text + "\n").expect("write expected.json");
    println!("wrote {} fixtures to {}", expected.len(), dir.display());
}
