//! The simulated world's own rules: crashes lose unsynced writes, restarts
//! keep connectivity, replay output is self-contained.

use tinyraft_harness::campaign::{CampaignOptions, render_timeline, run_schedule, schedule_subset};
use tinyraft_harness::{Cluster, SimConfig};

/// The non-durable-file model (FoundationDB/turmoil): an entry written but
/// not yet synced is gone after a crash; one that synced survives.
#[test]
fn crash_loses_unsynced_entries_only() {
    let mut c = Cluster::new(SimConfig {
        nodes: 3,
        seed: 31,
        ..Default::default()
    });
    let l = c.check_one_leader().unwrap();
    let synced = c.one(b"durable".to_vec(), 3, true).unwrap();
    let (idx, _) = c.start(l, b"volatile".to_vec()).unwrap();
    assert!(idx > synced);
    c.crash(l); // same instant: the sync (1-5 ms) has not completed
    assert!(!c.is_up(l));
    assert_eq!(c.last_index(l), synced, "unsynced entry survived a crash");
    c.restart(l);
    assert!(c.applied_index(l) <= synced);
    c.one(b"after".to_vec(), 3, true).unwrap();
    assert_eq!(c.n_committed(synced).1, Some(b"durable".to_vec()));
    c.check_invariants().unwrap();
}

/// API rule: crash and connection are independent; restart keeps a
/// disconnected node disconnected.
#[test]
fn restart_keeps_connectivity() {
    let mut c = Cluster::new(SimConfig {
        nodes: 3,
        seed: 32,
        ..Default::default()
    });
    let l = c.check_one_leader().unwrap();
    c.disconnect(l);
    c.crash(l);
    c.restart(l);
    c.run_for(3_000);
    // Still cut off: it cannot be the leader the others follow.
    let others: Vec<u64> = (1..=3).filter(|&i| i != l).collect();
    let new = c.check_one_leader().unwrap();
    assert!(others.contains(&new));
    c.connect(l);
    c.one(b"x".to_vec(), 3, true).unwrap();
    c.check_invariants().unwrap();
}

/// A crashed node reports its durable term and no leadership.
#[test]
fn crashed_node_reports_durable_state() {
    let mut c = Cluster::new(SimConfig {
        nodes: 3,
        seed: 33,
        ..Default::default()
    });
    let l = c.check_one_leader().unwrap();
    let t = c.term_of(l);
    c.crash(l);
    assert!(!c.is_leader(l));
    assert_eq!(c.term_of(l), t);
    assert!(c.start(l, b"no".to_vec()).is_none());
}

/// `replay --html` output: one self-contained page (no external resources).
#[test]
fn timeline_page_is_self_contained() {
    let opts = CampaignOptions {
        duration_ms: 2_000,
        keep_trace: true,
        ops_per_client: 5,
        ..Default::default()
    };
    let (report, c) = run_schedule(&opts, 5, &schedule_subset(&opts, 5, None));
    assert!(report.violation.is_none());
    assert!(
        c.trace().events().len() as u64 == c.trace().len(),
        "keep_trace keeps every event"
    );
    let html = render_timeline(c.trace(), "seed 5");
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("seed 5"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}
