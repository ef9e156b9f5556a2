//! One Raft node on a `MemStorage`, driven the way a real engine drives it:
//! a node thread ticks every 100 ms and handles what arrives on its channel;
//! a client thread sends proposals, each with a callback the node calls
//! once the proposal is committed and applied. raft-rs's
//! `examples/single_mem_node`, written for tinyraft.
//!
//! `cargo run -p tinyraft --example single_mem_node` proposes 10 commands
//! and exits when every callback has fired.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use tinyraft::prelude::*;

type ProposeCallback = Box<dyn FnOnce() + Send>;

/// What the node thread receives.
enum Msg {
    /// A client proposal: `id` is carried in the entry, `cb` runs on apply.
    Propose { id: u8, cb: ProposeCallback },
    /// A message from another node (none in a one-node cluster, but this is
    /// where a transport would deliver them).
    #[allow(dead_code)]
    Raft(Box<Message>),
}

const PROPOSALS: u8 = 10;

fn main() {
    // The membership of a new cluster is its first durable state.
    let storage = MemStorage::new_with_conf_state((vec![1], vec![]));
    let config = Config {
        id: 1,
        election_tick: 10,
        heartbeat_tick: 3,
        ..Default::default()
    };
    let mut node = RawNode::with_default_logger(&config, storage).expect("valid config");

    let (sender, receiver) = mpsc::channel();
    let client = thread::spawn(move || send_proposals(sender));

    // The node loop: tick every 100 ms, step what arrives, handle Ready.
    let mut callbacks: BTreeMap<u8, ProposeCallback> = BTreeMap::new();
    let mut t = Instant::now();
    let tick = Duration::from_millis(100);
    let mut timeout = tick;
    loop {
        match receiver.recv_timeout(timeout) {
            Ok(Msg::Propose { id, cb }) => {
                callbacks.insert(id, cb);
                // A single voter elects itself on its first election timeout;
                // until then the proposal is dropped and the client retries.
                if node.propose(vec![], vec![id]).is_err() {
                    callbacks.remove(&id);
                }
            }
            Ok(Msg::Raft(m)) => node.step(*m).expect("a valid message"),
            Err(RecvTimeoutError::Timeout) => {}
            // The client is done and hung up.
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let elapsed = t.elapsed();
        if elapsed >= timeout {
            t = Instant::now();
            timeout = tick;
            node.tick();
        } else {
            timeout -= elapsed;
            t = Instant::now();
        }
        on_ready(&mut node, &mut callbacks);
    }
    let applied = client.join().expect("client thread");
    println!("single_mem_node: {applied} proposals committed and applied");
}

/// The client: proposes `PROPOSALS` commands one after another, each
/// waiting for its callback; re-proposes one that found no leader yet.
/// Returns how many were applied.
fn send_proposals(sender: mpsc::Sender<Msg>) -> u8 {
    let mut done = 0;
    for id in 0..PROPOSALS {
        loop {
            let (s, r) = mpsc::channel();
            let cb: ProposeCallback = Box::new(move || {
                let _ = s.send(());
            });
            sender
                .send(Msg::Propose { id, cb })
                .expect("node thread alive");
            // A dropped proposal drops its callback: the channel closes.
            match r.recv_timeout(Duration::from_secs(5)) {
                Ok(()) => break,
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
        done += 1;
    }
    done
}

/// Handles one `Ready`: persist, send, apply, advance.
fn on_ready(node: &mut RawNode<MemStorage>, callbacks: &mut BTreeMap<u8, ProposeCallback>) {
    if !node.has_ready() {
        return;
    }
    let store = node.store().clone();
    let mut ready = node.ready();

    // Messages that need nothing durable may go out at once (none here:
    // there are no peers).
    send(std::mem::take(&mut ready.messages));

    // Persist: a snapshot first, then entries and the hard state.
    if let Some(snapshot) = ready.snapshot.take() {
        store.wl().apply_snapshot(snapshot).expect("apply snapshot");
    }
    store.wl().append(&ready.entries).expect("append entries");
    if let Some(hs) = ready.hs {
        store.wl().set_hardstate(hs);
    }
    // Durable now: the rest may go out.
    send(std::mem::take(&mut ready.persisted_messages));

    // Apply what is committed.
    for entry in std::mem::take(&mut ready.committed_entries) {
        if entry.data.is_empty() {
            // A new leader's empty entry.
            continue;
        }
        if entry.entry_type() == EntryType::EntryNormal {
            if let Some(cb) = callbacks.remove(&entry.data[0]) {
                cb();
            }
        }
        // A real engine applies the command to its state machine here.
    }
    node.advance(ready);
}

fn send(msgs: Vec<Message>) {
    // A transport would send each to `m.to`; a one-node cluster has none.
    assert!(msgs.is_empty(), "a single node sends nothing");
}
