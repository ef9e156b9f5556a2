//! Embedder profiles: the legal ways a storage engine may drive the
//! `RawNode`/`Ready` contract. Each simulated node follows one profile, so a
//! campaign meets what engines meet: background persistence with several
//! Readies in flight, fsync only when `must_sync`, joiners that start empty
//! or seeded, snapshots built on demand or periodically, apply that lags
//! persistence.

use std::fmt;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How a node makes its Readies durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// One Ready at a time: the next is taken only once the previous one's
    /// writes are durable and it was advanced (`advance` or
    /// `advance_append`).
    OneAtATime,
    /// Up to this many Readies in flight: each is written in the background
    /// (`advance_append_async`), completions arrive in order through the disk
    /// model and are reported with `on_persist_ready`.
    Async(usize),
}

/// When a node fsyncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Every Ready's writes are synced before its `persisted_messages` go out.
    EveryWrite,
    /// Only Readies with `must_sync` are synced; the writes of the others sit
    /// in the page cache, lost on a crash unless a later sync covers them.
    OnlyMustSync,
}

/// How a node added to the cluster starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joiner {
    /// An empty disk: it learns everything (membership first, from a
    /// snapshot) from the leader.
    EmptyDisk,
    /// A disk seeded with the cluster's current conf state (itself included).
    SeededConfState,
}

/// When a node snapshots its state machine. In every mode its storage also
/// builds a snapshot on demand (`Storage::snapshot`) with the state-machine
/// image at its applied index, never an empty image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Snapshots {
    /// Only when asked through `Storage::snapshot` (and when the fault
    /// schedule compacts its log).
    OnDemand,
    /// Every `n` applied entries, with log compaction (6.824's service).
    Periodic(u64),
    /// Never by hand: no periodic snapshots and no compaction.
    Never,
}

/// When a node applies committed entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// As soon as they are handed out.
    WithReady,
    /// Later, in a separate apply step a few ms on, reported with
    /// `advance_apply_to`.
    Lagging,
}

/// One way of embedding a node.
///
/// ```
/// use tinyraft_harness::embedder::{EmbedderProfile, Persistence};
/// let p = EmbedderProfile::default();
/// assert_eq!(p.persistence, Persistence::OneAtATime);
/// assert_eq!(p.to_string(), "one-at-a-time/fsync-every-write/joiner-empty/snap-on-demand/apply-with-ready");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbedderProfile {
    /// Readies in flight.
    pub persistence: Persistence,
    /// When to fsync.
    pub fsync: Fsync,
    /// How a joining node starts.
    pub joiner: Joiner,
    /// When to snapshot.
    pub snapshots: Snapshots,
    /// When to apply.
    pub apply: Apply,
}

impl Default for EmbedderProfile {
    /// The careful engine: one Ready at a time, every write synced, joiners
    /// empty, snapshots on demand, apply with the Ready.
    fn default() -> EmbedderProfile {
        EmbedderProfile {
            persistence: Persistence::OneAtATime,
            fsync: Fsync::EveryWrite,
            joiner: Joiner::EmptyDisk,
            snapshots: Snapshots::OnDemand,
            apply: Apply::WithReady,
        }
    }
}

impl EmbedderProfile {
    /// Draws a profile: every choice is equally likely, so a campaign covers
    /// them all. `snapshot_interval` is the campaign's periodic interval
    /// (drawn if `None`).
    pub fn draw(rng: &mut ChaCha8Rng, snapshot_interval: Option<u64>) -> EmbedderProfile {
        let persistence = if rng.random_bool(0.5) {
            Persistence::OneAtATime
        } else {
            Persistence::Async(rng.random_range(2..=8))
        };
        let fsync = if rng.random_bool(0.5) {
            Fsync::EveryWrite
        } else {
            Fsync::OnlyMustSync
        };
        let joiner = if rng.random_bool(0.5) {
            Joiner::EmptyDisk
        } else {
            Joiner::SeededConfState
        };
        let snapshots = match rng.random_range(0..3) {
            0 => Snapshots::OnDemand,
            1 => Snapshots::Periodic(snapshot_interval.unwrap_or_else(|| rng.random_range(5..50))),
            _ => Snapshots::Never,
        };
        let apply = if rng.random_bool(0.5) {
            Apply::WithReady
        } else {
            Apply::Lagging
        };
        EmbedderProfile {
            persistence,
            fsync,
            joiner,
            snapshots,
            apply,
        }
    }

    /// How many Readies may be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        match self.persistence {
            Persistence::OneAtATime => 1,
            Persistence::Async(k) => k.max(1),
        }
    }

    /// The periodic snapshot interval, if any.
    pub fn snapshot_interval(&self) -> Option<u64> {
        match self.snapshots {
            Snapshots::Periodic(n) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// The profile's parts as short labels, for summaries.
    pub fn labels(&self) -> [&'static str; 5] {
        [
            match self.persistence {
                Persistence::OneAtATime => "one-at-a-time",
                Persistence::Async(_) => "async",
            },
            match self.fsync {
                Fsync::EveryWrite => "fsync-every-write",
                Fsync::OnlyMustSync => "fsync-must-sync",
            },
            match self.joiner {
                Joiner::EmptyDisk => "joiner-empty",
                Joiner::SeededConfState => "joiner-seeded",
            },
            match self.snapshots {
                Snapshots::OnDemand => "snap-on-demand",
                Snapshots::Periodic(_) => "snap-periodic",
                Snapshots::Never => "snap-never",
            },
            match self.apply {
                Apply::WithReady => "apply-with-ready",
                Apply::Lagging => "apply-lagging",
            },
        ]
    }
}

impl fmt::Display for EmbedderProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.labels().join("/"))
    }
}

/// How a cluster's nodes get their profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedderMode {
    /// Every node follows this profile.
    Fixed(EmbedderProfile),
    /// Each node draws its own from the seed when it is created (campaigns).
    Drawn,
}

impl Default for EmbedderMode {
    fn default() -> EmbedderMode {
        EmbedderMode::Fixed(EmbedderProfile::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    /// Drawing covers every value of every part within a few hundred draws.
    #[test]
    fn draws_cover_every_profile_part() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen: BTreeSet<&'static str> = BTreeSet::new();
        for _ in 0..400 {
            seen.extend(EmbedderProfile::draw(&mut rng, None).labels());
        }
        assert_eq!(seen.len(), 11, "{seen:?}");
    }
}
