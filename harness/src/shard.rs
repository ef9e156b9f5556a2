//! Splitting a campaign across machines and bounding it in time.
//!
//! `campaign --shard K/N` runs the seeds whose position in
//! `[start, start + seeds)` is `K - 1` mod `N`, so `N` machines together run
//! exactly the seeds one machine would; `merge` puts their summaries back
//! together. `campaign --for 10m` draws seeds in order until the wall-clock
//! budget is spent; the seeds it ran are listed in its summary, so the run
//! can be repeated exactly with `--start-seed`/`--seeds` (or `--seed-list`).
//!
//! ```
//! use tinyraft_harness::shard::{Shard, parse_duration, describe_seeds};
//! let s: Shard = "2/3".parse().unwrap();
//! assert_eq!(s.seeds(1, 7), vec![2, 5]);
//! assert!("0/3".parse::<Shard>().is_err());
//! assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
//! assert_eq!(describe_seeds(&[2, 5, 8]), "2..=8 step 3 (3 seeds)");
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Shard `k` of `n` (1-based `k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `1..=n`.
    pub k: u64,
    /// Number of shards.
    pub n: u64,
}

impl Shard {
    /// The whole campaign as one shard.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// Whether the seed at `position` (0-based, from the first seed) is
    /// this shard's.
    pub fn owns(&self, position: u64) -> bool {
        position % self.n == self.k - 1
    }

    /// This shard's seeds of `[start, start + count)`, ascending.
    pub fn seeds(&self, start: u64, count: u64) -> Vec<u64> {
        (0..count)
            .filter(|&i| self.owns(i))
            .map(|i| start + i)
            .collect()
    }

    /// This shard's `j`-th seed (0-based) of the unbounded sequence from
    /// `start` (for time-budgeted runs).
    pub fn nth_seed(&self, start: u64, j: u64) -> u64 {
        start + (self.k - 1) + j * self.n
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard {s:?}: expected K/N, e.g. 2/3"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|e| format!("shard {s:?}: K: {e}"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|e| format!("shard {s:?}: N: {e}"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {s:?}: need 1 <= K <= N"));
        }
        Ok(Shard { k, n })
    }
}

/// Parses a wall-clock budget: a number with a unit `s`, `m` or `h`
/// (`90s`, `10m`, `1h`, `1.5h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let v: f64 = num
        .parse()
        .map_err(|_| format!("duration {s:?}: expected a number and s, m or h, e.g. 10m"))?;
    let secs = match unit {
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "duration {s:?}: unknown unit {unit:?} (use s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("duration {s:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A compact description of an ascending seed list: runs of equal steps as
/// `a..=b` or `a..=b step k`, joined by commas, and the count.
pub fn describe_seeds(seeds: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let a = seeds[i];
        if i + 1 == seeds.len() {
            parts.push(a.to_string());
            break;
        }
        let step = seeds[i + 1].saturating_sub(a);
        let mut j = i + 1;
        while j + 1 < seeds.len() && seeds[j + 1].saturating_sub(seeds[j]) == step {
            j += 1;
        }
        if j == i + 1 && j + 1 < seeds.len() {
            // A pair that starts no run: list the first alone.
            parts.push(a.to_string());
            i += 1;
            continue;
        }
        let b = seeds[j];
        parts.push(if step == 1 {
            format!("{a}..={b}")
        } else {
            format!("{a}..={b} step {step}")
        });
        i = j + 1;
    }
    format!(
        "{} ({} seed{})",
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        },
        seeds.len(),
        if seeds.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: N shards together run exactly the campaign's seeds, each
    /// once.
    #[test]
    fn shards_partition_the_seed_range() {
        for n in 1..=5u64 {
            let mut all: Vec<u64> = (1..=n).flat_map(|k| Shard { k, n }.seeds(10, 23)).collect();
            all.sort_unstable();
            assert_eq!(all, (10..33).collect::<Vec<_>>(), "n = {n}");
        }
        let s = Shard { k: 2, n: 3 };
        assert_eq!(
            (0..3).map(|j| s.nth_seed(1, j)).collect::<Vec<_>>(),
            s.seeds(1, 9)
        );
    }

    #[test]
    fn bad_shards_and_durations_are_errors() {
        for bad in ["", "1", "0/2", "3/2", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        for bad in ["", "10", "m", "-1m", "10x", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn seed_lists_are_described_compactly() {
        assert_eq!(describe_seeds(&[]), "none (0 seeds)");
        assert_eq!(describe_seeds(&[4]), "4 (1 seed)");
        assert_eq!(describe_seeds(&[1, 2, 3, 4]), "1..=4 (4 seeds)");
        assert_eq!(
            describe_seeds(&[1, 2, 3, 7, 9]),
            "1..=3, 7..=9 step 2 (5 seeds)"
        );
        assert_eq!(describe_seeds(&[1, 5, 6, 7]), "1, 5..=7 (4 seeds)");
    }
}
