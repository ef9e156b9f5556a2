//! One simulated node: a `RawNode` over its simulated disk (a `MemStorage`
//! written only when a sync completes), its key/value state machine, and the
//! pending `Ready` whose writes are still in the volatile buffer.

use bytes::Bytes;
use prost::Message as _;
use tinyraft::eraftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType, Message};
use tinyraft::storage::{MemStorage, Storage};
use tinyraft::{Config, RawNode, Ready};

use crate::disk::{Disk, snapshot_index};
use crate::kv::{Command, KvResult, KvStore};

/// One committed entry as a node applied it.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) index: u64,
    pub(crate) term: u64,
    pub(crate) data: Bytes,
    /// The KV command and its result, for normal entries that carry one.
    pub(crate) kv: Option<(Command, KvResult)>,
    /// The membership after a conf-change entry.
    pub(crate) conf: Option<(ConfChange, ConfState)>,
}

/// What finishing a `Ready` produced.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    pub(crate) persisted_messages: Vec<Message>,
    pub(crate) applied: Vec<Applied>,
    /// Index of a snapshot installed from the leader.
    pub(crate) installed_snapshot: Option<u64>,
    /// Index of a snapshot taken locally (snapshot_interval).
    pub(crate) took_snapshot: Option<u64>,
    /// Last index of the log written by this Ready, if it wrote entries.
    pub(crate) synced_upto: Option<u64>,
    /// An internal error the simulator could not hide (storage refused a write).
    pub(crate) error: Option<String>,
}

/// A simulated node.
pub(crate) struct SimNode {
    /// The durable state: only completed syncs write here.
    pub(crate) store: MemStorage,
    /// `None` while crashed.
    pub(crate) raw: Option<RawNode<MemStorage>>,
    /// Bumped on every crash, so timers and syncs of a previous life are
    /// recognized as stale.
    pub(crate) incarnation: u64,
    /// The Ready whose writes are not yet durable, and its write id.
    pub(crate) pending: Option<(u64, Ready)>,
    pub(crate) disk: Disk,
    /// Offset of this node's ticks within each `tick_ms` period.
    pub(crate) tick_phase: u64,
    /// The state machine of the current incarnation.
    pub(crate) kv: KvStore,
    /// Index of the last entry applied to `kv`.
    pub(crate) sm_applied: u64,
    /// Index of the node's latest snapshot.
    pub(crate) last_snap: u64,
    /// ReadIndex answers waiting for the state machine to reach their index.
    pub(crate) pending_reads: Vec<tinyraft::ReadState>,
}

impl SimNode {
    /// A node with an empty disk holding `conf` as its initial membership.
    pub(crate) fn new(id: u64, store: MemStorage, tick_phase: u64) -> SimNode {
        let _ = id;
        SimNode {
            store,
            raw: None,
            incarnation: 0,
            pending: None,
            disk: Disk::default(),
            tick_phase,
            kv: KvStore::new(),
            sm_applied: 0,
            last_snap: 0,
            pending_reads: Vec::new(),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.raw.is_some()
    }

    /// Builds the `RawNode` from durable state only: hard state, log, and
    /// the last snapshot with its state-machine image.
    pub(crate) fn boot(&mut self, cfg: &Config, logger: &slog::Logger) -> Result<(), String> {
        let snap_idx = snapshot_index(&self.store);
        self.kv = KvStore::new();
        if snap_idx > 0 {
            let snap = self
                .store
                .snapshot(0, 0)
                .map_err(|e| format!("read snapshot: {e}"))?;
            self.kv = KvStore::restore(&snap.data)?;
        }
        self.sm_applied = snap_idx;
        self.last_snap = snap_idx;
        let mut c = cfg.clone();
        c.applied = snap_idx;
        let raw = RawNode::new(&c, self.store.clone(), logger).map_err(|e| e.to_string())?;
        self.raw = Some(raw);
        self.pending = None;
        Ok(())
    }

    /// Loses everything not yet synced: the pending Ready, the in-memory
    /// Raft state, the state machine.
    pub(crate) fn crash(&mut self) {
        self.raw = None;
        self.pending = None;
        self.pending_reads.clear();
        self.incarnation += 1;
    }

    /// Whether a Ready needs a disk sync before its persisted messages may
    /// go out and its commits be applied.
    pub(crate) fn needs_sync(rd: &Ready) -> bool {
        rd.must_sync || rd.snapshot.is_some() || !rd.entries.is_empty()
    }

    /// The Ready's writes are durable: store them, apply what is committed,
    /// and advance the RawNode.
    pub(crate) fn finish_ready(
        &mut self,
        mut rd: Ready,
        snapshot_interval: Option<u64>,
    ) -> Finished {
        let mut out = Finished::default();
        let Some(raw) = self.raw.as_mut() else {
            return out;
        };
        if let Some(snap) = rd.snapshot.clone() {
            let idx = snap.metadata.as_ref().map(|m| m.index).unwrap_or(0);
            match KvStore::restore(&snap.data) {
                Ok(kv) => self.kv = kv,
                Err(e) => out.error = Some(format!("snapshot image at {idx}: {e}")),
            }
            if let Err(e) = self.store.wl().apply_snapshot(snap) {
                out.error = Some(format!("apply_snapshot at {idx}: {e}"));
            }
            self.sm_applied = idx;
            self.last_snap = idx;
            out.installed_snapshot = Some(idx);
        }
        if !rd.entries.is_empty() {
            if let Err(e) = self.store.wl().append(&rd.entries) {
                out.error = Some(format!("append: {e}"));
            }
            out.synced_upto = rd.entries.last().map(|e| e.index);
        }
        if let Some(hs) = rd.hs {
            self.store.wl().set_hardstate(hs);
        }
        out.persisted_messages = std::mem::take(&mut rd.persisted_messages);
        // `advance` reads the committed entries to move `applied`: keep them.
        for e in &rd.committed_entries {
            out.applied
                .push(apply_entry(raw, &self.store, &mut self.kv, e.clone()));
            if let Some(a) = out.applied.last() {
                self.sm_applied = a.index;
            }
        }
        raw.advance(rd);
        // A node joins with an empty log and no membership; it must learn
        // the configuration from a snapshot that includes itself (the
        // initial membership is not in the log). So every member snapshots
        // right after applying an addition, which makes any leader send
        // the newcomer a snapshot instead of entries from index 1.
        let added = out.applied.iter().any(|a| {
            a.conf
                .as_ref()
                .is_some_and(|(cc, _)| cc.change_type() != ConfChangeType::RemoveNode)
        });
        let due = snapshot_interval.is_some_and(|n| n > 0 && self.sm_applied >= self.last_snap + n);
        if added || due {
            let idx = self.sm_applied;
            match self.snapshot_at(idx) {
                Ok(true) => out.took_snapshot = Some(idx),
                Ok(false) => {}
                Err(e) => out.error = Some(e),
            }
        }
        out
    }

    /// Snapshots the state machine at its applied index `idx` and compacts
    /// the log through it (6.824's `Snapshot(index)`).
    pub(crate) fn snapshot_at(&mut self, idx: u64) -> Result<bool, String> {
        if idx != self.sm_applied || idx <= self.last_snap {
            return Ok(false);
        }
        let data: Bytes = self.kv.snapshot_bytes().into();
        self.write_snapshot(idx, data)
    }
}

fn apply_entry(
    raw: &mut RawNode<MemStorage>,
    store: &MemStorage,
    kv: &mut KvStore,
    e: Entry,
) -> Applied {
    let mut a = Applied {
        index: e.index,
        term: e.term,
        data: e.data.clone(),
        kv: None,
        conf: None,
    };
    // EntryConfChangeV2 (not applied until joint consensus lands) and unknown
    // types are skipped, never read as another kind.
    match EntryType::try_from(e.entry_type) {
        Ok(EntryType::EntryConfChange) if !e.data.is_empty() => {
            if let Ok(cc) = ConfChange::decode(&e.data[..]) {
                if let Ok(cs) = raw.apply_conf_change(&cc) {
                    store.wl().set_conf_state(cs.clone());
                    a.conf = Some((cc, cs));
                }
            }
        }
        Ok(EntryType::EntryConfChange | EntryType::EntryConfChangeV2) | Err(_) => {}
        Ok(EntryType::EntryNormal) => {
            if let Some(cmd) = Command::decode(&e.data) {
                let r = kv.apply(&cmd);
                a.kv = Some((cmd, r));
            }
        }
    }
    a
}

impl SimNode {
    /// Snapshots the state machine as it was at `idx` (≤ applied): the last
    /// snapshot's image plus the log's commands up to `idx`, replayed. Skips
    /// (returns false) when a conf change lies between `idx` and the applied
    /// index, since the configuration at `idx` is then not at hand.
    pub(crate) fn snapshot_upto(&mut self, idx: u64) -> Result<bool, String> {
        if idx == self.sm_applied {
            return self.snapshot_at(idx);
        }
        if idx <= self.last_snap || idx > self.sm_applied {
            return Ok(false);
        }
        let later = self
            .store
            .entries(idx + 1, self.sm_applied + 1, None)
            .map_err(|e| format!("entries: {e}"))?;
        if later
            .iter()
            .any(|e| e.entry_type() == EntryType::EntryConfChange)
        {
            return Ok(false);
        }
        let mut kv = if self.last_snap > 0 {
            let s = self
                .store
                .snapshot(0, 0)
                .map_err(|e| format!("snapshot: {e}"))?;
            KvStore::restore(&s.data)?
        } else {
            KvStore::new()
        };
        let ents = self
            .store
            .entries(self.last_snap + 1, idx + 1, None)
            .map_err(|e| format!("entries: {e}"))?;
        for e in &ents {
            if e.entry_type() == EntryType::EntryNormal {
                if let Some(cmd) = Command::decode(&e.data) {
                    kv.apply(&cmd);
                }
            }
        }
        self.write_snapshot(idx, kv.snapshot_bytes().into())
    }

    /// Stores `data` as the snapshot at `idx` (with the current membership)
    /// and compacts the log through it.
    fn write_snapshot(&mut self, idx: u64, data: Bytes) -> Result<bool, String> {
        let cs = self
            .store
            .initial_state()
            .map_err(|e| format!("initial_state: {e}"))?
            .conf_state;
        let mut w = self.store.wl();
        w.create_snapshot(idx, Some(cs), data)
            .map_err(|e| format!("create_snapshot({idx}): {e}"))?;
        w.compact(idx + 1)
            .map_err(|e| format!("compact({}): {e}", idx + 1))?;
        drop(w);
        self.last_snap = idx;
        Ok(true)
    }
}
