//! How a simulated cluster is built ([`SimConfig`]) and what a run counts
//! ([`Stats`]).

use tinyraft::ReadOnlyOption;

use crate::disk::DiskConfig;
use crate::embedder::EmbedderMode;
use crate::net::NetConfig;

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
    /// Run on past safety violations (recording the first violation of each
    /// invariant) instead of stopping at the first, so a bug that breaks
    /// one invariant early still reaches the later checks.
    pub keep_going: bool,
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
            keep_going: false,
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
    /// Committed conf changes by kind: simple (V1 or one-change V2), joint
    /// enters, joint leaves (counted once, at their first apply anywhere).
    pub conf_changes: ConfChangeCounts,
}

/// Committed membership changes of a run, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfChangeCounts {
    /// Simple changes (thesis §4.1).
    pub simple: u64,
    /// Changes that entered a joint configuration (thesis §4.3).
    pub enter_joint: u64,
    /// Changes that left one.
    pub leave_joint: u64,
    /// Leaves proposed in a later term than their enter (by another
    /// leader, or the same node after losing and regaining the lead).
    pub leave_in_later_term: u64,
    /// The term of the last joint enter (to tell the above).
    pub last_enter_term: u64,
}
