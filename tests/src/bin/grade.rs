//! Course-style grading: runs the integration suites part by part and prints
//! a score table.
//!
//! ```text
//! cargo run --release -p tinyraft-tests --bin grade                 # every part
//! cargo run --release -p tinyraft-tests --bin grade -- --part 2ab   # one part
//! cargo run --release -p tinyraft-tests --bin grade -- --json       # machine-readable
//! cargo run --release -p tinyraft-tests --bin grade -- --core ../student/raft
//! ```
//!
//! A part is the set of tests of `tinyraft-tests` whose names end in
//! `_<part>` (so `cargo test 2ab` runs one part by hand too). A part's
//! points are its weight times the fraction of its tests that passed. With
//! `--core DIR` the suites run against another implementation of the core: the
//! workspace is copied to a scratch folder with `raft/` replaced by `DIR`
//! (which must be a crate named `tinyraft` exposing the API contract), so the
//! checkout itself is never modified. The exit code is non-zero when any test
//! fails or a part cannot be built.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One graded part: its name (the test-name suffix), what it covers and its weight.
struct Part {
    name: &'static str,
    title: &'static str,
    points: u32,
}

const PARTS: &[Part] = &[
    Part {
        name: "2aa",
        title: "leader election",
        points: 15,
    },
    Part {
        name: "2ab",
        title: "log replication",
        points: 20,
    },
    Part {
        name: "2ac",
        title: "RawNode / Ready",
        points: 10,
    },
    Part {
        name: "2c",
        title: "snapshots and compaction",
        points: 15,
    },
    Part {
        name: "3a",
        title: "leader transfer, membership, ReadIndex",
        points: 15,
    },
    Part {
        name: "lab2a",
        title: "6.824 election (simulator)",
        points: 5,
    },
    Part {
        name: "lab2b",
        title: "6.824 agreement (simulator)",
        points: 5,
    },
    Part {
        name: "lab2c",
        title: "6.824 persistence (simulator)",
        points: 5,
    },
    Part {
        name: "lab2d",
        title: "6.824 snapshots (simulator)",
        points: 5,
    },
    Part {
        name: "hostile",
        title: "malformed input",
        points: 5,
    },
];

/// What one part's run produced.
struct Outcome {
    part: &'static Part,
    passed: u64,
    failed: u64,
    seconds: f64,
    build_failed: bool,
    failures: Vec<String>,
}

impl Outcome {
    fn total(&self) -> u64 {
        self.passed + self.failed
    }

    fn score(&self) -> f64 {
        if self.total() == 0 {
            return 0.0;
        }
        f64::from(self.part.points) * self.passed as f64 / self.total() as f64
    }
}

struct Args {
    part: Option<String>,
    json: bool,
    core: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        part: None,
        json: false,
        core: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--part" => args.part = Some(it.next().ok_or("--part needs a value")?.to_lowercase()),
            "--json" => args.json = true,
            "--core" => args.core = Some(PathBuf::from(it.next().ok_or("--core needs a path")?)),
            "-h" | "--help" => {
                println!(
                    "grade [--part NAME] [--json] [--core DIR]\nparts: {}",
                    PARTS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if let Some(p) = &args.part {
        if !PARTS.iter().any(|x| x.name == p) {
            return Err(format!(
                "unknown part {p:?}; parts: {}",
                PARTS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(args)
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// A scratch copy of the workspace with `raft/` replaced by `core`.
fn workspace_with_core(root: &Path, core: &Path) -> Result<PathBuf, String> {
    if !core.join("Cargo.toml").is_file() {
        return Err(format!(
            "{} has no Cargo.toml: --core wants a crate folder",
            core.display()
        ));
    }
    let scratch = root.join("target").join("grade-workspace");
    let _ = std::fs::remove_dir_all(&scratch);
    for item in ["Cargo.toml", "Cargo.lock"] {
        let src = root.join(item);
        if src.exists() {
            std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
            std::fs::copy(&src, scratch.join(item)).map_err(|e| e.to_string())?;
        }
    }
    for dir in ["proto", "raftlog", "harness", "tests"] {
        copy_dir(&root.join(dir), &scratch.join(dir)).map_err(|e| format!("copy {dir}: {e}"))?;
    }
    copy_dir(core, &scratch.join("raft")).map_err(|e| format!("copy core: {e}"))?;
    Ok(scratch)
}

/// Counts the tests of `part` in a `cargo test` run: those whose name ends
/// in `_<part>` (so part `2c` does not count `..._lab2c`). Returns passed,
/// failed and the failed names.
fn parse_results(output: &str, part: &str) -> (u64, u64, Vec<String>) {
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    let suffix = format!("_{part}");
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, verdict)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        if !name.ends_with(&suffix) {
            continue;
        }
        match verdict.trim() {
            "ok" => passed += 1,
            "FAILED" => {
                failed += 1;
                failures.push(name.to_string());
            }
            _ => {}
        }
    }
    (passed, failed, failures)
}

fn run_part(root: &Path, target: &Path, part: &'static Part) -> Outcome {
    let start = Instant::now();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "test",
            "--release",
            "--no-fail-fast",
            "-p",
            "tinyraft-tests",
            "--",
            part.name,
        ])
        .output();
    let seconds = start.elapsed().as_secs_f64();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            let (passed, failed, failures) = parse_results(&text, part.name);
            let build_failed = !out.status.success() && passed + failed == 0;
            if build_failed {
                eprintln!(
                    "{}: the suites did not build:\n{}",
                    part.name,
                    tail(&text, 40)
                );
            }
            Outcome {
                part,
                passed,
                failed,
                seconds,
                build_failed,
                failures,
            }
        }
        Err(e) => {
            eprintln!("{}: could not run cargo: {e}", part.name);
            Outcome {
                part,
                passed: 0,
                failed: 0,
                seconds,
                build_failed: true,
                failures: vec![],
            }
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("grade: {e}");
            std::process::exit(2);
        }
    };
    let root = workspace_root();
    let target = root.join("target").join("grade");
    let run_root = match &args.core {
        Some(core) => match workspace_with_core(&root, core) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("grade: {e}");
                std::process::exit(2);
            }
        },
        None => root.clone(),
    };
    let parts: Vec<&'static Part> = PARTS
        .iter()
        .filter(|p| args.part.as_deref().is_none_or(|n| n == p.name))
        .collect();
    let mut outcomes = Vec::new();
    for part in parts {
        if !args.json {
            eprintln!("grading {} ({})...", part.name, part.title);
        }
        outcomes.push(run_part(&run_root, &target, part));
    }

    let failed_any = outcomes
        .iter()
        .any(|o| o.failed > 0 || o.build_failed || o.total() == 0);
    let score: f64 = outcomes.iter().map(Outcome::score).sum();
    let max: u32 = outcomes.iter().map(|o| o.part.points).sum();
    if args.json {
        let parts: Vec<String> = outcomes
            .iter()
            .map(|o| {
                format!(
                    "{{\"part\":{},\"title\":{},\"passed\":{},\"total\":{},\"points\":{:.1},\"max_points\":{},\"seconds\":{:.1},\"build_failed\":{},\"failures\":[{}]}}",
                    json_string(o.part.name),
                    json_string(o.part.title),
                    o.passed,
                    o.total(),
                    o.score(),
                    o.part.points,
                    o.seconds,
                    o.build_failed,
                    o.failures.iter().map(|f| json_string(f)).collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        println!(
            "{{\"score\":{score:.1},\"max_score\":{max},\"passed\":{},\"parts\":[{}]}}",
            !failed_any,
            parts.join(",")
        );
    } else {
        println!(
            "{:<8} {:<42} {:>7} {:>9} {:>8}",
            "part", "covers", "tests", "points", "time"
        );
        for o in &outcomes {
            let tests = if o.build_failed {
                "build!".to_string()
            } else {
                format!("{}/{}", o.passed, o.total())
            };
            println!(
                "{:<8} {:<42} {:>7} {:>4.1}/{:<4} {:>7.1}s",
                o.part.name,
                o.part.title,
                tests,
                o.score(),
                o.part.points,
                o.seconds
            );
            for f in &o.failures {
                println!("         FAILED {f}");
            }
        }
        println!(
            "{:<8} {:<42} {:>7} {:>4.1}/{:<4}",
            "total", "", "", score, max
        );
    }
    std::process::exit(if failed_any { 1 } else { 0 });
}

#[cfg(test)]
mod tests {
    use super::parse_results;

    /// A part counts exactly the tests whose names end in `_<part>`.
    #[test]
    fn counts_only_the_parts_own_tests() {
        let out = "test a_2c ... ok\ntest b_2c ... FAILED\ntest c_lab2c ... ok\n\
                   test mod::d_2c ... ok\ntest e_2c ... ignored\n\
                   test result: FAILED. 3 passed; 1 failed; 1 ignored; 0 measured; 5 filtered out\n";
        let (p, f, names) = parse_results(out, "2c");
        assert_eq!((p, f), (2, 1));
        assert_eq!(names, vec!["b_2c".to_string()]);
    }
}
