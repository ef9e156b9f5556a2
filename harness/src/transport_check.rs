//! The transport's contract: every message it delivers is one a node sent.
//! It may lose, duplicate, delay and reorder messages (Raft tolerates all
//! of that), but never fabricate one — a transport that replays an old
//! message re-stamped with the sender's current term hands the receiver a
//! message its sender never wrote (an old append under a new term can
//! overwrite committed entries; an old vote grant can elect a second
//! leader). Checked on every delivery against a fingerprint of every send.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use tinyraft::eraftpb::Message;

use crate::invariants::Breach;

/// Fingerprints of every message sent in a run (membership only: nothing
/// iterates this set, so its order never reaches the trace).
#[derive(Debug, Default)]
pub(crate) struct SentLog {
    sent: HashSet<u64, BuildHasherDefault<PassThrough>>,
}

/// The fingerprints are already mixed: the set uses them as they are.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0, u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// One step of a multiply-rotate hash (FxHash's constant).
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95)
}

impl SentLog {
    /// Records a message as sent.
    pub(crate) fn record(&mut self, m: &Message) {
        self.sent.insert(fingerprint(m));
    }

    /// Checks that a message about to be delivered was sent.
    pub(crate) fn check(&self, m: &Message) -> Result<(), Breach> {
        if self.sent.contains(&fingerprint(m)) {
            return Ok(());
        }
        Err((
            "transport_integrity",
            format!(
                "node {} was handed a {:?} from {} (term {}, index {}, log term {}, commit {}, {} entries) that {} never sent",
                m.to,
                m.msg_type(),
                m.from,
                m.term,
                m.index,
                m.log_term,
                m.commit,
                m.entries.len(),
                m.from
            ),
        ))
    }
}

/// The header fields, the first and last entry and the snapshot metadata.
fn fingerprint(m: &Message) -> u64 {
    let mut h = [
        m.msg_type as u64,
        m.from,
        m.to,
        m.term,
        m.log_term,
        m.index,
        m.commit,
        u64::from(m.reject),
        m.reject_hint,
        m.cluster_id,
        m.entries.len() as u64,
        m.context.len() as u64,
    ]
    .into_iter()
    .fold(0, mix);
    for e in [m.entries.first(), m.entries.last()].into_iter().flatten() {
        for v in [e.index, e.term, e.entry_type as u64, e.data.len() as u64] {
            h = mix(h, v);
        }
    }
    if let Some(md) = m.snapshot.as_ref().and_then(|s| s.metadata.as_ref()) {
        h = mix(mix(h, md.index), md.term);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyraft::eraftpb::MessageType;

    /// Duplicates and late deliveries of a sent message pass; the same
    /// message re-stamped with a later term (a replaying transport) does not.
    #[test]
    fn a_message_nobody_sent_is_caught() {
        let mut log = SentLog::default();
        let m = Message {
            msg_type: MessageType::MsgAppend as i32,
            from: 1,
            to: 2,
            term: 3,
            index: 7,
            log_term: 3,
            commit: 5,
            ..Default::default()
        };
        log.record(&m);
        assert!(log.check(&m).is_ok());
        assert!(log.check(&m.clone()).is_ok());
        let replayed = Message { term: 4, ..m };
        let e = log.check(&replayed).unwrap_err();
        assert_eq!(e.0, "transport_integrity");
        assert!(e.1.contains("never sent"), "{}", e.1);
    }
}
