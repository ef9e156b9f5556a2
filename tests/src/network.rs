//! An in-process network of `Raft` peers, after etcd's and TinyKV's test
//! networks: FIFO delivery until quiet, seeded message drops, cuts,
//! isolation, ignored message types and black-hole peers.
//!
//! How it plays the engine: after every `step` (and every `tick`) of a peer,
//! the network calls [`crate::persist`] on it (snapshot, then entries with
//! `on_persist_entries`, then hard state into the peer's `MemStorage`) and only
//! then drains the peer's `msgs`. So every message a peer sends leaves after
//! the state it depends on is durable, and a leader's own entries count toward
//! its quorum as soon as they are persisted (API.md, Own-log rule).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{Message, MessageType};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, Error, Raft};

use crate::builders::{new_config, new_storage, persist, raft_from};

/// One slot of a [`Network`].
pub enum Peer {
    /// A fresh raft whose membership is every slot of the network.
    Fresh,
    /// A raft built by the test; it is keyed by its own `id`.
    Node(Box<Raft<MemStorage>>),
    /// Swallows everything sent to it.
    BlackHole,
}

impl Peer {
    /// Wraps a raft built by the test.
    pub fn node(r: Raft<MemStorage>) -> Peer {
        Peer::Node(Box::new(r))
    }
}

/// A deterministic in-process network.
pub struct Network {
    peers: BTreeMap<u64, Option<Raft<MemStorage>>>,
    drops: BTreeMap<(u64, u64), f64>,
    ignored: BTreeSet<i32>,
    rng: ChaCha8Rng,
    /// Every message handed to a live peer, in delivery order.
    pub delivered: Vec<Message>,
    /// Every `step` that returned an error, with the message.
    pub errors: Vec<(Message, Error)>,
}

impl Network {
    /// Slots get ids `1..=peers.len()` (a `Peer::Node` keeps its own id);
    /// `Fresh` slots use `election = 10, heartbeat = 1`.
    pub fn new(peers: Vec<Peer>) -> Network {
        Network::new_with_config(peers, |id| new_config(id, 10, 1))
    }

    /// As [`Network::new`], with the config of each `Fresh` slot from `cfg`.
    pub fn new_with_config(peers: Vec<Peer>, cfg: impl Fn(u64) -> Config) -> Network {
        let ids: Vec<u64> = (1..=peers.len() as u64).collect();
        let mut map = BTreeMap::new();
        for (i, p) in peers.into_iter().enumerate() {
            let id = i as u64 + 1;
            match p {
                Peer::Fresh => {
                    map.insert(id, Some(raft_from(&cfg(id), new_storage(&ids, &[]))));
                }
                Peer::Node(r) => {
                    map.insert(r.id, Some(*r));
                }
                Peer::BlackHole => {
                    map.insert(id, None);
                }
            }
        }
        Network {
            peers: map,
            drops: BTreeMap::new(),
            ignored: BTreeSet::new(),
            rng: ChaCha8Rng::seed_from_u64(crate::SEED),
            delivered: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// `n` fresh peers with pre-vote / check-quorum as given.
    pub fn fresh(n: usize, pre_vote: bool, check_quorum: bool) -> Network {
        let peers = (0..n).map(|_| Peer::Fresh).collect();
        Network::new_with_config(peers, |id| crate::config_with(id, pre_vote, check_quorum))
    }

    /// Reseeds the drop generator.
    pub fn set_seed(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// The live peer `id`. Panics for a black hole or an unknown id.
    pub fn peer(&self, id: u64) -> &Raft<MemStorage> {
        self.peers
            .get(&id)
            .and_then(|p| p.as_ref())
            .unwrap_or_else(|| panic!("no live peer {id}"))
    }

    /// The live peer `id`, mutably.
    pub fn peer_mut(&mut self, id: u64) -> &mut Raft<MemStorage> {
        self.peers
            .get_mut(&id)
            .and_then(|p| p.as_mut())
            .unwrap_or_else(|| panic!("no live peer {id}"))
    }

    /// Ids of the live peers, sorted.
    pub fn live_ids(&self) -> Vec<u64> {
        self.peers
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Replaces (or adds) slot `id` with `peer`.
    pub fn set_peer(&mut self, id: u64, peer: Option<Raft<MemStorage>>) {
        self.peers.insert(id, peer);
    }

    /// The storage of live peer `id` (a shared handle).
    pub fn storage(&self, id: u64) -> MemStorage {
        self.peer(id).raft_log.store().clone()
    }

    /// Delivers `msgs` and everything they cause, FIFO, until no message is
    /// left. Each delivery steps the target, persists it, then queues its
    /// outbox (after the filters). As in etcd's test network, the messages
    /// the test injects are delivered as given (not filtered): the test is
    /// the one deciding they arrive.
    pub fn send(&mut self, msgs: Vec<Message>) {
        let mut queue: VecDeque<Message> = msgs.into();
        let mut steps = 0usize;
        while let Some(m) = queue.pop_front() {
            steps += 1;
            assert!(
                steps < 200_000,
                "network did not quiesce after {steps} deliveries"
            );
            let to = m.to;
            let Some(Some(p)) = self.peers.get_mut(&to) else {
                continue;
            };
            self.delivered.push(m.clone());
            if let Err(e) = p.step(m.clone()) {
                self.errors.push((m, e));
            }
            persist(p);
            let out = std::mem::take(&mut p.msgs);
            queue.extend(self.filter(out));
        }
    }

    /// Ticks peer `id` once, persists it, and delivers what it sends.
    pub fn tick(&mut self, id: u64) {
        let p = self.peer_mut(id);
        p.tick();
        persist(p);
        let out = std::mem::take(&mut p.msgs);
        self.send(out);
    }

    /// Ticks peer `id` `n` times (delivering after each tick).
    pub fn tick_n(&mut self, id: u64, n: usize) {
        for _ in 0..n {
            self.tick(id);
        }
    }

    /// Drains peer `id`'s outbox (after persisting it) and delivers it.
    pub fn flush(&mut self, id: u64) {
        let p = self.peer_mut(id);
        persist(p);
        let out = std::mem::take(&mut p.msgs);
        self.send(out);
    }

    /// Drops messages from `from` to `to` with probability `rate`.
    pub fn drop(&mut self, from: u64, to: u64, rate: f64) {
        self.drops.insert((from, to), rate);
    }

    /// Drops everything between `a` and `b`, both ways.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.drop(a, b, 1.0);
        self.drop(b, a, 1.0);
    }

    /// Cuts `id` from every other slot (its local messages still arrive).
    pub fn isolate(&mut self, id: u64) {
        let ids: Vec<u64> = self.peers.keys().copied().collect();
        for other in ids {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    /// Drops every message of type `t`.
    pub fn ignore(&mut self, t: MessageType) {
        self.ignored.insert(t as i32);
    }

    /// Clears every drop, cut, isolation and ignored type.
    pub fn recover(&mut self) {
        self.drops.clear();
        self.ignored.clear();
    }

    fn filter(&mut self, msgs: Vec<Message>) -> Vec<Message> {
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            if self.ignored.contains(&m.msg_type) {
                continue;
            }
            let rate = self.drops.get(&(m.from, m.to)).copied().unwrap_or(0.0);
            if rate > 0.0 && self.rng.random::<f64>() < rate {
                continue;
            }
            out.push(m);
        }
        out
    }
}
