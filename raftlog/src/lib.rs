//! The log of tinyraft (filled in by the foundation issue).
