//! The columns of `runs.csv`, in order, each with its meaning. Fixed columns (identity, the
//! short-named parameters, metrics, cost) are [`COLUMNS`]: the metric columns made from the
//! library's metric registries (each metric declares its presentation), the others declared
//! in `table.rs`; every other parameter of
//! a run's configuration is a column generated from its configuration ([`params`]). A row is
//! read off a run's record (`metrics.json`): fixed columns by their path, generated ones by
//! flattening the configuration.

use std::collections::BTreeMap;

use scorematch::metric::Presentation;
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

/// Which way a metric improves (declared with the metric in the library's registries).
pub use scorematch::metric::Better;

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

impl From<Presentation> for Column {
    /// The column of a metric of the library's registries, as the metric declares it.
    fn from(p: Presentation) -> Self {
        Column {
            name: p.name,
            path: p.path,
            role: Role::Metric,
            doc: p.doc,
            label: p.label,
            axis: p.axis,
            better: p.better,
            in_summary: p.in_summary,
            on_page: p.on_page,
            plotted: p.plotted,
            oracle: p.oracle,
        }
    }
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
}

mod file;
pub mod params;
mod table;

pub use file::{Table, cell, compare_rows, encode, encode_table};
pub use params::varies;
pub use table::COLUMNS;

/// The metrics with a flag set, in column order (`|c| c.plotted`, …).
pub fn metrics(flag: impl Fn(&Column) -> bool) -> impl Iterator<Item = &'static Column> {
    COLUMNS
        .iter()
        .filter(move |c| c.role == Role::Metric && flag(c))
}

/// The metric columns `runner best --by` accepts: those that say which way they improve,
/// without the ones that need the true data distribution unless `oracle`.
pub fn selectors(oracle: bool) -> impl Iterator<Item = &'static Column> {
    metrics(|c| c.better.is_some()).filter(move |c| oracle || !c.oracle)
}

/// The fixed column called `name`.
pub fn column(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// What the column `name` (fixed or generated) is about.
pub fn role(name: &str) -> Role {
    column(name).map_or_else(|| params::role(name), |c| c.role)
}

/// Every cell of a run record by column name: the fixed columns and the generated parameters.
pub fn cells(record: &Value) -> BTreeMap<String, String> {
    let mut out = params::generated(record);
    for c in COLUMNS.iter() {
        out.insert(c.name.to_string(), cell(lookup(record, c.path)));
    }
    out
}

fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(record, |v, seg| v.get(seg))
}

/// The columns of one `runs.csv`: the fixed ones in order, with the generated parameter
/// columns of its runs after the short-named parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    names: Vec<String>,
}

impl Layout {
    /// The fixed columns with the generated parameter columns `generated`.
    pub fn with(generated: impl IntoIterator<Item = String>) -> Layout {
        let mut extra: Vec<String> = generated
            .into_iter()
            .filter(|n| params::is_generated(n))
            .collect();
        extra.sort_by(|a, b| params::order_key(a).cmp(&params::order_key(b)));
        extra.dedup();
        let split = COLUMNS
            .iter()
            .rposition(|c| c.role == Role::Param)
            .map_or(0, |i| i + 1);
        let fixed = |cs: &[Column]| cs.iter().map(|c| c.name.to_string()).collect::<Vec<_>>();
        let mut names = fixed(&COLUMNS[..split]);
        names.extend(extra);
        names.extend(fixed(&COLUMNS[split..]));
        Layout { names }
    }

    /// The fixed columns alone.
    pub fn fixed() -> Layout {
        Layout::with(std::iter::empty())
    }

    /// The layout holding every parameter of `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Value>) -> Layout {
        Layout::with(records.into_iter().flat_map(|r| {
            params::generated(r)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| k)
        }))
    }

    /// The layout of a table whose header is `header`, if it holds every fixed column in
    /// order (a table this version of the runner wrote).
    pub fn parse(header: &[String]) -> Option<Layout> {
        let layout = Layout::with(header.iter().cloned());
        (layout.names == header).then_some(layout)
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether every parameter `record` sets has a column here.
    pub fn fits(&self, record: &Value) -> bool {
        params::generated(record)
            .iter()
            .all(|(k, v)| v.is_empty() || self.names.contains(k))
    }

    /// The cells of `record`, in this layout's order.
    pub fn row(&self, record: &Value) -> Vec<String> {
        let mut cells = cells(record);
        self.names
            .iter()
            .map(|n| cells.remove(n).unwrap_or_default())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_come_in_sections_and_names_are_unique() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names[..3], ["run_id", "sweep", "status"]);
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), COLUMNS.len());
        // Identity and information, then parameters, then metrics (cost last): no parameter
        // after the first metric.
        let first_metric = COLUMNS.iter().position(|c| c.role == Role::Metric).unwrap();
        assert!(
            COLUMNS[first_metric..]
                .iter()
                .all(|c| c.role != Role::Param)
        );
        assert!(
            COLUMNS[..first_metric]
                .iter()
                .all(|c| c.role != Role::Metric)
        );
        // Every metric says which way it improves, or is not a quality (a count, log Z); what is
        // shown has a label.
        for c in COLUMNS.iter().filter(|c| c.role == Role::Metric) {
            assert!(
                c.better.is_some()
                    || ["steps_done", "log_z", "sample_acceptance", "best_step"].contains(&c.name),
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

    #[test]
    fn every_model_metric_of_the_library_has_its_declared_column() {
        use scorematch::evaluation::ModelMetric;
        for &metric in ModelMetric::ALL {
            let p = metric.presentation();
            let c = column(metric.name())
                .unwrap_or_else(|| panic!("no column for the model metric {}", metric.name()));
            assert_eq!(c.role, Role::Metric, "{}", c.name);
            assert_eq!((c.path, c.doc, c.label), (p.path, p.doc, p.label));
            assert_eq!((c.better, c.oracle), (p.better, p.oracle), "{}", c.name);
        }
        // The Fisher divergences need the exact score: `best --by fisher` only with --oracle.
        assert!(selectors(true).any(|c| c.name == "fisher"));
        assert!(!selectors(false).any(|c| c.name == "fisher"));
        assert!(selectors(false).any(|c| c.name == "val_loss"));
    }

    /// README's table of the fixed `runs.csv` columns, as the registry makes it.
    fn readme_table() -> String {
        let mut t = String::from("| column | meaning |\n| --- | --- |\n");
        for c in COLUMNS.iter() {
            t.push_str(&format!("| `{}` | {} |\n", c.name, c.doc));
        }
        t
    }

    #[test]
    fn readme_lists_every_fixed_column_in_order_with_its_meaning() {
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
            "config": { "seed": 3, "train": { "lr": 0.001, "grad_clip": null },
                        "model": { "name": "mlp", "hidden": 16 } },
            "report": { "fisher": null, "final_loss": 1.5e-7, "fisher_init": 2.0 }
        });
        let layout = Layout::of([&record]);
        let r = layout.row(&record);
        let get = |name: &str| {
            let i = layout.names().iter().position(|c| c == name);
            i.map(|i| r[i].as_str())
        };
        assert_eq!(get("run_id"), Some("abc"));
        assert_eq!(get("error"), Some("loss became inf at step 3"));
        assert_eq!(get("seed"), Some("3"));
        assert_eq!(get("lr"), Some("0.001"));
        assert_eq!(get("model"), Some("mlp"));
        assert_eq!(get("model.hidden"), Some("16"));
        assert_eq!(get("fisher"), Some(""));
        assert_eq!(get("grad_clip"), None, "an unset option has no column");
        assert_eq!(get("fisher_init"), Some("2.0"));
        assert_eq!(get("final_loss").unwrap().parse::<f64>().unwrap(), 1.5e-7);
        assert_eq!(get("sigma"), Some(""));
    }

    #[test]
    fn generated_parameters_sit_after_the_fixed_ones_and_layouts_parse_back() {
        let layout = Layout::with(["sampler.steps".into(), "ema".into(), "model.depth".into()]);
        let names = layout.names();
        let at = |n: &str| names.iter().position(|c| c == n).unwrap();
        assert_eq!(at("model.depth") + 1, at("ema"));
        assert_eq!(at("ema") + 1, at("sampler.steps"));
        assert_eq!(at("sampler") + 1, at("model.depth"));
        assert!(at("sampler.steps") < at("final_loss"));
        assert_eq!(Layout::parse(names), Some(layout.clone()));
        let mut shuffled = names.to_vec();
        shuffled.swap(0, 1);
        assert_eq!(Layout::parse(&shuffled), None);
        let record = json!({ "config": { "sampler": { "name": "langevin", "steps": 5, "step_size": 0.1 } } });
        assert!(!layout.fits(&record));
        assert!(Layout::of([&record]).fits(&record));
    }
}
