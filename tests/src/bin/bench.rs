//! `bench`: the performance workloads of issue 11, run in one process.
//!
//! ```text
//! cargo run --release -p tinyraft-tests --bin bench -- w --nodes 3 [--rounds N]
//! cargo run --release -p tinyraft-tests --bin bench -- w --nodes 3,5,7,9
//! cargo run --release -p tinyraft-tests --bin bench -- catchup [--entries N] [--compacted]
//!     [--max-inflight N] [--follower-compacts]
//! cargo run --release -p tinyraft-tests --bin bench -- floor --nodes 3
//! ```
//!
//! **Workload W** (fixed, so any Raft library can be driven the same way;
//! `tests/compare-raft-rs/` drives raft-rs through it): N voters, one
//! thread, `MemStorage`, messages handed between nodes through one FIFO
//! queue (no serialization, loss or ticks); `max_size_per_msg` 1 MiB,
//! `max_inflight_msgs` 256, pre-vote and check-quorum off. Untimed setup:
//! node 1 campaigns and the cluster is pumped until its empty entry is
//! applied everywhere. Timed: `rounds` rounds (default 3,125) of 64
//! proposals of 128 bytes each (bytes 0..8: the sequence number `i` as
//! little-endian u64; byte `8 + j`: `(i as u8).wrapping_add(j as u8)`),
//! each freshly allocated, then a pump to quiescence: deliver every queued
//! message in FIFO order; for every node in id order with a Ready, queue
//! `messages`, persist snapshot/entries/hard state, queue
//! `persisted_messages`, apply `committed_entries`, `advance`; repeat until
//! a full pass does nothing. After every round every node must have applied
//! everything proposed. Applying folds each normal non-empty payload into
//! an FNV-1a-64 hash per node. With the full 200,000 entries every node ends
//! with checksum `5c1551fdeab05ce5` and commit index 200,001 (checked; any
//! other count is checked against the hash of the generated payloads).
//!
//! **Catch-up**: 3 nodes; node 3 is cut off (every message to or from it is
//! dropped, and the leader told it is unreachable) while `entries` (default
//! 1,000,000) entries are committed by W rounds, then reconnected (the
//! leader pings): the time until node 3 applied everything, and the peak
//! RSS during catch-up against the RSS just before. With `--compacted` the
//! leader and node 2 snapshot their state machines and compact their logs
//! before the reconnect, so node 3 catches up from a snapshot. Variants
//! that show where catch-up memory goes: `--max-inflight N` sets every
//! node's `max_inflight_msgs` (W's 256 × 1 MiB lets the whole gap be in
//! flight at once), `--follower-compacts` makes node 3's engine snapshot its
//! state machine and compact its log after each Ready that applied
//! entries, as an engine that does not retain applied log does.
//!
//! **Floor** (`floor --nodes N`): W's own work with no Raft at all: the
//! same payloads, freshly allocated and shared as `Bytes`, folded into N
//! per-node hashes, round by round. No Raft library can run W faster than
//! this, so it bounds the ratio any library can reach against another.
//!
//! Printed: entries/s, peak RSS (`VmHWM`; reset before catch-up through
//! `/proc/self/clear_refs` where the kernel allows), bytes and allocations
//! per entry (a counting global allocator, `stats_alloc`), the checksum.
//! Any wrong checksum, commit index or applied count exits non-zero.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use slog::{Discard, Logger, o};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tinyraft::eraftpb::{ConfState, EntryType, Message, MessageType, Snapshot};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, RawNode, SnapshotStatus, StateRole};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// The checksum every node reaches after W's 200,000 entries.
const W_CHECKSUM: u64 = 0x5c15_51fd_eab0_5ce5;
/// W's rounds and proposals per round (3,125 × 64 = 200,000 entries).
const W_ROUNDS: u64 = 3_125;
const PER_ROUND: u64 = 64;
const PAYLOAD: usize = 128;
/// W's `max_inflight_msgs`.
const W_INFLIGHT: usize = 256;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The payload of entry `i` as W defines it, freshly allocated.
fn payload(i: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(PAYLOAD);
    v.extend_from_slice(&i.to_le_bytes());
    v.extend((0..PAYLOAD - 8).map(|j| (i as u8).wrapping_add(j as u8)));
    v
}

/// One node and what its engine keeps: the storage and the state machine.
struct Peer {
    node: RawNode<MemStorage>,
    store: MemStorage,
    hash: u64,
    applied: u64,
}

/// The in-process cluster: nodes `1..=n` and one FIFO queue.
struct Cluster {
    peers: Vec<Peer>,
    queue: VecDeque<Message>,
    /// A node whose messages are dropped (0: none).
    cut: u64,
    /// A node whose engine snapshots its state machine and compacts its log
    /// after every Ready that applied something (0: none).
    compacts: u64,
}

fn config(id: u64, max_inflight_msgs: usize) -> Config {
    Config {
        max_size_per_msg: 1 << 20,
        max_inflight_msgs,
        pre_vote: false,
        check_quorum: false,
        ..Config::new(id)
    }
}

/// Encodes the state machine as a snapshot image.
fn image(hash: u64, applied: u64) -> Bytes {
    let mut v = hash.to_le_bytes().to_vec();
    v.extend_from_slice(&applied.to_le_bytes());
    v.into()
}

impl Cluster {
    fn new(n: u64) -> Result<Cluster, String> {
        Cluster::with_inflight(n, W_INFLIGHT)
    }

    /// A cluster whose nodes pipeline at most `inflight` appends each.
    fn with_inflight(n: u64, inflight: usize) -> Result<Cluster, String> {
        let logger = Logger::root(Discard, o!());
        let voters: Vec<u64> = (1..=n).collect();
        let mut peers = Vec::new();
        for id in 1..=n {
            let store = MemStorage::new_with_conf_state(ConfState {
                voters: voters.clone(),
                learners: vec![],
                ..Default::default()
            });
            let node = RawNode::new(&config(id, inflight), store.clone(), &logger)
                .map_err(|e| format!("node {id}: {e}"))?;
            peers.push(Peer {
                node,
                store,
                hash: FNV_OFFSET,
                applied: 0,
            });
        }
        Ok(Cluster {
            peers,
            queue: VecDeque::new(),
            cut: 0,
            compacts: 0,
        })
    }

    fn enqueue(&mut self, msgs: Vec<Message>) {
        self.queue.extend(msgs);
    }

    /// Delivers every queued message, then runs every node's Ready, until a
    /// full pass does nothing.
    fn pump(&mut self) -> Result<(), String> {
        loop {
            let mut busy = false;
            while let Some(m) = self.queue.pop_front() {
                busy = true;
                self.deliver(m)?;
            }
            for i in 0..self.peers.len() {
                if self.peers[i].node.has_ready() {
                    busy = true;
                    self.handle_ready(i)?;
                }
            }
            if !busy {
                return Ok(());
            }
        }
    }

    fn deliver(&mut self, m: Message) -> Result<(), String> {
        let (from, to) = (m.from, m.to);
        if self.cut != 0 && (from == self.cut || to == self.cut) {
            if to == self.cut {
                self.peers[(from - 1) as usize].node.report_unreachable(to);
            }
            return Ok(());
        }
        let snapshot = m.msg_type() == MessageType::MsgSnapshot;
        let peer = self
            .peers
            .get_mut((to as usize).wrapping_sub(1))
            .ok_or_else(|| format!("message to unknown node {to}"))?;
        peer.node
            .step(m)
            .map_err(|e| format!("node {to} refused a message from {from}: {e}"))?;
        if snapshot {
            self.peers[(from - 1) as usize]
                .node
                .report_snapshot(to, SnapshotStatus::Finish);
        }
        Ok(())
    }

    fn handle_ready(&mut self, i: usize) -> Result<(), String> {
        let mut rd = self.peers[i].node.ready();
        self.enqueue(std::mem::take(&mut rd.messages));
        let p = &mut self.peers[i];
        {
            let mut core = p.store.wl();
            if let Some(s) = &rd.snapshot {
                core.apply_snapshot(s.clone())
                    .map_err(|e| format!("apply_snapshot: {e}"))?;
            }
            core.append_owned(std::mem::take(&mut rd.entries))
                .map_err(|e| format!("append: {e}"))?;
            if let Some(hs) = rd.hs {
                core.set_hardstate(hs);
            }
        }
        if let Some(s) = &rd.snapshot {
            restore_state_machine(p, s)?;
        }
        let persisted = std::mem::take(&mut rd.persisted_messages);
        for e in &rd.committed_entries {
            if e.entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                p.hash = fnv(p.hash, &e.data);
            }
            p.applied = e.index;
        }
        let applied_some = !rd.committed_entries.is_empty();
        p.node.advance(rd);
        if applied_some && self.compacts == i as u64 + 1 {
            let mut core = p.store.wl();
            core.create_snapshot(p.applied, None, image(p.hash, p.applied))
                .map_err(|e| format!("create_snapshot: {e}"))?;
            core.compact(p.applied + 1)
                .map_err(|e| format!("compact: {e}"))?;
        }
        self.enqueue(persisted);
        Ok(())
    }

    /// Proposes entries `first..first + count` on node 1.
    fn propose(&mut self, first: u64, count: u64) -> Result<(), String> {
        let leader = &mut self.peers[0].node;
        for i in first..first + count {
            leader
                .propose(Bytes::new(), payload(i))
                .map_err(|e| format!("proposal {i} refused: {e}"))?;
        }
        Ok(())
    }

    /// Node 1 campaigns; pumps until it leads and its empty entry is
    /// applied everywhere (or on every node not cut off).
    fn elect(&mut self) -> Result<(), String> {
        self.peers[0]
            .node
            .campaign()
            .map_err(|e| format!("campaign: {e}"))?;
        self.pump()?;
        if self.peers[0].node.raft.state != StateRole::Leader {
            return Err("node 1 did not become leader".into());
        }
        self.check_applied(1)
    }

    /// Every node (not cut off) applied through `index`.
    fn check_applied(&self, index: u64) -> Result<(), String> {
        for (i, p) in self.peers.iter().enumerate() {
            let id = i as u64 + 1;
            if id != self.cut && p.applied != index {
                return Err(format!(
                    "node {id} applied {} but {index} is committed",
                    p.applied
                ));
            }
        }
        Ok(())
    }

    /// Runs `rounds` W rounds starting at sequence number `seq`; returns the
    /// next sequence number. (Out of line so a profiler can count the timed
    /// loop alone.)
    #[inline(never)]
    fn rounds(&mut self, seq: u64, rounds: u64) -> Result<u64, String> {
        let mut seq = seq;
        for _ in 0..rounds {
            self.propose(seq, PER_ROUND)?;
            seq += PER_ROUND;
            self.pump()?;
            self.check_applied(1 + seq)?;
        }
        Ok(seq)
    }
}

fn restore_state_machine(p: &mut Peer, s: &Snapshot) -> Result<(), String> {
    let meta = s.metadata.as_ref().ok_or("snapshot without metadata")?;
    if s.data.len() != 16 {
        return Err(format!("snapshot image of {} bytes", s.data.len()));
    }
    let mut h = [0u8; 8];
    h.copy_from_slice(&s.data[..8]);
    p.hash = u64::from_le_bytes(h);
    p.applied = meta.index;
    Ok(())
}

/// The hash of the first `n` payloads, computed straight from the
/// generator: what every node's state machine must hold.
fn expected_hash(n: u64) -> u64 {
    (0..n).fold(FNV_OFFSET, |h, i| fnv(h, &payload(i)))
}

/// The checksum every node must end W (or the floor) with after `rounds`
/// rounds: the published one for the full workload, else computed.
fn expected_checksum(rounds: u64) -> u64 {
    if rounds == W_ROUNDS {
        W_CHECKSUM
    } else {
        expected_hash(rounds * PER_ROUND)
    }
}

/// A line of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`), if readable.
fn proc_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak-RSS counter; false where the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

fn per_entry(stats: &stats_alloc::Stats, entries: u64) -> String {
    let n = entries.max(1) as f64;
    format!(
        "{:.3} allocs/entry ({} allocations, {:.3} reallocs/entry), {:.0} bytes allocated/entry",
        stats.allocations as f64 / n,
        stats.allocations,
        stats.reallocations as f64 / n,
        (stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize) as f64 / n,
    )
}

fn run_w(nodes: u64, rounds: u64) -> Result<(), String> {
    let mut c = Cluster::new(nodes)?;
    c.elect()?;
    let entries = rounds * PER_ROUND;
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    c.rounds(0, rounds)?;
    let elapsed = start.elapsed();
    let stats = region.change();
    let want = expected_checksum(rounds);
    for (i, p) in c.peers.iter().enumerate() {
        let committed = p.node.raft.raft_log.committed;
        if p.hash != want || committed != entries + 1 {
            return Err(format!(
                "node {}: checksum {:016x} commit {committed}, want {want:016x} commit {}",
                i + 1,
                p.hash,
                entries + 1
            ));
        }
    }
    println!(
        "W-{nodes}: {entries} entries in {:.3} s = {:.0} entries/s; peak RSS {}; {}; checksum {want:016x}, commit {}",
        elapsed.as_secs_f64(),
        rate(entries, elapsed),
        mb(proc_kib("VmHWM:")),
        per_entry(&stats, entries),
        entries + 1
    );
    Ok(())
}

/// The floor's timed loop (kept out of line, so a profiler can count it
/// alone): `rounds` rounds of W's payloads folded into every node's hash.
#[inline(never)]
fn floor_rounds(hashes: &mut [u64], rounds: u64) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(PER_ROUND as usize);
    for r in 0..rounds {
        let first = r * PER_ROUND;
        batch.extend((first..first + PER_ROUND).map(|i| Bytes::from(payload(i))));
        for h in hashes.iter_mut() {
            for data in &batch {
                *h = fnv(*h, std::hint::black_box(data));
            }
        }
        batch.clear();
    }
}

/// W without Raft: what the workload itself costs (see the module docs).
fn run_floor(nodes: u64, rounds: u64) -> Result<(), String> {
    let entries = rounds * PER_ROUND;
    let mut hashes = vec![FNV_OFFSET; nodes as usize];
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    floor_rounds(&mut hashes, rounds);
    let elapsed = start.elapsed();
    let stats = region.change();
    let want = expected_checksum(rounds);
    if let Some(h) = hashes.iter().find(|&&h| h != want) {
        return Err(format!("floor: checksum {h:016x}, want {want:016x}"));
    }
    println!(
        "floor-{nodes} (W without Raft): {entries} entries in {:.3} s = {:.0} entries/s; peak RSS {}; {}; checksum {want:016x}",
        elapsed.as_secs_f64(),
        rate(entries, elapsed),
        mb(proc_kib("VmHWM:")),
        per_entry(&stats, entries),
    );
    Ok(())
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// How the catch-up workload is varied.
struct CatchupOpts {
    /// The gap: entries committed while node 3 is cut off.
    entries: u64,
    /// The others compact the gap away: node 3 catches up from a snapshot.
    compacted: bool,
    /// `max_inflight_msgs` of every node.
    inflight: usize,
    /// Node 3's engine compacts its log after applying.
    follower_compacts: bool,
}

fn run_catchup(o: &CatchupOpts) -> Result<(), String> {
    let (entries, compacted) = (o.entries, o.compacted);
    let mut c = Cluster::with_inflight(3, o.inflight)?;
    c.elect()?;
    c.cut = 3;
    if o.follower_compacts {
        c.compacts = 3;
    }
    let rounds = entries.div_ceil(PER_ROUND);
    let total = rounds * PER_ROUND;
    let fill = Instant::now();
    c.rounds(0, rounds)?;
    let fill = fill.elapsed();
    let last = total + 1;
    if compacted {
        for p in &mut c.peers[..2] {
            let mut core = p.store.wl();
            core.create_snapshot(last, None, image(p.hash, p.applied))
                .map_err(|e| format!("create_snapshot: {e}"))?;
            core.compact(last + 1)
                .map_err(|e| format!("compact: {e}"))?;
        }
    }
    let rss_before = proc_kib("VmRSS:");
    let reset = reset_peak_rss();
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    c.cut = 0;
    c.peers[0].node.report_unreachable(3);
    c.peers[0].node.ping();
    c.pump()?;
    let elapsed = start.elapsed();
    let stats = region.change();
    let peak = if reset { proc_kib("VmHWM:") } else { None };
    let p3 = &c.peers[2];
    let want = expected_hash(total);
    if p3.applied != last || p3.hash != want {
        return Err(format!(
            "node 3 applied {} with checksum {:016x}; want {last} and {want:016x}",
            p3.applied, p3.hash
        ));
    }
    let growth = match (peak, rss_before) {
        (Some(p), Some(b)) => format!("+{:.1} MB", p.saturating_sub(b) as f64 / 1e6),
        _ => "n/a (peak RSS cannot be reset here)".into(),
    };
    let how = if compacted {
        format!("from a snapshot in {:.6} s", elapsed.as_secs_f64())
    } else {
        format!(
            "in {:.3} s = {:.0} entries/s",
            elapsed.as_secs_f64(),
            rate(total, elapsed)
        )
    };
    let mut variant = String::new();
    if compacted {
        variant += " (compacted)";
    }
    if o.inflight != W_INFLIGHT {
        variant += &format!(" (max_inflight_msgs {})", o.inflight);
    }
    if o.follower_compacts {
        variant += " (node 3 compacts after applying)";
    }
    println!(
        "catch-up{variant}: {total} entries (committed in {:.3} s) caught up {how}; RSS before {}, peak during {} ({growth}); {}; checksum {want:016x}",
        fill.as_secs_f64(),
        mb(rss_before),
        mb(peak),
        per_entry(&stats, total),
    );
    Ok(())
}

const USAGE: &str = "usage: bench w [--nodes N[,N...]] [--rounds R]\n       bench floor [--nodes N[,N...]] [--rounds R]\n       bench catchup [--entries N] [--compacted] [--max-inflight N] [--follower-compacts]";

fn parse_num(flag: &str, v: Option<&String>) -> Result<u64, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: not a number: {v:?}"))
}

fn run(args: &[String]) -> Result<(), String> {
    let Some(cmd) = args.first() else {
        return Err(USAGE.into());
    };
    let mut nodes = vec![3];
    let mut rounds = W_ROUNDS;
    let mut entries = 1_000_000;
    let mut compacted = false;
    let mut inflight = W_INFLIGHT;
    let mut follower_compacts = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--nodes" => {
                let v = it.next().ok_or("--nodes needs a value")?;
                nodes = v
                    .split(',')
                    .map(|s| {
                        s.parse()
                            .map_err(|_| format!("--nodes: not a number: {s:?}"))
                    })
                    .collect::<Result<_, _>>()?;
                if nodes.contains(&0) {
                    return Err("--nodes: a cluster needs at least one node".into());
                }
            }
            "--rounds" => rounds = parse_num("--rounds", it.next())?,
            "--entries" => entries = parse_num("--entries", it.next())?,
            "--compacted" => compacted = true,
            "--follower-compacts" => follower_compacts = true,
            "--max-inflight" => {
                inflight = usize::try_from(parse_num("--max-inflight", it.next())?)
                    .map_err(|_| "--max-inflight: too large".to_string())?;
                if inflight == 0 {
                    return Err("--max-inflight: must be at least 1".into());
                }
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    match cmd.as_str() {
        "w" => nodes.iter().try_for_each(|&n| run_w(n, rounds)),
        "floor" => nodes.iter().try_for_each(|&n| run_floor(n, rounds)),
        "catchup" => run_catchup(&CatchupOpts {
            entries: entries.max(1),
            compacted,
            inflight,
            follower_compacts,
        }),
        other => Err(format!("unknown workload {other:?}\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
