//! Timing and size transforms `shrink` applies to a failing schedule once it
//! has dropped what it can: every fault earlier by `shift_ms`, every fault
//! duration (holds, bursts, disk spikes, delays) scaled to `delay_pct` per
//! cent, and the cluster capped at `nodes_cap` voters (actions naming a
//! node past the cap are dropped, and partitions forget it). Global and
//! deterministic, so a replay command reproduces the shrunk run from flags.
//!
//! ```
//! use tinyraft_harness::faults::{FaultAction, FaultSchedule, TimedFault};
//! use tinyraft_harness::reshape::Reshape;
//! let s = FaultSchedule { actions: vec![
//!     TimedFault { at_ms: 3000, action: FaultAction::Crash(5) },
//!     TimedFault { at_ms: 4000, action: FaultAction::Crash(2) },
//! ]};
//! let r = Reshape { shift_ms: 2000, delay_pct: 100, nodes_cap: Some(3) };
//! let out = r.apply(&s, 5);
//! assert_eq!(out.actions, vec![TimedFault { at_ms: 2000, action: FaultAction::Crash(2) }]);
//! ```

use crate::faults::{FaultAction, FaultSchedule, TimedFault};

/// The transform (identity by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reshape {
    /// Move every action this much earlier (not before 0 ms).
    pub shift_ms: u64,
    /// Scale every duration inside an action to this per cent.
    pub delay_pct: u64,
    /// Run with at most this many voters.
    pub nodes_cap: Option<usize>,
}

impl Default for Reshape {
    fn default() -> Reshape {
        Reshape {
            shift_ms: 0,
            delay_pct: 100,
            nodes_cap: None,
        }
    }
}

impl Reshape {
    /// Whether this is the identity.
    pub fn is_identity(&self) -> bool {
        *self == Reshape::default()
    }

    /// `schedule` (drawn for `nodes` initial voters) reshaped.
    pub fn apply(&self, schedule: &FaultSchedule, nodes: usize) -> FaultSchedule {
        let scale = |ms: u64| (ms * self.delay_pct / 100).max(1);
        let cap = self.nodes_cap.map(|c| c as u64);
        // Nodes created by membership changes are not capped: only the
        // initial voters 1..=nodes are, and those above the cap no longer
        // exist. Spare ids stay distinct from the capped ones.
        let gone = |id: u64| cap.is_some_and(|c| id > c) && id <= nodes as u64;
        let mut actions = Vec::new();
        for tf in &schedule.actions {
            let at_ms = tf.at_ms.saturating_sub(self.shift_ms);
            let action = match tf.action.clone() {
                FaultAction::Partition(groups) => {
                    let g: Vec<Vec<u64>> = groups
                        .into_iter()
                        .map(|g| g.into_iter().filter(|&i| !gone(i)).collect::<Vec<_>>())
                        .filter(|g| !g.is_empty())
                        .collect();
                    FaultAction::Partition(g)
                }
                FaultAction::CutOneWay(a, b) if gone(a) || gone(b) => continue,
                FaultAction::Crash(n) | FaultAction::Restart(n) | FaultAction::Compact(n)
                    if gone(n) =>
                {
                    continue;
                }
                FaultAction::TransferLeader(n) if gone(n) => continue,
                FaultAction::Membership(_, n) | FaultAction::OnNextLeader(_, n) if gone(n) => {
                    continue;
                }
                FaultAction::DiskSpike { node, .. } if gone(node) => continue,
                FaultAction::Bridge {
                    bridge,
                    left,
                    right,
                } => {
                    if gone(bridge) {
                        continue;
                    }
                    FaultAction::Bridge {
                        bridge,
                        left: left.into_iter().filter(|&i| !gone(i)).collect(),
                        right: right.into_iter().filter(|&i| !gone(i)).collect(),
                    }
                }
                FaultAction::NetBurst {
                    drop,
                    dup,
                    long_delay,
                    long_delay_max_ms,
                    ms,
                } => FaultAction::NetBurst {
                    drop,
                    dup,
                    long_delay,
                    long_delay_max_ms: scale(long_delay_max_ms),
                    ms: scale(ms),
                },
                FaultAction::DiskSpike { node, extra_ms, ms } => FaultAction::DiskSpike {
                    node,
                    extra_ms: scale(extra_ms),
                    ms: scale(ms),
                },
                FaultAction::HoldLeaderLink { k, ms } => {
                    FaultAction::HoldLeaderLink { k, ms: scale(ms) }
                }
                FaultAction::LagConf { k, ms, apply_ms } => FaultAction::LagConf {
                    k,
                    ms: scale(ms),
                    apply_ms: scale(apply_ms),
                },
                a => a,
            };
            actions.push(TimedFault { at_ms, action });
        }
        FaultSchedule { actions }
    }

    /// A size measure of `schedule` for before/after reports: the sum of
    /// its actions' durations (ms).
    pub fn total_delay_ms(schedule: &FaultSchedule) -> u64 {
        schedule
            .actions
            .iter()
            .map(|tf| match &tf.action {
                FaultAction::NetBurst { ms, .. }
                | FaultAction::DiskSpike { ms, .. }
                | FaultAction::HoldLeaderLink { ms, .. }
                | FaultAction::LagConf { ms, .. } => *ms,
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shrinking timing: durations scale, times shift, nothing goes below
    /// zero, and a capped node's actions disappear.
    #[test]
    fn reshape_scales_shifts_and_caps() {
        let s = FaultSchedule {
            actions: vec![
                TimedFault {
                    at_ms: 500,
                    action: FaultAction::HoldLeaderLink { k: 1, ms: 4000 },
                },
                TimedFault {
                    at_ms: 900,
                    action: FaultAction::Partition(vec![vec![1, 4], vec![2, 3, 5]]),
                },
            ],
        };
        let r = Reshape {
            shift_ms: 700,
            delay_pct: 25,
            nodes_cap: Some(3),
        };
        let out = r.apply(&s, 5);
        assert_eq!(out.actions[0].at_ms, 0);
        assert_eq!(
            out.actions[0].action,
            FaultAction::HoldLeaderLink { k: 1, ms: 1000 }
        );
        assert_eq!(out.actions[1].at_ms, 200);
        assert_eq!(
            out.actions[1].action,
            FaultAction::Partition(vec![vec![1], vec![2, 3]])
        );
        assert_eq!(Reshape::total_delay_ms(&s), 4000);
        assert!(Reshape::default().is_identity());
    }
}
