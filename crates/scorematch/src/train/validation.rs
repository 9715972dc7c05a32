//! The held-out validation loss: the run's own objective on `val_samples` points drawn from
//! the data density (for data read from a file: on its test split, always) (stream [`Stream::Validation`]), with its noise and projections drawn
//! the same way at every evaluation, so the values along a run are comparable. For ISM and
//! SSM-VR it is the Fisher divergence up to a constant, so it ranks models without the true
//! score.

use crate::backend::{Ctx, scalar};
use crate::config::RunConfig;
use crate::data::Density;
use crate::error::Result;
use crate::model::ScoreModel;
use crate::objective::{Batch, LossEnv};
use crate::rng::{Rng, Stream, rng};

use super::RunSetup;

/// What a validation loss is computed from.
pub(super) struct Validation<'c> {
    cfg: &'c RunConfig,
    /// The initial model, given the weights to evaluate.
    template: ScoreModel,
    ctx: Ctx,
    batch: Batch,
    noised: Option<Box<dyn Density>>,
    rng: Rng,
}

impl<'c> Validation<'c> {
    /// The validation set of `cfg` (`None` when `val_samples` is 0), built before `setup`
    /// hands its data to the trainer.
    pub(super) fn new(cfg: &'c RunConfig, setup: &RunSetup<'_>) -> Option<Self> {
        let n = cfg.train.val_samples;
        let dim = setup.dim();
        let mut data_rng = rng(cfg.seed, Stream::Validation);
        let batch = match setup.density.test_split() {
            // Data from a file: always, on the test split (its first `val_samples` rows if
            // set); the data score is unknown, and no objective that needs it runs on them.
            Some(test) => {
                let rows = match n {
                    0 => test.len() / dim,
                    n => n.min(test.len() / dim),
                };
                Batch {
                    x: test[..rows * dim].to_vec(),
                    score: Vec::new(),
                    rows,
                    dim,
                }
            }
            None if n == 0 => return None,
            None => {
                let x = setup.density.sample(n, &mut data_rng);
                Batch {
                    score: setup.density.scores(&x),
                    x,
                    rows: n,
                    dim,
                }
            }
        };
        Some(Self {
            cfg,
            template: setup.model.clone(),
            ctx: setup.ctx.clone(),
            batch,
            noised: cfg.objective.sigma().and_then(|s| setup.density.noised(s)),
            rng: data_rng,
        })
    }

    /// The objective's loss on the validation set at weights `params`.
    pub(super) fn loss(&self, params: &[f64]) -> Result<f64> {
        let model = self.template.with_flat_params(params, &self.ctx);
        let mut noise = self.rng.clone();
        let mut env = LossEnv {
            ctx: &self.ctx,
            rng: &mut noise,
            noised: self.noised.as_deref(),
        };
        scalar(self.cfg.objective.loss(&model, &self.batch, &mut env))
    }
}
