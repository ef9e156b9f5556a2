//! The leader's budget of uncommitted bytes ([`Config::max_uncommitted_size`]):
//! when followers fall behind, proposals are refused instead of piling up in
//! the leader's memory without bound.
//!
//! [`Config::max_uncommitted_size`]: crate::Config::max_uncommitted_size

use std::collections::VecDeque;

use crate::NO_LIMIT;

/// Payload bytes a leader appended and has not yet committed.
#[derive(Clone, Debug)]
pub(crate) struct UncommittedBudget {
    limit: u64,
    /// (last index of a proposal, its payload bytes), oldest first.
    batches: VecDeque<(u64, u64)>,
    size: u64,
}

impl UncommittedBudget {
    pub(crate) fn new(limit: u64) -> UncommittedBudget {
        UncommittedBudget {
            limit,
            batches: VecDeque::new(),
            size: 0,
        }
    }

    /// Whether a proposal of `bytes` fits. One proposal always fits when
    /// nothing is uncommitted, so an entry larger than the limit is not
    /// stuck forever.
    pub(crate) fn allows(&self, bytes: u64) -> bool {
        self.limit == NO_LIMIT || self.size == 0 || self.size.saturating_add(bytes) <= self.limit
    }

    /// A proposal ending at `last_index` with `bytes` of payload was appended.
    pub(crate) fn add(&mut self, last_index: u64, bytes: u64) {
        if self.limit == NO_LIMIT || bytes == 0 {
            return;
        }
        self.batches.push_back((last_index, bytes));
        self.size = self.size.saturating_add(bytes);
    }

    /// Everything up to `committed` is committed: its bytes no longer count.
    pub(crate) fn release_to(&mut self, committed: u64) {
        while let Some(&(index, bytes)) = self.batches.front() {
            if index > committed {
                break;
            }
            self.batches.pop_front();
            self.size = self.size.saturating_sub(bytes);
        }
    }

    /// A new role: nothing counts any more (a new leader starts afresh, as
    /// its predecessor's uncommitted tail is not its proposals).
    pub(crate) fn reset(&mut self) {
        self.batches.clear();
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Config::max_uncommitted_size: beyond the limit proposals are refused;
    /// one always passes when nothing is uncommitted; commits free the budget.
    #[test]
    fn budget_refuses_beyond_limit_and_frees_on_commit() {
        let mut b = UncommittedBudget::new(100);
        assert!(b.allows(1000), "a lone oversized proposal passes");
        b.add(1, 60);
        assert!(b.allows(40));
        assert!(!b.allows(41));
        b.add(3, 40);
        assert!(!b.allows(1));
        b.release_to(2);
        assert!(b.allows(60) && !b.allows(61));
        b.release_to(3);
        assert!(b.allows(100));
        b.add(4, 10);
        b.reset();
        assert!(b.allows(100));
        let unlimited = UncommittedBudget::new(NO_LIMIT);
        assert!(unlimited.allows(u64::MAX));
    }
}
