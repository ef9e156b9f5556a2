//! Seeded campaigns: one seed builds a cluster, a fault schedule and a
//! client workload, runs the faults for the first part of the run, then
//! heals and requires progress (TigerBeetle's two-phase liveness check),
//! then checks the client history for linearizability.
//!
//! ```no_run
//! use tinyraft_harness::campaign::{run_seed, CampaignOptions};
//! let report = run_seed(&CampaignOptions::default(), 42);
//! assert!(report.violation.is_none(), "{}", report.violation.unwrap());
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::cluster::{Cluster, SimConfig};
use crate::embedder::{EmbedderMode, EmbedderProfile};
use crate::faults::{FaultKind, FaultSchedule};
use crate::invariants::Violation;
use crate::linearizability::{self, LinResult};
use crate::trace::EventKind;

/// What one campaign seed runs.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    /// Voters at start.
    pub nodes: usize,
    /// Fault kinds drawn from.
    pub faults: Vec<FaultKind>,
    /// Simulated ms of the fault phase (the schedule is drawn over it).
    pub duration_ms: u64,
    /// End the fault phase early, at this simulated ms, keeping the
    /// schedule drawn over `duration_ms` (set by `shrink`).
    pub cut_ms: Option<u64>,
    /// Simulated ms the healed cluster gets to elect a leader and commit.
    pub liveness_ms: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Operations per client (upper bound).
    pub ops_per_client: u64,
    /// Keys the clients use.
    pub keys: u64,
    /// Keep every trace event (replay).
    pub keep_trace: bool,
    /// Linearizability search budget per key.
    pub lin_budget: u64,
    /// Clients read through ReadIndex (otherwise through the log).
    pub read_index: bool,
    /// Bug injection (see [`SimConfig::bug_ack_before_sync`]).
    pub bug_ack_before_sync: bool,
    /// Bug injection (see [`SimConfig::bug_fsync_ignores_snapshot`]).
    pub bug_fsync_ignores_snapshot: bool,
}

impl Default for CampaignOptions {
    fn default() -> CampaignOptions {
        CampaignOptions {
            nodes: 5,
            faults: FaultKind::ALL.to_vec(),
            duration_ms: 20_000,
            cut_ms: None,
            liveness_ms: 15_000,
            clients: 4,
            ops_per_client: 60,
            keys: 4,
            keep_trace: false,
            lin_budget: linearizability::DEFAULT_BUDGET_STEPS,
            read_index: true,
            bug_ack_before_sync: false,
            bug_fsync_ignores_snapshot: false,
        }
    }
}

/// The outcome of one seed.
#[derive(Clone, Debug, Default)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Simulated ms the run took.
    pub sim_ms: u64,
    /// Events processed.
    pub events: u64,
    /// Elections won.
    pub elections: u64,
    /// Entries committed (the global committed log length).
    pub commits: u64,
    /// Client operations completed.
    pub client_ops: u64,
    /// Commit latency samples (simulated ms).
    pub commit_latency_ms: Vec<u64>,
    /// Messages sent.
    pub messages: u64,
    /// Trace hash.
    pub trace_hash: u64,
    /// Fault actions in the schedule.
    pub fault_actions: usize,
    /// The first violation (safety, liveness or linearizability), if any.
    pub violation: Option<Violation>,
    /// The embedder profile of every node that ran, as labels.
    pub profiles: Vec<EmbedderProfile>,
    /// Linearizability verdict was `Unknown` (budget exhausted).
    pub lin_unknown: bool,
}

/// Builds the cluster for `seed`.
pub fn sim_config(opts: &CampaignOptions, seed: u64) -> SimConfig {
    let snapshots = opts.faults.contains(&FaultKind::Snapshot);
    SimConfig {
        nodes: opts.nodes,
        seed,
        snapshot_interval: snapshots.then_some(5 + seed % 20),
        // Check-quorum (and the leader lease it gives pre-vote) on three
        // seeds in four, pre-vote off on one in eight: every combination
        // meets the faults.
        check_quorum: seed % 4 != 0,
        pre_vote: seed % 8 != 3,
        keep_trace: opts.keep_trace,
        // Every eighth seed pushes each message through the wire format.
        wire_roundtrip: seed % 8 == 0,
        bug_ack_before_sync: opts.bug_ack_before_sync,
        bug_fsync_ignores_snapshot: opts.bug_fsync_ignores_snapshot,
        // Every node draws how its engine drives the Ready contract, and
        // crashes may land anywhere in the Ready cycle.
        embedder: EmbedderMode::Drawn,
        crash_mid_ready: true,
        ..Default::default()
    }
}

/// Runs one seed with the schedule the seed draws.
pub fn run_seed(opts: &CampaignOptions, seed: u64) -> SeedReport {
    let schedule = FaultSchedule::generate(seed, opts.nodes, &opts.faults, opts.duration_ms);
    run_schedule(opts, seed, &schedule).0
}

/// Runs one seed with an explicit schedule (used by `shrink`); returns the
/// report and the cluster (for its trace).
pub fn run_schedule(
    opts: &CampaignOptions,
    seed: u64,
    schedule: &FaultSchedule,
) -> (SeedReport, Cluster) {
    let mut c = Cluster::new(sim_config(opts, seed));
    c.install_faults(schedule);
    c.start_clients_with(
        opts.clients,
        opts.ops_per_client,
        opts.keys,
        opts.read_index,
    );
    c.run_for(
        opts.cut_ms
            .map_or(opts.duration_ms, |m| m.min(opts.duration_ms)),
    );

    // Phase two: heal a majority and require progress.
    let mut violation = c.check_invariants().err();
    if violation.is_none() {
        let core = c.heal_majority();
        c.push(EventKind::Note {
            text: format!("faults end: healed the majority {core:?}, liveness phase"),
        });
        let before = c.checker.committed_len();
        let live = c.run_until(opts.liveness_ms, |c| c.leader().is_some());
        let mut ok = live;
        if live {
            let deadline = c.now_ms() + opts.liveness_ms;
            ok = false;
            while c.now_ms() < deadline && c.check_invariants().is_ok() {
                if let Some(l) = c.leader() {
                    if let Some((idx, _)) = c.start(l, b"liveness".to_vec()) {
                        if c.run_until(2_000, |c| c.checker.committed_len() >= idx)
                            && c.checker.committed_len() > before
                        {
                            ok = true;
                            break;
                        }
                        continue;
                    }
                }
                c.run_for(100);
            }
        }
        violation = c.check_invariants().err();
        if violation.is_none() && !ok {
            c.breach((
                "liveness",
                format!(
                    "after healing a majority, no {} within {} ms",
                    if live {
                        "new committed entry"
                    } else {
                        "leader"
                    },
                    opts.liveness_ms
                ),
            ));
            violation = c.check_invariants().err();
        }
    }
    // Let clients finish what they started, then check their history.
    c.stop_clients();
    if violation.is_none() {
        c.run_for(3_000);
        violation = c.check_invariants().err();
    }
    let mut lin_unknown = false;
    if violation.is_none() {
        match linearizability::check(c.client_history(), opts.lin_budget) {
            LinResult::Ok => {}
            LinResult::Unknown => lin_unknown = true,
            r @ LinResult::Illegal { .. } => {
                c.breach(("linearizability", r.to_string()));
                violation = c.check_invariants().err();
            }
        }
    }
    let s = c.stats().clone();
    let report = SeedReport {
        seed,
        sim_ms: c.now_ms(),
        events: c.events(),
        elections: s.elections,
        commits: c.checker.committed_len(),
        client_ops: c.client_ops_completed(),
        commit_latency_ms: s.commit_latency_ms,
        messages: s.messages,
        trace_hash: c.trace().hash(),
        fault_actions: schedule.actions.len(),
        violation,
        lin_unknown,
        profiles: c.profiles().into_iter().map(|(_, p)| p).collect(),
    };
    (report, c)
}

/// Runs `seeds` in parallel on `jobs` threads (each seed on one thread, so
/// each stays deterministic); `progress` is called after every seed.
pub fn run_campaign(
    opts: &CampaignOptions,
    seeds: &[u64],
    jobs: usize,
    progress: &(dyn Fn(&SeedReport) + Sync),
) -> Vec<SeedReport> {
    let next = AtomicU64::new(0);
    let out: Arc<Mutex<Vec<SeedReport>>> = Arc::new(Mutex::new(Vec::with_capacity(seeds.len())));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                    let Some(&seed) = seeds.get(i) else { break };
                    let r = run_seed(opts, seed);
                    progress(&r);
                    if let Ok(mut v) = out.lock() {
                        v.push(r);
                    }
                }
            });
        }
    });
    let mut v = match Arc::try_unwrap(out) {
        Ok(m) => m.into_inner().unwrap_or_default(),
        Err(a) => a.lock().map(|v| v.clone()).unwrap_or_default(),
    };
    v.sort_by_key(|r| r.seed);
    v
}

/// The result of [`shrink`].
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// Reduced options (clients, operations).
    pub opts: CampaignOptions,
    /// Positions (in the seed's generated schedule) of the actions kept.
    pub keep: Vec<usize>,
    /// The reduced schedule.
    pub schedule: FaultSchedule,
    /// The report of the reduced run (it still fails).
    pub report: SeedReport,
}

/// The seed's generated schedule restricted to the actions at `keep`.
pub fn schedule_subset(opts: &CampaignOptions, seed: u64, keep: Option<&[usize]>) -> FaultSchedule {
    let full = FaultSchedule::generate(seed, opts.nodes, &opts.faults, opts.duration_ms);
    match keep {
        None => full,
        Some(k) => FaultSchedule {
            actions: k
                .iter()
                .filter_map(|&i| full.actions.get(i).cloned())
                .collect(),
        },
    }
}

/// Reduces a failing seed's fault schedule and client workload to a
/// smaller one that still fails with the same invariant (delta debugging
/// over the schedule's actions). `None` if the seed passes.
pub fn shrink(opts: &CampaignOptions, seed: u64) -> Option<Shrunk> {
    let full = FaultSchedule::generate(seed, opts.nodes, &opts.faults, opts.duration_ms);
    let mut opts = opts.clone();
    let first = run_schedule(&opts, seed, &full).0;
    let invariant = first.violation.as_ref()?.invariant.clone();
    let subset = |keep: &[usize]| FaultSchedule {
        actions: keep.iter().map(|&i| full.actions[i].clone()).collect(),
    };
    let fails = |o: &CampaignOptions, keep: &[usize]| {
        let r = run_schedule(o, seed, &subset(keep)).0;
        let same = r
            .violation
            .as_ref()
            .is_some_and(|v| v.invariant == invariant);
        same.then_some(r)
    };
    let mut keep: Vec<usize> = (0..full.actions.len()).collect();
    let mut best = first;
    let mut chunk = keep.len().max(1);
    loop {
        let mut i = 0;
        while i < keep.len() {
            let mut cand = keep.clone();
            let end = (i + chunk).min(cand.len());
            cand.drain(i..end);
            if let Some(r) = fails(&opts, &cand) {
                keep = cand;
                best = r;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    // Timing: end the fault phase as early as the failure allows (at the
    // earliest just after the last kept action). A bisection; failing is not
    // monotonic in time, but every cut it keeps was seen to fail.
    let mut lo = keep.last().map_or(0, |&i| full.actions[i].at_ms) + 1;
    let mut hi = opts.duration_ms;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let cand = CampaignOptions {
            cut_ms: Some(mid),
            ..opts.clone()
        };
        if let Some(r) = fails(&cand, &keep) {
            hi = mid;
            best = r;
            opts = cand;
        } else {
            lo = mid + 1;
        }
    }
    for (clients, ops) in [(0, 0), (1, 5), (1, 20), (2, 20)] {
        if clients >= opts.clients && ops >= opts.ops_per_client {
            break;
        }
        let cand = CampaignOptions {
            clients,
            ops_per_client: ops,
            ..opts.clone()
        };
        if let Some(r) = fails(&cand, &keep) {
            opts = cand;
            best = r;
            break;
        }
    }
    let schedule = subset(&keep);
    Some(Shrunk {
        opts,
        keep,
        schedule,
        report: best,
    })
}

/// Percentile `p` (0–100) of `samples` (sorted copy; 0 when empty).
pub fn percentile(samples: &[u64], p: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let mut v = samples.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

/// A self-contained HTML timeline of a run's trace (one lane per node,
/// roles and terms over time, messages as arrows, faults and violations
/// marked): [`crate::timeline::render_html`] over the retained events.
pub fn render_timeline(trace: &crate::trace::Trace, title: &str) -> String {
    crate::timeline::render_html(trace.events(), title)
}
