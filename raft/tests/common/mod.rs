//! A tiny in-process message pump over `RawNode`s, for the core's own tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use slog::{Discard, Logger, o};
use tinyraft::eraftpb::{ConfChange, EntryType, Message};
use tinyraft::prost::Message as _;
use tinyraft::storage::MemStorage;
use tinyraft::{Config, RawNode};

pub fn logger() -> Logger {
    if std::env::var("RAFT_LOG").is_ok() {
        use slog::Drain;
        let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        Logger::root(drain, o!())
    } else {
        Logger::root(Discard, o!())
    }
}

pub struct Node {
    pub raw: RawNode<MemStorage>,
    pub store: MemStorage,
    pub applied: Vec<(u64, Vec<u8>)>,
}

pub struct Cluster {
    pub nodes: BTreeMap<u64, Node>,
    /// Node ids cut off from everyone.
    pub isolated: BTreeSet<u64>,
    pub delivered: usize,
}

impl Cluster {
    pub fn new(n: u64, tweak: impl Fn(&mut Config)) -> Cluster {
        let voters: Vec<u64> = (1..=n).collect();
        let mut nodes = BTreeMap::new();
        for id in 1..=n {
            let store = MemStorage::new_with_conf_state((voters.clone(), vec![]));
            let mut c = Config::new(id);
            c.seed = 42;
            tweak(&mut c);
            let raw = RawNode::new(&c, store.clone(), &logger()).unwrap();
            nodes.insert(
                id,
                Node {
                    raw,
                    store,
                    applied: vec![],
                },
            );
        }
        Cluster {
            nodes,
            isolated: BTreeSet::new(),
            delivered: 0,
        }
    }

    pub fn add(&mut self, id: u64, cs: (Vec<u64>, Vec<u64>), tweak: impl Fn(&mut Config)) {
        let store = MemStorage::new_with_conf_state(cs);
        let mut c = Config::new(id);
        tweak(&mut c);
        let raw = RawNode::new(&c, store.clone(), &logger()).unwrap();
        self.nodes.insert(
            id,
            Node {
                raw,
                store,
                applied: vec![],
            },
        );
    }

    pub fn node(&mut self, id: u64) -> &mut RawNode<MemStorage> {
        &mut self.nodes.get_mut(&id).unwrap().raw
    }

    /// One Ready round for every node; returns the messages to deliver.
    fn round(&mut self) -> Vec<Message> {
        let mut out = vec![];
        for n in self.nodes.values_mut() {
            if !n.raw.has_ready() {
                continue;
            }
            let rd = n.raw.ready();
            out.extend(rd.messages.iter().cloned());
            {
                let mut core = n.store.wl();
                if let Some(s) = &rd.snapshot {
                    core.apply_snapshot(s.clone()).unwrap();
                }
                core.append(&rd.entries).unwrap();
                if let Some(hs) = &rd.hs {
                    core.set_hardstate(*hs);
                }
            }
            out.extend(rd.persisted_messages.iter().cloned());
            for e in &rd.committed_entries {
                let cs = match e.entry_type() {
                    EntryType::EntryConfChange => {
                        let cc = ConfChange::decode(&e.data[..]).unwrap();
                        Some(n.raw.apply_conf_change(&cc).unwrap())
                    }
                    EntryType::EntryConfChangeV2 => {
                        let cc = tinyraft::eraftpb::ConfChangeV2::decode(&e.data[..]).unwrap();
                        Some(n.raw.apply_conf_change(&cc).unwrap())
                    }
                    EntryType::EntryNormal => None,
                };
                if let Some(cs) = cs {
                    n.store.wl().set_conf_state(cs);
                }
                n.applied.push((e.index, e.data.to_vec()));
            }
            n.raw.advance(rd);
        }
        out
    }

    /// Runs Ready rounds and delivers messages until quiet.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let msgs = self.round();
            if msgs.is_empty() && !self.nodes.values().any(|n| n.raw.has_ready()) {
                return;
            }
            for m in msgs {
                if self.isolated.contains(&m.from) || self.isolated.contains(&m.to) {
                    continue;
                }
                if let Some(n) = self.nodes.get_mut(&m.to) {
                    self.delivered += 1;
                    let _ = n.raw.step(m);
                }
            }
        }
        panic!("cluster did not settle");
    }

    pub fn tick_all(&mut self, ticks: usize) {
        for _ in 0..ticks {
            for n in self.nodes.values_mut() {
                n.raw.tick();
            }
            self.pump();
        }
    }

    pub fn leader(&self) -> Option<u64> {
        let leaders: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(id, n)| {
                !self.isolated.contains(id) && n.raw.raft.state == tinyraft::StateRole::Leader
            })
            .map(|(id, _)| *id)
            .collect();
        let max_term = leaders
            .iter()
            .map(|id| self.nodes[id].raw.raft.term)
            .max()?;
        leaders
            .into_iter()
            .find(|id| self.nodes[id].raw.raft.term == max_term)
    }
}
