//! Deterministic simulator for tinyraft clusters.
