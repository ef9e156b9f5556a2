//! Wire-format tests: every message type survives an encode/decode round
//! trip with every field set, and hostile bytes decode to `Err`, never panic.

use proptest::prelude::*;
use prost::Message as _;
use tinyraft_proto::eraftpb::{
    ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType,
    Snapshot, SnapshotMetadata, is_local_msg, is_response_msg,
};

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
    MessageType::MsgTransferLeader,
    MessageType::MsgTimeoutNow,
    MessageType::MsgRequestPreVote,
    MessageType::MsgRequestPreVoteResponse,
    MessageType::MsgReadIndex,
    MessageType::MsgReadIndexResp,
    MessageType::MsgUnreachable,
    MessageType::MsgSnapStatus,
    MessageType::MsgCheckQuorum,
];

fn full_message(t: MessageType) -> Message {
    let entry = |i: u64, kind: EntryType| {
        let mut e = Entry {
            term: 7,
            index: i,
            data: format!("payload {i}").into_bytes().into(),
            context: b"ctx".to_vec().into(),
            ..Default::default()
        };
        e.set_entry_type(kind);
        e
    };
    let cs: ConfState = (vec![1, 2, 3], vec![4, 5]).into();
    let mut m = Message {
        to: 2,
        from: 1,
        term: u64::MAX,
        log_term: 6,
        index: 41,
        entries: vec![
            entry(42, EntryType::EntryNormal),
            entry(43, EntryType::EntryConfChange),
        ],
        commit: 40,
        snapshot: Some(Snapshot {
            data: vec![0u8, 1, 2, 255].into(),
            metadata: Some(SnapshotMetadata {
                conf_state: Some(cs),
                index: 30,
                term: 5,
            }),
        }),
        reject: true,
        reject_hint: 17,
        context: b"read-ctx".to_vec().into(),
        ..Default::default()
    };
    m.set_msg_type(t);
    m
}

/// Every message type, every field set: decode(encode(m)) == m.
#[test]
fn every_message_type_round_trips_with_every_field_set() {
    for t in ALL_TYPES {
        let m = full_message(t);
        let wire = m.encode_to_vec();
        let back = Message::decode(&wire[..]).expect("decode");
        assert_eq!(back, m, "{t:?}");
        assert_eq!(back.msg_type(), t);
    }
}

/// The other top-level messages round trip too.
#[test]
fn hard_state_conf_change_and_snapshot_round_trip() {
    let hs = HardState {
        term: 3,
        vote: 2,
        commit: u64::MAX,
    };
    assert_eq!(HardState::decode(&hs.encode_to_vec()[..]).unwrap(), hs);

    for kind in [
        ConfChangeType::AddNode,
        ConfChangeType::RemoveNode,
        ConfChangeType::AddLearnerNode,
    ] {
        let mut cc = ConfChange {
            node_id: 9,
            context: b"why".to_vec().into(),
            ..Default::default()
        };
        cc.set_change_type(kind);
        let back = ConfChange::decode(&cc.encode_to_vec()[..]).unwrap();
        assert_eq!(back, cc);
        assert_eq!(back.change_type(), kind);
    }

    let snap = full_message(MessageType::MsgSnapshot).snapshot.unwrap();
    assert_eq!(Snapshot::decode(&snap.encode_to_vec()[..]).unwrap(), snap);
}

/// Every proper prefix of a full message either fails to decode or decodes
/// to something else: truncation is detected or harmless, never a panic.
#[test]
fn truncated_messages_never_panic() {
    let wire = full_message(MessageType::MsgAppend).encode_to_vec();
    let mut errors = 0;
    for cut in 0..wire.len() {
        match Message::decode(&wire[..cut]) {
            Ok(m) => assert_ne!(m, full_message(MessageType::MsgAppend)),
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0, "some truncations must be reported as errors");
}

/// An unknown enum number decodes (proto3 open enums) and the typed getter
/// falls back to the default instead of panicking.
#[test]
fn unknown_message_type_number_is_not_a_panic() {
    let m = Message {
        msg_type: 10,
        ..Default::default()
    };
    let back = Message::decode(&m.encode_to_vec()[..]).unwrap();
    assert_eq!(back.msg_type, 10);
    let _ = back.msg_type(); // the default variant, no panic
}

#[test]
fn conf_state_from_voters_and_learners() {
    let cs = ConfState::from((vec![1, 2], vec![3]));
    assert_eq!(cs.voters, vec![1, 2]);
    assert_eq!(cs.learners, vec![3]);
}

/// Local messages never travel; responses are what a non-member may not send.
#[test]
fn message_classification() {
    let local: Vec<_> = ALL_TYPES
        .iter()
        .copied()
        .filter(|t| is_local_msg(*t))
        .collect();
    assert_eq!(
        local,
        vec![
            MessageType::MsgHup,
            MessageType::MsgBeat,
            MessageType::MsgUnreachable,
            MessageType::MsgSnapStatus,
            MessageType::MsgCheckQuorum
        ]
    );
    assert!(is_response_msg(MessageType::MsgAppendResponse));
    assert!(is_response_msg(MessageType::MsgHeartbeatResponse));
    assert!(is_response_msg(MessageType::MsgRequestVoteResponse));
    assert!(is_response_msg(MessageType::MsgRequestPreVoteResponse));
    assert!(is_response_msg(MessageType::MsgReadIndexResp));
    assert!(!is_response_msg(MessageType::MsgAppend));
    assert!(!is_response_msg(MessageType::MsgHeartbeat));
}

#[test]
fn display_is_one_line() {
    let s = full_message(MessageType::MsgAppend).to_string();
    assert!(s.starts_with("MsgAppend 1->2 term="), "{s}");
    assert!(!s.contains('\n'));
    assert!(s.contains("entries=2"));
}

proptest! {
    /// Random bytes: decoding returns Ok or Err, never panics, and whatever
    /// decodes re-encodes to something that decodes to the same value.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Message::decode(&bytes[..]) {
            let again = Message::decode(&m.encode_to_vec()[..]).expect("re-decode");
            prop_assert_eq!(again, m);
        }
        let _ = Entry::decode(&bytes[..]);
        let _ = Snapshot::decode(&bytes[..]);
        let _ = ConfChange::decode(&bytes[..]);
        let _ = HardState::decode(&bytes[..]);
    }

    /// Flipping bytes of a valid message never panics the decoder.
    #[test]
    fn corrupted_messages_never_panic(pos in 0usize..200, val in any::<u8>()) {
        let mut wire = full_message(MessageType::MsgSnapshot).encode_to_vec();
        let p = pos % wire.len();
        wire[p] = val;
        let _ = Message::decode(&wire[..]);
    }
}
