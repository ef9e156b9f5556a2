//! Leader election (Raft §5.2, §5.4.1), pre-vote (thesis §9.6) and the vote
//! side of check-quorum.

use slog::{debug, info};
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{EntryType, Message, MessageType};

use crate::quorum::VoteResult;
use crate::raft::{CAMPAIGN_TRANSFER, INVALID_ID, Raft, StateRole};

/// Why a node campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CampaignType {
    /// Pre-vote first (thesis §9.6).
    PreElection,
    /// A normal election.
    Election,
    /// Forced by the leader (`MsgTimeoutNow`): skips pre-vote and the lease.
    Transfer,
}

impl<S: Storage> Raft<S> {
    /// Starts an election if this node may: it is not leading, it is a voter,
    /// and it has no committed-but-unapplied conf change (etcd #12133: such
    /// a node does not know its own configuration yet).
    pub(crate) fn hup(&mut self, transfer: bool) {
        if self.state == StateRole::Leader {
            debug!(self.logger, "ignoring MsgHup: already leader");
            return;
        }
        if !self.promotable() {
            info!(self.logger, "not a voter: will not campaign");
            return;
        }
        if self.term == u64::MAX {
            // No later term exists: campaigning would reuse this term's vote.
            info!(self.logger, "cannot campaign: term space exhausted");
            return;
        }
        match self.has_unapplied_conf_changes() {
            Ok(false) => {}
            Ok(true) => {
                info!(self.logger, "cannot campaign: committed conf changes not applied yet";
                    "applied" => self.raft_log.applied, "committed" => self.raft_log.committed);
                return;
            }
            Err(e) => {
                info!(self.logger, "cannot campaign: failed to read committed entries"; "err" => %e);
                return;
            }
        }
        let kind = if transfer {
            CampaignType::Transfer
        } else if self.pre_vote {
            CampaignType::PreElection
        } else {
            CampaignType::Election
        };
        self.campaign(kind);
    }

    fn has_unapplied_conf_changes(&self) -> crate::Result<bool> {
        let (lo, hi) = (
            self.raft_log.applied.saturating_add(1),
            self.raft_log.committed,
        );
        if lo > hi {
            return Ok(false);
        }
        let lo = lo.max(self.raft_log.first_index());
        if lo > hi {
            return Ok(false);
        }
        let ents = self.raft_log.slice(lo, hi.saturating_add(1), None)?;
        Ok(ents
            .iter()
            .any(|e| e.entry_type() != EntryType::EntryNormal))
    }

    pub(crate) fn campaign(&mut self, kind: CampaignType) {
        let (vote_type, term) = if kind == CampaignType::PreElection {
            self.become_pre_candidate();
            // Ask at the term we would campaign in, without moving to it.
            (MessageType::MsgRequestPreVote, self.term.saturating_add(1))
        } else {
            self.become_candidate();
            (MessageType::MsgRequestVote, self.term)
        };
        // Votes are counted in every configuration the log may already be
        // in (see `refresh_pending_configs`).
        self.refresh_pending_configs();
        let id = self.id;
        self.prs.record_vote(id, true);
        if self.poll_votes(kind == CampaignType::PreElection) {
            return;
        }
        let (last_index, last_term) = (self.raft_log.last_index(), self.raft_log.last_term());
        info!(self.logger, "starting election";
            "term" => term, "kind" => ?kind, "last_index" => last_index, "last_term" => last_term);
        for voter in self.prs.campaign_voter_ids() {
            if voter == id {
                continue;
            }
            let mut m = Message {
                msg_type: vote_type as i32,
                to: voter,
                term,
                index: last_index,
                log_term: last_term,
                ..Default::default()
            };
            if kind == CampaignType::Transfer {
                m.context = CAMPAIGN_TRANSFER.into();
            }
            self.send(m);
        }
    }

    /// Acts on the votes tallied so far. Returns whether the election ended.
    fn poll_votes(&mut self, pre: bool) -> bool {
        let (granted, rejected, result) = self.prs.tally_votes();
        debug!(self.logger, "votes"; "granted" => granted, "rejected" => rejected, "pre" => pre);
        match result {
            VoteResult::Won => {
                if pre {
                    self.campaign(CampaignType::Election);
                } else {
                    self.become_leader();
                    self.bcast_append();
                }
                true
            }
            VoteResult::Lost => {
                // A majority said no: stop asking, wait for a leader.
                let term = self.term;
                self.become_follower(term, INVALID_ID);
                true
            }
            VoteResult::Pending => false,
        }
    }

    /// Figure 2's RequestVote receiver (any role), and its pre-vote twin.
    pub(crate) fn handle_vote_request(&mut self, m: &Message) {
        let pre = m.msg_type() == MessageType::MsgRequestPreVote;
        let resp_type = if pre {
            MessageType::MsgRequestPreVoteResponse
        } else {
            MessageType::MsgRequestVoteResponse
        };
        // We can vote for the candidate if we already did, or if we voted for
        // nobody and know no leader in this term; a pre-vote for a later term
        // binds nothing, so it is always possible.
        let can_vote = self.vote == m.from
            || (self.vote == INVALID_ID && self.leader_id == INVALID_ID)
            || (pre && m.term > self.term);
        // §5.4.1: only a candidate whose log is at least as up to date.
        let up_to_date = self.raft_log.is_up_to_date(m.index, m.log_term);
        if can_vote && up_to_date {
            info!(self.logger, "granting vote";
                "to" => m.from, "term" => m.term, "pre" => pre);
            // Answer with the term asked about: a pre-vote grant must not look
            // like a stale rejection to the pre-candidate.
            let resp = Message {
                msg_type: resp_type as i32,
                to: m.from,
                term: m.term,
                ..Default::default()
            };
            self.send(resp);
            if !pre {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            info!(self.logger, "rejecting vote";
                "to" => m.from, "term" => m.term, "pre" => pre, "vote" => self.vote,
                "up_to_date" => up_to_date);
            let resp = Message {
                msg_type: resp_type as i32,
                to: m.from,
                term: self.term,
                reject: true,
                ..Default::default()
            };
            self.send(resp);
        }
    }

    /// A vote answer while campaigning.
    pub(crate) fn handle_vote_response(&mut self, m: &Message) {
        let pre = self.state == StateRole::PreCandidate;
        let expected = if pre {
            MessageType::MsgRequestPreVoteResponse
        } else {
            MessageType::MsgRequestVoteResponse
        };
        if m.msg_type() != expected {
            return;
        }
        self.prs.record_vote(m.from, !m.reject);
        self.poll_votes(pre);
    }
}
