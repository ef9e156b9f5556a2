//! Simulated KV clients: each issues one operation at a time with a unique
//! `(client_id, seq)`, looks for the leader, retries on timeout or leader
//! change (the state machine applies a retry at most once), and records
//! what it saw — call and return times, results — for the linearizability
//! check. Reads go through the log.

use rand::Rng;

use crate::cluster::Cluster;
use crate::kv::{Command, KvOp, KvResult};
use crate::linearizability::Operation;
use crate::trace::EventKind;
use crate::world::Event;

/// How long a client waits for its operation before trying another node.
const RETRY_TIMEOUT_MS: u64 = 800;
/// Pause before asking the next node when one refuses (not leader).
const REDIRECT_PAUSE_MS: u64 = 50;

#[derive(Debug, Clone)]
struct Pending {
    cmd: Command,
    call_ms: u64,
    history_index: usize,
}

#[derive(Debug, Clone)]
struct Client {
    id: u64,
    seq: u64,
    /// Node the client believes leads.
    target: u64,
    pending: Option<Pending>,
    /// The client's timer: events before this time are stale.
    deadline: u64,
    ops_left: u64,
}

/// The client population of a run and the history they recorded.
#[derive(Debug)]
pub(crate) struct Clients {
    clients: Vec<Client>,
    pub(crate) history: Vec<Operation>,
    /// Whether clients still issue new operations.
    pub(crate) active: bool,
    keys: u64,
    pub(crate) completed: u64,
    /// Serve `Get`s through ReadIndex instead of the log.
    pub(crate) read_index: bool,
    /// Reads among operations, in tenths (default 3).
    pub(crate) read_tenths: u64,
    /// Send each operation to a random node (followers forward proposals
    /// and ReadIndex requests to their leader).
    pub(crate) any_node: bool,
    /// Largest `Put` value (0: short values only).
    pub(crate) max_payload: usize,
}

impl Default for Clients {
    fn default() -> Clients {
        Clients {
            clients: Vec::new(),
            history: Vec::new(),
            active: false,
            keys: 0,
            completed: 0,
            read_index: false,
            read_tenths: 3,
            any_node: false,
            max_payload: 0,
        }
    }
}

impl Cluster {
    /// Starts `n` clients, each issuing up to `ops_per_client` operations on
    /// `keys` keys.
    pub fn start_clients(&mut self, n: usize, ops_per_client: u64, keys: u64) {
        self.start_clients_with(n, ops_per_client, keys, true);
    }

    /// [`Cluster::start_clients`], choosing whether `Get`s go through
    /// ReadIndex (`true`) or through the log.
    pub fn start_clients_with(
        &mut self,
        n: usize,
        ops_per_client: u64,
        keys: u64,
        read_index: bool,
    ) {
        self.clients.read_index = read_index;
        self.clients.active = true;
        self.clients.keys = keys.max(1);
        let nodes = self.node_ids();
        for i in 0..n {
            let id = self.clients.clients.len() as u64 + 1;
            let target = nodes[self.rng.random_range(0..nodes.len())];
            let start = self.now_ms() + self.rng.random_range(0..200);
            self.clients.clients.push(Client {
                id,
                seq: 0,
                target,
                pending: None,
                deadline: start,
                ops_left: ops_per_client,
            });
            self.world.schedule(start, Event::Client { client: i });
        }
    }

    /// Stops issuing new operations (pending ones may still complete).
    pub fn stop_clients(&mut self) {
        self.clients.active = false;
    }

    /// The client history so far (for [`crate::linearizability::check`]).
    pub fn client_history(&self) -> &[Operation] {
        &self.clients.history
    }

    /// Number of client operations that completed.
    pub fn client_ops_completed(&self) -> u64 {
        self.clients.completed
    }

    pub(crate) fn client_event(&mut self, ci: usize) {
        let now = self.now_ms();
        let Some(c) = self.clients.clients.get(ci) else {
            return;
        };
        if now < c.deadline {
            return; // a stale timer
        }
        if c.pending.is_none() {
            if !self.clients.active || c.ops_left == 0 {
                return;
            }
            self.issue(ci);
        }
        self.submit(ci);
    }

    fn issue(&mut self, ci: usize) {
        let key = format!("k{}", self.rng.random_range(0..self.clients.keys));
        let reads = self.clients.read_tenths;
        let roll = self.rng.random_range(0..10);
        let op = if roll < reads {
            KvOp::Get { key }
        } else if roll < reads + 2 {
            let mut value = format!("p{}", self.rng.random_range(0..1000));
            let max = self.clients.max_payload;
            if max > 0 && self.rng.random_bool(0.3) {
                // From empty to larger than max_size_per_msg.
                let len = self.rng.random_range(0..=max);
                value = if len == 0 {
                    String::new()
                } else {
                    format!("{value:x<len$}")
                };
            }
            KvOp::Put { key, value }
        } else {
            KvOp::Append {
                key,
                value: format!("a{}.", self.rng.random_range(0..1000)),
            }
        };
        if self.clients.any_node {
            let ids = self.node_ids();
            self.clients.clients[ci].target = ids[self.rng.random_range(0..ids.len())];
        }
        let now = self.now_ms();
        let c = &mut self.clients.clients[ci];
        c.seq += 1;
        c.ops_left -= 1;
        let cmd = Command {
            client_id: c.id,
            seq: c.seq,
            op: op.clone(),
        };
        let history_index = self.clients.history.len();
        self.clients.history.push(Operation {
            client_id: c.id,
            op: op.clone(),
            output: None,
            call_ms: now,
            return_ms: None,
        });
        c.pending = Some(Pending {
            cmd,
            call_ms: now,
            history_index,
        });
        let (client, op_id) = (c.id, c.seq);
        self.push(EventKind::ClientInvoke {
            client,
            op_id,
            op: op.to_string(),
        });
    }

    /// Sends the pending command to the client's target; on refusal, moves
    /// to the leader the target knows of, or the next node.
    fn submit(&mut self, ci: usize) {
        let now = self.now_ms();
        let ids = self.node_ids();
        let (target, data) = {
            let c = &self.clients.clients[ci];
            let Some(p) = &c.pending else { return };
            (c.target, p.cmd.encode())
        };
        let reachable = self.is_up(target) && self.net.is_connected(target);
        let is_get = Command::decode(&data).is_some_and(|c| c.op.is_read());
        let leader_known = self
            .nodes
            .get(&target)
            .and_then(|n| n.raw.as_ref())
            .is_some_and(|r| r.raft.leader_id != 0);
        let forward = self.clients.any_node && reachable && !self.is_leader(target) && leader_known;
        let accepted = if forward {
            // A follower forwards the proposal or the ReadIndex request.
            let Some(raw) = self.nodes.get_mut(&target).and_then(|n| n.raw.as_mut()) else {
                return;
            };
            let ok = if is_get && self.clients.read_index {
                raw.read_index(data);
                true
            } else {
                raw.propose(bytes::Bytes::new(), data).is_ok()
            };
            self.drive(target);
            ok
        } else if is_get && self.clients.read_index {
            // Reads skip the log: ReadIndex (thesis §6.4), answered once the
            // leader's state machine reaches the confirmed commit index.
            let ok = reachable && self.is_leader(target);
            if ok {
                if let Some(raw) = self.nodes.get_mut(&target).and_then(|n| n.raw.as_mut()) {
                    raw.read_index(data);
                }
                self.drive(target);
            }
            ok
        } else {
            reachable && self.start(target, data).is_some()
        };
        let next_target = if accepted {
            target
        } else {
            let hint = self
                .nodes
                .get(&target)
                .and_then(|n| n.raw.as_ref())
                .map(|r| r.raft.leader_id)
                .filter(|&l| l != 0 && l != target && reachable);
            hint.unwrap_or_else(|| {
                let pos = ids.iter().position(|&i| i == target).unwrap_or(0);
                ids[(pos + 1) % ids.len()]
            })
        };
        let wait = if accepted {
            RETRY_TIMEOUT_MS
        } else {
            REDIRECT_PAUSE_MS
        };
        let c = &mut self.clients.clients[ci];
        c.target = next_target;
        c.deadline = now + wait;
        self.world
            .schedule(now + wait, Event::Client { client: ci });
    }

    /// Answers the ReadIndex reads of `id` whose index its state machine
    /// has reached.
    pub(crate) fn serve_reads(&mut self, id: u64) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.pending_reads.is_empty() || node.raw.is_none() {
            return;
        }
        let applied = node.sm_applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut node.pending_reads)
            .into_iter()
            .partition(|rs| rs.index <= applied);
        node.pending_reads = waiting;
        let mut answers = Vec::new();
        for rs in ready {
            if let Some(cmd) = Command::decode(&rs.request_ctx) {
                let v = node.kv.get(cmd.op.key()).unwrap_or_default().to_string();
                answers.push((rs.index, cmd, KvResult::Value(v)));
            }
        }
        for (idx, cmd, res) in answers {
            self.client_applied(idx, &cmd, &res);
        }
    }

    /// A node applied `cmd` with result `res`: the issuing client, if still
    /// waiting for it, completes now.
    pub(crate) fn client_applied(&mut self, _index: u64, cmd: &Command, res: &KvResult) {
        let now = self.now_ms();
        let Some(ci) = self
            .clients
            .clients
            .iter()
            .position(|c| c.id == cmd.client_id)
        else {
            return;
        };
        let c = &mut self.clients.clients[ci];
        let Some(p) = &c.pending else { return };
        if p.cmd.seq != cmd.seq {
            return;
        }
        let hi = p.history_index;
        let _ = p.call_ms;
        c.pending = None;
        let think = 1 + (cmd.seq * 7 + c.id * 13) % 20;
        c.deadline = now + think;
        let op_id = c.seq;
        self.world
            .schedule(now + think, Event::Client { client: ci });
        let output = match res {
            KvResult::Value(v) => Some(v.clone()),
            _ => None,
        };
        if let Some(h) = self.clients.history.get_mut(hi) {
            h.return_ms = Some(now);
            if matches!(h.op, KvOp::Get { .. }) {
                h.output = output;
            }
        }
        self.clients.completed += 1;
        let result = match res {
            KvResult::Ok => "ok".to_string(),
            KvResult::Value(v) => format!("{v:?}"),
            KvResult::Stale => "stale".to_string(),
        };
        self.push(EventKind::ClientReturn {
            client: cmd.client_id,
            op_id,
            result,
        });
    }
}
