//! `runner plot`: any column of `runs.csv` against another, mean ± one standard deviation
//! over the ok runs that share an x value (and a hue and facet value), drawn with the
//! report's [`MetricPlot`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::Stat;
use super::figure;
use super::metric_plot::{AxisScale, MetricPlot, Panel, Point, Series};
use crate::columns::{Table, column};

/// What to plot: column names of `runs.csv` and the axes' scales.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlotSpec {
    /// The x column.
    pub x: String,
    /// The y column (numbers).
    pub y: String,
    /// A column whose values get a series (a colour) each.
    pub hue: Option<String>,
    /// A column whose values get a panel each.
    pub facet: Option<String>,
    /// Log10 x axis; runs with x ≤ 0 are left out (with a warning).
    pub logx: bool,
    /// Log10 y axis; points whose mean is ≤ 0 are left out (with a warning).
    pub logy: bool,
}

impl PlotSpec {
    /// The columns it names, each with the flag that named it.
    pub fn columns(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("--x", self.x.as_str()), ("--y", self.y.as_str())];
        out.extend(self.hue.as_deref().map(|h| ("--hue", h)));
        out.extend(self.facet.as_deref().map(|f| ("--facet", f)));
        out
    }

    /// The figure's file name without extension: `<y>_vs_<x>[_by_<hue>][_per_<facet>]`,
    /// then `_logx`, `_logy` for log axes.
    pub fn stem(&self) -> String {
        let mut stem = format!("{}_vs_{}", file_part(&self.y), file_part(&self.x));
        if let Some(h) = &self.hue {
            stem += &format!("_by_{}", file_part(h));
        }
        if let Some(f) = &self.facet {
            stem += &format!("_per_{}", file_part(f));
        }
        if self.logx {
            stem += "_logx";
        }
        if self.logy {
            stem += "_logy";
        }
        stem
    }
}

/// `s` with every character but ASCII letters, digits, `-`, `_` and `.` as `_`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The y values of the ok runs sharing a facet, hue and x value, aggregated.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The facet column's value (empty without `--facet`).
    pub facet: String,
    /// The hue column's value (empty without `--hue`).
    pub hue: String,
    /// The x column's value as written in `runs.csv`.
    pub x: String,
    /// Mean, sample standard deviation and count of y.
    pub stat: Stat,
}

/// Orders numbers by value before text, text alphabetically.
fn natural(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Groups the ok runs (every run when the table has no `status` column) by facet, hue and x
/// value, and aggregates their y over seeds; cells with an empty or non-finite y are left
/// out. Sorted by facet, hue, then x, numbers by value.
pub fn aggregate(table: &Table, spec: &PlotSpec) -> Vec<Cell> {
    let has_status = table.index("status").is_some();
    let value = |row: &[String], name: &Option<String>| {
        name.as_deref()
            .map_or(String::new(), |n| table.get(row, n).to_string())
    };
    let mut groups: BTreeMap<(String, String, String), Vec<f64>> = BTreeMap::new();
    for row in &table.rows {
        if has_status && table.get(row, "status") != "ok" {
            continue;
        }
        let Ok(y) = table.get(row, &spec.y).parse::<f64>() else {
            continue;
        };
        if !y.is_finite() {
            continue;
        }
        let key = (
            value(row, &spec.facet),
            value(row, &spec.hue),
            table.get(row, &spec.x).to_string(),
        );
        groups.entry(key).or_default().push(y);
    }
    let mut cells: Vec<Cell> = groups
        .into_iter()
        .map(|((facet, hue, x), ys)| Cell {
            facet,
            hue,
            x,
            stat: Stat::of(&ys),
        })
        .collect();
    cells.sort_by(|a, b| {
        natural(&a.facet, &b.facet)
            .then_with(|| natural(&a.hue, &b.hue))
            .then_with(|| natural(&a.x, &b.x))
    });
    cells
}

/// A column's name on a figure axis: the registry's axis name, else the column's own name.
fn axis_name(name: &str) -> String {
    column(name).map_or(name, |c| c.axis).to_string()
}

/// A column's short name (legend titles, panel titles).
fn short_name(name: &str) -> String {
    column(name).map_or(name, |c| c.label).to_string()
}

/// A figure and what was left out of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plotted {
    /// The figure.
    pub plot: MetricPlot,
    /// What was left out and why, one line each.
    pub warnings: Vec<String>,
}

/// The figure of `spec` over `table`: x numeric (every non-empty x value a number) gives
/// lines through the means sorted by x, and runs with an empty x become dashed reference
/// lines at their mean; otherwise x is categorical. Errors when nothing is left to draw.
pub fn figure(table: &Table, spec: &PlotSpec) -> Result<Plotted> {
    let mut cells = aggregate(table, spec);
    if cells.is_empty() {
        bail!(
            "--y {}: no ok run has a number in this column, nothing to plot",
            spec.y
        );
    }
    let numeric = cells
        .iter()
        .filter(|c| !c.x.is_empty())
        .all(|c| c.x.parse::<f64>().is_ok_and(f64::is_finite));
    let mut warnings = Vec::new();
    let mut leave_out = |cells: &mut Vec<Cell>, bad: &dyn Fn(&Cell) -> bool, why: String| {
        let runs: usize = cells.iter().filter(|c| bad(c)).map(|c| c.stat.n).sum();
        if runs > 0 {
            cells.retain(|c| !bad(c));
            let noun = if runs == 1 { "run" } else { "runs" };
            warnings.push(format!("left out {runs} {noun}: {why}"));
        }
    };
    if spec.logx && numeric {
        let bad = |c: &Cell| c.x.parse::<f64>().is_ok_and(|x| x <= 0.0);
        leave_out(
            &mut cells,
            &bad,
            format!("--logx cannot show {} ≤ 0", spec.x),
        );
    }
    if spec.logy {
        let bad = |c: &Cell| c.stat.mean.is_some_and(|m| m <= 0.0);
        let why = format!("--logy cannot show a mean {} ≤ 0", spec.y);
        leave_out(&mut cells, &bad, why);
    }
    if cells.is_empty() {
        bail!("nothing is left to plot");
    }
    let mut categories: Vec<String> = Vec::new();
    if !numeric {
        for c in &cells {
            let name = if c.x.is_empty() { "(empty)" } else { &c.x };
            if !categories.iter().any(|k| k == name) {
                categories.push(name.to_string());
            }
        }
        categories.sort_by(|a, b| natural(a, b));
    }
    let mut facets: Vec<&str> = cells.iter().map(|c| c.facet.as_str()).collect();
    facets.dedup();
    let panels = facets
        .into_iter()
        .map(|facet| panel(&cells, spec, facet, &categories))
        .collect();
    let plot = MetricPlot {
        title: format!("{} against {}", axis_name(&spec.y), axis_name(&spec.x)),
        x_name: axis_name(&spec.x),
        y_name: axis_name(&spec.y),
        categories,
        x_scale: if spec.logx {
            AxisScale::Log
        } else {
            AxisScale::Linear
        },
        y_scale: if spec.logy {
            AxisScale::Log
        } else {
            AxisScale::Linear
        },
        legend_title: spec.hue.as_deref().map(short_name).unwrap_or_default(),
        panels,
        lines: true,
    };
    Ok(Plotted { plot, warnings })
}

/// Writes `plot` as `<base>.svg` and `<base>.png` (creating their folder); returns their
/// paths.
pub fn write_figure(plot: &MetricPlot, base: &Path) -> Result<Vec<PathBuf>> {
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let svg = base.with_extension("svg");
    let png = base.with_extension("png");
    fs::write(&svg, figure::svg(plot)?).with_context(|| format!("writing {}", svg.display()))?;
    fs::write(&png, figure::png(plot)?).with_context(|| format!("writing {}", png.display()))?;
    Ok(vec![svg, png])
}

/// The panel of one facet value: a series per hue value, references for empty numeric x.
fn panel(cells: &[Cell], spec: &PlotSpec, facet: &str, categories: &[String]) -> Panel {
    let mut series: Vec<Series> = Vec::new();
    let mut references: Vec<Series> = Vec::new();
    for c in cells.iter().filter(|c| c.facet == facet) {
        let Some(y) = c.stat.mean else { continue };
        let label = if spec.hue.is_some() {
            c.hue.clone()
        } else {
            short_name(&spec.y)
        };
        let (list, label, x) = if categories.is_empty() {
            match c.x.parse::<f64>() {
                Ok(x) => (&mut series, label, x),
                Err(_) => (
                    &mut references,
                    format!("{label} (no {})", spec.x),
                    f64::NAN,
                ),
            }
        } else {
            let name = if c.x.is_empty() { "(empty)" } else { &c.x };
            let at = categories.iter().position(|k| k == name).unwrap_or(0);
            (&mut series, label, at as f64)
        };
        let point = Point {
            x,
            y,
            sd: c.stat.sd,
        };
        match list.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => list.push(Series {
                label,
                points: vec![point],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    Panel {
        title: spec
            .facet
            .as_deref()
            .map(|f| format!("{} = {facet}", short_name(f)))
            .unwrap_or_default(),
        series,
        references,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of (status, dataset, objective, sigma, seed, fisher) rows.
    fn table(rows: &[[&str; 6]]) -> Table {
        let header = ["status", "dataset", "objective", "sigma", "seed", "fisher"];
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    fn spec(hue: Option<&str>, facet: Option<&str>) -> PlotSpec {
        PlotSpec {
            x: "sigma".into(),
            y: "fisher".into(),
            hue: hue.map(String::from),
            facet: facet.map(String::from),
            ..PlotSpec::default()
        }
    }

    fn sample() -> Table {
        table(&[
            ["ok", "a", "dsm", "0.1", "0", "1.0"],
            ["ok", "a", "dsm", "0.1", "1", "3.0"],
            ["ok", "a", "dsm", "1", "0", "10"],
            ["ok", "a", "dsm", "1", "1", ""],
            ["ok", "a", "dsm", "1", "2", "NaN"],
            ["diverged", "a", "dsm", "1", "3", "1000"],
            ["ok", "a", "ssm", "0.1", "0", "5.0"],
            ["ok", "a", "ssm", "0.1", "1", "7.0"],
            ["ok", "b", "dsm", "0.1", "0", "2.0"],
            ["ok", "b", "dsm", "0.1", "1", "4.0"],
            ["ok", "a", "esm", "", "0", "0.5"],
        ])
    }

    #[test]
    fn cells_are_mean_and_sd_over_seeds_by_facet_hue_and_x() {
        let cells = aggregate(&sample(), &spec(Some("objective"), Some("dataset")));
        let keys: Vec<(&str, &str, &str)> = cells
            .iter()
            .map(|c| (c.facet.as_str(), c.hue.as_str(), c.x.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("a", "dsm", "0.1"),
                ("a", "dsm", "1"),
                ("a", "esm", ""),
                ("a", "ssm", "0.1"),
                ("b", "dsm", "0.1")
            ]
        );
        // mean 2, sample sd √2 over the two seeds.
        assert_eq!(cells[0].stat.mean, Some(2.0));
        assert!((cells[0].stat.sd.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        // The empty and NaN cells and the diverged run are left out: one value, no sd.
        assert_eq!(
            (cells[1].stat.n, cells[1].stat.mean, cells[1].stat.sd),
            (1, Some(10.0), None)
        );
        assert_eq!(cells[3].stat.mean, Some(6.0));
        assert_eq!(cells[4].stat.mean, Some(3.0));
        // Without hue and facet the objectives and data sets pool.
        let pooled = aggregate(&sample(), &spec(None, None));
        let at_01 = pooled.iter().find(|c| c.x == "0.1").unwrap();
        assert_eq!((at_01.stat.n, at_01.stat.mean), (6, Some(22.0 / 6.0)));
    }

    #[test]
    fn the_figure_has_a_panel_per_facet_a_series_per_hue_and_references_without_x() {
        let mut s = spec(Some("objective"), Some("dataset"));
        s.logx = true;
        let plotted = figure(&sample(), &s).unwrap();
        let plot = &plotted.plot;
        assert!(plotted.warnings.is_empty(), "{:?}", plotted.warnings);
        assert_eq!(plot.x_name, "noise level σ");
        assert_eq!(plot.y_name, "Fisher divergence to p");
        assert_eq!(plot.legend_title, "objective");
        let titles: Vec<&str> = plot.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["dataset = a", "dataset = b"]);
        let a = &plot.panels[0];
        let labels: Vec<&str> = a.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["dsm", "ssm"]);
        assert_eq!(
            a.series[0].points.iter().map(|p| p.x).collect::<Vec<_>>(),
            [0.1, 1.0]
        );
        assert_eq!(a.references[0].label, "esm (no sigma)");
        assert_eq!(a.references[0].points[0].y, 0.5);
        // A categorical x: objectives on the x axis, by name.
        let by_objective = PlotSpec {
            x: "objective".into(),
            ..spec(None, None)
        };
        let plot = figure(&sample(), &by_objective).unwrap().plot;
        assert_eq!(plot.categories, ["dsm", "esm", "ssm"]);
        assert_eq!(plot.panels[0].series[0].points.len(), 3);
    }

    #[test]
    fn log_axes_leave_out_what_they_cannot_show_and_say_so() {
        let t = table(&[
            ["ok", "a", "dsm", "0", "0", "1.0"],
            ["ok", "a", "dsm", "0.5", "0", "-2.0"],
            ["ok", "a", "dsm", "1", "0", "3.0"],
        ]);
        let mut s = spec(None, None);
        s.logx = true;
        s.logy = true;
        let plotted = figure(&t, &s).unwrap();
        assert_eq!(
            plotted.warnings,
            [
                "left out 1 run: --logx cannot show sigma ≤ 0",
                "left out 1 run: --logy cannot show a mean fisher ≤ 0"
            ]
        );
        assert_eq!(plotted.plot.panels[0].series[0].points.len(), 1);
        assert!(
            figure(
                &t,
                &PlotSpec {
                    y: "seed".into(),
                    x: "dataset".into(),
                    logy: true,
                    ..s.clone()
                }
            )
            .is_err()
        );
        assert_eq!(s.stem(), "fisher_vs_sigma_logx_logy");
        assert_eq!(
            PlotSpec {
                x: "sampler.step_size".into(),
                ..spec(Some("objective"), Some("data set"))
            }
            .stem(),
            "fisher_vs_sampler.step_size_by_objective_per_data_set"
        );
    }
}
