//! Criterion benchmarks of the core's hot paths (issue 11):
//!
//! - `follower_step/heartbeat` and `follower_step/append`: `RawNode::step`
//!   of one heartbeat, and of one append carrying one 128-byte entry, on a
//!   follower;
//! - `leader_ready_advance`: `ready()` + persisting + `advance()` on a
//!   3-node leader with 64 new entries, their appends and 64 newly committed
//!   entries in every Ready;
//! - `propose/<size>`: one proposal of 0 B to 1 MiB on a 3-node leader
//!   (appending it; `RawNode` broadcasts a batch of proposals at the next
//!   `ready()`, which `leader_ready_advance` times);
//! - `election_5_nodes`: node 1 campaigns in a fresh 5-node cluster and the
//!   messages are delivered until it leads.
//!
//! `cargo bench -p tinyraft --bench core` runs them; `cargo test
//! --all-targets` (or `--benches`) runs each routine once as a smoke test.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use slog::{Discard, Logger, o};
use tinyraft::eraftpb::{ConfState, Entry, Message, MessageType};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, RawNode, StateRole};

fn node(id: u64, voters: &[u64]) -> RawNode<MemStorage> {
    let store = MemStorage::new_with_conf_state(ConfState {
        voters: voters.to_vec(),
        learners: vec![],
        ..Default::default()
    });
    let cfg = Config {
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        ..Config::new(id)
    };
    RawNode::new(&cfg, store, &Logger::root(Discard, o!())).expect("valid config")
}

/// Persists `rn`'s Ready into its own storage and advances; returns the
/// messages to send.
fn handle_ready(rn: &mut RawNode<MemStorage>) -> Vec<Message> {
    let mut rd = rn.ready();
    let mut out = std::mem::take(&mut rd.messages);
    {
        let store = rn.store().clone();
        let mut core = store.wl();
        if let Some(s) = &rd.snapshot {
            core.apply_snapshot(s.clone()).expect("snapshot applies");
        }
        core.append(&rd.entries).expect("entries append");
        if let Some(hs) = rd.hs {
            core.set_hardstate(hs);
        }
    }
    out.append(&mut rd.persisted_messages);
    black_box(&rd.committed_entries);
    rn.advance(rd);
    out
}

/// Delivers messages and handles Readies until nothing moves.
fn pump(nodes: &mut [RawNode<MemStorage>]) {
    let mut queue: VecDeque<Message> = VecDeque::new();
    loop {
        let mut busy = false;
        while let Some(m) = queue.pop_front() {
            busy = true;
            let to = m.to as usize - 1;
            let _ = nodes[to].step(m);
        }
        for n in nodes.iter_mut() {
            if n.has_ready() {
                busy = true;
                queue.extend(handle_ready(n));
            }
        }
        if !busy {
            return;
        }
    }
}

fn cluster(n: u64) -> Vec<RawNode<MemStorage>> {
    let voters: Vec<u64> = (1..=n).collect();
    let mut nodes: Vec<_> = voters.iter().map(|&id| node(id, &voters)).collect();
    nodes[0].campaign().expect("campaign");
    pump(&mut nodes);
    assert_eq!(nodes[0].raft.state, StateRole::Leader);
    nodes
}

fn payload(size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>())
}

/// A follower of leader 1 at term 1 with its first entry in place.
fn follower() -> RawNode<MemStorage> {
    let mut f = node(2, &[1, 2, 3]);
    let m = Message {
        msg_type: MessageType::MsgAppend as i32,
        from: 1,
        to: 2,
        term: 1,
        entries: vec![Entry {
            index: 1,
            term: 1,
            ..Default::default()
        }],
        commit: 1,
        ..Default::default()
    };
    f.step(m).expect("first append");
    handle_ready(&mut f);
    f
}

fn follower_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("follower_step");
    g.bench_function("heartbeat", |b| {
        let mut f = follower();
        let hb = Message {
            msg_type: MessageType::MsgHeartbeat as i32,
            from: 1,
            to: 2,
            term: 1,
            commit: 1,
            ..Default::default()
        };
        b.iter(|| {
            f.step(hb.clone()).expect("heartbeat");
            f.raft.msgs.clear();
        });
    });
    g.bench_function("append", |b| {
        let data = payload(128);
        b.iter_custom(|iters| {
            // A fresh follower per sample, so the log stays small; only
            // the steps are timed.
            let mut f = follower();
            let msgs: Vec<Message> = (0..iters)
                .map(|i| Message {
                    msg_type: MessageType::MsgAppend as i32,
                    from: 1,
                    to: 2,
                    term: 1,
                    index: i + 1,
                    log_term: 1,
                    commit: i + 1,
                    entries: vec![Entry {
                        index: i + 2,
                        term: 1,
                        data: data.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect();
            let start = Instant::now();
            for m in msgs {
                f.step(m).expect("append");
                f.raft.msgs.clear();
            }
            start.elapsed()
        });
    });
    g.finish();
}

fn leader_ready_advance(c: &mut Criterion) {
    let data = payload(128);
    c.bench_function("leader_ready_advance", |b| {
        b.iter_custom(|iters| {
            let mut nodes = cluster(3);
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..64 {
                    nodes[0]
                        .propose(Bytes::new(), data.clone())
                        .expect("propose");
                }
                let start = Instant::now();
                let msgs = handle_ready(&mut nodes[0]);
                total += start.elapsed();
                // Untimed: the followers answer, so the next Ready also
                // carries committed entries.
                for m in msgs {
                    let to = m.to as usize - 1;
                    let _ = nodes[to].step(m);
                }
                for i in 1..nodes.len() {
                    for m in handle_ready(&mut nodes[i]) {
                        let _ = nodes[0].step(m);
                    }
                }
            }
            total
        });
    });
}

fn propose(c: &mut Criterion) {
    let mut g = c.benchmark_group("propose");
    for size in [0usize, 128, 4096, 64 << 10, 1 << 20] {
        let data = payload(size);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{size}B"), |b| {
            b.iter_custom(|iters| {
                let mut nodes = cluster(3);
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let start = Instant::now();
                    nodes[0]
                        .propose(Bytes::new(), data.clone())
                        .expect("propose");
                    total += start.elapsed();
                    if i % 64 == 63 {
                        // Untimed: persist, so the unstable log stays short.
                        black_box(handle_ready(&mut nodes[0]));
                    }
                }
                total
            });
        });
    }
    g.finish();
}

fn election(c: &mut Criterion) {
    c.bench_function("election_5_nodes", |b| {
        b.iter_batched(
            || {
                let voters = [1, 2, 3, 4, 5];
                voters
                    .iter()
                    .map(|&id| node(id, &voters))
                    .collect::<Vec<_>>()
            },
            |mut nodes| {
                nodes[0].campaign().expect("campaign");
                pump(&mut nodes);
                assert_eq!(nodes[0].raft.state, StateRole::Leader);
                nodes
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = follower_step, leader_ready_advance, propose, election
}
criterion_main!(benches);
