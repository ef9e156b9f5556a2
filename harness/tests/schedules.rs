//! The targeted schedules of etcd #12133 and of a lease read during a
//! transfer reach the state they are built for, and the unmodified core
//! stays safe there (the planted-bug catalogue, `harness/teeth`, shows the
//! same schedules catching the bugs).

use tinyraft::ReadOnlyOption;
use tinyraft::eraftpb::ConfChangeType;
use tinyraft_harness::faults::{FaultAction, FaultSchedule, TimedFault};
use tinyraft_harness::linearizability::{self, LinResult};
use tinyraft_harness::trace::EventKind;
use tinyraft_harness::{Cluster, SimConfig};

fn at(at_ms: u64, action: FaultAction) -> TimedFault {
    TimedFault { at_ms, action }
}

fn faults_fired(c: &Cluster, needle: &str) -> usize {
    c.trace()
        .events()
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::Fault { description } if description.contains(needle)),
        )
        .count()
}

/// etcd #12133: two voters join while the leader's link to one follower
/// is held and its applies are slow; when it learns both are committed
/// the leader transfers to it. The core refuses to campaign with the
/// changes unapplied, so no leader is elected on a configuration two
/// changes old (`election_config`) and every invariant holds.
#[test]
fn a_follower_with_committed_unapplied_conf_changes_is_asked_to_lead_and_declines() {
    let mut fired = 0;
    for seed in 1..=4 {
        let mut c = Cluster::new(SimConfig {
            nodes: 3,
            seed,
            keep_trace: true,
            ..Default::default()
        });
        c.install_faults(&FaultSchedule {
            actions: vec![
                at(
                    1000,
                    FaultAction::LagConf {
                        k: 0,
                        ms: 2500,
                        apply_ms: 300,
                    },
                ),
                at(1050, FaultAction::Membership(ConfChangeType::AddNode, 4)),
                at(2200, FaultAction::Membership(ConfChangeType::AddNode, 5)),
            ],
        });
        c.run_for(8000);
        if let Err(v) = c.check_invariants() {
            panic!("seed {seed}: {v}");
        }
        fired += faults_fired(&c, "knows a committed conf change it has not applied");
    }
    assert!(fired > 0, "the transfer trigger never fired in 4 seeds");
}

/// Thesis §6.4.1: a leader that starts a transfer stops serving lease
/// reads. The old leader is cut off the moment its `MsgTimeoutNow` lands
/// (clients still reach it) while clients read and write; the history
/// stays linearizable.
#[test]
fn lease_reads_stay_linearizable_when_the_transferee_wins_inside_the_lease() {
    let mut fired = 0;
    for seed in 1..=4 {
        let mut c = Cluster::new(SimConfig {
            nodes: 3,
            seed,
            check_quorum: true,
            read_only_option: ReadOnlyOption::LeaseBased,
            keep_trace: true,
            ..Default::default()
        });
        c.install_faults(&FaultSchedule {
            actions: vec![
                at(1500, FaultAction::TransferCutOld { k: 0 }),
                at(4000, FaultAction::Heal),
            ],
        });
        c.start_clients_with(4, 60, 2, true);
        c.run_for(8000);
        if let Err(v) = c.check_invariants() {
            panic!("seed {seed}: {v}");
        }
        c.stop_clients();
        c.run_for(2000);
        let r = linearizability::check(c.client_history(), linearizability::DEFAULT_BUDGET_STEPS);
        assert!(!matches!(r, LinResult::Illegal { .. }), "seed {seed}: {r}");
        fired += faults_fired(&c, "old leader cut off");
    }
    assert!(fired > 0, "the cut never fired in 4 seeds");
}
