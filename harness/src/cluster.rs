//! The `Cluster`: a seeded simulated world of `RawNode`s, driven event by
//! event, with the 6.824-style test API on top and every safety invariant
//! checked after each event.

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{ConfChange, ConfChangeType, Message, MessageType};
use tinyraft::storage::{MemStorage, Storage};
use tinyraft::{Config, ReadOnlyOption, SnapshotStatus, StateRole};

use crate::ack_check::check_durable_ack;
use crate::client::Clients;
use crate::disk::{self, DiskConfig, snapshot_index};
use crate::embedder::{
    Apply, EmbedderMode, EmbedderProfile, Fsync, Joiner, Persistence, Snapshots,
};
use crate::faults::FaultState;
use crate::invariants::{Breach, Checker, Violation};
use crate::net::{NetConfig, Network};
use crate::node::{Ack, ApplyOutcome, Persisted, SimNode, Write, WriteParts};
use crate::trace::{EventKind, Trace};
use crate::world::{Event, World};

/// How a simulated cluster is built. Every field is public and has a
/// default, so tests override only what they care about.
///
/// ```
/// use tinyraft_harness::SimConfig;
/// let cfg = SimConfig { nodes: 5, seed: 42, snapshot_interval: Some(10), ..Default::default() };
/// assert_eq!(cfg.tick_ms, 100);
/// ```
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Voters `1..=nodes` at start.
    pub nodes: usize,
    /// The one seed every random choice of the run derives from.
    pub seed: u64,
    /// Simulated ms per logical tick.
    pub tick_ms: u64,
    /// Election timeout in ticks (randomized in `[et, 2et)` by the core).
    pub election_tick: usize,
    /// Heartbeat interval in ticks.
    pub heartbeat_tick: usize,
    /// Raft thesis §9.6 pre-vote (default on: a node rejoining after a
    /// partition does not depose a working leader).
    pub pre_vote: bool,
    /// Leaders step down without a quorum; followers with a live leader
    /// ignore vote requests. Default off, as in raft-rs and etcd-raft: a
    /// 6.824-style suite expects a leader cut off from the majority to keep
    /// its term until it hears a newer one (with it on, the cut-off leader
    /// steps down, and the election after the cut heals appends one more
    /// empty entry half of the time, which shifts the indexes such suites
    /// check). Campaigns run three seeds in four with it on.
    pub check_quorum: bool,
    /// `Some(n)`: a node that applied `n` entries past its last snapshot
    /// snapshots its state machine and compacts its log (6.824's service).
    pub snapshot_interval: Option<u64>,
    /// Network behaviour.
    pub net: NetConfig,
    /// Disk sync latency.
    pub disk: DiskConfig,
    /// Keep every trace event (for `replay`); otherwise only the hash and the
    /// last events.
    pub keep_trace: bool,
    /// Record message sends and deliveries in the trace (they dominate its
    /// size; the hash covers them only when on).
    pub trace_messages: bool,
    /// Encode and decode every message through the wire format.
    pub wire_roundtrip: bool,
    /// How nodes embed the core (fixed, or drawn per node from the seed).
    pub embedder: EmbedderMode,
    /// Crashes may hit a node in the middle of its Ready cycle (a torn
    /// write: after the snapshot, between entries and hard state; or after
    /// the write and its messages, before `advance`), not only between
    /// Readies. Campaigns turn it on.
    pub crash_mid_ready: bool,
    /// Bug injection at the embedder level: an engine that decides to fsync
    /// by the entries and hard state only, so a Ready carrying just a
    /// snapshot is acknowledged from the page cache.
    pub bug_fsync_ignores_snapshot: bool,
    /// Bug injection, to prove the checkers work: send `persisted_messages`
    /// (votes, append acks) before the disk sync, as a careless engine
    /// would. Always `false` outside such tests.
    pub bug_ack_before_sync: bool,
    /// `Config::max_size_per_msg` (bytes of entries per append; at least
    /// one entry goes out).
    pub max_size_per_msg: u64,
    /// `Config::max_inflight_msgs`.
    pub max_inflight_msgs: usize,
    /// `Config::skip_bcast_commit`: a commit advance rides the next append
    /// or heartbeat (default on: the 6.824 message budgets count every
    /// message).
    pub skip_bcast_commit: bool,
    /// `Config::read_only_option` (LeaseBased needs `check_quorum`).
    pub read_only_option: ReadOnlyOption,
    /// Call `report_unreachable` on the sender when the network drops a
    /// message to a peer (lost, partitioned, or the peer is down).
    pub report_unreachable: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            nodes: 3,
            seed: 0,
            tick_ms: 100,
            election_tick: 10,
            heartbeat_tick: 2,
            pre_vote: true,
            check_quorum: false,
            snapshot_interval: None,
            net: NetConfig::default(),
            disk: DiskConfig::default(),
            keep_trace: false,
            trace_messages: true,
            wire_roundtrip: false,
            embedder: EmbedderMode::default(),
            crash_mid_ready: false,
            bug_fsync_ignores_snapshot: false,
            bug_ack_before_sync: false,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            skip_bcast_commit: true,
            read_only_option: ReadOnlyOption::Safe,
            report_unreachable: false,
        }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Distinct (term, leader) pairs seen: elections won.
    pub elections: u64,
    /// Proposals accepted by a leader (through `start` or clients).
    pub proposals: u64,
    /// Simulated ms from a leader accepting a proposal to its first apply.
    pub commit_latency_ms: Vec<u64>,
    /// Messages handed to the network.
    pub messages: u64,
    /// Steps the core refused with an error (stale or foreign messages).
    pub step_errors: u64,
}

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
    events: u64,
    logger: slog::Logger,
    next_msg_id: u64,
    last_role: BTreeMap<u64, (StateRole, u64, u64)>,
    last_commit: BTreeMap<u64, u64>,
    last_voters: BTreeMap<u64, Vec<u64>>,
    proposed_at: BTreeMap<u64, (u64, u64)>,
    pub(crate) stats: Stats,
    pub(crate) clients: Clients,
    pub(crate) faults: FaultState,
    /// The voter set of the latest configuration any node applied: the
    /// cluster's committed membership (a conf change is applied only once
    /// committed).
    committed_voters: Vec<u64>,
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
            committed_voters: (1..=cfg.nodes as u64).collect(),
            cfg,
        };
        let voters = c.committed_voters.clone();
        for &id in &voters {
            let store = MemStorage::new_with_conf_state((voters.clone(), vec![]));
            let profile = c.draw_profile();
            c.spawn(id, store, profile);
        }
        c
    }

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
                    .unwrap_or_else(|| (self.committed_voters.clone(), vec![]).into());
                MemStorage::new_with_conf_state(cs)
            }
        };
        self.spawn(id, store, profile);
        self.push(EventKind::Note {
            text: format!("node {id} created ({profile})"),
        });
    }

    /// The profile of a node being created.
    fn draw_profile(&mut self) -> EmbedderProfile {
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
    fn spawn(&mut self, id: u64, store: MemStorage, profile: EmbedderProfile) {
        let phase = self.rng.random_range(0..self.cfg.tick_ms.max(1));
        self.nodes.insert(id, SimNode::new(store, phase, profile));
        self.boot(id);
    }

    /// Every node's embedder profile, by id.
    pub fn profiles(&self) -> Vec<(u64, EmbedderProfile)> {
        self.nodes.iter().map(|(&id, n)| (id, n.profile)).collect()
    }

    fn node_config(&self, id: u64, incarnation: u64) -> Config {
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

    fn boot(&mut self, id: u64) {
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

    // ----- the event loop ---------------------------------------------

    pub(crate) fn process(&mut self, ev: Event) {
        self.events += 1;
        match ev {
            Event::Deliver { id, msg } => self.deliver(id, *msg),
            Event::Tick { node, incarnation } => {
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.incarnation != incarnation {
                    return;
                }
                let Some(raw) = n.raw.as_mut() else {
                    return;
                };
                raw.tick();
                let tick = self.cfg.tick_ms.max(1);
                self.world.after(tick, Event::Tick { node, incarnation });
                self.drive(node);
            }
            Event::DiskSync {
                node,
                incarnation,
                write,
            } => {
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.incarnation != incarnation {
                    return;
                }
                // Syncs complete in order: this one covers every earlier write.
                while let Some(w) = self.nodes.get_mut(&node).and_then(|n| {
                    n.inflight
                        .front()
                        .is_some_and(|w| w.id <= write)
                        .then(|| n.inflight.pop_front())
                        .flatten()
                }) {
                    self.complete_write(node, w);
                }
                self.drive(node);
            }
            Event::Apply { node, incarnation } => {
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.incarnation != incarnation || !n.is_up() {
                    return;
                }
                n.apply_scheduled = false;
                let out = n.apply_queued();
                self.after_apply(node, out);
                self.drive(node);
            }
            Event::SnapshotStatus { node, to, ok } => {
                if let Some(raw) = self.nodes.get_mut(&node).and_then(|n| n.raw.as_mut()) {
                    let st = if ok {
                        SnapshotStatus::Finish
                    } else {
                        SnapshotStatus::Failure
                    };
                    raw.report_snapshot(to, st);
                    self.drive(node);
                }
            }
            Event::Client { client } => self.client_event(client),
            Event::Fault { step } => self.fault_event(step),
        }
    }

    fn deliver(&mut self, id: u64, msg: Message) {
        let (from, to) = (msg.from, msg.to);
        let is_snap = msg.msg_type() == MessageType::MsgSnapshot;
        let up = self.nodes.get(&to).is_some_and(|n| n.is_up());
        let reason = if !up {
            Some("crashed")
        } else if !self.net.link_ok(from, to) {
            Some("disconnected")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.unreachable(from, to);
            if self.cfg.trace_messages {
                self.push(EventKind::Drop {
                    id,
                    from,
                    to,
                    reason: reason.into(),
                });
            }
            if is_snap {
                self.world.after(
                    0,
                    Event::SnapshotStatus {
                        node: from,
                        to,
                        ok: false,
                    },
                );
            }
            return;
        }
        if self.cfg.trace_messages {
            self.push(EventKind::Deliver { id, from, to });
        }
        let now = self.world.now();
        self.checker.quorum.delivered(to, from, now);
        if let Err(b) = self.checker.sent.check(&msg) {
            self.breach(b);
            return;
        }
        self.on_deliver(&msg);
        if let Some(raw) = self.nodes.get_mut(&to).and_then(|n| n.raw.as_mut()) {
            if raw.step(msg).is_err() {
                self.stats.step_errors += 1;
            }
        }
        if is_snap {
            self.world.after(
                0,
                Event::SnapshotStatus {
                    node: from,
                    to,
                    ok: true,
                },
            );
        }
        self.drive(to);
    }

    pub(crate) fn send(&mut self, mut msg: Message) {
        if self.net.wire_roundtrip {
            match Message::decode(&msg.encode_to_vec()[..]) {
                Ok(m) => msg = m,
                Err(e) => {
                    self.breach(("wire_format", format!("message {msg} does not decode: {e}")));
                    return;
                }
            }
        }
        self.checker.sent.record(&msg);
        self.next_msg_id += 1;
        let id = self.next_msg_id;
        self.stats.messages += 1;
        let now = self.world.now();
        let routing = self.net.route_at(now, &mut self.rng, &msg);
        if self.cfg.trace_messages {
            self.push(EventKind::Send {
                id,
                from: msg.from,
                to: msg.to,
                msg_type: msg.msg_type().as_str_name().to_string(),
                term: msg.term,
                index: msg.index,
                log_term: msg.log_term,
                commit: msg.commit,
                entries: msg.entries.len() as u32,
                reject: msg.reject,
            });
        }
        if routing.delays.is_empty() {
            self.unreachable(msg.from, msg.to);
            if self.cfg.trace_messages {
                let reason = if self.net.link_ok(msg.from, msg.to) {
                    "random"
                } else {
                    "partition"
                };
                self.push(EventKind::Drop {
                    id,
                    from: msg.from,
                    to: msg.to,
                    reason: reason.into(),
                });
            }
            if msg.msg_type() == MessageType::MsgSnapshot {
                self.world.after(
                    0,
                    Event::SnapshotStatus {
                        node: msg.from,
                        to: msg.to,
                        ok: false,
                    },
                );
            }
            return;
        }
        let n = routing.delays.len();
        for (k, d) in routing.delays.into_iter().enumerate() {
            if k > 0 && self.cfg.trace_messages {
                self.push(EventKind::Duplicate { id });
            }
            let m = if k + 1 == n {
                std::mem::take(&mut msg)
            } else {
                msg.clone()
            };
            self.world.after(
                d,
                Event::Deliver {
                    id,
                    msg: Box::new(m),
                },
            );
        }
    }

    /// The transport tells `from` it could not reach `to` (when
    /// `SimConfig::report_unreachable` is on); `from` is driven later, by
    /// its next event.
    fn unreachable(&mut self, from: u64, to: u64) {
        if !self.cfg.report_unreachable || from == to {
            return;
        }
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_unreachable(to);
        }
    }

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
    fn apply_step(&mut self, id: u64) {
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
                let now = self.world.now();
                let delay = self.rng.random_range(1..=30)
                    + self.nodes.get(&id).map_or(0, |n| n.disk.apply_extra(now));
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
    fn complete_write(&mut self, id: u64, w: Write) {
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
    fn send_persisted(&mut self, m: Message) {
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
    fn after_persist(&mut self, id: u64, p: Persisted) {
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
    fn after_apply(&mut self, id: u64, out: ApplyOutcome) {
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
                    change: format!("{:?} {} -> {cs}", cc.change_type(), cc.node_id),
                });
                if first {
                    self.committed_voters = cs.voters.clone();
                    self.check_durability();
                }
                // A node replaying its log after a restart (its durable
                // commit may lag) counts votes by each configuration it
                // passes through: the liveness core must hold a majority of
                // each.
                self.grow_core();
            }
            if let Some((cmd, res)) = &a.kv {
                self.client_applied(a.index, cmd, res);
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

    /// Compares a node's role, hard state and commit with what was last
    /// seen, records changes and runs the per-node invariants.
    fn observe(&mut self, id: u64) {
        let Some(raw) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return;
        };
        let r = &raw.raft;
        let term = r.term;
        let now_role = (r.state, r.term, r.leader_id);
        let hs = r.hard_state();
        let commit = r.raft_log.committed;
        let mut breaches: Vec<Breach> = Vec::new();
        let mut events = Vec::new();
        if self.last_role.get(&id) != Some(&now_role) {
            let was_leader = self
                .last_role
                .get(&id)
                .is_some_and(|&(s, t, _)| s == StateRole::Leader && t == r.term);
            events.push(EventKind::Role {
                node: id,
                role: role_name(r.state).into(),
                term: r.term,
                leader: r.leader_id,
            });
            if r.state == StateRole::Leader && !was_leader {
                if self.checker.known_leader(r.term).is_none() {
                    self.stats.elections += 1;
                }
                if let Err(b) = self.checker.on_role(id, r.term, true) {
                    breaches.push(b);
                }
                let last = r.raft_log.last_index();
                if let Err(b) = self
                    .checker
                    .on_new_leader(id, r.term, last, |i| r.raft_log.term(i).ok())
                {
                    breaches.push(b);
                }
                let ours = r.prs().voter_ids();
                if let Err(b) = crate::schedules::election_config(
                    id,
                    r.term,
                    &ours,
                    &self.committed_voters,
                    self.knows_unapplied_conf(id),
                ) {
                    breaches.push(b);
                }
            }
            self.last_role.insert(id, now_role);
        }
        if let Err(b) = self.checker.on_hard_state(id, &hs) {
            breaches.push(b);
        }
        let leader_commit =
            r.state == StateRole::Leader && self.last_commit.get(&id).is_some_and(|&c| c < commit);
        if self.last_commit.get(&id) != Some(&commit) {
            events.push(EventKind::Commit {
                node: id,
                index: commit,
            });
            if r.state == StateRole::Leader && commit > 0 {
                // Commit never exceeds what a quorum of voters durably holds.
                if let Ok(t) = r.raft_log.term(commit) {
                    // The configuration that counted may be the one before
                    // this event applied a conf change, or the one after
                    // (the core re-counts when a change shrinks the quorum):
                    // a durable majority of either is sound.
                    let now_voters = r.prs().voter_ids();
                    let before = self
                        .last_voters
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| now_voters.clone());
                    let holding = |vs: &[u64]| {
                        vs.iter()
                            .filter(|v| {
                                self.nodes
                                    .get(v)
                                    .is_some_and(|n| durably_holds(&n.store, commit, t))
                            })
                            .count()
                    };
                    let (h_now, h_before) = (holding(&now_voters), holding(&before));
                    if h_now * 2 <= now_voters.len() && h_before * 2 <= before.len() {
                        breaches.push((
                            "commit_quorum",
                            format!(
                                "leader {id} committed {t}/{commit} but only {h_now} of voters {now_voters:?} store it durably",
                            ),
                        ));
                    }
                }
            }
            self.last_commit.insert(id, commit);
        }
        if r.state == StateRole::Leader && !r.prs().is_voter(id) {
            // A leader that applied its own removal steps down at once.
            breaches.push((
                "leader_is_voter",
                format!(
                    "node {id} leads term {} but is not a voter of its configuration {:?}",
                    r.term,
                    r.prs().voter_ids()
                ),
            ));
        }
        let leading = (r.state == StateRole::Leader && self.cfg.check_quorum)
            .then(|| (r.term, r.prs().voter_ids()));
        let window = crate::checks::check_quorum_window(&self.cfg);
        if let Err(b) = self
            .checker
            .quorum
            .observe(id, leading, self.world.now(), window)
        {
            breaches.push(b);
        }
        if r.state == StateRole::Leader {
            let voters = r.prs().voter_ids();
            if self.last_voters.get(&id) != Some(&voters) {
                self.last_voters.insert(id, voters);
            }
        } else {
            self.last_voters.remove(&id);
        }
        let new_leader = events
            .iter()
            .any(|e| matches!(e, EventKind::Role { role, .. } if role == "leader"));
        for e in events {
            self.push(e);
        }
        for b in breaches {
            self.breach(b);
        }
        if new_leader {
            self.on_new_leader(id);
        } else if leader_commit {
            self.on_leader_commit(id, term);
        }
        self.on_observed(id);
    }

    pub(crate) fn push(&mut self, kind: EventKind) {
        self.trace.push(self.world.now(), kind);
    }

    pub(crate) fn breach(&mut self, (invariant, detail): Breach) {
        if self.violation.is_some() {
            return;
        }
        self.push(EventKind::Violation {
            invariant: invariant.into(),
            detail: detail.clone(),
        });
        self.violation = Some(Violation {
            seed: self.cfg.seed,
            event: self.events,
            time_ms: self.world.now(),
            invariant: invariant.into(),
            detail,
            recent: self.trace.recent(40),
        });
    }

    /// Runs events up to absolute time `end` (stops early on a violation).
    pub(crate) fn run_to(&mut self, end: u64) {
        while self.violation.is_none() {
            match self.world.pop_until(end) {
                Some(ev) => self.process(ev),
                None => break,
            }
        }
        self.world.advance_to(end);
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

    /// Advances simulated time by `ms`, processing every event due.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.world.now().saturating_add(ms);
        self.run_to(end);
    }

    /// Runs until `pred` holds (checked after every event) or `max_ms` pass;
    /// returns whether `pred` held.
    pub fn run_until(&mut self, max_ms: u64, mut pred: impl FnMut(&Cluster) -> bool) -> bool {
        let end = self.world.now().saturating_add(max_ms);
        if pred(self) {
            return true;
        }
        while self.violation.is_none() {
            match self.world.pop_until(end) {
                Some(ev) => {
                    self.process(ev);
                    if pred(self) {
                        return true;
                    }
                }
                None => break,
            }
        }
        self.world.advance_to(end);
        pred(self)
    }

    fn live_connected(&self) -> impl Iterator<Item = (u64, &SimNode)> + '_ {
        self.nodes
            .iter()
            .filter(|(id, n)| n.is_up() && self.net.is_connected(**id))
            .map(|(id, n)| (*id, n))
    }

    /// The unique leader of the highest term among live connected nodes.
    pub fn leader(&self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        let mut tie = false;
        for (id, n) in self.live_connected() {
            let Some(raw) = n.raw.as_ref() else { continue };
            if raw.raft.state != StateRole::Leader {
                continue;
            }
            match best {
                Some((t, _)) if raw.raft.term < t => {}
                Some((t, _)) if raw.raft.term == t => tie = true,
                _ => {
                    best = Some((raw.raft.term, id));
                    tie = false;
                }
            }
        }
        if tie { None } else { best.map(|(_, id)| id) }
    }

    fn violation_err(&self) -> Option<String> {
        self.violation.as_ref().map(|v| v.to_string())
    }

    /// 6.824's `checkOneLeader`: up to 10 polls, each after 450–550 ms of
    /// simulated time; fails if some term has two leaders or none is found.
    pub fn check_one_leader(&mut self) -> Result<u64, String> {
        for _ in 0..10 {
            let ms = self.rng.random_range(450..=550);
            self.run_for(ms);
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let mut by_term: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for (id, n) in self.live_connected() {
                if let Some(raw) = n.raw.as_ref() {
                    if raw.raft.state == StateRole::Leader {
                        by_term.entry(raw.raft.term).or_default().push(id);
                    }
                }
            }
            for (t, ls) in &by_term {
                if ls.len() > 1 {
                    return Err(format!("term {t} has {} (>1) leaders: {ls:?}", ls.len()));
                }
            }
            if let Some((_, ls)) = by_term.last_key_value() {
                return Ok(ls[0]);
            }
        }
        Err("expected one leader, got none".into())
    }

    /// No live connected node believes it leads.
    pub fn check_no_leader(&self) -> Result<(), String> {
        for (id, n) in self.live_connected() {
            if n.raw
                .as_ref()
                .is_some_and(|r| r.raft.state == StateRole::Leader)
            {
                return Err(format!(
                    "expected no leader among connected servers, but {id} claims to be leader"
                ));
            }
        }
        Ok(())
    }

    /// Live connected nodes agree on the term; returns it (0 if none).
    pub fn check_terms(&self) -> Result<u64, String> {
        let mut term = None;
        for (id, n) in self.live_connected() {
            let Some(raw) = n.raw.as_ref() else { continue };
            match term {
                None => term = Some(raw.raft.term),
                Some(t) if t != raw.raft.term => {
                    return Err(format!(
                        "servers disagree on term: {t} vs {} (node {id})",
                        raw.raft.term
                    ));
                }
                _ => {}
            }
        }
        Ok(term.unwrap_or(0))
    }

    /// Current term of `id`; for a crashed node, its last durable term.
    pub fn term_of(&self, id: u64) -> u64 {
        match self.nodes.get(&id) {
            Some(n) => match n.raw.as_ref() {
                Some(r) => r.raft.term,
                None => n.store.rl().hard_state().term,
            },
            None => 0,
        }
    }

    /// Whether `id` is up and believes it leads.
    pub fn is_leader(&self, id: u64) -> bool {
        self.nodes
            .get(&id)
            .and_then(|n| n.raw.as_ref())
            .is_some_and(|r| r.raft.state == StateRole::Leader)
    }

    /// Proposes `cmd` on `id` if it is a live leader: `(index, term)` it took.
    pub fn start(&mut self, id: u64, cmd: Vec<u8>) -> Option<(u64, u64)> {
        let r = self.propose_on(id, cmd.into());
        if r.is_some() {
            self.drive(id);
        }
        r
    }

    /// Proposes without driving the node (callers batch, then drive).
    pub(crate) fn propose_on(&mut self, id: u64, data: Bytes) -> Option<(u64, u64)> {
        let now = self.world.now();
        let raw = self.nodes.get_mut(&id)?.raw.as_mut()?;
        if raw.raft.state != StateRole::Leader {
            return None;
        }
        let before = raw.raft.raft_log.last_index();
        raw.propose(Bytes::new(), data).ok()?;
        let idx = raw.raft.raft_log.last_index();
        let term = raw.raft.term;
        if idx <= before {
            return None;
        }
        self.stats.proposals += 1;
        self.proposed_at.insert(idx, (term, now));
        self.push(EventKind::Propose {
            node: id,
            index: idx,
            term,
        });
        Some((idx, term))
    }

    /// 6.824's `cfg.one`: submit `cmd` to whichever live connected node
    /// leads, and wait for `expected_nodes` to apply it; retries for up to
    /// 10 s simulated (re-submitting if `retry`).
    pub fn one(&mut self, cmd: Vec<u8>, expected_nodes: usize, retry: bool) -> Result<u64, String> {
        let t0 = self.now_ms();
        let ids = self.node_ids();
        let mut starts = 0usize;
        while self.now_ms() < t0 + 10_000 {
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let mut index = None;
            for _ in 0..ids.len() {
                starts = (starts + 1) % ids.len();
                let id = ids[starts];
                if self.net.is_connected(id) && self.is_up(id) {
                    if let Some((i, _)) = self.start(id, cmd.clone()) {
                        index = Some(i);
                        break;
                    }
                }
            }
            if let Some(index) = index {
                let t1 = self.now_ms();
                while self.now_ms() < t1 + 2_000 {
                    let (nd, v) = self.n_committed(index);
                    if nd > 0 && nd >= expected_nodes && v.as_deref() == Some(&cmd[..]) {
                        return Ok(index);
                    }
                    self.run_for(20);
                }
                if !retry {
                    return Err(format!(
                        "one({:?}) failed to reach agreement",
                        String::from_utf8_lossy(&cmd)
                    ));
                }
            } else {
                self.run_for(50);
            }
        }
        Err(format!(
            "one({:?}) failed to reach agreement",
            String::from_utf8_lossy(&cmd)
        ))
    }

    /// How many nodes applied `index` (ever, across restarts), and the
    /// entry's data (empty for an empty entry). Disagreement between nodes
    /// is a `state_machine_safety` violation, reported by
    /// [`Cluster::check_invariants`].
    pub fn n_committed(&self, index: u64) -> (usize, Option<Vec<u8>>) {
        let n = self
            .nodes
            .keys()
            .filter(|id| self.checker.max_applied(**id) >= index)
            .count();
        let data = if n > 0 {
            self.checker.committed_entry(index).map(|(_, d)| d.to_vec())
        } else {
            None
        };
        (n, data)
    }

    /// 6.824's `cfg.wait`: waits (with backoff, about 10 s at most) for `n`
    /// nodes to apply `index`. `Ok(None)` if some node moved past
    /// `start_term`; `Err` if too few applied it.
    pub fn wait(
        &mut self,
        index: u64,
        n: usize,
        start_term: Option<u64>,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut to = 10;
        for _ in 0..30 {
            let (nd, _) = self.n_committed(index);
            if nd >= n {
                break;
            }
            self.run_for(to);
            if to < 1000 {
                to *= 2;
            }
            if let Some(st) = start_term {
                let moved = self
                    .nodes
                    .values()
                    .filter_map(|nd| nd.raw.as_ref())
                    .any(|r| r.raft.term > st);
                if moved {
                    return Ok(None);
                }
            }
        }
        let (nd, v) = self.n_committed(index);
        if nd < n {
            return Err(format!("only {nd} decided for index {index}; wanted {n}"));
        }
        Ok(v)
    }

    /// Cuts `id` off the network (it keeps running).
    pub fn disconnect(&mut self, id: u64) {
        self.net.disconnect(id);
        self.push(EventKind::Disconnect { node: id });
    }

    /// Reconnects `id`.
    pub fn connect(&mut self, id: u64) {
        self.net.connect(id);
        self.push(EventKind::Connect { node: id });
    }

    /// Splits the network into `groups`; nodes in no group are isolated.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        self.net.partition(groups);
        self.push(EventKind::Partition {
            groups: groups.iter().map(|g| g.to_vec()).collect(),
        });
    }

    /// Blocks messages from `from` to `to` only (an asymmetric cut).
    pub fn cut_one_way(&mut self, from: u64, to: u64) {
        self.net.cut(from, to);
        self.push(EventKind::Fault {
            description: format!("cut {from}->{to}"),
        });
    }

    /// Reconnects everyone and clears partitions and cuts.
    pub fn heal(&mut self) {
        self.net.heal();
        self.push(EventKind::Heal);
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

    /// 6.824's unreliable network: 10% drops, 0–27 ms delays. `false`
    /// returns to `SimConfig::net`.
    pub fn set_unreliable(&mut self, on: bool) {
        self.net.set_unreliable(on);
    }

    /// 6.824's long reordering: about 2/3 of responses are delayed
    /// 200 + U(0, U(0, 2000)) ms.
    pub fn set_long_reordering(&mut self, on: bool) {
        self.net.set_long_reordering(on);
    }

    /// Messages `id` handed to the network since the run began.
    pub fn messages_sent(&self, id: u64) -> u64 {
        self.net.traffic(id).messages
    }

    /// Encoded bytes of those messages.
    pub fn bytes_sent(&self, id: u64) -> u64 {
        self.net.traffic(id).bytes
    }

    /// The index `id` has applied; for a crashed node, what its durable
    /// state restores (its durable commit index, at least its snapshot).
    pub fn applied_index(&self, id: u64) -> u64 {
        let Some(n) = self.nodes.get(&id) else {
            return 0;
        };
        if n.is_up() {
            return n.sm_applied;
        }
        let commit = n.store.rl().hard_state().commit;
        let last = n.store.last_index().unwrap_or(0);
        commit.min(last).max(snapshot_index(&n.store))
    }

    /// First index of `id`'s durable log (snapshot index + 1).
    pub fn first_index(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .and_then(|n| n.store.first_index().ok())
            .unwrap_or(0)
    }

    /// Last index of `id`'s durable log.
    pub fn last_index(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .and_then(|n| n.store.last_index().ok())
            .unwrap_or(0)
    }

    /// Encoded size of `id`'s durable hard state and log entries.
    pub fn persisted_bytes(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .map(|n| disk::persisted_bytes(&n.store))
            .unwrap_or(0)
    }

    /// Encoded size of `id`'s durable snapshot.
    pub fn snapshot_bytes(&self, id: u64) -> u64 {
        self.nodes
            .get(&id)
            .map(|n| disk::snapshot_bytes(&n.store))
            .unwrap_or(0)
    }

    fn change_membership(&mut self, change_type: ConfChangeType, id: u64) -> Result<(), String> {
        if change_type != ConfChangeType::RemoveNode && !self.nodes.contains_key(&id) {
            // A new node waits to be added and learns the configuration
            // from the leader (see `spawn_empty`).
            self.spawn_empty(id);
        }
        let cc = ConfChange {
            change_type: change_type as i32,
            node_id: id,
            context: Bytes::new(),
        };
        let deadline = self.now_ms() + 10_000;
        while self.now_ms() < deadline {
            if let Some(e) = self.violation_err() {
                return Err(e);
            }
            let Some(l) = self.leader() else {
                self.run_for(50);
                continue;
            };
            let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) else {
                self.run_for(50);
                continue;
            };
            let before = raw.raft.raft_log.last_index();
            if raw.propose_conf_change(Bytes::new(), cc.clone()).is_err() {
                self.run_for(50);
                continue;
            }
            let idx = raw.raft.raft_log.last_index();
            let term = raw.raft.term;
            if idx <= before {
                self.run_for(50);
                continue;
            }
            self.push(EventKind::Propose {
                node: l,
                index: idx,
                term,
            });
            self.drive(l);
            let left = deadline.saturating_sub(self.now_ms());
            self.run_until(left, |c| c.checker.committed_len() >= idx);
            match self.checker.committed_entry(idx) {
                Some((t, _)) if *t == term => return Ok(()),
                Some(_) => continue,
                None => break,
            }
        }
        Err(format!("{change_type:?} {id}: not committed within 10 s"))
    }

    /// Adds `id` as a voter through a conf change in the log (creating the
    /// node if needed); returns once the change is committed.
    pub fn add_node(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::AddNode, id)
    }

    /// Adds `id` as a learner (or demotes nothing: see the core's rules).
    pub fn add_learner(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::AddLearnerNode, id)
    }

    /// Removes `id` from the membership; the node keeps running.
    pub fn remove_node(&mut self, id: u64) -> Result<(), String> {
        self.change_membership(ConfChangeType::RemoveNode, id)
    }

    /// Asks the current leader to hand leadership to `to`; returns once `to`
    /// leads (at most 5 s simulated).
    pub fn transfer_leader(&mut self, to: u64) -> Result<(), String> {
        let Some(l) = self.leader() else {
            return Err("no leader to transfer from".into());
        };
        if l == to {
            return Ok(());
        }
        if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
            raw.transfer_leader(to);
        }
        self.push(EventKind::Fault {
            description: format!("transfer leader {l} -> {to}"),
        });
        self.drive(l);
        if self.run_until(5_000, |c| c.is_leader(to)) {
            Ok(())
        } else {
            Err(format!(
                "leadership did not move from {l} to {to} within 5 s"
            ))
        }
    }

    /// Snapshots `id`'s state machine at `index` (≤ applied) and compacts its
    /// log through it. No-op if `id` is down, `index` is past what it applied
    /// or not past its snapshot.
    pub fn compact(&mut self, id: u64, index: u64) {
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if !n.is_up() || index > n.sm_applied || index <= n.last_snap {
            return;
        }
        if n.profile.snapshots == Snapshots::Never {
            // This engine never snapshots by hand.
            return;
        }
        match n.snapshot_upto(index) {
            Ok(true) => self.push(EventKind::Snapshot { node: id, index }),
            Ok(false) => {}
            Err(e) => self.breach(("storage", format!("node {id} compact({index}): {e}"))),
        }
    }

    /// `Err` with the first violated invariant, if any.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        match &self.violation {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    /// The event trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The voter sets that could elect a leader now: the committed one, and
    /// the one each live member of it currently uses (a member that has not
    /// applied the latest change yet still counts votes by the one before;
    /// single-step changes keep the two overlapping). Sorted, deduplicated.
    pub(crate) fn voter_configs(&self) -> Vec<Vec<u64>> {
        let mut configs = vec![self.committed_voters.clone()];
        for id in &self.committed_voters {
            if let Some(raw) = self.nodes.get(id).and_then(|n| n.raw.as_ref()) {
                let vs = raw.raft.prs().voter_ids();
                if vs.contains(id) {
                    configs.push(vs);
                }
            }
        }
        configs.sort();
        configs.dedup();
        configs
    }

    /// Durability (Raft §5.4 with crashes that lose unsynced writes): no
    /// quorum of the committed voter set can form without a node whose disk
    /// still holds the committed prefix; otherwise that quorum could elect a
    /// leader lacking a committed entry. Checked after every crash, restart
    /// and membership change, the only events that shrink what is durable
    /// or change the quorums.
    ///
    /// Only the committed configuration is checked: a member still counting
    /// by an older one cannot gather its votes past the members whose longer
    /// logs hold the newer configuration (the safety argument of apply-time
    /// single-step changes). Had one done so, election safety, leader
    /// completeness and state machine safety would still catch the
    /// consequences.
    fn check_durability(&mut self) {
        let g = self.checker.committed_len();
        let Some((t, _)) = self.checker.committed_entry(g) else {
            return;
        };
        let t = *t;
        let holds = |id: &u64| {
            self.nodes
                .get(id)
                .is_some_and(|n| durably_holds(&n.store, g, t))
        };
        let vs = &self.committed_voters;
        let missing: Vec<u64> = vs.iter().copied().filter(|v| !holds(v)).collect();
        if missing.len() > vs.len() / 2 {
            let detail = format!(
                "committed entry {t}/{g} is missing from the disks of {missing:?}, a quorum of voters {vs:?}"
            );
            self.breach(("durability", detail));
        }
    }
}

/// splitmix64: a bijective mix, so distinct inputs give unrelated outputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether `store` durably holds entry (index, term), or a snapshot past it.
fn durably_holds(store: &MemStorage, index: u64, term: u64) -> bool {
    if snapshot_index(store) >= index {
        return true;
    }
    store.term(index).is_ok_and(|t| t == term)
}

fn role_name(r: StateRole) -> &'static str {
    match r {
        StateRole::Follower => "follower",
        StateRole::Candidate => "candidate",
        StateRole::PreCandidate => "pre_candidate",
        StateRole::Leader => "leader",
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
        assert_eq!(c.committed_voters, vec![1, 2, 3, 4, 5]);
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
