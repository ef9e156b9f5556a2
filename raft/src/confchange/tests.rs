//! One test per membership-change rule (thesis §4.1, §4.3).

use std::collections::BTreeSet;

use tinyraft_proto::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
};

use super::{Membership, Refusal};

use ConfChangeTransition::{Auto, Explicit, Implicit};
use ConfChangeType::{AddLearnerNode, AddNode, RemoveNode};

fn set(ids: &[u64]) -> BTreeSet<u64> {
    ids.iter().copied().collect()
}

fn m(voters: &[u64], learners: &[u64]) -> Membership {
    Membership::from_conf_state(&(voters.to_vec(), learners.to_vec()).into())
}

fn c(t: ConfChangeType, id: u64) -> ConfChangeSingle {
    ConfChangeSingle {
        change_type: t as i32,
        node_id: id,
    }
}

fn v2(t: ConfChangeTransition, changes: &[ConfChangeSingle]) -> ConfChangeV2 {
    ConfChangeV2 {
        transition: t as i32,
        changes: changes.to_vec(),
        ..Default::default()
    }
}

fn leave() -> ConfChangeV2 {
    ConfChangeV2::default()
}

/// Thesis §4.1: one change with `Auto` applies directly, no joint state;
/// a V1 `ConfChange` is the same simple change.
#[test]
fn simple_change_applies_directly_4_1() {
    let next = m(&[1, 2, 3], &[])
        .apply(&v2(Auto, &[c(AddNode, 4)]))
        .unwrap();
    assert_eq!(next, m(&[1, 2, 3, 4], &[]));
    assert!(!next.is_joint());
    let v1 = ConfChange {
        change_type: RemoveNode as i32,
        node_id: 2,
        ..Default::default()
    };
    assert_eq!(m(&[1, 2, 3], &[]).apply(&v1).unwrap(), m(&[1, 3], &[]));
    // Promoting a learner: it leaves the learners.
    let next = m(&[1], &[2]).apply(&v2(Auto, &[c(AddNode, 2)])).unwrap();
    assert_eq!(next, m(&[1, 2], &[]));
}

/// Thesis §4.1: without joint consensus only one voter may change at a
/// time, else two disjoint majorities could decide.
#[test]
fn simple_change_of_more_than_one_voter_is_refused_4_1() {
    let r = m(&[1, 2, 3], &[]).simple(&[c(AddNode, 4), c(RemoveNode, 1)]);
    assert_eq!(r, Err(Refusal::SimpleChangesTooManyVoters(2)));
    // Adding and removing learners alongside one voter change is fine.
    let ok = m(&[1, 2, 3], &[5]).simple(&[c(AddNode, 4), c(RemoveNode, 5), c(AddLearnerNode, 6)]);
    assert_eq!(ok, Ok(m(&[1, 2, 3, 4], &[6])));
}

/// etcd's rule: demoting a voter outside the joint state makes it a
/// learner at once (one voter changes).
#[test]
fn simple_demotion_makes_a_learner_directly() {
    let next = m(&[1, 2, 3], &[])
        .apply(&v2(Auto, &[c(AddLearnerNode, 3)]))
        .unwrap();
    assert_eq!(next, m(&[1, 2], &[3]));
    assert!(next.learners_next.is_empty());
}

/// Thesis §4.3: entering copies the voters to the outgoing half and
/// applies every change to the incoming half (atomic replacement).
#[test]
fn enter_joint_copies_voters_to_outgoing_then_applies_changes_4_3() {
    let next = m(&[1, 2, 3], &[])
        .apply(&v2(Auto, &[c(AddNode, 4), c(RemoveNode, 1)]))
        .unwrap();
    assert!(next.is_joint());
    assert_eq!(next.voters, set(&[2, 3, 4]));
    assert_eq!(next.voters_outgoing, set(&[1, 2, 3]));
    assert!(
        next.auto_leave,
        "Auto with several changes leaves by itself"
    );
    let quorum = next.joint_config();
    assert!(
        !quorum.has_quorum(&set(&[2, 4])),
        "needs a majority of the old half too"
    );
    assert!(quorum.has_quorum(&set(&[2, 3])));
}

/// Thesis §4.3: `Implicit` and `Explicit` enter even with one change;
/// only `Explicit` waits for the application to leave.
#[test]
fn transition_decides_auto_leave_4_3() {
    let cur = m(&[1, 2, 3], &[]);
    let implicit = cur.apply(&v2(Implicit, &[c(AddNode, 4)])).unwrap();
    assert!(implicit.is_joint() && implicit.auto_leave);
    let explicit = cur.apply(&v2(Explicit, &[c(AddNode, 4)])).unwrap();
    assert!(explicit.is_joint() && !explicit.auto_leave);
    assert_eq!(explicit.voters_outgoing, set(&[1, 2, 3]));
}

/// Thesis §4.3: no new change until the joint state is left.
#[test]
fn entering_or_simple_change_while_joint_is_refused_4_3() {
    let joint = m(&[1, 2, 3], &[])
        .apply(&v2(Explicit, &[c(AddNode, 4)]))
        .unwrap();
    assert_eq!(
        joint.apply(&v2(Implicit, &[c(AddNode, 5)])),
        Err(Refusal::AlreadyJoint)
    );
    assert_eq!(
        joint.apply(&v2(Auto, &[c(AddNode, 5)])),
        Err(Refusal::AlreadyJoint)
    );
    assert_eq!(joint.enter_joint(true, &[]), Err(Refusal::AlreadyJoint));
}

/// Thesis §4.3: leaving drops the outgoing half; refused when not joint.
#[test]
fn leaving_drops_outgoing_and_is_refused_when_not_joint_4_3() {
    let cur = m(&[1, 2, 3], &[]);
    assert_eq!(cur.apply(&leave()), Err(Refusal::NotJoint));
    let joint = cur
        .apply(&v2(Auto, &[c(AddNode, 4), c(RemoveNode, 1)]))
        .unwrap();
    let left = joint.apply(&leave()).unwrap();
    assert_eq!(left, m(&[2, 3, 4], &[]));
    assert!(!left.auto_leave);
    assert_eq!(left.apply(&leave()), Err(Refusal::NotJoint));
}

/// etcd's demotion rule: a voter demoted while entering the joint state
/// keeps voting in the outgoing half (`learners_next`) and becomes a
/// learner when the joint state is left.
#[test]
fn demotion_through_joint_goes_via_learners_next() {
    let joint = m(&[1, 2, 3], &[])
        .apply(&v2(Implicit, &[c(AddLearnerNode, 3)]))
        .unwrap();
    assert_eq!(joint.voters, set(&[1, 2]));
    assert_eq!(joint.voters_outgoing, set(&[1, 2, 3]));
    assert_eq!(joint.learners_next, set(&[3]));
    assert!(
        joint.learners.is_empty(),
        "not a learner while it still votes"
    );
    let cs = joint.to_conf_state();
    assert_eq!(
        (cs.voters_outgoing, cs.learners_next),
        (vec![1, 2, 3], vec![3])
    );
    let left = joint.leave_joint().unwrap();
    assert_eq!(left, m(&[1, 2], &[3]));
}

/// Thesis §4.3 (and etcd): a configuration without voters can elect no
/// one, so no change may empty the incoming voters.
#[test]
fn removing_every_incoming_voter_is_refused() {
    assert_eq!(
        m(&[1], &[]).apply(&v2(Auto, &[c(RemoveNode, 1)])),
        Err(Refusal::NoVoters)
    );
    assert_eq!(
        m(&[1], &[2]).apply(&v2(Auto, &[c(AddLearnerNode, 1)])),
        Err(Refusal::NoVoters)
    );
    let all = [c(RemoveNode, 1), c(RemoveNode, 2), c(AddLearnerNode, 3)];
    assert_eq!(
        m(&[1, 2, 3], &[]).apply(&v2(Auto, &all)),
        Err(Refusal::NoVoters)
    );
    assert_eq!(
        Membership::default().enter_joint(false, &[c(AddNode, 1)]),
        Err(Refusal::NoVoters)
    );
}

/// A voter being demoted (in `learners_next`) cannot be promoted back in
/// the same change: the two would contradict each other.
#[test]
fn promoting_a_learner_in_learners_next_is_refused() {
    let r = m(&[1, 2, 3], &[]).apply(&v2(Implicit, &[c(AddLearnerNode, 3), c(AddNode, 3)]));
    assert_eq!(r, Err(Refusal::PromoteLearnerNext(3)));
}

/// No node may be both a voter and a learner: a configuration that says
/// so (a corrupted or hand-made `ConfState`) takes no change.
#[test]
fn node_both_voter_and_learner_is_refused() {
    let bad = m(&[1, 2], &[2]);
    assert_eq!(bad.check(), Err(Refusal::VoterAndLearner(2)));
    assert_eq!(
        bad.apply(&v2(Auto, &[c(AddNode, 3)])),
        Err(Refusal::VoterAndLearner(2))
    );
    let bad_outgoing = Membership::from_conf_state(&ConfState {
        voters: vec![1],
        learners: vec![2],
        voters_outgoing: vec![1, 2],
        ..Default::default()
    });
    assert_eq!(bad_outgoing.leave_joint(), Err(Refusal::VoterAndLearner(2)));
    let stray_next = Membership::from_conf_state(&ConfState {
        voters: vec![1],
        learners_next: vec![5],
        ..Default::default()
    });
    assert!(matches!(stray_next.check(), Err(Refusal::Invalid(s)) if s.contains("learners_next")));
}

/// Malformed changes name what is wrong and change nothing.
#[test]
fn malformed_changes_are_refused_by_name() {
    let cur = m(&[1, 2, 3], &[]);
    assert_eq!(
        cur.apply(&v2(Auto, &[c(AddNode, 0)])),
        Err(Refusal::InvalidNodeId)
    );
    let unknown_type = ConfChangeSingle {
        change_type: 9,
        node_id: 4,
    };
    assert_eq!(
        cur.apply(&v2(Auto, &[unknown_type])),
        Err(Refusal::UnknownChangeType(9))
    );
    let unknown_transition = ConfChangeV2 {
        transition: 7,
        ..Default::default()
    };
    assert_eq!(
        cur.apply(&unknown_transition),
        Err(Refusal::UnknownTransition(7))
    );
    let e: crate::Error = Refusal::NotJoint.into();
    assert!(matches!(e, crate::Error::ConfChangeRefused(s) if s.contains("not joint")));
}
