//! The columns of `runs.csv`, in order, each with its meaning — the one place they are
//! defined. A row is read off a run's record (`metrics.json`) by each column's path, so a new
//! configuration field or report value is one line here.

use std::cmp::Ordering;

use serde_json::Value;

/// What a column is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Identifies a run.
    Id,
    /// A parameter of the run (from its configuration).
    Param,
    /// A number the run produced.
    Metric,
    /// Anything else about the run (status, versions).
    Info,
}

/// One column of `runs.csv`.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Header name.
    pub name: &'static str,
    /// Dotted path of the value in the run record.
    pub path: &'static str,
    /// What it is about.
    pub role: Role,
    /// What it means.
    pub doc: &'static str,
}

const fn col(name: &'static str, path: &'static str, role: Role, doc: &'static str) -> Column {
    Column {
        name,
        path,
        role,
        doc,
    }
}

/// Every column, in order: the fixed leading columns, then the extras.
pub const COLUMNS: &[Column] = &[
    col(
        "run_id",
        "run_id",
        Role::Id,
        "hash of the run's resolved configuration; its directory is runs/<run_id>/",
    ),
    col(
        "sweep",
        "sweep",
        Role::Info,
        "name of the sweep that ran it",
    ),
    col(
        "status",
        "status",
        Role::Info,
        "ok; diverged (the loss or the final Fisher divergence became non-finite, training stopped); failed (error or panic)",
    ),
    col(
        "error",
        "error",
        Role::Info,
        "why the run diverged or failed; empty when ok",
    ),
    col("dataset", "config.dataset.name", Role::Param, "data set"),
    col("dim", "derived.dim", Role::Param, "dimension D of the data"),
    col("model", "config.model.name", Role::Param, "score model"),
    col(
        "objective",
        "config.objective.name",
        Role::Param,
        "training objective",
    ),
    col(
        "sigma",
        "derived.sigma",
        Role::Param,
        "noise level σ the objective targets (dsm; esm with sigma; smallest level of dsm-multi); empty for objectives on clean data",
    ),
    col("backend", "config.backend", Role::Param, "burn backend"),
    col(
        "seed",
        "config.seed",
        Role::Param,
        "run seed (initialisation, training pool, batches, noise)",
    ),
    col(
        "steps",
        "config.train.steps",
        Role::Param,
        "optimiser steps asked for",
    ),
    col("batch", "config.train.batch", Role::Param, "batch size"),
    col("lr", "config.train.lr", Role::Param, "Adam learning rate"),
    col(
        "final_loss",
        "report.final_loss",
        Role::Metric,
        "last recorded training loss (DSM losses use the λ(σ)=σ² weighting ½‖σ s(x̃)+ε‖²)",
    ),
    col(
        "fisher_init",
        "report.fisher_init",
        Role::Metric,
        "Fisher divergence ½E_p‖s_θ − ∇log p‖² of the initial model",
    ),
    col(
        "fisher",
        "report.fisher",
        Role::Metric,
        "Fisher divergence against p after training; empty if diverged",
    ),
    col(
        "fisher_sigma_init",
        "report.fisher_sigma_init",
        Role::Metric,
        "Fisher divergence against the noised data p_σ of the initial model (objectives with σ, data sets with a closed-form p_σ)",
    ),
    col(
        "fisher_sigma",
        "report.fisher_sigma",
        Role::Metric,
        "Fisher divergence against p_σ after training",
    ),
    col(
        "train_s",
        "report.train_seconds",
        Role::Metric,
        "wall time of the training loop in seconds (evaluation excluded)",
    ),
    col(
        "steps_per_sec",
        "report.steps_per_sec",
        Role::Metric,
        "optimiser steps per second",
    ),
    col(
        "sampler",
        "report.sample.sampler",
        Role::Param,
        "sampler run after training (langevin, annealed, reverse_sde, probability_flow); empty without one",
    ),
    col(
        "sample_mmd",
        "report.sample.metrics.sample_mmd",
        Role::Metric,
        "unbiased MMD² (RBF kernel, median-heuristic bandwidth) between the samples and fresh data samples",
    ),
    col(
        "sample_energy",
        "report.sample.metrics.sample_energy",
        Role::Metric,
        "energy distance between the samples and fresh data samples",
    ),
    col(
        "sample_swd",
        "report.sample.metrics.sample_swd",
        Role::Metric,
        "sliced Wasserstein-2 distance (random directions) between the samples and fresh data samples",
    ),
    col(
        "mode_coverage",
        "report.sample.metrics.mode_coverage",
        Role::Metric,
        "mixtures: fraction of modes with at least one sample within 3 std",
    ),
    col(
        "mode_weight_tv",
        "report.sample.metrics.mode_weight_tv",
        Role::Metric,
        "mixtures: total-variation distance between the samples' mode weights (nearest mode) and the true weights",
    ),
    col(
        "far_fraction",
        "report.sample.metrics.far_fraction",
        Role::Metric,
        "mixtures: fraction of samples farther than 3 std from every mode",
    ),
    col(
        "sample_mmd_multi",
        "report.sample.metrics.sample_mmd_multi",
        Role::Metric,
        "unbiased MMD² with a sum of RBF kernels over fixed bandwidths",
    ),
    col(
        "sample_s",
        "report.sample.sample_seconds",
        Role::Metric,
        "wall time of sampling in seconds",
    ),
    col(
        "config_id",
        "config_id",
        Role::Id,
        "hash of the configuration without its seed: the seeds of one configuration share it",
    ),
    col(
        "steps_done",
        "report.steps_done",
        Role::Metric,
        "optimiser steps taken (fewer than steps if diverged)",
    ),
    col(
        "activation",
        "config.model.activation",
        Role::Param,
        "MLP nonlinearity",
    ),
    col(
        "hidden",
        "config.model.hidden",
        Role::Param,
        "MLP hidden width",
    ),
    col(
        "depth",
        "config.model.depth",
        Role::Param,
        "MLP hidden layers",
    ),
    col(
        "noise_conditional",
        "config.model.noise_conditional",
        Role::Param,
        "whether the MLP takes σ as an input",
    ),
    col(
        "projections",
        "config.objective.projections",
        Role::Param,
        "random projections per sample (ssm, ssm-vr)",
    ),
    col(
        "projection",
        "config.objective.projection",
        Role::Param,
        "law of the projections (ssm, ssm-vr)",
    ),
    col(
        "sigma_max",
        "config.objective.sigma_max",
        Role::Param,
        "largest noise level (dsm-multi)",
    ),
    col(
        "levels",
        "config.objective.levels",
        Role::Param,
        "number of noise levels (dsm-multi)",
    ),
    col(
        "trace",
        "config.objective.trace",
        Role::Param,
        "exact-trace path asked for (ism)",
    ),
    col(
        "trace_path",
        "report.trace_path",
        Role::Info,
        "exact-trace path ISM used",
    ),
    col(
        "kernels",
        "report.kernels",
        Role::Info,
        "training engine that ran the steps: fused (host kernels) or reference (burn)",
    ),
    col(
        "data_seed",
        "config.dataset.data_seed",
        Role::Param,
        "seed of the data set's own randomness (gaussian covariance)",
    ),
    col(
        "precision",
        "config.train.precision",
        Role::Param,
        "float precision",
    ),
    col(
        "pool_size",
        "config.train.pool_size",
        Role::Param,
        "size of the training pool batches are drawn from",
    ),
    col(
        "eval_samples",
        "config.train.eval_samples",
        Role::Param,
        "size of the evaluation set for Fisher divergences",
    ),
    col(
        "eval_seed",
        "config.train.eval_seed",
        Role::Param,
        "seed of the evaluation set",
    ),
    col(
        "grad_clip",
        "config.train.grad_clip",
        Role::Param,
        "gradient-norm clipping; empty when off",
    ),
    col(
        "log_every",
        "config.train.log_every",
        Role::Param,
        "loss recorded every this many steps",
    ),
    col(
        "threads",
        "threads",
        Role::Info,
        "threads the run's tensor work used",
    ),
    col(
        "version",
        "version",
        Role::Info,
        "scorematch version that ran it",
    ),
];

/// How many columns lead the table in a fixed order (`run_id` … `steps_per_sec`).
pub const LEADING: usize = 21;

/// Whether a parameter column whose values are `values` tells runs apart: a leading
/// parameter that takes more than one value, or an extra one that takes more than one
/// non-empty value (an extra set only for some objectives or data sets is implied by them).
pub fn varies<'a>(name: &str, values: impl IntoIterator<Item = &'a str>) -> bool {
    let leading = COLUMNS[..LEADING].iter().any(|c| c.name == name);
    let distinct: std::collections::BTreeSet<&str> = values
        .into_iter()
        .filter(|v| leading || !v.is_empty())
        .collect();
    distinct.len() > 1
}

/// The header of `runs.csv`.
pub fn header() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.name).collect()
}

/// The column called `name`.
pub fn column(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// The cells of a run record, in [`COLUMNS`] order.
pub fn row(record: &Value) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|c| cell(lookup(record, c.path)))
        .collect()
}

fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(record, |v, seg| v.get(seg))
}

/// A value as a CSV cell: empty when missing; numbers as written by serde_json (shortest
/// round-trip form); text on one line.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.replace(['\n', '\r'], " "),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if !f.is_finite() => String::new(),
            _ => n.to_string(),
        },
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// The columns rows are sorted by, most significant first (then the run id).
const SORT_KEYS: [&str; 11] = [
    "sweep",
    "dataset",
    "dim",
    "model",
    "objective",
    "sigma",
    "backend",
    "steps",
    "batch",
    "lr",
    "seed",
];

/// Orders rows of [`COLUMNS`] cells for a stable, readable file: by sweep, data set, dim,
/// model, objective, σ, …, seed, then run id; numbers by value.
pub fn compare_rows(a: &[String], b: &[String]) -> Ordering {
    let index = |name: &str| COLUMNS.iter().position(|c| c.name == name);
    SORT_KEYS
        .iter()
        .chain(std::iter::once(&"run_id"))
        .filter_map(|k| index(k))
        .map(|i| compare_cells(a.get(i), b.get(i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn compare_cells(a: Option<&String>, b: Option<&String>) -> Ordering {
    let (a, b) = (a.map_or("", |s| s.as_str()), b.map_or("", |s| s.as_str()));
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// One CSV line (with its newline) for `cells`.
pub fn encode(cells: &[impl AsRef<str>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(cells.iter().map(|c| c.as_ref()));
    w.into_inner().unwrap_or_default()
}

/// The whole file: header, then rows.
pub fn encode_table(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = encode(&header());
    for r in rows {
        out.extend(encode(r));
    }
    out
}

/// A CSV file read back: its header and rows (all cells as text).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a CSV file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Table> {
        use anyhow::Context as _;
        let mut r = csv::ReaderBuilder::new()
            .from_path(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let header = r.headers()?.iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| rec.map(|r| r.iter().map(String::from).collect()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Table { header, rows })
    }

    /// Position of column `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The cell of `row` in column `name` (empty if there is no such column).
    pub fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        self.index(name)
            .and_then(|i| row.get(i))
            .map_or("", |s| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LEADING_NAMES: [&str; 21] = [
        "run_id",
        "sweep",
        "status",
        "error",
        "dataset",
        "dim",
        "model",
        "objective",
        "sigma",
        "backend",
        "seed",
        "steps",
        "batch",
        "lr",
        "final_loss",
        "fisher_init",
        "fisher",
        "fisher_sigma_init",
        "fisher_sigma",
        "train_s",
        "steps_per_sec",
    ];

    #[test]
    fn leading_columns_come_first_in_order_and_names_are_unique() {
        assert_eq!(header()[..LEADING_NAMES.len()], LEADING_NAMES);
        assert_eq!(super::LEADING, LEADING_NAMES.len());
        let mut names = header();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len());
    }

    #[test]
    fn cells_are_empty_for_missing_values_never_made_up() {
        let record = json!({
            "run_id": "abc", "status": "diverged", "error": "loss became inf\nat step 3",
            "config": { "seed": 3, "train": { "lr": 0.001, "grad_clip": null } },
            "report": { "fisher": null, "final_loss": 1.5e-7, "fisher_init": 2.0 }
        });
        let r = row(&record);
        let get = |name: &str| r[COLUMNS.iter().position(|c| c.name == name).unwrap()].as_str();
        assert_eq!(get("run_id"), "abc");
        assert_eq!(get("error"), "loss became inf at step 3");
        assert_eq!(get("seed"), "3");
        assert_eq!(get("lr"), "0.001");
        assert_eq!(get("fisher"), "");
        assert_eq!(get("grad_clip"), "");
        assert_eq!(get("fisher_init"), "2.0");
        assert_eq!(get("final_loss").parse::<f64>().unwrap(), 1.5e-7);
        assert_eq!(get("sigma"), "");
    }

    #[test]
    fn the_readme_lists_every_column_in_order() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        let listed: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .filter(|name| column(name).is_some())
            .collect();
        assert_eq!(listed, header());
    }

    #[test]
    fn extras_vary_only_with_two_set_values() {
        assert!(varies("sigma", ["", "0.1"]));
        assert!(!varies("sigma", ["0.1", "0.1"]));
        assert!(!varies("projections", ["", "1", ""]));
        assert!(varies("projections", ["", "1", "4"]));
    }

    #[test]
    fn csv_round_trips_through_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut a = vec![String::new(); COLUMNS.len()];
        a[0] = "id1".into();
        a[3] = "error with, comma and \"quotes\"".into();
        a[14] = "0.25".into();
        let mut b = vec![String::new(); COLUMNS.len()];
        b[0] = "id2".into();
        std::fs::write(&path, encode_table(&[a.clone(), b.clone()])).unwrap();
        let t = Table::read(&path).unwrap();
        assert_eq!(t.header, header());
        assert_eq!(t.rows, [a, b]);
        assert_eq!(t.get(&t.rows[0], "final_loss"), "0.25");
    }

    #[test]
    fn rows_sort_by_parameters_numerically_then_id() {
        let mk = |dim: &str, seed: &str, id: &str| {
            let mut r = vec![String::new(); COLUMNS.len()];
            r[0] = id.into();
            r[5] = dim.into();
            r[10] = seed.into();
            r
        };
        let mut rows = [
            mk("10", "0", "a"),
            mk("2", "1", "b"),
            mk("2", "0", "c"),
            mk("2", "0", "a"),
        ];
        rows.sort_by(|a, b| compare_rows(a, b));
        let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids, ["a", "c", "b", "a"]);
        assert_eq!(rows[0][5], "2");
        assert_eq!(rows[3][5], "10");
    }
}
