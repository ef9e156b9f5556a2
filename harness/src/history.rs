//! Client histories in formats outside checkers read, so a campaign's
//! histories can be checked by Porcupine, Knossos or Elle, and histories
//! from other systems by this crate's checker.
//!
//! **JSON lines** (one operation per line, in call order):
//!
//! ```text
//! {"client":1,"key":"x","op":"put","input":"1","output":null,"call_us":10000,"return_us":12000,"outcome":"ok"}
//! {"client":2,"key":"x","op":"get","input":null,"output":"1","call_us":11000,"return_us":null,"outcome":"unknown"}
//! ```
//!
//! - `op`: `get`, `put` or `append`; `input`: the value written (`null` for
//!   `get`); `output`: the value a `get` returned (`""` for an absent key,
//!   `null` otherwise or when no answer came);
//! - `call_us`, `return_us`: simulated microseconds (`return_us` is `null`
//!   when the client never learned the outcome);
//! - `outcome`: `ok` (the client got its answer), `unknown` (it gave up:
//!   the operation may have taken effect at any time after the call, or
//!   never, as Porcupine and Knossos treat it) or `fail` (known not to have
//!   taken effect: left out of the check).
//!
//! **Jepsen EDN** ([`to_edn`]): an `:invoke` at the call and an `:ok` (or
//! `:info` when unknown) at the return, in time order, with `:process`
//! the client, `:time` in nanoseconds, `:f` one of `:get`/`:put`/`:append`
//! and `:value` a `[key value]` tuple (jepsen.independent's shape, one
//! register per key).

use serde::{Deserialize, Serialize};

use crate::kv::KvOp;
use crate::linearizability::Operation;

/// One operation as a JSON line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    client: u64,
    key: String,
    op: String,
    input: Option<String>,
    output: Option<String>,
    call_us: u64,
    return_us: Option<u64>,
    outcome: String,
}

fn line_of(o: &Operation) -> Line {
    let (op, key, input) = match &o.op {
        KvOp::Get { key } => ("get", key.clone(), None),
        KvOp::Put { key, value } => ("put", key.clone(), Some(value.clone())),
        KvOp::Append { key, value } => ("append", key.clone(), Some(value.clone())),
    };
    let output = match o.op {
        KvOp::Get { .. } => o.output.clone(),
        _ => None,
    };
    Line {
        client: o.client_id,
        key,
        op: op.into(),
        input,
        output,
        call_us: o.call_ms.saturating_mul(1000),
        return_us: o.return_ms.map(|r| r.saturating_mul(1000)),
        outcome: if o.return_ms.is_some() {
            "ok"
        } else {
            "unknown"
        }
        .into(),
    }
}

/// The history as JSON lines (see the module docs), one per operation.
pub fn to_jsonl(ops: &[Operation]) -> String {
    let mut out = String::new();
    for o in ops {
        // A `Line` of strings and integers always serializes.
        out.push_str(&serde_json::to_string(&line_of(o)).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Reads a JSON-lines history. Operations with outcome `fail` are left out
/// (they did not happen); times are rounded down to milliseconds, the
/// checker's unit. The error names the line and what is wrong with it.
pub fn from_jsonl(text: &str) -> Result<Vec<Operation>, String> {
    let mut ops = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let at = n + 1;
        let l: Line = serde_json::from_str(raw).map_err(|e| format!("line {at}: {e}"))?;
        let value = || {
            l.input
                .clone()
                .ok_or_else(|| format!("line {at}: {} needs an input", l.op))
        };
        let op = match l.op.as_str() {
            "get" => KvOp::Get { key: l.key.clone() },
            "put" => KvOp::Put {
                key: l.key.clone(),
                value: value()?,
            },
            "append" => KvOp::Append {
                key: l.key.clone(),
                value: value()?,
            },
            other => return Err(format!("line {at}: unknown op {other:?}")),
        };
        let return_ms = match (l.outcome.as_str(), l.return_us) {
            ("fail", _) => continue,
            ("ok", Some(r)) => Some(r / 1000),
            ("ok", None) => return Err(format!("line {at}: outcome ok without return_us")),
            ("unknown", _) => None,
            (other, _) => return Err(format!("line {at}: unknown outcome {other:?}")),
        };
        let call_ms = l.call_us / 1000;
        if return_ms.is_some_and(|r| r < call_ms) {
            return Err(format!("line {at}: returns before it is called"));
        }
        ops.push(Operation {
            client_id: l.client,
            op,
            output: l.output.clone(),
            call_ms,
            return_ms,
        });
    }
    Ok(ops)
}

/// An EDN string literal.
fn edn_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The history as Jepsen EDN events (see the module docs), one map per
/// line, in time order (an invocation before a completion at the same
/// instant). Operations whose outcome is unknown complete with `:info` at
/// the end of the history, as Jepsen records a crashed client.
pub fn to_edn(ops: &[Operation]) -> String {
    let end_ms = ops
        .iter()
        .map(|o| o.return_ms.unwrap_or(o.call_ms))
        .max()
        .unwrap_or(0);
    // (time ms, 0 = invoke / 1 = completion, operation index)
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, o) in ops.iter().enumerate() {
        events.push((o.call_ms, 0, i));
        events.push((o.return_ms.unwrap_or(end_ms), 1, i));
    }
    events.sort_unstable();
    let mut out = String::new();
    for (t, kind, i) in events {
        let o = &ops[i];
        let (f, key, written) = match &o.op {
            KvOp::Get { key } => ("get", key, None),
            KvOp::Put { key, value } => ("put", key, Some(value)),
            KvOp::Append { key, value } => ("append", key, Some(value)),
        };
        let (ty, value) = match (kind, written) {
            (0, Some(v)) => (":invoke", edn_str(v)),
            (0, None) => (":invoke", "nil".to_string()),
            (_, _) if o.return_ms.is_none() => (
                ":info",
                written.map_or_else(|| "nil".to_string(), |v| edn_str(v)),
            ),
            (_, Some(v)) => (":ok", edn_str(v)),
            (_, None) => (
                ":ok",
                o.output
                    .as_deref()
                    .map_or_else(|| "nil".to_string(), edn_str),
            ),
        };
        out.push_str(&format!(
            "{{:type {ty}, :f :{f}, :value [{} {value}], :process {}, :time {}}}\n",
            edn_str(key),
            o.client_id,
            t.saturating_mul(1_000_000)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{LinResult, check};

    fn op(client: u64, op: KvOp, output: Option<&str>, call: u64, ret: Option<u64>) -> Operation {
        Operation {
            client_id: client,
            op,
            output: output.map(String::from),
            call_ms: call,
            return_ms: ret,
        }
    }

    fn put(k: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    fn get(k: &str) -> KvOp {
        KvOp::Get { key: k.into() }
    }

    fn history() -> Vec<Operation> {
        vec![
            op(1, put("x", "1"), None, 10, Some(20)),
            op(2, get("x"), Some("1"), 25, Some(30)),
            op(
                3,
                KvOp::Append {
                    key: "x".into(),
                    value: "2".into(),
                },
                None,
                40,
                None,
            ),
            op(2, get("x"), Some("12"), 50, Some(60)),
        ]
    }

    /// Issue 13: a history round-trips through the JSON-lines format and
    /// the checker gives the same verdict, for a legal and an illegal one.
    #[test]
    fn jsonl_round_trip_keeps_the_verdict() {
        let ok = history();
        let back = from_jsonl(&to_jsonl(&ok)).unwrap();
        assert_eq!(back, ok);
        assert_eq!(check(&back, 100_000), LinResult::Ok);
        let mut bad = history();
        bad[1].output = Some("7".into());
        let back = from_jsonl(&to_jsonl(&bad)).unwrap();
        assert!(matches!(check(&back, 100_000), LinResult::Illegal { .. }));
    }

    /// Malformed lines are errors naming the line; `fail` operations are
    /// left out.
    #[test]
    fn jsonl_errors_name_the_line_and_fail_ops_are_dropped() {
        let text = "{\"client\":1,\"key\":\"x\",\"op\":\"put\",\"input\":\"1\",\"output\":null,\"call_us\":1000,\"return_us\":2000,\"outcome\":\"fail\"}\n";
        assert!(from_jsonl(text).unwrap().is_empty());
        let err = from_jsonl("\n{\"client\":1}").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let back = "{\"client\":1,\"key\":\"x\",\"op\":\"get\",\"input\":null,\"output\":\"\",\"call_us\":5000,\"return_us\":1000,\"outcome\":\"ok\"}";
        assert!(from_jsonl(back).unwrap_err().contains("returns before"));
    }

    /// Jepsen EDN: one invoke and one completion per operation, in time
    /// order, `:info` for an unknown outcome.
    #[test]
    fn edn_pairs_invocations_with_completions() {
        let edn = to_edn(&history());
        let lines: Vec<&str> = edn.lines().collect();
        assert_eq!(lines.len(), 8);
        assert_eq!(
            lines[0],
            "{:type :invoke, :f :put, :value [\"x\" \"1\"], :process 1, :time 10000000}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("{:type :info, :f :append"))
        );
        assert!(lines.last().unwrap().contains(":time 60000000"));
        assert!(
            lines.contains(
                &"{:type :ok, :f :get, :value [\"x\" \"12\"], :process 2, :time 60000000}"
            )
        );
    }
}
