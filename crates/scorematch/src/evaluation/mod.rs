//! Evaluating a score model, one path for every method: the evaluation sets drawn from the
//! run's evaluation stream ([`EvalSets::draw`]), and every metric of a score model
//! ([`ModelMetric`], in the registry of `registry.rs`) computed from a [`Scorer`] — a model
//! of this crate (after training, after re-sampling) or the scores an external method wrote
//! at the evaluation points. Each metric declares its column and presentation next to it.

use std::cell::OnceCell;

use crate::backend::Ctx;
use crate::config::RunConfig;
use crate::data::Density;
use crate::error::Result;
use crate::metric::DensityFit;
use crate::model::ScoreModel;
use crate::rng::{Stream, normals, rng};
use crate::sample::{ModelScore, ScoreFn as _};

mod density;
mod registry;

pub use registry::{ModelMetric, ModelMetricValues};

/// The points every run of a data set is judged on: drawn from the evaluation seed alone,
/// so they are the same for every run seed (and for built-in and external methods), and
/// numbers are comparable across runs. Data read from a file are evaluated on their test
/// split, where the true score is unknown.
pub struct EvalSets {
    /// Dimension D.
    pub dim: usize,
    /// The evaluation points, `[m, D]`.
    pub x: Vec<f64>,
    /// The exact score at them (`None` for data from a file).
    pub score: Option<Vec<f64>>,
    /// With an objective's noise level σ: the points plus σ·N(0, I) noise.
    pub noised: Option<NoisedSet>,
}

/// The evaluation points plus σ·N(0, I) noise, judged against p_σ.
pub struct NoisedSet {
    /// The noised points, `[m, D]`.
    pub x: Vec<f64>,
    /// The exact score of p_σ at them, where p_σ has a closed form.
    pub score: Option<Vec<f64>>,
}

impl EvalSets {
    /// The evaluation sets of `cfg`'s run on `density` (from `rng(eval_seed, Eval)`: the
    /// points, then the noise of their noised copies).
    pub fn draw(cfg: &RunConfig, density: &dyn Density) -> Self {
        let dim = density.dim();
        let mut eval_rng = rng(cfg.train.eval_seed, Stream::Eval);
        let (x, score) = match density.test_split() {
            Some(test) => (test.to_vec(), None),
            None => {
                let x = density.sample(cfg.train.eval_samples, &mut eval_rng);
                let score = density.scores(&x);
                (x, Some(score))
            }
        };
        let noised = cfg.objective.sigma().map(|s| {
            let noised: Vec<f64> = x
                .iter()
                .zip(normals(&mut eval_rng, x.len()))
                .map(|(x, e)| x + s * e)
                .collect();
            NoisedSet {
                score: density.noised(s).map(|q| q.scores(&noised)),
                x: noised,
            }
        });
        Self {
            dim,
            x,
            score,
            noised,
        }
    }

    /// Number of evaluation points.
    pub fn rows(&self) -> usize {
        self.x.len() / self.dim
    }
}

/// What gives the scores being judged.
pub enum Scorer<'a> {
    /// A model of this crate: an inference copy (`valid()`) on `ctx`'s device, fed `sigma`
    /// if it is noise-conditional.
    Model {
        /// The model.
        model: &'a ScoreModel,
        /// Its plain context.
        ctx: &'a Ctx,
        /// The noise level a noise-conditional model is evaluated at.
        sigma: Option<f64>,
    },
    /// Scores given at the evaluation points (an external method's): `[m, D]` at
    /// [`EvalSets::x`] and, with σ, at the noised points.
    Given {
        /// At the evaluation points.
        eval: &'a [f64],
        /// At the noised points.
        noised: Option<&'a [f64]>,
    },
}

impl Scorer<'_> {
    /// The scores at the first `rows` evaluation points of `sets`.
    fn scores_at(&self, sets: &EvalSets, rows: usize) -> Result<Vec<f64>> {
        let k = rows * sets.dim;
        match self {
            Scorer::Model { model, ctx, sigma } => {
                ModelScore::new(model, ctx, sets.dim).score(&sets.x[..k], *sigma)
            }
            Scorer::Given { eval, .. } => Ok(eval[..k].to_vec()),
        }
    }
}

/// Everything a model metric is computed from.
pub struct ModelInputs<'a> {
    /// The scores judged.
    pub scorer: Scorer<'a>,
    /// The evaluation sets.
    pub sets: &'a EvalSets,
    /// The data density.
    pub density: &'a dyn Density,
    /// The evaluation seed (log Z's importance sampling stream).
    pub eval_seed: u64,
    /// The held-out loss training measured (see `train::validation`).
    pub val_loss: Option<f64>,
    /// The density-level figures, computed once for the metrics that read them.
    density_fit: OnceCell<Option<DensityFit>>,
}

impl<'a> ModelInputs<'a> {
    /// The inputs of judging `scorer` on `sets` of `cfg`'s run.
    pub fn new(
        scorer: Scorer<'a>,
        sets: &'a EvalSets,
        density: &'a dyn Density,
        cfg: &RunConfig,
    ) -> Self {
        Self {
            scorer,
            sets,
            density,
            eval_seed: cfg.train.eval_seed,
            val_loss: None,
            density_fit: OnceCell::new(),
        }
    }

    /// log Z, likelihood and KL of a model with an energy (computed at the first use).
    pub fn density_fit(&self) -> Result<Option<&DensityFit>> {
        if self.density_fit.get().is_none() {
            let fit = match &self.scorer {
                Scorer::Model { model, ctx, sigma } => density::fit(
                    model,
                    ctx,
                    *sigma,
                    self.density,
                    &self.sets.x,
                    self.eval_seed,
                )?,
                Scorer::Given { .. } => None,
            };
            let _ = self.density_fit.set(fit);
        }
        Ok(self.density_fit.get().and_then(Option::as_ref))
    }

    /// The density-level figures, if a metric computed them.
    pub fn into_density_fit(self) -> Option<DensityFit> {
        self.density_fit.into_inner().flatten()
    }
}

/// The values of `metrics` on `inputs`, the others left `None`.
pub fn evaluate(metrics: &[ModelMetric], inputs: &ModelInputs<'_>) -> Result<ModelMetricValues> {
    let mut values = ModelMetricValues::default();
    for &metric in metrics {
        *values.slot(metric) = metric.value(inputs)?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests;
