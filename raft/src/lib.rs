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
//! - **Membership change**, one node at a time through the log (thesis
//!   §4.1), with Ongaro's 2015 fix (no change before the leader commits an
//!   entry of its term) and etcd #12133's (no campaign with committed but
//!   unapplied changes): [`RawNode::propose_conf_change`],
//!   [`RawNode::apply_conf_change`]; learners receive the log but never vote.
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

#![forbid(unsafe_code)]

mod config;
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
pub use tinyraft_log::{RaftLog, StorageError};
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
