//! The cluster's side of the client interface: [`ClientHost`] for
//! [`Cluster`], answers to clients (applied commands, ReadIndex reads), and
//! the public client API.

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;

use super::Cluster;
use crate::client::{self, ClientHost, Clients};
use crate::kv::{Command, KvResult};
use crate::linearizability::Operation;
use crate::trace::EventKind;
use crate::world::Event;

impl ClientHost for Cluster {
    fn clients(&mut self) -> &mut Clients {
        &mut self.clients
    }

    fn now_ms(&self) -> u64 {
        self.world.now()
    }

    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn node_ids(&self) -> Vec<u64> {
        Cluster::node_ids(self)
    }

    fn reachable(&self, node: u64) -> bool {
        self.is_up(node) && self.net.is_connected(node)
    }

    fn is_leader(&self, node: u64) -> bool {
        Cluster::is_leader(self, node)
    }

    fn leader_of(&self, node: u64) -> Option<u64> {
        self.nodes
            .get(&node)
            .and_then(|n| n.raw.as_ref())
            .map(|r| r.raft.leader_id)
    }

    fn forward(&mut self, node: u64, data: Vec<u8>, read_index: bool) -> Option<bool> {
        let raw = self.nodes.get_mut(&node).and_then(|n| n.raw.as_mut())?;
        let ok = if read_index {
            raw.read_index(data);
            true
        } else {
            raw.propose(Bytes::new(), data).is_ok()
        };
        self.drive(node);
        Some(ok)
    }

    fn read_index(&mut self, node: u64, data: Vec<u8>) {
        if let Some(raw) = self.nodes.get_mut(&node).and_then(|n| n.raw.as_mut()) {
            raw.read_index(data);
        }
        self.drive(node);
    }

    fn propose(&mut self, node: u64, data: Vec<u8>) -> bool {
        self.start(node, data).is_some()
    }

    fn wake_at(&mut self, at: u64, client: usize) {
        self.world.schedule(at, Event::Client { client });
    }

    fn record(&mut self, ev: EventKind) {
        self.push(ev);
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
        client::start(self, n, ops_per_client, keys, read_index);
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

    /// Clients give up on an operation `ms` after calling it (its outcome
    /// stays unknown) and go on; `None` (the default): they retry until it
    /// completes.
    pub fn set_client_deadline(&mut self, ms: Option<u64>) {
        self.clients.give_up_ms = ms;
    }

    /// Number of client operations given up on (outcome unknown).
    pub fn client_ops_given_up(&self) -> u64 {
        self.clients.gave_up
    }

    /// Answers the ReadIndex reads of `id` whose index its state machine
    /// has reached.
    pub(super) fn serve_reads(&mut self, id: u64) {
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
                answers.push((cmd, KvResult::Value(v)));
            }
        }
        for (cmd, res) in answers {
            client::on_applied(self, &cmd, &res);
        }
    }
}
