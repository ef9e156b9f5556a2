//! The event queue of one simulated run: a simulated clock and the pending
//! events ordered by (time, sequence number), so two events due at the same
//! millisecond always fire in the order they were scheduled.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tinyraft::eraftpb::Message;

/// Something that happens at a simulated instant.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A message arrives at `msg.to` (`id`: the network's message id).
    Deliver { id: u64, msg: Box<Message> },
    /// Tell `node` whether its snapshot to `to` got through.
    SnapshotStatus { node: u64, to: u64, ok: bool },
    /// A node's logical clock ticks. Stale after a crash (`incarnation`).
    Tick { node: u64, incarnation: u64 },
    /// The write started by a node's pending `Ready` is now durable.
    DiskSync {
        node: u64,
        incarnation: u64,
        write: u64,
    },
    /// A node with lagging apply applies what it has queued.
    Apply { node: u64, incarnation: u64 },
    /// A client's timer: retry, or issue its next operation.
    Client { client: usize },
    /// The next step of the fault schedule.
    Fault { step: usize },
}

/// An event in the queue, ordered by (time, sequence number) alone. The
/// sequence number is unique, so the order is total and the event itself
/// never takes part in it.
#[derive(Debug)]
struct Scheduled {
    at: u64,
    seq: u64,
    ev: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Simulated clock plus the pending events (a binary heap: every event is
/// pushed and popped once, and nothing else is asked of the queue).
#[derive(Debug, Default)]
pub(crate) struct World {
    now: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
}

impl World {
    /// Current simulated time in ms.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Schedules `ev` at absolute time `at` (never in the past).
    pub(crate) fn schedule(&mut self, at: u64, ev: Event) {
        let at = at.max(self.now);
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Schedules `ev` `delay` ms from now.
    pub(crate) fn after(&mut self, delay: u64, ev: Event) {
        self.schedule(self.now.saturating_add(delay), ev);
    }

    /// Pops the next event due at or before `limit`, moving the clock to it.
    pub(crate) fn pop_until(&mut self, limit: u64) -> Option<Event> {
        if self.queue.peek()?.at > limit {
            return None;
        }
        let Scheduled { at, ev, .. } = self.queue.pop()?;
        self.now = at;
        Some(ev)
    }

    /// Moves the clock forward to `t` (no-op if `t` is in the past).
    pub(crate) fn advance_to(&mut self, t: u64) {
        self.now = self.now.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same-time events fire in scheduling order (FIFO tie-break): the
    /// determinism of a run depends on it.
    #[test]
    fn same_time_events_fire_in_schedule_order() {
        let mut w = World::default();
        w.schedule(5, Event::Client { client: 1 });
        w.schedule(5, Event::Client { client: 2 });
        w.schedule(3, Event::Client { client: 0 });
        let order: Vec<usize> = std::iter::from_fn(|| w.pop_until(10))
            .map(|e| match e {
                Event::Client { client } => client,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert_eq!(w.now(), 5);
        assert!(w.pop_until(10).is_none());
    }

    #[test]
    fn events_after_limit_stay_queued() {
        let mut w = World::default();
        w.schedule(20, Event::Fault { step: 0 });
        assert!(w.pop_until(10).is_none());
        assert!(w.pop_until(20).is_some());
    }

    /// The queue's order is a total order on (time, seq) that agrees with
    /// equality (`Ord`'s contract, which `BinaryHeap` relies on): equal
    /// keys compare equal whatever the event, different keys never do.
    #[test]
    fn scheduled_order_agrees_with_equality() {
        let at = |at, seq, client| Scheduled {
            at,
            seq,
            ev: Event::Client { client },
        };
        let keys = [(1, 1), (1, 2), (2, 0), (2, 1)];
        for &(a1, s1) in &keys {
            for &(a2, s2) in &keys {
                let (x, y) = (at(a1, s1, 0), at(a2, s2, 1));
                assert_eq!(x == y, (a1, s1) == (a2, s2));
                assert_eq!(
                    x.cmp(&y),
                    (a2, s2).cmp(&(a1, s1)),
                    "reversed: the earliest is the max"
                );
                assert_eq!(x.partial_cmp(&y), Some(x.cmp(&y)));
            }
        }
    }
}
