//! The window of appends in flight to one follower (replicate state).

use std::collections::VecDeque;

/// A bounded FIFO of the last indexes of appends sent but not yet
/// acknowledged. A follower in replicate state gets no new append while the
/// window is full, so a slow node is streamed to with back-pressure instead of
/// being flooded.
///
/// ```
/// use tinyraft::Inflights;
/// let mut w = Inflights::new(2);
/// w.add(5);
/// w.add(7);
/// assert!(w.full());
/// w.free_to(5);
/// assert_eq!(w.count(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inflights {
    buf: VecDeque<u64>,
    cap: usize,
}

impl Inflights {
    /// An empty window holding at most `cap` appends.
    pub fn new(cap: usize) -> Inflights {
        Inflights {
            buf: VecDeque::with_capacity(cap.min(1024)),
            cap,
        }
    }

    /// Whether no more appends may be sent.
    pub fn full(&self) -> bool {
        self.buf.len() >= self.cap
    }

    /// Appends in flight.
    pub fn count(&self) -> usize {
        self.buf.len()
    }

    /// The window size.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Records an append whose last entry is `last`. Indexes must not
    /// decrease (they are sent in log order).
    ///
    /// # Panics
    /// If the window is full or `last` is below the previous one: the caller
    /// must check `full()` first (internal invariant).
    pub fn add(&mut self, last: u64) {
        assert!(!self.full(), "inflights invariant: add to a full window");
        if let Some(&back) = self.buf.back() {
            assert!(
                back <= last,
                "inflights invariant: {last} added after {back}"
            );
        }
        self.buf.push_back(last);
    }

    /// Frees every append whose last index is `<= to` (they were acknowledged).
    pub fn free_to(&mut self, to: u64) {
        while self.buf.front().is_some_and(|&f| f <= to) {
            self.buf.pop_front();
        }
    }

    /// Frees the oldest append (a heartbeat response shows the follower is
    /// alive, so one slot may be reused).
    pub fn free_first_one(&mut self) {
        self.buf.pop_front();
    }

    /// Forgets everything in flight.
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flow control: the window fills, acks free a prefix, a heartbeat frees one.
    #[test]
    fn inflights_window_fills_and_frees_in_order() {
        let mut w = Inflights::new(3);
        assert!(!w.full());
        for i in [1, 3, 6] {
            w.add(i);
        }
        assert!(w.full());
        w.free_to(0);
        assert_eq!(w.count(), 3);
        w.free_to(3);
        assert_eq!(w.count(), 1);
        w.add(9);
        w.free_first_one();
        assert_eq!(w.count(), 1);
        w.free_to(100);
        assert_eq!(w.count(), 0);
        w.free_first_one(); // no-op on empty
        w.add(10);
        w.reset();
        assert_eq!(w.count(), 0);
    }

    #[test]
    #[should_panic(expected = "full window")]
    fn inflights_add_to_full_window_names_the_invariant() {
        let mut w = Inflights::new(1);
        w.add(1);
        w.add(2);
    }
}
