//! The planted-bug catalogue (`harness/teeth/*.patch`): historical Raft
//! bugs kept as small unified diffs against the core and the harness. The
//! `tinyraft-harness teeth` command applies each to a scratch copy of the
//! workspace (never the checkout), builds it, runs the default campaign
//! until the first violation and prints a table; this module holds the
//! pieces: a unified-diff parser and applier (exact context, any offset, no
//! fuzz — a patch that no longer applies is an error naming the hunk), the
//! scratch-copy sync that keeps unchanged files untouched (so one target
//! directory builds every patch incrementally), and the parser of the
//! campaign's first-violation line.
//!
//! ```
//! use tinyraft_harness::teeth::Patch;
//! let p = Patch::parse("Bug: demo\n\n--- a/f.rs\n+++ b/f.rs\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n").unwrap();
//! assert_eq!(p.bug, "demo");
//! assert_eq!(p.apply_to_text("f.rs", "a\nb\n").unwrap(), "a\nc\n");
//! ```

use std::path::{Path, PathBuf};

/// One hunk: the lines it expects (context and removed) and the lines it
/// leaves (context and added), with the line it expects them at (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct Hunk {
    /// Line number in the original file the hunk starts at.
    pub old_start: usize,
    /// Context and removed lines, in order.
    pub old: Vec<String>,
    /// Context and added lines, in order.
    pub new: Vec<String>,
}

/// The hunks of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct FilePatch {
    /// Path relative to the workspace root.
    pub path: String,
    /// Hunks in file order.
    pub hunks: Vec<Hunk>,
}

/// A parsed catalogue patch.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// The bug it plants (the `Bug:` line of its header).
    pub bug: String,
    /// Files it changes.
    pub files: Vec<FilePatch>,
}

impl Patch {
    /// Parses a unified diff (as `git diff` writes it) with a `Bug: ...`
    /// line before the first file header.
    pub fn parse(text: &str) -> Result<Patch, String> {
        let mut bug = None;
        let mut files: Vec<FilePatch> = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(b) = line.strip_prefix("Bug:") {
                if files.is_empty() && bug.is_none() {
                    bug = Some(b.trim().to_string());
                }
            } else if let Some(p) = line.strip_prefix("+++ ") {
                let p = p.trim();
                let p = p.strip_prefix("b/").unwrap_or(p);
                files.push(FilePatch {
                    path: p.to_string(),
                    hunks: Vec::new(),
                });
            } else if let Some(h) = line.strip_prefix("@@ ") {
                let file = files
                    .last_mut()
                    .ok_or_else(|| format!("hunk {line:?} before any +++ file header"))?;
                let old_start = parse_range(h)?;
                let mut hunk = Hunk {
                    old_start,
                    old: Vec::new(),
                    new: Vec::new(),
                };
                while let Some(l) = lines.peek() {
                    if l.starts_with("@@ ") || l.starts_with("diff ") || l.starts_with("--- ") {
                        break;
                    }
                    let l = lines.next().unwrap_or_default();
                    if let Some(c) = l.strip_prefix(' ') {
                        hunk.old.push(c.to_string());
                        hunk.new.push(c.to_string());
                    } else if let Some(r) = l.strip_prefix('-') {
                        hunk.old.push(r.to_string());
                    } else if let Some(a) = l.strip_prefix('+') {
                        hunk.new.push(a.to_string());
                    } else if l.is_empty() {
                        hunk.old.push(String::new());
                        hunk.new.push(String::new());
                    } else if l.starts_with('\\') {
                        // "\ No newline at end of file"
                    } else {
                        return Err(format!("unexpected line in hunk: {l:?}"));
                    }
                }
                if hunk.old == hunk.new {
                    return Err(format!("hunk at line {old_start} changes nothing"));
                }
                file.hunks.push(hunk);
            }
        }
        let bug = bug.ok_or("no `Bug:` line before the diff")?;
        if files.iter().all(|f| f.hunks.is_empty()) {
            return Err("the patch has no hunks".into());
        }
        Ok(Patch { bug, files })
    }

    /// Applies the hunks for `path` to `text`.
    pub fn apply_to_text(&self, path: &str, text: &str) -> Result<String, String> {
        let Some(fp) = self.files.iter().find(|f| f.path == path) else {
            return Ok(text.to_string());
        };
        let trailing_newline = text.ends_with('\n');
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut offset: isize = 0;
        for h in &fp.hunks {
            let want = (h.old_start as isize - 1 + offset).max(0) as usize;
            let at = match find_block(&lines, &h.old, want) {
                Found::One(at) => at,
                Found::None => {
                    return Err(format!(
                        "{path}: hunk at line {} does not apply (its context is not in the file)",
                        h.old_start
                    ));
                }
                Found::Many => {
                    return Err(format!(
                        "{path}: hunk at line {} is ambiguous (its context occurs more than once; regenerate it with more context)",
                        h.old_start
                    ));
                }
            };
            lines.splice(at..at + h.old.len(), h.new.iter().cloned());
            offset += at as isize - want as isize + h.new.len() as isize - h.old.len() as isize;
        }
        let mut out = lines.join("\n");
        if trailing_newline {
            out.push('\n');
        }
        Ok(out)
    }

    /// Applies the patch to the tree at `root` (writes the changed files).
    pub fn apply(&self, root: &Path) -> Result<(), String> {
        let mut out = Vec::new();
        for f in &self.files {
            let p = root.join(&f.path);
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            out.push((p, self.apply_to_text(&f.path, &text)?));
        }
        for (p, text) in out {
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        Ok(())
    }

    /// Checks that the patch applies to the tree at `root`, writing nothing.
    pub fn check(&self, root: &Path) -> Result<(), String> {
        for f in &self.files {
            let p = root.join(&f.path);
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            self.apply_to_text(&f.path, &text)?;
        }
        Ok(())
    }
}

/// `-l,n +l,n @@ ...` → l (the old start line).
fn parse_range(h: &str) -> Result<usize, String> {
    let old = h
        .split_whitespace()
        .next()
        .and_then(|r| r.strip_prefix('-'))
        .ok_or_else(|| format!("bad hunk header {h:?}"))?;
    let start = old.split(',').next().unwrap_or(old);
    start
        .parse::<usize>()
        .map_err(|e| format!("bad hunk header {h:?}: {e}"))
}

/// Where a hunk's expected lines are in a file.
enum Found {
    One(usize),
    None,
    Many,
}

/// The one position of `block` in `lines`; a block that occurs more than
/// once is ambiguous (applying it at the nearest match could plant the bug
/// in the wrong place once the file has moved).
fn find_block(lines: &[String], block: &[String], want: usize) -> Found {
    if block.is_empty() {
        return Found::One(want.min(lines.len()));
    }
    if block.len() > lines.len() {
        return Found::None;
    }
    let last = lines.len() - block.len();
    let hits: Vec<usize> = (0..=last)
        .filter(|&i| lines[i..i + block.len()] == *block)
        .collect();
    match hits.len() {
        0 => Found::None,
        1 => Found::One(hits[0]),
        _ => Found::Many,
    }
}

/// The catalogue: every `*.patch` in `dir`, sorted by name.
pub fn catalogue(dir: &Path) -> Result<Vec<(String, Patch)>, String> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().and_then(|x| x.to_str()) != Some("patch") {
            continue;
        }
        let name = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let patch = Patch::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        out.push((name, patch));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Makes `scratch` hold exactly the files of `files` (paths relative to
/// `root`) as they are in `root`, rewriting only files whose content
/// differs, so a build there stays incremental, and deleting files the
/// workspace no longer has (a module moved from `x.rs` to `x/mod.rs` must
/// not leave both behind). Returns how many it wrote or deleted.
pub fn sync_tree(root: &Path, files: &[PathBuf], scratch: &Path) -> Result<usize, String> {
    let keep: std::collections::BTreeSet<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut written = prune(scratch, Path::new(""), &keep)?;
    for f in files {
        let src = root.join(f);
        let dst = scratch.join(f);
        let data = std::fs::read(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        if std::fs::read(&dst).ok().as_deref() == Some(&data[..]) {
            continue;
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&dst, &data).map_err(|e| format!("{}: {e}", dst.display()))?;
        written += 1;
    }
    Ok(written)
}

/// Deletes every file under `scratch/rel` whose path is not in `keep`.
fn prune(
    scratch: &Path,
    rel: &Path,
    keep: &std::collections::BTreeSet<&Path>,
) -> Result<usize, String> {
    let dir = scratch.join(rel);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut entries: Vec<PathBuf> = Vec::new();
    for e in rd {
        entries.push(e.map_err(|e| format!("{}: {e}", dir.display()))?.path());
    }
    entries.sort();
    let mut removed = 0;
    for p in entries {
        let Some(name) = p.file_name() else { continue };
        let r = rel.join(name);
        if p.is_dir() {
            removed += prune(scratch, &r, keep)?;
        } else if !keep.contains(r.as_path()) {
            std::fs::remove_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// What `campaign --stop-on-first` printed: the first failing seed and the
/// invariant, from its `first violation: seed S invariant I` line.
pub fn parse_first_violation(out: &str) -> Option<(u64, String)> {
    out.lines().find_map(|l| {
        let rest = l.strip_prefix("first violation: seed ")?;
        let mut it = rest.split_whitespace();
        let seed = it.next()?.parse().ok()?;
        let _ = it.next()?; // "invariant"
        Some((seed, it.next()?.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "Bug: off by one\n\ndiff --git a/x.rs b/x.rs\n--- a/x.rs\n+++ b/x.rs\n@@ -2,3 +2,3 @@ fn f() {\n a\n-b\n+B\n c\n@@ -9,2 +9,3 @@\n y\n+inserted\n z\n";

    /// Hunks apply at an offset (the file moved since the patch was made).
    #[test]
    fn applies_hunks_at_an_offset() {
        let p = Patch::parse(PATCH).unwrap();
        assert_eq!(p.bug, "off by one");
        let text = "new line\nnew line 2\na\nb\nc\nd\ne\nf\ng\nh\ny\nz\n";
        let out = p.apply_to_text("x.rs", text).unwrap();
        assert_eq!(
            out,
            "new line\nnew line 2\na\nB\nc\nd\ne\nf\ng\nh\ny\ninserted\nz\n"
        );
    }

    /// A patch whose context is gone fails loudly, naming file and hunk; so
    /// does one whose context now occurs twice.
    #[test]
    fn a_patch_that_no_longer_applies_is_an_error() {
        let p = Patch::parse(PATCH).unwrap();
        let e = p.apply_to_text("x.rs", "a\nX\nc\ny\nz\n").unwrap_err();
        assert!(e.contains("x.rs") && e.contains("line 2"), "{e}");
        let twice = "a\nb\nc\ny\nz\na\nb\nc\n";
        let e = p.apply_to_text("x.rs", twice).unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
        assert!(Patch::parse("no bug line\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").is_err());
    }

    /// The scratch copy follows the workspace: a file the workspace no
    /// longer has (a module moved to `x/mod.rs`) is deleted, a changed one
    /// rewritten, an unchanged one left alone.
    #[test]
    fn sync_tree_deletes_files_the_workspace_dropped() {
        let base = std::env::temp_dir().join(format!("teeth-sync-test-{}", std::process::id()));
        let (root, scratch) = (base.join("root"), base.join("scratch"));
        std::fs::create_dir_all(root.join("src/quorum")).unwrap();
        std::fs::create_dir_all(scratch.join("src")).unwrap();
        std::fs::write(root.join("src/quorum/mod.rs"), "new").unwrap();
        std::fs::write(root.join("src/lib.rs"), "same").unwrap();
        std::fs::write(scratch.join("src/lib.rs"), "same").unwrap();
        std::fs::write(scratch.join("src/quorum.rs"), "old").unwrap();
        let files = vec![
            PathBuf::from("src/quorum/mod.rs"),
            PathBuf::from("src/lib.rs"),
        ];
        assert_eq!(sync_tree(&root, &files, &scratch).unwrap(), 2);
        assert!(!scratch.join("src/quorum.rs").exists());
        assert_eq!(
            std::fs::read_to_string(scratch.join("src/quorum/mod.rs")).unwrap(),
            "new"
        );
        assert_eq!(sync_tree(&root, &files, &scratch).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn parses_the_first_violation_line() {
        let out = "seeds 10\nfirst violation: seed 42 invariant log_matching\n";
        assert_eq!(
            parse_first_violation(out),
            Some((42, "log_matching".to_string()))
        );
        assert_eq!(parse_first_violation("violations 0\n"), None);
    }
}
