//! The Raft state machine: one node's role, term and log, driven by `tick`
//! and `step`. Each role's rules live in their own module (`election`,
//! `replication`, `snapshot`, `transfer`, `membership`, `read_only`); this
//! file holds the state, the role transitions and the dispatch, in the order
//! of the paper's Figure 2.

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use slog::{Logger, debug, info, o, warn};
use tinyraft_log::RaftLog;
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{ConfState, Entry, HardState, Message, MessageType, is_response_msg};

use crate::config::Config;
use crate::errors::{Error, Result};
use crate::read_only::{ReadOnly, ReadState};
use crate::tracker::ProgressTracker;
use crate::uncommitted::UncommittedBudget;

/// "No node": the value of `leader_id` and `vote` when there is none.
pub const INVALID_ID: u64 = 0;

/// The context marking a vote request sent because of a leader transfer
/// (`MsgTimeoutNow`): voters grant it even inside a check-quorum lease.
pub const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StateRole {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Campaigns for leadership in its current term.
    Candidate,
    /// Leads its term.
    Leader,
    /// Asks whether it could win an election before disturbing anyone
    /// (thesis §9.6).
    PreCandidate,
}

/// The volatile state an application may want to observe.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SoftState {
    /// The known leader (0 = none).
    pub leader_id: u64,
    /// This node's role.
    pub raft_state: StateRole,
}

/// One Raft node (the IO-free core). Feed it with [`tick`](Raft::tick) and
/// [`step`](Raft::step); read what to send from [`msgs`](Raft::msgs). Most
/// applications drive it through [`RawNode`](crate::RawNode) instead.
pub struct Raft<S: Storage> {
    /// This node's id.
    pub id: u64,
    /// The current term.
    pub term: u64,
    /// Whom this node voted for in `term` (0 = nobody).
    pub vote: u64,
    /// The current role.
    pub state: StateRole,
    /// The leader of `term` as far as this node knows (0 = none).
    pub leader_id: u64,
    /// The log.
    pub raft_log: RaftLog<S>,
    /// The outbox: every message this node wants sent.
    pub msgs: Vec<Message>,
    /// The node leadership is being transferred to, if any.
    pub lead_transferee: Option<u64>,
    /// The index of the last conf change proposed; a new one is refused until
    /// it is applied.
    pub pending_conf_index: u64,
    /// Reads confirmed by the leader, to be handed out in `Ready::read_states`.
    pub read_states: Vec<ReadState>,

    pub(crate) prs: ProgressTracker,
    pub(crate) election_elapsed: usize,
    /// Ticks since the current leader transfer started.
    pub(crate) transfer_elapsed: usize,
    /// A leader transfer started in this term: lease reads are off until the
    /// next role change.
    pub(crate) lease_revoked: bool,
    pub(crate) heartbeat_elapsed: usize,
    pub(crate) election_timeout: usize,
    pub(crate) heartbeat_timeout: usize,
    pub(crate) min_election_timeout: usize,
    pub(crate) max_election_timeout: usize,
    pub(crate) randomized_election_timeout: usize,
    pub(crate) check_quorum: bool,
    pub(crate) pre_vote: bool,
    pub(crate) skip_bcast_commit: bool,
    /// `Config::cluster_id`: stamped on every message sent, checked on receipt.
    pub(crate) cluster_id: u64,
    pub(crate) max_msg_size: u64,
    pub(crate) max_inflight: usize,
    pub(crate) read_only: ReadOnly,
    pub(crate) uncommitted: UncommittedBudget,
    /// Read requests that arrived before this leader committed an entry of
    /// its term (etcd #7331): answered once it has.
    pub(crate) pending_read_index_msgs: Vec<Message>,
    rng: ChaCha8Rng,
    pub(crate) logger: Logger,
}

/// splitmix64's finalizer: nodes sharing one seed get unrelated streams.
fn mix(seed: u64, id: u64) -> u64 {
    let mut z = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<S: Storage> Raft<S> {
    /// Builds a node from `c` and what `store` holds: term, vote and commit
    /// from its hard state, membership from its conf state. A fresh node is a
    /// follower at term 0; a restarted one resumes its term and vote.
    pub fn new(c: &Config, store: S, logger: &Logger) -> Result<Raft<S>> {
        c.validate()?;
        let logger = logger.new(o!("raft_id" => c.id));
        let rs = store.initial_state()?;
        let mut raft_log = RaftLog::try_new(store, logger.clone())?;
        let hs = rs.hard_state;
        if hs.commit > raft_log.committed {
            // try_new lowered a commit beyond the stored log; keep its value.
            warn!(logger, "hard state commit beyond log"; "commit" => hs.commit);
        }
        let snap_index = raft_log.first_index().saturating_sub(1);
        let applied = c.applied.max(snap_index);
        if applied > raft_log.committed {
            return Err(Error::ConfigInvalid(format!(
                "applied: {applied} is beyond the stored commit index {}",
                raft_log.committed
            )));
        }
        raft_log.applied_to(applied)?;
        let mut r = Raft {
            id: c.id,
            term: hs.term,
            vote: hs.vote,
            state: StateRole::Follower,
            leader_id: INVALID_ID,
            raft_log,
            msgs: Vec::new(),
            lead_transferee: None,
            pending_conf_index: 0,
            read_states: Vec::new(),
            prs: ProgressTracker::new(c.max_inflight_msgs),
            election_elapsed: 0,
            transfer_elapsed: 0,
            lease_revoked: false,
            heartbeat_elapsed: 0,
            election_timeout: c.election_tick,
            heartbeat_timeout: c.heartbeat_tick,
            min_election_timeout: c.min_election_tick(),
            max_election_timeout: c.max_election_tick(),
            randomized_election_timeout: 0,
            check_quorum: c.check_quorum,
            pre_vote: c.pre_vote,
            skip_bcast_commit: c.skip_bcast_commit,
            cluster_id: c.cluster_id,
            max_msg_size: c.max_size_per_msg,
            max_inflight: c.max_inflight_msgs,
            read_only: ReadOnly::new(c.read_only_option),
            uncommitted: UncommittedBudget::new(c.max_uncommitted_size),
            pending_read_index_msgs: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(mix(c.seed, c.id)),
            logger,
        };
        let next = r.raft_log.last_index().saturating_add(1);
        r.prs.apply_conf_state(&rs.conf_state, next);
        let term = r.term;
        r.become_follower(term, INVALID_ID);
        info!(r.logger, "new raft node";
            "term" => r.term, "commit" => r.raft_log.committed, "applied" => r.raft_log.applied,
            "last_index" => r.raft_log.last_index(), "last_term" => r.raft_log.last_term(),
            "voters" => ?r.prs.voter_ids(), "learners" => ?r.prs.learner_ids());
        Ok(r)
    }

    /// The progress tracker (membership and, on a leader, every member's progress).
    pub fn prs(&self) -> &ProgressTracker {
        &self.prs
    }

    /// The progress tracker, mutably.
    pub fn mut_prs(&mut self) -> &mut ProgressTracker {
        &mut self.prs
    }

    /// Leader and role.
    pub fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.leader_id,
            raft_state: self.state,
        }
    }

    /// Term, vote and commit: what must be durable before answering.
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.raft_log.committed,
        }
    }

    /// Ticks since the last election-timer reset.
    pub fn election_elapsed(&self) -> usize {
        self.election_elapsed
    }

    /// The current randomized election timeout, in ticks.
    pub fn randomized_election_timeout(&self) -> usize {
        self.randomized_election_timeout
    }

    /// Pins the election timeout (tests).
    pub fn set_randomized_election_timeout(&mut self, t: usize) {
        self.randomized_election_timeout = t;
    }

    /// Whether this node may campaign: it is a voter in its own configuration.
    pub fn promotable(&self) -> bool {
        self.prs.is_voter(self.id)
    }

    fn reset_randomized_election_timeout(&mut self) {
        let (lo, hi) = (self.min_election_timeout, self.max_election_timeout);
        self.randomized_election_timeout = if hi > lo {
            self.rng.random_range(lo..hi)
        } else {
            lo
        };
    }

    /// The index up to which this node's own log is durable.
    pub(crate) fn persisted_index(&self) -> u64 {
        self.raft_log.stabled.min(self.raft_log.last_index())
    }

    /// Common part of every role change: a new term forgets the vote.
    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = INVALID_ID;
        }
        self.leader_id = INVALID_ID;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_timeout();
        self.abort_leader_transfer();
        self.transfer_elapsed = 0;
        self.lease_revoked = false;
        self.prs.reset_votes();
        let last = self.raft_log.last_index();
        let persisted = self.persisted_index();
        let (id, cap) = (self.id, self.max_inflight);
        for (&pid, pr) in self.prs.iter_mut() {
            *pr = crate::tracker::Progress::new(last.saturating_add(1), cap);
            if pid == id {
                pr.matched = persisted;
                pr.recent_active = true;
            }
        }
        self.pending_conf_index = 0;
        // Only a candidate or a new leader counts by pending configurations.
        self.prs.set_pending(Vec::new(), last.saturating_add(1));
        self.read_only.reset();
        self.uncommitted.reset();
        self.pending_read_index_msgs.clear();
    }

    /// Becomes a follower of `leader_id` (0 = unknown) in `term`.
    pub fn become_follower(&mut self, term: u64, leader_id: u64) {
        self.reset(term);
        self.leader_id = leader_id;
        self.state = StateRole::Follower;
        debug!(self.logger, "became follower"; "term" => term, "leader" => leader_id);
    }

    /// Starts an election: next term, vote for self. Sends nothing (the
    /// `MsgHup` handler asks for votes).
    ///
    /// # Panics
    /// If called on a leader (a leader never campaigns).
    pub fn become_candidate(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Leader,
            "invalid transition [leader -> candidate]"
        );
        let term = self.term.saturating_add(1);
        self.reset(term);
        self.vote = self.id;
        self.state = StateRole::Candidate;
        debug!(self.logger, "became candidate"; "term" => term);
    }

    /// Starts a pre-election (thesis §9.6): asks for votes at `term + 1`
    /// without changing the term or the vote.
    ///
    /// # Panics
    /// If called on a leader.
    pub fn become_pre_candidate(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Leader,
            "invalid transition [leader -> pre-candidate]"
        );
        self.state = StateRole::PreCandidate;
        self.prs.reset_votes();
        self.leader_id = INVALID_ID;
        self.election_elapsed = 0;
        self.reset_randomized_election_timeout();
        debug!(self.logger, "became pre-candidate"; "term" => self.term);
    }

    /// Takes the lead of the current term and appends an empty entry of it
    /// (so the leader can commit, and learn what is committed, §5.4.2 / §8).
    ///
    /// # Panics
    /// If called on a follower (only a candidate wins an election).
    pub fn become_leader(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Follower,
            "invalid transition [follower -> leader]"
        );
        let term = self.term;
        self.reset(term);
        self.leader_id = self.id;
        self.state = StateRole::Leader;
        // Commit only what every configuration the log may be in holds.
        self.refresh_pending_configs();
        let id = self.id;
        if let Some(pr) = self.prs.get_mut(id) {
            // Our own log matches itself up to what is durable.
            pr.become_replicate();
            pr.recent_active = true;
        }
        if let Some(pr) = self.prs.get_mut(id) {
            pr.next_idx = self.raft_log.last_index().saturating_add(1);
        }
        // Any conf change in the uncommitted tail may still be pending.
        self.pending_conf_index = self.raft_log.last_index();
        let empty = Entry {
            term,
            index: self.raft_log.last_index().saturating_add(1),
            ..Default::default()
        };
        self.append_entries_as_leader(vec![empty]);
        info!(self.logger, "became leader"; "term" => term);
    }

    /// Appends stamped entries to the leader's own log.
    pub(crate) fn append_entries_as_leader(&mut self, mut ents: Vec<Entry>) -> bool {
        let mut last = self.raft_log.last_index();
        for e in ents.iter_mut() {
            last = match last.checked_add(1) {
                Some(l) => l,
                None => return false,
            };
            e.term = self.term;
            e.index = last;
        }
        let before = self.raft_log.last_index();
        let appending = !ents.is_empty();
        let after = self.raft_log.append_owned(ents);
        if after == before && appending {
            return false;
        }
        self.own_append_done(after);
        true
    }

    /// [`append_entries_as_leader`](Self::append_entries_as_leader) of one
    /// entry, without a vector around it (a proposal through `RawNode`).
    pub(crate) fn append_entry_as_leader(&mut self, mut e: Entry) -> bool {
        let before = self.raft_log.last_index();
        let Some(index) = before.checked_add(1) else {
            return false;
        };
        e.term = self.term;
        e.index = index;
        let after = self.raft_log.append_entry(e);
        if after == before {
            return false;
        }
        self.own_append_done(after);
        true
    }

    /// The leader's own progress follows its log up to `last`.
    fn own_append_done(&mut self, last: u64) {
        let id = self.id;
        if let Some(pr) = self.prs.get_mut(id) {
            pr.next_idx = last.saturating_add(1);
        }
    }

    /// Queues `m` for sending, stamping `from` (unless it is a forwarded
    /// request that already names its origin) and (for messages that carry
    /// one) the term.
    pub(crate) fn send(&mut self, mut m: Message) {
        if m.from == INVALID_ID {
            m.from = self.id;
        }
        m.cluster_id = self.cluster_id;
        match m.msg_type() {
            // Vote traffic carries its own term (a pre-vote asks at term + 1).
            MessageType::MsgRequestVote
            | MessageType::MsgRequestPreVote
            | MessageType::MsgRequestVoteResponse
            | MessageType::MsgRequestPreVoteResponse => {}
            // Forwarded requests carry no term: they are local to the leader.
            MessageType::MsgPropose
            | MessageType::MsgReadIndex
            | MessageType::MsgTransferLeader => m.term = 0,
            _ => m.term = self.term,
        }
        self.msgs.push(m);
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        match self.state {
            StateRole::Leader => self.tick_heartbeat(),
            _ => self.tick_election(),
        }
    }

    fn tick_election(&mut self) {
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.promotable() && self.election_elapsed >= self.randomized_election_timeout {
            self.election_elapsed = 0;
            let m = Message {
                msg_type: MessageType::MsgHup as i32,
                from: self.id,
                ..Default::default()
            };
            if let Err(e) = self.step(m) {
                debug!(self.logger, "election tick failed"; "err" => %e);
            }
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed = self.heartbeat_elapsed.saturating_add(1);
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.lead_transferee.is_some() {
            // A transfer that did not finish within an election timeout is abandoned.
            self.transfer_elapsed = self.transfer_elapsed.saturating_add(1);
            if self.transfer_elapsed >= self.election_timeout {
                self.abort_leader_transfer();
            }
        }
        if self.election_elapsed >= self.election_timeout {
            self.election_elapsed = 0;
            if self.check_quorum {
                let m = Message {
                    msg_type: MessageType::MsgCheckQuorum as i32,
                    from: self.id,
                    ..Default::default()
                };
                let _ = self.step(m);
            }
            if self.state == StateRole::Leader {
                self.expire_snapshots();
            }
        }
        if self.state != StateRole::Leader {
            return;
        }
        if self.heartbeat_elapsed >= self.heartbeat_timeout {
            self.heartbeat_elapsed = 0;
            let m = Message {
                msg_type: MessageType::MsgBeat as i32,
                from: self.id,
                ..Default::default()
            };
            let _ = self.step(m);
            // Retry an automatic leave that could not be proposed when the
            // entering change applied.
            self.maybe_auto_leave();
        }
    }

    /// Handles one message: validation, the term rules of Figure 2, then
    /// the rules of this node's role.
    pub fn step(&mut self, m: Message) -> Result<()> {
        crate::validate::validate_message(self.id, self.cluster_id, &m)?;
        let t = m.msg_type();
        if is_response_msg(t) && !self.prs.is_member(m.from) {
            debug!(self.logger, "response from a non-member"; "from" => m.from, "type" => ?t);
            return Err(Error::StepPeerNotFound);
        }
        // Term 0 carries no term (local messages, forwarded requests): no
        // term rule applies and the message is handled at the current term
        // (as etcd does). But no leader ever has term 0, so leader traffic
        // without a term is ignored rather than obeyed.
        if m.term == 0 && crate::validate::is_leader_msg(t) {
            debug!(self.logger, "ignoring leader message without a term"; "from" => m.from, "type" => ?t);
            return Ok(());
        }
        if m.term != 0 && !crate::validate::is_term_free(t) {
            if m.term > self.term {
                if !self.step_higher_term(&m) {
                    return Ok(());
                }
            } else if m.term < self.term {
                self.step_lower_term(&m);
                return Ok(());
            }
        }
        match t {
            MessageType::MsgHup => {
                self.hup(false);
                Ok(())
            }
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote => {
                self.handle_vote_request(&m);
                Ok(())
            }
            _ => match self.state {
                StateRole::Leader => self.step_leader(m),
                StateRole::Candidate | StateRole::PreCandidate => self.step_candidate(m),
                StateRole::Follower => self.step_follower(m),
            },
        }
    }

    /// A message from a later term. Returns whether to go on handling it.
    fn step_higher_term(&mut self, m: &Message) -> bool {
        let t = m.msg_type();
        if matches!(
            t,
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        ) {
            let force = m.context[..] == *CAMPAIGN_TRANSFER;
            // Check-quorum lease: a node that heard from a live leader within
            // an election timeout does not let a (possibly partitioned) node
            // depose it (thesis §4.2.3).
            let in_lease = self.check_quorum
                && self.leader_id != INVALID_ID
                && self.election_elapsed < self.election_timeout;
            if !force && in_lease {
                info!(self.logger, "ignoring vote request inside leader lease";
                    "from" => m.from, "term" => m.term, "type" => ?t);
                return false;
            }
        }
        match t {
            // A pre-vote never changes the term of the node asked.
            MessageType::MsgRequestPreVote => {}
            // A granted pre-vote answers at our term + 1 without a real election.
            MessageType::MsgRequestPreVoteResponse if !m.reject => {}
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot => {
                debug!(self.logger, "higher term from leader"; "from" => m.from, "term" => m.term);
                self.become_follower(m.term, m.from);
            }
            MessageType::MsgRequestVote => {
                // Figure 2: a follower restarts its election timer when it
                // hears from the current leader or grants a vote, not merely
                // because a candidate's term is higher. Otherwise candidates
                // with stale logs, which can never win, keep resetting the
                // up-to-date nodes that could, and (without pre-vote) no
                // leader is ever elected. The timer restarts below only if
                // the vote is granted.
                debug!(self.logger, "higher term from a candidate"; "from" => m.from, "term" => m.term);
                let (elapsed, timeout) = (self.election_elapsed, self.randomized_election_timeout);
                self.become_follower(m.term, INVALID_ID);
                self.election_elapsed = elapsed;
                self.randomized_election_timeout = timeout;
            }
            _ => {
                debug!(self.logger, "higher term"; "from" => m.from, "term" => m.term, "type" => ?t);
                self.become_follower(m.term, INVALID_ID);
            }
        }
        true
    }

    /// A message from an earlier term: changes nothing, but a stale leader
    /// is told the current term when it could otherwise never learn it.
    fn step_lower_term(&mut self, m: &Message) {
        let t = m.msg_type();
        if (self.check_quorum || self.pre_vote)
            && matches!(t, MessageType::MsgAppend | MessageType::MsgHeartbeat)
        {
            // With check-quorum or pre-vote, a node partitioned away may have a
            // higher term that the others never adopt; answering lets the stale
            // leader step down (etcd's behaviour) rather than wait forever.
            let resp = Message {
                msg_type: MessageType::MsgAppendResponse as i32,
                to: m.from,
                ..Default::default()
            };
            self.send(resp);
        } else if t == MessageType::MsgRequestPreVote {
            // Reject so the pre-candidate learns our term.
            let resp = Message {
                msg_type: MessageType::MsgRequestPreVoteResponse as i32,
                to: m.from,
                term: self.term,
                reject: true,
                ..Default::default()
            };
            self.send(resp);
        } else {
            debug!(self.logger, "ignoring message from a lower term";
                "from" => m.from, "term" => m.term, "type" => ?t);
        }
    }

    fn step_leader(&mut self, m: Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgBeat => self.bcast_heartbeat(),
            MessageType::MsgCheckQuorum => {
                if !self.prs.quorum_recently_active(self.id) {
                    warn!(self.logger, "stepping down: no quorum active within an election timeout";
                        "term" => self.term);
                    let term = self.term;
                    self.become_follower(term, INVALID_ID);
                }
            }
            MessageType::MsgPropose => return self.propose_as_leader(m),
            MessageType::MsgAppendResponse => self.handle_append_response(&m),
            MessageType::MsgHeartbeatResponse => self.handle_heartbeat_response(&m),
            MessageType::MsgSnapStatus => self.handle_snapshot_status(&m),
            MessageType::MsgUnreachable => self.handle_unreachable(&m),
            MessageType::MsgTransferLeader => self.handle_transfer_leader(&m),
            MessageType::MsgReadIndex => self.handle_read_index_as_leader(m),
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot => {
                // Two leaders in one term would break election safety.
                warn!(self.logger, "leader got a leader message of its own term"; "from" => m.from);
            }
            t => debug!(self.logger, "leader ignores"; "type" => ?t, "from" => m.from),
        }
        Ok(())
    }

    fn step_candidate(&mut self, mut m: Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgPropose => {
                info!(self.logger, "no leader; dropping proposal"; "term" => self.term);
                return Err(Error::ProposalDropped);
            }
            MessageType::MsgReadIndex => {
                info!(self.logger, "no leader; dropping read index"; "term" => self.term);
                return Err(Error::ProposalDropped);
            }
            // A leader of our term exists: §5.2, step back and follow it.
            MessageType::MsgAppend => {
                self.become_follower(self.term, m.from);
                self.handle_append(&mut m);
            }
            MessageType::MsgHeartbeat => {
                self.become_follower(self.term, m.from);
                self.handle_heartbeat(&m);
            }
            MessageType::MsgSnapshot => {
                self.become_follower(self.term, m.from);
                self.handle_snapshot(m);
            }
            MessageType::MsgRequestVoteResponse | MessageType::MsgRequestPreVoteResponse => {
                self.handle_vote_response(&m)
            }
            t => debug!(self.logger, "candidate ignores"; "type" => ?t, "from" => m.from),
        }
        Ok(())
    }

    fn step_follower(&mut self, mut m: Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgPropose => {
                if self.leader_id == INVALID_ID {
                    info!(self.logger, "no leader; dropping proposal"; "term" => self.term);
                    return Err(Error::ProposalDropped);
                }
                m.to = self.leader_id;
                self.send(m);
            }
            MessageType::MsgAppend => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_append(&mut m);
            }
            MessageType::MsgHeartbeat => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_heartbeat(&m);
            }
            MessageType::MsgSnapshot => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_snapshot(m);
            }
            MessageType::MsgTransferLeader => {
                if self.leader_id == INVALID_ID {
                    info!(self.logger, "no leader; dropping leader transfer"; "term" => self.term);
                    return Ok(());
                }
                m.to = self.leader_id;
                self.send(m);
            }
            MessageType::MsgTimeoutNow => self.handle_timeout_now(&m),
            MessageType::MsgReadIndex => {
                if self.leader_id == INVALID_ID {
                    info!(self.logger, "no leader; dropping read index"; "term" => self.term);
                    return Err(Error::ProposalDropped);
                }
                m.to = self.leader_id;
                self.send(m);
            }
            MessageType::MsgReadIndexResp => {
                let request_ctx = m
                    .entries
                    .first()
                    .map(|e| e.data.clone())
                    .unwrap_or_default();
                self.read_states.push(ReadState {
                    index: m.index,
                    request_ctx,
                });
            }
            t => debug!(self.logger, "follower ignores"; "type" => ?t, "from" => m.from),
        }
        Ok(())
    }

    /// Entries up to `index` (whose term is `term`) are durable. A stale
    /// acknowledgement (the entry was replaced since) is ignored. On a
    /// leader this is what lets its own log count toward a quorum.
    pub fn on_persist_entries(&mut self, index: u64, term: u64) {
        if !self.raft_log.match_term(index, term) {
            debug!(self.logger, "ignoring stale persist ack"; "index" => index, "term" => term);
            return;
        }
        self.raft_log.stable_to(index, term);
        if self.state == StateRole::Leader {
            let id = self.id;
            let persisted = self.persisted_index();
            let updated = self
                .prs
                .get_mut(id)
                .is_some_and(|pr| pr.maybe_update(persisted));
            if updated && self.maybe_commit() {
                self.on_commit_advanced();
            }
        }
    }

    /// The pending snapshot at `index` is durable.
    pub fn on_persist_snap(&mut self, index: u64) {
        self.raft_log.stable_snap_to(index);
    }

    /// Applied entries up to `index` (the application's word).
    pub(crate) fn commit_apply(&mut self, index: u64) {
        let index = index.min(self.raft_log.committed);
        if index > self.raft_log.applied {
            if let Err(e) = self.raft_log.applied_to(index) {
                warn!(self.logger, "applied_to failed"; "err" => %e);
            }
            self.maybe_auto_leave();
        }
    }

    /// Whether the entry at `committed` is of the current term: a leader's
    /// commit index is only known current after that (§5.4.2, §8).
    pub(crate) fn committed_entry_in_current_term(&self) -> bool {
        self.raft_log
            .term(self.raft_log.committed)
            .is_ok_and(|t| t == self.term)
    }

    /// The membership as a `ConfState`.
    pub(crate) fn conf_state(&self) -> ConfState {
        self.prs.conf_state()
    }

    /// The context of the last read request waiting for a heartbeat round.
    pub(crate) fn last_read_ctx(&self) -> Option<Bytes> {
        self.read_only.last_pending_request_ctx()
    }
}
