//! The loss curves of all runs, one panel per objective.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::{by_dataset, label, param, series_params, slug};
use crate::columns::Table;
use crate::report::Summary;
use crate::report::html::{Made, Section};
use crate::report::loss_plot::{Curve, LossPlot, Panel};
use crate::store::LOSS_FILE;
use crate::store::artifacts::VAL_LOSS_FILE;

/// Loss curves of every run that has one, one figure per data set, one panel per objective.
pub(super) fn loss_plots(dir: &Path, table: &Table, summary: &Summary) -> Vec<(LossPlot, Made)> {
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
                let panel = panels
                    .entry(param(summary, g, "objective").to_string())
                    .or_default();
                panel.push(Curve {
                    label: key.clone(),
                    colour,
                    points,
                });
                // The held-out loss of runs with a validation set, as its own series.
                let held_out = fs::read_to_string(dir.join("runs").join(id).join(VAL_LOSS_FILE))
                    .map(|t| read_loss(&t))
                    .unwrap_or_default();
                if !held_out.is_empty() {
                    let label = format!("{key} (held-out)");
                    let n = colours.len();
                    let colour = *colours.entry(label.clone()).or_insert(n);
                    panel.push(Curve {
                        label,
                        colour,
                        points: held_out,
                    });
                }
            }
        }
        if panels.is_empty() {
            continue;
        }
        let title = format!("Training loss — {dataset}");
        let mut caption = format!(
            "Training loss of each of the {runs} runs on {dataset} against the optimiser step, \
             one panel per objective (their losses differ by constants); runs with a validation \
             set add their held-out loss as a series of its own. The y range leaves out the \
             first tenth of training."
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
pub(super) fn read_loss(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (s, v) = l.split_once(',')?;
            let (s, v): (f64, f64) = (s.parse().ok()?, v.parse().ok()?);
            v.is_finite().then_some((s, v))
        })
        .collect()
}
