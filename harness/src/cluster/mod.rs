//! The `Cluster`: a seeded simulated world of `RawNode`s, driven event by
//! event, with the 6.824-style test API on top and every safety invariant
//! checked after each event.
//!
//! One concern per file:
//!
//! * [`event_loop`]: the event loop — one event at a time; what happens when
//!   a message is delivered (`deliver`) or sent.
//! * [`drive`]: node driving — take Readies, issue writes, finish them when
//!   the disk syncs, apply what is committed.
//! * [`observe`]: after a node moved — role, hard state and commit checks;
//!   durability of the committed prefix.
//! * [`lifecycle`]: create, boot, crash and restart nodes.
//! * [`facade`]: the 6.824-style test API.
//! * [`fault_apply`]: applying the actions a [`crate::faults`] schedule
//!   produces (the schedule itself knows nothing of the cluster).
//! * [`client_port`]: the narrow interface simulated clients
//!   ([`crate::client`]) talk to the cluster through.

mod client_port;
mod config;
mod drive;
mod event_loop;
mod facade;
mod fault_apply;
mod lifecycle;
mod observe;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tinyraft::StateRole;
use tinyraft::quorum::JointConfig;
use tinyraft::storage::MemStorage;

use crate::client::Clients;
use crate::faults::FaultState;
use crate::invariants::{Breach, Checker, Violation};
use crate::net::Network;
use crate::node::SimNode;
use crate::trace::{EventKind, Trace};
use crate::world::World;

pub use config::{ConfChangeCounts, SimConfig, Stats};
pub(crate) use observe::show;

/// A simulated Raft cluster.
///
/// ```no_run
/// use tinyraft_harness::{Cluster, SimConfig};
/// let mut c = Cluster::new(SimConfig { seed: 1, ..Default::default() });
/// let leader = c.check_one_leader().unwrap();
/// let idx = c.one(b"hello".to_vec(), 3, true).unwrap();
/// assert_eq!(c.n_committed(idx).0, 3);
/// c.crash(leader);
/// c.check_one_leader().unwrap();
/// c.check_invariants().unwrap();
/// ```
pub struct Cluster {
    pub(crate) cfg: SimConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) world: World,
    pub(crate) net: Network,
    pub(crate) nodes: BTreeMap<u64, SimNode>,
    pub(crate) checker: Checker,
    trace: Trace,
    violation: Option<Violation>,
    /// With `SimConfig::keep_going`: the first violation of every other
    /// invariant, in order.
    later_violations: Vec<Violation>,
    events: u64,
    logger: slog::Logger,
    next_msg_id: u64,
    last_role: BTreeMap<u64, (StateRole, u64, u64)>,
    last_commit: BTreeMap<u64, u64>,
    /// Each leader's voter configuration when last observed (both halves
    /// while joint).
    last_voters: BTreeMap<u64, JointConfig>,
    proposed_at: BTreeMap<u64, (u64, u64)>,
    pub(crate) stats: Stats,
    pub(crate) clients: Clients,
    pub(crate) faults: FaultState,
    /// The voters of the latest configuration any node applied, both halves
    /// while joint: the cluster's committed membership (a conf change is
    /// applied only once committed).
    pub(super) committed_config: JointConfig,
}

impl Cluster {
    /// Builds a cluster of `cfg.nodes` voters and lets no time pass.
    pub fn new(cfg: SimConfig) -> Cluster {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut net = Network::new(cfg.net.clone());
        net.wire_roundtrip = cfg.wire_roundtrip;
        let mut c = Cluster {
            trace: Trace::new(cfg.keep_trace),
            rng,
            world: World::default(),
            net,
            nodes: BTreeMap::new(),
            checker: Checker::new(),
            violation: None,
            later_violations: Vec::new(),
            events: 0,
            logger: slog::Logger::root(slog::Discard, slog::o!()),
            next_msg_id: 0,
            last_role: BTreeMap::new(),
            last_commit: BTreeMap::new(),
            last_voters: BTreeMap::new(),
            proposed_at: BTreeMap::new(),
            stats: Stats::default(),
            clients: Clients::default(),
            faults: FaultState::default(),
            committed_config: JointConfig::new((1..=cfg.nodes as u64).collect()),
            cfg,
        };
        let voters: Vec<u64> = c.committed_config.ids().into_iter().collect();
        for &id in &voters {
            let store = MemStorage::new_with_conf_state((voters.clone(), vec![]));
            let profile = c.draw_profile();
            c.spawn(id, store, profile);
        }
        c
    }

    pub(crate) fn push(&mut self, kind: EventKind) {
        self.trace.push(self.world.now(), kind);
    }

    /// Records a violated invariant: the first stops the run, unless
    /// `SimConfig::keep_going`, which records the first violation of each
    /// invariant and runs on.
    pub(crate) fn breach(&mut self, (invariant, detail): Breach) {
        if let Some(first) = &self.violation {
            if !self.cfg.keep_going
                || first.invariant == invariant
                || self
                    .later_violations
                    .iter()
                    .any(|v| v.invariant == invariant)
            {
                return;
            }
        }
        self.push(EventKind::Violation {
            invariant: invariant.into(),
            detail: detail.clone(),
        });
        let v = Violation {
            seed: self.cfg.seed,
            event: self.events,
            time_ms: self.world.now(),
            invariant: invariant.into(),
            detail,
            recent: self.trace.recent(40),
        };
        if self.violation.is_none() {
            self.violation = Some(v);
        } else {
            self.later_violations.push(v);
        }
    }

    /// Whether the run stops here: a violation, and not
    /// `SimConfig::keep_going`.
    pub(crate) fn halted(&self) -> bool {
        self.violation.is_some() && !self.cfg.keep_going
    }

    // ----- public API ---------------------------------------------------

    /// Current simulated time in ms.
    pub fn now_ms(&self) -> u64 {
        self.world.now()
    }

    /// Number of events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Counters of the run so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Ids of every node ever created, ascending.
    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// `Err` with the first violated invariant, if any.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        match &self.violation {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    /// Every violated invariant, each with its first violation, in order
    /// (more than one only with `SimConfig::keep_going`).
    pub fn violations(&self) -> Vec<Violation> {
        self.violation
            .iter()
            .chain(self.later_violations.iter())
            .cloned()
            .collect()
    }

    /// The event trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
}

/// splitmix64: a bijective mix, so distinct inputs give unrelated outputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grown_to_five(seed: u64) -> Cluster {
        let mut c = Cluster::new(SimConfig {
            seed,
            ..Default::default()
        });
        c.check_one_leader().unwrap();
        c.add_node(4).unwrap();
        c.add_node(5).unwrap();
        c.one(b"after growth".to_vec(), 5, true).unwrap();
        assert_eq!(c.committed_config, JointConfig::new([1, 2, 3, 4, 5].into()));
        c
    }

    /// Wipes `id`'s disk as if the engine had lost acknowledged writes.
    fn lose_disk(c: &mut Cluster, id: u64) {
        c.crash(id);
        c.nodes.get_mut(&id).unwrap().store = MemStorage::new();
        c.restart(id);
    }

    /// Durability after a membership change (Raft §5.4, §6): the quorum is
    /// the committed voter set's (here 3 of 5), not the start-up one's.
    #[test]
    fn durability_counts_the_committed_voter_set_after_membership_change() {
        let mut c = grown_to_five(3);
        // Two of five losing their disks leaves a holder in every quorum.
        lose_disk(&mut c, 4);
        lose_disk(&mut c, 5);
        c.check_invariants().unwrap();
        // A third leaves a quorum without one: a committed entry could be lost.
        lose_disk(&mut c, 1);
        let v = c.check_invariants().unwrap_err();
        assert_eq!(v.invariant, "durability", "{v}");
    }

    /// TigerBeetle-style liveness phase: only a majority is healed; the rest
    /// stay crashed or cut off, and the cluster still elects and commits.
    #[test]
    fn heal_majority_keeps_only_a_majority_and_progress_follows() {
        let mut c = Cluster::new(SimConfig {
            nodes: 5,
            seed: 11,
            ..Default::default()
        });
        c.check_one_leader().unwrap();
        c.crash(1);
        c.crash(2);
        c.partition(&[&[3], &[4, 5]]);
        let core = c.heal_majority();
        assert_eq!(core.len(), 3, "a bare majority of five: {core:?}");
        for id in 1..=5 {
            let reachable = c.is_up(id) && c.net.is_connected(id);
            assert_eq!(reachable, core.contains(&id), "node {id}, core {core:?}");
        }
        let l = c.check_one_leader().unwrap();
        assert!(core.contains(&l));
        c.one(b"progress".to_vec(), 3, true).unwrap();
        c.check_invariants().unwrap();
    }

    /// A conf change committed during the liveness phase can need a larger
    /// majority (3 of 4 after adding a fourth voter to three): the core
    /// grows to one, so Raft's liveness promise still applies.
    #[test]
    fn heal_majority_core_grows_when_a_conf_change_commits() {
        let mut c = Cluster::new(SimConfig {
            seed: 5,
            ..Default::default()
        });
        c.check_one_leader().unwrap();
        let core = c.heal_majority();
        assert_eq!(core.len(), 2);
        c.add_node(4).unwrap();
        let grown = c.faults.core.clone().unwrap();
        assert!(grown.len() >= 3, "core {grown:?} is no majority of 4");
        let connected = (1..=4).filter(|&i| c.is_up(i) && c.net.is_connected(i));
        assert!(connected.count() >= 3);
        c.one(b"after add".to_vec(), 3, true).unwrap();
        c.check_invariants().unwrap();
    }
}
