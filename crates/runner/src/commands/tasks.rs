//! `runner tasks`: the built-in data sets as benchmark tasks — each registered data set's
//! standard instances, their dimension, what makes each hard, and the Fisher divergence of
//! the zero score, ½ E‖∇log p‖², as the scale a method's Fisher divergence is read against.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Result;
use scorematch::data::DatasetConfig;
use scorematch::rng::{Stream, rng};

use crate::cli::TasksArgs;
use crate::report::readable;

/// Dimensions each data set's standard instance is listed at.
const DIMS: [usize; 2] = [2, 10];

/// One task: the data set as a sweep writes it, and its numbers.
pub struct Task {
    /// The data set, as a TOML inline table.
    pub dataset: String,
    /// Its registry entry.
    pub config: DatasetConfig,
    /// ½ E‖∇log p‖² over the evaluation points, where the score is known.
    pub zero_fisher: Option<f64>,
}

/// The tasks: every registered data set with an exact score, its example at each of
/// [`DIMS`], once (data from files have no true score to benchmark against).
pub fn list(points: usize) -> Vec<Task> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for dim in DIMS {
        for config in DatasetConfig::examples(dim) {
            if !config.has_exact_score() {
                continue;
            }
            let dataset = inline(&config);
            if !seen.insert(dataset.clone()) {
                continue;
            }
            let zero_fisher = config.build().ok().map(|density| {
                let x = density.sample(points, &mut rng(0, Stream::Eval));
                let s = density.scores(&x);
                0.5 * s.iter().map(|v| v * v).sum::<f64>() / points as f64
            });
            out.push(Task {
                dataset,
                config,
                zero_fisher,
            });
        }
    }
    out
}

/// `{ name = "…", … }` as a sweep file writes the data set.
fn inline(config: &DatasetConfig) -> String {
    let value = toml::Value::try_from(config).unwrap_or(toml::Value::String(config.name().into()));
    let toml::Value::Table(table) = value else {
        return config.name().to_string();
    };
    let mut fields: Vec<String> = vec![format!("name = \"{}\"", config.name())];
    fields.extend(
        table
            .iter()
            .filter(|(k, _)| k.as_str() != "name")
            .map(|(k, v)| format!("{k} = {v}")),
    );
    format!("{{ {} }}", fields.join(", "))
}

/// `runner tasks`.
pub fn tasks(args: &TasksArgs) -> Result<ExitCode> {
    println!("| task | D | what makes it hard | Fisher of the zero score |");
    println!("|---|---|---|---|");
    for t in list(args.points.max(1)) {
        println!(
            "| `{}` | {} | {} | {} |",
            t.dataset,
            t.config.dim(),
            t.config.challenge(),
            t.zero_fisher.map_or(String::new(), readable)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_data_set_is_a_task_with_its_scale() {
        let tasks = list(2000);
        for config in DatasetConfig::examples(2) {
            let listed = tasks.iter().any(|t| t.config.name() == config.name());
            assert_eq!(listed, config.has_exact_score(), "{}", config.name());
        }
        for t in &tasks {
            assert!(!t.config.challenge().is_empty());
            assert!(t.zero_fisher.is_some_and(|f| f > 0.0), "{}", t.dataset);
        }
        // N(0, I) in D dimensions: ½ E‖x‖² = D/2, within sampling error.
        let normal = tasks
            .iter()
            .find(|t| t.config.name() == "standard_normal" && t.config.dim() == 10)
            .unwrap();
        assert!(
            (normal.zero_fisher.unwrap() - 5.0).abs() < 0.3,
            "{:?}",
            normal.zero_fisher
        );
    }
}
