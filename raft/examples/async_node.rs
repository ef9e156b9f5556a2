//! Three nodes, each driven with the asynchronous Ready loop (what
//! TiKV-style engines do): the node thread hands every Ready's writes to a
//! background writer thread and keeps going with `advance_append_async`;
//! the writer persists them in order and reports back, and only then does
//! the node send the Ready's `persisted_messages` and call
//! `on_persist_ready`. Committed entries are applied as they are handed out
//! and reported with `advance_apply_to`.
//!
//! `cargo run -p tinyraft --example async_node` proposes 50 commands on the
//! leader and exits once every node applied all of them.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use tinyraft::prelude::*;

const NODES: u64 = 3;
const PROPOSALS: usize = 50;

/// What a node thread receives.
enum Input {
    /// A message from a peer.
    Raft(Box<Message>),
    /// The writer made every Ready up to this number durable.
    Persisted(u64),
    /// Shut down.
    Stop,
}

/// One Ready's writes, for the writer thread.
struct WriteJob {
    number: u64,
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
    hs: Option<HardState>,
}

/// The background writer: persists jobs in the order they come, then tells
/// the node. (A real engine batches several jobs into one fsync.)
fn writer(store: MemStorage, jobs: Receiver<WriteJob>, done: Sender<Input>) {
    for job in jobs {
        let mut core = store.wl();
        if let Some(s) = job.snapshot {
            core.apply_snapshot(s).expect("snapshot applies");
        }
        core.append(&job.entries).expect("entries append");
        if let Some(hs) = job.hs {
            core.set_hardstate(hs);
        }
        drop(core);
        if done.send(Input::Persisted(job.number)).is_err() {
            return;
        }
    }
}

fn main() {
    let voters: Vec<u64> = (1..=NODES).collect();
    let mut inboxes: BTreeMap<u64, Sender<Input>> = BTreeMap::new();
    let mut receivers = Vec::new();
    for &id in &voters {
        let (tx, rx) = mpsc::channel();
        inboxes.insert(id, tx);
        receivers.push((id, rx));
    }
    let (applied_tx, applied_rx) = mpsc::channel::<(u64, usize)>();
    let mut handles = Vec::new();
    for (id, rx) in receivers {
        let peers = inboxes.clone();
        let voters = voters.clone();
        let applied_tx = applied_tx.clone();
        handles.push(thread::spawn(move || {
            run_node(id, voters, rx, peers, applied_tx)
        }));
    }
    drop(applied_tx);
    // Wait until every node reports all proposals applied.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut done: BTreeMap<u64, usize> = BTreeMap::new();
    while done.values().filter(|&&n| n >= PROPOSALS).count() < NODES as usize {
        let left = deadline.saturating_duration_since(Instant::now());
        match applied_rx.recv_timeout(left) {
            Ok((id, n)) => {
                done.insert(id, n);
            }
            Err(_) => panic!("not every node applied every proposal in time: {done:?}"),
        }
    }
    println!("all {NODES} nodes applied all {PROPOSALS} proposals");
    for tx in inboxes.values() {
        let _ = tx.send(Input::Stop);
    }
    for h in handles {
        h.join().expect("node thread");
    }
}

fn run_node(
    id: u64,
    voters: Vec<u64>,
    inbox: Receiver<Input>,
    peers: BTreeMap<u64, Sender<Input>>,
    applied_tx: Sender<(u64, usize)>,
) {
    let store = MemStorage::new_with_conf_state((voters, vec![]));
    let config = Config {
        id,
        election_tick: 10,
        heartbeat_tick: 2,
        ..Default::default()
    };
    let mut node = RawNode::with_default_logger(&config, store.clone()).expect("valid config");
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let me = peers[&id].clone();
    let writer_store = store.clone();
    let writer_thread = thread::spawn(move || writer(writer_store, jobs_rx, me));

    // persisted_messages wait here, by Ready number, until that Ready is durable.
    let mut waiting: BTreeMap<u64, Vec<Message>> = BTreeMap::new();
    let mut proposed = false;
    let mut applied_cmds = 0usize;
    let tick = Duration::from_millis(20);
    let mut last_tick = Instant::now();
    let send = |msgs: Vec<Message>| {
        for m in msgs {
            if let Some(p) = peers.get(&m.to) {
                let _ = p.send(Input::Raft(Box::new(m)));
            }
        }
    };
    loop {
        match inbox.recv_timeout(tick.saturating_sub(last_tick.elapsed())) {
            Ok(Input::Raft(m)) => {
                let _ = node.step(*m);
            }
            Ok(Input::Persisted(number)) => {
                // Durable: what waited for it may go, and the core knows.
                let ready: Vec<u64> = waiting.range(..=number).map(|(n, _)| *n).collect();
                for n in ready {
                    send(waiting.remove(&n).unwrap_or_default());
                }
                node.on_persist_ready(number);
            }
            Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            node.tick();
        }
        // Node 1 campaigns at once (the others would after a timeout).
        if id == 1 && node.raft.term == 0 {
            node.campaign().expect("campaign");
        }
        if node.raft.state == StateRole::Leader && !proposed && node.raft.raft_log.committed > 0 {
            for i in 0..PROPOSALS {
                node.propose(vec![], format!("cmd {i}").into_bytes())
                    .expect("the leader accepts");
            }
            proposed = true;
        }
        while node.has_ready() {
            let mut rd = node.ready();
            let number = rd.number();
            send(std::mem::take(&mut rd.messages));
            // Committed entries are durable here already: apply them now.
            let mut last_applied = None;
            for e in rd.committed_entries.drain(..) {
                if e.entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                    applied_cmds += 1;
                }
                last_applied = Some(e.index);
            }
            waiting.insert(number, std::mem::take(&mut rd.persisted_messages));
            let job = WriteJob {
                number,
                snapshot: rd.snapshot.take(),
                entries: std::mem::take(&mut rd.entries),
                hs: rd.hs.take(),
            };
            if jobs_tx.send(job).is_err() {
                return;
            }
            node.advance_append_async(rd);
            if let Some(i) = last_applied {
                node.advance_apply_to(i);
                let _ = applied_tx.send((id, applied_cmds));
            }
        }
    }
    drop(jobs_tx);
    let _ = writer_thread.join();
}
