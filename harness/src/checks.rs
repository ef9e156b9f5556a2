//! Glue between the simulated nodes and the checkers of
//! [`crate::invariants`] that look at a node's disk or state machine:
//! `committed_kept` around every durable write, `state_machine_digest`
//! after applying, at snapshot install and after a restart, and the window
//! of the `check_quorum` watch.

use tinyraft::storage::{MemStorage, Storage};

use crate::cluster::SimConfig;
use crate::disk::snapshot_index;
use crate::invariants::{Breach, Checker};
use crate::node::SimNode;

/// The committed prefix `store` durably holds before a write, up to the
/// node's own commit index `commit`.
///
/// Only entries the node knows are committed count: Raft lets a stale
/// leader overwrite a lagging follower's copy of an entry that a majority
/// without that follower committed in a later term (seed 678 of the swarm
/// campaign: a term-4 leader cut off since its election rejoins and
/// rewrites index 132 on a term-2 follower, after the term-6 leader had
/// committed it). Nothing is lost: the majority that committed it keeps it.
pub(crate) fn held_before(checker: &Checker, store: &MemStorage, commit: u64) -> u64 {
    let last = store.last_index().unwrap_or(0).min(commit);
    let snap = snapshot_index(store);
    checker.committed_prefix_held(last, snap, |i| store.term(i).ok())
}

/// `committed_kept` after a durable write on `node` that held `held`.
pub(crate) fn kept_after(
    checker: &Checker,
    node: u64,
    held: u64,
    store: &MemStorage,
) -> Result<(), Breach> {
    let snap = snapshot_index(store);
    checker.on_durable_write(node, held, snap, |i| store.term(i).ok())
}

/// `committed_kept` after a durable write on `id`: the committed prefix it
/// held after its previous write must still be there; then records what it
/// holds now (up to its own commit index).
pub(crate) fn after_write(checker: &mut Checker, id: u64, node: &SimNode) -> Result<(), Breach> {
    let held = checker.held.get(&id).copied().unwrap_or(0);
    let r = kept_after(checker, id, held, &node.store);
    let commit = node
        .raw
        .as_ref()
        .map_or(0, |raw| raw.raft.raft_log.committed);
    let now = held_before(checker, &node.store, commit);
    checker.held.insert(id, now);
    r
}

/// `state_machine_digest` after `id` installed a snapshot at `idx` (its
/// state machine is that snapshot's image).
pub(crate) fn digest_after_install(
    checker: &mut Checker,
    id: u64,
    node: &SimNode,
    idx: u64,
) -> Result<(), Breach> {
    if idx == 0 || node.sm_applied != idx {
        return Ok(());
    }
    checker.on_digest(id, idx, node.kv.digest(), "snapshot install")
}

/// `state_machine_digest` after `id` applied entries up to `last`.
pub(crate) fn digest_after_apply(
    checker: &mut Checker,
    id: u64,
    node: &SimNode,
    last: u64,
) -> Result<(), Breach> {
    if node.sm_applied != last {
        return Ok(());
    }
    checker.on_digest(id, last, node.kv.digest(), "apply")
}

/// `state_machine_digest` of a node just booted from its own snapshot.
pub(crate) fn digest_on_restart(
    checker: &mut Checker,
    id: u64,
    node: Option<&SimNode>,
) -> Option<Breach> {
    let n = node.filter(|n| n.is_up() && n.sm_applied > 0)?;
    checker
        .on_digest(id, n.sm_applied, n.kv.digest(), "restart")
        .err()
}

/// How long a check-quorum leader may go without hearing from a quorum:
/// two election timeouts plus a tick.
pub(crate) fn check_quorum_window(cfg: &SimConfig) -> u64 {
    let tick = cfg.tick_ms.max(1);
    2 * cfg.election_tick as u64 * tick + tick
}
