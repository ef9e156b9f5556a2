//! Five Raft nodes, one thread each, talking over channels: node 1 starts
//! as a one-node cluster and leads; nodes 2..=5 start with empty storage
//! and join through conf changes proposed on the leader; then 100
//! proposals (`put key value`), each with a callback the leader fires once
//! it applied the entry; finally every node has applied every proposal.
//! raft-rs's `examples/five_mem_node`, written for tinyraft.
//!
//! `cargo run -p tinyraft --example five_mem_node` exits 0 once all five
//! nodes hold the same 100 keys.
//!
//! A joining node knows no membership: it waits (never campaigns) until
//! the leader reaches it, and takes the membership from the snapshot the
//! leader sends (`Ready::snapshot`), which it persists like any snapshot.
//! So that the snapshot also carries the state machine, every node records
//! a snapshot of its key-value map (`MemStorageCore::create_snapshot`) after
//! each batch it applies; `MemStorage::snapshot` hands the latest one out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tinyraft::prelude::*;
use tinyraft::prost::Message as _;

const NODES: u64 = 5;
const PROPOSALS: u64 = 100;
const TICK: Duration = Duration::from_millis(10);

/// A client request waiting in the shared queue until the leader takes it.
struct Proposal {
    normal: Option<(u64, String)>,
    conf_change: Option<ConfChange>,
    /// The log index it got on the leader, once proposed.
    proposed: u64,
    /// Told `true` once applied on the leader, `false` if refused.
    propose_success: SyncSender<bool>,
}

impl Proposal {
    fn normal(key: u64, value: String) -> (Proposal, Receiver<bool>) {
        let (tx, rx) = mpsc::sync_channel(1);
        let p = Proposal {
            normal: Some((key, value)),
            conf_change: None,
            proposed: 0,
            propose_success: tx,
        };
        (p, rx)
    }

    fn conf_change(cc: ConfChange) -> (Proposal, Receiver<bool>) {
        let (tx, rx) = mpsc::sync_channel(1);
        let p = Proposal {
            normal: None,
            conf_change: Some(cc),
            proposed: 0,
            propose_success: tx,
        };
        (p, rx)
    }
}

/// One node's thread state.
struct Node {
    raft: RawNode<MemStorage>,
    store: MemStorage,
    mailbox: Receiver<Message>,
    peers: BTreeMap<u64, Sender<Message>>,
    /// The state machine: applied `put key value` commands.
    kv: BTreeMap<u64, String>,
    /// How many keys this node's state machine holds, for main to watch.
    applied: Arc<AtomicUsize>,
}

impl Node {
    fn new(
        id: u64,
        voters: Vec<u64>,
        mailbox: Receiver<Message>,
        peers: BTreeMap<u64, Sender<Message>>,
        applied: Arc<AtomicUsize>,
    ) -> Node {
        let store = if voters.is_empty() {
            // A node waiting to be added: nothing durable yet.
            MemStorage::new()
        } else {
            MemStorage::new_with_conf_state((voters, vec![]))
        };
        let config = Config {
            id,
            election_tick: 10,
            heartbeat_tick: 3,
            seed: 0x5eed,
            ..Default::default()
        };
        let raft = RawNode::with_default_logger(&config, store.clone()).expect("valid config");
        Node {
            raft,
            store,
            mailbox,
            peers,
            kv: BTreeMap::new(),
            applied,
        }
    }

    /// The node's loop: step messages, tick, take proposals when leading,
    /// handle Ready; until `stop`.
    fn run(mut self, proposals: Arc<Mutex<VecDeque<Proposal>>>, stop: Arc<AtomicBool>) -> Self {
        let mut t = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            match self.mailbox.recv_timeout(Duration::from_millis(2)) {
                Ok(m) => {
                    // A message from a node no longer a peer, or a stale one,
                    // is refused; the node carries on.
                    let _ = self.raft.step(m);
                    while let Ok(m) = self.mailbox.try_recv() {
                        let _ = self.raft.step(m);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if t.elapsed() >= TICK {
                self.raft.tick();
                t = Instant::now();
            }
            if self.raft.raft.state == StateRole::Leader {
                let mut queue = proposals.lock().expect("proposals");
                for p in queue.iter_mut().filter(|p| p.proposed == 0) {
                    self.propose(p);
                }
                // Refused ones were answered already.
                queue.retain(|p| p.proposed != u64::MAX);
            }
            self.on_ready(&proposals);
        }
        self
    }

    /// Proposes `p` on the leader and records the index it got.
    fn propose(&mut self, p: &mut Proposal) {
        let last = self.raft.raft.raft_log.last_index();
        let res = if let Some((key, value)) = &p.normal {
            self.raft
                .propose(vec![], format!("put {key} {value}").into_bytes())
        } else if let Some(cc) = &p.conf_change {
            self.raft.propose_conf_change(vec![], cc.clone())
        } else {
            unreachable!("a proposal carries a command or a conf change")
        };
        let now = self.raft.raft.raft_log.last_index();
        if res.is_err() || now == last {
            // Refused (e.g. `ConfChangeRefused` while another change is
            // pending): tell the client, which tries again.
            let _ = p.propose_success.try_send(false);
            p.proposed = u64::MAX;
        } else {
            p.proposed = last + 1;
        }
    }

    fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            if let Some(to) = self.peers.get(&m.to) {
                // A node that stopped has hung up: fine.
                let _ = to.send(m);
            }
        }
    }

    /// One `Ready`: send what may go out at once, persist, send the rest,
    /// apply committed entries (answering proposals on the leader), advance.
    fn on_ready(&mut self, proposals: &Mutex<VecDeque<Proposal>>) {
        if !self.raft.has_ready() {
            return;
        }
        let mut ready = self.raft.ready();
        self.send(std::mem::take(&mut ready.messages));

        if let Some(snapshot) = ready.snapshot.take() {
            // A joining node learns the membership (and the leader's log
            // position) from this snapshot, and its state machine from the
            // snapshot's data.
            self.restore(&snapshot.data);
            self.store
                .wl()
                .apply_snapshot(snapshot)
                .expect("apply snapshot");
        }
        self.store.wl().append(&ready.entries).expect("append");
        if let Some(hs) = ready.hs {
            self.store.wl().set_hardstate(hs);
        }
        self.send(std::mem::take(&mut ready.persisted_messages));

        let last_applied = ready.committed_entries.last().map(|e| e.index);
        for entry in std::mem::take(&mut ready.committed_entries) {
            self.apply(&entry);
            if self.raft.raft.state == StateRole::Leader {
                let mut queue = proposals.lock().expect("proposals");
                if let Some(pos) = queue.iter().position(|p| p.proposed == entry.index) {
                    let p = queue.remove(pos).expect("present");
                    let _ = p.propose_success.try_send(true);
                }
            }
        }
        if let Some(index) = last_applied {
            // The state machine as of `index`, with the membership as of
            // `index` (conf changes take effect when applied).
            let cs = self.raft.raft.prs().conf_state();
            let image = self.image();
            // Out of date only if a received snapshot is already newer.
            let _ = self
                .store
                .wl()
                .create_snapshot(index, Some(cs), image.into());
        }
        self.raft.advance(ready);
    }

    /// The state machine as snapshot data: one `key value` line per key.
    fn image(&self) -> Vec<u8> {
        let text: String = self.kv.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        text.into_bytes()
    }

    /// Replaces the state machine with a snapshot's image.
    fn restore(&mut self, data: &[u8]) {
        self.kv = String::from_utf8_lossy(data)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.parse().expect("numeric key"), v.to_string()))
            .collect();
        self.applied.store(self.kv.len(), Ordering::SeqCst);
    }

    fn apply(&mut self, entry: &Entry) {
        if entry.data.is_empty() {
            // A new leader's empty entry.
            return;
        }
        match entry.entry_type() {
            EntryType::EntryNormal => {
                let cmd = String::from_utf8_lossy(&entry.data);
                let mut words = cmd.split_whitespace();
                if let (Some("put"), Some(key), Some(value)) =
                    (words.next(), words.next(), words.next())
                {
                    let key = key.parse().expect("numeric key");
                    self.kv.insert(key, value.to_string());
                    self.applied.store(self.kv.len(), Ordering::SeqCst);
                }
            }
            EntryType::EntryConfChange => {
                let cc = ConfChange::decode(&entry.data[..]).expect("a ConfChange");
                let cs = self.raft.apply_conf_change(&cc).expect("apply conf change");
                self.store.wl().set_conf_state(cs);
            }
            // Joint consensus (several changes at once, or demotions): the
            // same, with the V2 type. The leader proposes the empty change
            // that leaves the joint state by itself.
            EntryType::EntryConfChangeV2 => {
                let cc = ConfChangeV2::decode(&entry.data[..]).expect("a ConfChangeV2");
                let cs = self.raft.apply_conf_change(&cc).expect("apply conf change");
                self.store.wl().set_conf_state(cs);
            }
        }
    }
}

/// Proposes through the shared queue and waits for the answer, retrying a
/// refused proposal; gives up after `deadline`.
fn propose_and_wait(
    proposals: &Mutex<VecDeque<Proposal>>,
    make: impl Fn() -> (Proposal, Receiver<bool>),
    deadline: Instant,
) {
    loop {
        let (p, rx) = make();
        proposals.lock().expect("proposals").push_back(p);
        if let Ok(true) = rx.recv_timeout(Duration::from_secs(2)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no progress: proposal not applied"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (senders, mailboxes): (Vec<_>, Vec<_>) = (1..=NODES).map(|_| mpsc::channel()).unzip();
    let senders: BTreeMap<u64, Sender<Message>> = (1..=NODES).zip(senders).collect();
    let proposals = Arc::new(Mutex::new(VecDeque::<Proposal>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<AtomicUsize>> = (1..=NODES).map(|_| Arc::default()).collect();

    let mut handles = vec![];
    for (i, mailbox) in mailboxes.into_iter().enumerate() {
        let id = i as u64 + 1;
        // Node 1 is a one-node cluster; the others join later.
        let voters = if id == 1 { vec![1] } else { vec![] };
        let peers = senders.clone();
        let (applied, proposals, stop) = (counters[i].clone(), proposals.clone(), stop.clone());
        handles.push(thread::spawn(move || {
            let mut node = Node::new(id, voters, mailbox, peers, applied);
            if id == 1 {
                node.raft.campaign().expect("campaign");
            }
            node.run(proposals, stop)
        }));
    }

    // Add nodes 2..=5, one conf change at a time.
    for id in 2..=NODES {
        let cc = ConfChange {
            change_type: ConfChangeType::AddNode as i32,
            node_id: id,
            ..Default::default()
        };
        propose_and_wait(&proposals, || Proposal::conf_change(cc.clone()), deadline);
        println!("five_mem_node: node {id} added");
    }

    // 100 proposals, each answered once the leader applied it.
    for key in 0..PROPOSALS {
        propose_and_wait(
            &proposals,
            || Proposal::normal(key, format!("value-{key}")),
            deadline,
        );
    }
    println!("five_mem_node: {PROPOSALS} proposals applied on the leader");

    // Every node applies every proposal.
    while counters
        .iter()
        .any(|c| c.load(Ordering::SeqCst) < PROPOSALS as usize)
    {
        assert!(
            Instant::now() < deadline,
            "followers did not catch up: applied {:?}",
            counters
                .iter()
                .map(|c| c.load(Ordering::SeqCst))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    let nodes: Vec<Node> = handles
        .into_iter()
        .map(|h| h.join().expect("node thread"))
        .collect();
    for n in &nodes {
        assert_eq!(n.kv, nodes[0].kv, "node {} diverged", n.raft.raft.id);
        assert_eq!(n.kv.len(), PROPOSALS as usize);
        let voters = n.raft.raft.prs().voter_ids();
        assert_eq!(
            voters,
            (1..=NODES).collect::<Vec<_>>(),
            "node {} membership",
            n.raft.raft.id
        );
    }
    println!("five_mem_node: all {NODES} nodes applied all {PROPOSALS} proposals");
}
