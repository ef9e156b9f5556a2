//! Log replication and commitment (Raft §5.3, §5.4.2): the leader's
//! appends and heartbeats with per-follower flow control, the follower's
//! consistency check, and the commit rule.

use bytes::Bytes;
use slog::{debug, info, warn};
use tinyraft_log::StorageError;
use tinyraft_log::storage::{Storage, entry_size};
use tinyraft_proto::eraftpb::{Entry, EntryType, Message, MessageType};

use crate::errors::{Error, Result};
use crate::raft::Raft;
use crate::tracker::{ProgressState, QueuedAppend};

impl<S: Storage> Raft<S> {
    /// Sends `to` an append with the entries it needs (or a snapshot if the
    /// log no longer has them), unless its flow control says wait.
    pub fn send_append(&mut self, to: u64) {
        self.maybe_send_append(to, true);
    }

    /// Like [`send_append`](Self::send_append); with `allow_empty` false, an
    /// append is sent only if it carries entries. Returns whether a message
    /// was queued.
    pub(crate) fn maybe_send_append(&mut self, to: u64, allow_empty: bool) -> bool {
        let Some(pr) = self.prs.get(to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next_idx.max(1);
        let prev = next - 1;
        let last = match self.batch_into_queued_append(to, prev) {
            Some(last) => Some(last),
            None => match self.queue_append(to, prev, allow_empty) {
                Some(last) => last,
                None => return false,
            },
        };
        let Some(pr) = self.prs.get_mut(to) else {
            return true;
        };
        match pr.state {
            ProgressState::Replicate => {
                if let Some(last) = last {
                    pr.optimistic_update(last);
                    pr.ins.add(last);
                }
            }
            ProgressState::Probe => pr.pause(),
            ProgressState::Snapshot => {}
        }
        true
    }

    /// Reads the entries after `prev` and queues them for `to` (merged into
    /// a queued append when possible), or a snapshot if the log no longer
    /// has them. `None` if nothing was queued; else the last index sent
    /// (`Some(None)` for an empty append or a snapshot).
    fn queue_append(&mut self, to: u64, prev: u64, allow_empty: bool) -> Option<Option<u64>> {
        let next = prev + 1;
        let log_term = self.raft_log.term(prev);
        let ents = self.raft_log.entries(next, Some(self.max_msg_size));
        let (log_term, ents) = match (log_term, ents) {
            (Ok(t), Ok(e)) => (t, e),
            (Err(StorageError::Compacted), _) | (_, Err(StorageError::Compacted)) => {
                return self.send_snapshot(to).then_some(None);
            }
            (Err(e), _) | (_, Err(e)) => {
                // Unavailable and friends: leave the follower probing, retry later.
                debug!(self.logger, "cannot build append now"; "to" => to, "next" => next, "err" => %e);
                return None;
            }
        };
        if ents.is_empty() && !allow_empty {
            return None;
        }
        let last = ents.last().map(|e| e.index);
        let commit = self.raft_log.committed;
        if !self.merge_into_queued_append(to, prev, &ents) {
            let size = ents.iter().map(entry_size).sum();
            let q = QueuedAppend {
                term: self.term,
                prev,
                last: last.unwrap_or(prev),
                size,
            };
            let m = Message {
                msg_type: MessageType::MsgAppend as i32,
                to,
                index: prev,
                log_term,
                entries: ents,
                commit,
                ..Default::default()
            };
            self.send(m);
            self.prs.set_queued_append(to, q);
        }
        Some(last)
    }

    /// The queued append to `to` of this term, if it ends exactly at `prev`.
    fn queued_append_at(
        msgs: &mut [Message],
        to: u64,
        term: u64,
        prev: u64,
    ) -> Option<&mut Message> {
        let m = msgs
            .iter_mut()
            .rev()
            .find(|m| m.to == to && m.msg_type() == MessageType::MsgAppend && m.term == term)?;
        let end = m.entries.last().map_or(m.index, |e| e.index);
        (end == prev).then_some(m)
    }

    /// The hot path of a proposal: the entries after `prev` are all still
    /// unstable (just appended) and an append to `to` of this term ending
    /// at `prev` is queued, so they extend it straight from the unstable
    /// log, without reading the storage or building an intermediate
    /// vector; the size limit counts with the recorded size of the queued
    /// message. Returns the new last index sent, or `None` (nothing
    /// changed) when the general path must decide.
    fn batch_into_queued_append(&mut self, to: u64, prev: u64) -> Option<u64> {
        let unstable = self.raft_log.unstable_entries();
        let first = unstable.first()?.index;
        let start = usize::try_from(prev.checked_add(1)?.checked_sub(first)?).ok()?;
        let new = unstable.get(start..).filter(|n| !n.is_empty())?;
        let (term, max) = (self.term, self.max_msg_size);
        let m = Self::queued_append_at(&mut self.msgs, to, term, prev)?;
        let record = self.prs.queued_append_mut(to, term, m.index, prev);
        let old = match &record {
            Some(q) => q.size,
            None => m.entries.iter().map(entry_size).sum(),
        };
        // As `entries(next, max)` would: at most `max` bytes, at least one.
        let mut add = 0u64;
        let mut take = 0;
        for e in new {
            let s = entry_size(e);
            if take > 0 && add.saturating_add(s) > max {
                break;
            }
            add = add.saturating_add(s);
            take += 1;
        }
        let size = old.saturating_add(add);
        if size > max && !m.entries.is_empty() {
            return None;
        }
        m.entries.extend_from_slice(&new[..take]);
        m.commit = self.raft_log.committed;
        let last = new[take - 1].index;
        match record {
            Some(q) => {
                q.last = last;
                q.size = size;
            }
            None => {
                let q = QueuedAppend {
                    term,
                    prev: m.index,
                    last,
                    size,
                };
                self.prs.set_queued_append(to, q);
            }
        }
        Some(last)
    }

    /// Batching: if an append to `to` of this term is still queued and ends
    /// exactly at `prev`, extend it with `ents` instead of queueing another
    /// message (within `max_size_per_msg`).
    fn merge_into_queued_append(&mut self, to: u64, prev: u64, ents: &[Entry]) -> bool {
        if ents.is_empty() {
            return false;
        }
        let (term, commit, max) = (self.term, self.raft_log.committed, self.max_msg_size);
        let Some(m) = Self::queued_append_at(&mut self.msgs, to, term, prev) else {
            return false;
        };
        let old = match self.prs.queued_append_mut(to, term, m.index, prev) {
            Some(q) => q.size,
            None => m.entries.iter().map(entry_size).sum(),
        };
        let mut size = old;
        for e in ents {
            size = size.saturating_add(entry_size(e));
            if size > max && !m.entries.is_empty() {
                // Stop measuring at once: a full append (a catch-up's) is
                // not re-measured for every next one.
                return false;
            }
        }
        m.entries.extend_from_slice(ents);
        m.commit = commit;
        let q = QueuedAppend {
            term,
            prev: m.index,
            last: ents[ents.len() - 1].index,
            size,
        };
        self.prs.set_queued_append(to, q);
        true
    }

    /// Sends appends to every member that may receive one.
    pub fn bcast_append(&mut self) {
        let mut i = 0;
        while let Some(id) = self.prs.member_at(i) {
            i += 1;
            if id != self.id {
                self.send_append(id);
            }
        }
    }

    /// Sends a heartbeat to every member (carrying the last pending read
    /// request's context, so one round confirms it).
    pub fn bcast_heartbeat(&mut self) {
        let ctx = self.last_read_ctx();
        self.bcast_heartbeat_with_ctx(ctx);
    }

    pub(crate) fn bcast_heartbeat_with_ctx(&mut self, ctx: Option<Bytes>) {
        let mut i = 0;
        while let Some(id) = self.prs.member_at(i) {
            i += 1;
            if id != self.id {
                self.send_heartbeat(id, ctx.clone());
            }
        }
    }

    fn send_heartbeat(&mut self, to: u64, ctx: Option<Bytes>) {
        let Some(pr) = self.prs.get(to) else { return };
        // Never let a follower commit past what it is known to share with us:
        // its log beyond `matched` may still diverge.
        let commit = pr.matched.min(self.raft_log.committed);
        let m = Message {
            msg_type: MessageType::MsgHeartbeat as i32,
            to,
            commit,
            context: ctx.unwrap_or_default(),
            ..Default::default()
        };
        self.send(m);
    }

    /// The leader's commit rule: the largest index on a quorum whose entry
    /// is of the current term (§5.4.2, Figure 8). Returns whether it moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let mci = self.prs.committed();
        self.raft_log.maybe_commit(mci, self.term)
    }

    /// The commit index moved on the leader: tell followers (unless it may
    /// ride the next append or heartbeat) and release waiting reads.
    pub(crate) fn on_commit_advanced(&mut self) {
        debug!(self.logger, "commit advanced"; "commit" => self.raft_log.committed);
        self.uncommitted.release_to(self.raft_log.committed);
        // A pending conf change is always announced at once, so members learn
        // the new configuration promptly.
        let conf_pending = self.pending_conf_index > self.raft_log.applied;
        if !self.skip_bcast_commit || conf_pending {
            self.bcast_append();
        }
        self.release_pending_read_index();
    }

    /// Accepts a proposal on the leader: stamps term and index, appends,
    /// broadcasts.
    pub(crate) fn propose_as_leader(&mut self, mut m: Message) -> Result<()> {
        if m.entries.is_empty() {
            return Ok(());
        }
        let (bytes, conf_index) = self.admit_proposal(&m.entries)?;
        let ents = std::mem::take(&mut m.entries);
        if !self.append_entries_as_leader(ents) {
            warn!(self.logger, "log refused the proposal"; "last_index" => self.raft_log.last_index());
            return Err(Error::ProposalDropped);
        }
        self.after_proposal(bytes, conf_index);
        Ok(())
    }

    /// [`propose_as_leader`](Self::propose_as_leader) of one entry, as
    /// `RawNode::propose` hands it over on a leader: the same checks and
    /// effects without building a `MsgPropose` or a vector around the entry,
    /// except that the entry is not sent: the caller broadcasts (once for a
    /// batch of proposals) with [`bcast_append`](Self::bcast_append).
    pub(crate) fn propose_entry_as_leader(&mut self, e: Entry) -> Result<()> {
        let (bytes, conf_index) = self.admit_proposal(std::slice::from_ref(&e))?;
        if !self.append_entry_as_leader(e) {
            warn!(self.logger, "log refused the proposal"; "last_index" => self.raft_log.last_index());
            return Err(Error::ProposalDropped);
        }
        self.record_proposal(bytes, conf_index);
        Ok(())
    }

    /// Whether the leader takes a proposal of `ents` (still unstamped):
    /// `Err(ProposalDropped)` if it is no longer a member, a leader
    /// transfer is under way or the uncommitted-size limit is reached;
    /// `Err(ConfChangeRefused)` for two conf changes in one proposal or one
    /// the membership rules refuse. Returns the payload bytes and the index
    /// a conf change among them will take.
    fn admit_proposal(&self, ents: &[Entry]) -> Result<(u64, Option<u64>)> {
        if !self.prs.is_member(self.id) {
            info!(self.logger, "not a member any more; dropping proposal");
            return Err(Error::ProposalDropped);
        }
        if let Some(t) = self.lead_transferee {
            info!(self.logger, "leader transfer in progress; dropping proposal"; "transferee" => t);
            return Err(Error::ProposalDropped);
        }
        let bytes: u64 = ents.iter().map(|e| e.data.len() as u64).sum();
        if !self.uncommitted.allows(bytes) {
            debug!(self.logger, "uncommitted size limit reached; dropping proposal"; "bytes" => bytes);
            return Err(Error::ProposalDropped);
        }
        let first = self.raft_log.last_index().saturating_add(1);
        let mut conf_index = None;
        for (i, e) in ents.iter().enumerate() {
            // V1 or V2 (validate_message refused unknown types).
            if e.entry_type() != EntryType::EntryNormal {
                if conf_index.is_some() {
                    return Err(Error::ConfChangeRefused(
                        "two conf changes in one proposal".into(),
                    ));
                }
                self.check_conf_change_proposal(e)?;
                conf_index = Some(first.saturating_add(i as u64));
            }
        }
        Ok((bytes, conf_index))
    }

    /// A proposal is in the leader's log: record a conf change as pending,
    /// count its bytes as uncommitted, send it.
    fn after_proposal(&mut self, bytes: u64, conf_index: Option<u64>) {
        self.record_proposal(bytes, conf_index);
        self.bcast_append();
    }

    /// A proposal is in the leader's log: record a conf change as pending and
    /// count its bytes as uncommitted.
    fn record_proposal(&mut self, bytes: u64, conf_index: Option<u64>) {
        if let Some(i) = conf_index {
            self.pending_conf_index = i;
        }
        self.uncommitted.add(self.raft_log.last_index(), bytes);
    }

    /// Figure 2's AppendEntries receiver. The entries move out of `m` into
    /// the log (the message is spent after this).
    pub(crate) fn handle_append(&mut self, m: &mut Message) {
        if !self.prs.has_members() {
            // We know no membership (a node waiting to be added, whose base
            // configuration is not in the log): ask the leader for it. A
            // rejection at index 0 is otherwise impossible (index 0 always
            // matches), so the leader reads it as this request.
            debug!(self.logger, "no membership yet; asking the leader for it"; "from" => m.from);
            let resp = Message {
                msg_type: MessageType::MsgAppendResponse as i32,
                to: m.from,
                index: 0,
                reject: true,
                ..Default::default()
            };
            self.send(resp);
            return;
        }
        let committed = self.raft_log.committed;
        if m.index < committed {
            // Everything up to our commit already matches the leader's log.
            let resp = Message {
                msg_type: MessageType::MsgAppendResponse as i32,
                to: m.from,
                index: committed,
                ..Default::default()
            };
            self.send(resp);
            return;
        }
        let ents = std::mem::take(&mut m.entries);
        match self
            .raft_log
            .maybe_append_owned(m.index, m.log_term, m.commit, ents)
        {
            Some((_, last_new)) => {
                let resp = Message {
                    msg_type: MessageType::MsgAppendResponse as i32,
                    to: m.from,
                    index: last_new,
                    ..Default::default()
                };
                self.send(resp);
            }
            None => {
                // Hint where the logs may agree: the last index at or below
                // the probe whose term is not after the leader's term there,
                // so a divergent tail is skipped a term at a time.
                let hint = m.index.min(self.raft_log.last_index());
                let (hint_index, hint_term) = self.raft_log.find_conflict_by_term(hint, m.log_term);
                debug!(self.logger, "rejecting append";
                    "from" => m.from, "index" => m.index, "log_term" => m.log_term,
                    "hint" => hint_index, "hint_term" => hint_term);
                let resp = Message {
                    msg_type: MessageType::MsgAppendResponse as i32,
                    to: m.from,
                    index: m.index,
                    reject: true,
                    reject_hint: hint_index,
                    log_term: hint_term,
                    ..Default::default()
                };
                self.send(resp);
            }
        }
    }

    /// A heartbeat: commit what the leader says is safe for us.
    pub(crate) fn handle_heartbeat(&mut self, m: &Message) {
        let to = m.commit.min(self.raft_log.last_index());
        if to > self.raft_log.committed {
            if let Err(e) = self.raft_log.commit_to(to) {
                warn!(self.logger, "heartbeat commit failed"; "err" => %e);
            }
        }
        let resp = Message {
            msg_type: MessageType::MsgHeartbeatResponse as i32,
            to: m.from,
            context: m.context.clone(),
            ..Default::default()
        };
        self.send(resp);
    }

    /// The leader's side of an append answer.
    pub(crate) fn handle_append_response(&mut self, m: &Message) {
        let from = m.from;
        let first_index = self.raft_log.first_index();
        let last_index = self.raft_log.last_index();
        let Some(pr) = self.prs.get_mut(from) else {
            return;
        };
        pr.recent_active = true;
        if m.reject && m.index == 0 {
            // A node that knows no membership (see `handle_append`): only a
            // snapshot, persisted before it acts on it, can tell it.
            if pr.state != ProgressState::Snapshot {
                self.send_snapshot(from);
            }
            return;
        }
        if m.reject {
            let mut next_probe = m.reject_hint;
            if m.log_term > 0 {
                next_probe = self
                    .raft_log
                    .find_conflict_by_term(m.reject_hint, m.log_term)
                    .0;
            }
            let Some(pr) = self.prs.get_mut(from) else {
                return;
            };
            if pr.maybe_decr_to(m.index, next_probe) {
                debug!(self.logger, "append rejected; probing back";
                    "from" => from, "next" => pr.next_idx);
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(from);
            }
            return;
        }
        if m.index > last_index {
            // No follower can hold entries the leader never had.
            debug!(self.logger, "ignoring ack beyond our log"; "from" => from, "index" => m.index);
            return;
        }
        let old_paused = pr.is_paused();
        if !pr.maybe_update(m.index) {
            if pr.state == ProgressState::Snapshot && m.index >= pr.pending_snapshot {
                // The snapshot was answered at or past its index: resume probing.
                pr.become_probe();
                self.send_append(from);
            }
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot if pr.matched.saturating_add(1) >= first_index => {
                // The snapshot (or appends) caught it up: resume replicating.
                pr.become_probe();
                pr.become_replicate();
            }
            ProgressState::Snapshot => {}
            ProgressState::Replicate => pr.ins.free_to(m.index),
        }
        let matched = pr.matched;
        if self.maybe_commit() {
            self.on_commit_advanced();
        } else if old_paused {
            self.send_append(from);
        }
        // Pipeline: keep sending while there is something to send.
        while self.maybe_send_append(from, false) {}
        if self.lead_transferee == Some(from) && matched == last_index {
            info!(self.logger, "transferee caught up; sending MsgTimeoutNow"; "to" => from);
            self.send_timeout_now(from);
        }
    }

    /// The leader's side of a heartbeat answer.
    pub(crate) fn handle_heartbeat_response(&mut self, m: &Message) {
        let last_index = self.raft_log.last_index();
        let Some(pr) = self.prs.get_mut(m.from) else {
            return;
        };
        pr.recent_active = true;
        pr.resume();
        if pr.state == ProgressState::Replicate && pr.ins.full() {
            pr.ins.free_first_one();
        }
        // A lagging follower is alive: send it what it misses.
        if pr.matched < last_index || pr.state == ProgressState::Probe {
            self.send_append(m.from);
        }
        if !m.context.is_empty() {
            self.handle_read_ack(m);
        }
    }

    /// The transport could not reach `m.from`: stop pipelining to it.
    pub(crate) fn handle_unreachable(&mut self, m: &Message) {
        if let Some(pr) = self.prs.get_mut(m.from) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
        }
    }
}
