//! Deterministic simulator for tinyraft clusters.

pub mod kv;
pub mod linearizability;
pub mod trace;
