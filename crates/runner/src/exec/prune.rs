//! Early termination of a search's trials: asynchronous successive halving (ASHA, Li et al.
//! 2020) on the held-out loss.
//!
//! ```toml
//! [search.prune]
//! rungs = [200, 400, 800]     # steps at which trials are compared
//! reduction_factor = 3        # η: about 1/η of the trials go on past each rung
//! ```
//!
//! A trial competes with the trials of its *bracket*: the runs whose configurations differ
//! only in the searched parameters (the same objective group, seed and data set). When its
//! held-out loss is evaluated at or past a rung (the first evaluation at step ≥ the rung),
//! the value is recorded at that rung, and the trial goes on only if it ranks within the best
//! max(1, ⌊n/η⌋) of the n values recorded there so far, itself included; otherwise it stops
//! and is recorded as `pruned`, with its steps, and is not retried. The first trial to reach
//! a rung always goes on. The values live in `<out>/prune/<bracket>.csv`, written under the
//! store's lock, so shards and processes sharing the directory compare against each other,
//! and a resumed trial reuses what it recorded before.

use std::fs::OpenOptions;
use std::io::Write as _;

use anyhow::{Context as _, Result};
use scorematch::RunConfig;
use serde_json::Value;

use crate::job::canonical_json;
use crate::store::Store;

/// A search's pruning rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Prune {
    /// Steps of the rungs, increasing.
    pub rungs: Vec<usize>,
    /// η ≥ 2.
    pub reduction_factor: usize,
    /// The searched parameters: (family, field) or (None, run parameter).
    pub searched: Vec<(Option<String>, String)>,
}

impl Prune {
    /// The bracket of `config`: a hash of its configuration without the searched
    /// parameters.
    pub fn bracket(&self, config: &RunConfig) -> String {
        let mut value = serde_json::to_value(config).unwrap_or_default();
        for (family, field) in &self.searched {
            let table = match family {
                Some(f) => value.get_mut(f),
                None if value.get(field).is_some() => Some(&mut value),
                None => value.get_mut("train"),
            };
            if let Some(Value::Object(map)) = table {
                map.remove(field);
            }
        }
        if let Some(Value::Object(train)) = value.get_mut("train") {
            train.remove("checkpoint_every");
        }
        let text = format!("bracket:{}", canonical_json(&value));
        crate::job::short_hash(&text)
    }
}

/// ASHA's rule: whether `value` ranks within the best max(1, ⌊n/η⌋) of `values` (which
/// include it).
pub fn goes_on(values: &[f64], value: f64, eta: usize) -> bool {
    let keep = (values.len() / eta.max(1)).max(1);
    let better = values.iter().filter(|&&v| v < value).count();
    better < keep
}

/// One training run's side of the rule: its bracket and the next rung it reports to.
pub struct Pruner<'a> {
    prune: &'a Prune,
    store: &'a Store,
    bracket: String,
    run_id: String,
    next: usize,
}

impl<'a> Pruner<'a> {
    /// The pruner of run `run_id` with configuration `config`.
    pub fn new(prune: &'a Prune, store: &'a Store, run_id: &str, config: &RunConfig) -> Self {
        Self {
            bracket: prune.bracket(config),
            prune,
            store,
            run_id: run_id.to_string(),
            next: 0,
        }
    }

    /// Whether the run stops after a held-out loss `value` at `step`.
    pub fn stops(&mut self, step: usize, value: f64) -> Result<bool> {
        let rungs = &self.prune.rungs;
        // The highest rung this evaluation reaches; rungs it skipped are passed.
        let mut rung = None;
        while self.next < rungs.len() && rungs[self.next] <= step {
            rung = Some(rungs[self.next]);
            self.next += 1;
        }
        let Some(rung) = rung else {
            return Ok(false);
        };
        let values = self.record(rung, value)?;
        Ok(!goes_on(&values, value, self.prune.reduction_factor))
    }

    /// Records `value` at `rung` (unless this run recorded one there before, then that one
    /// counts) and returns every value at the rung.
    fn record(&self, rung: usize, value: f64) -> Result<Vec<f64>> {
        let dir = self.store.root().join("prune");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.csv", self.bracket));
        let _lock = self.store.lock()?;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut values = Vec::new();
        let mut mine = false;
        for line in text.lines() {
            let mut cells = line.split(',');
            let (Some(r), Some(id), Some(v)) = (cells.next(), cells.next(), cells.next()) else {
                continue;
            };
            let (Ok(r), Ok(v)) = (r.parse::<usize>(), v.parse::<f64>()) else {
                continue;
            };
            if r == rung {
                values.push(v);
                mine |= id == self.run_id;
            }
        }
        if !mine {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{rung},{},{value:?}", self.run_id)?;
            file.sync_all()?;
            values.push(value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asha_keeps_the_top_fraction_at_each_rung_on_a_synthetic_loss() {
        // Nine trials reach a rung in this order, with these losses; η = 3.
        let losses = [5.0, 3.0, 4.0, 1.0, 6.0, 2.0, 0.5, 7.0, 2.5];
        let mut seen = Vec::new();
        let decisions: Vec<bool> = losses
            .iter()
            .map(|&v| {
                seen.push(v);
                goes_on(&seen, v, 3)
            })
            .collect();
        // By hand: n = 1, 2 keep 1 (the best so far goes on); n = 3..5 keep 1; n = 6..8
        // keep 2; n = 9 keeps 3.
        // 5: first → on. 3 < 5 → on. 4: best is 3 → off. 1 → on. 6 → off.
        // 2 (n = 6, keep 2: 1 and 2) → on. 0.5 → on. 7 → off. 2.5 (n = 9, keep 3:
        // 0.5, 1, 2) → off.
        assert_eq!(
            decisions,
            [true, true, false, true, false, true, true, false, false]
        );
    }

    #[test]
    fn a_bracket_ignores_the_searched_parameters_only() {
        let cfg = |text: &str| -> RunConfig { toml::from_str(text).unwrap() };
        let prune = Prune {
            rungs: vec![10],
            reduction_factor: 3,
            searched: vec![
                (None, "lr".into()),
                (Some("objective".into()), "sigma".into()),
            ],
        };
        let a = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.1 }\ntrain = { lr = 0.01 }",
        );
        let b = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.3 }\ntrain = { lr = 0.002 }",
        );
        let c = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.3 }\nseed = 1",
        );
        assert_eq!(prune.bracket(&a), prune.bracket(&b));
        assert_ne!(prune.bracket(&a), prune.bracket(&c));
    }
}
