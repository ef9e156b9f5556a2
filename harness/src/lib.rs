//! Deterministic simulator for tinyraft clusters.
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
//! * [`timeline`] — a self-contained HTML timeline of a trace.

pub mod kv;
pub mod linearizability;
pub mod timeline;
pub mod trace;
