//! [`StoredEntry`]: how [`MemStorage`](super::MemStorage) keeps an entry,
//! smaller than an [`Entry`] because a log holds many.
//!
//! An `Entry` is 88 bytes before its payload: a type, a term, an index and
//! two `Bytes` handles of 32 bytes each. In a stored log the index is the
//! position, and almost every entry is a normal one without context, so a
//! stored entry keeps the term and the payload handle inline and the rest
//! in a box only when present: 48 bytes. The payload itself is shared with
//! whoever else holds the entry (a `Bytes` clone), never copied.

use bytes::Bytes;
use tinyraft_proto::eraftpb::{Entry, EntryType};

/// One log entry as [`MemStorage`](super::MemStorage) holds it; its index
/// is implied by its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredEntry {
    term: u64,
    data: Bytes,
    /// The entry type and context, when not `EntryNormal` and empty.
    rare: Option<Box<Rare>>,
}

/// The parts of an entry that are usually default.
#[derive(Debug, Clone, PartialEq)]
struct Rare {
    entry_type: i32,
    context: Bytes,
}

impl StoredEntry {
    /// The stored form of `e` (sharing its payload and context).
    pub(crate) fn new(e: &Entry) -> StoredEntry {
        let rare =
            (e.entry_type != EntryType::EntryNormal as i32 || !e.context.is_empty()).then(|| {
                Box::new(Rare {
                    entry_type: e.entry_type,
                    context: e.context.clone(),
                })
            });
        StoredEntry {
            term: e.term,
            data: e.data.clone(),
            rare,
        }
    }

    /// The stored form of `e`, taking its payload and context over (no
    /// reference-count traffic).
    pub(crate) fn from_entry(e: Entry) -> StoredEntry {
        let rare =
            (e.entry_type != EntryType::EntryNormal as i32 || !e.context.is_empty()).then(|| {
                Box::new(Rare {
                    entry_type: e.entry_type,
                    context: e.context,
                })
            });
        StoredEntry {
            term: e.term,
            data: e.data,
            rare,
        }
    }

    /// The entry's term.
    pub(crate) fn term(&self) -> u64 {
        self.term
    }

    /// [`entry_size`](super::entry_size) of the entry at `index`, computed
    /// without rebuilding it.
    pub(crate) fn size(&self, index: u64) -> u64 {
        let (entry_type, context_len) = match &self.rare {
            Some(r) => (r.entry_type, r.context.len()),
            None => (EntryType::EntryNormal as i32, 0),
        };
        let fixed = Entry {
            entry_type,
            term: self.term,
            index,
            ..Default::default()
        };
        let bytes_field = |n: usize| match n {
            0 => 0,
            n => 1 + prost::encoding::encoded_len_varint(n as u64) as u64 + n as u64,
        };
        super::entry_size(&fixed) + bytes_field(self.data.len()) + bytes_field(context_len)
    }

    /// The entry again, at `index` (sharing payload and context).
    pub(crate) fn to_entry(&self, index: u64) -> Entry {
        let (entry_type, context) = match &self.rare {
            Some(r) => (r.entry_type, r.context.clone()),
            None => (EntryType::EntryNormal as i32, Bytes::new()),
        };
        Entry {
            entry_type,
            term: self.term,
            index,
            data: self.data.clone(),
            context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_entry_is_smaller_than_an_entry() {
        // The point of the type (issue 11: bytes of state per retained entry).
        assert_eq!(std::mem::size_of::<StoredEntry>(), 48);
        assert!(std::mem::size_of::<StoredEntry>() < std::mem::size_of::<Entry>());
    }

    #[test]
    fn round_trips_every_field_and_shares_the_payload() {
        let cases = [
            Entry {
                term: 3,
                index: 7,
                data: Bytes::from_static(b"payload"),
                ..Default::default()
            },
            Entry {
                entry_type: EntryType::EntryConfChange as i32,
                term: 4,
                index: 8,
                data: Bytes::from_static(b"cc"),
                context: Bytes::from_static(b"ctx"),
            },
            Entry {
                term: 5,
                index: 9,
                context: Bytes::from_static(b"only context"),
                ..Default::default()
            },
            Entry {
                entry_type: EntryType::EntryConfChangeV2 as i32,
                term: 6,
                index: 10,
                ..Default::default()
            },
            // A payload whose length needs a two-byte varint.
            Entry {
                term: u64::MAX,
                index: u64::MAX - 1,
                data: Bytes::from(vec![7u8; 300]),
                ..Default::default()
            },
            // An unknown type survives too: storage is not where it is judged.
            Entry {
                entry_type: 42,
                term: 7,
                index: 11,
                ..Default::default()
            },
        ];
        for e in cases {
            let s = StoredEntry::new(&e);
            assert_eq!(s.term(), e.term);
            assert_eq!(s.size(e.index), crate::storage::entry_size(&e));
            let back = s.to_entry(e.index);
            assert_eq!(back, e);
            let owned = StoredEntry::from_entry(e.clone());
            assert_eq!(owned, s);
            assert_eq!(
                back.data.as_ptr(),
                e.data.as_ptr(),
                "payload shared, not copied"
            );
        }
    }
}
