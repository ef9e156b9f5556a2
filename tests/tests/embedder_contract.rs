//! Issue 14, "the embedder contract": regression tests for the bugs found by
//! outside review (one per bug, named for its rule or scenario) and for the
//! async-persistence features (`Ready::number`, `advance_append`,
//! `advance_append_async`, `on_persist_ready`, `advance_apply_to`,
//! `max_committed_size_per_ready`, `max_uncommitted_size`).
//!
//! Every test was checked against a hand revert of exactly the hunk of the
//! fix it guards (the "fails without" note above each test): with the hunk
//! reverted the test fails for the reason given, with it restored it passes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost::Message as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{ConfChange, ConfChangeType, Entry, Message, MessageType};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, Error, RawNode, ReadOnlyOption, Ready, StateRole};
use tinyraft_tests::*;

const ET: usize = 10;

/// Readies a node may hand out in a row before a test calls it a loop.
const READY_BOUND: usize = 50;

// ------------------------------------------------------------------ helpers

/// Messages the nodes of `cl` sent to `to` since the last call. `to` is not
/// one of the cluster's nodes (the cluster drops them): the test drives it.
fn new_msgs_to(cl: &RawCluster, to: u64, seen: &mut BTreeMap<u64, usize>) -> Vec<Message> {
    let mut out = Vec::new();
    for (id, recs) in &cl.readies {
        let done = seen.entry(*id).or_insert(0);
        for rec in &recs[*done..] {
            out.extend(rec.all_messages().into_iter().filter(|m| m.to == to));
        }
        *done = recs.len();
    }
    out
}

/// Writes what `rd` asks to persist into `store`, as an engine does:
/// snapshot, entries, hard state. Nothing is applied.
fn persist_ready(store: &MemStorage, rd: &Ready) {
    let mut core = store.wl();
    if let Some(s) = &rd.snapshot {
        core.apply_snapshot(s.clone())
            .unwrap_or_else(|e| panic!("storage refused Ready::snapshot: {e:?}"));
    }
    core.append(&rd.entries)
        .unwrap_or_else(|e| panic!("storage refused Ready::entries: {e:?}"));
    if let Some(hs) = rd.hs {
        core.set_hardstate(hs);
    }
}

/// A `MsgReadIndex` from `from` to `to` carrying `ctx` (API.md wire shape).
fn read_msg(from: u64, to: u64, ctx: &'static str) -> Message {
    let mut m = msg(from, to, MessageType::MsgReadIndex, 0);
    m.entries = vec![Entry {
        data: ctx.into(),
        ..Default::default()
    }];
    m
}

/// `MsgTransferLeader` as a leader (or a forwarding follower) sees it.
fn transfer(transferee: u64, to: u64) -> Message {
    msg(transferee, to, MessageType::MsgTransferLeader, 0)
}

fn has_read(r: &tinyraft::Raft<MemStorage>, ctx: &[u8]) -> bool {
    r.read_states.iter().any(|rs| &rs.request_ctx[..] == ctx)
}

/// Three fresh `Raft` peers with check-quorum and lease-based reads.
fn lease_network() -> Network {
    let peers = (0..3).map(|_| Peer::Fresh).collect();
    let mut nt = Network::new_with_config(peers, |id| {
        let mut c = config_with(id, false, true);
        c.read_only_option = ReadOnlyOption::LeaseBased;
        c
    });
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt
}

/// A single-voter raw node that leads with its empty entry applied.
fn single_leader(c: &Config) -> RawNode<MemStorage> {
    let mut rn = raw_node_from(c, new_storage(&[1], &[]));
    rn.campaign().expect("campaign");
    for _ in 0..READY_BOUND {
        if !rn.has_ready() {
            break;
        }
        handle_ready(&mut rn);
    }
    assert!(!rn.has_ready(), "Readies without end");
    assert_eq!(rn.raft.state, StateRole::Leader);
    assert_eq!(rn.raft.raft_log.applied, 1);
    rn
}

/// A node restarted from `store` knows the full membership and cannot win
/// an election on its own vote.
fn assert_restart_knows_membership(cfg: &Config, store: &MemStorage, when: &str) {
    let mut r = raw_node_from(cfg, store.clone());
    assert_eq!(
        r.raft.prs().voter_ids(),
        vec![1, 2, 3, 4],
        "{when}: restarted joiner must know voters 1..4 from its durable state"
    );
    r.campaign().expect("campaign");
    assert_ne!(
        r.raft.state,
        StateRole::Leader,
        "{when}: a restarted joiner elected itself alone"
    );
}

// -------------------------------------------------------- bug 1: joiners

/// Bug 1 (any membership a node acts on is durable first): node 4 starts on
/// an empty `MemStorage` and is added (AddNode 4) to a 3-node cluster. The
/// first thing it acts on arrives as `Ready::snapshot` (index >= 1, never 0)
/// whose conf state has voters 1..4. The engine persists that Ready, then
/// the entries that follow, and applies nothing; a restart from its storage
/// at either point has voters {1,2,3,4} and cannot elect itself alone. (The
/// snapshot the leader's `MemStorage` builds on demand is at its commit
/// index, so it covers AddNode 4: the joiner never applies that entry by
/// hand, and no committed entry is applied before the restarts.)
///
/// Fails without: the in-memory adoption path (the `!self.prs.has_members()
/// && meta.index <= committed` branch of `handle_snapshot` restored, and
/// `handle_append_response` answering a reject at index 0 with
/// `send_membership_snapshot` again): "node 4 acts on membership
/// [1, 2, 3, 4] that no Ready handed out for persistence". With that first
/// check disabled too, the crash itself shows: "after later entries,
/// before applying: restarted joiner must know voters 1..4" (it has []).
#[test]
fn joiner_membership_durable_before_acted_on_bug1() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    cl.node(1).propose("", "before").expect("propose");
    cl.settle();
    let add = conf_change(ConfChangeType::AddNode, 4);
    cl.node(1).propose_conf_change("", add).expect("AddNode 4");
    cl.settle();
    assert_eq!(cl.node(1).raft.prs().voter_ids(), vec![1, 2, 3, 4]);

    let cfg4 = new_config(4, ET, 1);
    let store4 = MemStorage::new();
    let mut n4 = raw_node_from(&cfg4, store4.clone());
    let mut seen = BTreeMap::new();
    let mut snap_index = None;
    let mut after_index = None;
    let mut after_persisted = false;
    for _ in 0..100 {
        for m in new_msgs_to(&cl, 4, &mut seen) {
            let _ = n4.step(m);
        }
        for _ in 0..READY_BOUND {
            if !n4.has_ready() {
                break;
            }
            let in_memory = n4.raft.prs().voter_ids();
            let rd = n4.ready();
            if snap_index.is_none() {
                match &rd.snapshot {
                    Some(s) => {
                        let meta = s.metadata.clone().expect("snapshot metadata");
                        assert!(meta.index >= 1, "membership snapshot at index 0: {meta:?}");
                        let cs = meta.conf_state.clone().expect("conf state");
                        assert_eq!(cs.voters, vec![1, 2, 3, 4], "{meta:?}");
                        snap_index = Some(meta.index);
                    }
                    None => {
                        assert!(
                            in_memory.is_empty(),
                            "node 4 acts on membership {in_memory:?} that no Ready handed \
                             out for persistence"
                        );
                        assert!(rd.entries.is_empty(), "entries before any membership");
                        assert!(rd.committed_entries.is_empty());
                    }
                }
            }
            persist_ready(&store4, &rd);
            if rd.entries.iter().any(|e| &e.data[..] == b"after") {
                after_persisted = true;
            }
            let had_snapshot = rd.snapshot.is_some();
            let mut out = rd.messages.clone();
            out.extend(rd.persisted_messages.iter().cloned());
            // Durable now; committed entries are deliberately not applied.
            let light = n4.advance_append(rd);
            out.extend(light.messages);
            if had_snapshot {
                assert_restart_knows_membership(&cfg4, &store4, "after the snapshot Ready");
            }
            for m in out {
                if let Some(rn) = cl.nodes.get_mut(&m.to) {
                    let _ = rn.step(m);
                }
            }
        }
        assert!(!n4.has_ready(), "node 4 hands out Readies without end");
        cl.settle();
        if !n4.raft.prs().voter_ids().is_empty() && after_index.is_none() {
            cl.node(1).propose("", "after").expect("propose after");
            after_index = Some(cl.node(1).raft.raft_log.last_index());
            cl.settle();
            continue;
        }
        if after_persisted && after_index.is_some_and(|i| n4.raft.raft_log.committed >= i) {
            break;
        }
        cl.tick_all();
    }
    assert!(after_persisted, "node 4 never persisted the later entry");
    let after = after_index.expect("proposed");
    assert!(n4.raft.raft_log.committed >= after);
    // The crash of the bug: entries durable, committed entries not applied.
    assert_restart_knows_membership(&cfg4, &store4, "after later entries, before applying");
    let snap_index = snap_index.expect("node 4 never received a snapshot");
    assert_eq!(
        n4.raft.raft_log.applied, snap_index,
        "nothing beyond the snapshot was applied"
    );
}

// ----------------------------------------------------- bug 2: must_sync

/// Bug 2 (`must_sync` covers everything `persisted_messages` acknowledge):
/// a follower already at the leader's term (term and vote unchanged) gets a
/// snapshot; its Ready carries only the snapshot (and a commit change) and
/// an append answer acknowledging it, so `must_sync` must be true.
///
/// Fails without: `ready()` setting `must_sync` for a snapshot (the
/// condition back to `!rd.entries.is_empty()` only): `must_sync` is false.
#[test]
fn snapshot_only_ready_must_sync_bug2() {
    let store = new_storage(&[1, 2, 3], &[]);
    store.wl().set_hardstate(tinyraft::eraftpb::HardState {
        term: 2,
        vote: 1,
        commit: 0,
    });
    let mut rn = raw_node_from(&new_config(2, ET, 1), store.clone());
    let mut hb = msg(1, 2, MessageType::MsgHeartbeat, 2);
    hb.commit = 0;
    rn.step(hb).expect("heartbeat");
    for _ in 0..READY_BOUND {
        if !rn.has_ready() {
            break;
        }
        handle_ready(&mut rn);
    }
    let mut m = msg(1, 2, MessageType::MsgSnapshot, 2);
    m.snapshot = Some(snapshot(10, 2, &[1, 2, 3], &[]));
    rn.step(m).expect("snapshot");
    let rd = rn.ready();
    assert!(rd.snapshot.is_some(), "{rd:?}");
    assert!(rd.entries.is_empty());
    let hs = rd.hs.expect("commit moved to the snapshot");
    assert_eq!((hs.term, hs.vote), (2, 1), "term and vote unchanged");
    let ack = filter_msgs(&rd.persisted_messages, MessageType::MsgAppendResponse, 1);
    assert_eq!(ack.len(), 1, "{rd:?}");
    assert_eq!(ack[0].index, 10, "the answer acknowledges the snapshot");
    assert!(
        rd.must_sync,
        "a snapshot acknowledged by persisted_messages must be synced"
    );
}

// ---------------------------------------- bug 3: lease reads, thesis §6.4.1

/// Thesis §6.4.1, bug 3a: a lease-based leader answers a read at once, but
/// from the moment a transfer starts (here `MsgTimeoutNow` sent, and lost)
/// the same read waits for a heartbeat round, and is answered by one.
///
/// Fails without: the `!self.lease_revoked &&` guard in
/// `handle_read_index_as_leader`: "read answered from the lease after a
/// transfer started".
#[test]
fn no_lease_reads_once_transfer_sent_timeout_now_6_4_1() {
    let mut nt = lease_network();
    nt.ignore(MessageType::MsgHeartbeat);
    nt.send(vec![read_msg(1, 1, "before")]);
    assert!(
        has_read(nt.peer(1), b"before"),
        "lease read answered at once"
    );
    nt.ignore(MessageType::MsgTimeoutNow);
    nt.send(vec![transfer(2, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(2));
    assert!(
        nt.delivered
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgTimeoutNow),
        "the MsgTimeoutNow was lost"
    );
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![read_msg(1, 1, "during")]);
    assert!(
        !has_read(nt.peer(1), b"during"),
        "read answered from the lease after a transfer started"
    );
    // A heartbeat round confirms it.
    nt.recover();
    nt.ignore(MessageType::MsgTimeoutNow);
    nt.tick(1);
    assert!(
        has_read(nt.peer(1), b"during"),
        "confirmed by a heartbeat round"
    );
}

/// Thesis §6.4.1, bug 3a: as above with a lagging transferee (the leader is
/// still sending it appends): no lease read once the transfer started.
///
/// Fails without: the `!self.lease_revoked &&` guard: "read answered from
/// the lease while catching up the transferee".
#[test]
fn no_lease_reads_while_catching_up_transferee_6_4_1() {
    let mut nt = lease_network();
    nt.drop(1, 3, 1.0);
    nt.send(vec![propose(1, "x")]);
    let last = nt.peer(1).raft_log.last_index();
    assert_eq!(nt.peer(1).raft_log.committed, last);
    assert!(nt.peer(1).prs().get(3).expect("3").matched < last);
    nt.ignore(MessageType::MsgHeartbeat);
    nt.send(vec![read_msg(1, 1, "before")]);
    assert!(has_read(nt.peer(1), b"before"));
    nt.send(vec![transfer(3, 1)]);
    assert_eq!(nt.peer(1).lead_transferee, Some(3));
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.send(vec![read_msg(1, 1, "during")]);
    assert!(
        !has_read(nt.peer(1), b"during"),
        "read answered from the lease while catching up the transferee"
    );
}

/// Bug 3b (the transfer runs on its own clock): a check-quorum leader cut
/// off from everyone, asked to transfer every three ticks (alternating
/// transferees, so each request starts a new transfer), still steps down
/// within two election timeouts.
///
/// Fails without: `handle_transfer_leader` restarting `election_elapsed`
/// (`self.election_elapsed = 0;` restored): "isolated leader still leads
/// after 20 ticks".
#[test]
fn isolated_leader_steps_down_despite_transfer_requests_check_quorum() {
    let mut nt = Network::fresh(3, false, true);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.isolate(1);
    for t in 0..2 * ET {
        if t % 3 == 0 {
            let transferee = if (t / 3) % 2 == 0 { 2 } else { 3 };
            nt.send(vec![transfer(transferee, 1)]);
        }
        nt.tick(1);
    }
    assert_ne!(
        nt.peer(1).state,
        StateRole::Leader,
        "isolated leader still leads after {} ticks",
        2 * ET
    );
}

/// Thesis §6.4.1, bug 3c: a voter that was just added and never answered
/// does not count toward the read lease. Voters {1,2,3}, 3 cut off (silent
/// through a check-quorum round): the lease holds with {1,2}; right after
/// applying AddNode 4 (4 never runs) it needs 3 of 4, and 4 has promised
/// nothing, so a read is not answered at once.
///
/// Fails without: `has_active_quorum` ignoring `active_by_grace` (the
/// `&& !p.active_by_grace` filter removed): "lease read counted the
/// just-added voter 4".
#[test]
fn just_added_voter_not_in_lease_6_4_1() {
    let mut nt = lease_network();
    nt.cut(1, 3);
    nt.tick_n(1, ET);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    assert!(!nt.peer(1).prs().get(3).expect("3").recent_active);
    assert!(nt.peer(1).prs().get(2).expect("2").recent_active);
    nt.ignore(MessageType::MsgHeartbeat);
    nt.send(vec![read_msg(1, 1, "before")]);
    assert!(has_read(nt.peer(1), b"before"), "lease of {{1,2}} of 3");
    let cc = conf_change(ConfChangeType::AddNode, 4);
    nt.send(vec![propose_conf(1, &cc)]);
    let last = nt.peer(1).raft_log.last_index();
    assert_eq!(nt.peer(1).raft_log.committed, last, "AddNode 4 committed");
    nt.peer_mut(1)
        .apply_conf_change(&cc)
        .expect("apply AddNode 4");
    assert_eq!(nt.peer(1).prs().voter_ids(), vec![1, 2, 3, 4]);
    nt.send(vec![read_msg(1, 1, "after-add")]);
    assert!(
        !has_read(nt.peer(1), b"after-add"),
        "lease read counted the just-added voter 4"
    );
}

// ---------------------------------------- bug 4: unknown conf change type

/// Bug 4: a conf change of unknown type (7) is refused at proposal time
/// with `ConfChangeRefused`, and nothing is appended.
///
/// Fails without: the `ConfChangeType::try_from(cc.change_type)` check in
/// `check_conf_change_proposal`: the proposal is `Ok` and appended.
#[test]
fn unknown_conf_change_type_refused_at_proposal_bug4() {
    let mut rn = single_leader(&new_config(1, ET, 1));
    let last = rn.raft.raft_log.last_index();
    let cc = ConfChange {
        change_type: 7,
        node_id: 2,
        ..Default::default()
    };
    let r = rn.propose_conf_change("", cc);
    assert!(
        matches!(r, Err(Error::ConfChangeRefused(_))),
        "unknown type accepted: {r:?}"
    );
    assert_eq!(rn.raft.raft_log.last_index(), last, "nothing appended");
    if rn.has_ready() {
        let rd = rn.ready();
        assert!(rd.entries.is_empty(), "{rd:?}");
    }
    assert_eq!(rn.raft.pending_conf_index, 0, "no conf change pending");
}

// -------------------------- bug 5: snapshots that exclude their receiver

/// Bug 5: a follower that receives a snapshot whose conf state leaves it
/// out installs nothing but answers with `MsgAppendResponse` at its commit
/// index (as etcd does), so the leader stops waiting on that snapshot.
///
/// Fails without: the `self.send_append_ack(from, committed)` in the
/// excluded-snapshot branch of `handle_snapshot`: no answer at all.
#[test]
fn snapshot_excluding_receiver_answered_at_commit_bug5() {
    let mut r = raft_with_terms(3, &[1, 2, 3], &[1, 1, 1], new_config(3, ET, 1));
    r.step(append_msg(1, 3, 1, 1, 3, 2, vec![]))
        .expect("append");
    persist(&mut r);
    take_msgs(&mut r);
    assert_eq!(r.raft_log.committed, 2);
    let first = r.raft_log.first_index();
    let mut m = msg(1, 3, MessageType::MsgSnapshot, 1);
    m.snapshot = Some(snapshot(10, 1, &[1, 2], &[]));
    r.step(m).expect("snapshot");
    assert!(
        r.raft_log.unstable_snapshot().is_none(),
        "installed nothing"
    );
    assert_eq!(r.raft_log.first_index(), first);
    assert_eq!(r.raft_log.committed, 2);
    assert_eq!(r.prs().voter_ids(), vec![1, 2, 3], "membership unchanged");
    let out = take_msgs(&mut r);
    let acks = filter_msgs(&out, MessageType::MsgAppendResponse, 1);
    assert_eq!(acks.len(), 1, "the snapshot is answered: {out:?}");
    assert!(!acks[0].reject);
    assert_eq!(acks[0].index, 2, "answered at the commit index");
}

/// Bug 5, raft-rs's `five_mem_node` scenario: the leader's stored snapshot
/// (made by hand, log compacted) predates node 4's addition. Node 4 starts
/// empty; `Storage::snapshot(request_index, 4)` on `MemStorage` builds one
/// that includes it, so AddNode 4 commits, node 4 joins and applies later
/// entries.
///
/// Fails without: `MemStorage::snapshot` checking that the stored snapshot
/// includes the peer (`&& includes_to(&latest)` removed): node 4 gets the
/// stored index-4 snapshot with voters [1, 2, 3] again and again and never
/// learns the membership ("node 4 never learned the membership").
#[test]
fn five_mem_node_joiner_gets_snapshot_including_it_bug5() {
    let mut cl = RawCluster::new(&[1, 2, 3], |id| new_config(id, ET, 1));
    cl.node(1).campaign().expect("campaign");
    cl.settle();
    for i in 0..3 {
        cl.node(1).propose("", format!("e{i}")).expect("propose");
        cl.settle();
    }
    for id in 1..=3 {
        cl.snapshot_and_compact(id);
    }
    cl.add(4, raw_node_from(&new_config(4, ET, 1), MemStorage::new()));
    cl.node(1)
        .propose_conf_change("", conf_change(ConfChangeType::AddNode, 4))
        .expect("AddNode 4");
    cl.settle();
    assert_eq!(cl.node(1).raft.prs().voter_ids(), vec![1, 2, 3, 4]);
    let add_index = cl.node(1).raft.raft_log.committed;
    for _ in 0..5 * ET {
        cl.tick_all();
        if cl.node(4).raft.raft_log.committed >= add_index {
            break;
        }
    }
    cl.node(1).propose("", "after").expect("propose after");
    for _ in 0..5 * ET {
        cl.tick_all();
        if cl.applied_data(4).contains(&b"after".to_vec()) {
            break;
        }
    }
    // (index, voters) of every snapshot node 4 received.
    let snaps: Vec<(u64, Vec<u64>)> = cl
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgSnapshot && m.to == 4)
        .filter_map(|m| m.snapshot.as_ref()?.metadata.clone())
        .map(|md| (md.index, md.conf_state.unwrap_or_default().voters))
        .collect();
    assert!(!snaps.is_empty(), "node 4 joined through a snapshot");
    assert_eq!(
        cl.node(4).raft.prs().voter_ids(),
        vec![1, 2, 3, 4],
        "node 4 never learned the membership; snapshots it got: {snaps:?}"
    );
    assert_eq!(
        cl.applied_data(4),
        vec![b"after".to_vec()],
        "node 4 applies entries after its snapshot"
    );
    assert_eq!(cl.applied_data(1).last(), Some(&b"after".to_vec()));
}

// ---------------------------------------- bug 6 and the async Ready loop

/// Bug 6: calling `ready()` again before `advance` never hands out the same
/// unstable entry, committed entry or snapshot twice.
///
/// Fails without: each of the three cursor updates in `ready()` /
/// `take_committed()` (`self.entries_cursor = ...`, `self.committed_cursor
/// = e.index`, `self.snapshot_cursor = ...`), one at a time: the entry, the
/// committed entry, or the snapshot comes out of the second `ready()` again.
#[test]
fn ready_twice_before_advance_hands_out_once_bug6() {
    let mut rn = single_leader(&new_config(1, ET, 1));
    let store = rn.store().clone();
    rn.propose("", "a").expect("propose");
    let rd1 = rn.ready();
    assert_eq!(rd1.entries.len(), 1);
    let a = rd1.entries[0].clone();
    let rd2 = rn.ready();
    assert!(
        rd2.entries.is_empty(),
        "unstable entry handed out twice: {rd2:?}"
    );
    persist_ready(&store, &rd1);
    persist_ready(&store, &rd2);
    let n2 = rd2.number();
    assert_eq!(n2, rd1.number() + 1);
    rn.advance_append_async(rd1);
    rn.advance_append_async(rd2);
    rn.on_persist_ready(n2);
    assert_eq!(rn.raft.raft_log.committed, a.index, "single voter commits");
    let rd3 = rn.ready();
    assert_eq!(rd3.committed_entries, vec![a.clone()]);
    let rd4 = rn.ready();
    assert!(
        rd4.committed_entries.is_empty(),
        "committed entry handed out twice: {rd4:?}"
    );
    rn.advance(rd3);
    rn.advance(rd4);
    assert_eq!(rn.raft.raft_log.applied, a.index);

    // A snapshot, too.
    let mut f = new_raw_node(2, &[1, 2]);
    let mut m = msg(1, 2, MessageType::MsgSnapshot, 1);
    m.snapshot = Some(snapshot(5, 1, &[1, 2], &[]));
    f.step(m).expect("snapshot");
    let s1 = f.ready();
    assert!(s1.snapshot.is_some());
    let s2 = f.ready();
    assert!(s2.snapshot.is_none(), "snapshot handed out twice: {s2:?}");
}

/// Bug 6 with several Readies outstanding (async persistence, TiKV-style):
/// three raw nodes persist in the background, report durability late and
/// sometimes repeat an old report (`on_persist_ready` with an earlier
/// number), send `persisted_messages` only once reported, and apply with a
/// lag (`advance_apply_to`). Every committed entry is handed out exactly
/// once, in index order, every unstable entry once, and all nodes apply the
/// same log with every proposal.
///
/// Fails without: `self.committed_cursor = e.index` in `take_committed`
/// (committed entries handed out again while apply lags): "node 1: entry 1
/// handed out for apply out of order or twice"; without
/// `self.entries_cursor = ...` in `ready()`: "node 1: entry 2 handed out
/// for persistence twice"; without `self.last_number += 1`: "Ready numbers".
#[test]
fn async_readies_hand_out_each_committed_entry_once_bug6() {
    const PROPOSALS: usize = 40;
    struct AsyncNode {
        rn: RawNode<MemStorage>,
        store: MemStorage,
        inflight: VecDeque<(u64, Vec<Message>)>,
        reported: u64,
        last_number: u64,
        handed: BTreeSet<(u64, u64)>,
        applied: Vec<Entry>,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut nodes: BTreeMap<u64, AsyncNode> = (1..=3)
        .map(|id| {
            let store = new_storage(&[1, 2, 3], &[]);
            let rn = raw_node_from(&new_config(id, ET, 1), store.clone());
            let n = AsyncNode {
                rn,
                store,
                inflight: VecDeque::new(),
                reported: 0,
                last_number: 0,
                handed: BTreeSet::new(),
                applied: Vec::new(),
            };
            (id, n)
        })
        .collect();
    nodes
        .get_mut(&1)
        .expect("1")
        .rn
        .campaign()
        .expect("campaign");
    let mut net: VecDeque<Message> = VecDeque::new();
    let mut proposed = 0;
    for round in 0..3000 {
        let leader_ok = nodes[&1].rn.raft.state == StateRole::Leader;
        if leader_ok && proposed < PROPOSALS && round % 2 == 0 {
            let n = nodes.get_mut(&1).expect("1");
            if n.rn.propose("", format!("p{proposed}")).is_ok() {
                proposed += 1;
            }
        }
        for (id, n) in nodes.iter_mut() {
            if n.rn.has_ready() {
                let rd = n.rn.ready();
                assert_eq!(rd.number(), n.last_number + 1, "node {id}: Ready numbers");
                n.last_number = rd.number();
                for e in &rd.entries {
                    assert!(
                        n.handed.insert((e.index, e.term)),
                        "node {id}: entry {} handed out for persistence twice",
                        e.index
                    );
                }
                persist_ready(&n.store, &rd);
                net.extend(rd.messages.iter().cloned());
                n.inflight
                    .push_back((rd.number(), rd.persisted_messages.clone()));
                for e in &rd.committed_entries {
                    let expect = n.applied.last().map_or(1, |l| l.index + 1);
                    assert_eq!(
                        e.index, expect,
                        "node {id}: entry {} handed out for apply out of order or twice",
                        e.index
                    );
                    n.applied.push(e.clone());
                }
                n.rn.advance_append_async(rd);
            }
            // Apply lags behind what was handed out.
            if rng.random_bool(0.3) {
                if let Some(l) = n.applied.last() {
                    n.rn.advance_apply_to(l.index);
                }
            }
            // Background writes complete late, several Readies at once.
            if !n.inflight.is_empty() && rng.random_bool(0.4) {
                let k = rng.random_range(1..=n.inflight.len());
                let number = n.inflight[k - 1].0;
                for (_, msgs) in n.inflight.drain(..k) {
                    net.extend(msgs);
                }
                n.rn.on_persist_ready(number);
                n.reported = number;
            }
            // A late, repeated report of an earlier Ready changes nothing.
            if n.reported > 1 && rng.random_bool(0.1) {
                let old = rng.random_range(1..n.reported);
                n.rn.on_persist_ready(old);
            }
        }
        for m in std::mem::take(&mut net) {
            if let Some(n) = nodes.get_mut(&m.to) {
                let _ = n.rn.step(m);
            }
        }
        let done = nodes.values().all(|n| {
            n.applied.iter().filter(|e| !e.data.is_empty()).count() == PROPOSALS
                && n.inflight.is_empty()
        });
        if done && proposed == PROPOSALS {
            break;
        }
    }
    assert_eq!(proposed, PROPOSALS);
    let reference: Vec<(u64, u64, Vec<u8>)> = nodes[&1]
        .applied
        .iter()
        .map(|e| (e.index, e.term, e.data.to_vec()))
        .collect();
    let data: Vec<Vec<u8>> = reference
        .iter()
        .filter(|(_, _, d)| !d.is_empty())
        .map(|(_, _, d)| d.clone())
        .collect();
    let want: Vec<Vec<u8>> = (0..PROPOSALS)
        .map(|i| format!("p{i}").into_bytes())
        .collect();
    assert_eq!(data, want, "every proposal applied once, in order");
    for (id, n) in &nodes {
        let got: Vec<(u64, u64, Vec<u8>)> = n
            .applied
            .iter()
            .map(|e| (e.index, e.term, e.data.to_vec()))
            .collect();
        assert_eq!(got, reference, "node {id} applied a different log");
    }
}

/// Async Ready loop (API.md Additions): `advance_append` returns the
/// follow-up at once: a single voter's entry commits as soon as its Ready
/// is durable, and comes back in the `LightReady` (commit index and
/// committed entry), unapplied until `advance_apply_to`. Ready numbers
/// grow 1, 2, 3.
///
/// Fails without: `light.committed_entries = self.take_committed()` in
/// `light_ready` (left empty): "LightReady lacks the committed empty
/// entry"; without `self.committed_cursor = e.index` in `take_committed`:
/// "advance_apply applies everything handed out"; without
/// `self.last_number += 1` in `ready()`: numbers are [0, 0, 0].
#[test]
fn advance_append_light_ready_and_ready_numbers() {
    let store = new_storage(&[1], &[]);
    let mut rn = raw_node_from(&new_config(1, ET, 1), store.clone());
    rn.campaign().expect("campaign");
    let mut numbers = Vec::new();
    let rd = rn.ready();
    numbers.push(rd.number());
    assert_eq!(rd.entries.len(), 1, "the leader's empty entry");
    persist_ready(&store, &rd);
    let light = rn.advance_append(rd);
    assert_eq!(light.commit_index, Some(1));
    assert_eq!(
        light.committed_entries.len(),
        1,
        "LightReady lacks the committed empty entry"
    );
    rn.advance_apply();
    assert_eq!(
        rn.raft.raft_log.applied, 1,
        "advance_apply applies everything handed out"
    );

    rn.propose("", "x").expect("propose");
    let rd = rn.ready();
    numbers.push(rd.number());
    assert_eq!(rd.entries.len(), 1);
    let x = rd.entries[0].clone();
    assert!(rd.committed_entries.is_empty(), "not durable yet");
    persist_ready(&store, &rd);
    let light = rn.advance_append(rd);
    assert_eq!(light.commit_index, Some(x.index));
    assert_eq!(
        light.committed_entries,
        vec![x.clone()],
        "LightReady lacks the committed entry"
    );
    assert_eq!(
        rn.raft.raft_log.applied, 1,
        "not applied before advance_apply_to"
    );
    rn.advance_apply_to(x.index);
    assert_eq!(rn.raft.raft_log.applied, x.index);

    rn.propose("", "y").expect("propose");
    let rd = rn.ready();
    numbers.push(rd.number());
    rn.advance(rd);
    assert_eq!(numbers, vec![1, 2, 3]);
}

// ---------------------------- bug 7: behaviour raft-rs has and checks

/// Bug 7a: a follower forwarding a `MsgReadIndex` from node 3 keeps
/// `from == 3`, so the leader's `MsgReadIndexResp` goes to node 3, which
/// gets the read state (and the forwarder does not).
///
/// Fails without: `send` stamping `from` unconditionally (`m.from =
/// self.id` restored): the answer goes to node 2.
#[test]
fn forwarded_read_index_keeps_requester_bug7() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.send(vec![read_msg(3, 2, "ctx-3")]);
    let fwd: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgReadIndex && m.to == 1)
        .collect();
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].from, 3, "forwarded with its origin");
    let resp: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgReadIndexResp)
        .collect();
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].to, 3, "the answer reaches the node that asked");
    assert!(has_read(nt.peer(3), b"ctx-3"));
    assert!(nt.peer(2).read_states.is_empty());
}

/// Bug 7a: a forwarded `MsgTransferLeader` keeps its transferee: node 2
/// forwards "transfer to 3" and node 3 becomes leader.
///
/// Fails without: `send` stamping `from` unconditionally (as above): node 2
/// becomes leader instead ("the transferee named in the request leads").
#[test]
fn forwarded_transfer_keeps_transferee_bug7() {
    let mut nt = Network::new(vec![Peer::Fresh, Peer::Fresh, Peer::Fresh]);
    nt.send(vec![hup(1)]);
    nt.send(vec![transfer(3, 2)]);
    let fwd: Vec<&Message> = nt
        .delivered
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgTransferLeader && m.to == 1)
        .collect();
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].from, 3, "forwarded with its transferee");
    assert_eq!(
        nt.peer(3).state,
        StateRole::Leader,
        "the transferee named in the request leads"
    );
    assert_eq!(nt.peer(1).state, StateRole::Follower);
    assert_eq!(nt.peer(2).state, StateRole::Follower);
    assert_eq!(nt.peer(1).leader_id, 3);
}

/// Bug 7b (thesis §6.4 with a membership change): voters {1,2,3,4}; a read
/// is acknowledged by 1 and 2 only (3 and 4 cut off during its heartbeat
/// round). RemoveNode 4 commits (3 is back for appends, no heartbeat is
/// sent); applying it on the leader makes {1,2} a quorum, and the read is
/// released at once.
///
/// Fails without: `self.release_reads_confirmed_by_quorum()` after a
/// leader applies a change: the read stays pending ("read released by the
/// smaller quorum: []").
#[test]
fn reads_released_when_conf_change_shrinks_quorum_bug7() {
    let peers = (0..4).map(|_| Peer::Fresh).collect();
    let mut nt = Network::new(peers);
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    let read_at = nt.peer(1).raft_log.committed;
    nt.cut(1, 3);
    nt.cut(1, 4);
    nt.send(vec![read_msg(1, 1, "r")]);
    assert!(nt.peer(1).read_states.is_empty(), "2 of 4 is no quorum");
    nt.recover();
    nt.cut(1, 4);
    let cc = conf_change(ConfChangeType::RemoveNode, 4);
    nt.send(vec![propose_conf(1, &cc)]);
    let last = nt.peer(1).raft_log.last_index();
    assert_eq!(
        nt.peer(1).raft_log.committed,
        last,
        "RemoveNode 4 committed"
    );
    assert!(
        nt.peer(1).read_states.is_empty(),
        "no heartbeat acked the read"
    );
    nt.peer_mut(1).apply_conf_change(&cc).expect("apply");
    let rs = &nt.peer(1).read_states;
    assert_eq!(rs.len(), 1, "read released by the smaller quorum: {rs:?}");
    assert_eq!(&rs[0].request_ctx[..], b"r");
    assert_eq!(rs[0].index, read_at);
}

/// Bug 7c (raft-rs): a leader does not send a snapshot to a follower that
/// is not recently active (silent through a check-quorum round), and does
/// once it answers a heartbeat.
///
/// Fails without: the `recent_active` guard at the top of `send_snapshot`:
/// a `MsgSnapshot` goes to the silent follower.
#[test]
fn no_snapshot_to_follower_not_recently_active_bug7() {
    let mut r = raft_from(&config_with(1, false, true), new_storage(&[1, 2, 3], &[]));
    make_leader_with_committed_noop(&mut r);
    for i in 0..3 {
        r.step(propose(1, format!("x{i}"))).expect("propose");
    }
    persist(&mut r);
    let term = r.term;
    let last = r.raft_log.last_index();
    r.step(append_ack(2, 1, term, last)).expect("ack");
    persist(&mut r);
    take_msgs(&mut r);
    assert_eq!(r.raft_log.committed, last);
    // A check-quorum round passes with 3 silent.
    for _ in 0..ET {
        r.tick();
        persist(&mut r);
        take_msgs(&mut r);
        r.step(msg(2, 1, MessageType::MsgHeartbeatResponse, term))
            .expect("heartbeat answer");
        take_msgs(&mut r);
    }
    assert_eq!(r.state, StateRole::Leader);
    assert!(!r.prs().get(3).expect("3").recent_active);
    // Compact so node 3 (matched 1) needs a snapshot.
    let cs = r.prs().conf_state();
    let store = r.raft_log.store().clone();
    store
        .wl()
        .create_snapshot(last, Some(cs), "image".into())
        .expect("snapshot");
    store.wl().compact(last).expect("compact");
    r.step(msg(3, 1, MessageType::MsgUnreachable, 0))
        .expect("unreachable");
    r.send_append(3);
    let out = take_msgs(&mut r);
    assert!(
        filter_msgs(&out, MessageType::MsgSnapshot, 3).is_empty(),
        "snapshot sent to a follower not recently active: {out:?}"
    );
    r.step(msg(3, 1, MessageType::MsgHeartbeatResponse, term))
        .expect("heartbeat answer");
    let out = take_msgs(&mut r);
    let snaps = filter_msgs(&out, MessageType::MsgSnapshot, 3);
    assert_eq!(snaps.len(), 1, "snapshot once 3 answered: {out:?}");
}

// ------------------------------------------------------ Config limits

/// `Config::max_uncommitted_size`: a leader whose followers are cut off
/// refuses proposals with `ProposalDropped` beyond the limit (one entry
/// always passes when nothing is uncommitted); commits free the budget.
///
/// Fails without: the `self.uncommitted.allows(bytes)` check in
/// `propose_as_leader`: the 2nd 60-byte proposal is accepted ("120
/// uncommitted bytes exceed the limit of 100").
#[test]
fn max_uncommitted_size_drops_proposals_beyond_limit() {
    let peers = (0..3).map(|_| Peer::Fresh).collect();
    let mut nt = Network::new_with_config(peers, |id| {
        let mut c = new_config(id, ET, 1);
        c.max_uncommitted_size = 100;
        c
    });
    nt.send(vec![hup(1)]);
    assert_eq!(nt.peer(1).state, StateRole::Leader);
    nt.cut(1, 2);
    nt.cut(1, 3);
    let prop = |nt: &mut Network, n: usize| {
        let r = nt.peer_mut(1).step(propose(1, vec![7u8; n]));
        nt.flush(1);
        r
    };
    assert_eq!(prop(&mut nt, 60), Ok(()));
    assert_eq!(
        prop(&mut nt, 60),
        Err(Error::ProposalDropped),
        "120 uncommitted bytes exceed the limit of 100"
    );
    assert_eq!(prop(&mut nt, 40), Ok(()), "exactly at the limit");
    assert_eq!(prop(&mut nt, 1), Err(Error::ProposalDropped));
    let last = nt.peer(1).raft_log.last_index();
    nt.recover();
    nt.tick(1);
    assert_eq!(
        nt.peer(1).raft_log.committed,
        last,
        "caught up and committed"
    );
    assert_eq!(prop(&mut nt, 60), Ok(()), "commit freed the budget");
    // One oversized entry passes when nothing is uncommitted.
    nt.tick(1);
    assert_eq!(nt.peer(1).raft_log.committed, last + 1);
    nt.cut(1, 2);
    nt.cut(1, 3);
    assert_eq!(prop(&mut nt, 1000), Ok(()), "a lone large entry passes");
    assert_eq!(prop(&mut nt, 1), Err(Error::ProposalDropped));
}

/// `Config::max_committed_size_per_ready`: each Ready hands out at most
/// that many bytes of committed entries (at least one entry); the rest
/// come in later Readies, in order.
///
/// Fails without: the limit passed to `slice` in `take_committed` (`None`
/// instead): "limit 250: 5 entries, 530 bytes in one Ready".
#[test]
fn max_committed_size_per_ready_splits_committed_entries() {
    for limit in [250u64, 1] {
        let mut c = new_config(1, ET, 1);
        c.max_committed_size_per_ready = limit;
        let mut rn = single_leader(&c);
        for i in 0..5u8 {
            rn.propose("", vec![i; 100]).expect("propose");
        }
        let mut batches: Vec<Vec<Entry>> = Vec::new();
        for _ in 0..READY_BOUND {
            if !rn.has_ready() {
                break;
            }
            let rec = handle_ready(&mut rn);
            if !rec.committed_entries.is_empty() {
                batches.push(rec.committed_entries.clone());
            }
        }
        assert!(!rn.has_ready(), "limit {limit}: Readies without end");
        for b in &batches {
            let bytes: u64 = b.iter().map(|e| e.encoded_len() as u64).sum();
            assert!(
                b.len() == 1 || bytes <= limit,
                "limit {limit}: {} entries, {bytes} bytes in one Ready",
                b.len()
            );
        }
        let all: Vec<Entry> = batches.concat();
        let idx: Vec<u64> = all.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![2, 3, 4, 5, 6], "limit {limit}: in order, once");
        let want = if limit == 1 { 5 } else { 3 };
        assert_eq!(batches.len(), want, "limit {limit}: Readies with entries");
    }
}
