//! Leadership transfer (thesis §3.10, TinyKV 3A): the leader catches the
//! transferee up, then tells it to campaign at once with `MsgTimeoutNow`.

use slog::{debug, info};
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{Message, MessageType};

use crate::raft::Raft;

impl<S: Storage> Raft<S> {
    /// Cancels a pending transfer (proposals are accepted again).
    pub(crate) fn abort_leader_transfer(&mut self) {
        if let Some(t) = self.lead_transferee.take() {
            debug!(self.logger, "leader transfer aborted"; "transferee" => t);
        }
    }

    /// The leader's side of `MsgTransferLeader` (`from` = the transferee).
    pub(crate) fn handle_transfer_leader(&mut self, m: &Message) {
        let transferee = m.from;
        if !self.prs.is_voter(transferee) {
            // Learners and strangers cannot lead this group.
            debug!(self.logger, "ignoring transfer to a non-voter"; "transferee" => transferee);
            return;
        }
        if let Some(last) = self.lead_transferee {
            if last == transferee {
                debug!(self.logger, "transfer to this node already in progress";
                    "transferee" => transferee);
                return;
            }
            // A second transfer replaces the first.
            self.abort_leader_transfer();
        }
        if transferee == self.id {
            debug!(self.logger, "already leader; transfer to self is a no-op");
            return;
        }
        // The transfer must finish within an election timeout, or it is
        // abandoned. It runs on its own clock: `election_elapsed` is also the
        // check-quorum clock, and restarting that would let a leader cut off
        // from the majority buy another timeout of leadership (and lease) with
        // every transfer request.
        self.transfer_elapsed = 0;
        self.lead_transferee = Some(transferee);
        // Thesis §6.4.1: the transferee may be elected before our lease runs
        // out (voters grant it inside their lease), so from now on this term
        // confirms every read with a heartbeat round.
        self.lease_revoked = true;
        info!(self.logger, "transferring leadership"; "to" => transferee, "term" => self.term);
        let last = self.raft_log.last_index();
        if self
            .prs
            .get(transferee)
            .is_some_and(|pr| pr.matched == last)
        {
            self.send_timeout_now(transferee);
        } else {
            self.send_append(transferee);
        }
    }

    pub(crate) fn send_timeout_now(&mut self, to: u64) {
        let m = Message {
            msg_type: MessageType::MsgTimeoutNow as i32,
            to,
            ..Default::default()
        };
        self.send(m);
    }

    /// The transferee's side: campaign at once, skipping pre-vote, with the
    /// request marked so voters override their check-quorum lease. A node
    /// that is not a voter here ignores it (`hup` checks).
    pub(crate) fn handle_timeout_now(&mut self, m: &Message) {
        info!(self.logger, "MsgTimeoutNow: campaigning for transfer"; "from" => m.from, "term" => self.term);
        self.hup(true);
    }
}
