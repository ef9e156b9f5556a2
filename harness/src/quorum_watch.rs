//! The `check_quorum` invariant (Raft thesis §6.2): a leader running
//! check-quorum that has heard from no quorum of its voters for two
//! election timeouts (plus a tick of slack) must have stepped down.
//!
//! The watch records, per leader, the simulated time of the latest message
//! delivered to it from each peer (any message counts, which only makes the
//! check more lenient than the core's, whose `recent_active` is set by
//! append and heartbeat answers), when it began leading, and when its voter
//! set last changed (a new member counts as active for one round).
//!
//! A leadership transfer must not extend this (the core once reset the
//! check-quorum clock on every transfer request, so each request bought an
//! isolated leader another election timeout).
//!
//! Why two timeouts: the leader checks at every election timeout and clears
//! the marks after each check, so a quorum heard just after one check
//! carries it through the next; the check after that must fail.

use std::collections::BTreeMap;

use tinyraft::quorum::JointConfig;

use crate::invariants::Breach;

/// Per-leader state of the check-quorum watch.
#[derive(Debug, Default)]
pub struct QuorumWatch {
    /// (leader, peer) → time of the last message delivered from peer.
    heard: BTreeMap<(u64, u64), u64>,
    /// node → (term it leads, time it began leading, time its voter set last
    /// changed, that voter set: both halves while joint).
    leading: BTreeMap<u64, (u64, u64, u64, JointConfig)>,
}

impl QuorumWatch {
    /// A message from `from` was delivered to `to` at `now_ms`.
    pub fn delivered(&mut self, to: u64, from: u64, now_ms: u64) {
        self.heard.insert((to, from), now_ms);
    }

    /// `node` lost its volatile state (crash).
    pub fn crashed(&mut self, node: u64) {
        self.leading.remove(&node);
        self.heard.retain(|(to, _), _| *to != node);
    }

    /// Observes `node` at `now_ms`: `leading` is `Some((term, voters))` if it
    /// leads with check-quorum on. `window_ms` is two election timeouts plus
    /// a tick.
    pub fn observe(
        &mut self,
        node: u64,
        leading: Option<(u64, &JointConfig)>,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<(), Breach> {
        let Some((term, voters)) = leading else {
            self.leading.remove(&node);
            return Ok(());
        };
        // Runs after every event on a leader: clone the voter set only when
        // it changed.
        match self.leading.get_mut(&node) {
            Some(st) if st.0 == term => {
                if st.3 != *voters {
                    st.2 = now_ms;
                    st.3 = voters.clone();
                }
            }
            _ => {
                self.leading
                    .insert(node, (term, now_ms, now_ms, voters.clone()));
            }
        }
        let (since, conf_since) = self.leading.get(&node).map_or((0, 0), |s| (s.1, s.2));
        if voters.incoming.is_empty() && voters.outgoing.is_empty() {
            return Ok(());
        }
        // The latest time a majority of `half` was heard from: the
        // (n/2+1)-th latest of its members' times (a node hears itself now).
        let half_at = |half: &std::collections::BTreeSet<u64>| {
            let time_of = |p: u64| {
                if p == node {
                    now_ms
                } else {
                    self.heard.get(&(node, p)).copied().unwrap_or(0)
                }
            };
            let mut small = [0u64; 16];
            let mut big = Vec::new();
            let times: &mut [u64] = if half.len() <= small.len() {
                for (slot, &p) in small.iter_mut().zip(half) {
                    *slot = time_of(p);
                }
                &mut small[..half.len()]
            } else {
                big.extend(half.iter().map(|&p| time_of(p)));
                &mut big
            };
            times.sort_unstable_by(|a, b| b.cmp(a));
            times[half.len() / 2]
        };
        // While joint, a quorum is a majority of each half (thesis §4.3).
        let quorum_at = [&voters.incoming, &voters.outgoing]
            .into_iter()
            .filter(|h| !h.is_empty())
            .map(half_at)
            .min()
            .unwrap_or(0);
        let floor = quorum_at.max(since).max(conf_since);
        if now_ms > floor + window_ms {
            return Err((
                "check_quorum",
                format!(
                    "node {node} still leads term {term} at {now_ms} ms with check-quorum on, \
                     though a quorum of voters {} was last heard from at {quorum_at} ms \
                     (leading since {since} ms); it must step down within {window_ms} ms",
                    crate::cluster::show(voters)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thesis §6.2: an isolated check-quorum leader that hears from nobody
    /// for two election timeouts plus a tick is flagged; one that keeps
    /// hearing from a majority is not.
    #[test]
    fn check_quorum_fires_on_a_leader_that_never_steps_down() {
        let mut w = QuorumWatch::default();
        let voters = JointConfig::new([1, 2, 3, 4, 5].into());
        let window = 2 * 1000 + 100;
        w.observe(1, Some((3, &voters)), 0, window).unwrap();
        // Hearing from two peers (plus itself: a quorum of three) keeps it.
        for t in (100..10_000).step_by(100) {
            w.delivered(1, 2, t);
            w.delivered(1, 3, t);
            w.observe(1, Some((3, &voters)), t, window).unwrap();
        }
        // Only one peer still answers: no quorum from 9,900 ms on.
        for t in (10_000..=12_000).step_by(100) {
            w.delivered(1, 2, t);
            w.observe(1, Some((3, &voters)), t, window).unwrap();
        }
        let e = w
            .observe(1, Some((3, &voters)), 12_001, window)
            .unwrap_err();
        assert_eq!(e.0, "check_quorum", "{}", e.1);
        // Stepping down clears it; a new term starts a new window.
        w.observe(1, None, 12_100, window).unwrap();
        w.observe(1, Some((5, &voters)), 20_000, window).unwrap();
    }

    /// Thesis §4.3 with §6.2: while joint, hearing from a majority of the
    /// new half only is no quorum; the leader must step down.
    #[test]
    fn check_quorum_needs_both_halves_while_joint() {
        let mut w = QuorumWatch::default();
        let voters = JointConfig::new_joint([1, 4, 5].into(), [1, 2, 3].into());
        let window = 2 * 1000 + 100;
        w.observe(1, Some((3, &voters)), 0, window).unwrap();
        for t in (100..=2_100).step_by(100) {
            w.delivered(1, 4, t);
            w.delivered(1, 5, t);
            w.observe(1, Some((3, &voters)), t, window).unwrap();
        }
        let e = w.observe(1, Some((3, &voters)), 2_101, window).unwrap_err();
        assert_eq!(e.0, "check_quorum", "{}", e.1);
        // A majority of the old half too keeps it leading.
        let mut w = QuorumWatch::default();
        w.observe(1, Some((3, &voters)), 0, window).unwrap();
        for t in (100..=5_000).step_by(100) {
            for p in [2, 4] {
                w.delivered(1, p, t);
            }
            w.observe(1, Some((3, &voters)), t, window).unwrap();
        }
    }

    /// A leader seen leading a later term (it lost and won again between
    /// two observations) began leading then: its window restarts, so it is
    /// not flagged for silence from before it won.
    #[test]
    fn a_new_term_restarts_the_window() {
        let mut w = QuorumWatch::default();
        let voters = JointConfig::new([1, 2, 3].into());
        let window = 2 * 1000 + 100;
        w.observe(1, Some((3, &voters)), 0, window).unwrap();
        w.observe(1, Some((4, &voters)), 10_000, window).unwrap();
        w.observe(1, Some((4, &voters)), 12_100, window).unwrap();
        let e = w
            .observe(1, Some((4, &voters)), 12_101, window)
            .unwrap_err();
        assert_eq!(e.0, "check_quorum", "{}", e.1);
    }

    /// A half larger than the watch's stack buffer is counted the same way
    /// (the majority of 17 is 9: the leader plus 8 peers).
    #[test]
    fn a_large_configuration_needs_its_majority() {
        let voters = JointConfig::new((1..=17).collect());
        let window = 2 * 1000 + 100;
        for (heard, fires) in [(8u64, false), (7, true)] {
            let mut w = QuorumWatch::default();
            w.observe(1, Some((3, &voters)), 0, window).unwrap();
            for t in (100..=3_000).step_by(100) {
                for p in 2..2 + heard {
                    w.delivered(1, p, t);
                }
                let r = w.observe(1, Some((3, &voters)), t, window);
                assert_eq!(
                    r.is_err(),
                    fires && t > window,
                    "heard {heard} at {t}: {r:?}"
                );
            }
        }
    }
}
