//! The small key/value state machine the simulator applies committed entries
//! to — the service of MIT 6.824's kvraft lab: `Put`, `Append` and `Get` on
//! string keys, with exactly-once execution of client retries.
//!
//! * [`Command`] is what a client proposes; [`Command::encode`] gives the
//!   entry data and [`Command::decode`] reads it back. Anything not produced
//!   by `encode` (6.824's Raft tests propose raw integers) decodes to `None`
//!   and is simply not a KV command — decoding never panics.
//! * [`KvStore::apply`] executes a command once per `(client_id, seq)`: a
//!   client retrying after a timeout or a leader change may get its command
//!   committed twice, and the second copy must not append twice.
//! * [`KvStore::snapshot_bytes`] / [`KvStore::restore`] give a deterministic
//!   image (ordered maps, fixed encoding) so nodes that applied the same
//!   prefix produce identical snapshots, and [`KvStore::digest`] compares
//!   states cheaply in invariant checks.
//!
//! # Example
//!
//! ```
//! use tinyraft_harness::kv::{Command, KvOp, KvResult, KvStore};
//!
//! let cmd = Command { client_id: 7, seq: 1, op: KvOp::Append { key: "k".into(), value: "x".into() } };
//! let data = cmd.encode();
//! assert_eq!(Command::decode(&data), Some(cmd.clone()));
//! assert_eq!(Command::decode(&42u64.to_le_bytes()), None); // not a KV command
//!
//! let mut kv = KvStore::new();
//! assert_eq!(kv.apply(&cmd), KvResult::Ok);
//! assert_eq!(kv.apply(&cmd), KvResult::Ok); // a duplicate: not applied again
//! assert_eq!(kv.get("k"), Some("x"));
//!
//! let copy = KvStore::restore(&kv.snapshot_bytes()).unwrap();
//! assert_eq!(copy.digest(), kv.digest());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::trace::Fnv64;

/// Prefix of every encoded [`Command`]: "tinyraft KV", version 1.
const CMD_MAGIC: &[u8; 4] = b"TKV\x01";
/// Prefix of every [`KvStore`] snapshot image, version 1.
const SNAP_MAGIC: &[u8; 4] = b"TKS\x01";

/// One key/value operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Append `value` to `key`'s value (an absent key counts as `""`).
    Append {
        /// The key.
        key: String,
        /// The suffix to append.
        value: String,
    },
    /// Read `key`'s value (`""` if absent).
    Get {
        /// The key.
        key: String,
    },
}

impl KvOp {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. } | KvOp::Append { key, .. } | KvOp::Get { key } => key,
        }
    }

    /// Whether the operation only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get { .. })
    }
}

impl fmt::Display for KvOp {
    /// `put(k,v)`, `append(k,v)` or `get(k)`, with `{:?}` quoting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Put { key, value } => write!(f, "put({key:?},{value:?})"),
            KvOp::Append { key, value } => write!(f, "append({key:?},{value:?})"),
            KvOp::Get { key } => write!(f, "get({key:?})"),
        }
    }
}

/// A client's request, as proposed to Raft: the operation plus the
/// `(client_id, seq)` pair that makes retries idempotent. A client numbers
/// its commands with increasing `seq` and has at most one outstanding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    /// Unique id of the issuing client.
    pub client_id: u64,
    /// The client's sequence number for this command, increasing.
    pub seq: u64,
    /// The operation.
    pub op: KvOp,
}

impl Command {
    /// Encodes the command as entry data: a 4-byte magic prefix, then
    /// `client_id`, `seq` (LEB128 varints), an op tag byte (1 put, 2 append,
    /// 3 get) and the length-prefixed key (and value).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.op.key().len());
        out.extend_from_slice(CMD_MAGIC);
        put_varint(&mut out, self.client_id);
        put_varint(&mut out, self.seq);
        match &self.op {
            KvOp::Put { key, value } => {
                out.push(1);
                put_str(&mut out, key);
                put_str(&mut out, value);
            }
            KvOp::Append { key, value } => {
                out.push(2);
                put_str(&mut out, key);
                put_str(&mut out, value);
            }
            KvOp::Get { key } => {
                out.push(3);
                put_str(&mut out, key);
            }
        }
        out
    }

    /// Decodes what [`Command::encode`] produced. Any other bytes (wrong
    /// magic, truncated, trailing bytes, bad tag, invalid UTF-8) give `None`.
    pub fn decode(data: &[u8]) -> Option<Command> {
        let rest = data.strip_prefix(CMD_MAGIC)?;
        let mut r = Reader(rest);
        let client_id = r.varint().ok()?;
        let seq = r.varint().ok()?;
        let op = match r.byte().ok()? {
            1 => KvOp::Put {
                key: r.string().ok()?,
                value: r.string().ok()?,
            },
            2 => KvOp::Append {
                key: r.string().ok()?,
                value: r.string().ok()?,
            },
            3 => KvOp::Get {
                key: r.string().ok()?,
            },
            _ => return None,
        };
        if !r.0.is_empty() {
            return None;
        }
        Some(Command { client_id, seq, op })
    }
}

/// The outcome of applying a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvResult {
    /// A `Put` or `Append` took effect (or had already, for a duplicate).
    Ok,
    /// A `Get`'s value (`""` if the key is absent).
    Value(String),
    /// The command is older than the client's latest applied one: it was
    /// not applied, and its result is no longer remembered. (A client has at
    /// most one command outstanding, so nobody waits for this answer.)
    Stale,
}

/// What the store remembers per client for deduplication.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    seq: u64,
    result: KvResult,
}

/// The key/value state machine: data plus per-client dedup sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, Session>,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Applies `cmd` at most once per `(client_id, seq)`.
    ///
    /// A repeat of the client's latest command returns the remembered result
    /// without re-executing it; an older one returns [`KvResult::Stale`]. A
    /// newer one executes and becomes the remembered result.
    pub fn apply(&mut self, cmd: &Command) -> KvResult {
        if let Some(s) = self.sessions.get(&cmd.client_id) {
            if cmd.seq == s.seq {
                return s.result.clone();
            }
            if cmd.seq < s.seq {
                return KvResult::Stale;
            }
        }
        let result = match &cmd.op {
            KvOp::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvResult::Ok
            }
            KvOp::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                KvResult::Ok
            }
            KvOp::Get { key } => KvResult::Value(self.data.get(key).cloned().unwrap_or_default()),
        };
        self.sessions.insert(
            cmd.client_id,
            Session {
                seq: cmd.seq,
                result: result.clone(),
            },
        );
        result
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The latest `seq` applied for `client_id`, if any.
    pub fn last_seq(&self, client_id: u64) -> Option<u64> {
        self.sessions.get(&client_id).map(|s| s.seq)
    }

    /// All keys and values, in key order.
    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    /// A deterministic image of the whole state (data and sessions): equal
    /// stores give equal bytes.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Rebuilds a store from [`KvStore::snapshot_bytes`]' output. Malformed
    /// input (including a non-canonical image: keys or clients out of order)
    /// is an error naming the problem.
    pub fn restore(bytes: &[u8]) -> Result<KvStore, String> {
        let rest = bytes
            .strip_prefix(SNAP_MAGIC)
            .ok_or("kv snapshot: bad magic prefix")?;
        let mut r = Reader(rest);
        let mut store = KvStore::new();
        let n = r
            .varint()
            .map_err(|e| format!("kv snapshot: key count: {e}"))?;
        let mut prev: Option<String> = None;
        for i in 0..n {
            let k = r
                .string()
                .map_err(|e| format!("kv snapshot: key {i}: {e}"))?;
            let v = r
                .string()
                .map_err(|e| format!("kv snapshot: value {i}: {e}"))?;
            if prev.as_ref().is_some_and(|p| *p >= k) {
                return Err(format!("kv snapshot: key {i} out of order"));
            }
            prev = Some(k.clone());
            store.data.insert(k, v);
        }
        let n = r
            .varint()
            .map_err(|e| format!("kv snapshot: session count: {e}"))?;
        let mut prev: Option<u64> = None;
        for i in 0..n {
            let field = |e: String| format!("kv snapshot: session {i}: {e}");
            let client = r.varint().map_err(field)?;
            let seq = r.varint().map_err(field)?;
            let result = match r.byte().map_err(field)? {
                0 => KvResult::Ok,
                1 => KvResult::Value(r.string().map_err(field)?),
                2 => KvResult::Stale,
                t => return Err(field(format!("bad result tag {t}"))),
            };
            if prev.is_some_and(|p| p >= client) {
                return Err(format!("kv snapshot: session {i} out of order"));
            }
            prev = Some(client);
            store.sessions.insert(client, Session { seq, result });
        }
        if !r.0.is_empty() {
            return Err(format!("kv snapshot: {} trailing bytes", r.0.len()));
        }
        Ok(store)
    }

    /// A stable 64-bit hash (FNV-1a) of [`KvStore::snapshot_bytes`],
    /// computed without building the image: equal states, equal digests, on
    /// every platform.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv64::new();
        self.encode_into(&mut h);
        h.finish()
    }

    fn encode_into(&self, out: &mut impl Sink) {
        out.put(SNAP_MAGIC);
        put_varint(out, self.data.len() as u64);
        for (k, v) in &self.data {
            put_str(out, k);
            put_str(out, v);
        }
        put_varint(out, self.sessions.len() as u64);
        for (client, s) in &self.sessions {
            put_varint(out, *client);
            put_varint(out, s.seq);
            match &s.result {
                KvResult::Ok => out.put(&[0]),
                KvResult::Value(v) => {
                    out.put(&[1]);
                    put_str(out, v);
                }
                KvResult::Stale => out.put(&[2]),
            }
        }
    }
}

/// Where encoders write: a byte buffer, or straight into a hash.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Fnv64 {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }
}

fn put_varint(out: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = low;
            n += 1;
            break;
        }
        buf[n] = low | 0x80;
        n += 1;
    }
    out.put(&buf[..n]);
}

fn put_str(out: &mut impl Sink, s: &str) {
    put_varint(out, s.len() as u64);
    out.put(s.as_bytes());
}

/// A cursor over untrusted bytes: every read checks bounds.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let (&b, rest) = self.0.split_first().ok_or("truncated")?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            // The 10th byte may only carry the top bit of a u64.
            if shift == 63 && bits > 1 {
                return Err("varint overflows u64".into());
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                // Only the shortest form is accepted, so every value has
                // one encoding and decode/encode round-trips byte for byte.
                if b == 0 && shift > 0 {
                    return Err("non-canonical varint".into());
                }
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn string(&mut self) -> Result<String, String> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| "length overflows usize")?;
        if len > self.0.len() {
            return Err(format!("length {len} exceeds remaining {}", self.0.len()));
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| "invalid UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cmd(client_id: u64, seq: u64, op: KvOp) -> Command {
        Command { client_id, seq, op }
    }
    fn put(k: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: k.into(),
            value: v.into(),
        }
    }
    fn append(k: &str, v: &str) -> KvOp {
        KvOp::Append {
            key: k.into(),
            value: v.into(),
        }
    }
    fn get(k: &str) -> KvOp {
        KvOp::Get { key: k.into() }
    }

    #[test]
    fn put_append_get_semantics() {
        let mut kv = KvStore::new();
        assert_eq!(
            kv.apply(&cmd(1, 1, get("a"))),
            KvResult::Value(String::new())
        );
        assert_eq!(kv.apply(&cmd(1, 2, append("a", "x"))), KvResult::Ok);
        assert_eq!(kv.apply(&cmd(2, 1, append("a", "y"))), KvResult::Ok);
        assert_eq!(kv.apply(&cmd(1, 3, get("a"))), KvResult::Value("xy".into()));
        assert_eq!(kv.apply(&cmd(2, 2, put("a", "z"))), KvResult::Ok);
        assert_eq!(kv.get("a"), Some("z"));
        assert_eq!(kv.get("b"), None);
        assert_eq!(kv.len(), 1);
    }

    /// 6.824 kvraft: a retried command committed twice executes once; the
    /// duplicate gets the first execution's result.
    #[test]
    fn duplicate_commands_apply_exactly_once() {
        let mut kv = KvStore::new();
        let a = cmd(1, 5, append("k", "x"));
        kv.apply(&a);
        kv.apply(&a);
        assert_eq!(kv.get("k"), Some("x"));
        let g = cmd(1, 6, get("k"));
        assert_eq!(kv.apply(&g), KvResult::Value("x".into()));
        kv.apply(&cmd(2, 1, append("k", "y")));
        // The duplicate Get returns the remembered value, not the new one.
        assert_eq!(kv.apply(&g), KvResult::Value("x".into()));
        // An older command is not re-applied.
        assert_eq!(kv.apply(&a), KvResult::Stale);
        assert_eq!(kv.get("k"), Some("xy"));
        assert_eq!(kv.last_seq(1), Some(6));
    }

    /// 6.824's Raft tests propose raw integers: they must not parse as KV
    /// commands, and no byte string may panic the decoder.
    #[test]
    fn foreign_bytes_decode_to_none() {
        assert_eq!(Command::decode(b""), None);
        assert_eq!(Command::decode(&100u64.to_le_bytes()), None);
        assert_eq!(Command::decode(b"100"), None);
        let good = cmd(1, 2, put("k", "v")).encode();
        for cut in 0..good.len() {
            assert_eq!(Command::decode(&good[..cut]), None, "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Command::decode(&long), None);
        let mut bad_tag = good.clone();
        bad_tag[CMD_MAGIC.len() + 2] = 9;
        assert_eq!(Command::decode(&bad_tag), None);
    }

    #[test]
    fn snapshot_rejects_malformed_images() {
        let mut kv = KvStore::new();
        kv.apply(&cmd(1, 1, put("a", "1")));
        kv.apply(&cmd(2, 1, get("a")));
        let img = kv.snapshot_bytes();
        for cut in 0..img.len() {
            assert!(KvStore::restore(&img[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = img.clone();
        long.push(0);
        assert!(KvStore::restore(&long).unwrap_err().contains("trailing"));
        assert_eq!(KvStore::restore(&img), Ok(kv));
    }

    /// Every value has exactly one encoding (so images are canonical).
    #[test]
    fn varints_are_canonical() {
        let mut r = Reader(&[0x80, 0x00]);
        assert!(r.varint().is_err());
        let mut r = Reader(&[0xff; 10]);
        assert!(r.varint().is_err());
        for v in [0, 1, 127, 128, 300, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader(&buf);
            assert_eq!(r.varint(), Ok(v));
            assert!(r.0.is_empty());
        }
    }

    fn arb_op() -> impl Strategy<Value = KvOp> {
        let key = "[a-c]{0,2}";
        let val = "\\PC{0,4}";
        prop_oneof![
            (key, val).prop_map(|(k, v)| KvOp::Put { key: k, value: v }),
            (key, val).prop_map(|(k, v)| KvOp::Append { key: k, value: v }),
            key.prop_map(|k| KvOp::Get { key: k }),
        ]
    }

    proptest! {
        #[test]
        fn command_round_trips(c in any::<u64>(), s in any::<u64>(), op in arb_op()) {
            let x = cmd(c, s, op);
            prop_assert_eq!(Command::decode(&x.encode()), Some(x));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Command::decode(&bytes);
            let mut prefixed = CMD_MAGIC.to_vec();
            prefixed.extend_from_slice(&bytes);
            if let Some(c) = Command::decode(&prefixed) {
                prop_assert_eq!(c.encode(), prefixed);
            }
            let mut snap = SNAP_MAGIC.to_vec();
            snap.extend_from_slice(&bytes);
            if let Ok(s) = KvStore::restore(&snap) {
                prop_assert_eq!(s.snapshot_bytes(), snap);
            }
        }

        /// Snapshots are deterministic and complete: a restored store has
        /// the same image and digest and behaves the same afterwards.
        #[test]
        fn snapshot_round_trips(ops in proptest::collection::vec((0u64..3, arb_op()), 0..30)) {
            let mut kv = KvStore::new();
            for (i, (c, op)) in ops.iter().enumerate() {
                kv.apply(&cmd(*c, i as u64 / 2, op.clone()));
            }
            let img = kv.snapshot_bytes();
            let back = KvStore::restore(&img).expect("own image restores");
            prop_assert_eq!(back.snapshot_bytes(), img);
            prop_assert_eq!(back.digest(), kv.digest());
            prop_assert_eq!(&back, &kv);
        }
    }

    #[test]
    fn digest_tracks_content() {
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        assert_eq!(a.digest(), b.digest());
        a.apply(&cmd(1, 1, put("k", "v")));
        assert_ne!(a.digest(), b.digest());
        b.apply(&cmd(1, 1, put("k", "v")));
        assert_eq!(a.digest(), b.digest());
        let mut h = Fnv64::new();
        h.bytes(&a.snapshot_bytes());
        assert_eq!(a.digest(), h.finish());
    }
}
