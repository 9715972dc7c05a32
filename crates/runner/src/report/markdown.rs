//! `summary.md`: the configurations as a readable table, metrics as mean ± sd (n).

use std::fmt::Write as _;

use anyhow::Result;

use super::{Output, Stat, Summary, readable};
use crate::columns::{self, Column};

/// Writes `summary.md`.
pub struct SummaryMarkdown;

fn stat(s: &Stat) -> String {
    match (s.mean, s.sd) {
        (Some(m), Some(sd)) => format!("{} ± {} ({})", readable(m), readable(sd), s.n),
        (Some(m), None) => format!("{} ({})", readable(m), s.n),
        _ => "–".to_string(),
    }
}

impl Output for SummaryMarkdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, summary: &Summary, title: &str) -> Result<Vec<u8>> {
        let mut md = String::new();
        let runs: usize = summary.groups.iter().map(|g| g.runs).sum();
        let count = |f: fn(&super::Group) -> usize| summary.groups.iter().map(f).sum::<usize>();
        writeln!(md, "# {title}\n")?;
        writeln!(
            md,
            "{runs} runs in {} configurations: {} ok, {} diverged, {} failed{}. \
             Metrics are mean ± sd (n) over the ok runs (seeds) of each configuration.\n",
            summary.groups.len(),
            count(|g| g.ok),
            count(|g| g.diverged),
            count(|g| g.failed),
            pruned_words(count(|g| g.pruned))
        )?;
        let (header, rows) = table(summary, |c| c.in_summary);
        writeln!(md, "| {} |", header.join(" | "))?;
        writeln!(md, "|{}", " --- |".repeat(header.len()))?;
        for cells in rows {
            writeln!(md, "| {} |", cells.join(" | "))?;
        }
        Ok(md.into_bytes())
    }
}

/// The summary table: the parameters that vary (else data set and objective), the run
/// counts and the `shown` metrics that have a value in some configuration, one row per
/// configuration, sorted by the parameters. Returns the header and the rows.
pub fn table(summary: &Summary, shown: fn(&Column) -> bool) -> (Vec<String>, Vec<Vec<String>>) {
    let mut params = summary.varying_params();
    if params.is_empty() {
        params = ["dataset", "objective"]
            .iter()
            .filter_map(|p| summary.params.iter().position(|x| x == p))
            .collect();
    }
    let shown: Vec<(usize, &str)> = columns::metrics(shown)
        .filter_map(|c| Some((summary.metrics.iter().position(|x| x == c.name)?, c.label)))
        .filter(|(i, _)| summary.groups.iter().any(|g| g.stats[*i].n > 0))
        .collect();
    let mut header: Vec<String> = params.iter().map(|&i| summary.params[i].clone()).collect();
    header.push("runs".into());
    header.extend(shown.iter().map(|(_, t)| t.to_string()));
    let mut groups: Vec<_> = summary.groups.iter().collect();
    groups.sort_by(|a, b| {
        params
            .iter()
            .map(|&i| compare(&a.params[i], &b.params[i]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let rows = groups
        .into_iter()
        .map(|g| {
            let mut cells: Vec<String> = params.iter().map(|&i| g.params[i].clone()).collect();
            let mut runs = format!("{}", g.runs);
            if g.diverged + g.failed > 0 {
                runs += &format!(" ({} diverged, {} failed)", g.diverged, g.failed);
            }
            if g.pruned > 0 {
                runs += &format!(" ({} pruned)", g.pruned);
            }
            cells.push(runs);
            cells.extend(shown.iter().map(|(i, _)| stat(&g.stats[*i])));
            cells
        })
        .collect();
    (header, rows)
}

fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// `, n pruned` when a search pruned runs (nothing otherwise).
pub fn pruned_words(n: usize) -> String {
    if n > 0 {
        format!(", {n} pruned")
    } else {
        String::new()
    }
}
