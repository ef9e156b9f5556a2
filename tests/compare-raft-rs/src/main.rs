//! Workload W (and the catch-up workload) of tinyraft's `bench` binary,
//! driven on raft-rs (crate `raft` 0.7), so both libraries run the
//! identical workload in the same way. See `tests/src/bin/bench.rs` for the
//! definition; `compare.sh` interleaves runs of both and prints the ratio.
//!
//! ```text
//! compare-raft-rs w --nodes 3 [--rounds N] [--batch-append on|off]
//! compare-raft-rs catchup [--entries N] [--batch-append on|off]
//! ```
//!
//! raft-rs's `Ready` cycle has one step more than tinyraft's: `advance`
//! returns a `LightReady` (the commit index, messages and committed entries
//! that the persisted entries released), which is handled the same way
//! (commit saved, messages queued, entries applied) before
//! `advance_apply`.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use raft::eraftpb::{ConfState, EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};
use slog::{Discard, Logger, o};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const W_CHECKSUM: u64 = 0x5c15_51fd_eab0_5ce5;
const W_ROUNDS: u64 = 3_125;
const PER_ROUND: u64 = 64;
const PAYLOAD: usize = 128;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn payload(i: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(PAYLOAD);
    v.extend_from_slice(&i.to_le_bytes());
    v.extend((0..PAYLOAD - 8).map(|j| (i as u8).wrapping_add(j as u8)));
    v
}

fn expected_hash(n: u64) -> u64 {
    (0..n).fold(FNV_OFFSET, |h, i| fnv(h, &payload(i)))
}

struct Peer {
    node: RawNode<MemStorage>,
    store: MemStorage,
    hash: u64,
    applied: u64,
}

impl Peer {
    fn apply(&mut self, ents: &[raft::eraftpb::Entry]) {
        for e in ents {
            if e.get_entry_type() == EntryType::EntryNormal && !e.get_data().is_empty() {
                self.hash = fnv(self.hash, e.get_data());
            }
            self.applied = e.get_index();
        }
    }
}

struct Cluster {
    peers: Vec<Peer>,
    queue: VecDeque<Message>,
    cut: u64,
}

impl Cluster {
    fn new(n: u64, batch_append: bool) -> Result<Cluster, String> {
        let logger = Logger::root(Discard, o!());
        let voters: Vec<u64> = (1..=n).collect();
        let mut peers = Vec::new();
        for id in 1..=n {
            let store = MemStorage::new_with_conf_state(ConfState::from((voters.clone(), vec![])));
            let cfg = Config {
                id,
                max_size_per_msg: 1 << 20,
                max_inflight_msgs: 256,
                pre_vote: false,
                check_quorum: false,
                batch_append,
                ..Default::default()
            };
            let node = RawNode::new(&cfg, store.clone(), &logger)
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
        })
    }

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
        let (from, to) = (m.get_from(), m.get_to());
        if self.cut != 0 && (from == self.cut || to == self.cut) {
            if to == self.cut {
                self.peers[(from - 1) as usize].node.report_unreachable(to);
            }
            return Ok(());
        }
        let peer = self
            .peers
            .get_mut((to as usize).wrapping_sub(1))
            .ok_or_else(|| format!("message to unknown node {to}"))?;
        peer.node
            .step(m)
            .map_err(|e| format!("node {to} refused a message from {from}: {e}"))
    }

    fn handle_ready(&mut self, i: usize) -> Result<(), String> {
        let mut rd = self.peers[i].node.ready();
        let msgs = rd.take_messages();
        self.queue.extend(msgs);
        let p = &mut self.peers[i];
        {
            let mut core = p.store.wl();
            if !rd.snapshot().is_empty() {
                core.apply_snapshot(rd.snapshot().clone())
                    .map_err(|e| format!("apply_snapshot: {e}"))?;
            }
            core.append(rd.entries())
                .map_err(|e| format!("append: {e}"))?;
            if let Some(hs) = rd.hs() {
                core.set_hardstate(hs.clone());
            }
        }
        let persisted = rd.take_persisted_messages();
        let committed = rd.take_committed_entries();
        p.apply(&committed);
        let mut light = p.node.advance(rd);
        if let Some(c) = light.commit_index() {
            p.store.wl().mut_hard_state().set_commit(c);
        }
        let more = light.take_messages();
        let committed = light.take_committed_entries();
        p.apply(&committed);
        p.node.advance_apply();
        self.queue.extend(persisted);
        self.queue.extend(more);
        Ok(())
    }

    fn propose(&mut self, first: u64, count: u64) -> Result<(), String> {
        let leader = &mut self.peers[0].node;
        for i in first..first + count {
            leader
                .propose(vec![], payload(i))
                .map_err(|e| format!("proposal {i} refused: {e}"))?;
        }
        Ok(())
    }

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

fn proc_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

fn per_entry(stats: &stats_alloc::Stats, entries: u64) -> String {
    let n = entries.max(1) as f64;
    format!(
        "{:.3} allocs/entry ({:.3} reallocs), {:.0} bytes allocated/entry",
        stats.allocations as f64 / n,
        stats.reallocations as f64 / n,
        (stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize) as f64 / n,
    )
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn run_w(nodes: u64, rounds: u64, batch: bool) -> Result<(), String> {
    let mut c = Cluster::new(nodes, batch)?;
    c.elect()?;
    let entries = rounds * PER_ROUND;
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    c.rounds(0, rounds)?;
    let elapsed = start.elapsed();
    let stats = region.change();
    let want = if rounds == W_ROUNDS {
        W_CHECKSUM
    } else {
        expected_hash(entries)
    };
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
        "W-{nodes} raft-rs batch_append={}: {entries} entries in {:.3} s = {:.0} entries/s; peak RSS {}; {}; checksum {want:016x}, commit {}",
        if batch { "on" } else { "off" },
        elapsed.as_secs_f64(),
        rate(entries, elapsed),
        mb(proc_kib("VmHWM:")),
        per_entry(&stats, entries),
        entries + 1
    );
    Ok(())
}

fn run_catchup(entries: u64, batch: bool) -> Result<(), String> {
    let mut c = Cluster::new(3, batch)?;
    c.elect()?;
    c.cut = 3;
    let rounds = entries.div_ceil(PER_ROUND);
    let total = rounds * PER_ROUND;
    c.rounds(0, rounds)?;
    let last = total + 1;
    let rss_before = proc_kib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let start = Instant::now();
    c.cut = 0;
    c.peers[0].node.report_unreachable(3);
    c.peers[0].node.ping();
    c.pump()?;
    let elapsed = start.elapsed();
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
        _ => "n/a".into(),
    };
    println!(
        "catch-up raft-rs batch_append={}: {total} entries caught up in {:.3} s = {:.0} entries/s; RSS before {}, peak during {} ({growth}); checksum {want:016x}",
        if batch { "on" } else { "off" },
        elapsed.as_secs_f64(),
        rate(total, elapsed),
        mb(rss_before),
        mb(peak),
    );
    Ok(())
}

const USAGE: &str = "usage: compare-raft-rs w [--nodes N[,N...]] [--rounds R] [--batch-append on|off]\n       compare-raft-rs catchup [--entries N] [--batch-append on|off]";

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
    let mut batch = true;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--nodes" => {
                let v = it.next().ok_or("--nodes needs a value")?;
                nodes = v
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("--nodes: not a number: {s:?}")))
                    .collect::<Result<_, _>>()?;
                if nodes.contains(&0) {
                    return Err("--nodes: a cluster needs at least one node".into());
                }
            }
            "--rounds" => rounds = parse_num("--rounds", it.next())?,
            "--entries" => entries = parse_num("--entries", it.next())?,
            "--batch-append" => {
                batch = match it.next().map(String::as_str) {
                    Some("on") => true,
                    Some("off") => false,
                    other => return Err(format!("--batch-append: on or off, not {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    match cmd.as_str() {
        "w" => nodes.iter().try_for_each(|&n| run_w(n, rounds, batch)),
        "catchup" => run_catchup(entries.max(1), batch),
        other => Err(format!("unknown workload {other:?}\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare-raft-rs: {e}");
            ExitCode::FAILURE
        }
    }
}
