//! The score fields and samples of 2-D runs over contours of log p: per objective the run
//! with the lowest Fisher divergence, or the runs asked for.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use scorematch::RunConfig;

use super::{median_norm, slug};
use crate::columns::Table;
use crate::report::contour::Grid;
use crate::report::field_plot::{self, FieldPlot, Layer};
use crate::report::html::{Made, Section};
use crate::report::readable;
use crate::store::CONFIG_FILE;
use crate::store::artifacts::{DENSITY_GRID, FIELD_FILE, SAMPLES_FILE, ScoreField, read_samples};

use super::SiteOptions;

/// Levels of the contour lines: log p this far below its maximum on the box.
pub(super) const CONTOUR_DEPTHS: [f64; 5] = [0.5, 1.5, 3.0, 5.0, 8.0];

/// Grid points per axis for the contours.
pub(super) const CONTOUR_GRID: usize = 80;

/// A run chosen for the 2-D figures and why.
pub(super) struct Chosen {
    id: String,
    why: String,
}

/// The runs whose score fields to draw: those asked for, else per 2-D data set and objective
/// the ok run with the lowest Fisher divergence that kept its field (none for data without
/// an exact score).
pub(super) fn choose(dir: &Path, table: &Table, asked: &[String]) -> Result<Vec<Chosen>> {
    let has_field = |id: &str| dir.join("runs").join(id).join(FIELD_FILE).is_file();
    if !asked.is_empty() {
        return asked
            .iter()
            .map(|id| {
                if has_field(id) {
                    Ok(Chosen {
                        id: id.clone(),
                        why: "chosen with --run".into(),
                    })
                } else {
                    bail!(
                        "--run {id}: the run has no {FIELD_FILE} (only ok runs on 2-D data keep \
                         their score field)"
                    )
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
        // Data without an exact score (a file) have no Fisher divergence to choose by, and
        // no exact field to draw.
        let Ok(fisher) = table.get(row, "fisher").parse::<f64>() else {
            continue;
        };
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
                readable(fisher)
            ),
        })
        .collect())
}

/// Score fields and samples of the chosen 2-D runs.
pub(super) fn field_plots(
    dir: &Path,
    table: &Table,
    opts: &SiteOptions,
) -> Result<Vec<(FieldPlot, Made)>> {
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
            .map(|s| format!(", σ = {}", readable(s)))
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
        let mut density_note = String::new();
        if let Some(values) = &field.learned_log_density {
            let learned = Grid {
                x: field.x,
                y: field.y,
                n: DENSITY_GRID,
                values: values.clone(),
            };
            let top = learned.max();
            density_note = " The learned density p̃_θ = e^{−E_θ}: its contours (coloured) at the \
                            same depths below its own maximum, over the data's (grey)."
                .to_string();
            panels.push(field_plot::Panel {
                title: "learned density e^{−E}".into(),
                layer: Layer::Contours(
                    CONTOUR_DEPTHS
                        .iter()
                        .map(|d| learned.contour(top - d))
                        .collect(),
                ),
                colour: 2,
            });
        }
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
        let dataset = &super::dataset_title(&config.dataset);
        let short_id: String = chosen.id.chars().take(10).collect();
        let title = format!(
            "{dataset}, {objective}{sigma}, seed {} — run {short_id}",
            config.seed
        );
        let caption = format!(
            "Run {} ({dataset}, {objective}{sigma}, seed {}; {}). Left: the exact score ∇log p; \
             middle: the learned score, both on a {n}×{n} grid over the data's box; arrows point \
             along the score, their length grows with |s| up to 1.5× the field's own median norm \
             (exact {}, learned {}).{density_note}{sample_note} Grey lines: contours of the data's log density \
             at {} below its maximum.",
            chosen.id,
            config.seed,
            chosen.why,
            readable(exact_median),
            readable(learned_median),
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
