//! Aggregates `runs.csv` over seeds: per configuration (runs sharing a `config_id`) the
//! mean, standard deviation and count of each metric over its `ok` runs.
//!
//! Outputs are [`Output`]s written from one [`Summary`]; the figures and the HTML page are
//! written by [`write_site`] into `<dir>/report/`.

pub mod compare;
mod contour;
mod curves;
mod field_plot;
mod figure;
mod html;
mod loss_plot;
mod markdown;
mod metric_plot;
mod site;
mod table;
pub mod table_plot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::columns::{Role, Table};
use crate::store::RUNS_CSV;

pub use curves::CURVES_CSV;
pub use markdown::SummaryMarkdown;
pub use site::{INDEX, REPORT_DIR, SiteOptions, write_site};
pub use table::SummaryCsv;

/// Mean, sample standard deviation and count of one metric over a configuration's runs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// Mean (missing without values).
    pub mean: Option<f64>,
    /// Sample standard deviation (missing with fewer than two values).
    pub sd: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The statistics of `values`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n > 1).then(|| {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        });
        Stat {
            mean: Some(mean),
            sd,
            n,
        }
    }
}

/// One configuration: its parameters, run counts and metric statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The configuration's id.
    pub config_id: String,
    /// The sweep that ran it.
    pub sweep: String,
    /// Parameter values, in [`Summary::params`] order.
    pub params: Vec<String>,
    /// Runs (seeds) of this configuration.
    pub runs: usize,
    /// Runs by status: ok, diverged, failed.
    pub ok: usize,
    /// Diverged runs.
    pub diverged: usize,
    /// Failed runs.
    pub failed: usize,
    /// Runs a search's pruning rule stopped.
    pub pruned: usize,
    /// Statistics, in [`Summary::metrics`] order.
    pub stats: Vec<Stat>,
}

/// `runs.csv` aggregated over seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Parameter columns (every parameter but the seed).
    pub params: Vec<String>,
    /// Metric columns with a value in some run.
    pub metrics: Vec<String>,
    /// One group per configuration, in the order of the table.
    pub groups: Vec<Group>,
}

impl Summary {
    /// Aggregates a `runs.csv` table.
    pub fn of(table: &Table) -> Result<Summary> {
        // The parameters some run sets (no empty `sampler` column for a sweep without one).
        let params: Vec<String> = table
            .header
            .iter()
            .filter(|c| crate::columns::role(c) == Role::Param && *c != "seed")
            .filter(|c| table.rows.iter().any(|r| !table.get(r, c).is_empty()))
            .cloned()
            .collect();
        // The metrics the table has a number for: a sweep without a sampler has no sample
        // metrics, one on file data no Fisher divergence.
        let measured = |name: &str| {
            table
                .rows
                .iter()
                .any(|r| table.get(r, name).parse::<f64>().is_ok_and(f64::is_finite))
        };
        let metrics: Vec<String> = crate::columns::metrics(|_| true)
            .filter(|c| measured(c.name))
            .map(|c| c.name.to_string())
            .collect();
        anyhow::ensure!(
            table.index("config_id").is_some(),
            "the table has no config_id column: is it a runs.csv written by runner?"
        );
        let mut order: Vec<String> = Vec::new();
        let mut by_config: BTreeMap<String, Vec<&Vec<String>>> = BTreeMap::new();
        for row in &table.rows {
            let id = table.get(row, "config_id").to_string();
            if !by_config.contains_key(&id) {
                order.push(id.clone());
            }
            by_config.entry(id).or_default().push(row);
        }
        let groups = order
            .into_iter()
            .map(|id| {
                let rows = &by_config[&id];
                let count = |s: &str| rows.iter().filter(|r| table.get(r, "status") == s).count();
                let ok_rows: Vec<_> = rows
                    .iter()
                    .filter(|r| table.get(r, "status") == "ok")
                    .collect();
                let stats = metrics
                    .iter()
                    .map(|m| {
                        let values: Vec<f64> = ok_rows
                            .iter()
                            .filter_map(|r| table.get(r, m).parse::<f64>().ok())
                            .filter(|v| v.is_finite())
                            .collect();
                        Stat::of(&values)
                    })
                    .collect();
                let first = rows[0];
                Group {
                    sweep: table.get(first, "sweep").to_string(),
                    params: params
                        .iter()
                        .map(|p| table.get(first, p).to_string())
                        .collect(),
                    runs: rows.len(),
                    ok: count("ok"),
                    diverged: count("diverged"),
                    failed: count("failed"),
                    pruned: count("pruned"),
                    stats,
                    config_id: id,
                }
            })
            .collect();
        Ok(Summary {
            params,
            metrics,
            groups,
        })
    }

    /// Parameters that tell groups apart (see [`crate::columns::varies`]).
    pub fn varying_params(&self) -> Vec<usize> {
        let groups: Vec<&Group> = self.groups.iter().collect();
        self.params_varying_among(&groups)
    }

    /// Parameters that tell `groups` apart (see [`crate::columns::varies`]).
    pub fn params_varying_among(&self, groups: &[&Group]) -> Vec<usize> {
        (0..self.params.len())
            .filter(|&i| crate::columns::varies(&self.params[i], groups, |g, c| self.param(g, c)))
            .collect()
    }

    /// The value of parameter `name` in `group` (empty if the table has no such column).
    pub fn param(&self, group: &Group, name: &str) -> String {
        self.params
            .iter()
            .position(|p| p == name)
            .and_then(|i| group.params.get(i))
            .cloned()
            .unwrap_or_default()
    }
}

/// A file written from a summary.
pub trait Output {
    /// The file's name inside the output directory.
    fn file_name(&self) -> &'static str;
    /// The file's contents.
    fn render(&self, summary: &Summary, title: &str) -> Result<Vec<u8>>;
}

/// Every output `runner report` writes.
pub fn outputs() -> Vec<Box<dyn Output>> {
    vec![Box::new(SummaryCsv), Box::new(SummaryMarkdown)]
}

/// Reads `<dir>/runs.csv` and writes every output next to it; returns the files written.
pub fn write_reports(dir: &Path) -> Result<Vec<PathBuf>> {
    let table = Table::read(&dir.join(RUNS_CSV)).with_context(|| {
        format!(
            "{} holds no {RUNS_CSV}: run a sweep into it first",
            dir.display()
        )
    })?;
    let summary = Summary::of(&table)?;
    let title = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let mut written = Vec::new();
    for out in outputs() {
        let path = dir.join(out.file_name());
        crate::store::write_atomic(&path, &out.render(&summary, &title)?)?;
        written.push(path);
    }
    let path = dir.join(CURVES_CSV);
    crate::store::write_atomic(&path, &curves::curves_csv(dir, &table))?;
    written.push(path);
    Ok(written)
}

/// A number with about four significant digits, for reading.
pub fn readable(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let e = x.abs().log10().floor() as i32;
    if (-3..5).contains(&e) {
        format!("{x:.*}", (3 - e).max(0) as usize)
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::Layout;

    fn table(rows: &[(&str, &str, &str, &str)]) -> Table {
        let header: Vec<String> = Layout::fixed().names().to_vec();
        let idx = |n: &str| header.iter().position(|h| h == n).unwrap();
        let rows = rows
            .iter()
            .map(|(config, objective, status, fisher)| {
                let mut r = vec![String::new(); header.len()];
                r[idx("config_id")] = config.to_string();
                r[idx("objective")] = objective.to_string();
                r[idx("dataset")] = "8gaussians".into();
                r[idx("status")] = status.to_string();
                r[idx("fisher")] = fisher.to_string();
                r
            })
            .collect();
        Table { header, rows }
    }

    #[test]
    fn stats_are_mean_sample_sd_and_count() {
        let s = Stat::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, Some(2.5));
        assert!((s.sd.unwrap() - 1.290_994_448_735_805_6).abs() < 1e-12);
        assert_eq!(s.n, 4);
        assert_eq!(Stat::of(&[5.0]).sd, None);
        assert_eq!(Stat::of(&[]), Stat::default());
    }

    #[test]
    fn groups_are_configurations_and_only_ok_runs_count() {
        let t = table(&[
            ("a", "esm", "ok", "1.0"),
            ("b", "dsm", "ok", "4.0"),
            ("a", "esm", "ok", "3.0"),
            ("a", "esm", "diverged", ""),
            ("b", "dsm", "failed", ""),
        ]);
        let s = Summary::of(&t).unwrap();
        assert_eq!(s.groups.len(), 2);
        let a = &s.groups[0];
        assert_eq!((a.runs, a.ok, a.diverged, a.failed), (3, 2, 1, 0));
        let f = s.metrics.iter().position(|m| m == "fisher").unwrap();
        assert_eq!(a.stats[f].mean, Some(2.0));
        assert_eq!(a.stats[f].n, 2);
        let b = &s.groups[1];
        assert_eq!((b.runs, b.ok, b.failed), (2, 1, 1));
        assert_eq!(b.stats[f].sd, None);
        let varying: Vec<&str> = s
            .varying_params()
            .iter()
            .map(|&i| s.params[i].as_str())
            .collect();
        assert_eq!(varying, ["objective"]);
        assert!(!s.params.contains(&"seed".to_string()));
    }

    #[test]
    fn numbers_read_with_four_significant_digits() {
        assert_eq!(readable(0.012346), "0.01235");
        assert_eq!(readable(123.456), "123.5");
        assert_eq!(readable(12345.6), "12346");
        assert_eq!(readable(1.5e-7), "1.500e-7");
        assert_eq!(readable(0.0), "0");
    }
}
