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
//! a rung goes on if its loss is finite: a NaN or infinite held-out loss always stops the
//! trial, and ranks behind every finite one. The values live in `<out>/prune/<bracket>.csv`, written under the
//! store's lock, so shards and processes sharing the directory compare against each other,
//! and a resumed trial reuses what it recorded before.

use std::fs::OpenOptions;
use std::io::Write as _;

use anyhow::{Context as _, Result};
use scorematch::RunConfig;

use crate::store::Store;
use crate::sweep::search::prune::{Prune, goes_on};

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
