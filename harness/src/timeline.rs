//! A self-contained HTML timeline of a simulated run, for people.
//!
//! [`render_html`] turns a trace (see [`crate::trace`]) into one HTML page
//! with no external assets: inline CSS, an inline SVG drawing and a little
//! plain JavaScript for zooming. Open it in any browser:
//!
//! * one horizontal **lane per node**, coloured by role over time
//!   (follower, pre-candidate, candidate, leader; hatched while crashed,
//!   underlined orange while disconnected) and labelled with the term;
//! * **messages** as arrows from the sender's lane at send time to the
//!   receiver's lane at delivery time; dropped ones end in a red cross
//!   half-way; hover an arrow for its fields;
//! * **markers** for crashes, restarts, disconnects, proposals, commits,
//!   snapshots and membership changes on the node lanes, and vertical lines
//!   across all lanes for partitions, heals, faults and notes;
//! * one lane per **client** showing each operation from invocation to
//!   return;
//! * the **violation**, if any: a red banner on top of the page with the
//!   invariant and its details, a red line at its time, and a button that
//!   scrolls to it.
//!
//! Without JavaScript the page is a static drawing; with it, the buttons,
//! `+`/`-` keys and Ctrl+wheel zoom the time axis. Big traces stay usable:
//! at most [`MAX_ARROWS`] message arrows, [`MAX_MARKERS`] markers and
//! [`MAX_CLIENT_OPS`] client operations are drawn — those nearest the
//! violation (or the end of the run) — and the page says how many were
//! left out.
//!
//! # Example
//!
//! ```
//! use tinyraft_harness::timeline::render_html;
//! use tinyraft_harness::trace::{EventKind, Trace};
//!
//! let mut t = Trace::new(true);
//! t.push(0, EventKind::Role { node: 1, role: "leader".into(), term: 1, leader: 1 });
//! t.push(5, EventKind::Crash { node: 2 });
//! let html = render_html(t.events(), "seed 42");
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("<svg"));
//! // std::fs::write("timeline.html", html) and open it in a browser.
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::trace::{EventKind, TraceEvent};

/// Most message arrows drawn on one page.
pub const MAX_ARROWS: usize = 5_000;
/// Most node markers (crash, commit, propose, ...) and vertical event lines
/// drawn on one page.
pub const MAX_MARKERS: usize = 8_000;
/// Most client operations drawn on one page.
pub const MAX_CLIENT_OPS: usize = 3_000;
/// How many events before the violation (or the end) the page lists as text.
pub const LISTED_EVENTS: usize = 200;

const PAD: f64 = 12.0;
const AXIS_H: f64 = 58.0;
const LANE_H: f64 = 44.0;
const CLIENT_H: f64 = 20.0;
const CLIENT_GAP: f64 = 22.0;
const LABEL_W: f64 = 96.0;
const RIGHT_MARGIN: f64 = 280.0;

/// A span of a node's role.
struct Seg {
    node: u64,
    a: u64,
    b: u64,
    role: String,
    term: u64,
}

/// What a node lane shows at the moment, while scanning the events.
struct LaneState {
    since: u64,
    role: Option<(String, u64)>,
    down_since: Option<u64>,
    cut_since: Option<u64>,
}

impl LaneState {
    /// Closes the role segment running on `node`'s lane at `t`, if any; the
    /// lane's next segment starts at `t`.
    fn end_role(&mut self, node: u64, t: u64) -> Option<Seg> {
        let since = std::mem::replace(&mut self.since, t);
        self.role.take().map(|(role, term)| Seg {
            node,
            a: since,
            b: t,
            role,
            term,
        })
    }
}

struct SendInfo {
    t: u64,
    from: u64,
    to: u64,
    class: &'static str,
    title: String,
}

struct Arrow {
    a: u64,
    b: u64,
    from: u64,
    to: u64,
    class: &'static str,
    dropped: bool,
    title: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MarkKind {
    Crash,
    Restart,
    Disconnect,
    Connect,
    Propose,
    Commit,
    Snapshot,
    ConfChange,
}

struct Mark {
    t: u64,
    node: u64,
    kind: MarkKind,
    title: String,
}

struct VLine {
    t: u64,
    class: &'static str,
    label: String,
    title: String,
}

struct ClientOp {
    client: u64,
    a: u64,
    b: Option<u64>,
    class: &'static str,
    title: String,
}

struct Violation {
    seq: u64,
    t: u64,
    invariant: String,
    detail: String,
}

/// Everything the page draws, extracted from the events in one pass.
#[derive(Default)]
struct Model {
    nodes: BTreeSet<u64>,
    clients: BTreeSet<u64>,
    t0: u64,
    t1: u64,
    segs: Vec<Seg>,
    down: Vec<(u64, u64, u64)>,
    cut: Vec<(u64, u64, u64)>,
    arrows: Vec<Arrow>,
    marks: Vec<Mark>,
    vlines: Vec<VLine>,
    client_ops: Vec<ClientOp>,
    violation: Option<Violation>,
    in_flight: usize,
    unmatched: usize,
    counts: BTreeMap<&'static str, u64>,
}

fn msg_class(msg_type: &str) -> &'static str {
    if msg_type.contains("Heartbeat") {
        "m-hb"
    } else if msg_type.contains("Vote") {
        "m-vote"
    } else if msg_type.contains("Append") {
        "m-app"
    } else if msg_type.contains("Snap") {
        "m-snap"
    } else if msg_type.contains("ReadIndex") {
        "m-read"
    } else if msg_type.contains("TimeoutNow") || msg_type.contains("Transfer") {
        "m-xfer"
    } else {
        "m-other"
    }
}

fn is_response(msg_type: &str) -> bool {
    msg_type.contains("Response") || msg_type.ends_with("Resp")
}

impl Model {
    /// Draws the arrow of a message that arrived or was dropped at `t`
    /// (counted as unmatched if its send was never seen).
    fn end_arrow(&mut self, sent: Option<&SendInfo>, t: u64, dropped: bool, outcome: String) {
        match sent {
            Some(s) => self.arrows.push(Arrow {
                a: s.t,
                b: t,
                from: s.from,
                to: s.to,
                class: s.class,
                dropped,
                title: format!("{}, {outcome}", s.title),
            }),
            None => self.unmatched += 1,
        }
    }

    /// Marks a node event `what` (e.g. "crashed") with its trace number.
    fn node_mark(&mut self, t: u64, node: u64, kind: MarkKind, seq: u64, what: impl AsRef<str>) {
        let what = what.as_ref();
        self.marks.push(Mark {
            t,
            node,
            kind,
            title: format!("#{seq} node {node} {what} at {t} ms"),
        });
    }

    fn build(events: &[TraceEvent]) -> Model {
        let mut m = Model {
            t0: events.first().map_or(0, |e| e.t_ms),
            t1: events.last().map_or(0, |e| e.t_ms),
            ..Model::default()
        };
        let mut lanes: BTreeMap<u64, LaneState> = BTreeMap::new();
        let mut sends: BTreeMap<u64, SendInfo> = BTreeMap::new();
        let mut pending_ops: BTreeMap<(u64, u64), (u64, String)> = BTreeMap::new();
        let mut resolved: BTreeSet<u64> = BTreeSet::new();
        let t0 = m.t0;
        // Node `n`'s lane, created (starting at t0) on first mention.
        fn lane<'a>(
            lanes: &'a mut BTreeMap<u64, LaneState>,
            nodes: &mut BTreeSet<u64>,
            n: u64,
            t0: u64,
        ) -> &'a mut LaneState {
            nodes.insert(n);
            lanes.entry(n).or_insert(LaneState {
                since: t0,
                role: None,
                down_since: None,
                cut_since: None,
            })
        }
        for ev in events {
            let t = ev.t_ms;
            m.t0 = m.t0.min(t);
            m.t1 = m.t1.max(t);
            *m.counts.entry(ev.kind.name()).or_default() += 1;
            match &ev.kind {
                EventKind::Role {
                    node, role, term, ..
                } => {
                    let st = lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.segs.extend(st.end_role(*node, t));
                    st.role = Some((role.to_string(), *term));
                }
                EventKind::Send {
                    id,
                    from,
                    to,
                    msg_type,
                    term,
                    index,
                    log_term,
                    commit,
                    entries,
                    reject,
                } => {
                    lane(&mut lanes, &mut m.nodes, *from, t0);
                    lane(&mut lanes, &mut m.nodes, *to, t0);
                    let class = msg_class(msg_type);
                    let title = format!(
                        "#{seq} {msg_type} {from}\u{2192}{to} term {term} index {index} log_term {log_term} commit {commit} entries {entries}{rej}, sent {t} ms",
                        seq = ev.seq,
                        rej = if *reject { " REJECT" } else { "" },
                    );
                    let class = if is_response(msg_type) {
                        // Responses share their request's colour, dashed.
                        match class {
                            "m-hb" => "m-hb resp",
                            "m-vote" => "m-vote resp",
                            "m-app" => "m-app resp",
                            "m-snap" => "m-snap resp",
                            "m-read" => "m-read resp",
                            _ => "m-other resp",
                        }
                    } else {
                        class
                    };
                    sends.insert(
                        *id,
                        SendInfo {
                            t,
                            from: *from,
                            to: *to,
                            class,
                            title,
                        },
                    );
                }
                EventKind::Deliver { id, .. } => {
                    let outcome = format!("delivered {t} ms");
                    m.end_arrow(sends.get(id), t, false, outcome);
                    resolved.insert(*id);
                }
                EventKind::Drop { id, reason, .. } => {
                    let outcome = format!("DROPPED at {t} ms ({reason})");
                    m.end_arrow(sends.get(id), t, true, outcome);
                    resolved.insert(*id);
                }
                EventKind::Duplicate { .. } => {}
                EventKind::Crash { node } => {
                    let st = lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.segs.extend(st.end_role(*node, t));
                    st.down_since.get_or_insert(t);
                    m.node_mark(t, *node, MarkKind::Crash, ev.seq, "crashed");
                }
                EventKind::Restart { node } => {
                    let st = lane(&mut lanes, &mut m.nodes, *node, t0);
                    if let Some(a) = st.down_since.take() {
                        m.down.push((*node, a, t));
                    }
                    st.since = t;
                    m.node_mark(t, *node, MarkKind::Restart, ev.seq, "restarted");
                }
                EventKind::Disconnect { node } => {
                    let st = lane(&mut lanes, &mut m.nodes, *node, t0);
                    st.cut_since.get_or_insert(t);
                    m.node_mark(t, *node, MarkKind::Disconnect, ev.seq, "disconnected");
                }
                EventKind::Connect { node } => {
                    let st = lane(&mut lanes, &mut m.nodes, *node, t0);
                    if let Some(a) = st.cut_since.take() {
                        m.cut.push((*node, a, t));
                    }
                    m.node_mark(t, *node, MarkKind::Connect, ev.seq, "connected");
                }
                EventKind::Partition { groups } => {
                    for g in groups {
                        for n in g {
                            lane(&mut lanes, &mut m.nodes, *n, t0);
                        }
                    }
                    let label = groups
                        .iter()
                        .map(|g| {
                            let ids: Vec<String> = g.iter().map(u64::to_string).collect();
                            format!("[{}]", ids.join(","))
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    m.vlines.push(VLine {
                        t,
                        class: "v-part",
                        label: format!("partition {label}"),
                        title: format!("#{} partition {label} at {t} ms", ev.seq),
                    });
                }
                EventKind::Heal => {
                    // Heal reconnects everyone.
                    for (n, st) in lanes.iter_mut() {
                        if let Some(a) = st.cut_since.take() {
                            m.cut.push((*n, a, t));
                        }
                    }
                    m.vlines.push(VLine {
                        t,
                        class: "v-heal",
                        label: "heal".into(),
                        title: format!("#{} heal at {t} ms", ev.seq),
                    });
                }
                EventKind::Propose { node, index, term } => {
                    lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.marks.push(Mark {
                        t,
                        node: *node,
                        kind: MarkKind::Propose,
                        title: format!(
                            "#{} node {node} proposed index {index} term {term} at {t} ms",
                            ev.seq
                        ),
                    });
                }
                EventKind::Commit { node, index } => {
                    lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.node_mark(
                        t,
                        *node,
                        MarkKind::Commit,
                        ev.seq,
                        format!("commit index {index}"),
                    );
                }
                EventKind::Apply { node, .. } | EventKind::Sync { node, .. } => {
                    lane(&mut lanes, &mut m.nodes, *node, t0);
                }
                EventKind::Snapshot { node, index } => {
                    lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.node_mark(
                        t,
                        *node,
                        MarkKind::Snapshot,
                        ev.seq,
                        format!("snapshot at index {index}"),
                    );
                }
                EventKind::ConfChange { node, change } => {
                    lane(&mut lanes, &mut m.nodes, *node, t0);
                    m.node_mark(
                        t,
                        *node,
                        MarkKind::ConfChange,
                        ev.seq,
                        format!("conf change {change}"),
                    );
                }
                EventKind::ClientInvoke { client, op_id, op } => {
                    m.clients.insert(*client);
                    pending_ops.insert((*client, *op_id), (t, op.clone()));
                }
                EventKind::ClientReturn {
                    client,
                    op_id,
                    result,
                } => {
                    m.clients.insert(*client);
                    let (a, op) = pending_ops
                        .remove(&(*client, *op_id))
                        .unwrap_or((t, "(invocation not in trace)".into()));
                    m.client_ops.push(ClientOp {
                        client: *client,
                        a,
                        b: Some(t),
                        class: client_class(&op),
                        title: format!(
                            "client {client} op {op_id}: {op} \u{2192} {result} [{a} ms, {t} ms]"
                        ),
                    });
                }
                EventKind::Fault { description } => m.vlines.push(VLine {
                    t,
                    class: "v-fault",
                    label: description.clone(),
                    title: format!("#{} fault at {t} ms: {description}", ev.seq),
                }),
                EventKind::Violation { invariant, detail } => {
                    if m.violation.is_none() {
                        m.violation = Some(Violation {
                            seq: ev.seq,
                            t,
                            invariant: invariant.clone(),
                            detail: detail.clone(),
                        });
                    }
                    m.vlines.push(VLine {
                        t,
                        class: "v-viol",
                        label: format!("VIOLATION: {invariant}"),
                        title: format!("#{} violation of {invariant} at {t} ms: {detail}", ev.seq),
                    });
                }
                EventKind::Note { text } => m.vlines.push(VLine {
                    t,
                    class: "v-note",
                    label: text.clone(),
                    title: format!("#{} note at {t} ms: {text}", ev.seq),
                }),
            }
        }
        // Close what is still open at the end of the trace.
        let end = m.t1;
        for (n, st) in lanes {
            if let Some((r, tm)) = st.role {
                m.segs.push(Seg {
                    node: n,
                    a: st.since,
                    b: end,
                    role: r,
                    term: tm,
                });
            }
            if let Some(a) = st.down_since {
                m.down.push((n, a, end));
            }
            if let Some(a) = st.cut_since {
                m.cut.push((n, a, end));
            }
        }
        for ((client, op_id), (a, op)) in pending_ops {
            m.client_ops.push(ClientOp {
                client,
                a,
                b: None,
                class: client_class(&op),
                title: format!("client {client} op {op_id}: {op} (no response) [{a} ms, \u{2026}]"),
            });
        }
        m.in_flight = sends.keys().filter(|id| !resolved.contains(id)).count();
        m
    }

    /// Where the reader's attention goes: the violation, else the end.
    fn focus(&self) -> u64 {
        self.violation.as_ref().map_or(self.t1, |v| v.t)
    }
}

fn client_class(op: &str) -> &'static str {
    let op = op.to_ascii_lowercase();
    if op.starts_with("get") {
        "c-read"
    } else {
        "c-write"
    }
}

/// Keeps at most `cap` items, preferring those whose time is nearest
/// `focus`; the survivors keep their original order. Returns how many were
/// dropped.
fn cap_nearest<T>(items: &mut Vec<T>, cap: usize, focus: u64, time: impl Fn(&T) -> u64) -> usize {
    if items.len() <= cap {
        return 0;
    }
    let mut idx: Vec<(u64, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, x)| (time(x).abs_diff(focus), i))
        .collect();
    idx.sort_unstable();
    let mut keep = vec![false; items.len()];
    for &(_, i) in idx.iter().take(cap) {
        keep[i] = true;
    }
    let dropped = items.len() - cap;
    let mut i = 0;
    items.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
    dropped
}

/// Escapes text for HTML/XML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Control characters are not allowed in XML; show them escaped.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Shortens a label drawn on the page (the full text is in the tooltip).
fn short(s: &str, max: usize) -> String {
    let first_line = s.lines().next().unwrap_or("");
    if first_line.chars().count() <= max && first_line.len() == s.len() {
        return s.to_string();
    }
    let mut o: String = first_line.chars().take(max).collect();
    o.push('\u{2026}');
    o
}

/// Renders `events` as a self-contained HTML page titled `title`.
///
/// The page has no external dependencies (inline CSS, SVG and JavaScript)
/// and is deterministic: the same events give the same bytes. See the
/// [module documentation](self) for what it shows and its size caps.
pub fn render_html(events: &[TraceEvent], title: &str) -> String {
    let mut m = Model::build(events);
    let focus = m.focus();
    let total_arrows = m.arrows.len();
    let dropped_arrows = cap_nearest(&mut m.arrows, MAX_ARROWS, focus, |a| a.a);
    // Violation lines always survive the marker cap.
    let total_marks = m.marks.len() + m.vlines.len();
    let vline_cap = MAX_MARKERS / 4;
    let mut dropped_marks = 0;
    if m.vlines.len() > vline_cap {
        let (viol, mut rest): (Vec<VLine>, Vec<VLine>) =
            m.vlines.drain(..).partition(|v| v.class == "v-viol");
        dropped_marks += cap_nearest(&mut rest, vline_cap, focus, |v| v.t);
        rest.extend(viol);
        rest.sort_by_key(|v| v.t);
        m.vlines = rest;
    }
    dropped_marks += cap_nearest(
        &mut m.marks,
        MAX_MARKERS - m.vlines.len().min(vline_cap),
        focus,
        |k| k.t,
    );
    let total_ops = m.client_ops.len();
    let dropped_ops = cap_nearest(&mut m.client_ops, MAX_CLIENT_OPS, focus, |c| c.a);

    let duration = m.t1.saturating_sub(m.t0).max(1);
    // Initial scale: about 1.5 px per simulated ms for short runs, down to a
    // page ~16000 px wide for long ones; the zoom buttons change it.
    let scale = (16_000.0 / duration as f64).clamp(0.02, 1.5);
    let x = |t: u64| PAD + (t.saturating_sub(m.t0)) as f64 * scale;
    // Room on the right for the labels of lines at the very end.
    let width = x(m.t1) + RIGHT_MARGIN;

    let nodes: Vec<u64> = m.nodes.iter().copied().collect();
    let lane_of: BTreeMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let lane_top = |n: u64| AXIS_H + lane_of.get(&n).copied().unwrap_or(0) as f64 * LANE_H;
    let lane_mid = |n: u64| lane_top(n) + LANE_H / 2.0;
    let clients: Vec<u64> = m.clients.iter().copied().collect();
    let clients_top = AXIS_H + nodes.len() as f64 * LANE_H + CLIENT_GAP;
    let client_of: BTreeMap<u64, usize> =
        clients.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let height = clients_top + clients.len() as f64 * CLIENT_H + PAD;

    let mut svg =
        String::with_capacity(256 * (m.arrows.len() + m.marks.len() + m.segs.len()) + 4096);
    let _ = write!(
        svg,
        r#"<svg id="tl" xmlns="http://www.w3.org/2000/svg" width="{width:.1}" height="{height:.1}">"#
    );
    svg.push_str(concat!(
        r#"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">"#,
        r##"<rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern>"##,
    ));
    // One arrowhead per message colour (`context-stroke` is not supported
    // everywhere).
    for (name, colour) in ARROW_COLOURS {
        let _ = write!(
            svg,
            r#"<marker id="ah-{name}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{colour}"/></marker>"#
        );
    }
    svg.push_str("</defs>");
    // Lanes.
    svg.push_str(r#"<g id="lanes">"#);
    for (i, n) in nodes.iter().enumerate() {
        let top = AXIS_H + i as f64 * LANE_H;
        let _ = write!(
            svg,
            r#"<rect class="lane{odd}" data-node="{n}" x="0" y="{top:.1}" width="100%" height="{LANE_H}"/>"#,
            odd = if i % 2 == 1 { " odd" } else { "" },
        );
    }
    for (i, c) in clients.iter().enumerate() {
        let top = clients_top + i as f64 * CLIENT_H;
        let _ = write!(
            svg,
            r#"<rect class="clane{odd}" data-client="{c}" x="0" y="{top:.1}" width="100%" height="{CLIENT_H}"/>"#,
            odd = if i % 2 == 1 { " odd" } else { "" },
        );
    }
    svg.push_str("</g>");
    // Axis (redrawn by the script when zooming).
    svg.push_str(r#"<g id="axis">"#);
    let step = nice_step(80.0 / scale);
    let mut tick = m.t0.div_ceil(step) * step;
    while tick <= m.t1 {
        let tx = x(tick);
        let _ = write!(
            svg,
            r#"<line class="tick" x1="{tx:.1}" x2="{tx:.1}" y1="{y1}" y2="{height:.1}"/><text class="ticklbl" x="{tx:.1}" y="{y2}">{label}</text>"#,
            y1 = AXIS_H - 6.0,
            y2 = AXIS_H - 9.0,
            label = fmt_ms(tick),
        );
        tick += step;
    }
    svg.push_str("</g>");
    // Role segments, with the term written inside when there is room.
    svg.push_str(r#"<g id="roles">"#);
    for s in &m.segs {
        let y = lane_mid(s.node) - 8.0;
        let w = (x(s.b) - x(s.a)).max(1.0);
        let _ = write!(
            svg,
            r#"<rect class="seg r-{role}" data-a="{a}" data-b="{b}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="16"><title>node {node}: {role_t} term {term}, {a}–{b} ms</title></rect>"#,
            role = esc(&s.role.to_ascii_lowercase().replace([' ', '-'], "_")),
            role_t = esc(&s.role),
            a = s.a,
            b = s.b,
            x = x(s.a),
            node = s.node,
            term = s.term,
        );
        let hidden = if w < 22.0 {
            r#" style="display:none""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<text class="term on-{role}" data-a="{a}" data-b="{b}" data-dx="3" x="{tx:.1}" y="{ty:.1}"{hidden}>t{term}</text>"#,
            role = esc(&s.role.to_ascii_lowercase().replace([' ', '-'], "_")),
            a = s.a,
            b = s.b,
            tx = x(s.a) + 3.0,
            ty = y + 12.0,
            term = s.term,
        );
    }
    for &(n, a, b) in &m.down {
        let y = lane_top(n) + 4.0;
        let _ = write!(
            svg,
            r#"<rect class="down" data-a="{a}" data-b="{b}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h}"><title>node {n} down {a}–{b} ms</title></rect>"#,
            x = x(a),
            w = (x(b) - x(a)).max(1.0),
            h = LANE_H - 8.0,
        );
    }
    for &(n, a, b) in &m.cut {
        let y = lane_top(n) + LANE_H - 5.0;
        let _ = write!(
            svg,
            r#"<line class="cut" data-a="{a}" data-b="{b}" x1="{x1:.1}" x2="{x2:.1}" y1="{y:.1}" y2="{y:.1}"><title>node {n} disconnected {a}–{b} ms</title></line>"#,
            x1 = x(a),
            x2 = x(b),
        );
    }
    svg.push_str("</g>");
    // Client operations.
    svg.push_str(r#"<g id="clients">"#);
    for c in &m.client_ops {
        let y =
            clients_top + client_of.get(&c.client).copied().unwrap_or(0) as f64 * CLIENT_H + 4.0;
        let (b, pend) = match c.b {
            Some(b) => (b, ""),
            None => (m.t1, " pending"),
        };
        let _ = write!(
            svg,
            r#"<rect class="cop {class}{pend}" data-a="{a}" data-b="{b}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h}"><title>{title}</title></rect>"#,
            class = c.class,
            a = c.a,
            x = x(c.a),
            w = (x(b) - x(c.a)).max(2.0),
            h = CLIENT_H - 8.0,
            title = esc(&c.title),
        );
    }
    svg.push_str("</g>");
    // Messages.
    svg.push_str(r#"<g id="msgs">"#);
    for a in &m.arrows {
        let y1 = lane_mid(a.from);
        let y2 = lane_mid(a.to);
        if a.dropped {
            // Half-way towards the receiver, ending in a cross.
            let ym = (y1 + y2) / 2.0;
            let _ = write!(
                svg,
                r#"<g class="msg drop"><title>{title}</title><line class="{class}" data-a="{ta}" data-b="{tb}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{ym:.1}"/><g class="xmark" data-a="{tb}" data-y="{ym:.1}" transform="translate({x2:.1},{ym:.1})"><path d="M-3,-3L3,3M-3,3L3,-3"/></g></g>"#,
                title = esc(&a.title),
                class = a.class,
                ta = a.a,
                tb = a.b,
                x1 = x(a.a),
                x2 = x(a.b),
            );
        } else {
            let _ = write!(
                svg,
                r#"<line class="msg {class}" data-a="{ta}" data-b="{tb}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" marker-end="url(#ah-{head})"><title>{title}</title></line>"#,
                head = a.class.split(' ').next().unwrap_or("m-other"),
                title = esc(&a.title),
                class = a.class,
                ta = a.a,
                tb = a.b,
                x1 = x(a.a),
                x2 = x(a.b),
            );
        }
    }
    svg.push_str("</g>");
    // Node markers.
    svg.push_str(r#"<g id="marks">"#);
    for k in &m.marks {
        let mid = lane_mid(k.node);
        let (class, y, shape) = match k.kind {
            MarkKind::Crash => ("mk-crash", mid, "<path d=\"M-6,-6L6,6M-6,6L6,-6\"/>"),
            MarkKind::Restart => ("mk-restart", mid, "<path d=\"M-6,6L0,-6L6,6z\"/>"),
            MarkKind::Disconnect => (
                "mk-disc",
                mid - 14.0,
                "<circle r=\"4\"/><path d=\"M-4,4L4,-4\"/>",
            ),
            MarkKind::Connect => ("mk-conn", mid - 14.0, "<circle r=\"4\"/>"),
            MarkKind::Propose => ("mk-prop", mid - 12.0, "<path d=\"M0,-3L3,0L0,3L-3,0z\"/>"),
            MarkKind::Commit => ("mk-commit", mid + 12.0, "<path d=\"M0,-3L0,3\"/>"),
            MarkKind::Snapshot => (
                "mk-snap",
                mid + 13.0,
                "<rect x=\"-3\" y=\"-3\" width=\"6\" height=\"6\"/>",
            ),
            MarkKind::ConfChange => (
                "mk-conf",
                mid - 13.0,
                "<rect x=\"-3\" y=\"-3\" width=\"6\" height=\"6\"/>",
            ),
        };
        let _ = write!(
            svg,
            r#"<g class="mk {class}" data-a="{t}" data-y="{y:.1}" transform="translate({x:.1},{y:.1})"><title>{title}</title>{shape}</g>"#,
            t = k.t,
            x = x(k.t),
            title = esc(&k.title),
        );
    }
    svg.push_str("</g>");
    // Vertical event lines.
    svg.push_str(r#"<g id="vlines">"#);
    for (i, v) in m.vlines.iter().enumerate() {
        // Labels take one of three rows above the tick labels, so close
        // lines do not overwrite each other.
        let ly = 11.0 + (i % 3) as f64 * 11.0;
        let _ = write!(
            svg,
            r#"<g class="vl {class}"><title>{title}</title><line data-a="{t}" x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{height:.1}"/><text data-a="{t}" data-dx="2" x="{tx:.1}" y="{ly:.1}">{label}</text></g>"#,
            class = v.class,
            title = esc(&v.title),
            t = v.t,
            x = x(v.t),
            top = ly - 9.0,
            tx = x(v.t) + 2.0,
            label = esc(&short(&v.label, 40)),
        );
    }
    svg.push_str("</g></svg>");

    // Lane labels, in their own column so they stay put when scrolling.
    let mut labels = format!(
        r#"<svg id="labels" xmlns="http://www.w3.org/2000/svg" width="{LABEL_W}" height="{height:.1}">"#
    );
    let _ = write!(
        labels,
        r#"<text class="lbl axislbl" x="4" y="{:.1}">time</text>"#,
        AXIS_H - 9.0
    );
    for (i, n) in nodes.iter().enumerate() {
        let _ = write!(
            labels,
            r#"<text class="lbl" x="4" y="{:.1}">node {n}</text>"#,
            AXIS_H + i as f64 * LANE_H + LANE_H / 2.0 + 4.0
        );
    }
    if !clients.is_empty() {
        let _ = write!(
            labels,
            r#"<text class="lbl axislbl" x="4" y="{:.1}">clients</text>"#,
            clients_top - 6.0
        );
    }
    for (i, c) in clients.iter().enumerate() {
        let _ = write!(
            labels,
            r#"<text class="lbl small" x="4" y="{:.1}">client {c}</text>"#,
            clients_top + i as f64 * CLIENT_H + CLIENT_H / 2.0 + 4.0
        );
    }
    labels.push_str("</svg>");

    // Header: summary, caps, violation.
    let mut info = format!(
        "{} events, {} nodes, {} clients, simulated {} – {}.",
        events.len(),
        nodes.len(),
        clients.len(),
        fmt_ms(m.t0),
        fmt_ms(m.t1)
    );
    let _ = write!(
        info,
        " Messages drawn: {} of {} delivered or dropped",
        m.arrows.len(),
        total_arrows
    );
    if m.in_flight > 0 {
        let _ = write!(
            info,
            " ({} still in flight at the end, not drawn)",
            m.in_flight
        );
    }
    info.push('.');
    let mut caps = String::new();
    let nearest = if m.violation.is_some() {
        "the violation"
    } else {
        "the end of the run"
    };
    if dropped_arrows > 0 {
        let _ = write!(
            caps,
            "<p class=\"cap\">Showing {} of {} message arrows (capped at {}): the ones sent nearest {}.</p>",
            m.arrows.len(),
            total_arrows,
            MAX_ARROWS,
            nearest
        );
    }
    if dropped_marks > 0 {
        let _ = write!(
            caps,
            "<p class=\"cap\">Showing {} of {} markers (capped at {}), nearest {}.</p>",
            total_marks - dropped_marks,
            total_marks,
            MAX_MARKERS,
            nearest
        );
    }
    if dropped_ops > 0 {
        let _ = write!(
            caps,
            "<p class=\"cap\">Showing {} of {} client operations (capped at {}).</p>",
            total_ops - dropped_ops,
            total_ops,
            MAX_CLIENT_OPS
        );
    }
    if m.unmatched > 0 {
        let _ = write!(
            caps,
            "<p class=\"cap\">{} deliveries/drops refer to sends not in this trace (a trace that kept only its recent events).</p>",
            m.unmatched
        );
    }
    let counts = m
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let violation = match &m.violation {
        Some(v) => format!(
            "<div class=\"violation\" id=\"violation\"><b>Violation of {inv}</b> at event #{seq}, {t} \
             <button id=\"goviol\" type=\"button\">show</button><pre>{detail}</pre></div>",
            inv = esc(&v.invariant),
            seq = v.seq,
            t = fmt_ms(v.t),
            detail = esc(&v.detail),
        ),
        None => "<div class=\"ok\">No violation in this trace.</div>".to_string(),
    };
    // The events leading to the focus point, as text.
    let focus_pos = match &m.violation {
        Some(v) => events
            .iter()
            .position(|e| e.seq == v.seq)
            .map_or(events.len(), |p| p + 1),
        None => events.len(),
    };
    let listed = &events[focus_pos.saturating_sub(LISTED_EVENTS)..focus_pos];
    let mut listing = String::new();
    for e in listed {
        listing.push_str(&esc(&e.to_string()));
        listing.push('\n');
    }

    let cfg = format!(
        "{{\"s0\":{scale},\"t0\":{t0},\"t1\":{t1},\"pad\":{PAD},\"focus\":{focus},\"axisH\":{AXIS_H},\"right\":{RIGHT_MARGIN}}}",
        t0 = m.t0,
        t1 = m.t1,
    );
    let title = esc(title);
    let mut page = String::with_capacity(svg.len() + labels.len() + listing.len() + 8192);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n{violation}\n<p class=\"info\">{info}</p>\n{caps}\n\
         <div class=\"controls\"><button id=\"zin\" type=\"button\">zoom in (+)</button> \
         <button id=\"zout\" type=\"button\">zoom out (-)</button> \
         <button id=\"zfit\" type=\"button\">fit</button> \
         <button id=\"zfocus\" type=\"button\">go to {focus_name}</button> \
         <span class=\"hint\">Ctrl+wheel zooms at the pointer; hover anything for details.</span></div>\n\
         {LEGEND}\n\
         <div class=\"tl\">{labels}<div id=\"wrap\">{svg}</div></div>\n\
         <details><summary>Event counts</summary><p>{counts}</p></details>\n\
         <details{open}><summary>Last {n} events before {focus_name}</summary><pre class=\"events\">{listing}</pre></details>\n\
         <script>const CFG = {cfg};</script>\n<script>{JS}</script>\n</body>\n</html>\n",
        focus_name = if m.violation.is_some() {
            "the violation"
        } else {
            "the end"
        },
        open = if m.violation.is_some() { " open" } else { "" },
        n = listed.len(),
    );
    page
}

/// A round tick interval (1, 2 or 5 × 10^k ms) of at least `min_ms`.
fn nice_step(min_ms: f64) -> u64 {
    let mut step: u64 = 1;
    loop {
        for k in [1, 2, 5] {
            let s = step.saturating_mul(k);
            if s as f64 >= min_ms {
                return s;
            }
        }
        if step > u64::MAX / 10 {
            return u64::MAX;
        }
        step *= 10;
    }
}

/// `1234` → `1.234s`, `56` → `56ms`.
fn fmt_ms(t: u64) -> String {
    if t >= 1000 {
        let s = format!("{}.{:03}", t / 1000, t % 1000);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}s")
    } else {
        format!("{t}ms")
    }
}

/// Arrowhead colours, matching the `.m-*` stroke colours in [`CSS`].
const ARROW_COLOURS: [(&str, &str); 7] = [
    ("m-app", "#1f77b4"),
    ("m-hb", "#9aa8b0"),
    ("m-vote", "#8e44ad"),
    ("m-snap", "#d35400"),
    ("m-read", "#16a085"),
    ("m-xfer", "#c0392b"),
    ("m-other", "#555"),
];

const LEGEND: &str = concat!(
    r#"<div class="legend">"#,
    r#"<span><i class="sw r-follower"></i>follower</span>"#,
    r#"<span><i class="sw r-pre_candidate"></i>pre-candidate</span>"#,
    r#"<span><i class="sw r-candidate"></i>candidate</span>"#,
    r#"<span><i class="sw r-leader"></i>leader</span>"#,
    r#"<span><i class="sw hatch"></i>crashed</span>"#,
    r#"<span><i class="ln l-cut"></i>disconnected</span>"#,
    r#"<span><i class="ln l-app"></i>append</span>"#,
    r#"<span><i class="ln l-hb"></i>heartbeat</span>"#,
    r#"<span><i class="ln l-vote"></i>vote</span>"#,
    r#"<span><i class="ln l-snap"></i>snapshot</span>"#,
    r#"<span><i class="ln l-drop"></i>dropped (ends in ×)</span>"#,
    r#"<span>dashed = response</span>"#,
    r#"<span><i class="ln l-part"></i>partition</span>"#,
    r#"<span><i class="ln l-heal"></i>heal</span>"#,
    r#"<span><i class="ln l-fault"></i>fault</span>"#,
    r#"<span><i class="ln l-viol"></i>violation</span>"#,
    r#"<span>◆ propose · | commit · ✕ crash · ▲ restart</span>"#,
    r#"</div>"#
);

const CSS: &str = r#"
body{font:13px/1.35 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:12px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 8px}
.violation{background:#fdecea;border:2px solid #c62828;padding:6px 10px;margin:6px 0;border-radius:4px}
.violation pre{white-space:pre-wrap;margin:4px 0 0;font-size:12px}
.ok{background:#e8f5e9;border:1px solid #81c784;padding:4px 10px;margin:6px 0;border-radius:4px}
.info{margin:4px 0}.cap{margin:2px 0;color:#8a4b00}
.controls{margin:6px 0}.hint{color:#777;margin-left:8px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0;color:#444}
.legend i{display:inline-block;vertical-align:middle;margin-right:4px}
.sw{width:16px;height:10px;border:1px solid #999}
.sw.hatch{background:repeating-linear-gradient(45deg,#eee 0 3px,#888 3px 5px)}
.ln{width:22px;height:0;border-top:2px solid #555}
.l-app{border-color:#1f77b4}.l-hb{border-color:#9aa8b0}.l-vote{border-color:#8e44ad}.l-snap{border-color:#d35400}
.l-drop{border-top:2px dashed #e53935}.l-cut{border-top:3px dashed #ef6c00}
.l-part{border-color:#6a1b9a}.l-heal{border-color:#2e7d32}.l-fault{border-color:#ad1457}.l-viol{border-top:3px solid #d50000}
.tl{display:flex;border:1px solid #ccc;max-height:80vh;overflow-y:auto}
#labels{flex:none;background:#fafafa;border-right:1px solid #ccc}
#wrap{flex:1;overflow-x:auto;overflow-y:hidden}
.lbl{font-size:12px;font-weight:600;fill:#333}.lbl.small{font-size:10px;font-weight:400}.axislbl{fill:#777;font-weight:400}
.lane{fill:#fff}.lane.odd{fill:#f6f8fa}.clane{fill:#fcfcf7}.clane.odd{fill:#f5f5ee}
.tick{stroke:#e3e3e3;stroke-width:1}.ticklbl{font-size:10px;fill:#777;text-anchor:middle}
.seg{stroke:#fff;stroke-width:.5}
.r-follower{fill:#cfe3f7;background:#cfe3f7}.r-pre_candidate,.r-precandidate{fill:#ffe9b8;background:#ffe9b8}
.r-candidate{fill:#ffb74d;background:#ffb74d}.r-leader{fill:#43a047;background:#43a047}
.seg:not(.r-follower):not(.r-pre_candidate):not(.r-precandidate):not(.r-candidate):not(.r-leader){fill:#e0e0e0}
.term{font-size:10px;fill:#123;pointer-events:none}.term.on-leader{fill:#fff;font-weight:600}
.down{fill:url(#hatch);opacity:.85}
.cut{stroke:#ef6c00;stroke-width:3;stroke-dasharray:5 3}
.msg{stroke-width:1;fill:none;opacity:.75}.msg:hover,.msg.drop:hover line{stroke-width:3;opacity:1}
.drop line{stroke:#e53935!important;stroke-dasharray:2 2;stroke-width:1}
.xmark path{stroke:#e53935;stroke-width:2}
.m-app{stroke:#1f77b4}.m-hb{stroke:#9aa8b0}.m-vote{stroke:#8e44ad}.m-snap{stroke:#d35400;stroke-width:2}
.m-read{stroke:#16a085}.m-xfer{stroke:#c0392b}.m-other{stroke:#555}.resp{stroke-dasharray:4 2}
.mk path,.mk circle,.mk rect{stroke-width:2;fill:none}
.mk-crash path{stroke:#d50000;stroke-width:3}.mk-restart path{stroke:#2e7d32;fill:#a5d6a7}
.mk-disc *{stroke:#ef6c00}.mk-conn *{stroke:#2e7d32}
.mk-prop path{fill:#1b5e20;stroke:#1b5e20;stroke-width:1}.mk-commit path{stroke:#0d47a1;stroke-width:1.5}
.mk-snap rect{stroke:#6d4c41;fill:#d7ccc8}.mk-conf rect{stroke:#4a148c;fill:#e1bee7}
.vl line{stroke-width:1.5;stroke-dasharray:6 3}.vl text{font-size:10px}
.v-part line{stroke:#6a1b9a}.v-part text{fill:#6a1b9a}
.v-heal line{stroke:#2e7d32}.v-heal text{fill:#2e7d32}
.v-fault line{stroke:#ad1457}.v-fault text{fill:#ad1457}
.v-note line{stroke:#90a4ae;stroke-dasharray:2 4}.v-note text{fill:#607d8b}
.v-viol line{stroke:#d50000;stroke-width:3;stroke-dasharray:none}.v-viol text{fill:#d50000;font-weight:700;font-size:12px}
.cop{stroke:#555;stroke-width:.5}.c-read{fill:#80cbc4}.c-write{fill:#ffcc80}.cop.pending{fill-opacity:.35;stroke-dasharray:3 2}
pre.events{font-size:11px;max-height:40vh;overflow:auto;background:#fafafa;border:1px solid #ddd;padding:6px}
"#;

/// Zoom: every time-positioned element carries its time(s) in `data-a`
/// (and `data-b`), so zooming just recomputes x coordinates.
const JS: &str = r#"
(function () {
  "use strict";
  var svg = document.getElementById("tl");
  var wrap = document.getElementById("wrap");
  if (!svg || !wrap || typeof CFG === "undefined") { return; }
  var s = CFG.s0;
  var els = Array.prototype.slice.call(svg.querySelectorAll("[data-a]"));
  var axis = document.getElementById("axis");
  var NS = "http://www.w3.org/2000/svg";
  function X(t) { return CFG.pad + (t - CFG.t0) * s; }
  function fmt(t) {
    if (t >= 1000) { return (t / 1000).toFixed(3).replace(/\.?0+$/, "") + "s"; }
    return t + "ms";
  }
  function niceStep(minMs) {
    var step = 1;
    for (;;) {
      var ks = [1, 2, 5];
      for (var i = 0; i < ks.length; i++) { if (step * ks[i] >= minMs) { return step * ks[i]; } }
      step *= 10;
    }
  }
  function drawAxis() {
    while (axis.firstChild) { axis.removeChild(axis.firstChild); }
    var h = svg.getAttribute("height");
    var step = niceStep(80 / s);
    var left = CFG.t0 + (wrap.scrollLeft - CFG.pad) / s;
    var right = left + (wrap.clientWidth + 200) / s;
    var t = Math.max(CFG.t0, Math.ceil(Math.max(left, 0) / step) * step);
    for (; t <= Math.min(CFG.t1, right); t += step) {
      var x = X(t);
      var ln = document.createElementNS(NS, "line");
      ln.setAttribute("class", "tick");
      ln.setAttribute("x1", x); ln.setAttribute("x2", x);
      ln.setAttribute("y1", CFG.axisH - 6); ln.setAttribute("y2", h);
      axis.appendChild(ln);
      var tx = document.createElementNS(NS, "text");
      tx.setAttribute("class", "ticklbl");
      tx.setAttribute("x", x); tx.setAttribute("y", CFG.axisH - 9);
      tx.textContent = fmt(t);
      axis.appendChild(tx);
    }
  }
  function rescale() {
    svg.setAttribute("width", X(CFG.t1) + CFG.right);
    for (var i = 0; i < els.length; i++) {
      var el = els[i], d = el.dataset, a = +d.a, hasB = d.b !== undefined, b = hasB ? +d.b : a;
      var dx = d.dx ? +d.dx : 0;
      switch (el.tagName.toLowerCase()) {
        case "rect":
          el.setAttribute("x", X(a));
          el.setAttribute("width", Math.max(el.classList.contains("cop") ? 2 : 1, (b - a) * s));
          break;
        case "line":
          el.setAttribute("x1", X(a)); el.setAttribute("x2", X(b));
          break;
        case "text":
          el.setAttribute("x", X(a) + dx);
          if (hasB) { el.style.display = (b - a) * s < 22 ? "none" : ""; }
          break;
        case "g":
          el.setAttribute("transform", "translate(" + X(a) + "," + d.y + ")");
          break;
      }
    }
    drawAxis();
  }
  function zoomAt(factor, clientX) {
    var rect = wrap.getBoundingClientRect();
    var px = (clientX === undefined ? rect.width / 2 : clientX - rect.left);
    var t = CFG.t0 + (wrap.scrollLeft + px - CFG.pad) / s;
    var maxS = 50, minS = Math.min(CFG.s0, (wrap.clientWidth - 4 * CFG.pad) / Math.max(1, CFG.t1 - CFG.t0));
    s = Math.min(maxS, Math.max(minS, s * factor));
    rescale();
    wrap.scrollLeft = X(t) - px;
    drawAxis();
  }
  function goTo(t) {
    wrap.scrollLeft = Math.max(0, X(t) - wrap.clientWidth / 2);
    drawAxis();
  }
  document.getElementById("zin").onclick = function () { zoomAt(2); };
  document.getElementById("zout").onclick = function () { zoomAt(0.5); };
  document.getElementById("zfit").onclick = function () {
    s = Math.max(1e-6, (wrap.clientWidth - 6 * CFG.pad) / Math.max(1, CFG.t1 - CFG.t0));
    rescale(); wrap.scrollLeft = 0; drawAxis();
  };
  document.getElementById("zfocus").onclick = function () { goTo(CFG.focus); };
  var gv = document.getElementById("goviol");
  if (gv) { gv.onclick = function () { goTo(CFG.focus); }; }
  wrap.addEventListener("wheel", function (e) {
    if (e.ctrlKey || e.metaKey) { e.preventDefault(); zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX); }
  }, { passive: false });
  document.addEventListener("keydown", function (e) {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA")) { return; }
    if (e.key === "+" || e.key === "=") { zoomAt(2); }
    else if (e.key === "-" || e.key === "_") { zoomAt(0.5); }
  });
  var pending = false;
  wrap.addEventListener("scroll", function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; drawAxis(); });
  });
  drawAxis();
  if (document.getElementById("violation")) { goTo(CFG.focus); }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Trace;

    fn role(node: u64, role: &'static str, term: u64) -> EventKind {
        EventKind::Role {
            node,
            role: role.into(),
            term,
            leader: if role == "leader" { node } else { 0 },
        }
    }
    fn send(id: u64, from: u64, to: u64, msg_type: &'static str) -> EventKind {
        EventKind::Send {
            id,
            from,
            to,
            msg_type: msg_type.into(),
            term: 2,
            index: 5,
            log_term: 1,
            commit: 4,
            entries: 1,
            reject: false,
        }
    }

    /// A small but complete run: election, replication, a dropped message,
    /// a crash and restart, a partition and heal, client ops, a violation.
    fn synthetic() -> Trace {
        let mut t = Trace::new(true);
        for n in 1..=3 {
            t.push(0, role(n, "follower", 1));
        }
        t.push(1000, role(1, "candidate", 2));
        t.push(1001, send(1, 1, 2, "MsgRequestVote"));
        t.push(
            1004,
            EventKind::Deliver {
                id: 1,
                from: 1,
                to: 2,
            },
        );
        t.push(1005, send(2, 2, 1, "MsgRequestVoteResponse"));
        t.push(
            1009,
            EventKind::Deliver {
                id: 2,
                from: 2,
                to: 1,
            },
        );
        t.push(1009, role(1, "leader", 2));
        t.push(1010, send(3, 1, 3, "MsgAppend"));
        t.push(
            1012,
            EventKind::Drop {
                id: 3,
                from: 1,
                to: 3,
                reason: "random".into(),
            },
        );
        t.push(
            1020,
            EventKind::ClientInvoke {
                client: 7,
                op_id: 1,
                op: "put(\"k\",\"v\")".into(),
            },
        );
        t.push(
            1021,
            EventKind::Propose {
                node: 1,
                index: 5,
                term: 2,
            },
        );
        t.push(1030, EventKind::Commit { node: 1, index: 5 });
        t.push(
            1031,
            EventKind::ClientReturn {
                client: 7,
                op_id: 1,
                result: "ok".into(),
            },
        );
        t.push(
            1040,
            EventKind::ClientInvoke {
                client: 8,
                op_id: 1,
                op: "get(\"k\")".into(),
            },
        );
        t.push(1100, EventKind::Crash { node: 3 });
        t.push(
            1200,
            EventKind::Partition {
                groups: vec![vec![1], vec![2, 3]],
            },
        );
        t.push(1300, EventKind::Restart { node: 3 });
        t.push(1350, EventKind::Disconnect { node: 2 });
        t.push(1400, EventKind::Heal);
        t.push(
            1450,
            EventKind::Fault {
                description: "disk spike on 2".into(),
            },
        );
        t.push(
            1500,
            EventKind::Note {
                text: "<script>alert(1)</script>".into(),
            },
        );
        t.push(
            1600,
            EventKind::Violation {
                invariant: "election_safety".into(),
                detail: "two leaders in term 2: 1 and 3".into(),
            },
        );
        t
    }

    /// Counts opening and closing tags of one element name.
    fn balance(html: &str, tag: &str) -> (usize, usize) {
        let open =
            html.matches(&format!("<{tag} ")).count() + html.matches(&format!("<{tag}>")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        (open, close)
    }

    #[test]
    fn renders_lanes_arrows_markers_and_violation() {
        let t = synthetic();
        let html = render_html(t.events(), "seed <42>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>seed &lt;42&gt;</title>"));
        assert_eq!(html.matches("<svg").count(), 2, "timeline and label column");
        // One lane per node, one per client.
        assert_eq!(html.matches(r#"class="lane"#).count(), 3);
        for n in 1..=3 {
            assert!(html.contains(&format!(r#"data-node="{n}""#)));
            assert!(html.contains(&format!(">node {n}</text>")));
        }
        assert_eq!(html.matches(r#"class="clane"#).count(), 2);
        // Two delivered arrows, one dropped.
        assert_eq!(html.matches(r#"marker-end="url(#ah-"#).count(), 2);
        assert_eq!(html.matches(r#"class="msg drop""#).count(), 1);
        assert!(html.contains("DROPPED at 1012 ms (random)"));
        // Roles, crash, partition, violation.
        assert!(html.contains("r-leader"));
        assert!(html.contains("r-candidate"));
        assert!(html.contains("mk-crash"));
        assert!(html.contains(r#"class="down""#));
        assert!(html.contains("partition [1] [2,3]"));
        assert!(html.contains("Violation of election_safety"));
        assert!(html.contains("two leaders in term 2: 1 and 3"));
        assert!(html.contains("v-viol"));
        // Untrusted text is escaped.
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)"));
        // Tags balance (a cheap well-formedness check; the SVG is XML).
        for tag in [
            "svg", "g", "text", "title", "script", "style", "div", "pre", "details",
        ] {
            let (o, c) = balance(&html, tag);
            assert_eq!(o, c, "<{tag}> opened {o} times, closed {c}");
        }
        // No external assets.
        assert!(!html.contains("src=\"http"));
        assert!(!html.contains("href=\"http"));
    }

    #[test]
    fn rendering_is_deterministic() {
        let t = synthetic();
        assert_eq!(render_html(t.events(), "x"), render_html(t.events(), "x"));
    }

    #[test]
    fn empty_trace_renders() {
        let html = render_html(&[], "empty");
        assert!(html.contains("<svg"));
        assert!(html.contains("No violation"));
    }

    /// Big traces stay usable: arrows are capped and the page says so.
    #[test]
    fn large_trace_caps_arrows_and_says_so() {
        let mut t = Trace::new(true);
        for n in 1..=5 {
            t.push(0, role(n, "follower", 1));
        }
        let mut id = 0;
        for i in 0..7_000u64 {
            id += 1;
            let from = 1 + i % 5;
            let to = 1 + (i + 1) % 5;
            t.push(i, send(id, from, to, "MsgHeartbeat"));
            t.push(i + 3, EventKind::Deliver { id, from, to });
        }
        let html = render_html(t.events(), "big");
        assert!(t.len() > 14_000);
        assert_eq!(html.matches(r#"marker-end="url(#ah-"#).count(), MAX_ARROWS);
        assert!(html.contains(&format!("Showing {MAX_ARROWS} of 7000 message arrows")));
        assert_eq!(html.matches(r#"class="lane"#).count(), 5);
    }

    #[test]
    fn helpers() {
        assert_eq!(fmt_ms(999), "999ms");
        assert_eq!(fmt_ms(1500), "1.5s");
        assert_eq!(fmt_ms(2000), "2s");
        assert_eq!(nice_step(80.0), 100);
        assert_eq!(nice_step(101.0), 200);
        assert_eq!(nice_step(0.1), 1);
        let mut v: Vec<u64> = (0..10).collect();
        assert_eq!(cap_nearest(&mut v, 3, 9, |x| *x), 7);
        assert_eq!(v, vec![7, 8, 9]);
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }
}
