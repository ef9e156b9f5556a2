//! The planted-bug catalogue stays usable: every patch in `harness/teeth`
//! parses, names its bug, and applies to the current tree (checked without
//! writing anything). `tinyraft-harness teeth` builds and runs each one; CI
//! proves the catch mechanism with the `--inject-bug` switch instead (see
//! `injected_ack_before_sync_bug_is_caught` in `campaign.rs`), since a
//! scratch build per patch costs minutes.

use std::path::Path;

use tinyraft_harness::teeth::catalogue;

/// The bugs issue 15 names, by patch name: each must be in the catalogue.
const NAMED: &[&str] = &[
    "figure8-commit-earlier-term",
    "ongaro-membership-before-first-commit",
    "etcd-7331-read-before-first-commit",
    "etcd-12133-campaign-with-unapplied-conf",
    "vote-for-stale-log",
    "two-votes-in-a-term",
    "heartbeat-raw-commit",
    "readindex-without-confirmation",
    "term-vote-not-must-sync",
    "check-quorum-never-steps-down",
    "follower-read-own-commit",
    "heartbeat-answer-keeps-window-full",
    "append-from-earlier-term",
    "lease-read-skips-active-quorum",
    "snapshot-fast-forward-ignores-term",
    "snapshot-stamped-with-commit-index",
    "removed-leader-keeps-leading",
    "snapshot-drops-membership",
    "ack-before-fsync",
    "apply-before-durable",
    "lose-vote-on-crash",
    "double-apply-after-restart",
    "transport-replays-old-messages",
];

#[test]
fn every_planted_bug_patch_applies_to_the_current_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cat = catalogue(&root.join("harness/teeth")).expect("catalogue parses");
    assert!(cat.len() >= 20, "only {} patches", cat.len());
    let mut failures = Vec::new();
    for (name, patch) in &cat {
        assert!(!patch.bug.is_empty(), "{name}: no Bug: line");
        if let Err(e) = patch.check(&root) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "patches that no longer apply (regenerate them):\n{}",
        failures.join("\n")
    );
    for n in NAMED {
        assert!(cat.iter().any(|(c, _)| c == n), "the catalogue lacks {n}");
    }
}
