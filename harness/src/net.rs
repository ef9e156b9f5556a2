//! The simulated network: per-message delay, loss, duplication and long
//! delays (reordering), plus the topology a test controls — disconnected
//! nodes, partitions into groups, one-way cuts.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tinyraft::eraftpb::{Message, MessageType};

/// How the network treats each message.
///
/// The default is a healthy LAN: 1–10 ms delay, no loss, no duplicates, no
/// long delays.
///
/// ```
/// use tinyraft_harness::NetConfig;
/// let lossy = NetConfig { drop_rate: 0.1, ..Default::default() };
/// assert_eq!(lossy.max_delay_ms, 10);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Smallest one-way delay in ms.
    pub min_delay_ms: u64,
    /// Largest one-way delay in ms (inclusive).
    pub max_delay_ms: u64,
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Probability that a delivered message is delivered twice.
    pub dup_rate: f64,
    /// Probability that a message takes an extra delay of up to
    /// `long_delay_max_ms` (which reorders it behind later messages).
    pub long_delay_rate: f64,
    /// Largest extra delay of a long-delayed message.
    pub long_delay_max_ms: u64,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            min_delay_ms: 1,
            max_delay_ms: 10,
            drop_rate: 0.0,
            dup_rate: 0.0,
            long_delay_rate: 0.0,
            long_delay_max_ms: 0,
        }
    }
}

impl NetConfig {
    /// 6.824's labrpc "unreliable" profile: 10% of messages lost, 0–27 ms
    /// delay.
    pub fn unreliable() -> NetConfig {
        NetConfig {
            min_delay_ms: 0,
            max_delay_ms: 27,
            drop_rate: 0.1,
            dup_rate: 0.0,
            long_delay_rate: 0.0,
            long_delay_max_ms: 0,
        }
    }
}

/// Per-node traffic counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
}

/// What the network decided for one message.
#[derive(Debug)]
pub(crate) struct Routing {
    /// One delay per copy that will arrive (empty: dropped).
    pub(crate) delays: Vec<u64>,
}

/// The network's state.
#[derive(Debug)]
pub(crate) struct Network {
    base: NetConfig,
    /// Temporary overrides from the fault schedule (bursts).
    pub(crate) burst: Option<NetConfig>,
    unreliable: bool,
    long_reordering: bool,
    disconnected: BTreeSet<u64>,
    /// Node → group; `Some` while partitioned (nodes not listed are alone).
    groups: Option<BTreeMap<u64, usize>>,
    /// Blocked directed links (from, to).
    cuts: BTreeSet<(u64, u64)>,
    traffic: BTreeMap<u64, Traffic>,
    /// Encode and decode every message, exercising the wire format.
    pub(crate) wire_roundtrip: bool,
    /// Held directed links: (from, to) → when their messages are released.
    holds: BTreeMap<(u64, u64), u64>,
}

impl Network {
    pub(crate) fn new(base: NetConfig) -> Network {
        Network {
            base,
            burst: None,
            unreliable: false,
            long_reordering: false,
            disconnected: BTreeSet::new(),
            groups: None,
            cuts: BTreeSet::new(),
            traffic: BTreeMap::new(),
            wire_roundtrip: false,
            holds: BTreeMap::new(),
        }
    }

    fn profile(&self) -> NetConfig {
        if let Some(b) = &self.burst {
            return b.clone();
        }
        if self.unreliable {
            let mut u = NetConfig::unreliable();
            u.drop_rate = u.drop_rate.max(self.base.drop_rate);
            u.dup_rate = self.base.dup_rate;
            u.long_delay_rate = self.base.long_delay_rate;
            u.long_delay_max_ms = self.base.long_delay_max_ms;
            return u;
        }
        self.base.clone()
    }

    pub(crate) fn set_unreliable(&mut self, on: bool) {
        self.unreliable = on;
    }

    pub(crate) fn set_long_reordering(&mut self, on: bool) {
        self.long_reordering = on;
    }

    pub(crate) fn is_connected(&self, id: u64) -> bool {
        !self.disconnected.contains(&id)
    }

    pub(crate) fn disconnect(&mut self, id: u64) {
        self.disconnected.insert(id);
    }

    pub(crate) fn connect(&mut self, id: u64) {
        self.disconnected.remove(&id);
    }

    /// Splits the nodes into `groups`; nodes in no group are isolated.
    pub(crate) fn partition(&mut self, groups: &[&[u64]]) {
        let mut map = BTreeMap::new();
        for (g, ids) in groups.iter().enumerate() {
            for &id in *ids {
                map.insert(id, g);
            }
        }
        self.groups = Some(map);
    }

    /// Blocks messages from `from` to `to` (one way).
    pub(crate) fn cut(&mut self, from: u64, to: u64) {
        self.cuts.insert((from, to));
    }

    /// Holds every message sent from `from` to `to` until `until_ms`
    /// (they arrive after it, in their original order give or take the
    /// usual jitter).
    pub(crate) fn hold(&mut self, from: u64, to: u64, until_ms: u64) {
        self.holds.insert((from, to), until_ms);
    }

    /// Reconnects everyone, clears partitions and cuts.
    pub(crate) fn heal(&mut self) {
        self.holds.clear();
        self.disconnected.clear();
        self.groups = None;
        self.cuts.clear();
    }

    /// Clears partitions and cuts but keeps disconnected nodes disconnected.
    pub(crate) fn clear_partitions(&mut self) {
        self.groups = None;
        self.cuts.clear();
    }

    /// Whether a message from `from` can currently reach `to`.
    pub(crate) fn link_ok(&self, from: u64, to: u64) -> bool {
        if self.disconnected.contains(&from) || self.disconnected.contains(&to) {
            return false;
        }
        if let Some(g) = &self.groups {
            match (g.get(&from), g.get(&to)) {
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
        !self.cuts.contains(&(from, to))
    }

    pub(crate) fn traffic(&self, id: u64) -> Traffic {
        self.traffic.get(&id).copied().unwrap_or_default()
    }

    /// [`Network::route`] at simulated time `now_ms`: a message on a held
    /// link waits until the hold ends.
    pub(crate) fn route_at(&mut self, now_ms: u64, rng: &mut ChaCha8Rng, msg: &Message) -> Routing {
        let mut r = self.route(rng, msg);
        if let Some(&until) = self.holds.get(&(msg.from, msg.to)) {
            if until > now_ms {
                for d in &mut r.delays {
                    *d += until - now_ms;
                }
            } else {
                self.holds.remove(&(msg.from, msg.to));
            }
        }
        r
    }

    /// Counts `msg` against its sender and decides its fate.
    pub(crate) fn route(&mut self, rng: &mut ChaCha8Rng, msg: &Message) -> Routing {
        let bytes = msg.encoded_len() as u64;
        let t = self.traffic.entry(msg.from).or_default();
        t.messages += 1;
        t.bytes += bytes;
        let mut delays = Vec::new();
        if !self.link_ok(msg.from, msg.to) {
            return Routing { delays };
        }
        let p = self.profile();
        if p.drop_rate > 0.0 && rng.random_bool(p.drop_rate.clamp(0.0, 1.0)) {
            return Routing { delays };
        }
        let copies = if p.dup_rate > 0.0 && rng.random_bool(p.dup_rate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let hi = p.max_delay_ms.max(p.min_delay_ms);
            let mut d = rng.random_range(p.min_delay_ms..=hi);
            if p.long_delay_rate > 0.0
                && p.long_delay_max_ms > 0
                && rng.random_bool(p.long_delay_rate.clamp(0.0, 1.0))
            {
                d += rng.random_range(0..=p.long_delay_max_ms);
            }
            if self.long_reordering && is_response(msg.msg_type()) && rng.random_range(0..900) < 600
            {
                // labrpc's long reordering: 200 + U(0, 1 + U(0, 2000)) ms.
                let inner = rng.random_range(0..2000u64);
                d += 200 + rng.random_range(0..=inner);
            }
            delays.push(d);
        }
        Routing { delays }
    }
}

fn is_response(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgAppendResponse
            | MessageType::MsgRequestVoteResponse
            | MessageType::MsgRequestPreVoteResponse
            | MessageType::MsgHeartbeatResponse
            | MessageType::MsgReadIndexResp
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn msg(from: u64, to: u64) -> Message {
        Message {
            from,
            to,
            ..Default::default()
        }
    }

    /// A disconnected node neither sends nor receives, but what it hands to
    /// the network still counts (6.824 counts RPCs at the sender).
    #[test]
    fn disconnected_node_sends_and_receives_nothing() {
        let mut n = Network::new(NetConfig::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        n.disconnect(2);
        assert!(n.route(&mut rng, &msg(2, 1)).delays.is_empty());
        assert!(n.route(&mut rng, &msg(1, 2)).delays.is_empty());
        assert_eq!(n.traffic(2).messages, 1);
        n.connect(2);
        assert_eq!(n.route(&mut rng, &msg(2, 1)).delays.len(), 1);
    }

    #[test]
    fn partitions_and_one_way_cuts_block_links() {
        let mut n = Network::new(NetConfig::default());
        n.partition(&[&[1, 2], &[3]]);
        assert!(n.link_ok(1, 2));
        assert!(!n.link_ok(1, 3));
        assert!(!n.link_ok(4, 1), "unlisted nodes are isolated");
        n.heal();
        n.cut(1, 2);
        assert!(!n.link_ok(1, 2));
        assert!(n.link_ok(2, 1));
    }

    #[test]
    fn delays_stay_in_configured_range() {
        let mut n = Network::new(NetConfig::default());
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..200 {
            let r = n.route(&mut rng, &msg(1, 2));
            assert!(r.delays.iter().all(|d| (1..=10).contains(d)));
        }
    }

    /// 6.824 unreliable: about 10% lost.
    #[test]
    fn unreliable_drops_about_ten_percent() {
        let mut n = Network::new(NetConfig::default());
        n.set_unreliable(true);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let lost = (0..2000)
            .filter(|_| n.route(&mut rng, &msg(1, 2)).delays.is_empty())
            .count();
        assert!((120..=280).contains(&lost), "lost {lost} of 2000");
    }
}
