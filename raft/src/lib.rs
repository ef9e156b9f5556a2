//! The IO-free consensus core of tinyraft.
