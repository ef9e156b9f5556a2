//! Node configuration.

use crate::errors::{Error, Result};

/// How a leader confirms it is still the leader before answering a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Thesis §6.4: each read index is confirmed by a heartbeat round to a
    /// quorum. Safe whatever the clocks do.
    #[default]
    Safe,
    /// Thesis §6.4.1: a leader that heard from a quorum within the last
    /// election timeout answers at once. Requires `check_quorum` and assumes
    /// bounded clock drift: no follower's election timer may run so much faster
    /// than the leader's that it elects a new leader while the old one still
    /// believes its lease holds.
    LeaseBased,
}

/// Configuration of one Raft node.
///
/// Defaults, side by side with raft-rs's where they differ (everything else
/// has raft-rs's default and meaning; see the [porting guide](crate::porting)):
///
/// | field | tinyraft | raft-rs 0.7 |
/// |---|---|---|
/// | `election_tick` | 10 | 20 |
/// | `heartbeat_tick` | 1 | 2 |
/// | `max_size_per_msg` | 1 MiB | 0 (one entry per message; accepted here with that meaning) |
/// | `seed`, `cluster_id` | 0 | — (tinyraft only) |
///
/// ```
/// use tinyraft::Config;
/// let mut c = Config::new(1);
/// c.pre_vote = true;
/// c.check_quorum = true;
/// c.validate().unwrap();
/// assert_eq!(c.election_tick, 10);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// This node's id; never 0.
    pub id: u64,
    /// Ticks a follower waits without hearing from a leader before it
    /// campaigns (the lower end of the randomized timeout by default).
    /// Default 10 (raft-rs: 20).
    pub election_tick: usize,
    /// Ticks between a leader's heartbeats; must be below `election_tick`.
    /// Default 1 (raft-rs: 2).
    pub heartbeat_tick: usize,
    /// The last index the application applied before a restart; entries up
    /// to it are not handed out again.
    pub applied: u64,
    /// Bytes of entries in one `MsgAppend` (at least one entry is always
    /// sent, so 0 means one entry per message, as in raft-rs);
    /// [`NO_LIMIT`](crate::NO_LIMIT) for none. Default 1 MiB (raft-rs: 0).
    pub max_size_per_msg: u64,
    /// Appends a leader keeps in flight per follower in replicate state.
    pub max_inflight_msgs: usize,
    /// A leader steps down when it has not heard from a quorum within an
    /// election timeout, and followers that hear from a leader ignore vote
    /// requests for that long.
    pub check_quorum: bool,
    /// Thesis §9.6: ask for (pre-)votes before bumping the term.
    pub pre_vote: bool,
    /// Lower bound of the randomized election timeout; 0 means `election_tick`.
    pub min_election_tick: usize,
    /// Upper bound (exclusive); 0 means `2 * election_tick`.
    pub max_election_tick: usize,
    /// Seeds the election-timeout generator, mixed with `id`.
    pub seed: u64,
    /// false: an advanced commit index is sent to followers at once; true: it
    /// rides the next append or heartbeat (except while a conf change is
    /// pending).
    pub skip_bcast_commit: bool,
    /// How read-index requests are confirmed (default: [`ReadOnlyOption::Safe`]).
    pub read_only_option: ReadOnlyOption,
    /// Bytes of `committed_entries` handed out in one `Ready` (at least one
    /// entry); [`NO_LIMIT`](crate::NO_LIMIT) by default.
    pub max_committed_size_per_ready: u64,
    /// A leader refuses proposals with `ProposalDropped` while the entries it
    /// has appended but not yet committed exceed this many bytes (one entry
    /// always passes, so a large entry cannot be stuck forever);
    /// [`NO_LIMIT`](crate::NO_LIMIT) by default.
    pub max_uncommitted_size: u64,
    /// The cluster this node belongs to; 0 means unset. When set, every
    /// message this node sends carries it, and a message carrying another
    /// non-zero id is refused, so a node misrouted from another cluster can
    /// neither vote nor append here.
    pub cluster_id: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            id: 0,
            election_tick: 10,
            heartbeat_tick: 1,
            applied: 0,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            check_quorum: false,
            pre_vote: false,
            min_election_tick: 0,
            max_election_tick: 0,
            seed: 0,
            skip_bcast_commit: false,
            read_only_option: ReadOnlyOption::Safe,
            max_committed_size_per_ready: crate::NO_LIMIT,
            max_uncommitted_size: crate::NO_LIMIT,
            cluster_id: 0,
        }
    }
}

impl Config {
    /// The default configuration for node `id`.
    pub fn new(id: u64) -> Config {
        Config {
            id,
            ..Default::default()
        }
    }

    /// The lower bound of the randomized election timeout in effect.
    pub fn min_election_tick(&self) -> usize {
        if self.min_election_tick == 0 {
            self.election_tick
        } else {
            self.min_election_tick
        }
    }

    /// The (exclusive) upper bound of the randomized election timeout in effect.
    pub fn max_election_tick(&self) -> usize {
        if self.max_election_tick == 0 {
            self.election_tick.saturating_mul(2)
        } else {
            self.max_election_tick
        }
    }

    /// Checks the fields; the error names the offending one.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::ConfigInvalid(s));
        if self.id == 0 {
            return bad("id: must not be 0 (0 means \"no node\")".into());
        }
        if self.heartbeat_tick == 0 {
            return bad("heartbeat_tick: must be greater than 0".into());
        }
        if self.election_tick <= self.heartbeat_tick {
            return bad(format!(
                "election_tick: {} must be greater than heartbeat_tick {}",
                self.election_tick, self.heartbeat_tick
            ));
        }
        let (min, max) = (self.min_election_tick(), self.max_election_tick());
        if min < self.election_tick {
            return bad(format!(
                "min_election_tick: {min} must not be less than election_tick {}",
                self.election_tick
            ));
        }
        if min >= max {
            return bad(format!(
                "max_election_tick: {max} must be greater than min_election_tick {min}"
            ));
        }
        if self.max_inflight_msgs == 0 {
            return bad("max_inflight_msgs: must be greater than 0".into());
        }
        if self.read_only_option == ReadOnlyOption::LeaseBased && !self.check_quorum {
            return bad("read_only_option: LeaseBased requires check_quorum".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(c: &Config) -> String {
        match c.validate() {
            Err(Error::ConfigInvalid(s)) => s.split(':').next().unwrap_or_default().to_string(),
            other => panic!("expected ConfigInvalid, got {other:?}"),
        }
    }

    #[test]
    fn default_config_is_valid_and_matches_api_defaults() {
        let c = Config::new(1);
        c.validate().unwrap();
        assert_eq!(
            (
                c.election_tick,
                c.heartbeat_tick,
                c.max_size_per_msg,
                c.max_inflight_msgs
            ),
            (10, 1, 1 << 20, 256)
        );
        assert_eq!((c.min_election_tick(), c.max_election_tick()), (10, 20));
        assert!(!c.skip_bcast_commit);
    }

    #[test]
    fn validate_names_the_bad_field() {
        let base = Config::new(1);
        assert_eq!(
            field_of(&Config {
                id: 0,
                ..base.clone()
            }),
            "id"
        );
        assert_eq!(
            field_of(&Config {
                heartbeat_tick: 0,
                ..base.clone()
            }),
            "heartbeat_tick"
        );
        assert_eq!(
            field_of(&Config {
                election_tick: 1,
                ..base.clone()
            }),
            "election_tick"
        );
        assert_eq!(
            field_of(&Config {
                min_election_tick: 5,
                ..base.clone()
            }),
            "min_election_tick"
        );
        assert_eq!(
            field_of(&Config {
                min_election_tick: 12,
                max_election_tick: 12,
                ..base.clone()
            }),
            "max_election_tick"
        );
        assert_eq!(
            field_of(&Config {
                max_inflight_msgs: 0,
                ..base.clone()
            }),
            "max_inflight_msgs"
        );
        assert_eq!(
            field_of(&Config {
                read_only_option: ReadOnlyOption::LeaseBased,
                ..base.clone()
            }),
            "read_only_option"
        );
        Config {
            read_only_option: ReadOnlyOption::LeaseBased,
            check_quorum: true,
            ..base
        }
        .validate()
        .unwrap();
    }
}
