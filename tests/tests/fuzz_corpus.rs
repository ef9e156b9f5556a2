//! Fuzz corpora on stable (issue 6, "Fuzz targets"): every target body of
//! [`tinyraft_tests::fuzzing`] runs over its checked-in seed corpus
//! (`fuzz/corpus/<target>/`) and over seeded random inputs, so CI exercises
//! them without libFuzzer. Set `FUZZ_CORPUS_CASES` to change the number of
//! random inputs per target.

use std::fs;
use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tinyraft_tests::fuzzing;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `body` over every corpus file of `target`; returns how many.
fn run_corpus(target: &str, body: fn(&[u8])) -> usize {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    for f in &files {
        let data = fs::read(f).expect("read corpus file");
        eprintln!("{target}: {}", f.display());
        body(&data);
    }
    assert!(files.len() >= 12, "{target}: seed corpus too small");
    files.len()
}

fn cases(default: usize) -> usize {
    std::env::var("FUZZ_CORPUS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `body` over `n` random inputs of up to `max_len` bytes.
fn run_random(seed: u64, n: usize, max_len: usize, body: fn(&[u8])) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..n {
        let len = rng.random_range(0..=max_len);
        let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        body(&data);
    }
}

/// Invalid-input rule and §5.1 under arbitrary messages in every role.
#[test]
fn step_message_fuzz() {
    run_corpus("step_message", fuzzing::step_message);
    run_random(0x57e9, cases(3000), 400, fuzzing::step_message);
}

/// Decoded wire bytes never panic a node in any role.
#[test]
fn decode_message_fuzz() {
    run_corpus("decode_message", fuzzing::decode_message);
    run_random(0xdec0, cases(3000), 200, fuzzing::decode_message);
}

/// `RaftLog<MemStorage>` agrees with a plain model under any op sequence.
#[test]
fn raftlog_ops_fuzz() {
    run_corpus("raftlog_ops", fuzzing::raftlog_ops);
    run_random(0x1095, cases(3000), 300, fuzzing::raftlog_ops);
}

/// Harness invariants hold under fault schedules drawn from bytes.
#[test]
fn sim_schedule_fuzz() {
    run_corpus("sim_schedule", fuzzing::sim_schedule);
    run_random(0x5137, cases(3000) / 15, 32, fuzzing::sim_schedule);
}

/// Regenerates the seed corpus: `cargo test -p tinyraft-tests --test
/// fuzz_corpus -- --ignored write_seed_corpus`. Files are named by content
/// hash, so rerunning adds nothing twice; libFuzzer-found inputs join them.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    use prost::Message as _;
    use tinyraft::eraftpb::MessageType as T;
    use tinyraft_tests::*;

    fn write(target: &str, data: &[u8]) {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("mkdir corpus");
        // FNV-1a: a stable name for the content.
        let h = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        fs::write(dir.join(format!("seed-{h:016x}")), data).expect("write corpus file");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0xc0a9);

    // decode_message: real encoded messages of every kind.
    let ents = vec![entry(2, 3), entry_data(2, 4, "x"), entry(3, 5)];
    let mut snap_msg = msg(2, 1, T::MsgSnapshot, 3);
    snap_msg.snapshot = Some(snapshot(5, 3, &[1, 2, 3], &[]));
    let mut no_meta = msg(2, 1, T::MsgSnapshot, 3);
    no_meta.snapshot = Some(Default::default());
    let mut hb = msg(2, 1, T::MsgHeartbeat, 3);
    hb.commit = 2;
    let mut rej = append_ack(2, 1, 3, 1);
    rej.reject = true;
    rej.reject_hint = 1;
    let real = vec![
        append_msg(2, 1, 3, 2, 2, 2, ents.clone()),
        append_msg(2, 1, 3, 2, 2, 2, vec![entry(2, 3), entry(2, 9)]),
        append_msg(2, 1, 3, 2, 2, 2, vec![entry(3, 3), entry(2, 4)]),
        append_msg(2, 1, u64::MAX, u64::MAX, u64::MAX, u64::MAX, vec![]),
        append_ack(2, 1, 3, 3),
        rej,
        vote_req(T::MsgRequestVote, 2, 1, 3, 2, 3),
        vote_req(T::MsgRequestPreVote, 3, 1, 4, 2, 3),
        vote_resp(T::MsgRequestVoteResponse, 2, 1, 3, true),
        vote_resp(T::MsgRequestPreVoteResponse, 3, 1, 3, false),
        snap_msg,
        no_meta,
        hb,
        msg(2, 1, T::MsgHeartbeatResponse, 3),
        msg(2, 1, T::MsgTimeoutNow, 3),
        msg(2, 1, T::MsgTransferLeader, 0),
        propose(2, "data"),
        hup(1),
        beat(1),
        msg(2, 1, T::MsgReadIndex, 0),
        msg(2, 1, T::MsgCheckQuorum, 0),
    ];
    for m in &real {
        write("decode_message", &m.encode_to_vec());
    }
    write("decode_message", b"");
    write("decode_message", &[0xff; 16]);

    // step_message / raftlog_ops / sim_schedule: every role and op prefix,
    // plus random bytes of a few lengths.
    for role in 0..4u8 {
        for n in 0..5u8 {
            let mut d = vec![role, n, 1, 1, 0, n];
            d.extend((0..40).map(|_| rng.random::<u8>()));
            write("step_message", &d);
        }
    }
    for op in 0..7u8 {
        let mut d = vec![0, 0, 2, op];
        d.extend((0..60).map(|_| rng.random::<u8>()));
        write("raftlog_ops", &d);
    }
    for len in [8usize, 30, 80, 200] {
        let d: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        write("raftlog_ops", &d);
        write("raftlog_ops", &d.iter().map(|b| b % 8).collect::<Vec<_>>());
    }
    for nodes in 0..3u8 {
        for mask in [0u8, 1, 2, 4, 8, 16, 32, 64, 128, 0xff] {
            let mut d = vec![nodes];
            d.extend((0..8).map(|_| rng.random::<u8>()));
            d.extend([mask, rng.random(), rng.random(), rng.random()]);
            d.extend((0..6).map(|_| rng.random::<u8>()));
            write("sim_schedule", &d);
        }
    }
}

/// Regression found by `step_message` (corpus file
/// `fuzz/corpus/step_message/regress-term-below-log-term`): a `MsgAppend`
/// whose first entry has a term below the message's `log_term` was accepted,
/// and the follower's log terms then decreased (1 followed by 0), which no
/// Raft log may do (§5.3: a leader's log terms never decrease, so neither
/// does any prefix it sends). API.md's invalid-input rule ("entry terms
/// decreasing") now refuses it with `InvalidMessage`, state unchanged.
#[test]
fn append_entry_term_below_log_term_fuzz() {
    use tinyraft::Error;
    use tinyraft::eraftpb::HardState;
    use tinyraft_tests::*;
    let s = storage_with_terms(&[1, 2, 3], &[1], 1);
    let mut r = raft_from(&config_with(1, false, false), s);
    r.become_follower(1, 2);
    let before = (r.hard_state(), log_ids(&r));
    let res = r.step(append_msg(2, 1, 3, 1, 1, 0, vec![entry(0, 2)]));
    let after: (HardState, Vec<(u64, u64)>) = (r.hard_state(), log_ids(&r));
    assert!(
        matches!(res, Err(Error::InvalidMessage(_))),
        "accepted an entry term below log_term: {res:?}, log {:?}",
        after.1
    );
    assert_eq!(after, before, "a refused message changed state");
}
