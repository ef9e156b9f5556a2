//! One seed, one run: the same seed gives the same trace hash; different
//! seeds give different runs.

use tinyraft_harness::campaign::{CampaignOptions, run_seed};
use tinyraft_harness::{Cluster, SimConfig};

fn short() -> CampaignOptions {
    CampaignOptions {
        duration_ms: 4_000,
        liveness_ms: 10_000,
        ops_per_client: 10,
        ..Default::default()
    }
}

#[test]
fn same_seed_same_trace_hash() {
    for seed in [1, 2, 3] {
        let a = run_seed(&short(), seed);
        let b = run_seed(&short(), seed);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.events, b.events);
        assert!(a.violation.is_none(), "{}", a.violation.unwrap());
    }
}

#[test]
fn different_seeds_differ() {
    let a = run_seed(&short(), 10);
    let b = run_seed(&short(), 11);
    assert_ne!(a.trace_hash, b.trace_hash);
}

#[test]
fn cluster_api_runs_are_deterministic() {
    let run = |seed| {
        let mut c = Cluster::new(SimConfig {
            nodes: 5,
            seed,
            ..Default::default()
        });
        c.check_one_leader().unwrap();
        c.one(b"v".to_vec(), 5, true).unwrap();
        let l = c.check_one_leader().unwrap();
        c.crash(l);
        c.one(b"w".to_vec(), 4, true).unwrap();
        (c.trace().hash(), c.now_ms(), c.events())
    };
    assert_eq!(run(21), run(21));
    assert_ne!(run(21).0, run(22).0);
}
