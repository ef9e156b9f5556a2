//! Linearizable reads without log writes (thesis §6.4): ReadIndex confirmed
//! by a heartbeat round, or by the check-quorum lease (§6.4.1).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use slog::{debug, info};
use tinyraft_log::storage::Storage;
use tinyraft_proto::eraftpb::{Entry, Message, MessageType};

use crate::config::ReadOnlyOption;
use crate::errors::{Error, Result};
use crate::raft::{INVALID_ID, Raft};

/// A read the leader confirmed: once the application has applied up to
/// `index`, it may answer the request identified by `request_ctx`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ReadState {
    /// The commit index when the read arrived at the leader.
    pub index: u64,
    /// The context the read was requested with.
    pub request_ctx: Bytes,
}

#[derive(Clone, Debug)]
struct ReadIndexStatus {
    req: Message,
    index: u64,
    acks: BTreeSet<u64>,
}

/// The reads a leader is confirming, in arrival order.
#[derive(Clone, Debug)]
pub(crate) struct ReadOnly {
    option: ReadOnlyOption,
    pending: BTreeMap<Bytes, ReadIndexStatus>,
    queue: VecDeque<Bytes>,
}

impl ReadOnly {
    pub(crate) fn new(option: ReadOnlyOption) -> ReadOnly {
        ReadOnly {
            option,
            pending: BTreeMap::new(),
            queue: VecDeque::new(),
        }
    }

    pub(crate) fn option(&self) -> ReadOnlyOption {
        self.option
    }

    pub(crate) fn reset(&mut self) {
        self.pending.clear();
        self.queue.clear();
    }

    fn add_request(&mut self, index: u64, req: Message, self_id: u64) {
        let ctx = req_ctx(&req);
        if self.pending.contains_key(&ctx) {
            return;
        }
        let acks = BTreeSet::from([self_id]);
        self.pending
            .insert(ctx.clone(), ReadIndexStatus { req, index, acks });
        self.queue.push_back(ctx);
    }

    fn recv_ack(&mut self, id: u64, ctx: &[u8]) -> Option<&BTreeSet<u64>> {
        let st = self.pending.get_mut(ctx)?;
        st.acks.insert(id);
        Some(&st.acks)
    }

    /// Removes and returns every request up to and including `ctx` (a
    /// heartbeat round confirming a later read confirms the earlier ones).
    fn advance(&mut self, ctx: &[u8]) -> Vec<ReadIndexStatus> {
        let Some(pos) = self.queue.iter().position(|c| &c[..] == ctx) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in self.queue.drain(..=pos) {
            if let Some(st) = self.pending.remove(&c) {
                out.push(st);
            }
        }
        out
    }

    pub(crate) fn last_pending_request_ctx(&self) -> Option<Bytes> {
        self.queue.back().cloned()
    }
}

fn req_ctx(m: &Message) -> Bytes {
    m.entries
        .first()
        .map(|e| e.data.clone())
        .unwrap_or_default()
}

impl<S: Storage> Raft<S> {
    /// `MsgReadIndex` on the leader.
    pub(crate) fn handle_read_index_as_leader(&mut self, m: Message) {
        if !self.prs.is_member(self.id) {
            return;
        }
        if !self.committed_entry_in_current_term() {
            // etcd #7331: a new leader's commit index may be stale until it
            // commits an entry of its own term; answer the read after that.
            debug!(self.logger, "read index waits for this term's first commit");
            self.pending_read_index_msgs.push(m);
            return;
        }
        let index = self.raft_log.committed;
        if self.prs.is_singleton(self.id) {
            self.respond_read(m, index);
            return;
        }
        match self.read_only.option() {
            ReadOnlyOption::LeaseBased
                if !self.lease_revoked && self.prs.has_active_quorum(self.id) =>
            {
                self.respond_read(m, index)
            }
            _ => {
                let ctx = req_ctx(&m);
                let id = self.id;
                self.read_only.add_request(index, m, id);
                self.bcast_heartbeat_with_ctx(Some(ctx));
            }
        }
    }

    /// A heartbeat answer carrying a read's context.
    pub(crate) fn handle_read_ack(&mut self, m: &Message) {
        let confirmed = match self.read_only.recv_ack(m.from, &m.context) {
            Some(acks) => self.prs.has_quorum(acks),
            None => false,
        };
        if !confirmed {
            return;
        }
        for st in self.read_only.advance(&m.context) {
            self.respond_read(st.req, st.index);
        }
    }

    /// Hands a confirmed read to the local application or to the follower
    /// that forwarded it.
    fn respond_read(&mut self, req: Message, index: u64) {
        let request_ctx = req_ctx(&req);
        if req.from == INVALID_ID || req.from == self.id {
            self.read_states.push(ReadState { index, request_ctx });
        } else {
            let m = Message {
                msg_type: MessageType::MsgReadIndexResp as i32,
                to: req.from,
                index,
                entries: vec![Entry {
                    data: request_ctx,
                    ..Default::default()
                }],
                ..Default::default()
            };
            self.send(m);
        }
    }

    /// After a membership change: reads whose acknowledgements already form
    /// a quorum of the new configuration are confirmed (and every read
    /// queued before them), instead of waiting for acks that may never come
    /// (a removed node's, say).
    pub(crate) fn release_reads_confirmed_by_quorum(&mut self) {
        let prs = &self.prs;
        let last = self
            .read_only
            .queue
            .iter()
            .rev()
            .find(|ctx| {
                self.read_only
                    .pending
                    .get(*ctx)
                    .is_some_and(|st| prs.has_quorum(&st.acks))
            })
            .cloned();
        if let Some(ctx) = last {
            for st in self.read_only.advance(&ctx) {
                self.respond_read(st.req, st.index);
            }
        }
    }

    /// Answers the reads that waited for this term's first commit.
    pub(crate) fn release_pending_read_index(&mut self) {
        if self.pending_read_index_msgs.is_empty() || !self.committed_entry_in_current_term() {
            return;
        }
        for m in std::mem::take(&mut self.pending_read_index_msgs) {
            self.handle_read_index_as_leader(m);
        }
    }

    /// A read request from the local application (any role).
    pub(crate) fn read_index_local(&mut self, ctx: Bytes) -> Result<()> {
        let m = Message {
            msg_type: MessageType::MsgReadIndex as i32,
            from: self.id,
            entries: vec![Entry {
                data: ctx,
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = self.step(m);
        if matches!(r, Err(Error::ProposalDropped)) {
            info!(self.logger, "read index dropped: no leader");
        }
        r
    }
}
