//! External score estimators, protocol version 1: how a user's command (any language) gets a
//! run's data and hands back its scores, so that it is judged by exactly the metrics of the
//! built-in methods.
//!
//! The runner makes a directory for the run and writes into it:
//! - `train.csv` and `train.npy`: the training pool, `[n, D]` — the same points a built-in
//!   run with this seed trains on;
//! - `eval.csv` and `eval.npy`: the evaluation points, `[m, D]` — the same points every
//!   built-in run is judged on (for data from a file: its test split);
//! - where the run's objective has a noise level σ (`objective = { name = "dsm", sigma = … }`
//!   beside the external model): `eval_noised.csv` and `eval_noised.npy`, the evaluation
//!   points plus σ·N(0, I) noise — the points built-in runs are judged on against p_σ;
//! - `run.json`: `protocol` (1), `seed`, `dataset` (`name`, `dim`, and its full
//!   configuration), `objective` and `sigma` (null without a noise level), `args` (the
//!   sweep's `args` table), `samples` (how many samples are wanted, if the command draws
//!   any), and the file names below.
//!
//! CSV files have no header, one point per line, numbers written so that they read back
//! exactly (shortest round-trip form); `.npy` files hold little-endian f64 `[rows, D]`. The
//! command runs in that directory, as an argv vector, and writes:
//! - `scores.csv` or `scores.npy` (required): ∇ₓ log p at every evaluation point, `[m, D]`,
//!   in the order of `eval.csv`;
//! - with σ, `scores_noised.csv` or `scores_noised.npy` (required): ∇ₓ log p_σ at every
//!   point of `eval_noised.csv`;
//! - `samples.csv` or `samples.npy` (optional): samples it drew, `[k, D]`;
//! - `result.json` (optional): `{"train_seconds": …}`, its own training time.
//!
//! The runner then computes every metric itself: the Fisher divergence against the exact
//! score (for data with one), the model's KSD on the evaluation points, and sample quality.

use std::path::Path;

use serde_json::json;

use crate::config::RunConfig;
use crate::data::{Density, read_table_now};
use crate::error::{Error, Result, check};
use crate::evaluation::{self, EvalSets, ModelInputs, ModelMetric, Scorer};
use crate::metric::sample_metrics;
use crate::model::ModelConfig;
use crate::rng::{Stream, rng};
use crate::sample::SampleReport;
use crate::train::TrainReport;

/// The protocol's version, in `run.json`.
pub const PROTOCOL: u32 = 1;
/// The run description the command reads.
pub const RUN_JSON: &str = "run.json";

/// The model metrics an external method's scores are judged by: those of a trained model
/// (the ones that need the model itself, its Jacobian or its energy, come out empty).
const JUDGED: &[ModelMetric] = &[
    ModelMetric::Fisher,
    ModelMetric::FisherSigma,
    ModelMetric::ModelKsd,
    ModelMetric::Asymmetry,
    ModelMetric::TestLoglik,
    ModelMetric::Kl,
    ModelMetric::LogZ,
    ModelMetric::LogZSe,
];

fn failed(message: impl Into<String>) -> Error {
    Error::External(message.into())
}

/// A run's inputs, kept to judge its outputs.
pub struct Prepared {
    /// The evaluation sets, as a built-in run of this configuration draws them.
    sets: EvalSets,
    density: Box<dyn Density>,
}

/// `values` (`[rows, dim]`) as CSV lines that read back exactly.
pub fn csv_bytes(values: &[f64], dim: usize) -> Vec<u8> {
    let mut out = String::new();
    for row in values.chunks_exact(dim) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

/// Writes the inputs of `cfg`'s run into `dir` (which must exist).
pub fn prepare(cfg: &RunConfig, dir: &Path) -> Result<Prepared> {
    check(cfg.validate())?;
    let ModelConfig::External(method) = &cfg.model else {
        return Err(failed("not an external method"));
    };
    let density = cfg.dataset.build()?;
    let dim = density.dim();
    let pool = density.sample(cfg.train.pool_size, &mut rng(cfg.seed, Stream::Pool));
    // The evaluation points and their noised copies, drawn as a built-in run draws them.
    let sets = EvalSets::draw(cfg, density.as_ref());
    let (n, m) = (pool.len() / dim, sets.rows());
    let sigma = cfg.objective.sigma();
    if let Some(noised) = &sets.noised {
        write(dir, "eval_noised.csv", &csv_bytes(&noised.x, dim))?;
        write(
            dir,
            "eval_noised.npy",
            &crate::data::npy_bytes(&noised.x, m, dim),
        )?;
    }
    write(dir, "train.csv", &csv_bytes(&pool, dim))?;
    write(dir, "train.npy", &crate::data::npy_bytes(&pool, n, dim))?;
    write(dir, "eval.csv", &csv_bytes(&sets.x, dim))?;
    write(dir, "eval.npy", &crate::data::npy_bytes(&sets.x, m, dim))?;
    let run = json!({
        "protocol": PROTOCOL,
        "seed": cfg.seed,
        "dataset": { "name": cfg.dataset.name(), "dim": dim, "config": cfg.dataset },
        "objective": cfg.objective.name(),
        "sigma": sigma,
        "args": method.args,
        "samples": cfg.sample_metrics.samples,
        "inputs": {
            "train": { "csv": "train.csv", "npy": "train.npy", "rows": n },
            "eval": { "csv": "eval.csv", "npy": "eval.npy", "rows": m },
            "eval_noised": sigma.map(|_| json!({ "csv": "eval_noised.csv", "npy": "eval_noised.npy", "rows": m })),
        },
        "outputs": {
            "scores": "scores.csv or scores.npy: the score at each evaluation point (required)",
            "scores_noised": sigma.map(|_| "scores_noised.csv or scores_noised.npy: the score of p_sigma at each noised point (required)"),
            "samples": "samples.csv or samples.npy: samples drawn (optional)",
            "result": "result.json: {\"train_seconds\": …} (optional)",
        },
    });
    let text = serde_json::to_string_pretty(&run).map_err(|e| failed(e.to_string()))?;
    write(dir, RUN_JSON, text.as_bytes())?;
    Ok(Prepared { sets, density })
}

/// The `[rows, dim]` output called `stem` (`.npy`, else `.csv`, which has no header row),
/// `None` if neither exists; misshapen, non-numeric or non-finite contents are errors naming
/// the file (and the line and column).
fn read_output(
    dir: &Path,
    stem: &str,
    dim: usize,
    rows: Option<usize>,
) -> Result<Option<Vec<f64>>> {
    let npy = dir.join(format!("{stem}.npy"));
    let path = if npy.exists() {
        npy
    } else {
        dir.join(format!("{stem}.csv"))
    };
    if !path.exists() {
        return Ok(None);
    }
    let name = path
        .file_name()
        .map_or(stem.to_string(), |n| n.to_string_lossy().into_owned());
    let table =
        read_table_now(&path).map_err(|e| failed(e.replace(&path.display().to_string(), &name)))?;
    if table.cols != dim {
        return Err(failed(format!(
            "{name} has {} columns, the data have D = {dim}",
            table.cols
        )));
    }
    // Every cell is a number first (the protocol has no header row), then the count.
    let columns: Vec<usize> = (0..dim).collect();
    let values = table.numeric(&columns, &name).map_err(failed)?;
    if let Some(want) = rows
        && table.rows() != want
    {
        return Err(failed(format!(
            "{name} has {} rows, there are {want} evaluation points",
            table.rows()
        )));
    }
    Ok(Some(values))
}

/// Reads the command's outputs in `dir` and computes the run's report; `wall_seconds` is
/// the command's wall time. Returns the report and the samples, if it drew any.
pub fn evaluate(
    cfg: &RunConfig,
    prepared: &Prepared,
    dir: &Path,
    wall_seconds: f64,
) -> Result<(TrainReport, Option<Vec<f64>>)> {
    let (sets, dim) = (&prepared.sets, prepared.sets.dim);
    let scores = read_output(dir, "scores", dim, Some(sets.rows()))?
        .ok_or_else(|| failed("it wrote no scores.csv or scores.npy"))?;
    let noised_scores = match &sets.noised {
        Some(_) => Some(
            read_output(dir, "scores_noised", dim, Some(sets.rows()))?.ok_or_else(|| {
                failed("the objective has a noise level, and it wrote no scores_noised.csv or .npy")
            })?,
        ),
        None => None,
    };
    let scorer = Scorer::Given {
        eval: &scores,
        noised: noised_scores.as_deref(),
    };
    let inputs = ModelInputs::new(scorer, sets, prepared.density.as_ref(), cfg);
    let values = evaluation::evaluate(JUDGED, &inputs)?;
    let samples = read_output(dir, "samples", dim, None)?;
    let sample = samples.as_ref().map(|s| SampleReport {
        sampler: "external".into(),
        samples: s.len() / dim,
        sample_seconds: 0.0,
        message: None,
        metrics: sample_metrics(s, prepared.density.as_ref(), &cfg.sample_metrics),
        acceptance: None,
        rhat: None,
        floor: None,
    });
    let method_seconds = std::fs::read_to_string(dir.join("result.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("train_seconds")?.as_f64());
    let report = TrainReport {
        train_seconds: wall_seconds,
        sample,
        method_seconds,
        ..TrainReport::evaluated(&values, inputs.into_density_fit())
    };
    Ok((report, samples))
}

#[cfg(test)]
mod tests;
