//! `summary.csv`: one row per configuration; for each metric its mean, sd and n.

use anyhow::Result;

use super::{Output, Summary};
use crate::columns::encode;

/// Writes `summary.csv`.
pub struct SummaryCsv;

impl Output for SummaryCsv {
    fn file_name(&self) -> &'static str {
        "summary.csv"
    }

    fn render(&self, summary: &Summary, _title: &str) -> Result<Vec<u8>> {
        let mut header: Vec<String> = vec!["config_id".into(), "sweep".into()];
        header.extend(summary.params.iter().cloned());
        header.extend(["runs", "ok", "diverged", "failed", "pruned"].map(String::from));
        for m in &summary.metrics {
            header.extend([format!("{m}_mean"), format!("{m}_sd"), format!("{m}_n")]);
        }
        let mut out = encode(&header);
        let num = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v:?}"));
        for g in &summary.groups {
            let mut row: Vec<String> = vec![g.config_id.clone(), g.sweep.clone()];
            row.extend(g.params.iter().cloned());
            row.extend([g.runs, g.ok, g.diverged, g.failed, g.pruned].map(|n| n.to_string()));
            for s in &g.stats {
                row.extend([num(s.mean), num(s.sd), s.n.to_string()]);
            }
            out.extend(encode(&row));
        }
        Ok(out)
    }
}
