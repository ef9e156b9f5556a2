//! The IO-free consensus core of tinyraft.
//!
//! [`Raft`] is one node's state machine (election §5.2, replication §5.3,
//! safety §5.4, snapshots §7, membership change, leadership transfer and
//! ReadIndex from Ongaro's thesis). It performs no IO and reads no clock:
//! the application feeds it ticks and messages through [`RawNode`], and
//! takes back a [`Ready`] saying what to persist, send and apply.
//!
//! # What it implements, and the rule behind each feature
//!
//! - **Election** (Raft §5.2, §5.4.1): randomized timeouts in
//!   `[min_election_tick, max_election_tick)` from a seeded `rand_chacha`
//!   generator; one vote per term, only for an up-to-date log.
//!   **Pre-vote** (thesis §9.6, [`Config::pre_vote`]) asks before bumping the
//!   term; **check-quorum** (thesis §6.2, [`Config::check_quorum`]) makes a
//!   leader without a live quorum step down and lets followers that hear from
//!   a leader ignore vote requests.
//! - **Replication** (§5.3) with per-follower flow control
//!   ([`ProgressState`]: probe, replicate with an [`Inflights`] window,
//!   snapshot); rejections carry a hint so divergent logs converge a term at
//!   a time. **Commit** (§5.4.2): only entries of the leader's term are
//!   committed by counting replicas, and the leader counts its own log only
//!   once durable (thesis §10.2.1, [`Raft::on_persist_entries`]).
//! - **Snapshots** (§7): a follower behind the compacted log gets a
//!   `MsgSnapshot`; [`RawNode::report_snapshot`] reports the outcome.
//! - **Leadership transfer** (thesis §3.10): [`RawNode::transfer_leader`].
//! - **Membership change** through the log, with Ongaro's 2015 fix (no
//!   change before the leader commits an entry of its term) and etcd
//!   #12133's (no campaign with committed but unapplied changes):
//!   [`RawNode::propose_conf_change`], [`RawNode::apply_conf_change`];
//!   learners receive the log but never vote. A V1 `ConfChange` (or a
//!   `ConfChangeV2` with one change and the `Auto` transition) changes one
//!   voter directly (thesis §4.1); use a `ConfChangeV2` with several changes
//!   to replace a replica or change two at once through **joint consensus**
//!   (thesis §4.3: every decision needs a majority of the old and of the new
//!   voters until the joint state is left), and `AddLearnerNode` for a voter
//!   in it to demote that voter. See [`Raft::apply_conf_change`] for the
//!   transitions and an example.
//! - **ReadIndex** (thesis §6.4): [`RawNode::read_index`], confirmed by a
//!   heartbeat round, or by the check-quorum lease with
//!   [`ReadOnlyOption::LeaseBased`].
//!
//! Malformed messages are refused with [`Error::InvalidMessage`] before any
//! state changes; storage failures surface as [`Error::Store`]; nothing that
//! comes from the network or from storage makes the core panic.
//!
//! A three-node cluster, driven in one process, electing a leader and
//! committing an entry:
//!
//! ```
//! use slog::{Discard, Logger, o};
//! use tinyraft::eraftpb::Message;
//! use tinyraft::storage::MemStorage;
//! use tinyraft::{Config, RawNode, StateRole};
//!
//! let logger = Logger::root(Discard, o!());
//! let mut nodes: Vec<(RawNode<MemStorage>, MemStorage)> = (1..=3)
//!     .map(|id| {
//!         let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
//!         (RawNode::new(&Config::new(id), store.clone(), &logger).unwrap(), store)
//!     })
//!     .collect();
//!
//! // One round: every node persists, "sends" and applies its Ready.
//! fn pump(nodes: &mut [(RawNode<MemStorage>, MemStorage)], applied: &mut Vec<Vec<u8>>) {
//!     loop {
//!         let mut inflight: Vec<Message> = vec![];
//!         for (node, store) in nodes.iter_mut() {
//!             if !node.has_ready() {
//!                 continue;
//!             }
//!             let rd = node.ready();
//!             inflight.extend(rd.messages.iter().cloned());
//!             {
//!                 let mut core = store.wl();
//!                 if let Some(s) = &rd.snapshot {
//!                     core.apply_snapshot(s.clone()).unwrap();
//!                 }
//!                 core.append(&rd.entries).unwrap();
//!                 if let Some(hs) = &rd.hs {
//!                     core.set_hardstate(*hs);
//!                 }
//!             }
//!             // Durable now: these may go out.
//!             inflight.extend(rd.persisted_messages.iter().cloned());
//!             if node.raft.id == 1 {
//!                 applied.extend(rd.committed_entries.iter().map(|e| e.data.to_vec()));
//!             }
//!             node.advance(rd);
//!         }
//!         if inflight.is_empty() {
//!             return;
//!         }
//!         for m in inflight {
//!             let to = m.to as usize - 1;
//!             let _ = nodes[to].0.step(m);
//!         }
//!     }
//! }
//!
//! let mut applied = vec![];
//! nodes[0].0.campaign().unwrap();
//! pump(&mut nodes, &mut applied);
//! assert_eq!(nodes[0].0.raft.state, StateRole::Leader);
//!
//! nodes[0].0.propose("", "x = 1").unwrap();
//! pump(&mut nodes, &mut applied);
//! assert_eq!(applied.last().unwrap(), b"x = 1");
//! assert!(nodes.iter().all(|(n, _)| n.raft.raft_log.committed == 2));
//! ```

//!
//! # The Ready loop, synchronously
//!
//! After ticking, stepping messages or proposing, an engine asks
//! [`RawNode::has_ready`] and handles each [`Ready`] in this order:
//!
//! 1. send [`Ready::messages`] (a leader's appends and heartbeats may leave
//!    before its own disk write: thesis §10.2.1);
//! 2. persist [`Ready::snapshot`] (with its conf state), then
//!    [`Ready::entries`], then [`Ready::hs`]; fsync if [`Ready::must_sync`];
//! 3. send [`Ready::persisted_messages`] (votes and append answers promise
//!    what is now durable);
//! 4. apply [`Ready::committed_entries`] in order (conf changes through
//!    [`RawNode::apply_conf_change`]) and answer [`Ready::read_states`];
//! 5. call [`RawNode::advance`]; anything it made possible comes in the next
//!    Ready. ([`RawNode::advance_append`] instead returns that follow-up at
//!    once, as a [`LightReady`], and leaves applying to
//!    [`RawNode::advance_apply`].)
//!
//! The example above is this loop.
//!
//! # The Ready loop, asynchronously
//!
//! Engines that persist in the background (TiKV-style) keep several Readies
//! in flight. Each Ready has a [`number`](Ready::number) and hands out only
//! what earlier ones did not:
//!
//! 1. take a Ready, send its `messages`, and start writing its snapshot,
//!    entries and hard state in the background, in Ready order; call
//!    [`RawNode::advance_append_async`];
//! 2. its `committed_entries` are already durable here: apply them whenever
//!    convenient and report with [`RawNode::advance_apply_to`] (or
//!    [`RawNode::advance_apply`]);
//! 3. when the writes of every Ready up to number `n` are durable, send those
//!    Readies' `persisted_messages` and call [`RawNode::on_persist_ready`]`(n)`;
//!    a leader may then count its own log toward a commit.
//!
//! ```
//! use slog::{Discard, Logger, o};
//! use tinyraft::storage::MemStorage;
//! use tinyraft::{Config, RawNode, Ready};
//!
//! let store = MemStorage::new_with_conf_state((vec![1], vec![]));
//! let mut node = RawNode::new(&Config::new(1), store.clone(), &Logger::root(Discard, o!())).unwrap();
//! node.campaign().unwrap();
//! node.propose("", "a").unwrap();
//! let mut in_flight: Vec<Ready> = vec![];
//! let mut applied = vec![];
//! for round in 0..4 {
//!     // Several Readies may be taken before any write finishes.
//!     for _ in 0..2 {
//!         if !node.has_ready() {
//!             break;
//!         }
//!         let rd = node.ready();
//!         applied.extend(rd.committed_entries.iter().map(|e| e.data.clone()));
//!         in_flight.push(rd);
//!         if round == 0 {
//!             node.propose("", "b").unwrap();
//!         }
//!     }
//!     // The background writer finishes everything issued so far, in order.
//!     let mut last = 0;
//!     for rd in in_flight.drain(..) {
//!         let mut core = store.wl();
//!         if let Some(s) = &rd.snapshot {
//!             core.apply_snapshot(s.clone()).unwrap();
//!         }
//!         core.append(&rd.entries).unwrap();
//!         if let Some(hs) = &rd.hs {
//!             core.set_hardstate(*hs);
//!         }
//!         last = rd.number();
//!     }
//!     node.on_persist_ready(last);
//!     node.advance_apply();
//! }
//! assert_eq!(&applied[1][..], b"a", "the empty entry of the term, then a");
//! assert!(applied.iter().filter(|d| &d[..] == b"b").count() >= 1);
//! ```
//!
//! # Adding a node
//!
//! Once a cluster exists, a node's membership comes from its durable state
//! only. A node joining it starts in one of two ways:
//!
//! - **empty storage** ([`MemStorage::new`](storage::MemStorage::new)): it
//!   knows no membership, so it never campaigns and answers the leader's
//!   first append by asking for a snapshot; the leader's
//!   [`Storage::snapshot`]`(index, to)` builds
//!   one that includes it, and it arrives in [`Ready::snapshot`], persisted
//!   (conf state included) before the node acts on it;
//! - **storage seeded with the cluster's membership**
//!   ([`MemStorage::new_with_conf_state`](storage::MemStorage::new_with_conf_state),
//!   without the node itself): it replays the leader's log and joins when it
//!   applies its own addition.
//!
//! Either way the leader proposes the addition
//! ([`RawNode::propose_conf_change`]) once the node is running:
//!
//! ```
//! use slog::{Discard, Logger, o};
//! use tinyraft::eraftpb::{ConfChange, ConfChangeType, EntryType, Message};
//! use tinyraft::prost::Message as _;
//! use tinyraft::storage::MemStorage;
//! use tinyraft::{Config, RawNode};
//!
//! let log = Logger::root(Discard, o!());
//! let mut nodes: Vec<(RawNode<MemStorage>, MemStorage)> = (1..=3)
//!     .map(|id| {
//!         let s = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
//!         (RawNode::new(&Config::new(id), s.clone(), &log).unwrap(), s)
//!     })
//!     .collect();
//! # fn pump(nodes: &mut [(RawNode<MemStorage>, MemStorage)]) {
//! #     loop {
//! #         let mut out: Vec<Message> = vec![];
//! #         for (n, s) in nodes.iter_mut() {
//! #             if !n.has_ready() { continue; }
//! #             let rd = n.ready();
//! #             out.extend(rd.messages.iter().cloned());
//! #             if let Some(snap) = &rd.snapshot { s.wl().apply_snapshot(snap.clone()).unwrap(); }
//! #             s.wl().append(&rd.entries).unwrap();
//! #             if let Some(hs) = &rd.hs { s.wl().set_hardstate(*hs); }
//! #             out.extend(rd.persisted_messages.iter().cloned());
//! #             for e in &rd.committed_entries {
//! #                 if e.entry_type() == EntryType::EntryConfChange {
//! #                     let cc = ConfChange::decode(&e.data[..]).unwrap();
//! #                     let cs = n.apply_conf_change(&cc).unwrap();
//! #                     s.wl().set_conf_state(cs);
//! #                 }
//! #             }
//! #             n.advance(rd);
//! #         }
//! #         if out.is_empty() { return; }
//! #         for m in out { let to = m.to as usize - 1; let _ = nodes[to].0.step(m); }
//! #     }
//! # }
//! nodes[0].0.campaign().unwrap();
//! pump(&mut nodes); // persist, send, apply, advance until quiet
//!
//! // Node 4 starts with empty storage, then the leader adds it.
//! let s4 = MemStorage::new();
//! nodes.push((RawNode::new(&Config::new(4), s4.clone(), &log).unwrap(), s4.clone()));
//! let add = ConfChange { change_type: ConfChangeType::AddNode as i32, node_id: 4, ..Default::default() };
//! nodes[0].0.propose_conf_change("", add).unwrap();
//! pump(&mut nodes);
//! nodes[0].0.ping(); // the next heartbeat brings node 4 in
//! pump(&mut nodes);
//! assert_eq!(s4.rl().conf_state().voters, vec![1, 2, 3, 4], "durable before it acts");
//! assert_eq!(nodes[3].0.raft.prs().voter_ids(), vec![1, 2, 3, 4]);
//! ```

#![forbid(unsafe_code)]

pub mod confchange;
mod config;
#[cfg(feature = "default-logger")]
mod default_logger;
mod election;
mod errors;
mod membership;
pub mod quorum;
mod raft;
mod raw_node;
mod read_only;
mod ready;
mod replication;
mod snapshot;
mod tracker;
mod transfer;
mod uncommitted;
mod validate;

pub use tinyraft_log::storage;
pub use tinyraft_log::storage::{RaftState, Storage};
pub use tinyraft_log::{RaftLog, StorageError};
pub use tinyraft_proto::ConfChangeI;
pub use tinyraft_proto::eraftpb;
pub use tinyraft_proto::prost;

pub use crate::config::{Config, ReadOnlyOption};
pub use crate::errors::{Error, Result};
pub use crate::raft::{CAMPAIGN_TRANSFER, INVALID_ID, Raft, SoftState, StateRole};
pub use crate::raw_node::{RawNode, SnapshotStatus, Status};
pub use crate::read_only::ReadState;
pub use crate::ready::{LightReady, Ready};
pub use crate::tracker::{Inflights, Progress, ProgressState, ProgressTracker};

/// "No limit" for `max_size_per_msg` and other byte limits.
pub const NO_LIMIT: u64 = u64::MAX;

/// Porting from raft-rs: every raft-rs item a port touches, side by side
/// with tinyraft's, and the behaviour differences. (Documentation only;
/// its examples are doc-tested.)
#[doc = include_str!("../docs/porting.md")]
pub mod porting {}

// The crate README's example is doc-tested too.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Helpers an engine's own [`Storage`] uses to behave as the core expects:
/// [`limit_size`](util::limit_size) is the entry-size bound of
/// [`Storage::entries`] (at most `max_size` encoded bytes, at least one
/// entry), counting each entry as [`entry_size`](util::entry_size) does.
///
/// ```
/// use tinyraft::eraftpb::Entry;
/// use tinyraft::util::{entry_size, limit_size};
///
/// let mut ents: Vec<Entry> = (1..=3)
///     .map(|i| Entry { index: i, term: 1, data: "payload".into(), ..Default::default() })
///     .collect();
/// let one = entry_size(&ents[0]);
/// limit_size(&mut ents, Some(one));
/// assert_eq!(ents.len(), 1);
/// ```
pub mod util {
    pub use tinyraft_log::storage::{entry_size, limit_size};
}

/// What a raft-rs program imports with `use raft::prelude::*`, under the
/// same names: `use tinyraft::prelude::*;`.
///
/// ```
/// use tinyraft::prelude::*;
///
/// let store = MemStorage::new_with_conf_state((vec![1], vec![]));
/// let mut node = RawNode::with_default_logger(&Config::new(1), store).unwrap();
/// node.campaign().unwrap();
/// let rd: Ready = node.ready();
/// assert_eq!(rd.ss.map(|ss| ss.raft_state), Some(StateRole::Leader));
/// let _: Option<(Entry, Message, HardState, ConfState, Snapshot)> = None;
/// ```
pub mod prelude {
    pub use crate::ConfChangeI;
    pub use crate::eraftpb::{
        ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2,
        ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
    };
    pub use crate::storage::{MemStorage, RaftState, Storage};
    pub use crate::{
        Config, LightReady, Progress, Raft, RawNode, ReadState, Ready, SnapshotStatus, SoftState,
        StateRole, Status,
    };
}
