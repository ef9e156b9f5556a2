//! Node driving: take a node's Readies as its embedder profile allows, issue
//! the writes, finish them when the disk syncs, and apply what is committed.

use rand::Rng;
use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeV2, Message, MessageType};
use tinyraft::storage::Storage;

use super::Cluster;
use crate::ack_check::check_durable_ack;
use crate::disk::snapshot_index;
use crate::embedder::{Apply, Fsync, Persistence};
use crate::node::{Ack, ApplyOutcome, Persisted, Write, WriteParts};
use crate::trace::EventKind;
use crate::world::Event;

impl Cluster {
    /// Takes every Ready `id` has, as its embedder profile allows: sends
    /// `messages` at once, issues the writes (synced through the disk model,
    /// or into the page cache when no fsync is needed), and applies what is
    /// committed (now, or in a later apply step).
    pub(crate) fn drive(&mut self, id: u64) {
        let mut readies = 0u32;
        loop {
            readies += 1;
            if readies > 10_000 {
                // A core that always has a Ready would hang the engine.
                self.breach((
                    "ready_progress",
                    format!("node {id}: has_ready stayed true for 10,000 Readies in a row"),
                ));
                return;
            }
            let now = self.world.now();
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            if !node.can_take_ready() {
                break;
            }
            let Some(raw) = node.raw.as_mut() else {
                return;
            };
            if !raw.has_ready() {
                break;
            }
            let profile = node.profile;
            let mut rd = raw.ready();
            let number = rd.number();
            let mut msgs = std::mem::take(&mut rd.messages);
            node.pending_reads.append(&mut rd.read_states);
            let mut persisted_messages = std::mem::take(&mut rd.persisted_messages);
            if self.cfg.bug_ack_before_sync {
                msgs.append(&mut persisted_messages);
            }
            let term_or_vote = rd.must_sync && (rd.snapshot.is_none() || !rd.entries.is_empty());
            let must_sync = if self.cfg.bug_fsync_ignores_snapshot {
                // The buggy engine's own rule: sync for entries and hard state.
                term_or_vote || !rd.entries.is_empty()
            } else {
                rd.must_sync
            };
            let twice = node.record_handed_out(&rd.committed_entries);
            let parts = WriteParts::take(&mut rd);
            let simple =
                profile.persistence == Persistence::OneAtATime && profile.apply == Apply::WithReady;
            if !simple {
                // The committed entries are durable here already: the engine
                // may apply them while this Ready's writes are under way.
                node.apply_queue
                    .extend(std::mem::take(&mut rd.committed_entries));
            }
            let fsync = match profile.fsync {
                Fsync::EveryWrite => !parts.is_empty() || !persisted_messages.is_empty(),
                Fsync::OnlyMustSync => must_sync,
            };
            let ack = if simple {
                Ack::Advance(rd)
            } else if profile.persistence == Persistence::OneAtATime {
                Ack::AdvanceAppend(rd)
            } else {
                if let Some(raw) = node.raw.as_mut() {
                    raw.advance_append_async(rd);
                }
                Ack::OnPersist(number)
            };
            if let Some(d) = twice {
                self.breach(("apply_once", format!("node {id}: {d}")));
                return;
            }
            for m in msgs {
                if needs_durable_state(&m) {
                    // Only the ack-before-sync bug puts these here.
                    self.send_persisted(m);
                } else {
                    self.send(m);
                }
            }
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            if fsync {
                node.disk.next_write += 1;
                let w = node.disk.next_write;
                let delay = node.disk.sync_delay(&self.cfg.disk, now, &mut self.rng);
                // Writes become durable in the order they were issued.
                let at = (now + delay).max(node.disk.last_sync_at);
                node.disk.last_sync_at = at;
                let inc = node.incarnation;
                node.inflight.push_back(Write {
                    id: w,
                    synced: true,
                    parts,
                    persisted_messages,
                    ack,
                });
                self.world.schedule(
                    at,
                    Event::DiskSync {
                        node: id,
                        incarnation: inc,
                        write: w,
                    },
                );
            } else {
                // No fsync: the writes go to the page cache and the Ready
                // counts as written (what the engine believes) — but only
                // after the writes issued before it, which it must not
                // overtake.
                let w = Write {
                    id: node.disk.next_write,
                    synced: false,
                    parts,
                    persisted_messages,
                    ack,
                };
                if node.inflight.is_empty() {
                    self.complete_write(id, w);
                } else {
                    node.inflight.push_back(w);
                }
            }
            self.apply_step(id);
        }
        self.serve_reads(id);
        self.observe(id);
    }

    /// Applies what `id` has queued, now or in a later apply step.
    pub(super) fn apply_step(&mut self, id: u64) {
        let now_inc = {
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            if node.apply_queue.is_empty() || node.apply_scheduled {
                return;
            }
            match node.profile.apply {
                Apply::WithReady => None,
                Apply::Lagging => {
                    node.apply_scheduled = true;
                    Some(node.incarnation)
                }
            }
        };
        match now_inc {
            None => {
                let Some(node) = self.nodes.get_mut(&id) else {
                    return;
                };
                let out = node.apply_queued();
                self.after_apply(id, out);
            }
            Some(incarnation) => {
                let delay = self.rng.random_range(1..=30);
                self.world.after(
                    delay,
                    Event::Apply {
                        node: id,
                        incarnation,
                    },
                );
            }
        }
    }

    /// A write is durable (or, without fsync, in the page cache): record
    /// it, check it, send what waited for it, and tell the core.
    pub(super) fn complete_write(&mut self, id: u64, w: Write) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let persisted = if w.synced {
            node.persist(w.parts)
        } else {
            node.write_volatile(w.parts);
            Persisted::default()
        };
        self.after_persist(id, persisted);
        for m in w.persisted_messages {
            self.send_persisted(m);
        }
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(raw) = node.raw.as_mut() else {
            return;
        };
        match w.ack {
            Ack::Advance(rd) => {
                // The simplest engine: apply the Ready's committed entries,
                // then `advance` it.
                let ents = rd.committed_entries.clone();
                let out = node.apply(ents);
                if let Some(raw) = node.raw.as_mut() {
                    raw.advance(rd);
                }
                self.after_apply(id, out);
            }
            Ack::AdvanceAppend(rd) => {
                let light = raw.advance_append(rd);
                if let Some(d) = node.record_handed_out(&light.committed_entries) {
                    self.breach(("apply_once", format!("node {id}: {d}")));
                    return;
                }
                node.apply_queue.extend(light.committed_entries);
                for m in light.messages {
                    self.send(m);
                }
                self.apply_step(id);
            }
            Ack::OnPersist(number) => {
                raw.on_persist_ready(number);
                self.apply_step(id);
            }
        }
    }

    /// Sends a message that promises durable state (an append ack, a vote),
    /// checking first that the sender's disk keeps the promise.
    pub(super) fn send_persisted(&mut self, m: Message) {
        if let Some(n) = self.nodes.get(&m.from) {
            let hs = *n.store.rl().hard_state();
            let store = &n.store;
            let holds =
                |i: u64| snapshot_index(store) >= i || store.last_index().is_ok_and(|l| l >= i);
            if let Err(b) = check_durable_ack(&m, &hs, holds) {
                self.breach(b);
            }
        }
        self.send(m);
    }

    /// The checks and trace events of a durable write.
    pub(super) fn after_persist(&mut self, id: u64, p: Persisted) {
        let Some(node) = self.nodes.get(&id) else {
            return;
        };
        let prev_term = p.entries.first().and_then(|e| {
            if e.index <= 1 {
                Some(0)
            } else {
                node.store.term(e.index - 1).ok()
            }
        });
        let durable_hs = p.wrote_hs.then(|| *node.store.rl().hard_state());
        if let Some(e) = p.error {
            self.breach(("storage", format!("node {id}: {e}")));
        }
        if let Some(idx) = p.installed_snapshot {
            self.push(EventKind::Snapshot {
                node: id,
                index: idx,
            });
            if let Err(b) = self.checker.on_snapshot_installed(id, idx) {
                self.breach(b);
            }
        }
        if !p.entries.is_empty() {
            if let Err(b) = self.checker.on_entries(id, &p.entries, prev_term) {
                self.breach(b);
            }
        }
        if let Some(hs) = durable_hs {
            if let Err(b) = self.checker.on_durable_hard_state(id, &hs) {
                self.breach(b);
            }
        }
        if let Some(upto) = p.synced_upto {
            self.push(EventKind::Sync {
                node: id,
                upto_index: upto,
            });
        }
        if let Some(node) = self.nodes.get(&id) {
            let mut bs = Vec::new();
            if !p.entries.is_empty() || p.installed_snapshot.is_some() {
                bs.extend(crate::checks::after_write(&mut self.checker, id, node).err());
            }
            if let Some(idx) = p.installed_snapshot {
                bs.extend(
                    crate::checks::digest_after_install(&mut self.checker, id, node, idx).err(),
                );
            }
            for b in bs {
                self.breach(b);
            }
        }
    }

    /// The checks and trace events of applied entries.
    pub(super) fn after_apply(&mut self, id: u64, out: ApplyOutcome) {
        if let Some(e) = out.error {
            self.breach(("storage", format!("node {id}: {e}")));
        }
        for a in &out.applied {
            let first = a.index > self.checker.committed_len();
            if let Err(b) = self.checker.on_apply(id, a.index, a.term, &a.data) {
                self.breach(b);
            }
            self.push(EventKind::Apply {
                node: id,
                index: a.index,
                term: a.term,
            });
            if first {
                if let Some((t, at)) = self.proposed_at.remove(&a.index) {
                    if t == a.term {
                        self.stats.commit_latency_ms.push(self.world.now() - at);
                    }
                }
            }
            if let Some((cc, cs)) = &a.conf {
                self.push(EventKind::ConfChange {
                    node: id,
                    change: format!("{} -> {cs}", describe_change(cc)),
                });
                if first {
                    let n = &mut self.stats.conf_changes;
                    if cc.leave_joint() {
                        n.leave_joint += 1;
                        if n.last_enter_term != a.term {
                            n.leave_in_later_term += 1;
                        }
                    } else if cc.enter_joint().is_some() {
                        n.enter_joint += 1;
                        n.last_enter_term = a.term;
                    } else {
                        n.simple += 1;
                    }
                    self.set_committed_config(cs);
                    self.check_durability();
                }
                // A node replaying its log after a restart (its durable
                // commit may lag) counts votes by each configuration it
                // passes through: the liveness core must hold a majority of
                // each.
                self.grow_core();
            }
            if let Some((cmd, res)) = &a.kv {
                crate::client::on_applied(self, cmd, res);
            }
        }
        if let Some(idx) = out.took_snapshot {
            self.push(EventKind::Snapshot {
                node: id,
                index: idx,
            });
        }
        if let (Some(a), Some(node)) = (out.applied.last(), self.nodes.get(&id)) {
            if let Err(b) = crate::checks::digest_after_apply(&mut self.checker, id, node, a.index)
            {
                self.breach(b);
            }
        }
    }
}

/// Whether `m` promises the sender's durable state (what `Ready` puts in
/// `persisted_messages`).
fn needs_durable_state(m: &Message) -> bool {
    matches!(
        m.msg_type(),
        MessageType::MsgAppendResponse | MessageType::MsgRequestVoteResponse
    )
}

/// `AddNode 4`, or `Explicit [AddNode 4, RemoveNode 1]` for a joint change,
/// or `leave joint`.
pub(crate) fn describe_change(cc: &ConfChangeV2) -> String {
    let one = |c: &ConfChangeSingle| format!("{:?} {}", c.change_type(), c.node_id);
    if cc.leave_joint() {
        return "leave joint".into();
    }
    match (cc.enter_joint(), cc.changes.as_slice()) {
        (None, [c]) => one(c),
        _ => format!(
            "{:?} [{}]",
            cc.transition(),
            cc.changes.iter().map(one).collect::<Vec<_>>().join(", ")
        ),
    }
}
