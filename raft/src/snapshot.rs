//! Snapshots (TinyKV 2C, Raft §7): sending one when a follower needs
//! entries the log no longer has, and installing one on a follower.

use slog::{debug, info, warn};
use tinyraft_log::StorageError;
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{Message, MessageType, Snapshot};

use crate::raft::Raft;
use crate::tracker::ProgressState;

impl<S: Storage> Raft<S> {
    /// Sends `to` the latest snapshot, putting its progress in snapshot
    /// state (paused until reported). Returns whether a message was queued.
    /// A snapshot the storage cannot produce yet leaves `to` probing: the
    /// next heartbeat answer retries.
    pub(crate) fn send_snapshot(&mut self, to: u64) -> bool {
        if !self.prs.get(to).is_some_and(|pr| pr.recent_active) {
            // A snapshot is expensive to build and send; a follower that has
            // not answered lately may be down (raft-rs's rule). It is retried
            // once the follower answers a heartbeat.
            debug!(self.logger, "not sending a snapshot to a follower not recently active"; "to" => to);
            return false;
        }
        // The snapshot must cover at least everything compacted away, and
        // carry a real index: a node that knows no membership learns it from
        // the snapshot's conf state, which it persists before acting on it.
        let need = self.raft_log.first_index().saturating_sub(1).max(1);
        let snap = match self.raft_log.snapshot(need, to) {
            Ok(s) => s,
            Err(StorageError::SnapshotTemporarilyUnavailable) => {
                debug!(self.logger, "snapshot temporarily unavailable"; "to" => to);
                return false;
            }
            Err(e) => {
                warn!(self.logger, "failed to get snapshot"; "to" => to, "err" => %e);
                return false;
            }
        };
        let Some(meta) = snap.metadata.as_ref() else {
            warn!(self.logger, "storage returned a snapshot without metadata"; "to" => to);
            return false;
        };
        if meta.index == 0 || meta.index < need {
            debug!(self.logger, "no snapshot covers the compacted log yet";
                "to" => to, "snapshot" => meta.index, "need" => need);
            return false;
        }
        info!(self.logger, "sending snapshot"; "to" => to, "index" => meta.index, "term" => meta.term);
        self.send_snapshot_msg(to, snap);
        true
    }

    /// Pauses `to` in snapshot state at `snap`'s index and sends it `snap`.
    fn send_snapshot_msg(&mut self, to: u64, snap: Snapshot) {
        let index = snap.metadata.as_ref().map_or(0, |m| m.index);
        if let Some(pr) = self.prs.get_mut(to) {
            pr.become_snapshot(index);
        }
        let m = Message {
            msg_type: MessageType::MsgSnapshot as i32,
            to,
            snapshot: Some(snap),
            ..Default::default()
        };
        self.send(m);
    }

    /// A follower receives a snapshot from its leader.
    pub(crate) fn handle_snapshot(&mut self, m: Message) {
        let from = m.from;
        // validate_message guarantees both.
        let Some(snap) = m.snapshot else { return };
        let Some(meta) = snap.metadata.clone() else {
            return;
        };
        let committed = self.raft_log.committed;
        if meta.index <= committed {
            // Nothing new: tell the leader how far we are so it moves on.
            debug!(self.logger, "ignoring stale snapshot"; "index" => meta.index, "committed" => committed);
            self.send_append_ack(from, committed);
            return;
        }
        let cs = meta.conf_state.clone().unwrap_or_default();
        if !cs.names(self.id) {
            // Made before we were added: not ours to install (we would leave
            // our own group). Answer with our commit index, as etcd does, so
            // the leader stops waiting on it; its next attempt asks the
            // storage for a snapshot that includes us.
            warn!(self.logger, "ignoring snapshot whose conf state excludes this node";
                "index" => meta.index, "conf_state" => %cs);
            self.send_append_ack(from, committed);
            return;
        }
        if self.prs.has_members() && self.raft_log.match_term(meta.index, meta.term) {
            // We already have the entries: just commit up to the snapshot.
            // (A node that knows no membership installs it instead: the
            // membership it needs is only in the snapshot.)
            info!(self.logger, "fast-forwarding commit to snapshot"; "index" => meta.index);
            if let Err(e) = self.raft_log.commit_to(meta.index) {
                warn!(self.logger, "commit to snapshot failed"; "err" => %e);
            }
            let c = self.raft_log.committed;
            self.send_append_ack(from, c);
            return;
        }
        if let Err(e) = self.raft_log.restore(snap) {
            warn!(self.logger, "snapshot refused by the log"; "err" => %e);
            let c = self.raft_log.committed;
            self.send_append_ack(from, c);
            return;
        }
        // The membership is acted on now and handed out with the snapshot in
        // the next Ready; the answer below waits for it to be durable.
        info!(self.logger, "restored snapshot"; "index" => meta.index, "term" => meta.term,
            "conf_state" => %cs);
        let next = self.raft_log.last_index().saturating_add(1);
        self.prs.apply_conf_state(&cs, next);
        let last = self.raft_log.last_index();
        self.send_append_ack(from, last);
    }

    fn send_append_ack(&mut self, to: u64, index: u64) {
        let resp = Message {
            msg_type: MessageType::MsgAppendResponse as i32,
            to,
            index,
            ..Default::default()
        };
        self.send(resp);
    }

    /// Called every election timeout on the leader: a snapshot not reported
    /// within one to two election timeouts is presumed lost, and the follower
    /// goes back to probing (which resends one if it is still needed), so a
    /// dropped `MsgSnapshot` never stalls a follower forever.
    pub(crate) fn expire_snapshots(&mut self) {
        let id = self.id;
        for (&pid, pr) in self.prs.iter_mut() {
            if pid == id || pr.state != ProgressState::Snapshot {
                continue;
            }
            if pr.snapshot_stale {
                debug!(self.logger, "snapshot not reported in time; probing again"; "to" => pid);
                pr.become_probe();
            } else {
                pr.snapshot_stale = true;
            }
        }
    }

    /// The application reports how sending a snapshot to `m.from` ended
    /// (`reject` = failure).
    pub(crate) fn handle_snapshot_status(&mut self, m: &Message) {
        let Some(pr) = self.prs.get_mut(m.from) else {
            return;
        };
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if m.reject {
            pr.snapshot_failure();
        }
        pr.become_probe();
        // Wait for an append answer (or a heartbeat answer) before probing,
        // so a slow snapshot apply is not raced by appends.
        pr.pause();
        debug!(self.logger, "snapshot status"; "from" => m.from, "failed" => m.reject,
            "next" => pr.next_idx);
    }
}
