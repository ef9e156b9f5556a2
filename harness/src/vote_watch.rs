//! The `election_quorum` invariant (Raft §5.2, thesis §4.3): a node that
//! becomes leader of a term has received that term's vote grants from a
//! quorum of the configuration it counts by (itself included) — a majority
//! of each half while the configuration is joint.
//!
//! Grants are recorded as they are delivered, so the check counts at least
//! every grant the core could have counted (a grant the core refused to
//! count only makes the check more lenient).

use std::collections::{BTreeMap, BTreeSet};

use tinyraft::eraftpb::{Message, MessageType};
use tinyraft::quorum::JointConfig;

use crate::invariants::Breach;

/// Vote grants delivered, per (candidate, term).
#[derive(Debug, Default)]
pub struct VoteWatch {
    grants: BTreeMap<(u64, u64), BTreeSet<u64>>,
}

impl VoteWatch {
    /// `m` was delivered: records it if it grants a (real, not pre-) vote.
    pub fn delivered(&mut self, m: &Message) {
        if m.msg_type() == MessageType::MsgRequestVoteResponse && !m.reject {
            self.grants
                .entry((m.to, m.term))
                .or_default()
                .insert(m.from);
        }
    }

    /// `node` became leader of `term` counting votes by `config`.
    pub fn on_leader(&mut self, node: u64, term: u64, config: &JointConfig) -> Result<(), Breach> {
        let mut granted = self.grants.remove(&(node, term)).unwrap_or_default();
        // Older elections of this node are decided: forget them.
        self.grants.retain(|&(n, t), _| n != node || t > term);
        granted.insert(node);
        if config.has_quorum(&granted) {
            return Ok(());
        }
        Err((
            "election_quorum",
            format!(
                "node {node} became leader of term {term} with grants from {granted:?} only, \
                 no quorum of voters {}",
                crate::cluster::show(config)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(from: u64, to: u64, term: u64) -> Message {
        Message {
            msg_type: MessageType::MsgRequestVoteResponse as i32,
            from,
            to,
            term,
            ..Default::default()
        }
    }

    /// Thesis §4.3: a majority of the new half alone elects no one while
    /// joint; with a majority of the old half too, the election is sound.
    #[test]
    fn joint_leader_needs_grants_from_both_halves_4_3() {
        let joint = JointConfig::new_joint([1, 4, 5].into(), [1, 2, 3].into());
        let mut w = VoteWatch::default();
        w.delivered(&grant(4, 1, 7));
        let e = w.on_leader(1, 7, &joint).unwrap_err();
        assert_eq!(e.0, "election_quorum", "{}", e.1);
        w.delivered(&grant(4, 1, 8));
        w.delivered(&grant(2, 1, 8));
        let mut rejected = grant(3, 1, 8);
        rejected.reject = true;
        w.delivered(&rejected);
        w.on_leader(1, 8, &joint).unwrap();
        // Grants of another term or to another node do not count.
        w.delivered(&grant(4, 1, 8));
        w.delivered(&grant(2, 5, 9));
        assert!(w.on_leader(1, 9, &joint).is_err());
        // A single voter elects itself.
        w.on_leader(1, 10, &JointConfig::new([1].into())).unwrap();
    }
}
