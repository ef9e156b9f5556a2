//! The simulator's event trace: what happened, when, in one canonical order.
//!
//! Every run of the simulator pushes one [`TraceEvent`] per observable step
//! (role changes, message sends/deliveries/drops, faults, proposals, commits,
//! client operations, ...). The trace serves three purposes:
//!
//! * **Determinism checks.** [`Trace::hash`] is a stable 64-bit hash
//!   over a canonical binary encoding of every event ever pushed. It does not
//!   depend on the Rust version, the platform or `std`'s hasher, so the same
//!   seed must give the same hash on any machine, today and later.
//! * **Post-mortems.** A violation report shows [`Trace::recent`] events: the
//!   last [`RECENT_CAPACITY`] are always retained, even when the trace does
//!   not keep everything.
//! * **Replay output.** With `keep_all`, [`Trace::to_jsonl`] writes every
//!   event as one JSON object per line, and the timeline renderer
//!   ([`crate::timeline`]) draws them.
//!
//! Campaigns push millions of events, so [`Trace::push`] hashes the fields
//! directly (no JSON, no allocation) and, without `keep_all`, only moves the
//! event into a fixed-size ring.
//!
//! # Example
//!
//! ```
//! use tinyraft_harness::trace::{EventKind, Trace};
//!
//! let mut t = Trace::new(true);
//! t.push(0, EventKind::Crash { node: 2 });
//! t.push(15, EventKind::Restart { node: 2 });
//! assert_eq!(t.len(), 2);
//! assert_eq!(t.events()[1].seq, 1);
//! let jsonl = t.to_jsonl();
//! assert!(jsonl.lines().next().unwrap().contains(r#""kind":"crash""#));
//!
//! // The hash covers every event, even when the trace keeps only a ring.
//! let mut small = Trace::new(false);
//! small.push(0, EventKind::Crash { node: 2 });
//! small.push(15, EventKind::Restart { node: 2 });
//! assert_eq!(small.hash(), t.hash());
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many of the most recent events a [`Trace`] always retains.
pub const RECENT_CAPACITY: usize = 256;

/// How far the campaign ring may grow past [`RECENT_CAPACITY`] before its
/// oldest events are dropped in one move.
const RING_SLACK: usize = 8;

/// A name in an event: a fixed string when the simulator records it (no
/// allocation per event), an owned one when a trace is read back.
pub type Label = std::borrow::Cow<'static, str>;

/// One observable step of a simulated run.
///
/// Serialized (JSON) flat: `{"seq":3,"t_ms":120,"kind":"send","id":7,...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position of the event in the run, from 0, in push order.
    pub seq: u64,
    /// Simulated time of the event, in milliseconds since the run began.
    pub t_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl fmt::Display for TraceEvent {
    /// `#seq @t_ms kind {fields as JSON}`: one line, for violation reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = serde_json::to_string(&self.kind).unwrap_or_else(|e| format!("<{e}>"));
        write!(f, "#{} @{}ms {}", self.seq, self.t_ms, body)
    }
}

/// What happened in one [`TraceEvent`].
///
/// Node ids are Raft ids (`u64`, from 1). Message ids (`id`) are assigned by
/// the simulated network, one per message handed to it, so `Send`,
/// `Deliver`, `Drop` and `Duplicate` of one message can be matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A node's role, term or known leader changed (`leader` 0 = none).
    Role {
        /// The node.
        node: u64,
        /// `follower`, `candidate`, `pre_candidate` or `leader`.
        role: Label,
        /// Its current term.
        term: u64,
        /// The leader it knows of, 0 if none.
        leader: u64,
    },
    /// A message was handed to the network.
    Send {
        /// Network-assigned message id.
        id: u64,
        /// Sender.
        from: u64,
        /// Receiver.
        to: u64,
        /// Message type name, e.g. `MsgAppend`.
        msg_type: Label,
        /// Message term.
        term: u64,
        /// Message `index` field.
        index: u64,
        /// Message `log_term` field.
        log_term: u64,
        /// Message `commit` field.
        commit: u64,
        /// Number of entries carried.
        entries: u32,
        /// Message `reject` flag.
        reject: bool,
    },
    /// A message reached its receiver.
    Deliver {
        /// Network-assigned message id.
        id: u64,
        /// Sender.
        from: u64,
        /// Receiver.
        to: u64,
    },
    /// A message was lost.
    Drop {
        /// Network-assigned message id.
        id: u64,
        /// Sender.
        from: u64,
        /// Receiver.
        to: u64,
        /// Why: `random`, `partition`, `disconnected`, `crashed`, ...
        reason: Label,
    },
    /// The network scheduled a second copy of a message.
    Duplicate {
        /// Network-assigned id of the duplicated message.
        id: u64,
    },
    /// A node crashed, losing everything not yet synced.
    Crash {
        /// The node.
        node: u64,
    },
    /// A node restarted from its durable state.
    Restart {
        /// The node.
        node: u64,
    },
    /// A node was cut from the network.
    Disconnect {
        /// The node.
        node: u64,
    },
    /// A node was reconnected to the network.
    Connect {
        /// The node.
        node: u64,
    },
    /// The network was split into groups that only talk within themselves.
    Partition {
        /// The groups, each a list of node ids.
        groups: Vec<Vec<u64>>,
    },
    /// All partitions and disconnections were cleared.
    Heal,
    /// A leader appended a client proposal to its log.
    Propose {
        /// The leader.
        node: u64,
        /// Index the proposal took.
        index: u64,
        /// Term the proposal took.
        term: u64,
    },
    /// A node's commit index advanced.
    Commit {
        /// The node.
        node: u64,
        /// Its new commit index.
        index: u64,
    },
    /// A node applied a committed entry to its state machine.
    Apply {
        /// The node.
        node: u64,
        /// Index of the entry.
        index: u64,
        /// Term of the entry.
        term: u64,
    },
    /// A node's simulated disk finished a sync.
    Sync {
        /// The node.
        node: u64,
        /// The log is durable up to this index.
        upto_index: u64,
    },
    /// A node took (or installed) a snapshot.
    Snapshot {
        /// The node.
        node: u64,
        /// Snapshot index.
        index: u64,
    },
    /// A node applied a membership change.
    ConfChange {
        /// The node.
        node: u64,
        /// Human-readable description of the change.
        change: String,
    },
    /// A client invoked an operation.
    ClientInvoke {
        /// Client id.
        client: u64,
        /// Operation id, unique per client.
        op_id: u64,
        /// Human-readable operation.
        op: String,
    },
    /// A client operation completed.
    ClientReturn {
        /// Client id.
        client: u64,
        /// Operation id, unique per client.
        op_id: u64,
        /// Human-readable result.
        result: String,
    },
    /// A scheduled fault took effect (free-form description).
    Fault {
        /// What the fault was.
        description: String,
    },
    /// An invariant was violated; the run stops here.
    Violation {
        /// Name of the invariant.
        invariant: String,
        /// What was wrong.
        detail: String,
    },
    /// Free-form annotation.
    Note {
        /// The text.
        text: String,
    },
}

impl EventKind {
    /// The serialized `kind` tag, e.g. `"send"`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Role { .. } => "role",
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Drop { .. } => "drop",
            EventKind::Duplicate { .. } => "duplicate",
            EventKind::Crash { .. } => "crash",
            EventKind::Restart { .. } => "restart",
            EventKind::Disconnect { .. } => "disconnect",
            EventKind::Connect { .. } => "connect",
            EventKind::Partition { .. } => "partition",
            EventKind::Heal => "heal",
            EventKind::Propose { .. } => "propose",
            EventKind::Commit { .. } => "commit",
            EventKind::Apply { .. } => "apply",
            EventKind::Sync { .. } => "sync",
            EventKind::Snapshot { .. } => "snapshot",
            EventKind::ConfChange { .. } => "conf_change",
            EventKind::ClientInvoke { .. } => "client_invoke",
            EventKind::ClientReturn { .. } => "client_return",
            EventKind::Fault { .. } => "fault",
            EventKind::Violation { .. } => "violation",
            EventKind::Note { .. } => "note",
        }
    }

    /// Feeds the canonical encoding of this event kind into `h`.
    ///
    /// The encoding is a sequence of 64-bit words: the variant tag (fixed
    /// forever: new variants take new tags), then every field in
    /// declaration order — integers and booleans as one word each, strings
    /// and lists as their length followed by their contents (string bytes
    /// packed 8 per word, little-endian, the last word zero-padded).
    fn hash_into(&self, h: &mut WordHash) {
        match self {
            EventKind::Role {
                node,
                role,
                term,
                leader,
            } => {
                h.tag(1);
                h.u64(*node);
                h.str(role);
                h.u64(*term);
                h.u64(*leader);
            }
            EventKind::Send {
                id,
                from,
                to,
                msg_type,
                term,
                index,
                log_term,
                commit,
                entries,
                reject,
            } => {
                h.tag(2);
                h.u64(*id);
                h.u64(*from);
                h.u64(*to);
                h.str(msg_type);
                h.u64(*term);
                h.u64(*index);
                h.u64(*log_term);
                h.u64(*commit);
                h.u64(u64::from(*entries));
                h.bool(*reject);
            }
            EventKind::Deliver { id, from, to } => {
                h.tag(3);
                h.u64(*id);
                h.u64(*from);
                h.u64(*to);
            }
            EventKind::Drop {
                id,
                from,
                to,
                reason,
            } => {
                h.tag(4);
                h.u64(*id);
                h.u64(*from);
                h.u64(*to);
                h.str(reason);
            }
            EventKind::Duplicate { id } => {
                h.tag(5);
                h.u64(*id);
            }
            EventKind::Crash { node } => {
                h.tag(6);
                h.u64(*node);
            }
            EventKind::Restart { node } => {
                h.tag(7);
                h.u64(*node);
            }
            EventKind::Disconnect { node } => {
                h.tag(8);
                h.u64(*node);
            }
            EventKind::Connect { node } => {
                h.tag(9);
                h.u64(*node);
            }
            EventKind::Partition { groups } => {
                h.tag(10);
                h.u64(groups.len() as u64);
                for g in groups {
                    h.u64(g.len() as u64);
                    for n in g {
                        h.u64(*n);
                    }
                }
            }
            EventKind::Heal => h.tag(11),
            EventKind::Propose { node, index, term } => {
                h.tag(12);
                h.u64(*node);
                h.u64(*index);
                h.u64(*term);
            }
            EventKind::Commit { node, index } => {
                h.tag(13);
                h.u64(*node);
                h.u64(*index);
            }
            EventKind::Apply { node, index, term } => {
                h.tag(14);
                h.u64(*node);
                h.u64(*index);
                h.u64(*term);
            }
            EventKind::Sync { node, upto_index } => {
                h.tag(15);
                h.u64(*node);
                h.u64(*upto_index);
            }
            EventKind::Snapshot { node, index } => {
                h.tag(16);
                h.u64(*node);
                h.u64(*index);
            }
            EventKind::ConfChange { node, change } => {
                h.tag(17);
                h.u64(*node);
                h.str(change);
            }
            EventKind::ClientInvoke { client, op_id, op } => {
                h.tag(18);
                h.u64(*client);
                h.u64(*op_id);
                h.str(op);
            }
            EventKind::ClientReturn {
                client,
                op_id,
                result,
            } => {
                h.tag(19);
                h.u64(*client);
                h.u64(*op_id);
                h.str(result);
            }
            EventKind::Fault { description } => {
                h.tag(20);
                h.str(description);
            }
            EventKind::Violation { invariant, detail } => {
                h.tag(21);
                h.str(invariant);
                h.str(detail);
            }
            EventKind::Note { text } => {
                h.tag(22);
                h.str(text);
            }
        }
    }
}

/// The trace hash: a word-at-a-time rotate-xor-multiply hash (the FxHash
/// step, `h = (rotl(h, 5) ^ w) * 0x517cc1b727220a95`, from the FNV-1a
/// offset basis), with a final avalanche. It is specified here word by word,
/// so it is the same on every platform and toolchain (unlike `DefaultHasher`,
/// whose algorithm `std` may change), and it costs one multiply per 8 bytes,
/// which keeps [`Trace::push`] cheap (byte-wise FNV-1a made it several times slower).
#[derive(Clone, Copy)]
pub(crate) struct WordHash(u64);

impl WordHash {
    const SEED: u64 = 0xcbf2_9ce4_8422_2325;
    const K: u64 = 0x517c_c1b7_2722_0a95;

    pub(crate) fn new() -> WordHash {
        WordHash(Self::SEED)
    }

    #[inline]
    pub(crate) fn u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(Self::K);
    }

    pub(crate) fn tag(&mut self, t: u8) {
        self.u64(u64::from(t));
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u64(u64::from(v));
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        let mut chunks = s.as_bytes().chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.u64(u64::from_le_bytes(w));
        }
    }

    /// The state passed through splitmix64's finalizer, so every input bit
    /// affects every output bit.
    pub(crate) fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// FNV-1a, 64 bit: tiny, stable, and specified byte by byte (used for
/// state-machine digests and other checksums that must not depend on the
/// platform or on `std`'s hasher).
#[derive(Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Fnv64 {
        Fnv64(Self::OFFSET)
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// The event trace of one simulated run.
///
/// Always maintains the running hash, the event count and the last
/// [`RECENT_CAPACITY`] events; with `keep_all` it also keeps every event.
/// `Debug` prints only the count and the hash.
#[derive(Clone)]
pub struct Trace {
    keep_all: bool,
    /// Every event, when `keep_all`.
    all: Vec<TraceEvent>,
    /// The most recent events (between `RECENT_CAPACITY` and
    /// `RING_SLACK` times that, once warmed up), when not `keep_all`; with `keep_all`, the tail of
    /// `all` serves instead.
    ring: Vec<TraceEvent>,
    hasher: WordHash,
    count: u64,
}

impl Trace {
    /// An empty trace. With `keep_all`, every event is retained (for
    /// `replay`); without, only the hash, the count and the last
    /// [`RECENT_CAPACITY`] events (for campaigns).
    pub fn new(keep_all: bool) -> Trace {
        Trace {
            keep_all,
            all: Vec::new(),
            ring: Vec::with_capacity(if keep_all {
                0
            } else {
                RING_SLACK * RECENT_CAPACITY
            }),
            hasher: WordHash::new(),
            count: 0,
        }
    }

    /// Whether this trace retains every event.
    pub fn keeps_all(&self) -> bool {
        self.keep_all
    }

    /// Records an event at simulated time `t_ms` and returns its sequence
    /// number (0 for the first event).
    pub fn push(&mut self, t_ms: u64, kind: EventKind) -> u64 {
        let seq = self.count;
        self.count += 1;
        self.hasher.u64(seq);
        self.hasher.u64(t_ms);
        kind.hash_into(&mut self.hasher);
        let ev = TraceEvent { seq, t_ms, kind };
        if self.keep_all {
            self.all.push(ev);
        } else {
            // Amortized O(1) and contiguous: let the buffer grow to
            // `RING_SLACK` times the capacity, then drop all but the newest
            // `RECENT_CAPACITY` in one move (the slack keeps that move rare).
            if self.ring.len() == RING_SLACK * RECENT_CAPACITY {
                self.ring.drain(..self.ring.len() - RECENT_CAPACITY);
            }
            self.ring.push(ev);
        }
        seq
    }

    /// Stable 64-bit hash (see `WordHash` in the source: FxHash steps over
    /// 64-bit words, then an avalanche) of the canonical encoding of every event
    /// pushed so far, retained or not. Equal runs have equal hashes on any
    /// platform and toolchain.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// Number of events pushed (retained or not).
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no event was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The retained events, oldest first: all of them with `keep_all`,
    /// otherwise the last (up to) [`RECENT_CAPACITY`].
    pub fn events(&self) -> &[TraceEvent] {
        if self.keep_all {
            &self.all
        } else {
            let start = self.ring.len().saturating_sub(RECENT_CAPACITY);
            &self.ring[start..]
        }
    }

    /// The last `min(n, retained)` events, oldest first. At least the last
    /// [`RECENT_CAPACITY`] events are always available.
    pub fn recent(&self, n: usize) -> Vec<TraceEvent> {
        let kept = self.events();
        kept[kept.len().saturating_sub(n)..].to_vec()
    }

    /// The retained events as JSON lines (one object per line, each line
    /// ending in `\n`), oldest first.
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_jsonl(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Streams [`Trace::to_jsonl`]'s output into `w` (for long traces,
    /// without building one big string).
    pub fn write_jsonl<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        for ev in self.events() {
            serde_json::to_writer(&mut w, ev).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Reads events back from [`Trace::to_jsonl`]'s format (blank lines are
/// skipped), e.g. to render a saved trace with
/// [`crate::timeline::render_html`]. An unparsable line is an error naming
/// its line number.
///
/// ```
/// use tinyraft_harness::trace::{parse_jsonl, EventKind, Trace};
///
/// let mut t = Trace::new(true);
/// t.push(3, EventKind::Heal);
/// assert_eq!(parse_jsonl(&t.to_jsonl()).unwrap(), t.events());
/// assert!(parse_jsonl("{not json}").is_err());
/// ```
pub fn parse_jsonl(text: &str) -> Result<Vec<TraceEvent>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("trace line {}: {e}", i + 1)))
        .collect()
}

impl Default for Trace {
    /// A trace that keeps only the hash and the recent ring.
    fn default() -> Trace {
        Trace::new(false)
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("events", &self.count)
            .field("hash", &format_args!("{:#018x}", self.hash()))
            .field("keep_all", &self.keep_all)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(u64, EventKind)> {
        vec![
            (
                0,
                EventKind::Role {
                    node: 1,
                    role: "leader".into(),
                    term: 2,
                    leader: 1,
                },
            ),
            (
                3,
                EventKind::Send {
                    id: 9,
                    from: 1,
                    to: 2,
                    msg_type: "MsgAppend".into(),
                    term: 2,
                    index: 4,
                    log_term: 1,
                    commit: 3,
                    entries: 2,
                    reject: false,
                },
            ),
            (
                5,
                EventKind::Partition {
                    groups: vec![vec![1], vec![2, 3]],
                },
            ),
            (6, EventKind::Heal),
            (
                7,
                EventKind::Violation {
                    invariant: "election_safety".into(),
                    detail: "two leaders in term 2".into(),
                },
            ),
        ]
    }

    /// State-machine digests use FNV-1a as specified (published test
    /// vector), not some platform hasher: they are compared across nodes
    /// and runs.
    #[test]
    fn fnv1a_matches_published_vector() {
        let mut h = Fnv64::new();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fnv64::new().finish(), 0xcbf2_9ce4_8422_2325);
    }

    /// Determinism: identical event sequences hash identically whether or
    /// not events are retained; any difference (time, field, order) changes
    /// the hash.
    #[test]
    fn hash_is_independent_of_retention_and_sensitive_to_content() {
        let mut all = Trace::new(true);
        let mut ring = Trace::new(false);
        for (t, k) in sample() {
            all.push(t, k.clone());
            ring.push(t, k);
        }
        assert_eq!(all.hash(), ring.hash());
        assert_eq!(all.len(), 5);

        let mut later = Trace::new(false);
        for (t, k) in sample() {
            later.push(t + 1, k);
        }
        assert_ne!(later.hash(), all.hash());

        let mut reordered = Trace::new(false);
        for (t, k) in sample().into_iter().rev() {
            reordered.push(t, k);
        }
        assert_ne!(reordered.hash(), all.hash());

        // Strings are length-prefixed: ("ab","c") differs from ("a","bc").
        let mut x = Trace::new(false);
        x.push(
            0,
            EventKind::Violation {
                invariant: "ab".into(),
                detail: "c".into(),
            },
        );
        let mut y = Trace::new(false);
        y.push(
            0,
            EventKind::Violation {
                invariant: "a".into(),
                detail: "bc".into(),
            },
        );
        assert_ne!(x.hash(), y.hash());
    }

    /// The canonical encoding and the hash are pinned (the value was
    /// cross-checked with an independent implementation): changing either
    /// silently would make stored replay hashes meaningless.
    #[test]
    fn hash_is_pinned_for_a_known_trace() {
        let mut t = Trace::new(false);
        for (ms, k) in sample() {
            t.push(ms, k);
        }
        assert_eq!(
            t.hash(),
            PINNED,
            "canonical trace encoding changed: {:#018x}",
            t.hash()
        );
    }
    const PINNED: u64 = 0xddd1_5068_f7c6_632e;

    #[test]
    fn ring_keeps_the_last_events_only() {
        let mut t = Trace::new(false);
        for i in 0..1000u64 {
            t.push(i, EventKind::Commit { node: 1, index: i });
        }
        assert_eq!(t.len(), 1000);
        let ev = t.events();
        assert_eq!(ev.len(), RECENT_CAPACITY);
        assert_eq!(
            ev.first().map(|e| e.seq),
            Some(1000 - RECENT_CAPACITY as u64)
        );
        assert_eq!(ev.last().map(|e| e.seq), Some(999));
        let r = t.recent(3);
        assert_eq!(
            r.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![997, 998, 999]
        );
        assert_eq!(t.recent(10_000).len(), RECENT_CAPACITY);
        assert_eq!(t.to_jsonl().lines().count(), RECENT_CAPACITY);
    }

    #[test]
    fn keep_all_keeps_everything() {
        let mut t = Trace::new(true);
        for i in 0..1000u64 {
            assert_eq!(t.push(i, EventKind::Crash { node: i }), i);
        }
        assert_eq!(t.events().len(), 1000);
        assert_eq!(t.recent(2).len(), 2);
        assert_eq!(t.recent(2)[1].seq, 999);
    }

    /// JSON lines are flat objects tagged by `kind` in snake_case, and read
    /// back to the same events.
    #[test]
    fn jsonl_is_flat_tagged_and_round_trips() {
        let mut t = Trace::new(true);
        for (ms, k) in sample() {
            t.push(ms, k);
        }
        let text = t.to_jsonl();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[1].starts_with(r#"{"seq":1,"t_ms":3,"kind":"send","id":9,"#),
            "{}",
            lines[1]
        );
        assert_eq!(lines[3], r#"{"seq":3,"t_ms":6,"kind":"heal"}"#);
        for (line, ev) in lines.iter().zip(t.events()) {
            let back: TraceEvent = serde_json::from_str(line).expect("line parses");
            assert_eq!(&back, ev);
            assert_eq!(
                ev.kind.name(),
                serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"]
            );
        }
    }

    #[test]
    fn debug_is_short() {
        let mut t = Trace::new(true);
        for i in 0..100 {
            t.push(
                i,
                EventKind::Note {
                    text: "x".repeat(100),
                },
            );
        }
        let d = format!("{t:?}");
        assert!(d.contains("events: 100"), "{d}");
        assert!(d.len() < 100, "{d}");
        let line = t.events()[0].to_string();
        assert!(line.starts_with("#0 @0ms {\"kind\":\"note\""), "{line}");
    }
}
