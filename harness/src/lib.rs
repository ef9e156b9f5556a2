//! Deterministic simulator for tinyraft clusters.

pub mod kv;
pub mod trace;
