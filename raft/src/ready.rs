//! [`Ready`]: everything the application must do after driving a node.

use tinyraft_proto::eraftpb::{Entry, HardState, Message, MessageType, Snapshot};

use crate::raft::SoftState;
use crate::read_only::ReadState;

/// One batch of work for the application, from [`RawNode::ready`](crate::RawNode::ready).
///
/// Handle it in this order: apply `snapshot` (if any) to storage; append
/// `entries` and save `hs` (fsync if `must_sync`); send `messages` (they may
/// go out before the disk write) and then `persisted_messages`; apply
/// `committed_entries`; serve `read_states`; then call
/// [`RawNode::advance`](crate::RawNode::advance).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ready {
    /// Some when the leader or the role changed.
    pub ss: Option<SoftState>,
    /// Some when term, vote or commit changed: persist it.
    pub hs: Option<HardState>,
    /// Entries to persist before sending `persisted_messages`.
    pub entries: Vec<Entry>,
    /// A snapshot to persist and apply before anything else in this Ready.
    pub snapshot: Option<Snapshot>,
    /// Entries to apply, in order.
    pub committed_entries: Vec<Entry>,
    /// Messages that may be sent at once (a leader's appends and heartbeats).
    pub messages: Vec<Message>,
    /// Messages to send only once `entries`, `hs` and `snapshot` are durable
    /// (votes, vote requests, append and heartbeat answers).
    pub persisted_messages: Vec<Message>,
    /// Confirmed reads.
    pub read_states: Vec<ReadState>,
    /// Whether `entries`/`hs` must be fsynced before `persisted_messages` go out.
    pub must_sync: bool,
}

/// Whether `m` may only be sent once this node's durable state includes
/// what it promises (a vote, a term, appended entries).
pub(crate) fn needs_persistence(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgRequestVote
            | MessageType::MsgRequestVoteResponse
            | MessageType::MsgRequestPreVote
            | MessageType::MsgRequestPreVoteResponse
            | MessageType::MsgAppendResponse
            | MessageType::MsgHeartbeatResponse
    )
}
