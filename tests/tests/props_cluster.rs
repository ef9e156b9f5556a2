//! Whole-cluster property tests (Raft §5, §6; thesis §3.10, §9.6): proptest
//! generates a timed schedule of faults and client work, the harness runs
//! it, and afterwards every safety invariant holds and the healed cluster
//! elects a leader and commits a new entry.
//!
//! Two strategies:
//! - `ClusterAction` lists driven directly through the `Cluster` API
//!   (partition, heal, crash, restart, drop bursts, proposals, leader
//!   transfer, add/remove node or learner, compaction); proptest shrinks a
//!   failure to a minimal list and the message prints it with the seed, as
//!   Rust a developer pastes into `run_actions`.
//! - the harness's own generated fault schedules (seed + kinds), restricted
//!   to a subset proptest shrinks; a failure prints the exact
//!   `tinyraft-harness replay --seed .. --keep ..` command.
//!
//! Default cases are small (32) so CI stays quick; `PROPTEST_CASES=500`
//! for a longer hunt. Regressions are kept in `tests/proptest-regressions/`.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tinyraft_harness::campaign::{CampaignOptions, run_schedule, schedule_subset};
use tinyraft_harness::faults::FaultKind;
use tinyraft_harness::{Cluster, SimConfig};

/// 32 cases unless `PROPTEST_CASES` says otherwise.
fn config(file: &'static str) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..ProptestConfig::default()
    }
}

/// Node ids the actions may name: the 3 initial voters and 2 spares.
const MAX_ID: u64 = 5;

/// One step of a generated schedule; each runs, then `gap_ms` of simulated
/// time passes.
#[derive(Clone, Debug)]
pub enum ClusterAction {
    /// Split off `side` from everyone else.
    Partition(Vec<u64>),
    /// Reconnect everyone.
    Heal,
    /// Crash a node (losing unsynced writes).
    Crash(u64),
    /// Restart a node from its disk.
    Restart(u64),
    /// 6.824's unreliable network for `ms`.
    DropBurst(u64),
    /// Propose `n` commands on the leader, if any.
    Propose(u8),
    /// Ask the leader to hand over to a node.
    TransferLeader(u64),
    /// Add a voter (conf change through the log).
    AddNode(u64),
    /// Add a learner.
    AddLearner(u64),
    /// Remove a member.
    RemoveNode(u64),
    /// Snapshot and compact a node at what it applied.
    Compact(u64),
}

fn node() -> impl Strategy<Value = u64> {
    1..=MAX_ID
}

fn action() -> impl Strategy<Value = ClusterAction> {
    prop_oneof![
        3 => prop::collection::btree_set(node(), 1..3)
            .prop_map(|s| ClusterAction::Partition(s.into_iter().collect())),
        2 => Just(ClusterAction::Heal),
        2 => node().prop_map(ClusterAction::Crash),
        2 => node().prop_map(ClusterAction::Restart),
        1 => (100u64..1500).prop_map(ClusterAction::DropBurst),
        4 => (1u8..6).prop_map(ClusterAction::Propose),
        1 => node().prop_map(ClusterAction::TransferLeader),
        1 => (4u64..=MAX_ID).prop_map(ClusterAction::AddNode),
        1 => (4u64..=MAX_ID).prop_map(ClusterAction::AddLearner),
        1 => node().prop_map(ClusterAction::RemoveNode),
        1 => node().prop_map(ClusterAction::Compact),
    ]
}

/// A whole schedule: a seed for the simulator, whether nodes snapshot on
/// their own, and timed actions.
fn schedule() -> impl Strategy<Value = (u64, Option<u64>, Vec<(ClusterAction, u64)>)> {
    (
        any::<u64>(),
        prop::option::of(3u64..20),
        prop::collection::vec((action(), 0u64..800), 1..24),
    )
}

/// Runs `actions` on a fresh 3-node cluster from `seed`, heals it, and
/// returns the first problem: a violated invariant, or no leader / no new
/// commit after healing.
pub fn run_actions(
    seed: u64,
    snapshot_interval: Option<u64>,
    actions: &[(ClusterAction, u64)],
) -> Result<(), String> {
    run_actions_on(
        SimConfig {
            nodes: 3,
            seed,
            snapshot_interval,
            ..Default::default()
        },
        actions,
    )
}

fn run_actions_on(cfg: SimConfig, actions: &[(ClusterAction, u64)]) -> Result<(), String> {
    let mut c = Cluster::new(cfg);
    let mut n = 0u32;
    for (a, gap) in actions {
        apply(&mut c, a, &mut n);
        c.check_invariants()
            .map_err(|v| format!("after {a:?}: {v}"))?;
        c.run_for(*gap);
        c.check_invariants()
            .map_err(|v| format!("after {a:?} + {gap} ms: {v}"))?;
    }
    // Heal: everyone up and connected, reliable network.
    c.set_unreliable(false);
    c.heal();
    for id in c.node_ids() {
        if !c.is_up(id) {
            c.restart(id);
        }
    }
    c.check_invariants()
        .map_err(|v| format!("on healing: {v}"))?;
    if !c.run_until(20_000, |c| c.leader().is_some()) {
        return Err("liveness: no leader within 20 s of healing".into());
    }
    c.one(b"after heal".to_vec(), 1, true)
        .map_err(|e| format!("liveness: {e}"))?;
    c.check_invariants()
        .map_err(|v| format!("at the end: {v}"))?;
    Ok(())
}

fn apply(c: &mut Cluster, a: &ClusterAction, n: &mut u32) {
    match a {
        ClusterAction::Partition(side) => {
            let rest: Vec<u64> = c
                .node_ids()
                .into_iter()
                .filter(|i| !side.contains(i))
                .collect();
            c.partition(&[side, &rest]);
        }
        ClusterAction::Heal => c.heal(),
        ClusterAction::Crash(id) => c.crash(*id),
        ClusterAction::Restart(id) => {
            if !c.is_up(*id) {
                c.restart(*id);
            }
        }
        ClusterAction::DropBurst(ms) => {
            c.set_unreliable(true);
            c.run_for(*ms);
            c.set_unreliable(false);
        }
        ClusterAction::Propose(k) => {
            if let Some(l) = c.leader() {
                for _ in 0..*k {
                    *n += 1;
                    c.start(l, format!("op{n}").into_bytes());
                }
            }
        }
        // These may fail (no leader, no quorum): that's allowed, safety isn't.
        ClusterAction::TransferLeader(to) => {
            let _ = c.transfer_leader(*to);
        }
        ClusterAction::AddNode(id) => {
            let _ = c.add_node(*id);
        }
        ClusterAction::AddLearner(id) => {
            let _ = c.add_learner(*id);
        }
        ClusterAction::RemoveNode(id) => {
            let _ = c.remove_node(*id);
        }
        ClusterAction::Compact(id) => {
            let at = c.applied_index(*id);
            c.compact(*id, at);
        }
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/props_cluster_actions.txt"))]

    /// Raft §5 safety under any generated schedule, and liveness once healed.
    #[test]
    fn any_action_schedule_keeps_invariants_and_recovers_props(
        (seed, snap, actions) in schedule()
    ) {
        if let Err(e) = run_actions(seed, snap, &actions) {
            return Err(TestCaseError::fail(format!(
                "{e}\nrerun: run_actions({seed}, {snap:?}, &{actions:?})"
            )));
        }
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/props_cluster_harness.txt"))]

    /// The harness's generated schedules (with client workload and the
    /// linearizability check), restricted to a subset of their actions that
    /// proptest shrinks; a failure prints the `replay` command.
    #[test]
    fn harness_schedule_subsets_keep_invariants_props(
        seed in 0u64..1_000_000,
        nodes in prop::sample::select(vec![3usize, 5]),
        kind_bits in 1u8..=255,
        keep_mask in prop::collection::vec(any::<bool>(), 64),
    ) {
        let faults: Vec<FaultKind> = FaultKind::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| kind_bits & (1 << i) != 0)
            .map(|(_, k)| *k)
            .collect();
        let opts = CampaignOptions {
            nodes,
            faults: faults.clone(),
            duration_ms: 6_000,
            clients: 2,
            ops_per_client: 15,
            ..CampaignOptions::default()
        };
        let full = schedule_subset(&opts, seed, None);
        let keep: Vec<usize> = (0..full.actions.len())
            .filter(|&i| keep_mask.get(i).copied().unwrap_or(true))
            .collect();
        let sched = schedule_subset(&opts, seed, Some(&keep));
        let (report, _) = run_schedule(&opts, seed, &sched);
        if let Some(v) = report.violation {
            let kinds: Vec<&str> = faults.iter().map(|k| k.name()).collect();
            let keep_s: Vec<String> = keep.iter().map(|i| i.to_string()).collect();
            return Err(TestCaseError::fail(format!(
                "{v}\nschedule: {:?}\nrerun: cargo run --release -p tinyraft-harness -- replay --seed {seed} \
                 --nodes {nodes} --faults {} --duration-ms 6000 --clients 2 --ops 15 --keep {} --html fail.html",
                sched.actions,
                kinds.join(","),
                if keep_s.is_empty() { "none".to_string() } else { keep_s.join(",") },
            )));
        }
    }
}

/// The property has teeth: with the harness's injected engine bug (acks sent
/// before the disk sync, so a crash loses an acknowledged entry) the same
/// strategy finds a failing schedule and shrinks it.
#[test]
fn action_property_catches_ack_before_sync_bug() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&schedule(), |(seed, snap, actions)| {
        let cfg = SimConfig {
            nodes: 3,
            seed,
            snapshot_interval: snap,
            bug_ack_before_sync: true,
            ..Default::default()
        };
        run_actions_on(cfg, &actions).map_err(TestCaseError::fail)
    });
    match result {
        Err(proptest::test_runner::TestError::Fail(why, (_, _, actions))) => {
            assert!(!actions.is_empty());
            eprintln!("found and shrank to {} actions: {why}", actions.len());
        }
        other => panic!("the injected bug went unnoticed: {other:?}"),
    }
}
