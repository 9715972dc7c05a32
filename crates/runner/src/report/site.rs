//! The HTML report: every figure as PNG and SVG plus `index.html`, in `<dir>/report/`.
//!
//! Figures: each metric against σ, against the dimension and against wall time (where the
//! sweep varies them), per data set; for 2-D data the exact and learned score fields and the
//! samples over the density's contours, for the best run of each objective (or the runs
//! asked for); the loss curves. The directory is written aside and renamed into place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use scorematch::RunConfig;

use super::contour::Grid;
use super::field_plot::{self, FieldPlot, Layer};
use super::figure::{self, Figure};
use super::loss_plot::{Curve, LossPlot, Panel};
use super::metric_plot::{MetricPlot, Point, Series};
use super::{Group, Summary, html};
use crate::columns::Table;
use crate::store::artifacts::{FIELD_FILE, SAMPLES_FILE, ScoreField, read_samples};
use crate::store::{CONFIG_FILE, LOSS_FILE, RUNS_CSV, Store};

/// The report's directory inside a results directory.
pub const REPORT_DIR: &str = "report";
/// The report's page.
pub const INDEX: &str = "index.html";


/// The x axes metrics are plotted against: a parameter column or the wall-time metric.
const AXES: [(&str, &str); 3] = [
    ("sigma", "noise level σ"),
    ("dim", "dimension D"),
    ("train_s", "training wall time (s)"),
];

/// Levels of the contour lines: log p this far below its maximum on the box.
const CONTOUR_DEPTHS: [f64; 5] = [0.5, 1.5, 3.0, 5.0, 8.0];
/// Grid points per axis for the contours.
const CONTOUR_GRID: usize = 80;

/// What `runner report` is asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiteOptions {
    /// Runs (ids or unique prefixes) whose score fields and samples to draw; empty: the run
    /// with the lowest Fisher divergence of each objective on each 2-D data set.
    pub runs: Vec<String>,
}

/// The sections of the page, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Metrics against σ.
    Sigma,
    /// Metrics against the dimension.
    Dim,
    /// Metrics against wall time.
    Time,
    /// Score fields and samples of 2-D runs.
    Fields,
    /// Loss curves.
    Losses,
}

impl Section {
    /// The section's heading.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Sigma => "Metrics against the noise level σ",
            Section::Dim => "Metrics against the dimension",
            Section::Time => "Metrics against wall time",
            Section::Fields => "Score fields and samples (2-D data)",
            Section::Losses => "Training loss",
        }
    }
}

/// A figure written to the report: `<stem>.png` and `<stem>.svg`.
#[derive(Clone, Debug, PartialEq)]
pub struct Made {
    /// File name without extension.
    pub stem: String,
    /// Where it goes on the page.
    pub section: Section,
    /// Short title (image alt text).
    pub title: String,
    /// What it shows and from which runs.
    pub caption: String,
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
    let summary = Summary::of(&table)?;
    let store = Store::create(dir)?;
    let staged = store.tmp_name(REPORT_DIR);
    fs::create_dir_all(&staged).with_context(|| format!("creating {}", staged.display()))?;
    let result = fill(dir, &staged, &table, &summary, opts);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staged);
        return Err(e);
    }
    let dest = dir.join(REPORT_DIR);
    if dest.exists() {
        let old = store.tmp_name("report-old");
        fs::rename(&dest, &old).with_context(|| format!("moving {} aside", dest.display()))?;
        let _ = fs::remove_dir_all(&old);
    }
    fs::rename(&staged, &dest).with_context(|| format!("creating {}", dest.display()))?;
    Ok(dest.join(INDEX))
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
    fs::write(out.join(INDEX), html::page(&title, summary, &made))?;
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
fn median_norm(vs: &[[f64; 2]]) -> f64 {
    let mut norms: Vec<f64> = vs
        .iter()
        .map(|v| v[0].hypot(v[1]))
        .filter(|v| v.is_finite())
        .collect();
    norms.sort_by(f64::total_cmp);
    norms.get(norms.len() / 2).copied().unwrap_or(1.0)
}

/// A file-name-safe form of `s`.
fn slug(s: &str) -> String {
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
fn values<'a>(summary: &Summary, groups: &[&'a Group], name: &str) -> Vec<&'a str> {
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

fn param<'a>(summary: &Summary, g: &'a Group, name: &str) -> &'a str {
    summary
        .params
        .iter()
        .position(|p| p == name)
        .map_or("", |i| g.params[i].as_str())
}

fn stat(summary: &Summary, g: &Group, metric: &str) -> Option<super::Stat> {
    let i = summary.metrics.iter().position(|m| m == metric)?;
    Some(g.stats[i]).filter(|s| s.mean.is_some())
}

/// The groups of each data set, in first-seen order.
fn by_dataset(summary: &Summary) -> Vec<(String, Vec<&Group>)> {
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
fn series_params(summary: &Summary, groups: &[&Group], skip: &[&str]) -> Vec<usize> {
    let mut out: Vec<usize> = (0..summary.params.len())
        .filter(|&i| !skip.contains(&summary.params[i].as_str()))
        .filter(|&i| {
            crate::columns::varies(
                &summary.params[i],
                groups.iter().map(|g| g.params[i].as_str()),
            )
        })
        .collect();
    out.sort_by_key(|&i| summary.params[i] != "objective");
    out
}

/// A series label: the objective by name, other parameters as `name=value`.
fn label(summary: &Summary, g: &Group, params: &[usize]) -> String {
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

/// Every metric against every axis the sweep varies, per data set.
fn metric_plots(summary: &Summary) -> Vec<(MetricPlot, Made)> {
    let mut out = Vec::new();
    let several_datasets = by_dataset(summary).len() > 1;
    for (dataset, groups) in by_dataset(summary) {
        for (axis, axis_name) in AXES {
            let is_time = axis == "train_s";
            let x_of = |g: &Group| -> Option<f64> {
                if is_time {
                    stat(summary, g, axis)?.mean
                } else {
                    param(summary, g, axis).parse().ok()
                }
            };
            let xs: BTreeSet<String> = groups
                .iter()
                .filter_map(|g| x_of(g).map(|x| format!("{x:?}")))
                .collect();
            if xs.len() < 2 {
                continue;
            }
            let params = if is_time {
                series_params(summary, &groups, &[])
                    .into_iter()
                    .filter(|&i| summary.params[i] == "objective")
                    .collect()
            } else {
                series_params(summary, &groups, &[axis, "dataset"])
            };
            for (metric, metric_name) in crate::columns::metrics(|c| c.plotted).map(|c| (c.name, c.axis)) {
                let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
                let mut refs: BTreeMap<String, Vec<Point>> = BTreeMap::new();
                let mut runs = 0;
                for g in &groups {
                    let Some(s) = stat(summary, g, metric) else {
                        continue;
                    };
                    let Some(y) = s.mean else { continue };
                    runs += s.n;
                    let key = label(summary, g, &params);
                    let point = |x| Point { x, y, sd: s.sd };
                    match x_of(g) {
                        Some(x) => series.entry(key).or_default().push(point(x)),
                        None if axis == "sigma" => {
                            refs.entry(key).or_default().push(point(f64::NAN))
                        }
                        None => {}
                    }
                }
                if series.values().map(Vec::len).sum::<usize>() < 2 {
                    continue;
                }
                let to_series = |m: BTreeMap<String, Vec<Point>>, suffix: &str| -> Vec<Series> {
                    m.into_iter()
                        .map(|(label, mut points)| {
                            points.sort_by(|a, b| a.x.total_cmp(&b.x));
                            let label = if label.is_empty() {
                                metric.to_string()
                            } else {
                                label
                            };
                            Series {
                                label: format!("{label}{suffix}"),
                                points,
                            }
                        })
                        .collect()
                };
                let references = to_series(refs, " (no σ)");
                let series = to_series(series, "");
                let stem = format!("{metric}_vs_{axis}_{}", slug(&dataset));
                let title = format!("{metric_name} against {axis_name} — {dataset}");
                let lines_by = params
                    .iter()
                    .map(|&i| summary.params[i].as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut caption = format!(
                    "{metric_name} ({metric}) against {axis_name} on {dataset}: mean ± one \
                     standard deviation over seeds, from {runs} ok runs in {} configurations.",
                    series
                        .iter()
                        .chain(&references)
                        .map(|s| s.points.len())
                        .sum::<usize>(),
                );
                if !lines_by.is_empty() {
                    caption += &format!(
                        " {} by {lines_by}.",
                        if is_time { "Colours" } else { "Lines" }
                    );
                }
                if !references.is_empty() {
                    caption +=
                        " Dashed: configurations without σ, drawn at their mean (dotted: ± sd).";
                }
                if several_datasets {
                    caption += " One such figure per data set.";
                }
                let plot = MetricPlot {
                    title: title.clone(),
                    x_name: axis_name.to_string(),
                    y_name: metric_name.to_string(),
                    series,
                    references,
                    lines: !is_time,
                };
                let section = match axis {
                    "sigma" => Section::Sigma,
                    "dim" => Section::Dim,
                    _ => Section::Time,
                };
                out.push((
                    plot,
                    Made {
                        stem,
                        section,
                        title,
                        caption,
                    },
                ));
            }
        }
    }
    out
}

/// Loss curves of every run that has one, one figure per data set, one panel per objective.
fn loss_plots(dir: &Path, table: &Table, summary: &Summary) -> Vec<(LossPlot, Made)> {
    let mut out = Vec::new();
    for (dataset, groups) in by_dataset(summary) {
        let params = series_params(summary, &groups, &["dataset", "objective"]);
        let mut panels: BTreeMap<String, Vec<Curve>> = BTreeMap::new();
        let mut colours: BTreeMap<String, usize> = BTreeMap::new();
        let mut runs = 0;
        for g in &groups {
            let key = label(summary, g, &params);
            let n = colours.len();
            let colour = *colours.entry(key.clone()).or_insert(n);
            for row in table
                .rows
                .iter()
                .filter(|r| table.get(r, "config_id") == g.config_id)
            {
                let id = table.get(row, "run_id");
                let Ok(text) = fs::read_to_string(dir.join("runs").join(id).join(LOSS_FILE)) else {
                    continue;
                };
                let points = read_loss(&text);
                if points.is_empty() {
                    continue;
                }
                runs += 1;
                panels
                    .entry(param(summary, g, "objective").to_string())
                    .or_default()
                    .push(Curve {
                        label: key.clone(),
                        colour,
                        points,
                    });
            }
        }
        if panels.is_empty() {
            continue;
        }
        let title = format!("Training loss — {dataset}");
        let mut caption = format!(
            "Training loss of each of the {runs} runs on {dataset} against the optimiser step, \
             one panel per objective (their losses differ by constants). The y range leaves out \
             the first tenth of training."
        );
        if !params.is_empty() {
            let names: Vec<&str> = params.iter().map(|&i| summary.params[i].as_str()).collect();
            caption += &format!(" Colours by {}; seeds share a colour.", names.join(", "));
        }
        let plot = LossPlot {
            title: title.clone(),
            panels: panels
                .into_iter()
                .map(|(title, curves)| Panel { title, curves })
                .collect(),
        };
        let stem = format!("loss_{}", slug(&dataset));
        out.push((
            plot,
            Made {
                stem,
                section: Section::Losses,
                title,
                caption,
            },
        ));
    }
    out
}

/// `loss.csv` as (step, loss) points with finite losses.
fn read_loss(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (s, v) = l.split_once(',')?;
            let (s, v): (f64, f64) = (s.parse().ok()?, v.parse().ok()?);
            v.is_finite().then_some((s, v))
        })
        .collect()
}

/// A run chosen for the 2-D figures and why.
struct Chosen {
    id: String,
    why: String,
}

/// The runs whose score fields to draw: those asked for, else per 2-D data set and objective
/// the ok run with the lowest Fisher divergence that kept its field.
fn choose(dir: &Path, table: &Table, asked: &[String]) -> Result<Vec<Chosen>> {
    let has_field = |id: &str| dir.join("runs").join(id).join(FIELD_FILE).is_file();
    if !asked.is_empty() {
        return asked
            .iter()
            .map(|prefix| {
                let ids: Vec<&str> = table
                    .rows
                    .iter()
                    .map(|r| table.get(r, "run_id"))
                    .filter(|id| id.starts_with(prefix.as_str()))
                    .collect();
                match ids.as_slice() {
                    [id] if has_field(id) => Ok(Chosen {
                        id: id.to_string(),
                        why: "chosen with --run".into(),
                    }),
                    [id] => bail!(
                        "--run {prefix}: run {id} has no {FIELD_FILE} (only ok runs on 2-D data keep \
                         their score field)"
                    ),
                    [] => bail!("--run {prefix}: no run id starts with it in {}", dir.display()),
                    many => bail!("--run {prefix}: matches {} runs; give more of the id", many.len()),
                }
            })
            .collect();
    }
    let mut best: BTreeMap<(String, String), (f64, String)> = BTreeMap::new();
    for row in &table.rows {
        let id = table.get(row, "run_id");
        if table.get(row, "status") != "ok" || table.get(row, "dim") != "2" || !has_field(id) {
            continue;
        }
        let fisher = table
            .get(row, "fisher")
            .parse::<f64>()
            .unwrap_or(f64::INFINITY);
        let key = (
            table.get(row, "dataset").to_string(),
            table.get(row, "objective").to_string(),
        );
        if best.get(&key).is_none_or(|(f, _)| fisher < *f) {
            best.insert(key, (fisher, id.to_string()));
        }
    }
    Ok(best
        .into_iter()
        .map(|((_, objective), (fisher, id))| Chosen {
            id,
            why: format!(
                "lowest Fisher divergence of the {objective} runs on this data set, {}",
                super::readable(fisher)
            ),
        })
        .collect())
}

/// Score fields and samples of the chosen 2-D runs.
fn field_plots(dir: &Path, table: &Table, opts: &SiteOptions) -> Result<Vec<(FieldPlot, Made)>> {
    let mut out = Vec::new();
    for chosen in choose(dir, table, &opts.runs)? {
        let run_dir = dir.join("runs").join(&chosen.id);
        let read = |name: &str| {
            fs::read_to_string(run_dir.join(name))
                .with_context(|| format!("reading {}", run_dir.join(name).display()))
        };
        let config: RunConfig = toml::from_str(&read(CONFIG_FILE)?)
            .with_context(|| format!("reading {}", run_dir.join(CONFIG_FILE).display()))?;
        let field: ScoreField = serde_json::from_str(&read(FIELD_FILE)?)
            .with_context(|| format!("reading {}", run_dir.join(FIELD_FILE).display()))?;
        let samples = read(SAMPLES_FILE).ok().map(|t| read_samples(&t));
        let density = config
            .dataset
            .build()
            .with_context(|| format!("rebuilding the data set of run {}", chosen.id))?;
        let grid = Grid::of(field.x, field.y, CONTOUR_GRID, |x, y| {
            density.log_density(&[x, y])
        });
        let top = grid.max();
        let contours = CONTOUR_DEPTHS
            .iter()
            .map(|d| grid.contour(top - d))
            .collect();
        let cell = ((field.x[1] - field.x[0]).min(field.y[1] - field.y[0])) / field.n.max(2) as f64;
        // Each field is scaled by its own median norm: a score learned at σ > 0 is much
        // shorter than the exact one near sharp modes, and directions are what compare.
        let arrows = |vs: &[[f64; 2]]| {
            let reference = median_norm(vs);
            let layer = Layer::Arrows(
                field
                    .points
                    .iter()
                    .zip(vs)
                    .map(|(p, v)| (*p, field_plot::arrow(*v, reference, cell)))
                    .collect(),
            );
            (layer, reference)
        };
        let (exact_layer, exact_median) = arrows(&field.exact);
        let (learned_layer, learned_median) = arrows(&field.learned);
        let objective = config.objective.name();
        let sigma = config
            .objective
            .sigma()
            .map(|s| format!(", σ = {}", super::readable(s)))
            .unwrap_or_default();
        let mut panels = vec![
            field_plot::Panel {
                title: "exact score ∇log p".into(),
                layer: exact_layer,
                colour: 7,
            },
            field_plot::Panel {
                title: format!("learned score ({objective}{sigma})"),
                layer: learned_layer,
                colour: 0,
            },
        ];
        let mut sample_note = String::new();
        if let Some(samples) = &samples {
            let shown = field_plot::inside(samples, field.x, field.y);
            let sampler = config.sampler.name();
            sample_note = format!(
                " Right: {} samples of the {sampler} sampler with the learned score{}.",
                samples.len(),
                if shown.len() < samples.len() {
                    format!(
                        " ({} outside the box not shown)",
                        samples.len() - shown.len()
                    )
                } else {
                    String::new()
                }
            );
            panels.push(field_plot::Panel {
                title: format!("{sampler} samples"),
                layer: Layer::Points(shown),
                colour: 3,
            });
        }
        let dataset = config.dataset.name();
        let short_id: String = chosen.id.chars().take(10).collect();
        let title = format!(
            "{dataset}, {objective}{sigma}, seed {} — run {short_id}",
            config.seed
        );
        let caption = format!(
            "Run {} ({dataset}, {objective}{sigma}, seed {}; {}). Left: the exact score ∇log p; \
             middle: the learned score, both on a {n}×{n} grid over the data's box; arrows point \
             along the score, their length grows with |s| up to 1.5× the field's own median norm \
             (exact {}, learned {}).{sample_note} Grey lines: contours of the data's log density \
             at {} below its maximum.",
            chosen.id,
            config.seed,
            chosen.why,
            super::readable(exact_median),
            super::readable(learned_median),
            CONTOUR_DEPTHS.map(|d| d.to_string()).join(", "),
            n = field.n,
        );
        let plot = FieldPlot {
            title: title.clone(),
            x: field.x,
            y: field.y,
            contours,
            panels,
        };
        let stem = format!("field_{}_{objective}_{short_id}", slug(dataset));
        out.push((
            plot,
            Made {
                stem,
                section: Section::Fields,
                title,
                caption,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
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
