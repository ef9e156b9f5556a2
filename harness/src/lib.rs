//! Deterministic simulator for tinyraft clusters.

pub mod trace;
