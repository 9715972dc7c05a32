//! Files kept with a finished run: its trained model (`model.safetensors`, see
//! [`scorematch::checkpoint`]; `runner sample` loads it), its held-out loss curve
//! (`val_loss.csv`, with `val_samples`; pruned and diverged runs keep only this) and, for a 2-D data set, what the
//! report's figures need: `field.json` (the learned and the exact score on a grid over the
//! data) and `samples.csv` (the sampler's samples, when a sampler ran).
//!
//! The density itself is not stored: the report rebuilds it from the run's `config.toml`.

use anyhow::{Context as _, Result};
use scorematch::checkpoint::{self, CHECKPOINT_FILE};
use scorematch::rng::{Stream, rng};
use scorematch::sample::{ModelScore, ScoreFn as _};
use scorematch::{RunConfig, Trained};
use serde::{Deserialize, Serialize};

/// The learned and exact score on a grid of a 2-D run.
pub const FIELD_FILE: &str = "field.json";
/// The sampler's samples of a 2-D run (`x0,x1` per row).
pub const SAMPLES_FILE: &str = "samples.csv";
/// The held-out loss every `log_every` steps (`step,loss`), for runs with `val_samples`.
pub const VAL_LOSS_FILE: &str = "val_loss.csv";
/// Grid points per axis of [`FIELD_FILE`].
pub const GRID: usize = 20;
/// Grid points per axis of the learned log density (models with an energy).
pub const DENSITY_GRID: usize = 60;
/// Data samples drawn to find the box the grid covers.
const BOX_SAMPLES: usize = 4000;

/// A file written into a run's directory next to its record.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    /// File name inside `runs/<run_id>/`.
    pub name: &'static str,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// A score field on a regular `n × n` grid over a box: `field.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreField {
    /// The box's x range `[min, max]`.
    pub x: [f64; 2],
    /// The box's y range `[min, max]`.
    pub y: [f64; 2],
    /// Grid points per axis.
    pub n: usize,
    /// The noise level the learned score was evaluated at (noise-conditional models).
    pub sigma: Option<f64>,
    /// Grid points, x fastest: point `(i, j)` is at index `j * n + i`.
    pub points: Vec<[f64; 2]>,
    /// The trained model's score at each point.
    pub learned: Vec<[f64; 2]>,
    /// The data density's exact score ∇log p at each point.
    pub exact: Vec<[f64; 2]>,
    /// For a model with an energy: log p̃_θ = −E_θ on a [`DENSITY_GRID`] × [`DENSITY_GRID`]
    /// grid over the same box, x fastest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_log_density: Option<Vec<f64>>,
}

impl ScoreField {
    /// The grid's `n × n` points over the box, x fastest.
    ///
    /// # Shapes
    /// - returns `[n * n, 2]`, row-major
    pub fn grid(x: [f64; 2], y: [f64; 2], n: usize) -> Vec<f64> {
        let at = |r: [f64; 2], k: usize| r[0] + (r[1] - r[0]) * k as f64 / (n.max(2) - 1) as f64;
        (0..n)
            .flat_map(|j| (0..n).flat_map(move |i| [at(x, i), at(y, j)]))
            .collect()
    }
}

/// A box around most of the data: per axis the 0.5% and 99.5% quantiles of `samples`
/// (row-major `[n, 2]`), widened by 10% on each side.
pub fn data_box(samples: &[f64]) -> ([f64; 2], [f64; 2]) {
    let axis = |k: usize| {
        let mut v: Vec<f64> = samples
            .chunks_exact(2)
            .map(|p| p[k])
            .filter(|v| v.is_finite())
            .collect();
        if v.is_empty() {
            return [-1.0, 1.0];
        }
        v.sort_by(f64::total_cmp);
        let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
        let (lo, hi) = (q(0.005), q(0.995));
        let pad = ((hi - lo) * 0.1).max(1e-3);
        [lo - pad, hi + pad]
    };
    (axis(0), axis(1))
}

/// The held-out loss curve of a run that recorded one (also kept for pruned and diverged
/// runs, which keep nothing else).
pub fn val_loss(report: &scorematch::TrainReport) -> Option<Artifact> {
    (!report.val_curve.is_empty()).then(|| Artifact {
        name: VAL_LOSS_FILE,
        bytes: crate::store::record::loss_csv(&report.val_curve),
    })
}

/// The artifacts of a trained run: its checkpoint, and the figure data of a 2-D run.
pub fn of(trained: &Trained, config: &RunConfig) -> Result<Vec<Artifact>> {
    let mut out = vec![Artifact {
        name: CHECKPOINT_FILE,
        bytes: checkpoint::encode(&trained.model, config)
            .context("writing the trained model's checkpoint")?,
    }];
    out.extend(val_loss(&trained.report));
    if trained.density.dim() == 2 {
        out.extend(figure_data(trained, config)?);
    }
    Ok(out)
}

/// `field.json` and `samples.csv` of a trained 2-D run.
fn figure_data(trained: &Trained, config: &RunConfig) -> Result<Vec<Artifact>> {
    let density = trained.density.as_ref();
    let data = density.sample(BOX_SAMPLES, &mut rng(config.train.eval_seed, Stream::Eval));
    let (x, y) = data_box(&data);
    let points = ScoreField::grid(x, y, GRID);
    let sigma = config.objective.sigma();
    let learned = ModelScore::new(&trained.model, &trained.ctx, 2)
        .score(&points, sigma)
        .context("evaluating the learned score on the grid")?;
    let exact = density.scores(&points);
    let fine = ScoreField::grid(x, y, DENSITY_GRID);
    let learned_log_density = ModelScore::new(&trained.model, &trained.ctx, 2)
        .log_density(&fine, sigma)
        .context("evaluating the learned density on the grid")?;
    let pairs = |v: &[f64]| v.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    let field = ScoreField {
        x,
        y,
        n: GRID,
        sigma: sigma.filter(|_| config.model.is_noise_conditional()),
        points: pairs(&points),
        learned: pairs(&learned),
        exact: pairs(&exact),
        learned_log_density,
    };
    let mut out = vec![Artifact {
        name: FIELD_FILE,
        bytes: serde_json::to_vec(&field)?,
    }];
    if let Some(samples) = &trained.samples {
        out.push(Artifact {
            name: SAMPLES_FILE,
            bytes: samples_csv(samples),
        });
    }
    Ok(out)
}

/// 2-D points (row-major `[n, 2]`) as CSV with header `x0,x1`.
pub fn samples_csv(samples: &[f64]) -> Vec<u8> {
    let mut out = b"x0,x1\n".to_vec();
    for p in samples.chunks_exact(2) {
        out.extend(format!("{:?},{:?}\n", p[0], p[1]).into_bytes());
    }
    out
}

/// Reads [`samples_csv`] back (rows that do not parse are skipped).
///
/// # Shapes
/// - returns `[n, 2]` points
pub fn read_samples(text: &str) -> Vec<[f64; 2]> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (a, b) = l.split_once(',')?;
            Some([a.trim().parse().ok()?, b.trim().parse().ok()?])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use scorematch::NoProgress;

    #[test]
    fn the_grid_spans_the_box_x_fastest() {
        let g = ScoreField::grid([0.0, 1.0], [-2.0, 2.0], 3);
        assert_eq!(g.len(), 18);
        assert_eq!(&g[..6], &[0.0, -2.0, 0.5, -2.0, 1.0, -2.0]);
        assert_eq!(&g[12..], &[0.0, 2.0, 0.5, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn the_box_holds_the_bulk_of_the_data() {
        let pts: Vec<f64> = (0..=1000).flat_map(|i| [i as f64, -(i as f64)]).collect();
        let (x, y) = data_box(&pts);
        assert!((x[0] - (5.0 - 99.0)).abs() < 1e-9, "{x:?}");
        assert!((x[1] - (995.0 + 99.0)).abs() < 1e-9, "{x:?}");
        assert!(
            (y[0] + 1094.0).abs() < 1e-9 && (y[1] - 94.0).abs() < 1e-9,
            "{y:?}"
        );
    }

    #[test]
    fn samples_round_trip() {
        let s = [0.5, -1.25, 3.0, 1e-7];
        let back = read_samples(std::str::from_utf8(&samples_csv(&s)).unwrap());
        assert_eq!(back, vec![[0.5, -1.25], [3.0, 1e-7]]);
    }

    #[test]
    fn a_2d_run_keeps_its_score_field_and_samples() {
        let cfg: RunConfig = toml::from_str(
            "dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\n\
             sampler = { name = \"langevin\", steps = 5 }\n\
             sample_metrics = { samples = 50, reference_samples = 50 }\n\
             train = { steps = 3, eval_samples = 100, pool_size = 200 }",
        )
        .unwrap();
        let trained = scorematch::train(&cfg, &mut NoProgress).unwrap();
        let arts = of(&trained, &cfg).unwrap();
        let names: Vec<_> = arts.iter().map(|a| a.name).collect();
        assert_eq!(names, [CHECKPOINT_FILE, FIELD_FILE, SAMPLES_FILE]);
        let field: ScoreField = serde_json::from_slice(&arts[1].bytes).unwrap();
        assert_eq!(field.points.len(), GRID * GRID);
        // The exact score is the density's own, point by point.
        let k = 137;
        let mut s = [0.0; 2];
        trained.density.score_into(&field.points[k], &mut s);
        assert_eq!(field.exact[k], s);
        assert!(field.learned.iter().flatten().all(|v| v.is_finite()));
        // 8gaussians has modes at radius 2: the box covers them.
        assert!(field.x[0] < -2.0 && field.x[1] > 2.0 && field.y[0] < -2.0 && field.y[1] > 2.0);
        let samples = read_samples(std::str::from_utf8(&arts[2].bytes).unwrap());
        assert_eq!(samples.len(), 50);
    }

    #[test]
    fn runs_of_other_dimensions_keep_only_their_checkpoint() {
        let cfg: RunConfig = toml::from_str(
            "dataset = { name = \"gaussian\", dim = 3 }\nobjective = { name = \"esm\" }\n\
             train = { steps = 2, eval_samples = 50, pool_size = 100 }",
        )
        .unwrap();
        let trained = scorematch::train(&cfg, &mut NoProgress).unwrap();
        let arts = of(&trained, &cfg).unwrap();
        assert_eq!(arts.len(), 1);
        assert_eq!(arts[0].name, CHECKPOINT_FILE);
        let back = checkpoint::decode(&arts[0].bytes).unwrap();
        assert_eq!(back.config, cfg);
        assert_eq!(back.theta, trained.model.flat_params().unwrap());
    }
}
