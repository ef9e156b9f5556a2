//! `tinyraft-harness`: seeded simulation campaigns over tinyraft clusters,
//! single-seed replay with a trace and an HTML timeline, and shrinking of
//! failing runs.
//!
//! ```text
//! tinyraft-harness campaign [--seeds N] [--start-seed S] [--nodes K] [--faults LIST] [--jobs J] [--duration-ms T]
//!                           [--shard K/N] [--json FILE] [--for 10m] [--histories DIR] [--keep-going]
//! tinyraft-harness merge FILE...
//! tinyraft-harness replay --seed S [--trace out.jsonl] [--html out.html] [--history h.jsonl] [--edn h.edn]
//! tinyraft-harness check-history FILE [--budget STEPS]
//! tinyraft-harness shrink --seed S
//! tinyraft-harness bench
//! tinyraft-harness teeth [--seeds N] [--only NAME,..] [--scratch DIR] [--target-dir DIR]
//! ```
//!
//! Exit status: 0 clean; 1 a violation (or a disagreement `merge` found);
//! 2 bad input; 3 a linearizability verdict of Unknown and nothing worse;
//! 141 standard output closed (`| head`).

#[macro_use]
mod output;
mod scale;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tinyraft_harness::campaign::{
    self, CampaignOptions, SeedReport, run_campaign_from, run_schedule, schedule_subset,
};
use tinyraft_harness::faults::parse_kinds;

/// The default campaign: about a minute on 2 cores in `--release`.
const DEFAULT_SEEDS: u64 = 10_000;

#[derive(Parser)]
#[command(
    name = "tinyraft-harness",
    version,
    about = "Deterministic simulation campaigns for tinyraft"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run many seeds in parallel and print a summary (the default).
    Campaign(CampaignArgs),
    /// Re-run one seed, check its trace hash, write its trace and timeline.
    Replay(ReplayArgs),
    /// Reduce a failing seed's schedule and workload.
    Shrink(ShrinkArgs),
    /// Print simulated events per wall second.
    Bench(BenchArgs),
    /// Run the planted-bug catalogue (harness/teeth/*.patch): apply each
    /// patch to a scratch copy of the workspace, build it, run the default
    /// campaign until the first violation, print a table.
    Teeth(TeethArgs),
    /// Merge the `--json` summaries of a campaign's shards: check they
    /// agree and cover the campaign, print the single-machine table.
    Merge(scale::MergeArgs),
    /// Check a JSON-lines client history with the built-in checker: Ok,
    /// Illegal (with the smallest illegal history of the key) or Unknown.
    CheckHistory(scale::CheckHistoryArgs),
}

/// The harness-level bug switches of `--inject-bug` (embedder behaviour, not
/// core code), one per line for `--inject-bug list`.
const INJECT_BUGS: &[(&str, &str)] = &[
    (
        "ack-before-sync",
        "send votes and append acks (persisted_messages) before the disk sync",
    ),
    (
        "fsync-ignores-snapshot",
        "do not fsync a Ready that carries only a snapshot",
    ),
];

#[derive(Args, Clone)]
struct RunArgs {
    /// Voters per cluster.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Fault kinds: comma-separated from partition, crash, total-crash,
    /// network, disk, transfer, membership, snapshot; or all / none.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Simulated ms of the fault phase per seed.
    #[arg(long, default_value_t = 20_000)]
    duration_ms: u64,
    /// Concurrent clients per seed.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Operations per client.
    #[arg(long, default_value_t = 60)]
    ops: u64,
    /// End the fault phase at this simulated ms instead (the schedule is
    /// still drawn over --duration-ms); `shrink` sets it.
    #[arg(long)]
    cut_ms: Option<u64>,
    /// Inject a known engine bug to see the checkers (and shrink) at work:
    /// `ack-before-sync` sends votes and append acks before the disk sync;
    /// `fsync-ignores-snapshot` does not fsync a Ready that carries only a
    /// snapshot (so a crash loses a snapshot already acknowledged).
    /// `list` prints the switches, one per line.
    #[arg(long)]
    inject_bug: Option<String>,
    /// Every seed runs the fixed node configuration and fault mix instead of
    /// drawing its own (swarm testing).
    #[arg(long)]
    no_swarm: bool,
    /// Move every fault this many ms earlier (set by `shrink`).
    #[arg(long, default_value_t = 0)]
    shift_ms: u64,
    /// Scale every fault duration to this per cent (set by `shrink`).
    #[arg(long, default_value_t = 100)]
    delay_pct: u64,
    /// Run with at most this many voters (set by `shrink`).
    #[arg(long)]
    nodes_cap: Option<usize>,
    /// Run past safety violations to the end of the seed (liveness and
    /// linearizability are still checked), reporting every invariant
    /// violated.
    #[arg(long)]
    keep_going: bool,
    /// Linearizability search budget, in steps per key; a seed whose search
    /// runs out is reported as Unknown.
    #[arg(long, default_value_t = tinyraft_harness::linearizability::DEFAULT_BUDGET_STEPS)]
    lin_budget: u64,
    /// Clients give up on an operation this many simulated ms after calling
    /// it (its outcome is unknown); 0: never.
    #[arg(long, default_value_t = campaign::CLIENT_DEADLINE_MS)]
    client_deadline_ms: u64,
}

impl RunArgs {
    fn options(&self) -> Result<CampaignOptions, String> {
        Ok(CampaignOptions {
            nodes: self.nodes.max(1),
            faults: parse_kinds(&self.faults)?,
            duration_ms: self.duration_ms,
            cut_ms: self.cut_ms,
            clients: self.clients,
            ops_per_client: self.ops,
            bug_ack_before_sync: self.bug("ack-before-sync")?,
            bug_fsync_ignores_snapshot: self.bug("fsync-ignores-snapshot")?,
            swarm: !self.no_swarm,
            reshape: tinyraft_harness::reshape::Reshape {
                shift_ms: self.shift_ms,
                delay_pct: self.delay_pct,
                nodes_cap: self.nodes_cap,
            },
            keep_going: self.keep_going,
            lin_budget: self.lin_budget.max(1),
            client_deadline_ms: (self.client_deadline_ms > 0).then_some(self.client_deadline_ms),
            ..CampaignOptions::default()
        })
    }

    /// Whether `--inject-bug` names `name` (an unknown name is an error).
    fn bug(&self, name: &str) -> Result<bool, String> {
        let known: Vec<&str> = INJECT_BUGS.iter().map(|b| b.0).collect();
        match self.inject_bug.as_deref() {
            None => Ok(false),
            Some(b) if known.contains(&b) => Ok(b == name),
            Some(b) => Err(format!(
                "unknown bug {b:?}; known: {} (or `list`)",
                known.join(", ")
            )),
        }
    }

    fn flags(&self) -> String {
        let bug = self
            .inject_bug
            .as_ref()
            .map(|b| format!(" --inject-bug {b}"))
            .unwrap_or_default();
        let cut = self
            .cut_ms
            .map(|m| format!(" --cut-ms {m}"))
            .unwrap_or_default();
        let mut swarm = if self.no_swarm { " --no-swarm" } else { "" }.to_string();
        if self.shift_ms > 0 {
            swarm.push_str(&format!(" --shift-ms {}", self.shift_ms));
        }
        if self.delay_pct != 100 {
            swarm.push_str(&format!(" --delay-pct {}", self.delay_pct));
        }
        if let Some(c) = self.nodes_cap {
            swarm.push_str(&format!(" --nodes-cap {c}"));
        }
        if self.keep_going {
            swarm.push_str(" --keep-going");
        }
        if self.lin_budget != tinyraft_harness::linearizability::DEFAULT_BUDGET_STEPS {
            swarm.push_str(&format!(" --lin-budget {}", self.lin_budget));
        }
        if self.client_deadline_ms != campaign::CLIENT_DEADLINE_MS {
            swarm.push_str(&format!(
                " --client-deadline-ms {}",
                self.client_deadline_ms
            ));
        }
        format!(
            "--nodes {} --faults {} --duration-ms {}{cut} --clients {} --ops {}{bug}{swarm}",
            self.nodes, self.faults, self.duration_ms, self.clients, self.ops
        )
    }
}

#[derive(Args)]
struct CampaignArgs {
    /// Number of seeds.
    #[arg(long, default_value_t = DEFAULT_SEEDS)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    start_seed: u64,
    /// Worker threads (default: available cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Start no seed after the first violation; print
    /// `first violation: seed S invariant I` (the smallest failing seed).
    #[arg(long)]
    stop_on_first: bool,
    /// Run only shard K of N (1-based): the seeds whose position in
    /// [start, start+seeds) is K-1 mod N. N machines with K = 1..N run
    /// exactly the campaign one machine would; `merge` their `--json`.
    #[arg(long)]
    shard: Option<String>,
    /// Write a mergeable summary here (JSON; see `merge`).
    #[arg(long)]
    json: Option<String>,
    /// Keep drawing seeds (from --start-seed, in order) until this much
    /// wall time is spent (`90s`, `10m`, `1h`); --seeds is then ignored.
    /// The seeds run are listed in the summary.
    #[arg(long = "for")]
    budget: Option<String>,
    /// Write the client history of every failing seed and every seed with
    /// an Unknown verdict here, as seed-S.jsonl and seed-S.edn.
    #[arg(long)]
    histories: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct TeethArgs {
    /// Seeds per patch (the campaign stops at the first violation).
    #[arg(long, default_value_t = DEFAULT_SEEDS)]
    seeds: u64,
    /// Only these patches (comma-separated names, without `.patch`).
    #[arg(long)]
    only: Option<String>,
    /// The workspace to copy (default: the one this binary was built from).
    #[arg(long)]
    workspace: Option<String>,
    /// The catalogue (default: <workspace>/harness/teeth).
    #[arg(long)]
    catalogue: Option<String>,
    /// The scratch copy (default: <tmp>/tinyraft-teeth/ws); never the checkout.
    #[arg(long)]
    scratch: Option<String>,
    /// The target directory every patch builds in (default:
    /// <tmp>/tinyraft-teeth/target), reused so builds stay incremental.
    #[arg(long)]
    target_dir: Option<String>,
    /// Campaign worker threads (default: available cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args)]
struct ReplayArgs {
    /// The seed.
    #[arg(long)]
    seed: u64,
    /// Write the event trace as JSON lines here.
    #[arg(long)]
    trace: Option<String>,
    /// Write a self-contained HTML timeline here.
    #[arg(long)]
    html: Option<String>,
    /// Keep only these actions of the seed's schedule (from `shrink`):
    /// comma-separated positions, or `none`.
    #[arg(long)]
    keep: Option<String>,
    /// Write the client history as JSON lines here (see `check-history`).
    #[arg(long)]
    history: Option<String>,
    /// Write the client history as Jepsen EDN here (Knossos, Elle).
    #[arg(long)]
    edn: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct ShrinkArgs {
    /// The failing seed.
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// Seeds to run.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    #[command(flatten)]
    run: RunArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        None => campaign_cmd(CampaignArgs {
            seeds: DEFAULT_SEEDS,
            start_seed: 1,
            jobs: None,
            stop_on_first: false,
            shard: None,
            json: None,
            budget: None,
            histories: None,
            run: RunArgs::parse_default(),
        }),
        Some(Cmd::Campaign(a)) => campaign_cmd(a),
        Some(Cmd::Replay(a)) => replay_cmd(a),
        Some(Cmd::Shrink(a)) => shrink_cmd(a),
        Some(Cmd::Bench(a)) => bench_cmd(a),
        Some(Cmd::Teeth(a)) => teeth_cmd(a),
        Some(Cmd::Merge(a)) => scale::merge_cmd(a),
        Some(Cmd::CheckHistory(a)) => scale::check_history_cmd(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

impl RunArgs {
    fn parse_default() -> RunArgs {
        RunArgs {
            nodes: 5,
            faults: "all".into(),
            duration_ms: 20_000,
            cut_ms: None,
            clients: 4,
            ops: 60,
            inject_bug: None,
            no_swarm: false,
            shift_ms: 0,
            delay_pct: 100,
            nodes_cap: None,
            keep_going: false,
            lin_budget: tinyraft_harness::linearizability::DEFAULT_BUDGET_STEPS,
            client_deadline_ms: campaign::CLIENT_DEADLINE_MS,
        }
    }
}

fn campaign_cmd(a: CampaignArgs) -> Result<ExitCode, String> {
    if a.run.inject_bug.as_deref() == Some("list") {
        for (name, _) in INJECT_BUGS {
            out!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut opts = a.run.options()?;
    opts.keep_histories = a.histories.is_some();
    let jobs = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let shard: tinyraft_harness::shard::Shard = match &a.shard {
        Some(s) => s.parse()?,
        None => tinyraft_harness::shard::Shard::WHOLE,
    };
    let budget = a
        .budget
        .as_deref()
        .map(tinyraft_harness::shard::parse_duration)
        .transpose()?;
    let seeds: Vec<u64> = shard.seeds(a.start_seed, a.seeds);
    let kinds: Vec<String> = opts.faults.iter().map(|k| k.to_string()).collect();
    let what = match (&a.budget, &a.shard) {
        (Some(b), Some(sh)) => format!("seeds from {} for {b}, shard {sh}", a.start_seed),
        (Some(b), None) => format!("seeds from {} for {b}", a.start_seed),
        (None, Some(sh)) => format!(
            "{} seeds of {} from {}, shard {sh}",
            seeds.len(),
            a.seeds,
            a.start_seed
        ),
        (None, None) => format!("{} seeds from {}", seeds.len(), a.start_seed),
    };
    out!(
        "campaign: {what}, {} nodes, faults [{}], {} ms fault phase, {} jobs",
        opts.nodes,
        kinds.join(","),
        opts.duration_ms,
        jobs
    );
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let b = match budget {
            Some(_) => ProgressBar::new_spinner(),
            None => ProgressBar::new(seeds.len() as u64),
        };
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {elapsed} {msg}")
        {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };
    // Unknown ahead of time under a budget.
    let total = budget.is_none().then_some(seeds.len());
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let progress = |r: &SeedReport| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        match &bar {
            Some(b) => {
                b.inc(1);
                if let Some(v) = &r.violation {
                    b.println(format!("seed {} FAILED: {}", r.seed, v.invariant));
                }
            }
            None => {
                if r.violation.is_some() || n % 25 == 0 || Some(n) == total {
                    let status = r
                        .violation
                        .as_ref()
                        .map(|v| v.invariant.as_str())
                        .unwrap_or("ok");
                    let of = total.map_or_else(|| "?".to_string(), |t| t.to_string());
                    out!("[{n}/{of}] seed {} {status}", r.seed);
                }
            }
        }
    };
    let reports = match budget {
        Some(d) => {
            let (start, sh) = (a.start_seed, shard);
            let next = move |j: u64| Some(sh.nth_seed(start, j));
            run_campaign_from(
                &opts,
                &next,
                jobs,
                &progress,
                a.stop_on_first,
                Some(started + d),
            )
        }
        None => {
            let next = |i: u64| seeds.get(i as usize).copied();
            run_campaign_from(&opts, &next, jobs, &progress, a.stop_on_first, None)
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall = started.elapsed().as_secs_f64();
    let flags = a.run.flags();
    let replay = |seed: u64| {
        format!(
            "cargo run --release -p tinyraft-harness -- replay --seed {seed} {flags} --trace seed{seed}.jsonl --html seed{seed}.html --history seed{seed}.history.jsonl"
        )
    };
    let fingerprint = if a.json.is_some() {
        scale::fingerprint(&opts, a.start_seed)
    } else {
        0
    };
    let summary = tinyraft_harness::summary::Summary::from_reports(
        &reports,
        tinyraft_harness::summary::SummaryInput {
            options: tinyraft_harness::summary::RunOptions {
                start_seed: a.start_seed,
                seeds: budget.is_none().then_some(a.seeds),
                budget: a.budget.clone(),
                flags: flags.clone(),
            },
            shard,
            fingerprint,
            lin_budget: opts.lin_budget,
            wall_s: wall,
            replay: &replay,
        },
    );
    if let Some(p) = &a.json {
        std::fs::write(p, summary.to_json()).map_err(|e| format!("{p}: {e}"))?;
    }
    if let Some(dir) = &a.histories {
        scale::write_histories(dir, &reports)?;
    }
    scale::print_summary(&summary);
    if budget.is_some() {
        let ran = reports.len() as u64;
        let sh = if a.shard.is_some() {
            format!(" --shard {shard}")
        } else {
            String::new()
        };
        out!(
            "to run exactly these seeds again: campaign --start-seed {} --seeds {}{sh} {flags}",
            a.start_seed,
            ran * shard.n
        );
    }
    Ok(scale::exit_code(&summary))
}

fn replay_cmd(a: ReplayArgs) -> Result<ExitCode, String> {
    let mut opts = a.run.options()?;
    opts.keep_trace = true;
    let keep: Option<Vec<usize>> = match a.keep.as_deref() {
        None => None,
        Some("none") | Some("") => Some(Vec::new()),
        Some(list) => Some(
            list.split(',')
                .map(|p| {
                    p.trim()
                        .parse::<usize>()
                        .map_err(|e| format!("--keep {p:?}: {e}"))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let schedule = schedule_subset(&opts, a.seed, keep.as_deref());
    let (r1, c1) = run_schedule(&opts, a.seed, &schedule);
    let (r2, _) = run_schedule(&opts, a.seed, &schedule);
    out!(
        "seed {}: {} events, {:.1} s simulated, {} elections, {} commits, {} client ops",
        a.seed,
        r1.events,
        r1.sim_ms as f64 / 1000.0,
        r1.elections,
        r1.commits,
        r1.client_ops
    );
    let same = r1.trace_hash == r2.trace_hash;
    out!(
        "trace hash {:#018x}; second run {:#018x}: {}",
        r1.trace_hash,
        r2.trace_hash,
        if same {
            "identical"
        } else {
            "DIFFERENT (nondeterminism!)"
        }
    );
    if let Some(p) = &a.trace {
        let f = std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?;
        c1.trace()
            .write_jsonl(std::io::BufWriter::new(f))
            .map_err(|e| output::write_error(p, e))?;
        out!("trace: {p} ({} events)", c1.trace().len());
    }
    if let Some(p) = &a.html {
        let title = format!("tinyraft seed {}", a.seed);
        let html = campaign::render_timeline(c1.trace(), &title);
        std::fs::write(p, html).map_err(|e| format!("{p}: {e}"))?;
        out!("timeline: {p}");
    }
    let history = c1.client_history();
    let unknown_ops = history.iter().filter(|o| o.return_ms.is_none()).count();
    if let Some(p) = &a.history {
        std::fs::write(p, tinyraft_harness::history::to_jsonl(history))
            .map_err(|e| format!("{p}: {e}"))?;
        out!(
            "history: {p} ({} operations, {unknown_ops} with unknown outcome)",
            history.len()
        );
    }
    if let Some(p) = &a.edn {
        std::fs::write(p, tinyraft_harness::history::to_edn(history))
            .map_err(|e| format!("{p}: {e}"))?;
        out!("history (EDN): {p}");
    }
    for v in r1.violation.iter().chain(r1.later_violations.iter()) {
        out!("{v}");
    }
    if r1.lin_unknown {
        out!(
            "linearizability: UNKNOWN (search budget of {} steps per key exhausted; --lin-budget raises it)",
            opts.lin_budget
        );
    }
    match &r1.violation {
        Some(_) => Ok(ExitCode::from(1)),
        None if !same => Ok(ExitCode::from(1)),
        None if r1.lin_unknown => Ok(ExitCode::from(3)),
        None => {
            out!("no violation");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn shrink_cmd(a: ShrinkArgs) -> Result<ExitCode, String> {
    let opts = a.run.options()?;
    let full = schedule_subset(&opts, a.seed, None);
    out!(
        "seed {}: schedule of {} actions; shrinking...",
        a.seed,
        full.actions.len()
    );
    let Some(s) = campaign::shrink(&opts, a.seed) else {
        out!("seed {} does not fail: nothing to shrink", a.seed);
        return Ok(ExitCode::SUCCESS);
    };
    out!(
        "reduced to {} actions, {} clients x {} ops, fault phase {} ms:",
        s.keep.len(),
        s.opts.clients,
        s.opts.ops_per_client,
        s.opts.cut_ms.unwrap_or(s.opts.duration_ms)
    );
    for tf in &s.schedule.actions {
        out!("  @{:>6} ms  {}", tf.at_ms, tf.action);
    }
    if let Some(v) = &s.report.violation {
        out!("still fails: `{}`: {}", v.invariant, v.detail);
    }
    let keep: Vec<String> = s.keep.iter().map(|i| i.to_string()).collect();
    out!("before: {}", s.before);
    out!("after:  {}", s.after);
    let flags = RunArgs {
        clients: s.opts.clients,
        ops: s.opts.ops_per_client,
        cut_ms: s.opts.cut_ms,
        shift_ms: s.opts.reshape.shift_ms,
        delay_pct: s.opts.reshape.delay_pct,
        nodes_cap: s.opts.reshape.nodes_cap,
        ..a.run.clone()
    }
    .flags();
    out!(
        "replay: cargo run --release -p tinyraft-harness -- replay --seed {} {} --keep {} --html shrunk.html",
        a.seed,
        flags,
        if keep.is_empty() {
            "none".to_string()
        } else {
            keep.join(",")
        }
    );
    Ok(ExitCode::from(1))
}

fn bench_cmd(a: BenchArgs) -> Result<ExitCode, String> {
    let opts = a.run.options()?;
    let started = Instant::now();
    let mut events = 0;
    for seed in 1..=a.seeds {
        events += campaign::run_seed(&opts, seed).events;
    }
    let wall = started.elapsed().as_secs_f64();
    out!(
        "{} seeds, {} events in {:.2} s: {:.0} simulated events per wall second (one thread)",
        a.seeds,
        events,
        wall,
        events as f64 / wall.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

fn teeth_cmd(a: TeethArgs) -> Result<ExitCode, String> {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use tinyraft_harness::teeth;

    let ws = PathBuf::from(
        a.workspace
            .clone()
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_string()),
    );
    let ws = ws
        .canonicalize()
        .map_err(|e| format!("{}: {e}", ws.display()))?;
    let cat_dir = a
        .catalogue
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.join("harness/teeth"));
    let base = std::env::temp_dir().join("tinyraft-teeth");
    let scratch = a
        .scratch
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| base.join("ws"));
    let target = a
        .target_dir
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| base.join("target"));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let scratch = scratch
        .canonicalize()
        .map_err(|e| format!("{}: {e}", scratch.display()))?;
    if scratch.starts_with(&ws) || ws.starts_with(&scratch) {
        return Err(format!(
            "scratch {} overlaps the workspace {}: patches never touch the checkout",
            scratch.display(),
            ws.display()
        ));
    }
    let mut catalogue = teeth::catalogue(&cat_dir)?;
    if let Some(only) = &a.only {
        let names: Vec<&str> = only.split(',').map(str::trim).collect();
        for n in &names {
            if !catalogue.iter().any(|(c, _)| c == n) {
                return Err(format!("no patch named {n:?} in {}", cat_dir.display()));
            }
        }
        catalogue.retain(|(n, _)| names.contains(&n.as_str()));
    }
    let ls = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(&ws)
        .output()
        .map_err(|e| format!("git ls-files: {e}"))?;
    if !ls.status.success() {
        return Err(format!(
            "git ls-files in {} failed: {}",
            ws.display(),
            String::from_utf8_lossy(&ls.stderr)
        ));
    }
    let files: Vec<PathBuf> = String::from_utf8_lossy(&ls.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|p| ws.join(p).is_file())
        .collect();
    out!(
        "teeth: {} patches from {}, scratch {}, target {}, up to {} seeds each",
        catalogue.len(),
        cat_dir.display(),
        scratch.display(),
        target.display(),
        a.seeds
    );
    /// A patch's outcome: the first failing seed and invariant, none, or
    /// why it could not run.
    type Outcome = Result<Option<(u64, String)>, String>;
    struct Row {
        name: String,
        bug: String,
        outcome: Outcome,
        build_s: f64,
        run_s: f64,
    }
    let mut rows: Vec<Row> = Vec::new();
    let run_one = |name: &str, patch: &teeth::Patch| -> (Outcome, f64, f64) {
        if let Err(e) = teeth::sync_tree(&ws, &files, &scratch) {
            return (Err(format!("copy: {e}")), 0.0, 0.0);
        }
        if let Err(e) = patch.apply(&scratch) {
            return (Err(format!("PATCH DOES NOT APPLY: {e}")), 0.0, 0.0);
        }
        let t0 = Instant::now();
        let build = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "-p",
                "tinyraft-harness",
                "--bin",
                "tinyraft-harness",
            ])
            .current_dir(&scratch)
            .env("CARGO_TARGET_DIR", &target)
            .output();
        let build_s = t0.elapsed().as_secs_f64();
        match build {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let first: Vec<&str> = err
                    .lines()
                    .filter(|l| l.starts_with("error"))
                    .take(3)
                    .collect();
                return (
                    Err(format!("BUILD FAILED: {}", first.join(" | "))),
                    build_s,
                    0.0,
                );
            }
            Err(e) => return (Err(format!("cargo: {e}")), build_s, 0.0),
        }
        let bin = target.join("release/tinyraft-harness");
        let mut cmd = Command::new(&bin);
        cmd.args([
            "campaign",
            "--seeds",
            &a.seeds.to_string(),
            "--stop-on-first",
        ]);
        if let Some(j) = a.jobs {
            cmd.args(["--jobs", &j.to_string()]);
        }
        let t1 = Instant::now();
        let out = cmd.output();
        let run_s = t1.elapsed().as_secs_f64();
        let _ = name;
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                match teeth::parse_first_violation(&text) {
                    Some(v) => (Ok(Some(v)), build_s, run_s),
                    // 3: no violation, only Unknown linearizability verdicts.
                    None if o.status.success() || o.status.code() == Some(3) => {
                        (Ok(None), build_s, run_s)
                    }
                    None => (
                        Err(format!(
                            "campaign exited {:?} without a violation line: {}",
                            o.status.code(),
                            String::from_utf8_lossy(&o.stderr)
                                .lines()
                                .last()
                                .unwrap_or("")
                        )),
                        build_s,
                        run_s,
                    ),
                }
            }
            Err(e) => (Err(format!("{}: {e}", bin.display())), build_s, run_s),
        }
    };
    for (name, patch) in &catalogue {
        let (outcome, build_s, run_s) = run_one(name, patch);
        match &outcome {
            Ok(Some((seed, inv))) => out!(
                "{name}: caught at seed {seed} by `{inv}` (build {build_s:.0} s, campaign {run_s:.1} s)"
            ),
            Ok(None) => out!("{name}: NOT CAUGHT in {} seeds ({run_s:.1} s)", a.seeds),
            Err(e) => eprintln!("ERROR {name}: {e}"),
        }
        rows.push(Row {
            name: name.clone(),
            bug: patch.bug.clone(),
            outcome,
            build_s,
            run_s,
        });
    }
    // Leave the scratch copy clean (unpatched) for the next run.
    let _ = teeth::sync_tree(&ws, &files, &scratch);
    let _ = Path::new(&scratch);
    out!();
    out!("| patch | bug | seeds until first caught | campaign wall time | invariant that fired |");
    out!("|---|---|---|---|---|");
    let mut bad = 0;
    for r in &rows {
        let (seeds, inv) = match &r.outcome {
            Ok(Some((s, i))) => (s.to_string(), format!("`{i}`")),
            Ok(None) => {
                bad += 1;
                (format!("not caught in {}", a.seeds), "-".to_string())
            }
            Err(e) => {
                bad += 1;
                ("ERROR".to_string(), e.clone())
            }
        };
        out!(
            "| {} | {} | {} | {:.1} s | {} |",
            r.name,
            r.bug,
            seeds,
            r.run_s,
            inv
        );
        let _ = r.build_s;
    }
    if bad > 0 {
        out!("\n{bad} of {} patches not caught or failing", rows.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
