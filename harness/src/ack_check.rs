//! `durable_ack`: a node acknowledges only what its disk holds. An append
//! answer for index `i` promises the leader that `i` survives a crash (the
//! leader counts it toward a commit); a granted vote promises the vote is
//! remembered (no second vote in that term after a restart). An engine
//! that sends `persisted_messages` before its writes are durable — or skips
//! an fsync the `Ready` asked for — breaks the promise at the moment it
//! sends, long before a crash turns it into lost data; this check sees it
//! then.

use tinyraft::eraftpb::{HardState, Message, MessageType};

use crate::invariants::Breach;

/// Checks the promise `m` makes against the sender's durable state:
/// `durable_hs` and `holds(index)` (whether the durable log or snapshot has
/// the sender's entry at `index`).
pub(crate) fn check_durable_ack(
    m: &Message,
    durable_hs: &HardState,
    holds: impl Fn(u64) -> bool,
) -> Result<(), Breach> {
    match m.msg_type() {
        // An ack made in an earlier term than the one the sender's disk is in
        // now may have gone stale legitimately: the Ready that carries it can
        // also carry a newer leader's entries that replace the acked ones
        // (swarm seed 7857: node 5 acks index 100 of term 1, then in the same
        // Ready adopts term 3 and a term-3 entry at 99). Only the old leader
        // could count it, and a commit that rests on it is still checked by
        // `commit_quorum` and `durability`.
        MessageType::MsgAppendResponse
            if !m.reject && m.index > 0 && m.term >= durable_hs.term && !holds(m.index) =>
        {
            return Err((
                "durable_ack",
                format!(
                    "node {} acknowledged index {} to {} before its disk held it",
                    m.from, m.index, m.to
                ),
            ));
        }
        MessageType::MsgRequestVoteResponse if !m.reject => {
            let remembered =
                durable_hs.term > m.term || (durable_hs.term == m.term && durable_hs.vote == m.to);
            if !remembered {
                return Err((
                    "durable_ack",
                    format!(
                        "node {} granted its term-{} vote to {} before its disk recorded it (durable term {}, vote {})",
                        m.from, m.term, m.to, durable_hs.term, durable_hs.vote
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(t: MessageType, from: u64, to: u64, term: u64, index: u64) -> Message {
        Message {
            msg_type: t as i32,
            from,
            to,
            term,
            index,
            ..Default::default()
        }
    }

    /// Figure 2 (persist before responding) / the Ready contract: an append ack for an index the
    /// disk does not hold is caught; one it holds passes.
    #[test]
    fn append_ack_must_be_durable() {
        let hs = HardState::default();
        let ack = msg(MessageType::MsgAppendResponse, 2, 1, 3, 7);
        assert!(check_durable_ack(&ack, &hs, |i| i <= 6).is_err());
        assert!(check_durable_ack(&ack, &hs, |i| i <= 7).is_ok());
        let mut rej = ack.clone();
        rej.reject = true;
        assert!(check_durable_ack(&rej, &hs, |_| false).is_ok());
        // An ack of term 3 sent once the disk is in term 5 (a newer leader's
        // entries replaced the acked ones in the same Ready) is stale, not a
        // broken promise.
        let later = HardState {
            term: 5,
            vote: 0,
            commit: 0,
        };
        assert!(check_durable_ack(&ack, &later, |i| i <= 6).is_ok());
    }

    /// Figure 2 (votedFor is persistent): a granted vote must be on disk.
    #[test]
    fn granted_vote_must_be_durable() {
        let vote = msg(MessageType::MsgRequestVoteResponse, 2, 3, 5, 0);
        let before = HardState {
            term: 4,
            vote: 1,
            commit: 0,
        };
        assert!(check_durable_ack(&vote, &before, |_| true).is_err());
        let other = HardState {
            term: 5,
            vote: 1,
            commit: 0,
        };
        assert!(check_durable_ack(&vote, &other, |_| true).is_err());
        let done = HardState {
            term: 5,
            vote: 3,
            commit: 0,
        };
        assert!(check_durable_ack(&vote, &done, |_| true).is_ok());
        let later = HardState {
            term: 6,
            vote: 0,
            commit: 0,
        };
        assert!(check_durable_ack(&vote, &later, |_| true).is_ok());
    }
}
