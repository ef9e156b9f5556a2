//! The simulated disk of a node. Its durable part is the node's
//! `MemStorage`: the simulator writes a `Ready`'s hard state, entries and
//! snapshot into it only when the write's sync completes, so a crash before
//! then loses them (the FoundationDB / turmoil non-durable-file model). The
//! volatile part is the pending `Ready` held by the node until that moment.

use prost::Message as _;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tinyraft::storage::{MemStorage, Storage};

/// How long a write takes to become durable.
///
/// ```
/// use tinyraft_harness::DiskConfig;
/// let d = DiskConfig::default();
/// assert_eq!((d.sync_min_ms, d.sync_max_ms), (1, 5));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DiskConfig {
    /// Smallest sync delay in ms.
    pub sync_min_ms: u64,
    /// Largest sync delay in ms (inclusive).
    pub sync_max_ms: u64,
}

impl Default for DiskConfig {
    fn default() -> DiskConfig {
        DiskConfig {
            sync_min_ms: 1,
            sync_max_ms: 5,
        }
    }
}

/// Per-node disk timing state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Disk {
    /// Extra sync latency while a latency spike lasts.
    pub(crate) spike_ms: u64,
    /// When the spike ends (simulated ms).
    pub(crate) spike_until: u64,
    /// Last write id handed out.
    pub(crate) next_write: u64,
    /// When the last issued write becomes durable: writes complete in order.
    pub(crate) last_sync_at: u64,
    /// Extra delay of each lagging apply step while a slow-apply spike
    /// lasts (a state machine busy with a large batch).
    pub(crate) apply_spike_ms: u64,
    /// When the slow-apply spike ends (simulated ms).
    pub(crate) apply_spike_until: u64,
}

impl Disk {
    /// Draws the delay of the next sync.
    pub(crate) fn sync_delay(&self, cfg: &DiskConfig, now: u64, rng: &mut ChaCha8Rng) -> u64 {
        let hi = cfg.sync_max_ms.max(cfg.sync_min_ms);
        let base = rng.random_range(cfg.sync_min_ms..=hi);
        if now < self.spike_until {
            base + self.spike_ms
        } else {
            base
        }
    }
}

impl Disk {
    /// Extra delay of a lagging apply step scheduled at `now`.
    pub(crate) fn apply_extra(&self, now: u64) -> u64 {
        if now < self.apply_spike_until {
            self.apply_spike_ms
        } else {
            0
        }
    }
}

/// Encoded size of the durable hard state plus log entries (6.824's
/// `RaftStateSize`); the snapshot image is excluded.
pub(crate) fn persisted_bytes(store: &MemStorage) -> u64 {
    let hs = store.rl().hard_state().encoded_len() as u64;
    let (first, last) = match (store.first_index(), store.last_index()) {
        (Ok(f), Ok(l)) => (f, l),
        _ => return hs,
    };
    if last < first {
        return hs;
    }
    let ents = store.entries(first, last + 1, None).unwrap_or_default();
    hs + ents.iter().map(|e| e.encoded_len() as u64).sum::<u64>()
}

/// Encoded size of the durable snapshot (0 when there is none).
pub(crate) fn snapshot_bytes(store: &MemStorage) -> u64 {
    match store.snapshot(0, 0) {
        Ok(s) if s.metadata.as_ref().is_some_and(|m| m.index > 0) => s.encoded_len() as u64,
        _ => 0,
    }
}

/// Index of the durable snapshot (0 when there is none).
pub(crate) fn snapshot_index(store: &MemStorage) -> u64 {
    store
        .first_index()
        .map(|f| f.saturating_sub(1))
        .unwrap_or(0)
}
