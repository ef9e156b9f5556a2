//! Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): each campaign
//! seed also draws its node configuration, its client workload and its
//! fault mix, so that rare interleavings — one entry per append, a full
//! inflight window, lease reads, a quiet network with only targeted faults
//! — are common in *some* seeds instead of diluted in all of them.
//!
//! ```
//! use tinyraft_harness::faults::FaultKind;
//! use tinyraft_harness::swarm::Swarm;
//! let a = Swarm::draw(7, 5, &FaultKind::ALL, false);
//! assert_eq!(a, Swarm::draw(7, 5, &FaultKind::ALL, false));
//! assert!(a.max_inflight_msgs >= 1 && a.max_inflight_msgs <= 256);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::faults::FaultKind;

/// What one seed drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Swarm {
    /// Voters at start.
    pub nodes: usize,
    /// `Config::max_size_per_msg`: 1 byte (one entry per append) to 1 MiB.
    pub max_size_per_msg: u64,
    /// `Config::max_inflight_msgs`, 1..=256.
    pub max_inflight_msgs: usize,
    /// Election timeout in ticks.
    pub election_tick: usize,
    /// Heartbeat interval in ticks.
    pub heartbeat_tick: usize,
    /// Pre-vote.
    pub pre_vote: bool,
    /// Check-quorum.
    pub check_quorum: bool,
    /// `ReadOnlyOption::LeaseBased` (only on check-quorum seeds).
    pub lease_reads: bool,
    /// `Config::skip_bcast_commit`.
    pub skip_bcast_commit: bool,
    /// The transport reports unreachable peers.
    pub report_unreachable: bool,
    /// Fault kinds on for this seed.
    pub kinds: Vec<FaultKind>,
    /// Gap between fault actions, ms (low, high).
    pub fault_gap_ms: (u64, u64),
    /// Reads among client operations, in tenths.
    pub read_tenths: u64,
    /// Clients send to any node (followers forward proposals and reads).
    pub any_node: bool,
    /// Largest client payload (0: short values only).
    pub max_payload: usize,
}

impl Swarm {
    /// Draws the seed's swarm over at most `max_nodes` voters, from the
    /// fault kinds `kinds`; lease reads only if `lease_allowed`.
    pub fn draw(seed: u64, max_nodes: usize, kinds: &[FaultKind], lease_allowed: bool) -> Swarm {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5a7a_12a0_b0b5);
        let nodes = if max_nodes >= 5 && rng.random_bool(0.4) {
            rng.random_range(3..max_nodes)
        } else {
            max_nodes.max(1)
        };
        let max_size_per_msg = match rng.random_range(0..4) {
            0 => 1,
            1 => 1 << rng.random_range(4..12),
            2 => 1 << rng.random_range(12..20),
            _ => 1 << 20,
        };
        let max_inflight_msgs = match rng.random_range(0..4) {
            0 => rng.random_range(1..=4),
            1 => rng.random_range(5..=32),
            2 => rng.random_range(33..=256),
            _ => 256,
        };
        let election_tick = rng.random_range(6..=20);
        let heartbeat_tick = rng.random_range(1..=(election_tick / 4).max(1));
        let pre_vote = rng.random_bool(0.75);
        let check_quorum = rng.random_bool(0.75);
        let lease_reads = lease_allowed && check_quorum && rng.random_bool(0.5);
        let skip_bcast_commit = rng.random_bool(0.5);
        let report_unreachable = rng.random_bool(0.5);
        let mut on: Vec<FaultKind> = kinds
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.65))
            .collect();
        if on.is_empty() && !kinds.is_empty() {
            on.push(kinds[rng.random_range(0..kinds.len())]);
        }
        let fault_gap_ms = match rng.random_range(0..3) {
            0 => (100, 600),
            1 => (200, 1500),
            _ => (800, 4000),
        };
        let read_tenths = rng.random_range(1..=8);
        let any_node = rng.random_bool(0.6);
        let max_payload = if rng.random_bool(0.3) {
            rng.random_range(1..=(2 * max_size_per_msg).clamp(2, 8192) as usize)
        } else {
            0
        };
        Swarm {
            nodes,
            max_size_per_msg,
            max_inflight_msgs,
            election_tick,
            heartbeat_tick,
            pre_vote,
            check_quorum,
            lease_reads,
            skip_bcast_commit,
            report_unreachable,
            kinds: on,
            fault_gap_ms,
            read_tenths,
            any_node,
            max_payload,
        }
    }
}

impl fmt::Display for Swarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        write!(
            f,
            "nodes={} max_size_per_msg={} inflight={} election={} heartbeat={} pre_vote={} \
             check_quorum={} lease={} skip_bcast_commit={} unreachable={} faults=[{}] gap={:?}ms \
             reads={}/10 any_node={} max_payload={}",
            self.nodes,
            self.max_size_per_msg,
            self.max_inflight_msgs,
            self.election_tick,
            self.heartbeat_tick,
            self.pre_vote,
            self.check_quorum,
            self.lease_reads,
            self.skip_bcast_commit,
            self.report_unreachable,
            kinds.join(","),
            self.fault_gap_ms,
            self.read_tenths,
            self.any_node,
            self.max_payload
        )
    }
}

/// Counts of the configurations a campaign drew, for its summary.
#[derive(Debug, Default)]
pub struct Spread {
    rows: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

impl Spread {
    /// Tallies the draws.
    pub fn of<'a>(draws: impl IntoIterator<Item = &'a Swarm>) -> Spread {
        let mut s = Spread::default();
        for w in draws {
            s.add("nodes", w.nodes.to_string());
            s.add(
                "max_size_per_msg",
                match w.max_size_per_msg {
                    1 => "1 entry".into(),
                    n if n < 4096 => "<4KiB".into(),
                    n if n < 1 << 20 => "<1MiB".into(),
                    _ => "1MiB".into(),
                },
            );
            s.add(
                "max_inflight_msgs",
                match w.max_inflight_msgs {
                    1..=4 => "1-4".into(),
                    5..=32 => "5-32".into(),
                    33..=255 => "33-255".into(),
                    _ => "256".into(),
                },
            );
            s.add(
                "election_tick",
                match w.election_tick {
                    0..=9 => "6-9".into(),
                    10..=14 => "10-14".into(),
                    _ => "15-20".into(),
                },
            );
            s.add("heartbeat_tick", w.heartbeat_tick.to_string());
            s.add("pre_vote", w.pre_vote.to_string());
            s.add("check_quorum", w.check_quorum.to_string());
            s.add("lease_reads", w.lease_reads.to_string());
            s.add("skip_bcast_commit", w.skip_bcast_commit.to_string());
            s.add("report_unreachable", w.report_unreachable.to_string());
            s.add("any_node", w.any_node.to_string());
            s.add("reads/10", w.read_tenths.to_string());
            s.add(
                "payload",
                if w.max_payload == 0 {
                    "short".into()
                } else if w.max_payload as u64 > w.max_size_per_msg {
                    "> max_size_per_msg".into()
                } else {
                    "<= max_size_per_msg".into()
                },
            );
            s.add("fault gap ms", format!("{:?}", w.fault_gap_ms));
            for k in &w.kinds {
                s.add("fault kind on", k.name().to_string());
            }
        }
        s
    }

    fn add(&mut self, row: &'static str, val: String) {
        *self.rows.entry(row).or_default().entry(val).or_insert(0) += 1;
    }

    /// One line per knob: `knob  value:count value:count ...`.
    pub fn lines(&self) -> Vec<String> {
        Spread::lines_of(&self.counts())
    }

    /// The tallies: knob -> value -> seeds (mergeable by summing).
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.rows
            .iter()
            .map(|(k, vals)| (k.to_string(), vals.clone()))
            .collect()
    }

    /// [`Spread::lines`] of tallies (possibly summed over shards).
    pub fn lines_of(counts: &BTreeMap<String, BTreeMap<String, u64>>) -> Vec<String> {
        counts
            .iter()
            .map(|(k, vals)| {
                let v: Vec<String> = vals.iter().map(|(v, n)| format!("{v}:{n}")).collect();
                format!("{k:<20} {}", v.join("  "))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Swarm testing draws every knob's extremes across seeds: one-entry
    /// appends and 1 MiB, inflight 1 and 256, lease reads only with
    /// check-quorum, and fault kinds switched off in some seeds.
    #[test]
    fn swarm_draws_cover_the_extremes() {
        let draws: Vec<Swarm> = (0..400)
            .map(|s| Swarm::draw(s, 5, &FaultKind::ALL, true))
            .collect();
        assert!(draws.iter().any(|d| d.max_size_per_msg == 1));
        assert!(draws.iter().any(|d| d.max_size_per_msg == 1 << 20));
        assert!(draws.iter().any(|d| d.max_inflight_msgs == 1));
        assert!(draws.iter().any(|d| d.max_inflight_msgs == 256));
        assert!(draws.iter().any(|d| d.lease_reads));
        assert!(draws.iter().all(|d| !d.lease_reads || d.check_quorum));
        assert!(draws.iter().any(|d| d.kinds.len() < FaultKind::ALL.len()));
        assert!(draws.iter().all(|d| !d.kinds.is_empty()));
        assert!(draws.iter().any(|d| d.nodes == 4));
        assert!(
            draws
                .iter()
                .all(|d| d.heartbeat_tick < d.election_tick && d.nodes <= 5)
        );
        let spread = Spread::of(&draws).lines();
        assert!(spread.iter().any(|l| l.starts_with("max_size_per_msg")));
        // Lease reads stay off unless allowed.
        assert!((0..100).all(|s| !Swarm::draw(s, 5, &FaultKind::ALL, false).lease_reads));
    }
}
