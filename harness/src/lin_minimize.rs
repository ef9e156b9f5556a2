//! The smallest illegal history of one key: when [`crate::linearizability`]
//! finds a key's history illegal, drop operations one at a time while the
//! rest stays illegal, so a user sees the few operations that cannot be
//! ordered instead of hundreds.
//!
//! ```
//! use tinyraft_harness::kv::KvOp;
//! use tinyraft_harness::linearizability::Operation;
//! use tinyraft_harness::lin_minimize::smallest_illegal;
//! let op = |c, op, out: Option<&str>, t| Operation {
//!     client_id: c, op, output: out.map(String::from), call_ms: t, return_ms: Some(t + 1),
//! };
//! let put = KvOp::Put { key: "x".into(), value: "1".into() };
//! let get = KvOp::Get { key: "x".into() };
//! let other = KvOp::Put { key: "y".into(), value: "2".into() };
//! let h = vec![op(1, put, None, 0), op(3, other, None, 3), op(2, get, Some(""), 5)];
//! let small = smallest_illegal(&h, "x", 100_000);
//! assert_eq!(small.len(), 2); // the put and the stale read
//! ```

use crate::kv::KvOp;
use crate::linearizability::{LinResult, Operation, check};

/// At most this many checks are spent shrinking (each bounded by the
/// budget); what is left is still illegal, only maybe not minimal.
pub const MAX_CHECKS: usize = 5_000;

/// The operations on `key` from `ops`, reduced to a history that is still
/// illegal and from which no single operation can be removed keeping it
/// illegal (within [`MAX_CHECKS`]) — except writes of values its reads
/// returned, which stay so every read value has its writer. Returns the key's whole history if it
/// is not illegal to begin with (within `budget_steps`).
pub fn smallest_illegal(ops: &[Operation], key: &str, budget_steps: u64) -> Vec<Operation> {
    let mut cur: Vec<Operation> = ops.iter().filter(|o| o.op.key() == key).cloned().collect();
    let illegal = |h: &[Operation]| matches!(check(h, budget_steps), LinResult::Illegal { .. });
    if !illegal(&cur) {
        return cur;
    }
    let mut checks = 1;
    loop {
        let mut removed = false;
        let mut i = 0;
        while i < cur.len() && checks < MAX_CHECKS {
            if explains_a_read(&cur, i) {
                i += 1;
                continue;
            }
            let mut cand = cur.clone();
            cand.remove(i);
            checks += 1;
            if illegal(&cand) {
                cur = cand;
                removed = true;
            } else {
                i += 1;
            }
        }
        if !removed || checks >= MAX_CHECKS {
            return cur;
        }
    }
}

/// Whether `ops[i]` writes a value some read in `ops` returned (in part):
/// such a write stays, or the shrunk history would only show a read of a
/// value nobody wrote — illegal, but no help to a reader.
fn explains_a_read(ops: &[Operation], i: usize) -> bool {
    let written = match &ops[i].op {
        KvOp::Put { value, .. } | KvOp::Append { value, .. } => value,
        KvOp::Get { .. } => return false,
    };
    !written.is_empty()
        && ops.iter().any(|o| {
            o.op.is_read()
                && o.output
                    .as_deref()
                    .is_some_and(|out| out.contains(written.as_str()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(c: u64, op: KvOp, out: Option<&str>, call: u64, ret: u64) -> Operation {
        Operation {
            client_id: c,
            op,
            output: out.map(String::from),
            call_ms: call,
            return_ms: Some(ret),
        }
    }

    /// A stale read buried among legal operations shrinks to the write it
    /// missed and the read (plus nothing else), and stays illegal.
    #[test]
    fn a_stale_read_shrinks_to_the_write_and_the_read() {
        let put = |v: &str| KvOp::Put {
            key: "k".into(),
            value: v.into(),
        };
        let get = KvOp::Get { key: "k".into() };
        let mut h = Vec::new();
        for i in 0..10u64 {
            h.push(op(1, put(&i.to_string()), None, i * 10, i * 10 + 2));
            h.push(op(
                2,
                get.clone(),
                Some(&i.to_string()),
                i * 10 + 3,
                i * 10 + 4,
            ));
        }
        // Reads "3" long after "9" was written.
        h.push(op(3, get.clone(), Some("3"), 200, 201));
        let small = smallest_illegal(&h, "k", 100_000);
        assert!(matches!(check(&small, 100_000), LinResult::Illegal { .. }));
        assert_eq!(small.len(), 3, "{small:?}");
        assert!(small.iter().any(|o| o.output.as_deref() == Some("3")));
        // The read of "3" keeps its writer; removing anything else makes
        // the history legal.
        assert!(
            small
                .iter()
                .any(|o| matches!(&o.op, KvOp::Put { value, .. } if value == "3"))
        );
        for i in 0..small.len() {
            if explains_a_read(&small, i) {
                continue;
            }
            let mut less = small.clone();
            less.remove(i);
            assert!(check(&less, 100_000).is_ok(), "not minimal: {small:?}");
        }
    }
}
