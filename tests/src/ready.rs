//! The `RawNode` Ready cycle as API.md describes it, and a cluster of raw
//! nodes that runs it.
//!
//! [`handle_ready`] does, in order: take `ready()`; apply its snapshot to the
//! node's `MemStorage`; append its entries; save its hard state; (the caller
//! sends `messages` at once and `persisted_messages` now that everything is
//! durable); apply `committed_entries` — a committed `EntryConfChange` or
//! `EntryConfChangeV2` is decoded and handed to `RawNode::apply_conf_change`,
//! and the returned conf state saved in storage; finally `advance(rd)`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost::Message as _;
use tinyraft::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType,
};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, Error, RawNode, ReadState, Ready};

use crate::builders::{new_storage, raw_node_from};

/// A copy of what one `Ready` carried (its fields are reachable directly
/// through `Deref`), plus what applying it produced.
#[derive(Clone, Debug, Default)]
pub struct ReadyRecord {
    /// The `Ready` as `RawNode::ready` returned it.
    pub ready: Ready,
    /// Conf states returned by `apply_conf_change` for committed conf changes.
    pub conf_states: Vec<ConfState>,
}

impl std::ops::Deref for ReadyRecord {
    type Target = Ready;
    fn deref(&self) -> &Ready {
        &self.ready
    }
}

impl ReadyRecord {
    /// `messages` then `persisted_messages`: the order an engine sends them.
    pub fn all_messages(&self) -> Vec<Message> {
        let mut v = self.messages.clone();
        v.extend(self.persisted_messages.iter().cloned());
        v
    }
}

/// Runs one Ready cycle on `rn` (see the module docs) and returns what the
/// Ready carried. Call only when `has_ready()` (or to observe an empty Ready).
pub fn handle_ready(rn: &mut RawNode<MemStorage>) -> ReadyRecord {
    let rd = rn.ready();
    let mut rec = ReadyRecord {
        ready: rd.clone(),
        conf_states: Vec::new(),
    };
    let store = rn.raft.raft_log.store().clone();
    {
        let mut core = store.wl();
        if let Some(s) = &rd.snapshot {
            core.apply_snapshot(s.clone())
                .unwrap_or_else(|e| panic!("storage refused Ready::snapshot: {e:?}"));
        }
        core.append(&rd.entries)
            .unwrap_or_else(|e| panic!("storage refused Ready::entries: {e:?}"));
        if let Some(hs) = &rd.hs {
            core.set_hardstate(*hs);
        }
    }
    for e in &rd.committed_entries {
        let applied = match e.entry_type() {
            EntryType::EntryConfChange if !e.data.is_empty() => {
                let cc = ConfChange::decode(&e.data[..]).expect("committed conf change decodes");
                Some(rn.apply_conf_change(&cc))
            }
            EntryType::EntryConfChangeV2 => {
                let cc = ConfChangeV2::decode(&e.data[..]).expect("committed V2 change decodes");
                Some(rn.apply_conf_change(&cc))
            }
            _ => None,
        };
        if let Some(result) = applied {
            match result {
                Ok(cs) => {
                    store.wl().set_conf_state(cs.clone());
                    rec.conf_states.push(cs);
                }
                Err(err) => panic!("apply_conf_change of a committed change failed: {err:?}"),
            }
        }
    }
    rn.advance(rd);
    rec
}

/// A cluster of `RawNode`s connected by a FIFO in-process network; every
/// node runs [`handle_ready`]. Applied entries and read states are recorded.
pub struct RawCluster {
    /// The nodes, by id.
    pub nodes: BTreeMap<u64, RawNode<MemStorage>>,
    /// Entries each node applied (from `committed_entries`), in order.
    pub applied: BTreeMap<u64, Vec<Entry>>,
    /// Read states each node received.
    pub read_states: BTreeMap<u64, Vec<ReadState>>,
    /// Every Ready each node produced.
    pub readies: BTreeMap<u64, Vec<ReadyRecord>>,
    /// Every delivered message, in order.
    pub delivered: Vec<Message>,
    /// Every `step` that failed.
    pub errors: Vec<(Message, Error)>,
    cut: BTreeSet<(u64, u64)>,
    ignored: BTreeSet<i32>,
    down: BTreeSet<u64>,
}

impl RawCluster {
    /// Raw nodes for `ids`, all voters, with the config `cfg(id)`.
    pub fn new(ids: &[u64], cfg: impl Fn(u64) -> Config) -> RawCluster {
        let mut c = RawCluster::empty();
        for &id in ids {
            c.add(id, raw_node_from(&cfg(id), new_storage(ids, &[])));
        }
        c
    }

    /// A cluster with no nodes.
    pub fn empty() -> RawCluster {
        RawCluster {
            nodes: BTreeMap::new(),
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            readies: BTreeMap::new(),
            delivered: Vec::new(),
            errors: Vec::new(),
            cut: BTreeSet::new(),
            ignored: BTreeSet::new(),
            down: BTreeSet::new(),
        }
    }

    /// Adds (or replaces) node `id`.
    pub fn add(&mut self, id: u64, rn: RawNode<MemStorage>) {
        self.nodes.insert(id, rn);
    }

    /// Node `id`.
    pub fn node(&mut self, id: u64) -> &mut RawNode<MemStorage> {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Cuts `id` from every other node id in `1..=16`.
    pub fn isolate(&mut self, id: u64) {
        for other in 1..=16 {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    /// Drops every message of type `t`.
    pub fn ignore(&mut self, t: MessageType) {
        self.ignored.insert(t as i32);
    }

    /// Clears cuts and ignored types.
    pub fn recover(&mut self) {
        self.cut.clear();
        self.ignored.clear();
    }

    /// Stops node `id` from receiving or producing anything (it keeps its state).
    pub fn pause(&mut self, id: u64) {
        self.down.insert(id);
    }

    /// Undoes [`RawCluster::pause`].
    pub fn resume(&mut self, id: u64) {
        self.down.remove(&id);
    }

    /// Ticks every running node once, then settles.
    pub fn tick_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            if !self.down.contains(&id) {
                self.node(id).tick();
            }
        }
        self.settle();
    }

    /// Runs Ready cycles and delivers messages until nothing is left.
    pub fn settle(&mut self) {
        let mut queue: VecDeque<Message> = VecDeque::new();
        for round in 0.. {
            assert!(round < 10_000, "RawCluster did not settle");
            let ids: Vec<u64> = self.nodes.keys().copied().collect();
            let mut any = false;
            for id in ids {
                if self.down.contains(&id) {
                    continue;
                }
                let rn = self.nodes.get_mut(&id).expect("id listed");
                if !rn.has_ready() {
                    continue;
                }
                any = true;
                let rec = handle_ready(rn);
                self.applied
                    .entry(id)
                    .or_default()
                    .extend(rec.committed_entries.iter().cloned());
                self.read_states
                    .entry(id)
                    .or_default()
                    .extend(rec.read_states.iter().cloned());
                queue.extend(rec.all_messages());
                self.readies.entry(id).or_default().push(rec);
            }
            if queue.is_empty() && !any {
                break;
            }
            while let Some(m) = queue.pop_front() {
                if self.ignored.contains(&m.msg_type)
                    || self.cut.contains(&(m.from, m.to))
                    || self.down.contains(&m.to)
                {
                    continue;
                }
                let Some(rn) = self.nodes.get_mut(&m.to) else {
                    continue;
                };
                self.delivered.push(m.clone());
                if let Err(e) = rn.step(m.clone()) {
                    self.errors.push((m, e));
                }
            }
        }
    }

    /// Data of the normal, non-empty entries node `id` applied.
    pub fn applied_data(&self, id: u64) -> Vec<Vec<u8>> {
        self.applied
            .get(&id)
            .map(|v| {
                v.iter()
                    .filter(|e| e.entry_type() == EntryType::EntryNormal && !e.data.is_empty())
                    .map(|e| e.data.to_vec())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Snapshots node `id`'s storage at its applied index (with its current
    /// membership and a placeholder image) and compacts its log up to it.
    pub fn snapshot_and_compact(&mut self, id: u64) {
        let rn = self.node(id);
        let applied = rn.raft.raft_log.applied;
        let cs = rn.raft.prs().conf_state();
        let store = rn.store().clone();
        store
            .wl()
            .create_snapshot(applied, Some(cs), "image".into())
            .expect("snapshot");
        store.wl().compact(applied).expect("compact");
    }

    /// Ids of the nodes that think they lead, with their terms.
    pub fn leaders(&self) -> Vec<(u64, u64)> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raft.state == tinyraft::StateRole::Leader)
            .map(|(id, n)| (*id, n.raft.term))
            .collect()
    }
}
