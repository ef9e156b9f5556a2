//! Issue 13: campaigns that scale out across machines (shards merged equal
//! one run), histories that outside checkers read (round trip, check-history
//! verdicts), Unknown verdicts and outcomes, and a quiet closed pipe. The
//! binary is run as a user runs it; seed counts stay small for CI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tinyraft_harness::campaign::{CampaignOptions, run_schedule, schedule_for};
use tinyraft_harness::history::{from_jsonl, to_jsonl};
use tinyraft_harness::linearizability::{LinResult, check};
use tinyraft_harness::summary::Summary;

const BIN: &str = env!("CARGO_BIN_EXE_tinyraft-harness");

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tinyraft-scale-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The table without the lines that depend on wall time and the header.
fn table(stdout: &str) -> Vec<String> {
    let start = stdout.find("\nseeds ").expect("a summary table");
    stdout[start..]
        .lines()
        .filter(|l| !l.contains("wall"))
        .map(str::to_string)
        .collect()
}

fn summary(p: &Path) -> Summary {
    Summary::from_json(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Issue 13, "3 shards merged equal one unsharded run, counter for
/// counter": every counter, the latency histogram (hence p50/p99), the
/// swarm and profile tallies, the seeds and the printed table agree.
#[test]
fn three_shards_merged_equal_one_run() {
    let d = scratch("shards");
    let whole = d.join("whole.json");
    let w = run(&[
        "campaign",
        "--seeds",
        "12",
        "--start-seed",
        "5",
        "--jobs",
        "1",
        "--json",
        whole.to_str().unwrap(),
    ]);
    assert!(w.status.success(), "{}", text(&w));
    let mut files = Vec::new();
    for k in 1..=3 {
        let f = d.join(format!("s{k}.json"));
        let o = run(&[
            "campaign",
            "--seeds",
            "12",
            "--start-seed",
            "5",
            "--jobs",
            "1",
            "--shard",
            &format!("{k}/3"),
            "--json",
            f.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(summary(&f).seeds.len(), 4);
        files.push(f.to_str().unwrap().to_string());
    }
    let merged = d.join("merged.json");
    let mut args = vec!["merge", "--json", merged.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let m = run(&args);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let (a, b) = (summary(&whole), summary(&merged));
    assert_eq!(a.counters, b.counters);
    assert_eq!(a.seeds, (5..17).collect::<Vec<u64>>());
    assert_eq!(a.seeds, b.seeds);
    assert_eq!(a.commit_latency_ms, b.commit_latency_ms);
    assert_eq!(a.swarm, b.swarm);
    assert_eq!(a.profiles, b.profiles);
    assert_eq!(a.failures, b.failures);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.options, b.options);
    assert!(a.counters.events > 0 && a.counters.client_ops > 0);
    assert_eq!(table(&text(&w)), table(&text(&m)));
}

/// Merge refuses shards that overlap, leave seeds out, or ran with other
/// options, and says which.
#[test]
fn merge_refuses_inconsistent_shards() {
    let d = scratch("bad-merge");
    let shard = |k: u64, extra: &[&str]| {
        let f = d.join(format!("s{k}-{}.json", extra.len()));
        let mut args = vec![
            "campaign".to_string(),
            "--seeds".into(),
            "4".into(),
            "--shard".into(),
            format!("{k}/2"),
            "--json".into(),
            f.to_str().unwrap().into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = Command::new(BIN).args(&args).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        f.to_str().unwrap().to_string()
    };
    let (one, two) = (shard(1, &[]), shard(2, &[]));
    let other = shard(2, &["--nodes", "3"]);
    let missing = run(&["merge", &one]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not run: 2..=4 step 2"));
    let twice = run(&["merge", &one, &one, &two]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("more than once"));
    let differ = run(&["merge", &one, &other]);
    let err = String::from_utf8_lossy(&differ.stderr).into_owned();
    assert_eq!(differ.status.code(), Some(1));
    assert!(
        err.contains("options") && err.contains("fingerprint"),
        "{err}"
    );
    assert!(run(&["merge", &one, &two]).status.success());
}

/// Issue 13: clients that give up leave operations of unknown outcome in
/// default seeds, and the checker accepts those histories (each unknown
/// operation may or may not have taken effect).
#[test]
fn default_seeds_have_unknown_outcomes_and_stay_linearizable() {
    let opts = CampaignOptions::default();
    let mut unknown = 0;
    for seed in 1..=6 {
        let (r, c) = run_schedule(&opts, seed, &schedule_for(&opts, seed));
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        let h = c.client_history();
        let open = h.iter().filter(|o| o.return_ms.is_none()).count() as u64;
        assert!(open >= r.client_ops_unknown, "seed {seed}");
        assert_eq!(check(h, opts.lin_budget), LinResult::Ok, "seed {seed}");
        unknown += r.client_ops_unknown;
    }
    assert!(
        unknown > 0,
        "no operation was given up on in 6 default seeds"
    );
}

/// Issue 13: a campaign history written as JSON lines and read back gets
/// the same verdict from the built-in checker — legal as recorded, and
/// illegal once a completed read is given a value nobody wrote.
#[test]
fn history_json_round_trip_keeps_the_verdict() {
    let opts = CampaignOptions::default();
    let (r, c) = run_schedule(&opts, 3, &schedule_for(&opts, 3));
    assert!(r.violation.is_none());
    let h = c.client_history();
    let back = from_jsonl(&to_jsonl(h)).unwrap();
    assert_eq!(back.len(), h.len());
    assert_eq!(check(&back, opts.lin_budget), check(h, opts.lin_budget));
    let mut bad = h.to_vec();
    let i = bad
        .iter()
        .position(|o| o.op.is_read() && o.return_ms.is_some() && o.output.is_some())
        .expect("a completed read");
    bad[i].output = Some("never-written".into());
    let bad_back = from_jsonl(&to_jsonl(&bad)).unwrap();
    assert!(matches!(
        check(&bad_back, opts.lin_budget),
        LinResult::Illegal { .. }
    ));
    assert_eq!(
        check(&bad_back, opts.lin_budget),
        check(&bad, opts.lin_budget)
    );
}

const LEGAL: &str = "\
{\"client\":1,\"key\":\"x\",\"op\":\"put\",\"input\":\"1\",\"output\":null,\"call_us\":0,\"return_us\":1000,\"outcome\":\"ok\"}
{\"client\":2,\"key\":\"x\",\"op\":\"append\",\"input\":\"2\",\"output\":null,\"call_us\":2000,\"return_us\":null,\"outcome\":\"unknown\"}
{\"client\":3,\"key\":\"x\",\"op\":\"get\",\"input\":null,\"output\":\"12\",\"call_us\":5000,\"return_us\":6000,\"outcome\":\"ok\"}
{\"client\":3,\"key\":\"y\",\"op\":\"put\",\"input\":\"9\",\"output\":null,\"call_us\":5000,\"return_us\":6000,\"outcome\":\"ok\"}
";

/// Linearizability (Herlihy & Wing): after `put x 2` returned, a read that
/// starts later cannot see `1`; the smallest illegal history keeps only the
/// two writes and the stale read.
const ILLEGAL: &str = "\
{\"client\":1,\"key\":\"x\",\"op\":\"put\",\"input\":\"1\",\"output\":null,\"call_us\":0,\"return_us\":1000,\"outcome\":\"ok\"}
{\"client\":4,\"key\":\"y\",\"op\":\"put\",\"input\":\"7\",\"output\":null,\"call_us\":500,\"return_us\":900,\"outcome\":\"ok\"}
{\"client\":2,\"key\":\"x\",\"op\":\"get\",\"input\":null,\"output\":\"1\",\"call_us\":1500,\"return_us\":1800,\"outcome\":\"ok\"}
{\"client\":1,\"key\":\"x\",\"op\":\"put\",\"input\":\"2\",\"output\":null,\"call_us\":2000,\"return_us\":3000,\"outcome\":\"ok\"}
{\"client\":3,\"key\":\"x\",\"op\":\"get\",\"input\":null,\"output\":\"1\",\"call_us\":4000,\"return_us\":5000,\"outcome\":\"ok\"}
";

/// `check-history`: Ok (exit 0) for a legal history with an unknown
/// append that must have happened, Illegal (exit 1) with the smallest
/// illegal history for a stale read, Unknown (exit 3) when the budget is
/// too small, and a malformed file is an error naming the line (exit 2).
#[test]
fn check_history_gives_ok_illegal_unknown_and_errors() {
    let d = scratch("check");
    let legal = d.join("legal.jsonl");
    std::fs::write(&legal, LEGAL).unwrap();
    let o = run(&["check-history", legal.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).starts_with("Ok: 4 operations on 2 keys (1 with unknown outcome)"));

    let illegal = d.join("illegal.jsonl");
    std::fs::write(&illegal, ILLEGAL).unwrap();
    let o = run(&["check-history", illegal.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.starts_with("Illegal: not linearizable on key \"x\""),
        "{out}"
    );
    let small_at = out.find("smallest illegal history").unwrap();
    let small = from_jsonl(out[small_at..].split_once('\n').unwrap().1).unwrap();
    assert_eq!(small.len(), 3, "{out}");
    assert!(matches!(check(&small, 100_000), LinResult::Illegal { .. }));

    let o = run(&["check-history", illegal.to_str().unwrap(), "--budget", "1"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).starts_with("Unknown:"));

    let bad = d.join("bad.jsonl");
    std::fs::write(&bad, format!("{LEGAL}{{\"client\":1}}\n")).unwrap();
    let o = run(&["check-history", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 5"));
}

/// `replay` writes the history (JSON lines and EDN) and reports an Unknown
/// verdict instead of "no violation" (exit 3) when the budget runs out.
#[test]
fn replay_writes_histories_and_reports_unknown() {
    let d = scratch("replay");
    let (h, e) = (d.join("h.jsonl"), d.join("h.edn"));
    let o = run(&[
        "replay",
        "--seed",
        "2",
        "--history",
        h.to_str().unwrap(),
        "--edn",
        e.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let ops = from_jsonl(&std::fs::read_to_string(&h).unwrap()).unwrap();
    assert!(!ops.is_empty());
    let edn = std::fs::read_to_string(&e).unwrap();
    assert_eq!(edn.lines().count(), 2 * ops.len());
    assert!(edn.lines().all(|l| l.starts_with("{:type :")));
    let o = run(&["replay", "--seed", "2", "--lin-budget", "1"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("linearizability: UNKNOWN"));
    assert!(!text(&o).contains("no violation"));
}

/// `--keep-going` runs an injected bug past its first violation: the same
/// seed reports more than one invariant, and the run went on longer.
#[test]
fn keep_going_reports_every_invariant_broken() {
    let stop = run(&["replay", "--seed", "1", "--inject-bug", "ack-before-sync"]);
    let go = run(&[
        "replay",
        "--seed",
        "1",
        "--inject-bug",
        "ack-before-sync",
        "--keep-going",
    ]);
    assert_eq!(stop.status.code(), Some(1));
    assert_eq!(go.status.code(), Some(1));
    let count = |o: &Output| text(o).matches("` violated at event").count();
    assert_eq!(count(&stop), 1, "{}", text(&stop));
    assert!(count(&go) > 1, "{}", text(&go));
}

/// Output to a closed pipe (`campaign … | head -1`) ends quietly with
/// status 141 instead of a panic.
#[test]
fn closed_pipe_ends_quietly() {
    let mut child = Command::new(BIN)
        .args(["campaign", "--seeds", "400", "--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut r = BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut first).unwrap();
    } // the read end closes here
    assert!(first.starts_with("campaign:"));
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
