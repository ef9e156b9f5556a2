//! Simulated KV clients: each issues one operation at a time with a unique
//! `(client_id, seq)`, looks for the leader, retries on timeout or leader
//! change (the state machine applies a retry at most once), and records
//! what it saw — call and return times, results — for the linearizability
//! check. Reads go through the log, or through ReadIndex.
//!
//! Clients know the cluster only through [`ClientHost`]: the clock, the
//! seeded rng, which nodes exist, are reachable and whom they believe leads,
//! submitting a command to one node, and a timer.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::kv::{Command, KvOp, KvResult};
use crate::linearizability::Operation;
use crate::trace::EventKind;

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
    /// A client gives up on an operation this many ms after calling it:
    /// its outcome stays unknown (it may take effect later, or never) and
    /// the client goes on with its next operation. `None`: never.
    pub(crate) give_up_ms: Option<u64>,
    /// Operations given up on.
    pub(crate) gave_up: u64,
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
            give_up_ms: None,
            gave_up: 0,
        }
    }
}

/// The narrow interface clients talk to the cluster through.
pub(crate) trait ClientHost {
    /// The client population.
    fn clients(&mut self) -> &mut Clients;
    /// Current simulated time in ms.
    fn now_ms(&self) -> u64;
    /// The run's seeded rng (clients draw from the same stream as the rest
    /// of the run).
    fn rng(&mut self) -> &mut ChaCha8Rng;
    /// Ids of every node, ascending.
    fn node_ids(&self) -> Vec<u64>;
    /// Whether `node` is up and connected.
    fn reachable(&self, node: u64) -> bool;
    /// Whether `node` is up and believes it leads.
    fn is_leader(&self, node: u64) -> bool;
    /// The leader `node` believes in (0: none), if `node` is up.
    fn leader_of(&self, node: u64) -> Option<u64>;
    /// Hands `data` to follower `node` to forward to its leader (as a
    /// ReadIndex request if `read_index`, else as a proposal), then drives
    /// it; `None` if the node is down, else whether it took the request.
    fn forward(&mut self, node: u64, data: Vec<u8>, read_index: bool) -> Option<bool>;
    /// Asks leader `node` for a ReadIndex read carrying `data`.
    fn read_index(&mut self, node: u64, data: Vec<u8>);
    /// Proposes `data` on `node` if it leads; whether it took it.
    fn propose(&mut self, node: u64, data: Vec<u8>) -> bool;
    /// Wakes client `client` (by index) at absolute time `at`.
    fn wake_at(&mut self, at: u64, client: usize);
    /// Records a trace event.
    fn record(&mut self, ev: EventKind);
}

/// Starts `n` clients, each issuing up to `ops_per_client` operations on
/// `keys` keys, `Get`s through ReadIndex if `read_index`.
pub(crate) fn start<H: ClientHost>(
    h: &mut H,
    n: usize,
    ops_per_client: u64,
    keys: u64,
    read_index: bool,
) {
    let cs = h.clients();
    cs.read_index = read_index;
    cs.active = true;
    cs.keys = keys.max(1);
    let nodes = h.node_ids();
    for i in 0..n {
        let id = h.clients().clients.len() as u64 + 1;
        let target = nodes[h.rng().random_range(0..nodes.len())];
        let start = h.now_ms() + h.rng().random_range(0..200);
        h.clients().clients.push(Client {
            id,
            seq: 0,
            target,
            pending: None,
            deadline: start,
            ops_left: ops_per_client,
        });
        h.wake_at(start, i);
    }
}

/// Client `ci`'s timer fired: issue its next operation if it has none
/// pending, and submit the pending one.
pub(crate) fn on_timer<H: ClientHost>(h: &mut H, ci: usize) {
    let now = h.now_ms();
    let cs = h.clients();
    let active = cs.active;
    let Some(c) = cs.clients.get(ci) else {
        return;
    };
    if now < c.deadline {
        return; // a stale timer
    }
    let overdue = c
        .pending
        .as_ref()
        .zip(cs.give_up_ms)
        .is_some_and(|(p, limit)| now >= p.call_ms.saturating_add(limit));
    if overdue {
        give_up(h, ci);
    }
    let cs = h.clients();
    let Some(c) = cs.clients.get(ci) else {
        return;
    };
    if c.pending.is_none() {
        if !active || c.ops_left == 0 {
            return;
        }
        issue(h, ci);
    }
    submit(h, ci);
}

/// Client `ci` stops waiting for its pending operation: the history keeps
/// it without a return (outcome unknown), and a late answer is ignored.
fn give_up<H: ClientHost>(h: &mut H, ci: usize) {
    let cs = h.clients();
    let c = &mut cs.clients[ci];
    if c.pending.take().is_none() {
        return;
    }
    let (client, op_id) = (c.id, c.seq);
    cs.gave_up += 1;
    h.record(EventKind::ClientReturn {
        client,
        op_id,
        result: "unknown (gave up)".to_string(),
    });
}

fn issue<H: ClientHost>(h: &mut H, ci: usize) {
    let keys = h.clients().keys;
    let key = format!("k{}", h.rng().random_range(0..keys));
    let reads = h.clients().read_tenths;
    let roll = h.rng().random_range(0..10);
    let op = if roll < reads {
        KvOp::Get { key }
    } else if roll < reads + 2 {
        let mut value = format!("p{}", h.rng().random_range(0..1000));
        let max = h.clients().max_payload;
        if max > 0 && h.rng().random_bool(0.3) {
            // From empty to larger than max_size_per_msg.
            let len = h.rng().random_range(0..=max);
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
            value: format!("a{}.", h.rng().random_range(0..1000)),
        }
    };
    if h.clients().any_node {
        let ids = h.node_ids();
        let target = ids[h.rng().random_range(0..ids.len())];
        h.clients().clients[ci].target = target;
    }
    let now = h.now_ms();
    let cs = h.clients();
    let c = &mut cs.clients[ci];
    c.seq += 1;
    c.ops_left -= 1;
    let cmd = Command {
        client_id: c.id,
        seq: c.seq,
        op: op.clone(),
    };
    let history_index = cs.history.len();
    cs.history.push(Operation {
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
    h.record(EventKind::ClientInvoke {
        client,
        op_id,
        op: op.to_string(),
    });
}

/// Sends the pending command to the client's target; on refusal, moves
/// to the leader the target knows of, or the next node.
fn submit<H: ClientHost>(h: &mut H, ci: usize) {
    let now = h.now_ms();
    let ids = h.node_ids();
    let cs = h.clients();
    let (any_node, read_index) = (cs.any_node, cs.read_index);
    let (target, data) = {
        let c = &cs.clients[ci];
        let Some(p) = &c.pending else { return };
        (c.target, p.cmd.encode())
    };
    let reachable = h.reachable(target);
    let is_get = Command::decode(&data).is_some_and(|c| c.op.is_read());
    let leader_known = h.leader_of(target).is_some_and(|l| l != 0);
    let forward = any_node && reachable && !h.is_leader(target) && leader_known;
    let accepted = if forward {
        // A follower forwards the proposal or the ReadIndex request.
        let Some(ok) = h.forward(target, data, is_get && read_index) else {
            return;
        };
        ok
    } else if is_get && read_index {
        // Reads skip the log: ReadIndex (thesis §6.4), answered once the
        // leader's state machine reaches the confirmed commit index.
        let ok = reachable && h.is_leader(target);
        if ok {
            h.read_index(target, data);
        }
        ok
    } else {
        reachable && h.propose(target, data)
    };
    let next_target = if accepted {
        target
    } else {
        let hint = h
            .leader_of(target)
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
    let c = &mut h.clients().clients[ci];
    c.target = next_target;
    c.deadline = now + wait;
    h.wake_at(now + wait, ci);
}

/// A node applied (or answered a read of) `cmd` with result `res`: the
/// issuing client, if still waiting for it, completes now.
pub(crate) fn on_applied<H: ClientHost>(h: &mut H, cmd: &Command, res: &KvResult) {
    let now = h.now_ms();
    let cs = h.clients();
    let Some(ci) = cs.clients.iter().position(|c| c.id == cmd.client_id) else {
        return;
    };
    let c = &mut cs.clients[ci];
    let Some(p) = &c.pending else { return };
    if p.cmd.seq != cmd.seq {
        return;
    }
    let hi = p.history_index;
    c.pending = None;
    let think = 1 + (cmd.seq * 7 + c.id * 13) % 20;
    c.deadline = now + think;
    let op_id = c.seq;
    h.wake_at(now + think, ci);
    let output = match res {
        KvResult::Value(v) => Some(v.clone()),
        _ => None,
    };
    let cs = h.clients();
    if let Some(op) = cs.history.get_mut(hi) {
        op.return_ms = Some(now);
        if matches!(op.op, KvOp::Get { .. }) {
            op.output = output;
        }
    }
    cs.completed += 1;
    let result = match res {
        KvResult::Ok => "ok".to_string(),
        KvResult::Value(v) => format!("{v:?}"),
        KvResult::Stale => "stale".to_string(),
    };
    h.record(EventKind::ClientReturn {
        client: cmd.client_id,
        op_id,
        result,
    });
}
