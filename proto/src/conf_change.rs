//! One interface over both membership-change messages, as raft-rs spells it:
//! a [`ConfChange`] (one step, thesis §4.1) is a [`ConfChangeV2`] with one
//! change and the `Auto` transition, and a `ConfChangeV2` either enters a
//! joint configuration (thesis §4.3), leaves one, or is a simple change.

use std::borrow::Cow;

use crate::eraftpb::{ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeV2};

/// A membership change, either form. `propose_conf_change` and
/// `apply_conf_change` take anything implementing it.
///
/// ```
/// # mod tinyraft { pub use tinyraft_proto::{eraftpb, ConfChangeI}; }
/// use tinyraft::ConfChangeI;
/// use tinyraft::eraftpb::{ConfChange, ConfChangeTransition, ConfChangeType};
///
/// let mut cc = ConfChange::default();
/// cc.set_change_type(ConfChangeType::AddLearnerNode);
/// cc.node_id = 4;
/// let v2 = cc.as_v2();
/// assert_eq!(v2.transition(), ConfChangeTransition::Auto);
/// assert_eq!((v2.changes[0].change_type(), v2.changes[0].node_id), (ConfChangeType::AddLearnerNode, 4));
/// assert_eq!(v2.enter_joint(), None, "one change with Auto is a simple change");
/// assert!(cc.as_v1().is_some());
/// ```
pub trait ConfChangeI {
    /// This change as a `ConfChangeV2`, consuming it.
    fn into_v2(self) -> ConfChangeV2;
    /// This change as a `ConfChangeV2`: borrowed if it is one, converted if
    /// it is a `ConfChange`.
    fn as_v2(&self) -> Cow<'_, ConfChangeV2>;
    /// This change as a `ConfChange`, if it is one.
    fn as_v1(&self) -> Option<&ConfChange>;
}

impl ConfChangeI for ConfChange {
    /// One change, `Auto` transition, the same context.
    fn into_v2(self) -> ConfChangeV2 {
        ConfChangeV2 {
            transition: ConfChangeTransition::Auto as i32,
            changes: vec![ConfChangeSingle {
                change_type: self.change_type,
                node_id: self.node_id,
            }],
            context: self.context,
        }
    }

    fn as_v2(&self) -> Cow<'_, ConfChangeV2> {
        Cow::Owned(self.clone().into_v2())
    }

    fn as_v1(&self) -> Option<&ConfChange> {
        Some(self)
    }
}

impl ConfChangeI for ConfChangeV2 {
    fn into_v2(self) -> ConfChangeV2 {
        self
    }

    fn as_v2(&self) -> Cow<'_, ConfChangeV2> {
        Cow::Borrowed(self)
    }

    fn as_v1(&self) -> Option<&ConfChange> {
        None
    }
}

impl ConfChangeV2 {
    /// `Some(auto_leave)` if this change enters a joint configuration
    /// (thesis §4.3): it has more than one change, or asks for joint
    /// consensus with the `Implicit` or `Explicit` transition. `auto_leave`
    /// is true for `Auto` and `Implicit` (the leader proposes the leave entry
    /// itself) and false for `Explicit` (the application proposes it).
    /// `None` for a simple change (`Auto`, at most one change) and for the
    /// leave entry. An unknown transition number reads as `Auto`.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_proto::eraftpb; }
    /// use tinyraft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeV2};
    ///
    /// let two = ConfChangeV2 { changes: vec![ConfChangeSingle::default(); 2], ..Default::default() };
    /// assert_eq!(two.enter_joint(), Some(true));
    /// let mut explicit = two.clone();
    /// explicit.set_transition(ConfChangeTransition::Explicit);
    /// assert_eq!(explicit.enter_joint(), Some(false));
    /// ```
    pub fn enter_joint(&self) -> Option<bool> {
        let transition = self.transition();
        if transition == ConfChangeTransition::Auto && self.changes.len() <= 1 {
            return None;
        }
        Some(transition != ConfChangeTransition::Explicit)
    }

    /// Whether this change leaves the joint configuration: no changes and
    /// the `Auto` transition (the context may carry anything).
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_proto::eraftpb; }
    /// use tinyraft::eraftpb::ConfChangeV2;
    /// assert!(ConfChangeV2 { context: "why".into(), ..Default::default() }.leave_joint());
    /// ```
    pub fn leave_joint(&self) -> bool {
        self.transition() == ConfChangeTransition::Auto && self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::ConfChangeType;

    fn single(t: ConfChangeType, id: u64) -> ConfChangeSingle {
        let mut s = ConfChangeSingle::default();
        s.set_change_type(t);
        s.node_id = id;
        s
    }

    fn v2(t: ConfChangeTransition, changes: Vec<ConfChangeSingle>) -> ConfChangeV2 {
        let mut cc = ConfChangeV2::default();
        cc.set_transition(t);
        cc.changes = changes;
        cc
    }

    /// Thesis §4.1 vs §4.3: `Auto` with one change is a simple change; more
    /// than one change, or an explicit request, enters the joint state.
    #[test]
    fn enter_joint_when_several_changes_or_explicit_transition_4_3() {
        use ConfChangeTransition::{Auto, Explicit, Implicit};
        let one = vec![single(ConfChangeType::AddNode, 4)];
        let two = vec![
            single(ConfChangeType::AddNode, 4),
            single(ConfChangeType::RemoveNode, 1),
        ];
        assert_eq!(v2(Auto, one.clone()).enter_joint(), None);
        assert_eq!(v2(Auto, two.clone()).enter_joint(), Some(true));
        assert_eq!(v2(Implicit, one.clone()).enter_joint(), Some(true));
        assert_eq!(v2(Implicit, two.clone()).enter_joint(), Some(true));
        assert_eq!(v2(Explicit, one).enter_joint(), Some(false));
        assert_eq!(v2(Explicit, two).enter_joint(), Some(false));
    }

    /// Thesis §4.3: the leave entry is the empty `Auto` change; it neither
    /// enters a joint state nor counts as a simple change.
    #[test]
    fn leave_joint_is_the_empty_auto_change_4_3() {
        let leave = ConfChangeV2 {
            context: "ctx".into(),
            ..Default::default()
        };
        assert!(leave.leave_joint());
        assert_eq!(leave.enter_joint(), None);
        assert!(!v2(ConfChangeTransition::Explicit, vec![]).leave_joint());
        assert!(
            !v2(
                ConfChangeTransition::Auto,
                vec![single(ConfChangeType::AddNode, 2)]
            )
            .leave_joint()
        );
    }

    /// raft-rs's `ConfChangeI`: a V1 change is a one-change `Auto` V2 with
    /// the same node, type and context; a V2 is itself, borrowed.
    #[test]
    fn v1_converts_to_one_change_auto_v2_and_v2_is_borrowed() {
        let mut cc = ConfChange::default();
        cc.set_change_type(ConfChangeType::RemoveNode);
        cc.node_id = 3;
        cc.context = "ctx".into();
        let want = ConfChangeV2 {
            changes: vec![single(ConfChangeType::RemoveNode, 3)],
            context: "ctx".into(),
            ..Default::default()
        };
        assert_eq!(cc.as_v2().into_owned(), want);
        assert_eq!(cc.clone().into_v2(), want);
        assert_eq!(cc.as_v1(), Some(&cc));
        assert!(matches!(want.as_v2(), Cow::Borrowed(b) if *b == want));
        assert_eq!(want.as_v1(), None);
        assert_eq!(want.clone().into_v2(), want);
    }
}
