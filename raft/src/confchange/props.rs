//! Property test: every configuration a sequence of random changes reaches
//! satisfies the configuration invariants (thesis §4.3, etcd's rules),
//! checked here independently of `Membership::check`.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tinyraft_proto::eraftpb::{ConfChangeSingle, ConfChangeV2};

use super::{Membership, Refusal};

/// The invariants, one by one, naming the first broken.
fn invariants(m: &Membership) -> Result<(), String> {
    let joint = !m.voters_outgoing.is_empty();
    for id in &m.learners {
        if m.voters.contains(id) || m.voters_outgoing.contains(id) {
            return Err(format!("learner {id} is a voter"));
        }
    }
    for id in &m.learners_next {
        if !m.voters_outgoing.contains(id) {
            return Err(format!("learners_next {id} is not an outgoing voter"));
        }
        if m.voters.contains(id) {
            return Err(format!("learners_next {id} is an incoming voter"));
        }
    }
    if !joint && (m.auto_leave || !m.learners_next.is_empty()) {
        return Err("joint-only fields set outside the joint state".into());
    }
    if m.voters.is_empty() {
        return Err("no incoming voter".into());
    }
    Ok(())
}

fn change() -> impl Strategy<Value = ConfChangeV2> {
    let single = (0i32..3, 1u64..8).prop_map(|(t, id)| ConfChangeSingle {
        change_type: t,
        node_id: id,
    });
    prop_oneof![
        1 => Just(ConfChangeV2::default()),
        6 => (0i32..3, prop::collection::vec(single, 0..4)).prop_map(|(t, changes)| ConfChangeV2 {
            transition: t,
            changes,
            ..Default::default()
        }),
    ]
}

proptest! {
    /// Thesis §4.3: from any valid start, every accepted change yields a
    /// configuration meeting the invariants; entering keeps the old voters
    /// as the outgoing half, leaving keeps the incoming voters and turns
    /// `learners_next` into learners, and a simple change moves one voter
    /// at most. A refusal is never the changer catching its own broken
/// result.
    #[test]
    fn every_accepted_change_keeps_the_invariants_4_3_props(
        voters in prop::collection::btree_set(1u64..8, 1..5),
        learners in prop::collection::btree_set(1u64..8, 0..3),
        changes in prop::collection::vec(change(), 1..12),
    ) {
        let learners: BTreeSet<u64> = learners.difference(&voters).copied().collect();
        let mut cur = Membership { voters, learners, ..Default::default() };
        prop_assert_eq!(invariants(&cur), Ok(()));
        for cc in &changes {
            let next = match cur.apply(cc) {
                Ok(next) => next,
                Err(r) => {
                    // From a valid configuration the changer's own
                    // invariant check must never be what refuses.
                    prop_assert!(
                        !matches!(r, Refusal::Invalid(_) | Refusal::VoterAndLearner(_)),
                        "{:?} on {:?} broke an invariant: {}", cc, cur, r
                    );
                    // Leaving a joint state is always possible.
                    prop_assert!(!(cc.leave_joint() && cur.is_joint()), "{}", r);
                    continue;
                }
            };
            prop_assert_eq!(invariants(&next), Ok(()), "{:?} -> {:?}", cc, next);
            if cc.leave_joint() {
                prop_assert!(cur.is_joint() && !next.is_joint());
                prop_assert_eq!(&next.voters, &cur.voters);
                let want: BTreeSet<u64> = cur.learners.union(&cur.learners_next).copied().collect();
                prop_assert_eq!(&next.learners, &want);
            } else if let Some(auto_leave) = cc.enter_joint() {
                prop_assert!(!cur.is_joint() && next.is_joint());
                prop_assert_eq!(&next.voters_outgoing, &cur.voters);
                prop_assert_eq!(next.auto_leave, auto_leave);
            } else {
                prop_assert!(!cur.is_joint() && !next.is_joint());
                prop_assert!(cur.voters.symmetric_difference(&next.voters).count() <= 1);
            }
            // Round trip through the wire form.
            prop_assert_eq!(&Membership::from_conf_state(&next.to_conf_state()), &next);
            cur = next;
        }
    }
}
