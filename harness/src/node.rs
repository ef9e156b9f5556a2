//! One simulated node: a `RawNode` over its simulated disk (a `MemStorage`
//! written only when a sync completes), its key/value state machine, the
//! writes still in flight or in the page cache, and the embedder profile
//! that says how its engine drives the `Ready` contract.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use prost::Message as _;
use tinyraft::ConfChangeI;
use tinyraft::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, Snapshot,
    SnapshotMetadata,
};
use tinyraft::storage::{MemStorage, RaftState, Storage};
use tinyraft::{Config, RawNode, Ready, StorageError};

use crate::disk::{Disk, snapshot_index};
use crate::embedder::EmbedderProfile;
use crate::kv::{Command, KvResult, KvStore};

/// One committed entry as a node applied it.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) index: u64,
    pub(crate) term: u64,
    pub(crate) data: Bytes,
    /// The KV command and its result, for normal entries that carry one.
    pub(crate) kv: Option<(Command, KvResult)>,
    /// The change a conf-change entry carried (as a V2 change) and the
    /// membership after it.
    pub(crate) conf: Option<(ConfChangeV2, ConfState)>,
}

/// The writes of one `Ready`, in the order an engine makes them: the
/// snapshot, then the entries, then the hard state.
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteParts {
    pub(crate) snapshot: Option<Snapshot>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hs: Option<HardState>,
}

impl WriteParts {
    /// Moves the writes out of `rd`.
    pub(crate) fn take(rd: &mut Ready) -> WriteParts {
        WriteParts {
            snapshot: rd.snapshot.take(),
            entries: std::mem::take(&mut rd.entries),
            hs: rd.hs.take(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.entries.is_empty() && self.hs.is_none()
    }

    /// The first `n` of the three parts (a write torn by a crash).
    fn prefix(mut self, n: usize) -> WriteParts {
        if n < 3 {
            self.hs = None;
        }
        if n < 2 {
            self.entries.clear();
        }
        if n < 1 {
            self.snapshot = None;
        }
        self
    }
}

/// How the engine tells the core that a Ready's writes are done.
#[derive(Debug)]
pub(crate) enum Ack {
    /// One Ready at a time, applied with it: apply its committed entries,
    /// then `advance` (the simplest engine).
    Advance(Ready),
    /// One Ready at a time, applied later: `advance_append`, whose
    /// `LightReady` brings the follow-up.
    AdvanceAppend(Ready),
    /// In the background: `on_persist_ready` with the Ready's number.
    OnPersist(u64),
}

/// A Ready whose writes were issued and are not yet durable.
#[derive(Debug)]
pub(crate) struct Write {
    /// Disk write id (what the `DiskSync` event names). A write that needs
    /// no sync but was issued behind unfinished ones shares the id of the
    /// last of them: it completes right after them, in order.
    pub(crate) id: u64,
    /// Whether this write is fsynced (else it only reaches the page cache).
    pub(crate) synced: bool,
    pub(crate) parts: WriteParts,
    /// Sent once the writes are durable.
    pub(crate) persisted_messages: Vec<Message>,
    pub(crate) ack: Ack,
}

/// What making writes durable produced.
#[derive(Debug, Default)]
pub(crate) struct Persisted {
    /// Index of a snapshot installed from the leader.
    pub(crate) installed_snapshot: Option<u64>,
    /// Entries written (for the log checks).
    pub(crate) entries: Vec<Entry>,
    /// The durable hard state, if this wrote one (or a snapshot).
    pub(crate) wrote_hs: bool,
    /// Last index of the log written, if entries were.
    pub(crate) synced_upto: Option<u64>,
    /// An internal error the simulator could not hide (storage refused a write).
    pub(crate) error: Option<String>,
}

/// What applying entries produced.
#[derive(Debug, Default)]
pub(crate) struct ApplyOutcome {
    pub(crate) applied: Vec<Applied>,
    /// Index of a snapshot taken locally (periodic snapshots).
    pub(crate) took_snapshot: Option<u64>,
    pub(crate) error: Option<String>,
}

/// A node's storage as its engine implements `Storage`: the durable disk,
/// plus snapshots built on demand with the state-machine image at the
/// applied index (rebuilt from the last snapshot and the durable log), so a
/// joining node always gets a real image, never an empty one.
#[derive(Clone, Debug)]
pub(crate) struct SimStorage {
    disk: MemStorage,
    applied: Arc<AtomicU64>,
}

impl Storage for SimStorage {
    fn initial_state(&self) -> tinyraft::storage::Result<RaftState> {
        self.disk.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: Option<u64>,
    ) -> tinyraft::storage::Result<Vec<Entry>> {
        self.disk.entries(low, high, max_size)
    }

    fn term(&self, idx: u64) -> tinyraft::storage::Result<u64> {
        self.disk.term(idx)
    }

    fn first_index(&self) -> tinyraft::storage::Result<u64> {
        self.disk.first_index()
    }

    fn last_index(&self) -> tinyraft::storage::Result<u64> {
        self.disk.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> tinyraft::storage::Result<Snapshot> {
        let latest = self.disk.rl().latest_snapshot();
        let meta = latest.metadata.clone().unwrap_or_default();
        let cs = meta.conf_state.clone().unwrap_or_default();
        let includes_to = to == 0 || cs.names(to);
        if meta.index >= request_index.max(1) && includes_to {
            return Ok(latest);
        }
        // Build one at the applied index, with the membership as of it
        // (the conf state is recorded when a change is applied).
        let idx = self.applied.load(Ordering::Relaxed);
        if idx < request_index || idx == 0 {
            return Err(StorageError::SnapshotTemporarilyUnavailable);
        }
        let kv = image_at(&self.disk, idx)
            .map_err(|e| StorageError::Other(format!("state machine image at {idx}: {e}")))?;
        let core = self.disk.rl();
        let term = core.term(idx)?;
        Ok(Snapshot {
            data: kv.snapshot_bytes().into(),
            metadata: Some(SnapshotMetadata {
                conf_state: Some(core.conf_state().clone()),
                index: idx,
                term,
            }),
        })
    }
}

/// The state machine as it was at `idx`: the durable snapshot's image plus
/// the durable log's commands up to `idx`, replayed.
fn image_at(store: &MemStorage, idx: u64) -> Result<KvStore, String> {
    let snap_idx = snapshot_index(store);
    if idx < snap_idx {
        return Err(format!("index {idx} is below the snapshot at {snap_idx}"));
    }
    let mut kv = if snap_idx > 0 {
        let s = store.snapshot(0, 0).map_err(|e| format!("snapshot: {e}"))?;
        KvStore::restore(&s.data)?
    } else {
        KvStore::new()
    };
    if idx > snap_idx {
        let ents = store
            .entries(snap_idx + 1, idx + 1, None)
            .map_err(|e| format!("entries: {e}"))?;
        for e in &ents {
            if e.entry_type() == EntryType::EntryNormal {
                if let Some(cmd) = Command::decode(&e.data) {
                    kv.apply(&cmd);
                }
            }
        }
    }
    Ok(kv)
}

/// A simulated node.
pub(crate) struct SimNode {
    /// The durable state: only completed syncs write here.
    pub(crate) store: MemStorage,
    /// `None` while crashed.
    pub(crate) raw: Option<RawNode<SimStorage>>,
    /// How this node's engine drives its `RawNode`.
    pub(crate) profile: EmbedderProfile,
    /// Bumped on every crash, so timers and syncs of a previous life are
    /// recognized as stale.
    pub(crate) incarnation: u64,
    /// Writes issued and not yet durable, oldest first.
    pub(crate) inflight: VecDeque<Write>,
    /// Writes completed without an fsync (the page cache): a later sync
    /// makes them durable, a crash loses them.
    pub(crate) volatile: Vec<WriteParts>,
    /// Committed entries handed out and not yet applied.
    pub(crate) apply_queue: VecDeque<Entry>,
    /// An apply step is scheduled (lagging apply).
    pub(crate) apply_scheduled: bool,
    pub(crate) disk: Disk,
    /// Offset of this node's ticks within each `tick_ms` period.
    pub(crate) tick_phase: u64,
    /// The state machine of the current incarnation.
    pub(crate) kv: KvStore,
    /// Index of the last entry applied to `kv`.
    pub(crate) sm_applied: u64,
    /// `sm_applied`, shared with the storage's snapshot builder.
    applied_cell: Arc<AtomicU64>,
    /// Index of the node's latest snapshot.
    pub(crate) last_snap: u64,
    /// ReadIndex answers waiting for the state machine to reach their index.
    pub(crate) pending_reads: Vec<tinyraft::ReadState>,
    /// The membership the disk started with (before any snapshot).
    base_conf: ConfState,
    /// The last committed index the core handed out in this life (each
    /// committed entry is handed out once).
    pub(crate) handed_upto: u64,
}

impl SimNode {
    /// A node over `store` (its disk) following `profile`.
    pub(crate) fn new(store: MemStorage, tick_phase: u64, profile: EmbedderProfile) -> SimNode {
        let base_conf = store.rl().conf_state().clone();
        SimNode {
            base_conf,
            handed_upto: 0,
            store,
            raw: None,
            profile,
            incarnation: 0,
            inflight: VecDeque::new(),
            volatile: Vec::new(),
            apply_queue: VecDeque::new(),
            apply_scheduled: false,
            disk: Disk::default(),
            tick_phase,
            kv: KvStore::new(),
            sm_applied: 0,
            applied_cell: Arc::new(AtomicU64::new(0)),
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
        // The engine's apply state (state machine and membership, which it
        // keeps together) is the snapshot's: the node replays the log from
        // there, so its membership must be the one as of that index, not the
        // one its last life reached (replaying older changes on top of a
        // newer membership would count votes by a configuration no log had).
        let mut conf = self.base_conf.clone();
        if snap_idx > 0 {
            let snap = self
                .store
                .snapshot(0, 0)
                .map_err(|e| format!("read snapshot: {e}"))?;
            self.kv = KvStore::restore(&snap.data)?;
            conf = snap.metadata.and_then(|m| m.conf_state).unwrap_or_default();
        }
        self.store.wl().set_conf_state(conf);
        self.set_sm_applied(snap_idx);
        self.handed_upto = snap_idx;
        self.last_snap = snap_idx;
        let mut c = cfg.clone();
        c.applied = snap_idx;
        let storage = SimStorage {
            disk: self.store.clone(),
            applied: self.applied_cell.clone(),
        };
        let raw = RawNode::new(&c, storage, logger).map_err(|e| e.to_string())?;
        self.raw = Some(raw);
        self.inflight.clear();
        self.volatile.clear();
        self.apply_queue.clear();
        self.apply_scheduled = false;
        Ok(())
    }

    fn set_sm_applied(&mut self, idx: u64) {
        self.sm_applied = idx;
        self.applied_cell.store(idx, Ordering::Relaxed);
    }

    /// Records committed entries the core handed out: each must come after
    /// everything handed out before (the Ready contract: each committed
    /// entry is handed out once, however many Readies are outstanding).
    /// Returns the breach.
    pub(crate) fn record_handed_out(&mut self, ents: &[Entry]) -> Option<String> {
        let first = ents.first()?.index;
        let last = ents.last()?.index;
        let seen = self.handed_upto;
        self.handed_upto = seen.max(last);
        (first <= seen).then(|| {
            format!("committed entries {first}..={last} handed out again (already up to {seen})")
        })
    }

    /// Whether the engine may take another Ready now.
    pub(crate) fn can_take_ready(&self) -> bool {
        self.inflight.len() < self.profile.max_in_flight()
    }

    /// Loses everything not yet synced: in-flight and page-cache writes,
    /// the in-memory Raft state, the state machine. `torn` (crash in the
    /// middle of the oldest in-flight write) keeps the page cache and the
    /// first `torn` parts of that write: the disk wrote them, in order,
    /// before the power went.
    pub(crate) fn crash(&mut self, torn: Option<usize>) -> Persisted {
        let mut out = Persisted::default();
        if let Some(n) = torn {
            if let Some(w) = self.inflight.pop_front().filter(|w| w.synced) {
                let parts = w.parts.prefix(n);
                out = self.persist(parts);
            }
        }
        self.raw = None;
        self.inflight.clear();
        self.volatile.clear();
        self.apply_queue.clear();
        self.apply_scheduled = false;
        self.pending_reads.clear();
        self.incarnation += 1;
        out
    }

    /// Makes `parts` durable, after every page-cache write before them (an
    /// fsync covers everything written earlier).
    pub(crate) fn persist(&mut self, parts: WriteParts) -> Persisted {
        let mut out = Persisted::default();
        for earlier in std::mem::take(&mut self.volatile) {
            self.write_to_disk(earlier, &mut out);
        }
        self.write_to_disk(parts, &mut out);
        out
    }

    /// Keeps `parts` in the page cache (a write without fsync).
    pub(crate) fn write_volatile(&mut self, parts: WriteParts) {
        if !parts.is_empty() {
            self.volatile.push(parts);
        }
    }

    fn write_to_disk(&mut self, parts: WriteParts, out: &mut Persisted) {
        if let Some(snap) = parts.snapshot {
            let idx = snap.metadata.as_ref().map(|m| m.index).unwrap_or(0);
            match KvStore::restore(&snap.data) {
                Ok(kv) => self.kv = kv,
                Err(e) => out.error = Some(format!("snapshot image at {idx}: {e}")),
            }
            if let Err(e) = self.store.wl().apply_snapshot(snap) {
                out.error = Some(format!("apply_snapshot at {idx}: {e}"));
            }
            // The state machine is the snapshot's now: entries queued for
            // applying below it are covered by it.
            self.apply_queue.retain(|e| e.index > idx);
            self.set_sm_applied(idx);
            self.last_snap = idx;
            self.handed_upto = self.handed_upto.max(idx);
            out.installed_snapshot = Some(idx);
            out.wrote_hs = true;
        }
        if !parts.entries.is_empty() {
            if let Err(e) = self.store.wl().append(&parts.entries) {
                out.error = Some(format!("append: {e}"));
            }
            out.synced_upto = parts.entries.last().map(|e| e.index);
            out.entries.extend(parts.entries);
        }
        if let Some(hs) = parts.hs {
            self.store.wl().set_hardstate(hs);
            out.wrote_hs = true;
        }
    }

    /// Applies `ents` (committed, in order) to the state machine, and takes
    /// a periodic snapshot when one is due.
    pub(crate) fn apply(&mut self, ents: Vec<Entry>) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        let Some(raw) = self.raw.as_mut() else {
            return out;
        };
        for e in ents {
            if e.index <= self.sm_applied {
                // Already in the state machine (a snapshot covered it).
                continue;
            }
            let a = apply_entry(raw, &self.store, &mut self.kv, e);
            let idx = a.index;
            out.applied.push(a);
            self.sm_applied = idx;
            self.applied_cell.store(idx, Ordering::Relaxed);
        }
        let due = self
            .profile
            .snapshot_interval()
            .is_some_and(|n| self.sm_applied >= self.last_snap + n);
        if due {
            let idx = self.sm_applied;
            match self.snapshot_at(idx) {
                Ok(true) => out.took_snapshot = Some(idx),
                Ok(false) => {}
                Err(e) => out.error = Some(e),
            }
        }
        out
    }

    /// Applies everything queued, then tells the core.
    pub(crate) fn apply_queued(&mut self) -> ApplyOutcome {
        let ents: Vec<Entry> = self.apply_queue.drain(..).collect();
        let out = self.apply(ents);
        let applied = self.sm_applied;
        if let Some(raw) = self.raw.as_mut() {
            raw.advance_apply_to(applied);
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
    raw: &mut RawNode<SimStorage>,
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
    // Unknown types are skipped, never read as another kind.
    let decoded = match EntryType::try_from(e.entry_type) {
        Ok(EntryType::EntryConfChange) if !e.data.is_empty() => {
            ConfChange::decode(&e.data[..]).ok().map(|c| c.into_v2())
        }
        Ok(EntryType::EntryConfChangeV2) => ConfChangeV2::decode(&e.data[..]).ok(),
        _ => None,
    };
    if let Some(cc) = decoded {
        // Every node applies the same committed change to the same
        // configuration, so a refusal here is the same everywhere.
        if let Ok(cs) = raw.apply_conf_change(&cc) {
            store.wl().set_conf_state(cs.clone());
            a.conf = Some((cc, cs));
        }
        return a;
    }
    match EntryType::try_from(e.entry_type) {
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
            .any(|e| e.entry_type() != EntryType::EntryNormal)
        {
            return Ok(false);
        }
        let kv = image_at(&self.store, idx)?;
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
