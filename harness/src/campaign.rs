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
use crate::reshape::Reshape;
use crate::swarm::Swarm;
use crate::trace::EventKind;
use tinyraft::ReadOnlyOption;

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
    /// Swarm testing: each seed draws its node count (up to `nodes`), node
    /// configuration, workload and fault mix (from `faults`); see
    /// [`crate::swarm`]. Off: every seed runs the fixed configuration.
    pub swarm: bool,
    /// Allow lease reads (`ReadOnlyOption::LeaseBased`) in swarm draws.
    pub lease_reads: bool,
    /// Timing and size transforms of the schedule (set by `shrink`).
    pub reshape: Reshape,
    /// Bug injection (see [`SimConfig::bug_fsync_ignores_snapshot`]).
    pub bug_fsync_ignores_snapshot: bool,
    /// Run past safety violations to the end (see
    /// [`SimConfig::keep_going`]): the liveness and linearizability checks
    /// still run, and every invariant violated is reported.
    pub keep_going: bool,
    /// Clients give up on an operation this many simulated ms after calling
    /// it (its outcome is then unknown to them, as after a timeout in a
    /// real client); `None`: they retry until it completes.
    pub client_deadline_ms: Option<u64>,
    /// Keep the client history of failing seeds and of seeds whose
    /// linearizability verdict is Unknown in [`SeedReport::history`].
    pub keep_histories: bool,
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
            swarm: true,
            lease_reads: LEASE_READS,
            reshape: Reshape::default(),
            bug_fsync_ignores_snapshot: false,
            keep_going: false,
            client_deadline_ms: Some(CLIENT_DEADLINE_MS),
            keep_histories: false,
        }
    }
}

/// The default client deadline: an operation not answered within 5 s of
/// simulated time is given up on (several retry timeouts, longer than most
/// leader changes, shorter than the longest partitions and crashes).
pub const CLIENT_DEADLINE_MS: u64 = 5_000;

/// Whether swarm draws include lease reads by default (on half of the
/// check-quorum seeds).
pub const LEASE_READS: bool = true;

/// The swarm draw of `seed`, if `opts` asks for swarm testing.
pub fn swarm_for(opts: &CampaignOptions, seed: u64) -> Option<Swarm> {
    opts.swarm.then(|| {
        let mut w = Swarm::draw(seed, opts.nodes, &opts.faults, opts.lease_reads);
        if let Some(cap) = opts.reshape.nodes_cap {
            w.nodes = w.nodes.min(cap).max(1);
        }
        w
    })
}

/// Initial voters of `seed` before any `nodes_cap`.
fn drawn_nodes(opts: &CampaignOptions, seed: u64) -> usize {
    match opts.swarm {
        true => Swarm::draw(seed, opts.nodes, &opts.faults, opts.lease_reads).nodes,
        false => opts.nodes,
    }
}

/// The seed's fault schedule (drawn from its swarm's fault mix).
pub fn schedule_for(opts: &CampaignOptions, seed: u64) -> FaultSchedule {
    match swarm_for(opts, seed) {
        Some(w) => {
            FaultSchedule::generate_mix(seed, w.nodes, &w.kinds, opts.duration_ms, w.fault_gap_ms)
        }
        None => FaultSchedule::generate(seed, opts.nodes, &opts.faults, opts.duration_ms),
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
    /// Client operations given up on (outcome unknown to the client).
    pub client_ops_unknown: u64,
    /// Commit latency samples (simulated ms).
    pub commit_latency_ms: Vec<u64>,
    /// Messages sent.
    pub messages: u64,
    /// Trace hash.
    pub trace_hash: u64,
    /// Fault actions in the schedule.
    pub fault_actions: usize,
    /// Committed membership changes, by kind (simple, joint enter, leave).
    pub conf_changes: crate::ConfChangeCounts,
    /// The first violation (safety, liveness or linearizability), if any.
    pub violation: Option<Violation>,
    /// With `keep_going`: the first violation of every other invariant
    /// violated after it, in order.
    pub later_violations: Vec<Violation>,
    /// The embedder profile of every node that ran, as labels.
    pub profiles: Vec<EmbedderProfile>,
    /// Linearizability verdict was `Unknown` (budget exhausted).
    pub lin_unknown: bool,
    /// What the seed drew (swarm testing).
    pub swarm: Option<Swarm>,
    /// The client history, with [`CampaignOptions::keep_histories`], of a
    /// failing seed or one with an Unknown verdict.
    pub history: Option<Vec<linearizability::Operation>>,
}

/// Builds the cluster for `seed`.
pub fn sim_config(opts: &CampaignOptions, seed: u64) -> SimConfig {
    if let Some(w) = swarm_for(opts, seed) {
        let snapshots = w.kinds.contains(&FaultKind::Snapshot);
        return SimConfig {
            nodes: w.nodes,
            seed,
            snapshot_interval: snapshots.then_some(5 + seed % 20),
            election_tick: w.election_tick,
            heartbeat_tick: w.heartbeat_tick,
            check_quorum: w.check_quorum,
            pre_vote: w.pre_vote,
            keep_trace: opts.keep_trace,
            wire_roundtrip: seed % 8 == 0,
            bug_ack_before_sync: opts.bug_ack_before_sync,
            max_size_per_msg: w.max_size_per_msg,
            max_inflight_msgs: w.max_inflight_msgs,
            skip_bcast_commit: w.skip_bcast_commit,
            read_only_option: if w.lease_reads {
                ReadOnlyOption::LeaseBased
            } else {
                ReadOnlyOption::Safe
            },
            report_unreachable: w.report_unreachable,
            bug_fsync_ignores_snapshot: opts.bug_fsync_ignores_snapshot,
            embedder: EmbedderMode::Drawn,
            crash_mid_ready: true,
            keep_going: opts.keep_going,
            ..Default::default()
        };
    }
    let snapshots = opts.faults.contains(&FaultKind::Snapshot);
    SimConfig {
        nodes: opts
            .reshape
            .nodes_cap
            .map_or(opts.nodes, |c| opts.nodes.min(c).max(1)),
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
        keep_going: opts.keep_going,
        ..Default::default()
    }
}

/// Runs one seed with the schedule the seed draws.
pub fn run_seed(opts: &CampaignOptions, seed: u64) -> SeedReport {
    let schedule = schedule_for(opts, seed);
    run_schedule(opts, seed, &schedule).0
}

/// Runs one seed with an explicit schedule (used by `shrink`); returns the
/// report and the cluster (for its trace).
pub fn run_schedule(
    opts: &CampaignOptions,
    seed: u64,
    schedule: &FaultSchedule,
) -> (SeedReport, Cluster) {
    let reshaped;
    let schedule = if opts.reshape.is_identity() {
        schedule
    } else {
        reshaped = opts.reshape.apply(schedule, drawn_nodes(opts, seed));
        &reshaped
    };
    let swarm = swarm_for(opts, seed);
    let mut c = Cluster::new(sim_config(opts, seed));
    if let Some(w) = &swarm {
        c.clients.read_tenths = w.read_tenths;
        c.clients.any_node = w.any_node;
        c.clients.max_payload = w.max_payload;
    }
    c.install_faults(schedule);
    c.set_client_deadline(opts.client_deadline_ms);
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

    // Phase two: heal a majority and require progress. Without
    // `keep_going`, a violation ends the run here.
    if !c.halted() {
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
            while c.now_ms() < deadline && !c.halted() {
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
        if ok && !c.halted() {
            if let Err(detail) = catch_up(&mut c, opts.liveness_ms) {
                c.breach(("liveness", detail));
            }
        }
        if !c.halted() && !ok {
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
        }
    }
    // Let clients finish what they started, then check their history.
    c.stop_clients();
    if !c.halted() {
        c.run_for(3_000);
    }
    let mut lin_unknown = false;
    if !c.halted() {
        match linearizability::check(c.client_history(), opts.lin_budget) {
            LinResult::Ok => {}
            LinResult::Unknown => lin_unknown = true,
            r @ LinResult::Illegal { .. } => c.breach(("linearizability", r.to_string())),
        }
    }
    let mut violations = c.violations().into_iter();
    let violation = violations.next();
    let later_violations: Vec<Violation> = violations.collect();
    let history = (opts.keep_histories && (violation.is_some() || lin_unknown))
        .then(|| c.client_history().to_vec());
    let s = c.stats().clone();
    let report = SeedReport {
        seed,
        sim_ms: c.now_ms(),
        events: c.events(),
        elections: s.elections,
        commits: c.checker.committed_len(),
        client_ops: c.client_ops_completed(),
        client_ops_unknown: c.client_ops_given_up(),
        commit_latency_ms: s.commit_latency_ms,
        messages: s.messages,
        trace_hash: c.trace().hash(),
        fault_actions: schedule.actions.len(),
        conf_changes: s.conf_changes,
        violation,
        later_violations,
        history,
        lin_unknown,
        swarm,
        profiles: c.profiles().into_iter().map(|(_, p)| p).collect(),
    };
    (report, c)
}

/// Liveness after healing, for every healed voter: each voter in the
/// healed core must apply up to the leader's commit index (taken once the
/// leader committed an entry of its term) within `budget_ms` — not just one
/// new commit somewhere, so a follower stuck forever fails. A voter the
/// leader removes in the meantime is no longer waited for.
fn catch_up(c: &mut Cluster, budget_ms: u64) -> Result<(), String> {
    let Some(l) = c.leader() else {
        return Ok(());
    };
    let Some(raw) = c.nodes.get(&l).and_then(|n| n.raw.as_ref()) else {
        return Ok(());
    };
    let target = raw.raft.raft_log.committed;
    let voters = raw.raft.prs().voter_ids();
    let core: Vec<u64> = c
        .faults
        .core
        .iter()
        .flatten()
        .copied()
        .filter(|id| voters.contains(id))
        .collect();
    // A voter the leader removes meanwhile (a conf change committed but not
    // yet applied when the target was taken) is owed nothing: the leader
    // stops replicating to it.
    let behind = |c: &Cluster| -> Vec<(u64, u64)> {
        let still = c
            .nodes
            .get(&l)
            .and_then(|n| n.raw.as_ref())
            .map(|r| r.raft.prs().voter_ids());
        core.iter()
            .filter(|id| still.as_ref().is_none_or(|vs| vs.contains(id)))
            .filter_map(|&id| {
                let a = c.nodes.get(&id).map_or(0, |n| n.sm_applied);
                (a < target).then_some((id, a))
            })
            .collect()
    };
    if c.run_until(budget_ms, |c| behind(c).is_empty()) {
        return Ok(());
    }
    if c.halted() {
        return Ok(());
    }
    Err(format!(
        "after healing the core {core:?}, leader {l} committed {target}, but voters (node, applied) {:?} did not catch up within {budget_ms} ms",
        behind(c)
    ))
}

/// Runs `seeds` in parallel on `jobs` threads (each seed on one thread, so
/// each stays deterministic); `progress` is called after every seed.
pub fn run_campaign(
    opts: &CampaignOptions,
    seeds: &[u64],
    jobs: usize,
    progress: &(dyn Fn(&SeedReport) + Sync),
) -> Vec<SeedReport> {
    run_campaign_until(opts, seeds, jobs, progress, false)
}

/// [`run_campaign`]; with `stop_on_first`, no seed is started after the
/// first violation. Seeds are handed out in order, so every seed before the
/// first failing one has run: the smallest failing seed reported is the
/// campaign's first (what the `teeth` table counts).
pub fn run_campaign_until(
    opts: &CampaignOptions,
    seeds: &[u64],
    jobs: usize,
    progress: &(dyn Fn(&SeedReport) + Sync),
    stop_on_first: bool,
) -> Vec<SeedReport> {
    let next = |i: u64| seeds.get(i as usize).copied();
    run_campaign_from(opts, &next, jobs, progress, stop_on_first, None)
}

/// The general runner: seed `i` of the campaign is `seed_at(i)` (`None`
/// ends the sequence); seeds are handed out in order to `jobs` threads
/// until the sequence ends, a violation with `stop_on_first`, or the wall
/// clock passes `deadline` (a seed already started still finishes). The
/// seeds run are thus always a prefix of the sequence. Reports are sorted
/// by seed.
pub fn run_campaign_from(
    opts: &CampaignOptions,
    seed_at: &(dyn Fn(u64) -> Option<u64> + Sync),
    jobs: usize,
    progress: &(dyn Fn(&SeedReport) + Sync),
    stop_on_first: bool,
    deadline: Option<std::time::Instant>,
) -> Vec<SeedReport> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let next = AtomicU64::new(0);
    let out: Arc<Mutex<Vec<SeedReport>>> = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        stop.store(true, Ordering::SeqCst);
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(seed) = seed_at(i) else { break };
                    let r = run_seed(opts, seed);
                    if stop_on_first && r.violation.is_some() {
                        stop.store(true, Ordering::SeqCst);
                    }
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
    /// Sizes of the failing run before shrinking.
    pub before: ShrinkSize,
    /// Sizes after.
    pub after: ShrinkSize,
}

/// How big a failing run is, for `shrink`'s before/after report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShrinkSize {
    /// Fault actions.
    pub actions: usize,
    /// Simulated ms of the fault phase.
    pub fault_phase_ms: u64,
    /// When the first fault strikes (ms).
    pub first_fault_ms: u64,
    /// Sum of the faults' durations (holds, bursts, disk spikes; ms).
    pub fault_delay_ms: u64,
    /// Initial voters.
    pub nodes: usize,
    /// Clients × operations.
    pub client_ops: u64,
    /// Events simulated until the violation.
    pub events: u64,
}

impl ShrinkSize {
    fn of(opts: &CampaignOptions, seed: u64, schedule: &FaultSchedule, r: &SeedReport) -> Self {
        let shaped = opts.reshape.apply(schedule, drawn_nodes(opts, seed));
        ShrinkSize {
            actions: shaped.actions.len(),
            fault_phase_ms: opts
                .cut_ms
                .unwrap_or(opts.duration_ms)
                .min(opts.duration_ms),
            first_fault_ms: shaped.actions.first().map_or(0, |a| a.at_ms),
            fault_delay_ms: Reshape::total_delay_ms(&shaped),
            nodes: sim_config(opts, seed).nodes,
            client_ops: opts.clients as u64 * opts.ops_per_client,
            events: r.events,
        }
    }
}

impl std::fmt::Display for ShrinkSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} actions, first at {} ms, fault phase {} ms, fault durations {} ms, {} nodes, {} client ops, {} events",
            self.actions,
            self.first_fault_ms,
            self.fault_phase_ms,
            self.fault_delay_ms,
            self.nodes,
            self.client_ops,
            self.events
        )
    }
}

/// The seed's generated schedule restricted to the actions at `keep`.
pub fn schedule_subset(opts: &CampaignOptions, seed: u64, keep: Option<&[usize]>) -> FaultSchedule {
    let full = schedule_for(opts, seed);
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
/// smaller one that still fails with the same invariant: delta debugging
/// over the schedule's actions, then the fault phase cut short, fewer
/// clients, every fault earlier, shorter fault durations and fewer voters
/// (see [`Reshape`]), keeping each step only if the run still fails the
/// same way. `None` if the seed passes.
pub fn shrink(opts: &CampaignOptions, seed: u64) -> Option<Shrunk> {
    let full = schedule_for(opts, seed);
    let mut opts = opts.clone();
    let original = opts.clone();
    let first = run_schedule(&opts, seed, &full).0;
    let invariant = first.violation.as_ref()?.invariant.clone();
    let first_report = first.clone();
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
    // Each dimension below tries its candidates in order (smallest first)
    // and keeps the first that still fails the same way.
    let first_failing = |cands: Vec<CampaignOptions>, keep: &[usize]| {
        cands
            .into_iter()
            .find_map(|c| fails(&c, keep).map(|r| (c, r)))
    };
    let clients: Vec<CampaignOptions> = [(0, 0), (1, 5), (1, 20), (2, 20)]
        .into_iter()
        .take_while(|&(c, o)| c < opts.clients || o < opts.ops_per_client)
        .map(|(clients, ops)| CampaignOptions {
            clients,
            ops_per_client: ops,
            ..opts.clone()
        })
        .collect();
    if let Some((o, r)) = first_failing(clients, &keep) {
        (opts, best) = (o, r);
    }
    // Timing: every fault earlier (the cluster still gets a moment to
    // elect its first leader), then every fault duration shorter.
    let first_at = keep.first().map_or(0, |&i| full.actions[i].at_ms);
    let phase = opts.cut_ms.unwrap_or(opts.duration_ms);
    let shifts: Vec<CampaignOptions> = [first_at.saturating_sub(300), first_at / 2, first_at / 4]
        .into_iter()
        .filter(|&shift| shift > 0)
        .map(|shift| CampaignOptions {
            reshape: Reshape {
                shift_ms: shift,
                ..opts.reshape
            },
            cut_ms: Some(phase.saturating_sub(shift).max(1)),
            ..opts.clone()
        })
        .collect();
    if let Some((o, r)) = first_failing(shifts, &keep) {
        (opts, best) = (o, r);
    }
    let delays: Vec<CampaignOptions> = [10, 25, 50]
        .into_iter()
        .map(|pct| CampaignOptions {
            reshape: Reshape {
                delay_pct: pct,
                ..opts.reshape
            },
            ..opts.clone()
        })
        .collect();
    if let Some((o, r)) = first_failing(delays, &keep) {
        (opts, best) = (o, r);
    }
    // Size: fewer voters, where the failure allows.
    let n = sim_config(&opts, seed).nodes;
    let caps: Vec<CampaignOptions> = (1..n)
        .map(|cap| CampaignOptions {
            reshape: Reshape {
                nodes_cap: Some(cap),
                ..opts.reshape
            },
            ..opts.clone()
        })
        .collect();
    if let Some((o, r)) = first_failing(caps, &keep) {
        (opts, best) = (o, r);
    }
    let schedule = subset(&keep);
    let before = ShrinkSize::of(&original, seed, &full, &first_report);
    let after = ShrinkSize::of(&opts, seed, &schedule, &best);
    Some(Shrunk {
        opts,
        keep,
        schedule,
        report: best,
        before,
        after,
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
