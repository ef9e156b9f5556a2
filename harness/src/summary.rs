//! A campaign's summary as mergeable data: `campaign --json FILE` writes
//! one, `merge FILE...` combines the shards' and prints the table a single
//! machine would have printed.
//!
//! Everything is kept in a form whose union is exact: counters are sums,
//! commit latencies are a histogram with 1 ms buckets (so the p50/p99 of
//! the union are those of one run over all the seeds), swarm draws and
//! embedder profiles are counts. The options, the binary's version and a
//! trace-hash fingerprint (the trace hashes of the campaign's first seeds,
//! run by every shard) must agree, and the seed sets must be disjoint and,
//! for a fixed seed count, cover the campaign.
//!
//! JSON shape (format 1):
//!
//! ```text
//! { "format": 1, "version": "0.1.0", "fingerprint": "0x…",
//!   "options": { "start_seed": 1, "seeds": 3000, "budget": null, "flags": "--nodes 5 …" },
//!   "shards": ["1/3"], "seeds": [1, 4, 7, …],
//!   "counters": { "seeds": 1000, "sim_ms": …, "events": …, "elections": …, "commits": …,
//!                 "client_ops": …, "client_ops_unknown": …, "fault_actions": …,
//!                 "conf_simple": …, "conf_enter_joint": …, "conf_leave_joint": …,
//!                 "conf_leave_in_later_term": …,
//!                 "messages": …, "lin_unknown": …, "violations": … },
//!   "commit_latency_ms": [[ms, count], …],
//!   "failures": [{ "seed": …, "invariant": "…", "detail": "…", "also": […], "replay": "…" }],
//!   "unknown": [{ "seed": …, "replay": "…" }],
//!   "swarm": { "knob": { "value": count } }, "profiles": { "label": count },
//!   "lin_budget": 5000000, "wall_s": 12.3 }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::campaign::SeedReport;
use crate::shard::{Shard, describe_seeds};

/// The summary format this build writes and reads.
pub const FORMAT: u32 = 1;

/// What must agree between the shards of one campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// First seed of the campaign.
    pub start_seed: u64,
    /// Seeds in the campaign; `None` for a time-budgeted run (`--for`).
    pub seeds: Option<u64>,
    /// The `--for` budget as given, if any.
    pub budget: Option<String>,
    /// Every other option, as the command-line flags a replay takes.
    pub flags: String,
}

/// Summed counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Seeds run.
    pub seeds: u64,
    /// Simulated ms.
    pub sim_ms: u64,
    /// Events processed.
    pub events: u64,
    /// Elections won.
    pub elections: u64,
    /// Entries committed.
    pub commits: u64,
    /// Client operations completed.
    pub client_ops: u64,
    /// Client operations given up on (outcome unknown).
    pub client_ops_unknown: u64,
    /// Fault actions scheduled.
    pub fault_actions: u64,
    /// Simple membership changes applied (thesis §4.1).
    pub conf_simple: u64,
    /// Changes that entered a joint configuration (thesis §4.3).
    pub conf_enter_joint: u64,
    /// Changes that left one.
    pub conf_leave_joint: u64,
    /// Leaves proposed in a later term than their enter.
    pub conf_leave_in_later_term: u64,
    /// Messages sent.
    pub messages: u64,
    /// Seeds whose linearizability verdict was Unknown.
    pub lin_unknown: u64,
    /// Seeds with a violation.
    pub violations: u64,
}

/// A failing seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The first invariant violated.
    pub invariant: String,
    /// Its detail.
    pub detail: String,
    /// Further invariants violated (with `--keep-going`).
    pub also: Vec<String>,
    /// The command that replays it.
    pub replay: String,
}

/// A seed whose linearizability search ran out of budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownSeed {
    /// The seed.
    pub seed: u64,
    /// The command that replays it.
    pub replay: String,
}

/// A campaign's (or a shard's) summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`FORMAT`].
    pub format: u32,
    /// The harness version that ran it.
    pub version: String,
    /// Trace-hash fingerprint of the build and options (see the module
    /// docs).
    pub fingerprint: String,
    /// The campaign's options.
    pub options: RunOptions,
    /// The shards this summary covers (`K/N`), ascending.
    pub shards: Vec<String>,
    /// Seeds run, ascending.
    pub seeds: Vec<u64>,
    /// Summed counters.
    pub counters: Counters,
    /// Commit latency histogram: `(ms, count)`, ascending, 1 ms buckets.
    pub commit_latency_ms: Vec<(u64, u64)>,
    /// Failing seeds, ascending.
    pub failures: Vec<Failure>,
    /// Seeds with an Unknown linearizability verdict, ascending.
    pub unknown: Vec<UnknownSeed>,
    /// Swarm draws: knob -> value -> seeds.
    pub swarm: BTreeMap<String, BTreeMap<String, u64>>,
    /// Embedder profile labels -> nodes.
    pub profiles: BTreeMap<String, u64>,
    /// The linearizability step budget per key.
    pub lin_budget: u64,
    /// Wall seconds (summed over shards when merged).
    pub wall_s: f64,
}

/// How to build a [`Summary`] from a run's reports.
pub struct SummaryInput<'a> {
    /// The campaign's options.
    pub options: RunOptions,
    /// The shard that ran.
    pub shard: Shard,
    /// The fingerprint ([`fingerprint`]).
    pub fingerprint: u64,
    /// The linearizability budget.
    pub lin_budget: u64,
    /// Wall seconds.
    pub wall_s: f64,
    /// The replay command of a seed.
    pub replay: &'a dyn Fn(u64) -> String,
}

/// The fingerprint of a build and its options: an FNV-1a hash over the
/// trace hashes of the probe seeds' runs.
pub fn fingerprint(trace_hashes: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in trace_hashes {
        for b in t.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Summary {
    /// Summarizes `reports`.
    pub fn from_reports(reports: &[SeedReport], input: SummaryInput<'_>) -> Summary {
        let mut c = Counters::default();
        let mut lat: BTreeMap<u64, u64> = BTreeMap::new();
        let mut failures = Vec::new();
        let mut unknown = Vec::new();
        let mut profiles: BTreeMap<String, u64> = BTreeMap::new();
        let mut seeds: Vec<u64> = Vec::with_capacity(reports.len());
        for r in reports {
            seeds.push(r.seed);
            c.seeds += 1;
            c.sim_ms += r.sim_ms;
            c.events += r.events;
            c.elections += r.elections;
            c.commits += r.commits;
            c.client_ops += r.client_ops;
            c.client_ops_unknown += r.client_ops_unknown;
            c.fault_actions += r.fault_actions as u64;
            c.conf_simple += r.conf_changes.simple;
            c.conf_enter_joint += r.conf_changes.enter_joint;
            c.conf_leave_joint += r.conf_changes.leave_joint;
            c.conf_leave_in_later_term += r.conf_changes.leave_in_later_term;
            c.messages += r.messages;
            for &l in &r.commit_latency_ms {
                *lat.entry(l).or_default() += 1;
            }
            if r.lin_unknown {
                c.lin_unknown += 1;
                unknown.push(UnknownSeed {
                    seed: r.seed,
                    replay: (input.replay)(r.seed),
                });
            }
            if let Some(v) = &r.violation {
                c.violations += 1;
                failures.push(Failure {
                    seed: r.seed,
                    invariant: v.invariant.clone(),
                    detail: v.detail.clone(),
                    also: r
                        .later_violations
                        .iter()
                        .map(|v| v.invariant.clone())
                        .collect(),
                    replay: (input.replay)(r.seed),
                });
            }
            for p in &r.profiles {
                for l in p.labels() {
                    *profiles.entry(l.to_string()).or_default() += 1;
                }
            }
        }
        seeds.sort_unstable();
        failures.sort_by_key(|f| f.seed);
        unknown.sort_by_key(|u| u.seed);
        let draws: Vec<&crate::swarm::Swarm> =
            reports.iter().filter_map(|r| r.swarm.as_ref()).collect();
        let swarm = if draws.is_empty() {
            BTreeMap::new()
        } else {
            crate::swarm::Spread::of(draws).counts()
        };
        Summary {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: format!("{:#018x}", input.fingerprint),
            options: input.options,
            shards: vec![input.shard.to_string()],
            seeds,
            counters: c,
            commit_latency_ms: lat.into_iter().collect(),
            failures,
            unknown,
            swarm,
            profiles,
            lin_budget: input.lin_budget,
            wall_s: input.wall_s,
        }
    }

    /// Reads a summary written by [`Summary::to_json`]; the error names
    /// what is wrong.
    pub fn from_json(text: &str) -> Result<Summary, String> {
        let s: Summary = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if s.format != FORMAT {
            return Err(format!(
                "summary format {} (this build reads {FORMAT})",
                s.format
            ));
        }
        Ok(s)
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        // Strings, integers, floats and maps with string keys always
        // serialize.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Latency percentile `p` (0–100), with the rank rule of
    /// [`crate::campaign::percentile`] over the histogram.
    pub fn latency_percentile(&self, p: f64) -> u64 {
        let n: u64 = self.commit_latency_ms.iter().map(|&(_, c)| c).sum();
        if n == 0 {
            return 0;
        }
        let rank = (((p / 100.0) * (n - 1) as f64).round() as u64).min(n - 1);
        let mut seen = 0;
        for &(ms, c) in &self.commit_latency_ms {
            seen += c;
            if seen > rank {
                return ms;
            }
        }
        self.commit_latency_ms.last().map_or(0, |&(ms, _)| ms)
    }

    /// The summary table (the same for one machine and for merged shards),
    /// starting with a blank line.
    pub fn table(&self) -> String {
        let c = &self.counters;
        let mut out = String::from("\n");
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("{:<28} {:>14}", "seeds", c.seeds));
        line(format!(
            "{:<28} {}",
            "seeds run",
            describe_seeds(&self.seeds)
        ));
        line(format!(
            "{:<28} {:>14.1} s",
            "simulated time",
            c.sim_ms as f64 / 1000.0
        ));
        line(format!("{:<28} {:>14}", "events", c.events));
        line(format!("{:<28} {:>14}", "elections", c.elections));
        line(format!("{:<28} {:>14}", "commits", c.commits));
        line(format!("{:<28} {:>14}", "client ops", c.client_ops));
        line(format!(
            "{:<28} {:>14}",
            "client ops unknown", c.client_ops_unknown
        ));
        line(format!("{:<28} {:>14}", "fault actions", c.fault_actions));
        line(format!(
            "{:<28} {:>14}",
            "conf changes: simple", c.conf_simple
        ));
        line(format!(
            "{:<28} {:>14}",
            "conf changes: joint enter", c.conf_enter_joint
        ));
        line(format!(
            "{:<28} {:>14}",
            "conf changes: joint leave", c.conf_leave_joint
        ));
        line(format!(
            "{:<28} {:>14}",
            "  ...in a later term", c.conf_leave_in_later_term
        ));
        line(format!(
            "{:<28} {:>14} ms",
            "commit latency p50 (sim)",
            self.latency_percentile(50.0)
        ));
        line(format!(
            "{:<28} {:>14} ms",
            "commit latency p99 (sim)",
            self.latency_percentile(99.0)
        ));
        line(format!(
            "{:<28} {:>14.0}",
            "events / wall second",
            c.events as f64 / self.wall_s.max(1e-9)
        ));
        line(format!("{:<28} {:>14.1} s", "wall time", self.wall_s));
        line(format!(
            "{:<28} {:>14}",
            "linearizability unknown", c.lin_unknown
        ));
        line(format!("{:<28} {:>14}", "violations", c.violations));
        if !self.swarm.is_empty() {
            line(String::new());
            line("swarm configurations drawn (value:seeds):".to_string());
            for l in crate::swarm::Spread::lines_of(&self.swarm) {
                line(format!("  {l}"));
            }
        }
        if !self.profiles.is_empty() {
            line(String::new());
            line("embedder profiles (nodes)".to_string());
            for (label, n) in &self.profiles {
                line(format!("  {label:<26} {n:>14}"));
            }
        }
        out
    }

    /// The lines after the table: each Unknown seed, the first violation
    /// (`first violation: seed S invariant I (N seeds run)`, which `teeth`
    /// reads) and each failure with its replay command.
    pub fn findings(&self) -> String {
        let mut out = String::new();
        for u in &self.unknown {
            out.push_str(&format!(
                "\nseed {}: linearizability unknown (search budget of {} steps per key exhausted; --lin-budget raises it)\n  replay: {}\n",
                u.seed, self.lin_budget, u.replay
            ));
        }
        if let Some(f) = self.failures.first() {
            out.push_str(&format!(
                "first violation: seed {} invariant {} ({} seeds run)\n",
                f.seed, f.invariant, self.counters.seeds
            ));
        }
        for f in &self.failures {
            out.push_str(&format!(
                "\nseed {} violated `{}`: {}\n",
                f.seed, f.invariant, f.detail
            ));
            if !f.also.is_empty() {
                out.push_str(&format!("  then also: {}\n", f.also.join(", ")));
            }
            out.push_str(&format!("  replay: {}\n", f.replay));
        }
        out
    }
}

/// Merges shard summaries into the campaign's. Checks that format,
/// version, fingerprint, options and budget agree, that no seed was run
/// twice, and — for a fixed seed count — that the seeds cover
/// `[start, start + seeds)`. Every problem found is listed in the error.
pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
    let Some(first) = parts.first() else {
        return Err("nothing to merge".into());
    };
    let mut problems = Vec::new();
    for (i, p) in parts.iter().enumerate().skip(1) {
        let n = i + 1;
        if p.version != first.version {
            problems.push(format!(
                "summary {n}: version {} differs from {}",
                p.version, first.version
            ));
        }
        if p.fingerprint != first.fingerprint {
            problems.push(format!(
                "summary {n}: trace-hash fingerprint {} differs from {} (a different build or options)",
                p.fingerprint, first.fingerprint
            ));
        }
        if p.options != first.options {
            problems.push(format!(
                "summary {n}: options {:?} differ from {:?}",
                p.options, first.options
            ));
        }
        if p.lin_budget != first.lin_budget {
            problems.push(format!(
                "summary {n}: linearizability budget {} differs from {}",
                p.lin_budget, first.lin_budget
            ));
        }
    }
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut twice: BTreeSet<u64> = BTreeSet::new();
    for p in parts {
        for &s in &p.seeds {
            if !seen.insert(s) {
                twice.insert(s);
            }
        }
    }
    if !twice.is_empty() {
        let t: Vec<u64> = twice.iter().copied().collect();
        problems.push(format!("seeds run more than once: {}", describe_seeds(&t)));
    }
    if let Some(count) = first.options.seeds {
        let start = first.options.start_seed;
        let missing: Vec<u64> = (start..start + count)
            .filter(|s| !seen.contains(s))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "seeds of the campaign not run: {}",
                describe_seeds(&missing)
            ));
        }
        let outside: Vec<u64> = seen
            .iter()
            .copied()
            .filter(|&s| s < start || s >= start + count)
            .collect();
        if !outside.is_empty() {
            problems.push(format!(
                "seeds outside the campaign: {}",
                describe_seeds(&outside)
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let mut m = first.clone();
    m.shards.clear();
    m.seeds.clear();
    m.counters = Counters::default();
    m.failures.clear();
    m.unknown.clear();
    m.swarm.clear();
    m.profiles.clear();
    m.wall_s = 0.0;
    let mut lat: BTreeMap<u64, u64> = BTreeMap::new();
    for p in parts {
        m.shards.extend(p.shards.iter().cloned());
        m.seeds.extend(p.seeds.iter().copied());
        let (a, b) = (&mut m.counters, &p.counters);
        a.seeds += b.seeds;
        a.sim_ms += b.sim_ms;
        a.events += b.events;
        a.elections += b.elections;
        a.commits += b.commits;
        a.client_ops += b.client_ops;
        a.client_ops_unknown += b.client_ops_unknown;
        a.fault_actions += b.fault_actions;
        a.conf_simple += b.conf_simple;
        a.conf_enter_joint += b.conf_enter_joint;
        a.conf_leave_joint += b.conf_leave_joint;
        a.conf_leave_in_later_term += b.conf_leave_in_later_term;
        a.messages += b.messages;
        a.lin_unknown += b.lin_unknown;
        a.violations += b.violations;
        for &(ms, c) in &p.commit_latency_ms {
            *lat.entry(ms).or_default() += c;
        }
        m.failures.extend(p.failures.iter().cloned());
        m.unknown.extend(p.unknown.iter().cloned());
        for (knob, vals) in &p.swarm {
            let row = m.swarm.entry(knob.clone()).or_default();
            for (v, c) in vals {
                *row.entry(v.clone()).or_default() += c;
            }
        }
        for (l, c) in &p.profiles {
            *m.profiles.entry(l.clone()).or_default() += c;
        }
        m.wall_s += p.wall_s;
    }
    m.shards.sort();
    m.shards.dedup();
    m.seeds.sort_unstable();
    m.failures.sort_by_key(|f| f.seed);
    m.unknown.sort_by_key(|u| u.seed);
    m.commit_latency_ms = lat.into_iter().collect();
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::percentile;

    fn summary(seeds: Vec<u64>, lat: Vec<(u64, u64)>) -> Summary {
        Summary {
            format: FORMAT,
            version: "v".into(),
            fingerprint: "0x1".into(),
            options: RunOptions {
                start_seed: 1,
                seeds: Some(4),
                budget: None,
                flags: "--nodes 5".into(),
            },
            shards: vec!["1/1".into()],
            counters: Counters {
                seeds: seeds.len() as u64,
                ..Counters::default()
            },
            seeds,
            commit_latency_ms: lat,
            failures: vec![],
            unknown: vec![],
            swarm: BTreeMap::new(),
            profiles: BTreeMap::new(),
            lin_budget: 10,
            wall_s: 1.0,
        }
    }

    /// The histogram percentile equals the exact percentile of the samples
    /// (so the p50/p99 of merged shards are those of one run).
    #[test]
    fn histogram_percentiles_match_the_samples() {
        let samples = vec![5, 1, 9, 9, 3, 20, 7, 7, 7, 100, 2];
        let mut h: BTreeMap<u64, u64> = BTreeMap::new();
        for &s in &samples {
            *h.entry(s).or_default() += 1;
        }
        let s = summary(vec![], h.into_iter().collect());
        for p in [0.0, 10.0, 50.0, 90.0, 99.0, 100.0] {
            assert_eq!(s.latency_percentile(p), percentile(&samples, p), "p{p}");
        }
    }

    /// Merge refuses overlapping, incomplete or disagreeing shards and
    /// names each problem.
    #[test]
    fn merge_checks_agreement_disjointness_and_cover() {
        let a = summary(vec![1, 3], vec![(1, 1)]);
        let b = summary(vec![2, 4], vec![(1, 2)]);
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.seeds, vec![1, 2, 3, 4]);
        assert_eq!(m.counters.seeds, 4);
        assert_eq!(m.commit_latency_ms, vec![(1, 3)]);
        let err = merge(std::slice::from_ref(&a)).unwrap_err();
        assert!(err.contains("not run: 2..=4 step 2"), "{err}");
        let err = merge(&[a.clone(), a.clone(), b.clone()]).unwrap_err();
        assert!(err.contains("more than once"), "{err}");
        let mut c = b.clone();
        c.fingerprint = "0x2".into();
        c.options.flags = "--nodes 3".into();
        let err = merge(&[a, c]).unwrap_err();
        assert!(
            err.contains("fingerprint") && err.contains("options"),
            "{err}"
        );
        assert!(merge(&[]).is_err());
    }

    #[test]
    fn json_round_trips_and_bad_json_is_an_error() {
        let a = summary(vec![1, 3], vec![(1, 1)]);
        assert_eq!(Summary::from_json(&a.to_json()).unwrap(), a);
        assert!(Summary::from_json("{").is_err());
        let mut b = a.clone();
        b.format = 99;
        assert!(
            Summary::from_json(&b.to_json())
                .unwrap_err()
                .contains("format 99")
        );
    }
}
