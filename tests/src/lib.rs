//! Test-side helpers shared by the integration suites of tinyraft.
//!
//! Everything here programs against the public contract (`API.md`) only:
//!
//! - [`builders`]: configs, storages, `Raft`/`RawNode` constructors, entries
//!   and messages, and [`builders::persist`], which plays the engine's disk for
//!   a bare `Raft`.
//! - [`network`]: an in-process, FIFO, deterministic [`network::Network`] of
//!   `Raft` peers (or black holes) with drop/cut/isolate/ignore faults, in the
//!   style of etcd's and TinyKV's test networks.
//! - [`ready`]: the `RawNode` Ready cycle exactly as API.md describes it
//!   ([`ready::handle_ready`]) and a [`ready::RawCluster`] of `RawNode`s that
//!   runs it for every node.

pub mod builders;
pub mod network;
pub mod ready;

pub use builders::*;
pub use network::{Network, Peer};
pub use ready::{RawCluster, ReadyRecord, handle_ready};
