//! Node lifecycle: creating a node with its embedder profile, booting it
//! from its durable state, crashing it (possibly mid-Ready) and restarting
//! it.

use rand::Rng;
use tinyraft::Config;
use tinyraft::storage::MemStorage;

use super::{Cluster, splitmix64};
use crate::embedder::{EmbedderMode, EmbedderProfile, Joiner, Snapshots};
use crate::node::{Persisted, SimNode};
use crate::trace::EventKind;
use crate::world::Event;

impl Cluster {
    /// Creates node `id`, waiting to be added through a conf change: with an
    /// empty disk (it learns the membership from a leader's snapshot), or,
    /// if its profile says so, with the cluster's current conf state seeded
    /// on its disk (itself not in it yet: it joins when it replays its own
    /// addition).
    pub(crate) fn spawn_empty(&mut self, id: u64) {
        let profile = self.draw_profile();
        let store = match profile.joiner {
            Joiner::EmptyDisk => MemStorage::new(),
            Joiner::SeededConfState => {
                let cs = self
                    .leader()
                    .and_then(|l| self.nodes.get(&l))
                    .and_then(|n| n.raw.as_ref())
                    .map(|r| r.raft.prs().conf_state())
                    .unwrap_or_else(|| self.committed_conf_state());
                MemStorage::new_with_conf_state(cs)
            }
        };
        self.spawn(id, store, profile);
        self.push(EventKind::Note {
            text: format!("node {id} created ({profile})"),
        });
    }

    /// The profile of a node being created.
    pub(super) fn draw_profile(&mut self) -> EmbedderProfile {
        match self.cfg.embedder {
            EmbedderMode::Fixed(mut p) => {
                if let Some(n) = self.cfg.snapshot_interval {
                    p.snapshots = Snapshots::Periodic(n);
                }
                p
            }
            EmbedderMode::Drawn => EmbedderProfile::draw(&mut self.rng, self.cfg.snapshot_interval),
        }
    }

    /// Creates node `id` over `store` and boots it.
    pub(super) fn spawn(&mut self, id: u64, store: MemStorage, profile: EmbedderProfile) {
        let phase = self.rng.random_range(0..self.cfg.tick_ms.max(1));
        self.nodes.insert(id, SimNode::new(store, phase, profile));
        self.boot(id);
    }

    /// Every node's embedder profile, by id.
    pub fn profiles(&self) -> Vec<(u64, EmbedderProfile)> {
        self.nodes.iter().map(|(&id, n)| (id, n.profile)).collect()
    }

    pub(super) fn node_config(&self, id: u64, incarnation: u64) -> Config {
        let mut c = Config::new(id);
        c.election_tick = self.cfg.election_tick;
        c.heartbeat_tick = self.cfg.heartbeat_tick;
        c.pre_vote = self.cfg.pre_vote;
        c.check_quorum = self.cfg.check_quorum;
        c.skip_bcast_commit = self.cfg.skip_bcast_commit;
        c.max_size_per_msg = self.cfg.max_size_per_msg;
        c.max_inflight_msgs = self.cfg.max_inflight_msgs.max(1);
        c.read_only_option = self.cfg.read_only_option;
        // Each incarnation draws fresh timeouts. The core mixes the node id
        // in by xor, so the incarnation must be mixed non-linearly first:
        // `seed ^ inc * K` made node 1's second life replay node 2's first
        // (the same timeouts, split votes forever).
        c.seed = splitmix64(self.cfg.seed ^ splitmix64(incarnation));
        c
    }

    pub(super) fn boot(&mut self, id: u64) {
        let Some(inc) = self.nodes.get(&id).map(|n| n.incarnation) else {
            return;
        };
        let cfg = self.node_config(id, inc);
        let tick_ms = self.cfg.tick_ms.max(1);
        let now = self.world.now();
        let logger = self.logger.clone();
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if let Err(e) = node.boot(&cfg, &logger) {
            self.breach((
                "restart",
                format!("node {id} cannot boot from its durable state: {e}"),
            ));
            return;
        }
        let snap = node.sm_applied;
        // The next tick on this node's own phase.
        let period_start = now - now % tick_ms;
        let mut at = period_start + node.tick_phase;
        if at <= now {
            at += tick_ms;
        }
        self.world.schedule(
            at,
            Event::Tick {
                node: id,
                incarnation: inc,
            },
        );
        self.checker.on_restart(id, snap);
        if let Some(b) =
            crate::checks::digest_on_restart(&mut self.checker, id, self.nodes.get(&id))
        {
            self.breach(b);
        }
        self.last_role.remove(&id);
        self.last_commit.remove(&id);
        self.drive(id);
    }

    /// Crashes `id`: everything not yet synced to its disk, its timers and
    /// in-flight work are lost.
    pub fn crash(&mut self, id: u64) {
        let mid_ready = self.cfg.crash_mid_ready;
        let Some(n) = self.nodes.get(&id) else {
            return;
        };
        if !n.is_up() {
            return;
        }
        let busy = !n.inflight.is_empty();
        // Where in the Ready cycle the power goes: between Readies (the
        // in-flight writes are lost), in the middle of the oldest write (a
        // prefix of snapshot, entries, hard state is on disk), or after that
        // write and its messages went out but before the core heard of it.
        let point = if mid_ready && busy {
            self.rng.random_range(0..5)
        } else {
            0
        };
        if point == 4 {
            if let Some(w) = self.nodes.get_mut(&id).and_then(|n| n.inflight.pop_front()) {
                let Some(n) = self.nodes.get_mut(&id) else {
                    return;
                };
                let p = if w.synced {
                    n.persist(w.parts)
                } else {
                    Persisted::default()
                };
                self.after_persist(id, p);
                for m in w.persisted_messages {
                    self.send_persisted(m);
                }
            }
        }
        let torn = (1..=3).contains(&point).then_some(point);
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        let p = n.crash(torn);
        self.after_persist(id, p);
        self.checker.quorum.crashed(id);
        self.push(EventKind::Crash { node: id });
        self.check_durability();
    }

    /// Restarts `id` from its durable state only (a live node is crashed
    /// first). Connectivity is unchanged.
    pub fn restart(&mut self, id: u64) {
        if !self.nodes.contains_key(&id) {
            return;
        }
        self.crash(id);
        self.push(EventKind::Restart { node: id });
        self.boot(id);
        // The restarted node campaigns with the configuration its disk
        // holds, which may be older than the one it ran with.
        self.check_durability();
    }

    /// Whether `id` is running (not crashed).
    pub fn is_up(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.is_up())
    }
}
