//! Constructors for configs, storages, nodes, entries and messages, and the
//! `persist` step a real engine performs between `Raft::step` calls.

use bytes::Bytes;
use prost::Message as _;
use slog::{Discard, Logger, o};
use tinyraft::eraftpb::{
    ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType,
    Snapshot, SnapshotMetadata,
};
use tinyraft::storage::MemStorage;
use tinyraft::{Config, NO_LIMIT, Raft, RawNode};

/// The seed every helper-built config uses unless a test overrides it.
pub const SEED: u64 = 0x7e57_5eed;

/// A logger that drops everything: suites stay quiet.
pub fn logger() -> Logger {
    Logger::root(Discard, o!())
}

/// A config with the given election/heartbeat ticks, unlimited message size,
/// a 256-message window and the shared [`SEED`].
pub fn new_config(id: u64, election: usize, heartbeat: usize) -> Config {
    let mut c = Config::new(id);
    c.election_tick = election;
    c.heartbeat_tick = heartbeat;
    c.max_size_per_msg = NO_LIMIT;
    c.max_inflight_msgs = 256;
    c.seed = SEED;
    c
}

/// A config as [`new_config`] with `election = 10, heartbeat = 1` and the
/// given pre-vote / check-quorum switches.
pub fn config_with(id: u64, pre_vote: bool, check_quorum: bool) -> Config {
    let mut c = new_config(id, 10, 1);
    c.pre_vote = pre_vote;
    c.check_quorum = check_quorum;
    c
}

/// A storage whose initial conf state has these voters and learners.
pub fn new_storage(voters: &[u64], learners: &[u64]) -> MemStorage {
    MemStorage::new_with_conf_state((voters.to_vec(), learners.to_vec()))
}

/// `Raft::new`, panicking with the error if construction fails.
pub fn raft_from(c: &Config, store: MemStorage) -> Raft<MemStorage> {
    Raft::new(c, store, &logger()).unwrap_or_else(|e| panic!("Raft::new failed: {e:?}"))
}

/// A fresh raft `id` among `voters`, with the given ticks.
pub fn new_raft(id: u64, voters: &[u64], election: usize, heartbeat: usize) -> Raft<MemStorage> {
    raft_from(
        &new_config(id, election, heartbeat),
        new_storage(voters, &[]),
    )
}

/// `RawNode::new`, panicking with the error if construction fails.
pub fn raw_node_from(c: &Config, store: MemStorage) -> RawNode<MemStorage> {
    RawNode::new(c, store, &logger()).unwrap_or_else(|e| panic!("RawNode::new failed: {e:?}"))
}

/// A fresh raw node `id` among `voters` (election 10, heartbeat 1).
pub fn new_raw_node(id: u64, voters: &[u64]) -> RawNode<MemStorage> {
    raw_node_from(&new_config(id, 10, 1), new_storage(voters, &[]))
}

/// A storage holding entries `1..=terms.len()` with the given terms, and a
/// hard state at `term` (no vote, commit 0): a follower that has seen this log.
pub fn storage_with_terms(voters: &[u64], terms: &[u64], term: u64) -> MemStorage {
    let s = new_storage(voters, &[]);
    let ents: Vec<Entry> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| entry(*t, i as u64 + 1))
        .collect();
    {
        let mut core = s.wl();
        core.append(&ents).expect("append to fresh storage");
        core.set_hardstate(HardState {
            term,
            ..Default::default()
        });
    }
    s
}

/// A raft `id` restarted from a log with these terms, at term `max(terms)`.
pub fn raft_with_terms(id: u64, voters: &[u64], terms: &[u64], c: Config) -> Raft<MemStorage> {
    let term = terms.iter().copied().max().unwrap_or(0);
    let mut c = c;
    c.id = id;
    raft_from(&c, storage_with_terms(voters, terms, term))
}

/// A raft `id` restarted with hard state `{term, vote}` and an empty log.
pub fn voted_raft(id: u64, voters: &[u64], term: u64, vote: u64) -> Raft<MemStorage> {
    let s = new_storage(voters, &[]);
    s.wl().set_hardstate(HardState {
        term,
        vote,
        ..Default::default()
    });
    raft_from(&new_config(id, 10, 1), s)
}

/// An empty normal entry.
pub fn entry(term: u64, index: u64) -> Entry {
    Entry {
        term,
        index,
        ..Default::default()
    }
}

/// A normal entry carrying `data`.
pub fn entry_data(term: u64, index: u64, data: impl Into<Bytes>) -> Entry {
    Entry {
        term,
        index,
        data: data.into(),
        ..Default::default()
    }
}

/// A `ConfChange` of type `t` for `node`.
pub fn conf_change(t: ConfChangeType, node: u64) -> ConfChange {
    let mut cc = ConfChange {
        node_id: node,
        ..Default::default()
    };
    cc.set_change_type(t);
    cc
}

/// An unstamped `EntryConfChange` whose data is the prost-encoded `cc`.
pub fn conf_change_entry(cc: &ConfChange) -> Entry {
    let mut e = Entry {
        data: cc.encode_to_vec().into(),
        ..Default::default()
    };
    e.set_entry_type(EntryType::EntryConfChange);
    e
}

/// A message of type `t` from `from` to `to` at `term`.
pub fn msg(from: u64, to: u64, t: MessageType, term: u64) -> Message {
    let mut m = Message {
        from,
        to,
        term,
        ..Default::default()
    };
    m.set_msg_type(t);
    m
}

/// `MsgHup` for `id` (local: term 0).
pub fn hup(id: u64) -> Message {
    msg(id, id, MessageType::MsgHup, 0)
}

/// `MsgBeat` for `id` (local: term 0).
pub fn beat(id: u64) -> Message {
    msg(id, id, MessageType::MsgBeat, 0)
}

/// A local `MsgPropose` at `id` of one normal entry carrying `data`.
pub fn propose(id: u64, data: impl Into<Bytes>) -> Message {
    let mut m = msg(id, id, MessageType::MsgPropose, 0);
    m.entries = vec![Entry {
        data: data.into(),
        ..Default::default()
    }];
    m
}

/// A local `MsgPropose` at `id` of one conf-change entry.
pub fn propose_conf(id: u64, cc: &ConfChange) -> Message {
    let mut m = msg(id, id, MessageType::MsgPropose, 0);
    m.entries = vec![conf_change_entry(cc)];
    m
}

/// A `MsgAppend` from `from` to `to`.
pub fn append_msg(
    from: u64,
    to: u64,
    term: u64,
    log_term: u64,
    index: u64,
    commit: u64,
    entries: Vec<Entry>,
) -> Message {
    let mut m = msg(from, to, MessageType::MsgAppend, term);
    m.log_term = log_term;
    m.index = index;
    m.commit = commit;
    m.entries = entries;
    m
}

/// An accepting `MsgAppendResponse` from `from` to `to` acknowledging `index`.
pub fn append_ack(from: u64, to: u64, term: u64, index: u64) -> Message {
    let mut m = msg(from, to, MessageType::MsgAppendResponse, term);
    m.index = index;
    m
}

/// A `MsgRequestVote` (or pre-vote, by `t`) with the candidate's last log position.
pub fn vote_req(
    t: MessageType,
    from: u64,
    to: u64,
    term: u64,
    log_term: u64,
    index: u64,
) -> Message {
    let mut m = msg(from, to, t, term);
    m.log_term = log_term;
    m.index = index;
    m
}

/// A vote response (or pre-vote response, by `t`).
pub fn vote_resp(t: MessageType, from: u64, to: u64, term: u64, granted: bool) -> Message {
    let mut m = msg(from, to, t, term);
    m.reject = !granted;
    m
}

/// A snapshot at `index`/`term` with this membership and a small image.
// `..Default::default()`: API.md lets a project extend the message shapes.
#[allow(clippy::needless_update)]
pub fn snapshot(index: u64, term: u64, voters: &[u64], learners: &[u64]) -> Snapshot {
    let cs: ConfState = (voters.to_vec(), learners.to_vec()).into();
    Snapshot {
        data: Bytes::from_static(b"snap"),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(cs),
            index,
            term,
            ..Default::default()
        }),
    }
}

/// Drains and returns the raft's outbox.
pub fn take_msgs(r: &mut Raft<MemStorage>) -> Vec<Message> {
    std::mem::take(&mut r.msgs)
}

/// Plays the engine's disk for a bare `Raft`, as API.md's Ready cycle would:
/// a pending snapshot is applied to the raft's `MemStorage` and reported with
/// `on_persist_snap`; unstable entries are appended and reported with
/// `on_persist_entries(last.index, last.term)`; the hard state is saved.
///
/// The network calls this after every step, so a leader's own entries become
/// durable (and count toward its quorum, API.md's Own-log rule) before the
/// next message is delivered.
pub fn persist(r: &mut Raft<MemStorage>) {
    if let Some(snap) = r.raft_log.unstable_snapshot().cloned() {
        let idx = snap.metadata.as_ref().map_or(0, |m| m.index);
        let res = r.raft_log.store().wl().apply_snapshot(snap);
        res.unwrap_or_else(|e| panic!("persist: storage refused the core's snapshot: {e:?}"));
        r.on_persist_snap(idx);
    }
    let ents = r.raft_log.unstable_entries().to_vec();
    if let Some(last) = ents.last() {
        let (index, term) = (last.index, last.term);
        let res = r.raft_log.store().wl().append(&ents);
        res.unwrap_or_else(|e| panic!("persist: storage refused the core's entries: {e:?}"));
        r.on_persist_entries(index, term);
    }
    let hs = r.hard_state();
    r.raft_log.store().wl().set_hardstate(hs);
}

/// `(index, term)` of every entry the raft's log holds.
pub fn log_ids(r: &Raft<MemStorage>) -> Vec<(u64, u64)> {
    r.raft_log
        .all_entries()
        .iter()
        .map(|e| (e.index, e.term))
        .collect()
}

/// `(index, term, data)` of every entry the raft's log holds.
pub fn log_full(r: &Raft<MemStorage>) -> Vec<(u64, u64, Vec<u8>)> {
    r.raft_log
        .all_entries()
        .iter()
        .map(|e| (e.index, e.term, e.data.to_vec()))
        .collect()
}

/// The messages of type `t` in `msgs` addressed to `to`.
pub fn filter_msgs(msgs: &[Message], t: MessageType, to: u64) -> Vec<Message> {
    msgs.iter()
        .filter(|m| m.msg_type() == t && m.to == to)
        .cloned()
        .collect()
}

/// Makes a fresh raft the leader of term 1 with its empty entry (index 1)
/// durable and acknowledged by every other voter, so it is committed; the
/// outbox is drained afterwards.
pub fn make_leader_with_committed_noop(r: &mut Raft<MemStorage>) {
    r.become_candidate();
    r.become_leader();
    persist(r);
    let term = r.term;
    let last = r.raft_log.last_index();
    for id in r.prs().voter_ids() {
        if id != r.id {
            r.step(append_ack(id, r.id, term, last)).expect("ack noop");
        }
    }
    persist(r);
    take_msgs(r);
}
