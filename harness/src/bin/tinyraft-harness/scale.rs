//! The scale-out and outside-checker commands: `merge` of shard summaries,
//! `check-history`, and the campaign's summary, fingerprint and history
//! files.

use std::process::ExitCode;

use clap::Args;
use tinyraft_harness::campaign::{CampaignOptions, SeedReport, run_seed};
use tinyraft_harness::history;
use tinyraft_harness::lin_minimize::smallest_illegal;
use tinyraft_harness::linearizability::{self, LinResult};
use tinyraft_harness::summary::{self, Summary};

#[derive(Args)]
pub struct MergeArgs {
    /// The shards' `campaign --json` files.
    #[arg(required = true)]
    files: Vec<String>,
    /// Write the merged summary here (JSON).
    #[arg(long)]
    json: Option<String>,
}

#[derive(Args)]
pub struct CheckHistoryArgs {
    /// A JSON-lines history (the format `replay --history` writes; see the
    /// `history` module docs).
    file: String,
    /// Search budget, in steps per key.
    #[arg(long, default_value_t = linearizability::DEFAULT_BUDGET_STEPS)]
    budget: u64,
}

/// The campaign's exit status: 1 if a seed failed, 3 if none failed but
/// some linearizability verdict was Unknown, else 0.
///
/// A campaign fails on violations only: a seed whose linearizability search
/// ran out of budget (Unknown) is listed with its replay command, but an
/// inconclusive check is not a bug found, so the main job stays green
/// (`replay` and `check-history` of that one history exit 3).
pub fn exit_code(s: &Summary) -> ExitCode {
    if s.counters.violations > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the table and the findings.
pub fn print_summary(s: &Summary) {
    out!("{}", s.table().trim_end_matches('\n'));
    let f = s.findings();
    if !f.is_empty() {
        out!("{}", f.trim_end_matches('\n'));
    }
}

/// The trace-hash fingerprint of this build with `opts`: the trace hashes
/// of the campaign's first two seeds, which every shard computes alike.
pub fn fingerprint(opts: &CampaignOptions, start_seed: u64) -> u64 {
    let probe = CampaignOptions {
        keep_histories: false,
        ..opts.clone()
    };
    let hashes: Vec<u64> = (start_seed..start_seed + 2)
        .map(|s| run_seed(&probe, s).trace_hash)
        .collect();
    summary::fingerprint(&hashes)
}

/// Writes the kept histories as `seed-S.jsonl` and `seed-S.edn` in `dir`.
pub fn write_histories(dir: &str, reports: &[SeedReport]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut n = 0;
    for r in reports {
        let Some(h) = &r.history else { continue };
        let base = std::path::Path::new(dir).join(format!("seed-{}", r.seed));
        let jsonl = base.with_extension("jsonl");
        std::fs::write(&jsonl, history::to_jsonl(h))
            .map_err(|e| format!("{}: {e}", jsonl.display()))?;
        let edn = base.with_extension("edn");
        std::fs::write(&edn, history::to_edn(h)).map_err(|e| format!("{}: {e}", edn.display()))?;
        n += 1;
    }
    out!(
        "histories: {n} seeds (failing or Unknown) written to {dir} as seed-S.jsonl and seed-S.edn"
    );
    Ok(())
}

pub fn merge_cmd(a: MergeArgs) -> Result<ExitCode, String> {
    let mut parts = Vec::new();
    for f in &a.files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        parts.push(Summary::from_json(&text).map_err(|e| format!("{f}: {e}"))?);
    }
    let merged = match summary::merge(&parts) {
        Ok(m) => m,
        Err(problems) => {
            eprintln!("merge: the summaries do not make one campaign:");
            for p in problems.lines() {
                eprintln!("  {p}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    out!(
        "merged: {} summaries, shards [{}], {} seeds, options {}",
        parts.len(),
        merged.shards.join(","),
        merged.counters.seeds,
        merged.options.flags
    );
    if let Some(p) = &a.json {
        std::fs::write(p, merged.to_json()).map_err(|e| format!("{p}: {e}"))?;
    }
    print_summary(&merged);
    Ok(exit_code(&merged))
}

pub fn check_history_cmd(a: CheckHistoryArgs) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(&a.file).map_err(|e| format!("{}: {e}", a.file))?;
    let ops = history::from_jsonl(&text).map_err(|e| format!("{}: {e}", a.file))?;
    let mut keys: Vec<&str> = ops.iter().map(|o| o.op.key()).collect();
    keys.sort_unstable();
    keys.dedup();
    let unknown = ops.iter().filter(|o| o.return_ms.is_none()).count();
    match linearizability::check(&ops, a.budget.max(1)) {
        LinResult::Ok => {
            out!(
                "Ok: {} operations on {} keys ({unknown} with unknown outcome) are linearizable",
                ops.len(),
                keys.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        LinResult::Unknown => {
            out!(
                "Unknown: the search budget of {} steps per key ran out before a verdict (--budget raises it)",
                a.budget
            );
            Ok(ExitCode::from(3))
        }
        LinResult::Illegal { key, explanation } => {
            out!("Illegal: not linearizable on key {key:?}: {explanation}");
            let on_key = ops.iter().filter(|o| o.op.key() == key).count();
            let small = smallest_illegal(&ops, &key, a.budget.max(1));
            out!(
                "smallest illegal history of key {key:?} ({} of its {on_key} operations):",
                small.len()
            );
            out!("{}", history::to_jsonl(&small).trim_end_matches('\n'));
            Ok(ExitCode::from(1))
        }
    }
}
