//! Malformed-message checks: what [`Error::InvalidMessage`] is for, found
//! before any state changes. Everything well formed but stale or
//! inconsistent is left to Raft's rules.

use tinyraft_proto::eraftpb::{EntryType, Message, MessageType};

use crate::errors::{Error, Result};

/// Message types that carry no term: local ones and requests a follower
/// forwards to its leader. Their term field is never looked at.
pub(crate) fn is_term_free(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgHup
            | MessageType::MsgBeat
            | MessageType::MsgPropose
            | MessageType::MsgTransferLeader
            | MessageType::MsgReadIndex
            | MessageType::MsgUnreachable
            | MessageType::MsgSnapStatus
            | MessageType::MsgCheckQuorum
    )
}

/// Message types only a leader sends.
pub(crate) fn is_leader_msg(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgAppend
            | MessageType::MsgHeartbeat
            | MessageType::MsgSnapshot
            | MessageType::MsgTimeoutNow
    )
}

fn invalid(s: String) -> Result<()> {
    Err(Error::InvalidMessage(s))
}

/// Checks `m`, addressed to node `id` of cluster `cluster_id` (0: unset),
/// for defects no correct sender produces: an unknown message type, another
/// node's or another cluster's message, entries not contiguous from
/// `index + 1`, entry terms decreasing or above the message term, index
/// arithmetic that overflows, a `MsgSnapshot` without snapshot or metadata,
/// and a proposal entry of unknown type.
pub(crate) fn validate_message(id: u64, cluster_id: u64, m: &Message) -> Result<()> {
    let Ok(t) = MessageType::try_from(m.msg_type) else {
        return invalid(format!("unknown message type {}", m.msg_type));
    };
    if m.to != 0 && m.to != id {
        return invalid(format!(
            "{t:?} addressed to node {}, not to this node {id}",
            m.to
        ));
    }
    check_cluster_id(cluster_id, t, m)?;
    match t {
        MessageType::MsgAppend => validate_append(m),
        MessageType::MsgPropose => validate_proposal(m),
        MessageType::MsgSnapshot => match &m.snapshot {
            None => invalid("MsgSnapshot without a snapshot".into()),
            Some(s) if s.metadata.is_none() => invalid("MsgSnapshot without metadata".into()),
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `Config::cluster_id`: a node of one cluster never acts on a message from
/// another (a misrouted peer must neither vote nor append). Zero on either
/// side means "not set" and matches anything, so nodes that set no id, and
/// raft-rs peers (which never send the field), interoperate.
fn check_cluster_id(own: u64, t: MessageType, m: &Message) -> Result<()> {
    if own != 0 && m.cluster_id != 0 && m.cluster_id != own {
        return invalid(format!(
            "{t:?} from node {} of cluster {}, not of this cluster {own}",
            m.from, m.cluster_id
        ));
    }
    Ok(())
}

/// A proposal's entries must be of a known type: prost reads an unknown
/// value as `EntryNormal`, and such an entry must not enter the log as a
/// kind its proposer did not mean.
fn validate_proposal(m: &Message) -> Result<()> {
    for (i, e) in m.entries.iter().enumerate() {
        if EntryType::try_from(e.entry_type).is_err() {
            return invalid(format!(
                "MsgPropose entry {i} has unknown entry type {}",
                e.entry_type
            ));
        }
    }
    Ok(())
}

fn validate_append(m: &Message) -> Result<()> {
    if m.index.checked_add(m.entries.len() as u64).is_none() {
        return invalid(format!(
            "MsgAppend index {} + {} entries overflows u64",
            m.index,
            m.entries.len()
        ));
    }
    // Log terms never decrease, so the entries may not fall below the term
    // the message claims for their predecessor (`log_term`). A `log_term`
    // above the message term is merely odd, not malformed: Raft's matching
    // rule rejects it, so it does not take part in this check.
    let mut prev_term = if m.log_term <= m.term { m.log_term } else { 0 };
    for (i, e) in m.entries.iter().enumerate() {
        // Cannot overflow: checked above.
        let want = m.index + 1 + i as u64;
        if e.index != want {
            return invalid(format!(
                "MsgAppend entries not contiguous: entry {i} has index {}, expected {want}",
                e.index
            ));
        }
        if e.term < prev_term {
            return invalid(format!(
                "MsgAppend entry terms decrease: {} after {prev_term} at index {}",
                e.term, e.index
            ));
        }
        if e.term > m.term {
            return invalid(format!(
                "MsgAppend entry term {} above the message term {} at index {}",
                e.term, m.term, e.index
            ));
        }
        prev_term = e.term;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyraft_proto::eraftpb::{Entry, Snapshot};

    fn app(index: u64, term: u64, ents: &[(u64, u64)]) -> Message {
        Message {
            msg_type: MessageType::MsgAppend as i32,
            to: 1,
            term,
            index,
            entries: ents
                .iter()
                .map(|&(index, term)| Entry {
                    index,
                    term,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn is_invalid(r: Result<()>) -> bool {
        matches!(r, Err(Error::InvalidMessage(_)))
    }

    /// The invalid-input rule: exactly these defects are InvalidMessage.
    #[test]
    fn malformed_appends_are_invalid_message() {
        assert!(validate_message(1, 0, &app(3, 2, &[(4, 1), (5, 2)])).is_ok());
        assert!(is_invalid(validate_message(1, 0, &app(3, 2, &[(5, 1)]))));
        assert!(is_invalid(validate_message(
            1,
            0,
            &app(3, 2, &[(4, 2), (5, 1)])
        )));
        assert!(is_invalid(validate_message(1, 0, &app(3, 2, &[(4, 3)]))));
        assert!(is_invalid(validate_message(
            1,
            0,
            &app(u64::MAX, 2, &[(0, 1)])
        )));
        assert!(validate_message(1, 0, &app(u64::MAX, 2, &[])).is_ok());
        let mut m = app(3, 2, &[]);
        m.to = 9;
        assert!(is_invalid(validate_message(1, 0, &m)));
        m.msg_type = 99;
        m.to = 1;
        assert!(is_invalid(validate_message(1, 0, &m)));
    }

    /// `Config::cluster_id`: another non-zero id is refused; 0 on either
    /// side (unset, or a raft-rs peer) matches anything.
    #[test]
    fn cluster_id_mismatch_is_invalid_and_zero_matches_any() {
        let hb = |cluster_id| Message {
            msg_type: MessageType::MsgHeartbeat as i32,
            to: 1,
            term: 1,
            cluster_id,
            ..Default::default()
        };
        for (own, theirs, ok) in [
            (7, 7, true),
            (7, 0, true),
            (0, 8, true),
            (0, 0, true),
            (7, 8, false),
        ] {
            let r = validate_message(1, own, &hb(theirs));
            assert_eq!(r.is_ok(), ok, "own {own}, message {theirs}: {r:?}");
            assert!(ok || is_invalid(r));
        }
    }

    #[test]
    fn snapshot_without_snapshot_or_metadata_is_invalid() {
        let mut m = Message {
            msg_type: MessageType::MsgSnapshot as i32,
            ..Default::default()
        };
        assert!(is_invalid(validate_message(1, 0, &m)));
        m.snapshot = Some(Snapshot::default());
        assert!(is_invalid(validate_message(1, 0, &m)));
        m.snapshot.as_mut().unwrap().metadata = Some(Default::default());
        assert!(validate_message(1, 0, &m).is_ok());
    }
}
