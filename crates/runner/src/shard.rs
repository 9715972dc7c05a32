//! Splitting a sweep into shards for several processes or machines (`--shard K/N`).
//!
//! A run belongs to shard `sha256(run id) mod N` (the first 8 bytes of the digest, big
//! endian). The assignment depends only on the run's id, never on its place in the grid, so
//! every process reading the same sweep file agrees on it, and editing the grid does not move
//! the runs it kept between shards.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// One shard of a sweep: shard `index` of `count`, written `K/N` with `0 <= K < N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's number, below `count`.
    index: u64,
    /// How many shards the sweep is split into, at least one.
    count: u64,
}

/// A `--shard` value that is not `K/N` with `0 <= K < N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two numbers separated by `/`.
    #[error("expected K/N, shard K of N counted from 0 (e.g. 0/4), got `{0}`")]
    Syntax(String),
    /// `N` is zero.
    #[error("the shard count N must be at least 1, got `{0}`")]
    NoShards(String),
    /// `K` is not below `N`.
    #[error("shard {index} does not exist in {count} shards: K counts from 0 to N-1 = {last}", last = count - 1)]
    OutOfRange {
        /// K.
        index: u64,
        /// N.
        count: u64,
    },
}

impl Shard {
    /// Shard `index` of `count`.
    pub fn new(index: u64, count: u64) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards(format!("{index}/{count}")));
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// This shard's number K.
    pub fn index(self) -> u64 {
        self.index
    }

    /// The number of shards N.
    pub fn count(self) -> u64 {
        self.count
    }

    /// The shard (of `count`) that run `run_id` belongs to.
    pub fn of(run_id: &str, count: u64) -> u64 {
        hash(run_id) % count.max(1)
    }

    /// Whether run `run_id` belongs to this shard.
    pub fn contains(self, run_id: &str) -> bool {
        Self::of(run_id, self.count) == self.index
    }
}

/// How many shards to split `pending` runs (their ids) into when nobody said, for tasks that
/// each run `per_task` runs at once: `base = ceil(runs / per_task)` shards, at most `max`,
/// would do if shards were equal. They are hashes, so some get more runs than others; a
/// task's time goes with its waves, `ceil(its runs / per_task)`. From `base` up to
/// `2 × base` shards, the fewest are taken whose fullest shard needs no more waves than
/// equal shards would (else the count with the fewest waves). A shard without runs costs
/// only a process start.
pub fn default_count(pending: &[&str], per_task: usize, max: usize) -> u64 {
    let per_task = per_task.max(1);
    let base = pending.len().div_ceil(per_task).clamp(1, max.max(1)) as u64;
    let waves = |runs: usize| runs.div_ceil(per_task);
    let target = waves(pending.len().div_ceil(base as usize));
    let hashes: Vec<u64> = pending.iter().map(|id| hash(id)).collect();
    let waves_of = |n: u64| {
        let mut sizes = vec![0usize; n as usize];
        for h in &hashes {
            sizes[(h % n) as usize] += 1;
        }
        waves(sizes.into_iter().max().unwrap_or(0))
    };
    let mut best = (waves_of(base), base);
    for n in base..=2 * base {
        let w = waves_of(n);
        if w <= target {
            return n;
        }
        best = best.min((w, n));
    }
    best.1
}

/// The first 8 bytes of `sha256(run_id)`, big endian.
fn hash(run_id: &str) -> u64 {
    let digest = Sha256::digest(run_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let k: u64 = k.trim().parse().map_err(|_| syntax())?;
        let n: u64 = n.trim().parse().map_err(|_| syntax())?;
        Shard::new(k, n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_rejects_everything_else() {
        assert_eq!("2/5".parse::<Shard>(), Shard::new(2, 5));
        assert_eq!("0/1".parse::<Shard>().unwrap().to_string(), "0/1");
        for bad in ["", "3", "a/2", "1/b", "-1/2", "1/2/3", "1.0/2"] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(ShardError::Syntax(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            "0/0".parse::<Shard>(),
            Err(ShardError::NoShards("0/0".into()))
        );
        let err = "3/3".parse::<Shard>().unwrap_err();
        assert_eq!(err, ShardError::OutOfRange { index: 3, count: 3 });
        assert_eq!(
            err.to_string(),
            "shard 3 does not exist in 3 shards: K counts from 0 to N-1 = 2"
        );
    }

    #[test]
    fn every_run_is_in_exactly_one_shard_and_shards_are_balanced() {
        let ids: Vec<String> = (0..4000).map(|i| format!("{i:012x}")).collect();
        for n in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (0..n).map(|k| Shard::new(k, n).unwrap()).collect();
            let mut sizes = vec![0usize; n as usize];
            for id in &ids {
                let owners: Vec<_> = shards.iter().filter(|s| s.contains(id)).collect();
                assert_eq!(owners.len(), 1, "{id} in {n} shards");
                sizes[owners[0].index() as usize] += 1;
            }
            let mean = ids.len() as f64 / n as f64;
            for size in sizes {
                // Binomial spread: well within 5 standard deviations of the mean.
                assert!(
                    (size as f64 - mean).abs() < 5.0 * mean.sqrt(),
                    "{n}: {size}"
                );
            }
        }
    }

    /// Waves of the fullest of `n` shards of `ids`, `per_task` runs at once.
    fn waves(ids: &[&str], n: u64, per_task: usize) -> usize {
        let mut sizes = vec![0usize; n as usize];
        for id in ids {
            sizes[Shard::of(id, n) as usize] += 1;
        }
        sizes.into_iter().max().unwrap().div_ceil(per_task)
    }

    #[test]
    fn default_counts_even_out_hashed_shards() {
        let ids: Vec<String> = (0..1000).map(|i| format!("{i:012x}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        // 1000 runs, one at a time, at most 10 tasks: no task needs more than 100 runs.
        let n = default_count(&ids, 1, 10);
        assert!((11..=20).contains(&n), "{n}");
        assert!(waves(&ids, n, 1) <= 100);
        assert!(waves(&ids, 10, 1) > 100);
        for (m, per_task) in [(5, 1), (60, 4), (200, 8)] {
            let few = &ids[..m];
            let base = m.div_ceil(per_task) as u64;
            let n = default_count(few, per_task, 100);
            assert!((base..=2 * base).contains(&n), "{m}/{per_task}: {n}");
            // Never worse than the base count, and no count below n in range is as good.
            let w = waves(few, n, per_task);
            assert!(w <= waves(few, base, per_task));
            assert!(
                (base..n).all(|k| waves(few, k, per_task) > w),
                "{m}/{per_task}: {n}"
            );
        }
        assert_eq!(default_count(&[], 1, 100), 1);
        assert_eq!(default_count(&ids[..1], 4, 100), 1);
    }

    #[test]
    fn the_assignment_is_a_fixed_function_of_the_id() {
        // sha256("abc") begins ba7816bf8f01cfea = 13436514500253700074.
        assert_eq!(Shard::of("abc", 1000), 13_436_514_500_253_700_074 % 1000);
        assert_eq!(Shard::of("abc", 1), 0);
    }
}
