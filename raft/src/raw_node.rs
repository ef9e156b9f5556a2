//! [`RawNode`]: the thread-safe-free, IO-free driver an application uses:
//! feed it ticks, messages and proposals, take [`Ready`]s, persist, send,
//! apply, and [`advance`](RawNode::advance).

use std::collections::VecDeque;

use bytes::Bytes;
use slog::{Logger, debug, warn};
use tinyraft_log::storage::Storage;
use tinyraft_proto::ConfChangeI;
use tinyraft_proto::eraftpb::{
    ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot, is_local_msg,
};

use crate::NO_LIMIT;
use crate::config::Config;
use crate::errors::{Error, Result};
use crate::raft::{Raft, SoftState, StateRole};
use crate::ready::{LightReady, Ready, needs_persistence};
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
    /// Soft and hard state as last handed out.
    prev_ss: SoftState,
    prev_hs: HardState,
    max_committed_size_per_ready: Option<u64>,
    /// The number of the last Ready handed out.
    last_number: u64,
    /// Readies handed out whose writes are not yet reported durable, oldest
    /// first.
    records: VecDeque<ReadyRecord>,
    /// The last entry handed out for persistence (index, term). Entries are
    /// handed out once; if the log replaces this one, the cursor falls back.
    entries_cursor: Option<(u64, u64)>,
    /// The pending snapshot handed out (index, term), so it is handed out once.
    snapshot_cursor: Option<(u64, u64)>,
    /// The last committed index handed out for applying: each committed
    /// entry is handed out once, however many Readies are outstanding.
    committed_cursor: u64,
    /// Proposals this leader appended but has not broadcast yet: a batch of
    /// proposals is sent in one append per follower, before anything else
    /// this node does (see [`flush_proposals`](Self::flush_proposals)).
    unsent_proposals: bool,
}

/// What a handed-out `Ready` asked to persist, so it can be acknowledged by
/// number even if the application moved fields out of the `Ready`.
#[derive(Clone, Debug, Default)]
struct ReadyRecord {
    number: u64,
    last_entry: Option<(u64, u64)>,
    snapshot_index: Option<u64>,
    last_committed: Option<u64>,
}

impl<S: Storage> RawNode<S> {
    /// Builds a node over `store` (see [`Raft::new`]).
    pub fn new(c: &Config, store: S, logger: &Logger) -> Result<RawNode<S>> {
        let raft = Raft::new(c, store, logger)?;
        let prev_ss = raft.soft_state();
        let prev_hs = raft.hard_state();
        let committed_cursor = raft.raft_log.applied;
        Ok(RawNode {
            raft,
            prev_ss,
            prev_hs,
            max_committed_size_per_ready: (c.max_committed_size_per_ready != NO_LIMIT)
                .then_some(c.max_committed_size_per_ready),
            last_number: 0,
            records: VecDeque::new(),
            entries_cursor: None,
            snapshot_cursor: None,
            committed_cursor,
            unsent_proposals: false,
        })
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.flush_proposals();
        self.raft.tick();
    }

    /// Starts an election now (subject to the same rules as a timeout).
    pub fn campaign(&mut self) -> Result<()> {
        self.flush_proposals();
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

    /// Proposes a membership change, a V1 [`ConfChange`](crate::eraftpb::ConfChange) or a
    /// [`ConfChangeV2`](crate::eraftpb::ConfChangeV2) (see the rules and when to use which on
    /// [`Raft::apply_conf_change`]); refusals are `Err(ConfChangeRefused)`
    /// with nothing appended: a change while another is not applied yet,
    /// before the leader committed an entry of its term, entering a joint
    /// state while joint, leaving while not joint, or a configuration
    /// without voters.
    ///
    /// ```
    /// use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2};
    /// use tinyraft::storage::MemStorage;
    /// use tinyraft::{Config, Error, RawNode};
    ///
    /// let store = MemStorage::new_with_conf_state((vec![1], vec![]));
    /// let mut node = RawNode::with_default_logger(&Config::new(1), store.clone()).unwrap();
    /// node.campaign().unwrap();
    /// // Persist and advance until the leader's empty entry is applied.
    /// while node.has_ready() {
    ///     let rd = node.ready();
    ///     store.wl().append(&rd.entries).unwrap();
    ///     if let Some(hs) = &rd.hs {
    ///         store.wl().set_hardstate(*hs);
    ///     }
    ///     node.advance(rd);
    /// }
    /// // Add 2 and 3 at once: one V2 change enters a joint configuration,
    /// // which the leader leaves by itself once it is applied.
    /// let add = |id| ConfChangeSingle { change_type: ConfChangeType::AddNode as i32, node_id: id };
    /// let cc = ConfChangeV2 { changes: vec![add(2), add(3)], ..Default::default() };
    /// node.propose_conf_change("", cc.clone()).unwrap();
    /// // A second change while the first is pending is refused.
    /// assert!(matches!(node.propose_conf_change("", cc), Err(Error::ConfChangeRefused(_))));
    /// ```
    pub fn propose_conf_change(
        &mut self,
        context: impl Into<Bytes>,
        cc: impl ConfChangeI,
    ) -> Result<()> {
        use prost::Message as _;
        let (entry_type, data) = match cc.as_v1() {
            Some(v1) => (EntryType::EntryConfChange, v1.encode_to_vec()),
            None => (EntryType::EntryConfChangeV2, cc.as_v2().encode_to_vec()),
        };
        let e = Entry {
            entry_type: entry_type as i32,
            data: data.into(),
            context: context.into(),
            ..Default::default()
        };
        self.step_propose(e)
    }

    fn step_propose(&mut self, e: Entry) -> Result<()> {
        if self.raft.state == StateRole::Leader {
            // What stepping a one-entry MsgPropose does on a leader, without
            // the message and its vector (an entry of our own making needs
            // no validation: its type is a known one), and with the
            // broadcast deferred so a batch of proposals goes out as one
            // append per follower.
            self.raft.propose_entry_as_leader(e)?;
            self.unsent_proposals = true;
            return Ok(());
        }
        self.flush_proposals();
        let m = Message {
            msg_type: MessageType::MsgPropose as i32,
            from: self.raft.id,
            entries: vec![e],
            ..Default::default()
        };
        self.raft.step(m)
    }

    /// Applies a committed conf change; returns the new membership.
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> Result<ConfState> {
        self.flush_proposals();
        self.raft.apply_conf_change(cc)
    }

    /// Steps a message from the network. Local types are refused with
    /// `StepLocalMsg` (use the methods), responses from non-members with
    /// `StepPeerNotFound`.
    pub fn step(&mut self, m: Message) -> Result<()> {
        self.flush_proposals();
        let t = MessageType::try_from(m.msg_type)
            .map_err(|_| Error::InvalidMessage(format!("unknown message type {}", m.msg_type)))?;
        if is_local_msg(t) {
            return Err(Error::StepLocalMsg);
        }
        self.raft.step(m)
    }

    /// Asks the leader to hand leadership to `transferee`.
    pub fn transfer_leader(&mut self, transferee: u64) {
        self.flush_proposals();
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
        self.flush_proposals();
        let _ = self.raft.read_index_local(ctx.into());
    }

    /// The transport failed to reach `id`.
    pub fn report_unreachable(&mut self, id: u64) {
        self.flush_proposals();
        let m = Message {
            msg_type: MessageType::MsgUnreachable as i32,
            from: id,
            ..Default::default()
        };
        let _ = self.raft.step(m);
    }

    /// Reports how sending a snapshot to `id` ended.
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) {
        self.flush_proposals();
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
        self.unsent_proposals
            || r.soft_state() != self.prev_ss
            || r.hard_state() != self.prev_hs
            || !r.msgs.is_empty()
            || !self.new_entries().is_empty()
            || self.new_snapshot().is_some()
            || self.next_committed_range().is_some()
            || !r.read_states.is_empty()
    }

    /// Unstable entries not handed out yet.
    fn new_entries(&self) -> &[Entry] {
        let log = &self.raft.raft_log;
        let ents = log.unstable_entries();
        if ents.is_empty() {
            // Nothing unstable: no need to look the cursor up in the log.
            return ents;
        }
        let after = match self.entries_cursor {
            // Still this log's entry: everything up to it was handed out.
            Some((i, t)) if log.match_term(i, t) => i,
            // Replaced (or never set): hand out every unstable entry again.
            _ => 0,
        };
        match ents.first() {
            Some(f) if after >= f.index => {
                let skip = (after - f.index + 1).min(ents.len() as u64) as usize;
                &ents[skip..]
            }
            _ => ents,
        }
    }

    /// The pending snapshot, if not handed out yet.
    fn new_snapshot(&self) -> Option<&Snapshot> {
        let s = self.raft.raft_log.unstable_snapshot()?;
        let id = s.metadata.as_ref().map(|m| (m.index, m.term));
        (id != self.snapshot_cursor).then_some(s)
    }

    /// `[lo, hi]` of committed, locally durable entries not handed out yet.
    fn next_committed_range(&self) -> Option<(u64, u64)> {
        let log = &self.raft.raft_log;
        let done = log.applied.max(self.committed_cursor);
        // Cheap bounds first: the log's first and last index may ask the
        // storage, and most calls (`has_ready` on an idle node) end here.
        let hi = log.committed.min(log.stabled);
        if hi <= done {
            return None;
        }
        let lo = done.saturating_add(1).max(log.first_index());
        let hi = hi.min(log.last_index());
        (hi >= lo).then_some((lo, hi))
    }

    /// Hands out the committed entries not handed out yet (at most
    /// `max_committed_size_per_ready` bytes, at least one entry).
    fn take_committed(&mut self) -> Vec<Entry> {
        let Some((lo, hi)) = self.next_committed_range() else {
            return Vec::new();
        };
        match self
            .raft
            .raft_log
            .slice(lo, hi.saturating_add(1), self.max_committed_size_per_ready)
        {
            Ok(ents) => {
                if let Some(e) = ents.last() {
                    self.committed_cursor = e.index;
                }
                ents
            }
            Err(e) => {
                warn!(self.raft.logger, "failed to read committed entries";
                    "low" => lo, "high" => hi, "err" => %e);
                Vec::new()
            }
        }
    }

    /// Sends the proposals appended since the last broadcast (one append
    /// per follower, or an extension of one still queued). Every method
    /// other than a leader's `propose` calls it first, so the node's
    /// messages keep the order of the calls that caused them; a proposal is
    /// never lost to it: a node that stopped leading meanwhile has nothing
    /// to send, and a leader's appends carry everything after each
    /// follower's next index anyway.
    fn flush_proposals(&mut self) {
        if std::mem::take(&mut self.unsent_proposals) && self.raft.state == StateRole::Leader {
            self.raft.bcast_append();
        }
    }

    /// Takes the next batch of work. Each piece of work is handed out once:
    /// several Readies may be outstanding (see
    /// [`on_persist_ready`](Self::on_persist_ready)); call
    /// [`advance`](Self::advance) (or the `advance_append*` family) with it
    /// once handled.
    pub fn ready(&mut self) -> Ready {
        self.flush_proposals();
        let mut rd = Ready::default();
        let ss = self.raft.soft_state();
        if ss != self.prev_ss {
            rd.ss = Some(ss.clone());
            self.prev_ss = ss;
        }
        let hs = self.raft.hard_state();
        if hs != self.prev_hs {
            rd.must_sync = hs.term != self.prev_hs.term || hs.vote != self.prev_hs.vote;
            rd.hs = Some(hs);
            self.prev_hs = hs;
        }
        if let Some(snap) = self.new_snapshot().cloned() {
            self.snapshot_cursor = snap.metadata.as_ref().map(|m| (m.index, m.term));
            rd.snapshot = Some(snap);
        }
        rd.entries = self.new_entries().to_vec();
        if let Some(e) = rd.entries.last() {
            self.entries_cursor = Some((e.index, e.term));
        }
        // A snapshot or entries are acknowledged by `persisted_messages`
        // (append answers) and needed for safety: they must be durable.
        if rd.snapshot.is_some() || !rd.entries.is_empty() {
            rd.must_sync = true;
        }
        // With a snapshot pending, entries below it cannot be applied yet.
        if rd.snapshot.is_none() {
            rd.committed_entries = self.take_committed();
        }
        let msgs = std::mem::take(&mut self.raft.msgs);
        let persisted = msgs
            .iter()
            .filter(|m| needs_persistence(m.msg_type()))
            .count();
        if persisted == 0 {
            // The usual cases (a leader's appends and heartbeats; a
            // follower's answers, next): the outbox moves over whole.
            rd.messages = msgs;
        } else if persisted == msgs.len() {
            rd.persisted_messages = msgs;
        } else {
            rd.persisted_messages.reserve_exact(persisted);
            rd.messages.reserve_exact(msgs.len() - persisted);
            for m in msgs {
                if needs_persistence(m.msg_type()) {
                    rd.persisted_messages.push(m);
                } else {
                    rd.messages.push(m);
                }
            }
        }
        rd.read_states = std::mem::take(&mut self.raft.read_states);
        self.last_number += 1;
        rd.number = self.last_number;
        self.records.push_back(ReadyRecord {
            number: rd.number,
            last_entry: rd.entries.last().map(|e| (e.index, e.term)),
            snapshot_index: rd
                .snapshot
                .as_ref()
                .map(|s| s.metadata.as_ref().map_or(0, |m| m.index)),
            last_committed: rd.committed_entries.last().map(|e| e.index),
        });
        rd
    }

    /// The application handled `rd` completely: its snapshot and entries are
    /// durable, its hard state saved, its committed entries applied, its
    /// messages sent. Follow-up work (a commit this made possible, say)
    /// comes in the next Ready. Earlier outstanding Readies count as durable
    /// too. What is acknowledged is what [`ready`](Self::ready) handed out,
    /// so fields the application moved out of `rd` still count.
    pub fn advance(&mut self, rd: Ready) {
        self.flush_proposals();
        let number = rd.number;
        // What it handed out, even if `on_persist_ready` already retired it.
        let applied = self
            .records
            .iter()
            .take_while(|r| r.number <= number)
            .filter_map(|r| r.last_committed)
            .chain(rd.committed_entries.last().map(|e| e.index))
            .max();
        drop(rd);
        self.on_persist_ready(number);
        if let Some(index) = applied {
            self.raft.commit_apply(index);
        }
    }

    /// `rd`'s writes are durable now (written synchronously); applying is
    /// left to [`advance_apply`](Self::advance_apply) or
    /// [`advance_apply_to`](Self::advance_apply_to). Returns the follow-up
    /// at once: a moved commit index, entries now safe to apply, and
    /// messages to send.
    pub fn advance_append(&mut self, rd: Ready) -> LightReady {
        self.flush_proposals();
        let number = rd.number;
        drop(rd);
        self.on_persist_ready(number);
        self.light_ready()
    }

    /// `rd`'s writes are under way in the background; report them with
    /// [`on_persist_ready`](Self::on_persist_ready) once durable. Meanwhile
    /// [`ready`](Self::ready) may be called again: it hands out only what is
    /// new. (Everything needed to acknowledge `rd` later was recorded when it
    /// was handed out, so this only consumes it.)
    pub fn advance_append_async(&mut self, rd: Ready) {
        self.flush_proposals();
        debug!(self.raft.logger, "ready persisting in the background"; "number" => rd.number);
    }

    /// Every Ready numbered up to `number` is durable: the log counts its
    /// entries as stable (a leader may now count itself toward a commit),
    /// and a snapshot it carried is installed (applied moves to its index).
    /// Unknown or repeated numbers are ignored.
    pub fn on_persist_ready(&mut self, number: u64) {
        self.flush_proposals();
        while self.records.front().is_some_and(|r| r.number <= number) {
            let Some(rec) = self.records.pop_front() else {
                break;
            };
            if let Some(index) = rec.snapshot_index {
                self.raft.on_persist_snap(index);
                self.raft.commit_apply(index);
                self.committed_cursor = self.committed_cursor.max(index);
            }
            if let Some((index, term)) = rec.last_entry {
                self.raft.on_persist_entries(index, term);
            }
        }
    }

    /// Everything handed out as committed has been applied.
    pub fn advance_apply(&mut self) {
        self.flush_proposals();
        let index = self.committed_cursor;
        self.raft.commit_apply(index);
    }

    /// Entries up to `applied` have been applied (never beyond the commit
    /// index; never backwards).
    pub fn advance_apply_to(&mut self, applied: u64) {
        self.flush_proposals();
        self.raft.commit_apply(applied);
    }

    /// The follow-up of a durable write: commit index, entries to apply, and
    /// the messages that need no further persistence.
    fn light_ready(&mut self) -> LightReady {
        let mut light = LightReady::default();
        let commit = self.raft.raft_log.committed;
        if commit != self.prev_hs.commit {
            light.commit_index = Some(commit);
            self.prev_hs.commit = commit;
        }
        light.committed_entries = self.take_committed();
        // Messages that depend on durable state not handed out yet stay for
        // the next Ready, whose writes they wait for.
        let (later, now): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.raft.msgs)
            .into_iter()
            .partition(|m| needs_persistence(m.msg_type()));
        self.raft.msgs = later;
        light.messages = now;
        light
    }

    /// The storage this node reads its log from.
    pub fn store(&self) -> &S {
        self.raft.raft_log.store()
    }

    /// The storage, mutably (for engines whose `Storage` is written through
    /// the same handle).
    pub fn mut_store(&mut self) -> &mut S {
        self.flush_proposals();
        self.raft.raft_log.store_mut()
    }

    /// A leader broadcasts a heartbeat now (no-op on other roles): engines
    /// use it to confirm leadership or nudge followers without waiting for
    /// the heartbeat tick.
    pub fn ping(&mut self) {
        self.flush_proposals();
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
