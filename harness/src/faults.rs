//! Fault schedules: an explicit, timed list of fault actions drawn from the
//! seed, so a failing run can be replayed exactly and `shrink` can remove
//! actions one by one.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{ConfChangeTransition, ConfChangeType};

/// A family of faults that can be switched on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Symmetric partitions, one-way cuts, isolating the leader, bridges.
    Partition,
    /// Crash and restart of up to a minority at once.
    Crash,
    /// Everyone crashes, then everyone restarts.
    TotalCrash,
    /// Bursts of message loss, duplication and long delays.
    Network,
    /// Disk sync latency spikes.
    Disk,
    /// Leader transfers.
    Transfer,
    /// Membership changes: single-step (add a learner, promote it, remove
    /// it) and joint (replace a voter atomically, add or remove two at
    /// once, demote a voter and promote it back) with each transition, and
    /// leader changes and crashes inside the joint state.
    Membership,
    /// Snapshots and log compaction (also turns on `snapshot_interval`).
    Snapshot,
    /// Hold the messages of one link from the leader and release them all
    /// seconds later, typically after a term change (delivered late, not
    /// dropped).
    Hold,
    /// Bursts of proposals on the leader, beyond its inflight window.
    Burst,
    /// Targeted schedules: crash or isolate the leader right after it
    /// replicated an entry to a minority only; propose a membership change
    /// right before a leader change and another on the next leader as soon
    /// as it is elected.
    Targeted,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::TotalCrash,
        FaultKind::Network,
        FaultKind::Disk,
        FaultKind::Transfer,
        FaultKind::Membership,
        FaultKind::Snapshot,
        FaultKind::Hold,
        FaultKind::Burst,
        FaultKind::Targeted,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::TotalCrash => "total-crash",
            FaultKind::Network => "network",
            FaultKind::Disk => "disk",
            FaultKind::Transfer => "transfer",
            FaultKind::Membership => "membership",
            FaultKind::Snapshot => "snapshot",
            FaultKind::Hold => "hold",
            FaultKind::Burst => "burst",
            FaultKind::Targeted => "targeted",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<FaultKind, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown fault kind {s:?}; known: {}", names.join(", "))
            })
    }
}

/// Parses a comma-separated list of kinds; `all` and `none` are accepted.
///
/// ```
/// use tinyraft_harness::faults::{parse_kinds, FaultKind};
/// assert_eq!(parse_kinds("crash,partition").unwrap(), vec![FaultKind::Partition, FaultKind::Crash]);
/// assert_eq!(parse_kinds("all").unwrap().len(), FaultKind::ALL.len());
/// ```
pub fn parse_kinds(list: &str) -> Result<Vec<FaultKind>, String> {
    let mut set = BTreeSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "all" => set.extend(FaultKind::ALL),
            "none" => {}
            p => {
                set.insert(p.parse::<FaultKind>()?);
            }
        }
    }
    Ok(set.into_iter().collect())
}

/// One fault action.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Split the nodes into groups (nodes not listed are isolated).
    Partition(Vec<Vec<u64>>),
    /// Block messages from one node to another.
    CutOneWay(u64, u64),
    /// Isolate whoever leads at that moment.
    IsolateLeader,
    /// Two sides that only talk through one bridge node.
    Bridge {
        /// The node that hears both sides.
        bridge: u64,
        /// One side.
        left: Vec<u64>,
        /// The other side.
        right: Vec<u64>,
    },
    /// Clear partitions, cuts and disconnections.
    Heal,
    /// Crash a node.
    Crash(u64),
    /// Crash whoever leads.
    CrashLeader,
    /// Restart a node (if down).
    Restart(u64),
    /// Crash every node.
    CrashAll,
    /// Restart every crashed node.
    RestartAll,
    /// Override the network profile for `ms`.
    NetBurst {
        /// Loss probability.
        drop: f64,
        /// Duplication probability.
        dup: f64,
        /// Long-delay probability.
        long_delay: f64,
        /// Largest long delay (several seconds at most).
        long_delay_max_ms: u64,
        /// Duration.
        ms: u64,
    },
    /// Add `extra_ms` to a node's sync latency for `ms`.
    DiskSpike {
        /// The node.
        node: u64,
        /// Extra sync latency.
        extra_ms: u64,
        /// Duration.
        ms: u64,
    },
    /// Ask the leader to transfer leadership to `to`.
    TransferLeader(u64),
    /// Propose a membership change on the leader (not waiting for it).
    Membership(ConfChangeType, u64),
    /// Snapshot and compact a node at its applied index.
    Compact(u64),
    /// Hold every message on the link from the leader to its `k`-th other
    /// node (mod their count) for `ms`, then deliver them.
    HoldLeaderLink {
        /// Which follower (an index into the other nodes).
        k: usize,
        /// How long the link holds its messages.
        ms: u64,
    },
    /// Propose `n` entries on the leader at once.
    ProposeBurst(u64),
    /// Cut the leader off with its `k`-th other node only (a minority) and
    /// propose an entry on it, so it replicates to that minority alone.
    MinorityLeader {
        /// Which follower stays with the leader.
        k: usize,
    },
    /// Propose this membership change on the next node that becomes leader,
    /// the moment it does (before it commits an entry of its term).
    OnNextLeader(ConfChangeType, u64),
    /// Disconnect the next node that becomes leader, the moment it does
    /// (before its first appends arrive anywhere).
    IsolateNextLeader,
    /// Disconnect the next leader elected from now on the moment its commit
    /// index first advances (right after it replicated to a majority).
    IsolateLeaderOnCommit,
    /// Reconnect the `k`-th node a trigger disconnected.
    ReconnectVictim(usize),
    /// Reconnect every node a trigger disconnected.
    ReconnectVictims,
    /// Ask the leader to transfer leadership to its `k`-th other node and
    /// cut the old leader off from every node (clients still reach it) the
    /// moment its `MsgTimeoutNow` lands: the transferee wins inside the old
    /// leader's lease (thesis §6.4.1), and a lease read the old leader still
    /// answers is stale.
    TransferCutOld {
        /// Which follower is the transferee.
        k: usize,
    },
    /// Hold the link from the leader to its `k`-th other node for `ms` and
    /// slow that node's lagging apply by `apply_ms` meanwhile; once the node
    /// learns that a conf change is committed but has not applied it, the
    /// leader transfers leadership to it (etcd #12133: such a node must not
    /// campaign; it does not know its configuration).
    LagConf {
        /// Which follower lags.
        k: usize,
        /// How long the link holds its messages.
        ms: u64,
        /// Extra delay of each of its apply steps.
        apply_ms: u64,
    },
    /// Propose one joint-consensus change (a `ConfChangeV2`) on the leader,
    /// not waiting for it; targets are resolved against the leader's
    /// configuration when the action fires.
    Joint {
        /// `Auto`, `Implicit` or `Explicit` (thesis §4.3, etcd's rules).
        transition: ConfChangeTransition,
        /// The changes, in order.
        changes: Vec<(ConfChangeType, JointTarget)>,
    },
    /// The application's leave after an `Explicit` enter: propose the
    /// empty `ConfChangeV2` on the leader while its configuration is joint,
    /// retrying every few hundred ms until it is in its log.
    LeaveJoint,
}

/// Whom a joint change names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JointTarget {
    /// This node (a spare joins empty when added).
    Node(u64),
    /// The `k`-th voter of the leader's incoming configuration (mod their
    /// count): may be the leader itself.
    Voter(usize),
    /// The `k`-th learner of the leader's configuration (mod their count);
    /// the change is left out when there is none.
    Learner(usize),
}

impl fmt::Display for JointTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JointTarget::Node(n) => write!(f, "{n}"),
            JointTarget::Voter(k) => write!(f, "voter #{k}"),
            JointTarget::Learner(k) => write!(f, "learner #{k}"),
        }
    }
}

/// A fault armed to fire on an event rather than at a time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Trigger {
    /// Propose a membership change on the next new leader.
    Conf(ConfChangeType, u64),
    /// Disconnect the next new leader.
    IsolateNextLeader,
    /// Disconnect a leader of a term above this one when its commit advances.
    IsolateOnCommit(u64),
    /// Cut this old leader off once its `MsgTimeoutNow` is delivered
    /// (until the simulated ms given second).
    CutOnTimeoutNow(u64, u64),
    /// Transfer leadership to this node once it knows of a committed conf
    /// change it has not applied (until the simulated ms given second).
    TransferOnUnappliedConf(u64, u64),
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Partition(g) => write!(f, "partition {g:?}"),
            FaultAction::CutOneWay(a, b) => write!(f, "cut {a}->{b}"),
            FaultAction::IsolateLeader => write!(f, "isolate leader"),
            FaultAction::Bridge {
                bridge,
                left,
                right,
            } => write!(f, "bridge {left:?}-{bridge}-{right:?}"),
            FaultAction::Heal => write!(f, "heal"),
            FaultAction::Crash(n) => write!(f, "crash {n}"),
            FaultAction::CrashLeader => write!(f, "crash leader"),
            FaultAction::Restart(n) => write!(f, "restart {n}"),
            FaultAction::CrashAll => write!(f, "crash all"),
            FaultAction::RestartAll => write!(f, "restart all"),
            FaultAction::NetBurst {
                drop,
                dup,
                long_delay,
                long_delay_max_ms,
                ms,
            } => {
                write!(
                    f,
                    "net burst drop={drop:.2} dup={dup:.2} long={long_delay:.2} (<= {long_delay_max_ms}ms) for {ms}ms"
                )
            }
            FaultAction::DiskSpike { node, extra_ms, ms } => {
                write!(f, "disk spike {node} +{extra_ms}ms for {ms}ms")
            }
            FaultAction::TransferLeader(to) => write!(f, "transfer leader to {to}"),
            FaultAction::Membership(t, n) => write!(f, "{t:?} {n}"),
            FaultAction::Compact(n) => write!(f, "compact {n}"),
            FaultAction::HoldLeaderLink { k, ms } => {
                write!(f, "hold link leader->follower #{k} for {ms}ms")
            }
            FaultAction::ProposeBurst(n) => write!(f, "burst of {n} proposals on the leader"),
            FaultAction::MinorityLeader { k } => {
                write!(f, "cut leader off with follower #{k}, propose")
            }
            FaultAction::OnNextLeader(t, n) => write!(f, "on next leader: {t:?} {n}"),
            FaultAction::IsolateNextLeader => write!(f, "isolate the next leader when elected"),
            FaultAction::IsolateLeaderOnCommit => {
                write!(f, "isolate the next leader when its commit advances")
            }
            FaultAction::ReconnectVictim(k) => write!(f, "reconnect isolated node #{k}"),
            FaultAction::ReconnectVictims => write!(f, "reconnect isolated nodes"),
            FaultAction::TransferCutOld { k } => write!(
                f,
                "transfer to follower #{k}, cut the old leader off when MsgTimeoutNow lands"
            ),
            FaultAction::LagConf { k, ms, apply_ms } => write!(
                f,
                "hold link leader->follower #{k} for {ms}ms, its applies +{apply_ms}ms, transfer to it on a committed unapplied conf change"
            ),
            FaultAction::Joint {
                transition,
                changes,
            } => {
                let cs: Vec<String> = changes.iter().map(|(t, n)| format!("{t:?} {n}")).collect();
                write!(f, "joint {transition:?} [{}]", cs.join(", "))
            }
            FaultAction::LeaveJoint => write!(f, "leave joint"),
        }
    }
}

/// A fault action at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedFault {
    /// When, in simulated ms from the start of the run.
    pub at_ms: u64,
    /// What.
    pub action: FaultAction,
}

/// A whole schedule, ordered by time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule {
    /// The actions, by time.
    pub actions: Vec<TimedFault>,
}

impl FaultSchedule {
    /// Draws a schedule for `nodes` voters over `duration_ms` from `seed`,
    /// using only `kinds`. At most a minority is crashed at once, except
    /// inside a total crash (which restarts everyone shortly after).
    pub fn generate(
        seed: u64,
        nodes: usize,
        kinds: &[FaultKind],
        duration_ms: u64,
    ) -> FaultSchedule {
        Self::generate_mix(seed, nodes, kinds, duration_ms, (200, 1500))
    }

    /// [`FaultSchedule::generate`] with the gap between fault actions drawn
    /// from `gap_ms` (swarm testing varies how often faults strike).
    pub fn generate_mix(
        seed: u64,
        nodes: usize,
        kinds: &[FaultKind],
        duration_ms: u64,
        gap_ms: (u64, u64),
    ) -> FaultSchedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0fa1_7500_5eed);
        let mut actions = Vec::new();
        let n = nodes as u64;
        let minority = ((nodes - 1) / 2) as u64;
        let ids: Vec<u64> = (1..=n).collect();
        let mut down_until: Vec<(u64, u64)> = Vec::new(); // (node, restart time)
        let mut spare = n + 1; // next id for membership changes
        let mut bursts = 0;
        let mut t = rng.random_range(300..1500);
        let pick_kinds: Vec<FaultKind> = kinds.to_vec();
        if pick_kinds.is_empty() {
            return FaultSchedule { actions };
        }
        while t < duration_ms {
            down_until.retain(|&(_, r)| r > t);
            let kind = pick_kinds[rng.random_range(0..pick_kinds.len())];
            let hold = rng.random_range(300..3000);
            let mut push = |at: u64, action| actions.push(TimedFault { at_ms: at, action });
            match kind {
                FaultKind::Partition => {
                    let action = match rng.random_range(0..4) {
                        0 => {
                            let mut shuffled = ids.clone();
                            for i in (1..shuffled.len()).rev() {
                                shuffled.swap(i, rng.random_range(0..=i));
                            }
                            let cut = rng.random_range(1..shuffled.len().max(2));
                            let (a, b) = shuffled.split_at(cut.min(shuffled.len()));
                            FaultAction::Partition(vec![a.to_vec(), b.to_vec()])
                        }
                        1 => {
                            let a = ids[rng.random_range(0..ids.len())];
                            let b = ids[rng.random_range(0..ids.len())];
                            FaultAction::CutOneWay(a, if a == b { a % n + 1 } else { b })
                        }
                        2 => FaultAction::IsolateLeader,
                        _ if nodes >= 3 => {
                            let bridge = ids[rng.random_range(0..ids.len())];
                            let others: Vec<u64> =
                                ids.iter().copied().filter(|&i| i != bridge).collect();
                            let half = others.len() / 2;
                            FaultAction::Bridge {
                                bridge,
                                left: others[..half].to_vec(),
                                right: others[half..].to_vec(),
                            }
                        }
                        _ => FaultAction::IsolateLeader,
                    };
                    push(t, action);
                    push(t + hold, FaultAction::Heal);
                }
                FaultKind::Crash => {
                    if (down_until.len() as u64) < minority {
                        let up: Vec<u64> = ids
                            .iter()
                            .copied()
                            .filter(|i| !down_until.iter().any(|d| d.0 == *i))
                            .collect();
                        if rng.random_bool(0.3) {
                            push(t, FaultAction::CrashLeader);
                            push(t + hold, FaultAction::RestartAll);
                            down_until.push((0, t + hold));
                        } else if !up.is_empty() {
                            let v = up[rng.random_range(0..up.len())];
                            push(t, FaultAction::Crash(v));
                            push(t + hold, FaultAction::Restart(v));
                            down_until.push((v, t + hold));
                        }
                    }
                }
                FaultKind::TotalCrash => {
                    if down_until.is_empty() {
                        let back = rng.random_range(50..1500);
                        push(t, FaultAction::CrashAll);
                        push(t + back, FaultAction::RestartAll);
                        down_until.extend(ids.iter().map(|&i| (i, t + back)));
                    }
                }
                FaultKind::Network => {
                    push(
                        t,
                        FaultAction::NetBurst {
                            drop: rng.random_range(0.0..0.4),
                            dup: rng.random_range(0.0..0.2),
                            long_delay: rng.random_range(0.0..0.2),
                            long_delay_max_ms: if rng.random_bool(0.3) {
                                rng.random_range(2000..6000)
                            } else {
                                1500
                            },
                            ms: hold,
                        },
                    );
                }
                FaultKind::Disk => {
                    let node = ids[rng.random_range(0..ids.len())];
                    push(
                        t,
                        FaultAction::DiskSpike {
                            node,
                            extra_ms: rng.random_range(20..400),
                            ms: hold,
                        },
                    );
                }
                FaultKind::Transfer => {
                    push(
                        t,
                        FaultAction::TransferLeader(ids[rng.random_range(0..ids.len())]),
                    );
                }
                FaultKind::Membership if rng.random_bool(0.5) => {
                    let (a, b) = (spare, spare + 1);
                    spare += 2;
                    let may_crash = (down_until.len() as u64) < minority;
                    let crashed =
                        joint_membership(&mut rng, &mut push, (t, hold), (a, b), &ids, may_crash);
                    if let Some(back) = crashed {
                        down_until.push((0, back));
                    }
                }
                FaultKind::Membership => {
                    // A spare node joins as a learner, is promoted, and leaves.
                    let s = spare;
                    spare += 1;
                    push(
                        t,
                        FaultAction::Membership(ConfChangeType::AddLearnerNode, s),
                    );
                    push(
                        t + hold / 3,
                        FaultAction::Membership(ConfChangeType::AddNode, s),
                    );
                    push(
                        t + hold,
                        FaultAction::Membership(ConfChangeType::RemoveNode, s),
                    );
                }
                FaultKind::Snapshot => {
                    push(t, FaultAction::Compact(ids[rng.random_range(0..ids.len())]));
                }
                FaultKind::Hold => {
                    let k = rng.random_range(0..nodes.max(2) - 1);
                    let ms = rng.random_range(1500..6000);
                    push(t, FaultAction::HoldLeaderLink { k, ms });
                    // Often force the term change the held messages outlive.
                    match rng.random_range(0..3) {
                        0 => push(
                            t + ms / 3,
                            FaultAction::TransferLeader(ids[rng.random_range(0..ids.len())]),
                        ),
                        1 => {
                            push(t + ms / 4, FaultAction::IsolateLeader);
                            push(t + ms / 4 + hold, FaultAction::Heal);
                        }
                        _ => {}
                    }
                }
                FaultKind::Burst => {
                    // A few per run: each costs hundreds of messages when
                    // appends carry one entry.
                    if bursts < 3 {
                        bursts += 1;
                        push(t, FaultAction::ProposeBurst(rng.random_range(8..64)));
                    }
                }
                FaultKind::Targeted => {
                    let k = rng.random_range(0..nodes.max(2) - 1);
                    let d = rng.random_range(1..40);
                    let pick = rng.random_range(0..5);
                    if pick == 3 {
                        // A transfer whose transferee wins inside the old
                        // leader's lease while clients still read from it.
                        push(t, FaultAction::TransferCutOld { k });
                        push(t + hold.max(1500), FaultAction::Heal);
                    } else if pick == 4 {
                        // etcd #12133: two voters join while one follower's
                        // link is held; it learns both are committed at
                        // once, applies slowly, and is asked to lead.
                        let ms = rng.random_range(1500..4000);
                        let apply_ms = rng.random_range(100..400);
                        let (a, b) = (spare, spare + 1);
                        spare += 2;
                        push(t, FaultAction::LagConf { k, ms, apply_ms });
                        push(t + 50, FaultAction::Membership(ConfChangeType::AddNode, a));
                        push(
                            t + ms / 2,
                            FaultAction::Membership(ConfChangeType::AddNode, b),
                        );
                        push(
                            t + ms + 3000,
                            FaultAction::Membership(ConfChangeType::RemoveNode, a),
                        );
                        push(
                            t + ms + 3500,
                            FaultAction::Membership(ConfChangeType::RemoveNode, b),
                        );
                    } else if pick == 2 {
                        // Figure 8: an entry on a minority (old leader L1);
                        // the next leader L2 is cut off the moment it wins
                        // (its own entry at that index stays on its disk);
                        // once the others rejoin, the leader of the next term
                        // is cut off the moment its commit advances; then L2
                        // returns. A leader that committed the old entry by
                        // counting replicas loses it to L2 here.
                        push(t, FaultAction::MinorityLeader { k });
                        push(t + d, FaultAction::IsolateNextLeader);
                        push(t + 2500, FaultAction::Heal);
                        push(t + 2500, FaultAction::IsolateLeaderOnCommit);
                        push(t + 5000, FaultAction::ReconnectVictim(0));
                        push(t + 9000, FaultAction::ReconnectVictims);
                    } else if pick == 0 {
                        // Replicate to a minority, then lose the leader.
                        push(t, FaultAction::MinorityLeader { k });
                        if rng.random_bool(0.5) && (down_until.len() as u64) < minority {
                            push(t + d, FaultAction::CrashLeader);
                            push(t + hold, FaultAction::RestartAll);
                            down_until.push((0, t + hold));
                        }
                        push(t + hold, FaultAction::Heal);
                    } else {
                        // A change in flight across a leader change, and one
                        // more on the next leader at once (Ongaro's bug): the
                        // first reaches one follower only, then its leader is
                        // cut off alone, so that follower (the only one with
                        // the change) may lead next.
                        let (a, b) = (spare, spare + 1);
                        spare += 2;
                        let first = if rng.random_bool(0.75) {
                            ConfChangeType::AddNode
                        } else {
                            ConfChangeType::AddLearnerNode
                        };
                        push(t, FaultAction::MinorityLeader { k });
                        push(t + d, FaultAction::Membership(first, a));
                        let second = if rng.random_bool(0.5) {
                            FaultAction::OnNextLeader(ConfChangeType::AddNode, b)
                        } else {
                            let v = ids[rng.random_range(0..ids.len())];
                            FaultAction::OnNextLeader(ConfChangeType::RemoveNode, v)
                        };
                        push(t + d + 1, second);
                        push(t + d + 60, FaultAction::IsolateLeader);
                        push(t + hold.max(1500), FaultAction::Heal);
                        push(
                            t + hold + 2000,
                            FaultAction::Membership(ConfChangeType::RemoveNode, a),
                        );
                        push(
                            t + hold + 2500,
                            FaultAction::Membership(ConfChangeType::RemoveNode, b),
                        );
                    }
                }
            }
            t += rng.random_range(gap_ms.0..gap_ms.1.max(gap_ms.0 + 1));
        }
        actions.sort_by_key(|a| a.at_ms);
        FaultSchedule { actions }
    }
}

/// Draws one joint-consensus episode at `t` (thesis §4.3): replace a voter
/// atomically (possibly the leader), add two spares `a` and `b` at once and
/// remove them together later, or demote a voter and promote it back; with
/// a drawn transition. `Explicit` enters are left by the application later,
/// often after a leader change (the leader of the enter entry is then not
/// the leader of the leave entry); crashes and isolation of the leader
/// inside the joint state are drawn too.
///
/// Returns when a leader it crashed is back (`may_crash` allows it: fewer
/// than a minority are down).
fn joint_membership(
    rng: &mut ChaCha8Rng,
    push: &mut impl FnMut(u64, FaultAction),
    (t, hold): (u64, u64),
    (a, b): (u64, u64),
    ids: &[u64],
    may_crash: bool,
) -> Option<u64> {
    use ConfChangeType::{AddLearnerNode, AddNode, RemoveNode};
    use JointTarget::{Learner, Node, Voter};
    let transition = |rng: &mut ChaCha8Rng| match rng.random_range(0..3) {
        0 => ConfChangeTransition::Auto,
        1 => ConfChangeTransition::Implicit,
        _ => ConfChangeTransition::Explicit,
    };
    let k = rng.random_range(0..ids.len().max(1));
    let enter = transition(rng);
    let changes = match rng.random_range(0..3) {
        0 => vec![(AddNode, Node(a)), (RemoveNode, Voter(k))],
        1 => vec![(AddNode, Node(a)), (AddNode, Node(b))],
        _ => vec![(AddLearnerNode, Voter(k))],
    };
    let demote = changes.len() == 1;
    let two = matches!(changes[..], [(AddNode, Node(_)), (AddNode, Node(_))]);
    push(
        t,
        FaultAction::Joint {
            transition: enter,
            changes,
        },
    );
    let leave_at = t + rng.random_range(200..hold.max(201));
    // A leader change or a crash inside the joint state.
    let mut crashed = None;
    match rng.random_range(0..4) {
        0 => {
            let to = ids[rng.random_range(0..ids.len())];
            push(
                t + rng.random_range(20..200),
                FaultAction::TransferLeader(to),
            );
        }
        1 => {
            let at = t + rng.random_range(20..200);
            push(at, FaultAction::IsolateLeader);
            push(at + rng.random_range(1500..4000), FaultAction::Heal);
        }
        2 if may_crash => {
            let at = t + rng.random_range(1..100);
            let back = at + rng.random_range(300..3000);
            push(at, FaultAction::CrashLeader);
            push(back, FaultAction::RestartAll);
            crashed = Some(back);
        }
        _ => {}
    }
    if enter == ConfChangeTransition::Explicit {
        push(leave_at, FaultAction::LeaveJoint);
    }
    let later = leave_at + rng.random_range(500..3000);
    // Undo the episode later: promote a learner back (a simple change, or
    // through a joint state), or remove both spares together.
    let undo = if demote {
        Some(vec![(AddNode, Learner(0))])
    } else if two {
        Some(vec![(RemoveNode, Node(a)), (RemoveNode, Node(b))])
    } else {
        None
    };
    if let Some(changes) = undo {
        let t2 = transition(rng);
        push(
            later,
            FaultAction::Joint {
                transition: t2,
                changes,
            },
        );
        if t2 == ConfChangeTransition::Explicit {
            push(later + rng.random_range(200..2000), FaultAction::LeaveJoint);
        }
    }
    crashed
}

/// The fault schedule installed in a cluster, and what it has in effect.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub(crate) schedule: Vec<TimedFault>,
    /// Whether scheduled actions still take effect.
    pub(crate) active: bool,
    burst_until: u64,
    /// Faults armed to fire on an event.
    triggers: Vec<Trigger>,
    /// Nodes triggers disconnected, in order.
    victims: Vec<u64>,
    /// The healed majority of the liveness phase, once it began.
    pub(crate) core: Option<BTreeSet<u64>>,
}

/// What an armed [`Trigger`] asks the cluster to do when it fires.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reaction {
    /// Disconnect the node that just became leader.
    Isolate,
    /// Propose this membership change on the node that just became leader.
    Conf(ConfChangeType, u64),
}

impl FaultState {
    /// Until when a network burst lasts.
    pub(crate) fn burst_until(&self) -> u64 {
        self.burst_until
    }

    /// Records that a network burst lasts until `at`.
    pub(crate) fn set_burst_until(&mut self, at: u64) {
        self.burst_until = at;
    }

    /// Arms `t` to fire on its event.
    pub(crate) fn arm(&mut self, t: Trigger) {
        self.triggers.push(t);
    }

    /// Removes and returns the first armed trigger `pick` accepts.
    pub(crate) fn take_trigger(&mut self, pick: impl Fn(&Trigger) -> bool) -> Option<Trigger> {
        let i = self.triggers.iter().position(pick)?;
        Some(self.triggers.remove(i))
    }

    /// Whether some armed trigger satisfies `pick`.
    pub(crate) fn has_trigger(&self, pick: impl Fn(&Trigger) -> bool) -> bool {
        self.triggers.iter().any(pick)
    }

    /// Drops the armed triggers `stale` accepts.
    pub(crate) fn drop_triggers(&mut self, stale: impl Fn(&Trigger) -> bool) {
        self.triggers.retain(|t| !stale(t));
    }

    /// The `k`-th node a trigger disconnected.
    pub(crate) fn victim(&self, k: usize) -> Option<u64> {
        self.victims.get(k).copied()
    }

    /// Every node triggers disconnected, in order; forgets them.
    pub(crate) fn take_victims(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.victims)
    }

    /// `id` has just become leader: fires the first armed isolation (`id`
    /// becomes a victim), else the first armed membership change.
    pub(crate) fn on_new_leader(&mut self, id: u64) -> Option<Reaction> {
        if !self.active {
            return None;
        }
        if let Some(i) = self
            .triggers
            .iter()
            .position(|t| *t == Trigger::IsolateNextLeader)
        {
            self.triggers.remove(i);
            self.victims.push(id);
            return Some(Reaction::Isolate);
        }
        let i = self
            .triggers
            .iter()
            .position(|t| matches!(t, Trigger::Conf(..)))?;
        let Trigger::Conf(t, node) = self.triggers.remove(i) else {
            return None;
        };
        Some(Reaction::Conf(t, node))
    }

    /// Leader `id` of `term` has just advanced its commit index: whether an
    /// armed [`FaultAction::IsolateLeaderOnCommit`] fires (`id` becomes a
    /// victim, to be disconnected).
    pub(crate) fn on_leader_commit(&mut self, id: u64, term: u64) -> bool {
        if !self.active {
            return false;
        }
        let Some(i) = self
            .triggers
            .iter()
            .position(|t| matches!(t, Trigger::IsolateOnCommit(above) if term > *above))
        else {
            return false;
        };
        self.triggers.remove(i);
        self.victims.push(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schedule is a pure function of the seed (replay depends on it).
    #[test]
    fn schedule_is_deterministic_and_seed_dependent() {
        let a = FaultSchedule::generate(1, 5, &FaultKind::ALL, 20_000);
        let b = FaultSchedule::generate(1, 5, &FaultKind::ALL, 20_000);
        let c = FaultSchedule::generate(2, 5, &FaultKind::ALL, 20_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(!a.actions.is_empty());
        assert!(a.actions.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }

    /// At most a minority is ever down outside a total crash.
    #[test]
    fn crashes_stay_within_a_minority() {
        for seed in 0..50 {
            let s = FaultSchedule::generate(seed, 5, &[FaultKind::Crash], 30_000);
            let mut down = BTreeSet::new();
            for a in &s.actions {
                match a.action {
                    FaultAction::Crash(n) => {
                        down.insert(n);
                    }
                    FaultAction::Restart(n) => {
                        down.remove(&n);
                    }
                    _ => {}
                }
                assert!(down.len() <= 2, "seed {seed}: {down:?}");
            }
        }
    }

    #[test]
    fn kinds_parse_from_the_cli() {
        assert_eq!(parse_kinds("none").unwrap(), vec![]);
        assert!(parse_kinds("bogus").is_err());
        assert_eq!(
            parse_kinds("total-crash").unwrap(),
            vec![FaultKind::TotalCrash]
        );
    }
}
