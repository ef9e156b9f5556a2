//! The unstable segment of the log: what this node has accepted but the
//! engine has not yet made durable.

use tinyraft_proto::eraftpb::{Entry, Snapshot};

/// The capacity (in entries) above which a mostly drained segment gives
/// memory back.
const SHRINK_ABOVE: usize = 4096;

/// Entries (and possibly a snapshot) the log holds in memory because the
/// storage may not have them yet.
///
/// The log as the core sees it is the storage's entries below `offset`
/// followed by `entries` (whose first index is `offset`). A snapshot sits
/// under the entries (its index is at most `offset - 1`) and hides
/// everything the storage holds below it: until the storage has applied it,
/// the storage still has the old log, which the snapshot replaces.
///
/// Being here is not the same as being unacknowledged: the `RaftLog`'s
/// `stabled` cursor (and `snapshot_acked`) say what the engine reported
/// durable, and the log drops a part only once the storage shows it, so the
/// view never depends on the engine's acknowledgement being honest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Unstable {
    /// A snapshot received from a leader that the storage does not show yet.
    pub snapshot: Option<Snapshot>,
    /// Whether the engine reported `snapshot` durable.
    pub snapshot_acked: bool,
    /// Entries not yet persisted; `entries[i].index == offset + i`.
    pub entries: Vec<Entry>,
    /// The index of `entries[0]`, or where the next unstable entry goes.
    pub offset: u64,
}

impl Unstable {
    /// An empty segment whose next entry will have index `offset`.
    pub fn new(offset: u64) -> Unstable {
        Unstable {
            snapshot: None,
            snapshot_acked: false,
            entries: Vec::new(),
            offset,
        }
    }

    /// The index and term of the snapshot held here, if any.
    pub fn snapshot_index_term(&self) -> Option<(u64, u64)> {
        let meta = self.snapshot.as_ref()?.metadata.as_ref()?;
        Some((meta.index, meta.term))
    }

    /// The index of the pending snapshot, if any.
    pub fn snapshot_index(&self) -> Option<u64> {
        self.snapshot_index_term().map(|(i, _)| i)
    }

    /// The term of `idx` if this segment holds it (an entry or the pending
    /// snapshot's index).
    pub fn maybe_term(&self, idx: u64) -> Option<u64> {
        if idx < self.offset {
            let (si, st) = self.snapshot_index_term()?;
            return (si == idx).then_some(st);
        }
        let pos = usize::try_from(idx - self.offset).ok()?;
        self.entries.get(pos).map(|e| e.term)
    }

    /// Drops the entries up to `idx` (at least `offset - 1`, at most the
    /// last entry): the storage now serves them.
    pub fn drop_through(&mut self, idx: u64) {
        if idx < self.offset {
            return;
        }
        let n = ((idx - self.offset + 1) as usize).min(self.entries.len());
        self.entries.drain(..n);
        self.offset = idx + 1;
        // A burst (a follower catching up takes a whole gap at once) must
        // not pin its peak for good: give back most of a big, mostly empty
        // buffer, keeping room for the usual batch.
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if cap > SHRINK_ABOVE && cap / 4 > len {
            self.entries
                .shrink_to(len.saturating_mul(2).max(SHRINK_ABOVE / 2));
        }
    }

    /// Replaces everything with `snap` (whose index must be at most
    /// `MAX_LOG_INDEX`).
    pub fn restore(&mut self, snap: Snapshot) {
        let index = snap.metadata.as_ref().map_or(0, |m| m.index);
        self.entries.clear();
        self.offset = index.saturating_add(1);
        self.snapshot = Some(snap);
        self.snapshot_acked = false;
    }

    /// Appends `ents` (contiguous; the caller checks that the first index
    /// is at most one past the last and above any pending snapshot),
    /// replacing every unstable entry from `ents[0].index` on.
    pub fn truncate_and_append(&mut self, ents: Vec<Entry>) {
        let Some(first) = ents.first() else { return };
        self.truncate_for(first.index);
        self.entries.extend(ents);
    }

    /// [`truncate_and_append`](Self::truncate_and_append) of one entry.
    pub fn truncate_and_push(&mut self, e: Entry) {
        self.truncate_for(e.index);
        self.entries.push(e);
    }

    /// Makes room for entries starting at `after`: drops every unstable
    /// entry from `after` on (all of them, moving `offset`, if `after` is at
    /// or before it).
    fn truncate_for(&mut self, after: u64) {
        if after <= self.offset {
            // Replaces the whole segment, and possibly durable entries too:
            // the view now switches to these entries from `after` on.
            self.offset = after;
            self.entries.clear();
        } else {
            let keep = (after - self.offset) as usize;
            self.entries.truncate(keep);
        }
    }

    /// The unstable entries in `[lo, hi)`, clipped to what this segment
    /// holds.
    pub fn slice(&self, lo: u64, hi: u64) -> &[Entry] {
        let len = self.entries.len() as u64;
        let lo = lo.saturating_sub(self.offset).min(len) as usize;
        let hi = hi.saturating_sub(self.offset).min(len) as usize;
        if lo >= hi { &[] } else { &self.entries[lo..hi] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyraft_proto::eraftpb::SnapshotMetadata;

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    fn snap(index: u64, term: u64) -> Snapshot {
        Snapshot {
            metadata: Some(SnapshotMetadata {
                index,
                term,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn restore_resets_segment() {
        let mut u = Unstable::new(5);
        u.truncate_and_append(vec![e(5, 1), e(6, 1)]);
        u.snapshot_acked = true;
        u.restore(snap(10, 2));
        assert_eq!(u.snapshot_index_term(), Some((10, 2)));
        assert!(!u.snapshot_acked);
        assert_eq!(u.offset, 11);
        assert!(u.entries.is_empty());
    }

    #[test]
    fn maybe_term_covers_snapshot_and_entries_only() {
        let mut u = Unstable::new(5);
        u.restore(snap(4, 1));
        u.truncate_and_append(vec![e(5, 2)]);
        assert_eq!(u.maybe_term(3), None);
        assert_eq!(u.maybe_term(4), Some(1));
        assert_eq!(u.maybe_term(5), Some(2));
        assert_eq!(u.maybe_term(6), None);
        assert_eq!(u.maybe_term(u64::MAX), None);
    }

    #[test]
    fn drop_through_moves_offset() {
        let mut u = Unstable::new(1);
        u.truncate_and_append(vec![e(1, 1), e(2, 1), e(3, 1)]);
        u.drop_through(0); // nothing below offset
        assert_eq!(u.offset, 1);
        u.drop_through(2);
        assert_eq!(u.offset, 3);
        assert_eq!(u.entries, vec![e(3, 1)]);
        u.drop_through(3);
        assert_eq!(u.offset, 4);
        assert!(u.entries.is_empty());
    }

    #[test]
    fn drained_burst_gives_memory_back() {
        // Issue 11's catch-up: a follower takes a whole gap into its
        // unstable log at once; once persisted, the buffer must not keep the
        // burst's size.
        let mut u = Unstable::new(1);
        let burst: Vec<Entry> = (1..=100_000).map(|i| e(i, 1)).collect();
        u.truncate_and_append(burst);
        assert!(u.entries.capacity() >= 100_000);
        u.drop_through(99_999);
        assert_eq!(u.entries, vec![e(100_000, 1)]);
        assert!(
            u.entries.capacity() <= SHRINK_ABOVE,
            "capacity {}",
            u.entries.capacity()
        );
        // A small steady-state buffer is left alone (no churn per batch).
        u.truncate_and_append((100_001..=100_064).map(|i| e(i, 1)).collect());
        let cap = u.entries.capacity();
        u.drop_through(100_064);
        assert_eq!(u.entries.capacity(), cap);
    }

    #[test]
    fn truncate_and_push_replaces_from_its_index() {
        let mut u = Unstable::new(5);
        u.truncate_and_append(vec![e(5, 1), e(6, 1), e(7, 1)]);
        u.truncate_and_push(e(6, 2));
        assert_eq!(u.entries, vec![e(5, 1), e(6, 2)]);
        u.truncate_and_push(e(7, 2));
        assert_eq!(u.entries, vec![e(5, 1), e(6, 2), e(7, 2)]);
    }

    #[test]
    fn truncate_and_append_before_inside_and_after() {
        let mut u = Unstable::new(5);
        u.truncate_and_append(vec![e(5, 1), e(6, 1), e(7, 1)]);
        u.truncate_and_append(vec![e(8, 1)]); // directly after
        assert_eq!(u.entries.len(), 4);
        u.truncate_and_append(vec![e(7, 2)]); // inside: 8 goes
        assert_eq!(u.entries, vec![e(5, 1), e(6, 1), e(7, 2)]);
        u.truncate_and_append(vec![e(3, 3)]); // before the segment
        assert_eq!(u.offset, 3);
        assert_eq!(u.entries, vec![e(3, 3)]);
    }

    #[test]
    fn slice_clips_to_segment() {
        let mut u = Unstable::new(5);
        u.truncate_and_append(vec![e(5, 1), e(6, 1), e(7, 1)]);
        assert_eq!(u.slice(0, 100).len(), 3);
        assert_eq!(u.slice(6, 7), &[e(6, 1)]);
        assert!(u.slice(8, 3).is_empty());
        assert!(u.slice(u64::MAX, u64::MAX).is_empty());
    }
}
