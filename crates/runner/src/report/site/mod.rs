//! The HTML report: every figure as PNG and SVG plus `index.html`, in `<dir>/report/`.
//!
//! Figures: each metric against σ, against the dimension and against wall time (where the
//! sweep varies them), per data set; for 2-D data the exact and learned score fields and the
//! samples over the density's contours, for the best run of each objective (or the runs
//! asked for); the loss curves. The directory is written aside and renamed into place.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::figure::{self, Figure};
use super::html::{self, Made};
use super::{Group, Summary};
use crate::columns::Table;
use crate::store::{CONFIG_FILE, RUNS_CSV, Store};
use fields::field_plots;
use losses::loss_plots;
use metrics::metric_plots;
use scorematch::RunConfig;
use scorematch::data::DatasetConfig;

/// The report's directory inside a results directory.
pub const REPORT_DIR: &str = "report";

/// The report's page.
pub const INDEX: &str = "index.html";

/// What `runner report` is asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiteOptions {
    /// Runs (whole ids) whose score fields and samples to draw; empty: the run
    /// with the lowest Fisher divergence of each objective on each 2-D data set.
    pub runs: Vec<String>,
}

/// Writes `<dir>/report/` (figures and `index.html`) from `<dir>/runs.csv` and the run
/// directories; returns the path of `index.html`.
pub fn write_site(dir: &Path, opts: &SiteOptions) -> Result<PathBuf> {
    figure::register_font()?;
    let table = Table::read(&dir.join(RUNS_CSV)).with_context(|| {
        format!(
            "{} holds no {RUNS_CSV}: run a sweep into it first",
            dir.display()
        )
    })?;
    let summary = name_data_files(dir, &table, Summary::of(&table)?);
    let store = Store::create(dir)?;
    let staged = store.tmp_name(REPORT_DIR);
    fs::create_dir_all(&staged).with_context(|| format!("creating {}", staged.display()))?;
    let dest = dir.join(REPORT_DIR);
    let result = fill(dir, &staged, &table, &summary, opts).and_then(|()| {
        // Processes sharing the directory swap their reports in one at a time.
        let _lock = store.lock()?;
        if dest.exists() {
            let old = store.tmp_name("report-old");
            fs::rename(&dest, &old).with_context(|| format!("moving {} aside", dest.display()))?;
            let _ = fs::remove_dir_all(&old);
        }
        fs::rename(&staged, &dest).with_context(|| format!("creating {}", dest.display()))
    });
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staged);
        return Err(e);
    }
    Ok(dest.join(INDEX))
}

/// A data set's name on figures: a data set read from a file by the file's name.
pub(super) fn dataset_title(dataset: &DatasetConfig) -> String {
    match dataset {
        DatasetConfig::File(file) => Path::new(&file.path)
            .file_name()
            .map_or(file.path.clone(), |n| n.to_string_lossy().into_owned()),
        other => other.name().to_string(),
    }
}

/// The summary with the `dataset` of configurations on data from a file set to the file's
/// name (from a run's `config.toml`), so that figures are titled, and files told apart, by
/// it. A configuration whose runs' configurations cannot be read keeps `file`.
fn name_data_files(dir: &Path, table: &Table, mut summary: Summary) -> Summary {
    let Some(i) = summary.params.iter().position(|p| p == "dataset") else {
        return summary;
    };
    for g in summary.groups.iter_mut().filter(|g| g.params[i] == "file") {
        let named = table
            .rows
            .iter()
            .filter(|r| table.get(r, "config_id") == g.config_id)
            .find_map(|r| {
                let path = dir
                    .join("runs")
                    .join(table.get(r, "run_id"))
                    .join(CONFIG_FILE);
                let config: RunConfig = toml::from_str(&fs::read_to_string(path).ok()?).ok()?;
                Some(dataset_title(&config.dataset))
            });
        if let Some(name) = named {
            g.params[i] = name;
        }
    }
    summary
}

/// Draws every figure and the page into `out`.
fn fill(
    dir: &Path,
    out: &Path,
    table: &Table,
    summary: &Summary,
    opts: &SiteOptions,
) -> Result<()> {
    let mut made = Vec::new();
    for (plot, m) in metric_plots(summary) {
        save(out, &plot, m, &mut made)?;
    }
    for (plot, m) in field_plots(dir, table, opts)? {
        save(out, &plot, m, &mut made)?;
    }
    for (plot, m) in loss_plots(dir, table, summary) {
        save(out, &plot, m, &mut made)?;
    }
    made.sort_by_key(|m| m.section);
    let title = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    // `runner best`'s table, when it has been made.
    let best = Table::read(&dir.join(crate::store::BEST_CSV))
        .ok()
        .map(|t| std::iter::once(t.header).chain(t.rows).collect::<Vec<_>>());
    fs::write(
        out.join(INDEX),
        html::page(&title, summary, &made, best.as_deref()),
    )?;
    Ok(())
}

/// Writes `plot` as `<stem>.png` and `<stem>.svg` into `out` and records it in `made`.
fn save<F: Figure>(out: &Path, plot: &F, m: Made, made: &mut Vec<Made>) -> Result<()> {
    fs::write(out.join(format!("{}.png", m.stem)), figure::png(plot)?)?;
    fs::write(out.join(format!("{}.svg", m.stem)), figure::svg(plot)?)?;
    made.push(m);
    Ok(())
}

/// The median Euclidean norm of 2-D vectors (1 without finite ones).
pub(super) fn median_norm(vs: &[[f64; 2]]) -> f64 {
    let mut norms: Vec<f64> = vs
        .iter()
        .map(|v| v[0].hypot(v[1]))
        .filter(|v| v.is_finite())
        .collect();
    norms.sort_by(f64::total_cmp);
    norms.get(norms.len() / 2).copied().unwrap_or(1.0)
}

/// A file-name-safe form of `s`.
pub(super) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Values of parameter `name` in the groups, in first-seen order.
pub(super) fn values<'a>(summary: &Summary, groups: &[&'a Group], name: &str) -> Vec<&'a str> {
    let Some(i) = summary.params.iter().position(|p| p == name) else {
        return Vec::new();
    };
    let mut seen = Vec::new();
    for g in groups {
        if !seen.contains(&g.params[i].as_str()) {
            seen.push(g.params[i].as_str());
        }
    }
    seen
}

pub(super) fn param<'a>(summary: &Summary, g: &'a Group, name: &str) -> &'a str {
    summary
        .params
        .iter()
        .position(|p| p == name)
        .map_or("", |i| g.params[i].as_str())
}

pub(super) fn stat(summary: &Summary, g: &Group, metric: &str) -> Option<super::Stat> {
    let i = summary.metrics.iter().position(|m| m == metric)?;
    Some(g.stats[i]).filter(|s| s.mean.is_some())
}

/// The groups of each data set, in first-seen order.
pub(super) fn by_dataset(summary: &Summary) -> Vec<(String, Vec<&Group>)> {
    let all: Vec<&Group> = summary.groups.iter().collect();
    values(summary, &all, "dataset")
        .into_iter()
        .map(|d| {
            let gs = all
                .iter()
                .copied()
                .filter(|g| param(summary, g, "dataset") == d)
                .collect();
            (d.to_string(), gs)
        })
        .collect()
}

/// Parameters that vary among `groups`, objective first, without `skip`.
pub(super) fn series_params(summary: &Summary, groups: &[&Group], skip: &[&str]) -> Vec<usize> {
    let mut out: Vec<usize> = summary
        .params_varying_among(groups)
        .into_iter()
        .filter(|&i| !skip.contains(&summary.params[i].as_str()))
        .collect();
    out.sort_by_key(|&i| summary.params[i] != "objective");
    out
}

/// A series label: the objective by name, other parameters as `name=value`.
pub(super) fn label(summary: &Summary, g: &Group, params: &[usize]) -> String {
    params
        .iter()
        .filter(|&&i| !g.params[i].is_empty())
        .map(|&i| {
            if summary.params[i] == "objective" {
                g.params[i].clone()
            } else {
                format!("{}={}", summary.params[i], g.params[i])
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

mod fields;
mod losses;
mod metrics;

#[cfg(test)]
mod tests {
    use super::losses::read_loss;
    use super::*;

    #[test]
    fn loss_files_skip_empty_cells() {
        assert_eq!(
            read_loss("step,loss\n1,0.5\n2,\n3,0.25\n"),
            vec![(1.0, 0.5), (3.0, 0.25)]
        );
        assert_eq!(slug("gmm/2 x"), "gmm_2_x");
    }
}
