//! Conveniences on the generated types: conversions, message classification
//! and one-line `Display` forms a log line can use.

use std::fmt;

use crate::eraftpb::{
    ConfChange, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot,
};

impl From<(Vec<u64>, Vec<u64>)> for ConfState {
    /// `(voters, learners)`.
    fn from((voters, learners): (Vec<u64>, Vec<u64>)) -> ConfState {
        ConfState {
            voters,
            learners,
            ..Default::default()
        }
    }
}

impl ConfState {
    /// Whether this configuration names `id` at all: as a voter of either
    /// half, a learner, or a voter being demoted (`learners_next`). A
    /// snapshot for a node must name it; checking only `voters` and
    /// `learners` misses a voter that only the outgoing half of a joint
    /// configuration (thesis §4.3) names.
    ///
    /// ```
    /// # mod tinyraft { pub use tinyraft_proto::{eraftpb, prost}; }
    /// use tinyraft::eraftpb::ConfState;
    /// let mut cs = ConfState::from((vec![1, 2], vec![]));
    /// cs.voters_outgoing = vec![1, 2, 3];
    /// cs.learners_next = vec![3];
    /// assert!(cs.names(3));
    /// assert!(!cs.names(4));
    /// ```
    pub fn names(&self, id: u64) -> bool {
        self.voters.contains(&id)
            || self.learners.contains(&id)
            || self.voters_outgoing.contains(&id)
            || self.learners_next.contains(&id)
    }
}

/// Whether `t` is a message a node generates for itself (never sent over the
/// network): `MsgHup`, `MsgBeat`, `MsgUnreachable`, `MsgSnapStatus`,
/// `MsgCheckQuorum`.
///
/// ```
/// # mod tinyraft { pub use tinyraft_proto::{eraftpb, prost}; }
/// use tinyraft::eraftpb::{is_local_msg, MessageType};
/// assert!(is_local_msg(MessageType::MsgHup));
/// assert!(!is_local_msg(MessageType::MsgAppend));
/// ```
pub fn is_local_msg(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgHup
            | MessageType::MsgBeat
            | MessageType::MsgUnreachable
            | MessageType::MsgSnapStatus
            | MessageType::MsgCheckQuorum
    )
}

/// Whether `t` answers a request (a response's sender must be a known peer).
///
/// ```
/// # mod tinyraft { pub use tinyraft_proto::{eraftpb, prost}; }
/// use tinyraft::eraftpb::{is_response_msg, MessageType};
/// assert!(is_response_msg(MessageType::MsgAppendResponse));
/// assert!(!is_response_msg(MessageType::MsgRequestVote));
/// ```
pub fn is_response_msg(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgAppendResponse
            | MessageType::MsgRequestVoteResponse
            | MessageType::MsgHeartbeatResponse
            | MessageType::MsgRequestPreVoteResponse
            | MessageType::MsgUnreachable
            | MessageType::MsgReadIndexResp
    )
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match EntryType::try_from(self.entry_type) {
            Ok(EntryType::EntryNormal) => String::new(),
            Ok(EntryType::EntryConfChange) => " conf-change".into(),
            Ok(EntryType::EntryConfChangeV2) => " conf-change-v2".into(),
            Err(_) => format!(" unknown-type-{}", self.entry_type),
        };
        write!(
            f,
            "{}/{}{} ({} bytes)",
            self.term,
            self.index,
            kind,
            self.data.len()
        )
    }
}

impl fmt::Display for HardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "term={} vote={} commit={}",
            self.term, self.vote, self.commit
        )
    }
}

impl fmt::Display for ConfState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={:?} learners={:?}", self.voters, self.learners)?;
        if !self.voters_outgoing.is_empty() || !self.learners_next.is_empty() {
            write!(
                f,
                " voters_outgoing={:?} learners_next={:?} auto_leave={}",
                self.voters_outgoing, self.learners_next, self.auto_leave
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.change_type(), self.node_id)
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.metadata {
            Some(m) => write!(
                f,
                "snapshot {}/{} ({} bytes)",
                m.term,
                m.index,
                self.data.len()
            ),
            None => write!(f, "snapshot without metadata ({} bytes)", self.data.len()),
        }
    }
}

impl fmt::Display for Message {
    /// One line: `MsgAppend 1->2 term=3 log_term=2 index=5 commit=4 entries=2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {}->{} term={} log_term={} index={} commit={}",
            self.msg_type(),
            self.from,
            self.to,
            self.term,
            self.log_term,
            self.index,
            self.commit
        )?;
        if !self.entries.is_empty() {
            write!(f, " entries={}", self.entries.len())?;
        }
        if self.reject {
            write!(f, " reject hint={}", self.reject_hint)?;
        }
        if let Some(s) = &self.snapshot {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}
