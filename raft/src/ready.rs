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
///
/// What each field allows:
///
/// | field | rule |
/// |---|---|
/// | `messages` | may be sent at once, before or while this Ready is written |
/// | `snapshot`, `entries`, `hs` | written in that order, and in Ready order across Readies |
/// | `persisted_messages` | sent only once this Ready's writes are durable |
/// | `committed_entries` | applied in order; they are already durable here |
/// | `read_states` | answered once the state machine has applied `index` |
///
/// Each Ready has a [`number`](Ready::number) (1, 2, 3, … per node); an
/// engine that persists in the background keeps several in flight and
/// reports them durable with
/// [`RawNode::on_persist_ready`](crate::RawNode::on_persist_ready).
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
    /// Whether the writes must be fsynced before `persisted_messages` go
    /// out: true when this Ready carries a snapshot or entries, or its hard
    /// state changed term or vote. A Ready without it may be written without
    /// a sync (only its commit index changed, which a restart can relearn).
    pub must_sync: bool,
    pub(crate) number: u64,
}

impl Ready {
    /// This Ready's sequence number: 1 for a node's first, then 2, 3, …
    /// Pass it to [`RawNode::on_persist_ready`](crate::RawNode::on_persist_ready)
    /// once its writes (and those of every earlier Ready) are durable.
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// What follows once a Ready's writes are durable, from
/// [`RawNode::advance_append`](crate::RawNode::advance_append): a commit
/// index to record, entries now safe to apply, and messages to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LightReady {
    /// The new commit index, if it moved since the last Ready or LightReady
    /// (persist it with the hard state when convenient; it is never needed
    /// for safety).
    pub commit_index: Option<u64>,
    /// Entries to apply, in order, after those handed out before.
    pub committed_entries: Vec<Entry>,
    /// Messages that may be sent at once.
    pub messages: Vec<Message>,
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
