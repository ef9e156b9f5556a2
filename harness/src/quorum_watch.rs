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

use crate::invariants::Breach;

/// Per-leader state of the check-quorum watch.
#[derive(Debug, Default)]
pub struct QuorumWatch {
    /// (leader, peer) → time of the last message delivered from peer.
    heard: BTreeMap<(u64, u64), u64>,
    /// node → (term it leads, time it began leading, time its voter set last
    /// changed, that voter set).
    leading: BTreeMap<u64, (u64, u64, u64, Vec<u64>)>,
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
        leading: Option<(u64, Vec<u64>)>,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<(), Breach> {
        let Some((term, voters)) = leading else {
            self.leading.remove(&node);
            return Ok(());
        };
        let st = self
            .leading
            .entry(node)
            .or_insert_with(|| (term, now_ms, now_ms, voters.clone()));
        if st.0 != term {
            *st = (term, now_ms, now_ms, voters.clone());
        }
        if st.3 != voters {
            st.2 = now_ms;
            st.3 = voters.clone();
        }
        let (since, conf_since) = (st.1, st.2);
        if voters.is_empty() {
            return Ok(());
        }
        let mut times: Vec<u64> = voters
            .iter()
            .map(|&p| {
                if p == node {
                    now_ms
                } else {
                    self.heard.get(&(node, p)).copied().unwrap_or(0)
                }
            })
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        let q = voters.len() / 2 + 1;
        let quorum_at = times[q - 1];
        let floor = quorum_at.max(since).max(conf_since);
        if now_ms > floor + window_ms {
            return Err((
                "check_quorum",
                format!(
                    "node {node} still leads term {term} at {now_ms} ms with check-quorum on, \
                     though a quorum of voters {voters:?} was last heard from at {quorum_at} ms \
                     (leading since {since} ms); it must step down within {window_ms} ms"
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
        let voters = vec![1, 2, 3, 4, 5];
        let window = 2 * 1000 + 100;
        w.observe(1, Some((3, voters.clone())), 0, window).unwrap();
        // Hearing from two peers (plus itself: a quorum of three) keeps it.
        for t in (100..10_000).step_by(100) {
            w.delivered(1, 2, t);
            w.delivered(1, 3, t);
            w.observe(1, Some((3, voters.clone())), t, window).unwrap();
        }
        // Only one peer still answers: no quorum from 9,900 ms on.
        for t in (10_000..=12_000).step_by(100) {
            w.delivered(1, 2, t);
            w.observe(1, Some((3, voters.clone())), t, window).unwrap();
        }
        let e = w
            .observe(1, Some((3, voters.clone())), 12_001, window)
            .unwrap_err();
        assert_eq!(e.0, "check_quorum", "{}", e.1);
        // Stepping down clears it; a new term starts a new window.
        w.observe(1, None, 12_100, window).unwrap();
        w.observe(1, Some((5, voters)), 20_000, window).unwrap();
    }
}
