//! Metrics against σ, the dimension and the wall time, and sample metrics against each
//! numeric sampler parameter the sweep varies (`sampler.step_size`, …): one figure per
//! metric, axis and data set.

use std::collections::{BTreeMap, BTreeSet};

use super::{by_dataset, label, param, series_params, slug, stat};
use crate::report::html::{Made, Section};
use crate::report::metric_plot::{AxisScale, MetricPlot, Panel, Point, Series};
use crate::report::{Group, Summary};

/// The x axes metrics are plotted against: a parameter column or the wall-time metric
/// (labelled by the column registry's axis names).
pub(super) const AXES: [&str; 3] = ["sigma", "dim", "train_s"];

/// The sampler's parameters of the summary with a number in every configuration that sampled:
/// axes of the sample metrics.
fn sampler_axes(summary: &Summary) -> Vec<&str> {
    summary
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.starts_with("sampler."))
        .filter(|(i, _)| {
            let mut values = summary.groups.iter().map(|g| g.params[*i].as_str());
            values.clone().any(|v| !v.is_empty())
                && values.all(|v| v.is_empty() || v.parse::<f64>().is_ok())
        })
        .map(|(_, p)| p.as_str())
        .collect()
}

/// Every metric against every axis the sweep varies, per data set.
pub(super) fn metric_plots(summary: &Summary) -> Vec<(MetricPlot, Made)> {
    let mut out = Vec::new();
    let several_datasets = by_dataset(summary).len() > 1;
    let sampler_axes = sampler_axes(summary);
    for (dataset, groups) in by_dataset(summary) {
        for axis in AXES.iter().copied().chain(sampler_axes.iter().copied()) {
            let axis_name = crate::columns::column(axis).map_or(axis, |c| c.axis);
            let is_time = axis == "train_s";
            let of_sampler = axis.starts_with("sampler.");
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
            // A sampler's settings change the samples alone: only sample metrics against them.
            let plotted = move |c: &crate::columns::Column| {
                c.plotted && (!of_sampler || c.path.starts_with("report.sample."))
            };
            for (metric, metric_name) in crate::columns::metrics(plotted).map(|c| (c.name, c.axis))
            {
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
                    categories: Vec::new(),
                    x_scale: AxisScale::Auto,
                    y_scale: AxisScale::Auto,
                    legend_title: lines_by.clone(),
                    panels: vec![Panel {
                        title: String::new(),
                        series,
                        references,
                    }],
                    lines: !is_time,
                };
                let section = match axis {
                    "sigma" => Section::Sigma,
                    "dim" => Section::Dim,
                    "train_s" => Section::Time,
                    _ => Section::Sampler,
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
