//! Test-side helpers shared by the integration suites of tinyraft.
//!
//! Everything here programs against the public contract (`API.md`) only:
//!
//! - [`builders`]: configs, storages, `Raft`/`RawNode` constructors, entries
//!   and messages, and [`builders::persist`], which plays the engine's disk for
//!   a bare `Raft`.
//! - [`faulty_storage`]: a `MemStorage` whose reads or snapshots can be
//!   made to fail.
//! - [`network`]: an in-process, FIFO, deterministic [`network::Network`] of
//!   `Raft` peers (or black holes) with drop/cut/isolate/ignore faults, in the
//!   style of etcd's and TinyKV's test networks.
//! - [`ready`]: the `RawNode` Ready cycle exactly as API.md describes it
//!   ([`ready::handle_ready`]) and a [`ready::RawCluster`] of `RawNode`s that
//!   runs it for every node.
//!
//! The suites (`tests/tests/`), one file per part; every test name ends in
//! its part, so `cargo test -p tinyraft-tests --release 2ab` runs one part:
//!
//! | file | part | what |
//! |---|---|---|
//! | `raft_2aa.rs` | 2aa | election: §5.1 terms, §5.2 votes/timeouts, §5.4.1, pre-vote, check-quorum, determinism, config |
//! | `raft_2ab.rs` | 2ab | replication: §5.3, Figure 7, Figure 8, quorum, Own-log rule, flow control, batching |
//! | `raft_safety_2ab.rs` | 2ab | seeded random faults; election, log-matching and state-machine safety after every step |
//! | `raft_2ac.rs` | 2ac | RawNode/Ready: ss/hs, sorting, `must_sync`, restart, errors, `status()` |
//! | `hostile_input.rs` | — | malformed and random messages, `u64::MAX`, storage errors |
//! | `raft_2c.rs` | 2c | snapshots and compaction |
//! | `raft_3a.rs` | 3a | leader transfer, membership, learners, ReadIndex, regression scenarios |
//! | `raft_random_3a.rs` | 3a | seeded random RawNode clusters with membership, snapshots, restarts |
//! | `embedder_contract.rs` | — | issue 14: one regression per embedder-contract bug (durable joiners, `must_sync`, §6.4.1 leases, …), async Readies, Config limits |

pub mod builders;
pub mod faulty_storage;
pub mod fuzzing;
pub mod network;
pub mod ready;

pub use builders::*;
pub use network::{Network, Peer};
pub use ready::{RawCluster, ReadyRecord, handle_ready};
