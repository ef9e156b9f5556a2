//! Deterministic simulator for tinyraft clusters.
//!
//! One `u64` seed drives a whole run: a discrete-event world with simulated
//! time, real [`tinyraft::RawNode`]s over simulated disks (writes become
//! durable only after a sync delay; a crash loses what was not synced), a
//! network with delays, loss, duplication, reordering and partitions, KV
//! clients, and a fault schedule. Raft's safety invariants are checked after
//! every event; a violation stops the run with the seed, the event number
//! and the last events before it.
//!
//! The [`Cluster`] API is the one 6.824-style suites use:
//!
//! ```no_run
//! use tinyraft_harness::{Cluster, SimConfig};
//!
//! let mut c = Cluster::new(SimConfig { nodes: 3, seed: 7, ..Default::default() });
//! let leader = c.check_one_leader().expect("a leader");
//! c.disconnect(leader);
//! c.check_one_leader().expect("a new leader");
//! let idx = c.one(b"x".to_vec(), 2, true).expect("agreement");
//! assert!(c.n_committed(idx).0 >= 2);
//! c.check_invariants().expect("safety");
//! ```
//!
//! [`campaign::run_seed`] runs a whole seeded campaign (faults, clients,
//! liveness and linearizability checks); the `tinyraft-harness` binary runs
//! many seeds in parallel.
//!
//! Library modules usable on their own (std + serde only):
//!
//! * [`trace`] — the run's event trace: [`trace::Trace`] with a stable
//!   FNV-1a hash for determinism checks, a ring of recent events for
//!   violation reports, and JSON-lines output.
//! * [`kv`] — the key/value state machine committed entries are applied to
//!   (6.824 kvraft's service): encoded commands, exactly-once application,
//!   canonical snapshots and a digest.
//! * [`linearizability`] — a Porcupine-style checker for client histories of
//!   that service.
//! * [`history`] — those histories as JSON lines and as Jepsen EDN, for
//!   outside checkers (Porcupine, Knossos, Elle), and read back.
//! * [`timeline`] — a self-contained HTML timeline of a trace.
//! * [`shard`] and [`summary`] — campaigns split across machines
//!   (`--shard K/N`, `--for 10m`) and their mergeable JSON summaries.
//! * [`lin_minimize`] — the smallest illegal history of a key.

mod ack_check;
pub mod campaign;
mod checks;
mod client;
mod cluster;
mod disk;
pub mod embedder;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod kv;
pub mod lin_minimize;
pub mod linearizability;
mod net;
mod node;
pub mod quorum_watch;
pub mod reshape;
mod schedules;
pub mod shard;
pub mod summary;
pub mod swarm;
pub mod teeth;
pub mod timeline;
pub mod trace;
mod transport_check;
pub mod vote_watch;
mod world;

pub use cluster::{Cluster, ConfChangeCounts, SimConfig, Stats};
pub use disk::DiskConfig;
pub use invariants::Violation;
pub use net::NetConfig;
pub use trace::Trace;
