//! [`RawNode`]: the thread-safe-free, IO-free driver an application uses:
//! feed it ticks, messages and proposals, take [`Ready`]s, persist, send,
//! apply, and [`advance`](RawNode::advance).

use bytes::Bytes;
use slog::Logger;
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{
    ConfChange, ConfState, Entry, EntryType, HardState, Message, MessageType, is_local_msg,
};

use crate::config::Config;
use crate::errors::{Error, Result};
use crate::raft::{Raft, SoftState, StateRole};
use crate::ready::{Ready, needs_persistence};
use crate::tracker::ProgressTracker;

/// How the application reports a snapshot it was asked to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received it.
    Finish,
    /// Sending failed; the leader will retry.
    Failure,
}

/// A node's state, for monitoring.
#[derive(Clone, Debug)]
pub struct Status {
    /// The node's id.
    pub id: u64,
    /// Term, vote, commit.
    pub hs: HardState,
    /// Leader and role.
    pub ss: SoftState,
    /// The applied index.
    pub applied: u64,
    /// Every member's progress, on a leader.
    pub progress: Option<ProgressTracker>,
}

/// The application's handle on one Raft node.
///
/// ```
/// use slog::{Discard, Logger, o};
/// use tinyraft::{Config, RawNode, StateRole, storage::MemStorage};
///
/// let store = MemStorage::new_with_conf_state((vec![1], vec![]));
/// let mut node = RawNode::new(&Config::new(1), store.clone(), &Logger::root(Discard, o!())).unwrap();
/// node.campaign().unwrap();
/// node.propose("", "hello").unwrap();
/// let mut applied = vec![];
/// while node.has_ready() {
///     let rd = node.ready();
///     let mut core = store.wl();
///     core.append(&rd.entries).unwrap();
///     if let Some(hs) = &rd.hs {
///         core.set_hardstate(*hs);
///     }
///     drop(core);
///     applied.extend(rd.committed_entries.iter().map(|e| e.data.clone()));
///     node.advance(rd);
/// }
/// assert_eq!(node.raft.state, StateRole::Leader);
/// assert_eq!(&applied.last().unwrap()[..], b"hello");
/// ```
pub struct RawNode<S: Storage> {
    /// The node itself.
    pub raft: Raft<S>,
    prev_ss: SoftState,
    prev_hs: HardState,
    /// What the last `ready()` handed out, so `advance` works even if the
    /// application moved fields out of the `Ready` (`std::mem::take`).
    handed_out: Option<ReadyRecord>,
}

/// The parts of a handed-out `Ready` that `advance` acts on.
#[derive(Clone, Debug, Default)]
struct ReadyRecord {
    ss: Option<SoftState>,
    hs: Option<HardState>,
    last_entry: Option<(u64, u64)>,
    snapshot_index: Option<u64>,
    last_committed: Option<u64>,
}

impl ReadyRecord {
    fn of(rd: &Ready) -> ReadyRecord {
        ReadyRecord {
            ss: rd.ss.clone(),
            hs: rd.hs,
            last_entry: rd.entries.last().map(|e| (e.index, e.term)),
            snapshot_index: rd
                .snapshot
                .as_ref()
                .map(|s| s.metadata.as_ref().map_or(0, |m| m.index)),
            last_committed: rd.committed_entries.last().map(|e| e.index),
        }
    }
}

impl<S: Storage> RawNode<S> {
    /// Builds a node over `store` (see [`Raft::new`]).
    pub fn new(c: &Config, store: S, logger: &Logger) -> Result<RawNode<S>> {
        let raft = Raft::new(c, store, logger)?;
        let prev_ss = raft.soft_state();
        let prev_hs = raft.hard_state();
        Ok(RawNode {
            raft,
            prev_ss,
            prev_hs,
            handed_out: None,
        })
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// Starts an election now (subject to the same rules as a timeout).
    pub fn campaign(&mut self) -> Result<()> {
        let m = Message {
            msg_type: MessageType::MsgHup as i32,
            from: self.raft.id,
            ..Default::default()
        };
        self.raft.step(m)
    }

    /// Proposes `data` (with `context` carried alongside) for the log. A
    /// follower forwards it to its leader (`Ok`); with no leader, or on a
    /// candidate, or during a leader transfer: `Err(ProposalDropped)`.
    pub fn propose(&mut self, context: impl Into<Bytes>, data: impl Into<Bytes>) -> Result<()> {
        let e = Entry {
            data: data.into(),
            context: context.into(),
            ..Default::default()
        };
        self.step_propose(e)
    }

    /// Proposes a membership change (see the `membership` rules on
    /// [`Raft::apply_conf_change`]); refusals are `Err(ConfChangeRefused)`.
    pub fn propose_conf_change(&mut self, context: impl Into<Bytes>, cc: ConfChange) -> Result<()> {
        use prost::Message as _;
        let e = Entry {
            entry_type: EntryType::EntryConfChange as i32,
            data: cc.encode_to_vec().into(),
            context: context.into(),
            ..Default::default()
        };
        self.step_propose(e)
    }

    fn step_propose(&mut self, e: Entry) -> Result<()> {
        let m = Message {
            msg_type: MessageType::MsgPropose as i32,
            from: self.raft.id,
            entries: vec![e],
            ..Default::default()
        };
        self.raft.step(m)
    }

    /// Applies a committed conf change; returns the new membership.
    pub fn apply_conf_change(&mut self, cc: &ConfChange) -> Result<ConfState> {
        self.raft.apply_conf_change(cc)
    }

    /// Steps a message from the network. Local types are refused with
    /// `StepLocalMsg` (use the methods), responses from non-members with
    /// `StepPeerNotFound`.
    pub fn step(&mut self, m: Message) -> Result<()> {
        let t = MessageType::try_from(m.msg_type)
            .map_err(|_| Error::InvalidMessage(format!("unknown message type {}", m.msg_type)))?;
        if is_local_msg(t) {
            return Err(Error::StepLocalMsg);
        }
        self.raft.step(m)
    }

    /// Asks the leader to hand leadership to `transferee`.
    pub fn transfer_leader(&mut self, transferee: u64) {
        let m = Message {
            msg_type: MessageType::MsgTransferLeader as i32,
            from: transferee,
            to: self.raft.id,
            ..Default::default()
        };
        let _ = self.raft.step(m);
    }

    /// Requests a linearizable read; the answer comes as a `ReadState` with
    /// this context in a later `Ready` (dropped, and logged, with no leader).
    pub fn read_index(&mut self, ctx: impl Into<Bytes>) {
        let _ = self.raft.read_index_local(ctx.into());
    }

    /// The transport failed to reach `id`.
    pub fn report_unreachable(&mut self, id: u64) {
        let m = Message {
            msg_type: MessageType::MsgUnreachable as i32,
            from: id,
            ..Default::default()
        };
        let _ = self.raft.step(m);
    }

    /// Reports how sending a snapshot to `id` ended.
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) {
        let m = Message {
            msg_type: MessageType::MsgSnapStatus as i32,
            from: id,
            reject: status == SnapshotStatus::Failure,
            ..Default::default()
        };
        let _ = self.raft.step(m);
    }

    /// Whether [`ready`](Self::ready) has anything to hand out.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        r.soft_state() != self.prev_ss
            || r.hard_state() != self.prev_hs
            || !r.msgs.is_empty()
            || !r.raft_log.unstable_entries().is_empty()
            || r.raft_log.unstable_snapshot().is_some()
            || r.raft_log.has_next_entries()
            || !r.read_states.is_empty()
    }

    /// Takes the next batch of work. Call [`advance`](Self::advance) with it
    /// once handled.
    pub fn ready(&mut self) -> Ready {
        let r = &mut self.raft;
        let mut rd = Ready::default();
        let ss = r.soft_state();
        if ss != self.prev_ss {
            rd.ss = Some(ss);
        }
        let hs = r.hard_state();
        if hs != self.prev_hs {
            rd.must_sync = hs.term != self.prev_hs.term || hs.vote != self.prev_hs.vote;
            rd.hs = Some(hs);
        }
        rd.snapshot = r.raft_log.unstable_snapshot().cloned();
        rd.entries = r.raft_log.unstable_entries().to_vec();
        if !rd.entries.is_empty() {
            rd.must_sync = true;
        }
        // With a snapshot pending, entries below it cannot be applied yet.
        if rd.snapshot.is_none() {
            rd.committed_entries = r.raft_log.next_entries().unwrap_or_default();
        }
        for m in std::mem::take(&mut r.msgs) {
            if needs_persistence(m.msg_type()) {
                rd.persisted_messages.push(m);
            } else {
                rd.messages.push(m);
            }
        }
        rd.read_states = std::mem::take(&mut r.read_states);
        self.handed_out = Some(ReadyRecord::of(&rd));
        rd
    }

    /// The application handled `rd`: its snapshot and entries are durable,
    /// its hard state saved, its committed entries applied. What is
    /// acknowledged is what [`ready`](Self::ready) handed out, so fields the
    /// application moved out of `rd` still count.
    pub fn advance(&mut self, rd: Ready) {
        let rec = match self.handed_out.take() {
            Some(rec) => rec,
            None => ReadyRecord::of(&rd),
        };
        drop(rd);
        if let Some(ss) = rec.ss {
            self.prev_ss = ss;
        }
        if let Some(hs) = rec.hs {
            self.prev_hs = hs;
        }
        if let Some(index) = rec.snapshot_index {
            self.raft.on_persist_snap(index);
            self.raft.commit_apply(index);
        }
        if let Some((index, term)) = rec.last_entry {
            self.raft.on_persist_entries(index, term);
        }
        if let Some(index) = rec.last_committed {
            self.raft.commit_apply(index);
        }
    }

    /// The storage this node reads its log from.
    pub fn store(&self) -> &S {
        self.raft.raft_log.store()
    }

    /// The storage, mutably (for engines whose `Storage` is written through
    /// the same handle).
    pub fn mut_store(&mut self) -> &mut S {
        self.raft.raft_log.store_mut()
    }

    /// A leader broadcasts a heartbeat now (no-op on other roles): engines
    /// use it to confirm leadership or nudge followers without waiting for
    /// the heartbeat tick.
    pub fn ping(&mut self) {
        if self.raft.state == StateRole::Leader {
            self.raft.bcast_heartbeat();
        }
    }

    /// The node's current state.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        Status {
            id: r.id,
            hs: r.hard_state(),
            ss: r.soft_state(),
            applied: r.raft_log.applied,
            progress: (r.state == StateRole::Leader).then(|| r.prs().clone()),
        }
    }
}

impl<S: Storage> RawNode<S> {
    /// [`RawNode::new`] with a ready-made logger, as raft-rs's
    /// `default-logger` feature gives: human-readable `slog-term` lines on
    /// stderr at INFO and above (no per-message or per-commit DEBUG lines,
    /// in debug builds too). Pass your own `slog::Logger` to
    /// [`RawNode::new`] for anything else. (Cargo feature `default-logger`,
    /// on by default.)
    #[cfg(feature = "default-logger")]
    pub fn with_default_logger(c: &Config, store: S) -> Result<RawNode<S>> {
        RawNode::new(c, store, &crate::default_logger::stderr_logger())
    }
}
