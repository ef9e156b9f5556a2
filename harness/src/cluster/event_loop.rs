//! The event loop: one simulated event at a time, dispatched to the node it
//! concerns. Message delivery and sending live here.

use prost::Message as _;
use tinyraft::SnapshotStatus;
use tinyraft::eraftpb::{Message, MessageType};

use super::Cluster;
use crate::trace::EventKind;
use crate::world::Event;

impl Cluster {
    /// Processes one event: the dispatch of the event loop.
    pub(crate) fn process(&mut self, ev: Event) {
        self.events += 1;
        match ev {
            Event::Deliver { id, msg } => self.deliver(id, *msg),
            Event::Tick { node, incarnation } => self.on_tick(node, incarnation),
            Event::DiskSync {
                node,
                incarnation,
                write,
            } => self.on_disk_sync(node, incarnation, write),
            Event::Apply { node, incarnation } => self.on_apply(node, incarnation),
            Event::SnapshotStatus { node, to, ok } => self.on_snapshot_status(node, to, ok),
            Event::Client { client } => crate::client::on_timer(self, client),
            Event::Fault { step } => self.fault_event(step),
        }
    }

    /// What happens when message `id` arrives: dropped if the receiver is
    /// down or the link is cut; otherwise stepped into the receiver, which
    /// is then driven (a snapshot's sender learns how it went either way).
    pub(super) fn deliver(&mut self, id: u64, msg: Message) {
        let (from, to) = (msg.from, msg.to);
        let is_snap = msg.msg_type() == MessageType::MsgSnapshot;
        if let Some(reason) = self.blocked(from, to) {
            self.dropped(id, from, to, reason, is_snap);
            return;
        }
        if self.cfg.trace_messages {
            self.push(EventKind::Deliver { id, from, to });
        }
        self.checker.quorum.delivered(to, from, self.world.now());
        if let Err(b) = self.checker.sent.check(&msg) {
            self.breach(b);
            return;
        }
        self.on_deliver(&msg);
        self.checker.votes.delivered(&msg);
        self.step(to, msg);
        if is_snap {
            self.snapshot_reported(from, to, true);
        }
        self.drive(to);
    }

    /// Why a message from `from` cannot reach `to` now, if it cannot.
    fn blocked(&self, from: u64, to: u64) -> Option<&'static str> {
        if !self.nodes.get(&to).is_some_and(|n| n.is_up()) {
            Some("crashed")
        } else if !self.net.link_ok(from, to) {
            Some("disconnected")
        } else {
            None
        }
    }

    /// Message `id` from `from` to `to` is lost for `reason`: the sender may
    /// hear so, the trace records it, and a snapshot's sender learns it
    /// failed.
    fn dropped(&mut self, id: u64, from: u64, to: u64, reason: &'static str, is_snap: bool) {
        self.unreachable(from, to);
        if self.cfg.trace_messages {
            self.push(EventKind::Drop {
                id,
                from,
                to,
                reason: reason.into(),
            });
        }
        if is_snap {
            self.snapshot_reported(from, to, false);
        }
    }

    /// Steps `msg` into node `to`'s core (an error counts as a refused step).
    fn step(&mut self, to: u64, msg: Message) {
        if let Some(raw) = self.nodes.get_mut(&to).and_then(|n| n.raw.as_mut()) {
            if raw.step(msg).is_err() {
                self.stats.step_errors += 1;
            }
        }
    }

    /// Schedules the report to `node` of how its snapshot to `to` went.
    fn snapshot_reported(&mut self, node: u64, to: u64, ok: bool) {
        self.world.after(0, Event::SnapshotStatus { node, to, ok });
    }

    /// A node's logical clock ticks; the next tick is scheduled.
    fn on_tick(&mut self, node: u64, incarnation: u64) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if n.incarnation != incarnation {
            return;
        }
        let Some(raw) = n.raw.as_mut() else {
            return;
        };
        raw.tick();
        let tick = self.cfg.tick_ms.max(1);
        self.world.after(tick, Event::Tick { node, incarnation });
        self.drive(node);
    }

    /// The disk finished syncing `write`: it and every earlier write are
    /// durable, and finished in order.
    fn on_disk_sync(&mut self, node: u64, incarnation: u64, write: u64) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if n.incarnation != incarnation {
            return;
        }
        // Syncs complete in order: this one covers every earlier write.
        while let Some(w) = self.nodes.get_mut(&node).and_then(|n| {
            n.inflight
                .front()
                .is_some_and(|w| w.id <= write)
                .then(|| n.inflight.pop_front())
                .flatten()
        }) {
            self.complete_write(node, w);
        }
        self.drive(node);
    }

    /// A lagging engine's apply step: applies what the node has queued.
    fn on_apply(&mut self, node: u64, incarnation: u64) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if n.incarnation != incarnation || !n.is_up() {
            return;
        }
        n.apply_scheduled = false;
        let out = n.apply_queued();
        self.after_apply(node, out);
        self.drive(node);
    }

    /// The transport reports how a snapshot from `node` to `to` went.
    fn on_snapshot_status(&mut self, node: u64, to: u64, ok: bool) {
        if let Some(raw) = self.nodes.get_mut(&node).and_then(|n| n.raw.as_mut()) {
            let st = if ok {
                SnapshotStatus::Finish
            } else {
                SnapshotStatus::Failure
            };
            raw.report_snapshot(to, st);
            self.drive(node);
        }
    }

    /// Hands `msg` to the network: routed with its delays (several for a
    /// duplicate), or dropped.
    pub(crate) fn send(&mut self, mut msg: Message) {
        if self.net.wire_roundtrip {
            match Message::decode(&msg.encode_to_vec()[..]) {
                Ok(m) => msg = m,
                Err(e) => {
                    self.breach(("wire_format", format!("message {msg} does not decode: {e}")));
                    return;
                }
            }
        }
        self.checker.sent.record(&msg);
        self.next_msg_id += 1;
        let id = self.next_msg_id;
        self.stats.messages += 1;
        let now = self.world.now();
        let routing = self.net.route_at(now, &mut self.rng, &msg);
        if self.cfg.trace_messages {
            self.push(EventKind::Send {
                id,
                from: msg.from,
                to: msg.to,
                msg_type: msg.msg_type().as_str_name().into(),
                term: msg.term,
                index: msg.index,
                log_term: msg.log_term,
                commit: msg.commit,
                entries: msg.entries.len() as u32,
                reject: msg.reject,
            });
        }
        if routing.delays.is_empty() {
            let reason = if self.net.link_ok(msg.from, msg.to) {
                "random"
            } else {
                "partition"
            };
            let is_snap = msg.msg_type() == MessageType::MsgSnapshot;
            self.dropped(id, msg.from, msg.to, reason, is_snap);
            return;
        }
        let n = routing.delays.len();
        for (k, d) in routing.delays.into_iter().enumerate() {
            if k > 0 && self.cfg.trace_messages {
                self.push(EventKind::Duplicate { id });
            }
            let m = if k + 1 == n {
                std::mem::take(&mut msg)
            } else {
                msg.clone()
            };
            self.world.after(
                d,
                Event::Deliver {
                    id,
                    msg: Box::new(m),
                },
            );
        }
    }

    /// The transport tells `from` it could not reach `to` (when
    /// `SimConfig::report_unreachable` is on); `from` is driven later, by
    /// its next event.
    fn unreachable(&mut self, from: u64, to: u64) {
        if !self.cfg.report_unreachable || from == to {
            return;
        }
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_unreachable(to);
        }
    }

    /// Runs events up to absolute time `end` (stops early on a violation,
    /// unless `SimConfig::keep_going`).
    pub(crate) fn run_to(&mut self, end: u64) {
        while !self.halted() {
            match self.world.pop_until(end) {
                Some(ev) => self.process(ev),
                None => break,
            }
        }
        self.world.advance_to(end);
    }

    /// Advances simulated time by `ms`, processing every event due.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.world.now().saturating_add(ms);
        self.run_to(end);
    }

    /// Runs until `pred` holds (checked after every event) or `max_ms` pass;
    /// returns whether `pred` held.
    pub fn run_until(&mut self, max_ms: u64, mut pred: impl FnMut(&Cluster) -> bool) -> bool {
        let end = self.world.now().saturating_add(max_ms);
        if pred(self) {
            return true;
        }
        while !self.halted() {
            match self.world.pop_until(end) {
                Some(ev) => {
                    self.process(ev);
                    if pred(self) {
                        return true;
                    }
                }
                None => break,
            }
        }
        self.world.advance_to(end);
        pred(self)
    }
}
