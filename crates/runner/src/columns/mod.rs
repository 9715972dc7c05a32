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

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller values are better (divergences, distances, times).
    Lower,
    /// Larger values are better (mode coverage, throughput).
    Higher,
}

/// One column of `runs.csv`, and how the summaries, the report and `compare` present it.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Header name.
    pub name: &'static str,
    /// Dotted path of the value in the run record.
    pub path: &'static str,
    /// What it is about.
    pub role: Role,
    /// What it means (README's column table is checked against it).
    pub doc: &'static str,
    /// Whether it is one of the leading columns, in a fixed order, that every table starts
    /// with (the rest follow, also in order).
    pub leading: bool,
    /// Short name in tables.
    pub label: &'static str,
    /// Long name on figure axes.
    pub axis: &'static str,
    /// Which way a metric improves (`None`: not a quality, e.g. a count).
    pub better: Option<Better>,
    /// Shown in `summary.md`.
    pub in_summary: bool,
    /// Shown in the report page's table.
    pub on_page: bool,
    /// Plotted in the report's figures (against σ, the dimension and the wall time).
    pub plotted: bool,
    /// Whether computing it needs the true data distribution (its exact score, its
    /// log-density or its mixture modes), which real data does not come with: `runner best`
    /// selects by such a metric only with `--oracle`.
    pub oracle: bool,
}

const fn column_of(
    name: &'static str,
    path: &'static str,
    role: Role,
    doc: &'static str,
) -> Column {
    Column {
        name,
        path,
        role,
        doc,
        leading: false,
        label: name,
        axis: name,
        better: None,
        in_summary: false,
        on_page: false,
        plotted: false,
        oracle: false,
    }
}

const fn id(name: &'static str, path: &'static str, doc: &'static str) -> Column {
    column_of(name, path, Role::Id, doc)
}

const fn info(name: &'static str, path: &'static str, doc: &'static str) -> Column {
    column_of(name, path, Role::Info, doc)
}

const fn param(name: &'static str, path: &'static str, doc: &'static str) -> Column {
    column_of(name, path, Role::Param, doc)
}

const fn metric(name: &'static str, path: &'static str, doc: &'static str) -> Column {
    column_of(name, path, Role::Metric, doc)
}

impl Column {
    const fn leading(self) -> Self {
        Column {
            leading: true,
            ..self
        }
    }

    const fn labelled(self, label: &'static str, axis: &'static str) -> Self {
        Column {
            label,
            axis,
            ..self
        }
    }

    const fn lower_is_better(self) -> Self {
        Column {
            better: Some(Better::Lower),
            ..self
        }
    }

    const fn higher_is_better(self) -> Self {
        Column {
            better: Some(Better::Higher),
            ..self
        }
    }

    const fn in_summary(self) -> Self {
        Column {
            in_summary: true,
            ..self
        }
    }

    const fn on_page(self) -> Self {
        Column {
            on_page: true,
            ..self
        }
    }

    const fn plotted(self) -> Self {
        Column {
            plotted: true,
            ..self
        }
    }

    const fn oracle(self) -> Self {
        Column {
            oracle: true,
            ..self
        }
    }
}

mod table;

pub use table::COLUMNS;

/// How many columns lead the table in a fixed order (`run_id` … `steps_per_sec`).
pub const LEADING: usize = {
    let mut n = 0;
    while n < COLUMNS.len() && COLUMNS[n].leading {
        n += 1;
    }
    n
};

/// The metrics with a flag set, in column order (`|c| c.plotted`, …).
pub fn metrics(flag: fn(&Column) -> bool) -> impl Iterator<Item = &'static Column> {
    COLUMNS
        .iter()
        .filter(move |c| c.role == Role::Metric && flag(c))
}

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

    #[test]
    fn leading_columns_come_first_and_names_are_unique() {
        assert!(COLUMNS[..LEADING].iter().all(|c| c.leading));
        assert!(COLUMNS[LEADING..].iter().all(|c| !c.leading));
        assert_eq!(header()[..3], ["run_id", "sweep", "status"]);
        let mut names = header();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len());
        // Every metric says which way it improves, or is not a quality (a count, log Z); what is
        // shown has a label.
        for c in COLUMNS.iter().filter(|c| c.role == Role::Metric) {
            assert!(
                c.better.is_some()
                    || ["steps_done", "log_z", "sample_acceptance"].contains(&c.name),
                "{}",
                c.name
            );
            if c.in_summary || c.on_page || c.plotted {
                assert_ne!(c.label, c.name, "{}", c.name);
            }
        }
    }

    #[test]
    fn every_sample_metric_of_the_library_has_a_shown_and_plotted_column() {
        for &metric in scorematch::metric::SampleMetric::ALL {
            let c = column(metric.column())
                .unwrap_or_else(|| panic!("no column for the sample metric {}", metric.name()));
            assert_eq!(c.role, Role::Metric, "{}", c.name);
            assert!(c.on_page && c.plotted && c.better.is_some(), "{}", c.name);
        }
    }

    /// README's table of the `runs.csv` columns, as the registry makes it.
    fn readme_table() -> String {
        let mut t = String::from("| column | meaning |\n| --- | --- |\n");
        for c in COLUMNS {
            t.push_str(&format!("| `{}` | {} |\n", c.name, c.doc));
        }
        t
    }

    #[test]
    fn readme_lists_every_column_in_order_with_its_meaning() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        let table = readme_table();
        assert!(
            readme.contains(&table),
            "README's `runs.csv` column table is out of date; it should read:\n{table}"
        );
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
