//! `file`: a data set read from a CSV or NumPy `.npy` file, split into a training and a test
//! part. It has no closed-form score: training draws batches from the training rows, and
//! the metrics that need no true score (held-out loss, the model's KSD, sample quality) use
//! the test rows; Fisher divergences and KL are left empty.
//!
//! ```toml
//! dataset = { name = "file", path = "data/iris.csv", columns = ["sepal_length", 3],
//!             standardize = true, test_fraction = 0.2, split_seed = 0 }
//! ```
//!
//! The file's content hash is part of the data set's identity (`content_hash`, filled in by
//! the runner), so editing the file changes the run ids of its runs. Files are read once per
//! process (cached by path, size and modification time).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use rand::RngExt as _;
use rand::seq::SliceRandom as _;
use serde::{Deserialize, Serialize};

use super::{DataSet, Density};
use crate::error::{Error, ParamError, Result};
use crate::rng::{Rng, Stream, rng};

mod parse;

use parse::Header;
pub use parse::{Table, npy_bytes};

/// A column, by its header name or its 0-based position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// Position, from 0.
    Index(usize),
    /// Header name.
    Name(String),
}

/// Parameters of `file`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// The file (`.csv`, or `.npy` with a 2-D float or integer array), relative to the
    /// working directory.
    pub path: String,
    /// The columns to use, by name (CSV with a header) or position (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<ColumnRef>>,
    /// Centre and scale each column by the training rows' mean and standard deviation.
    #[serde(default)]
    pub standardize: bool,
    /// Fraction of the rows held out as the test split (default 0.2).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Seed of the shuffle that splits the rows (default 0).
    #[serde(default)]
    pub split_seed: u64,
    /// FNV-1a hash of the file's bytes: filled in by the runner so that a run's id changes
    /// with the file; a file that no longer matches it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

/// Why an empty `columns` list is refused.
const EMPTY_COLUMNS: &str = "is empty: name at least one column, or leave it out to use them all";

fn default_test_fraction() -> f64 {
    0.2
}

/// Parsed files, by path, with the size and modification time they were read at.
type Cache = Mutex<
    HashMap<
        String,
        (
            u64,
            Option<SystemTime>,
            Arc<std::result::Result<Table, String>>,
        ),
    >,
>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The table in `path`, read once per process while the file is unchanged.
pub fn read_table(path: &str) -> std::result::Result<Arc<Table>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("{path}: cannot read ({})", io_reason(&e)))?;
    let (size, modified) = (meta.len(), meta.modified().ok());
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((s, m, table)) = cache.get(path)
        && *s == size
        && *m == modified
    {
        return table.as_ref().clone().map(Arc::new);
    }
    let table = Arc::new(parse::read(Path::new(path), Header::Detect));
    cache.insert(path.to_string(), (size, modified, table.clone()));
    table.as_ref().clone().map(Arc::new)
}

/// The table in `path`, read now (no cache) and without a header row: for the external
/// protocol's files, which a command writes while this process runs and which have no header
/// (a first row that is not numeric is an error naming its line and column).
pub fn read_table_now(path: &Path) -> std::result::Result<Table, String> {
    parse::read(path, Header::Absent)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        _ => e.to_string(),
    }
}

impl FileParams {
    /// The selected columns' positions and names, or why they cannot be selected.
    fn select(&self, table: &Table) -> std::result::Result<Vec<usize>, String> {
        let Some(columns) = &self.columns else {
            return Ok((0..table.cols).collect());
        };
        if columns.is_empty() {
            return Err(format!("columns {EMPTY_COLUMNS}"));
        }
        columns
            .iter()
            .map(|c| match c {
                ColumnRef::Index(i) if *i < table.cols => Ok(*i),
                ColumnRef::Index(i) => Err(format!(
                    "column {i} does not exist ({} has {} columns, numbered from 0)",
                    self.path, table.cols
                )),
                ColumnRef::Name(name) => table
                    .header
                    .as_ref()
                    .and_then(|h| h.iter().position(|n| n == name))
                    .ok_or_else(|| match &table.header {
                        Some(h) => format!(
                            "no column \"{name}\" in {} (it has: {})",
                            self.path,
                            h.join(", ")
                        ),
                        None => format!(
                            "{} has no header row, so columns are chosen by position",
                            self.path
                        ),
                    }),
            })
            .collect()
    }

    /// The data: the selected columns as f64 rows, checked.
    fn rows(&self) -> std::result::Result<(Vec<f64>, usize), String> {
        let table = read_table(&self.path)?;
        if let Some(want) = &self.content_hash
            && *want != table.hash
        {
            return Err(format!(
                "{} has changed since this run was configured (content hash {}, now {})",
                self.path, want, table.hash
            ));
        }
        let columns = self.select(&table)?;
        table
            .numeric(&columns, &self.path)
            .map(|x| (x, columns.len()))
    }

    /// The training and test rows, standardised if asked.
    fn split(&self) -> std::result::Result<Empirical, String> {
        let (x, dim) = self.rows()?;
        let n = x.len() / dim;
        let n_test = ((n as f64) * self.test_fraction).round().max(1.0) as usize;
        if n_test >= n {
            return Err(format!(
                "{} has {n} rows: too few to hold out {} for testing",
                self.path, self.test_fraction
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng(self.split_seed, Stream::Pool));
        let gather = |rows: &[usize]| -> Vec<f64> {
            rows.iter()
                .flat_map(|&r| x[r * dim..(r + 1) * dim].iter().copied())
                .collect()
        };
        let (test_rows, train_rows) = order.split_at(n_test);
        let (mut train, mut test) = (gather(train_rows), gather(test_rows));
        if self.standardize {
            let m = train_rows.len() as f64;
            for j in 0..dim {
                let column = || train.iter().skip(j).step_by(dim);
                let mean = column().sum::<f64>() / m;
                let var = column().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
                if var <= 0.0 {
                    return Err(format!(
                        "{}: column {j} of the selection is constant on the training rows, so \
                         it cannot be standardised",
                        self.path
                    ));
                }
                let sd = var.sqrt();
                for v in train.iter_mut().chain(test.iter_mut()).skip(j).step_by(dim) {
                    *v = (*v - mean) / sd;
                }
            }
        }
        Ok(Empirical { dim, train, test })
    }

    /// Rows in the training split (0 when the file cannot be read).
    pub fn train_rows(&self) -> usize {
        self.split().map_or(0, |e| e.train.len() / e.dim)
    }

    /// The content hash of the file as it is now.
    pub fn current_hash(&self) -> std::result::Result<String, String> {
        read_table(&self.path).map(|t| t.hash.clone())
    }
}

impl DataSet for FileParams {
    const CLOSED_FORM_NOISED: bool = false;
    const EXACT_SCORE: bool = false;
    const CHALLENGE: &'static str = "real data: no true score, judged on held-out rows only";

    fn dim(&self) -> usize {
        let Ok(table) = read_table(&self.path) else {
            return 0;
        };
        self.columns.as_ref().map_or(table.cols, Vec::len)
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            errors.push(ParamError::new(
                "test_fraction",
                format!("must be between 0 and 1, got {}", self.test_fraction),
            ));
        }
        if self.columns.as_ref().is_some_and(Vec::is_empty) {
            errors.push(ParamError::new("columns", EMPTY_COLUMNS));
        } else if let Err(e) = self.split() {
            errors.push(ParamError::new("path", e));
        }
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        self.split()
            .map(|e| Box::new(e) as Box<dyn Density>)
            .map_err(|e| Error::InvalidConfig(vec![ParamError::new("dataset.path", e)]))
    }

    /// The shipped Iris table's first `dim` (at most 4) measurements.
    fn example(dim: usize) -> Self {
        Self {
            path: concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/iris.csv").into(),
            columns: Some((0..dim.clamp(1, 4)).map(ColumnRef::Index).collect()),
            standardize: true,
            test_fraction: default_test_fraction(),
            split_seed: 0,
            content_hash: None,
        }
    }
}

/// The rows of a file: draws come from the training split, the test split is held out.
pub struct Empirical {
    dim: usize,
    train: Vec<f64>,
    test: Vec<f64>,
}

impl Density for Empirical {
    fn dim(&self) -> usize {
        self.dim
    }

    /// Training rows drawn uniformly with replacement.
    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        let rows = self.train.len() / self.dim;
        (0..n)
            .flat_map(|_| {
                let r = rng.random_range(0..rows);
                self.train[r * self.dim..(r + 1) * self.dim].iter().copied()
            })
            .collect()
    }

    /// Unknown: NaN (callers check [`Density::test_split`] first).
    fn log_density(&self, _x: &[f64]) -> f64 {
        f64::NAN
    }

    /// Unknown: NaN.
    fn log_normalizer(&self) -> f64 {
        f64::NAN
    }

    /// Unknown: NaN (callers check [`Density::test_split`] first).
    fn score_into(&self, _x: &[f64], out: &mut [f64]) {
        out.fill(f64::NAN);
    }

    fn noised(&self, _sigma: f64) -> Option<Box<dyn Density>> {
        None
    }

    fn test_split(&self) -> Option<&[f64]> {
        Some(&self.test)
    }
}

#[cfg(test)]
mod tests;
