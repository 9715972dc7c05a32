//! The reference step: the objective's loss in burn tensor ops, burn's autodiff and Adam.

use burn::module::Module as _;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};

use super::{Pool, lost_model};
use crate::backend::scalar;
use crate::config::TrainConfig;
use crate::error::Result;
use crate::model::ScoreModel;
use crate::objective::{Batch, LossEnv, ObjectiveConfig};

/// The model, burn's Adam, the pool and the batch buffer.
pub(super) struct ReferenceEngine {
    model: Option<ScoreModel>,
    optimizer: ModuleOptimizer,
    lr: f64,
    pool: Pool<f64>,
    batch: Batch,
}

impl ReferenceEngine {
    /// Adam (β 0.9/0.999, ε 1e-8, optional per-tensor norm clipping) on `model`.
    pub(super) fn new(model: ScoreModel, train: &TrainConfig, pool: Pool<f64>) -> Self {
        let mut adam = AdamConfig::new().with_epsilon(1e-8);
        if let Some(clip) = train.grad_clip {
            adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(clip as f32)));
        }
        let n = train.batch * pool.dim;
        Self {
            model: Some(model),
            optimizer: adam.init(),
            lr: train.lr,
            batch: Batch {
                x: vec![0.0; n],
                score: vec![0.0; if pool.scores.is_empty() { 0 } else { n }],
                rows: train.batch,
                dim: pool.dim,
            },
            pool,
        }
    }

    /// One step on a batch drawn from the pool; with `read_loss`, returns the loss and skips
    /// the update if it is not finite.
    pub(super) fn step(
        &mut self,
        objective: &ObjectiveConfig,
        env: &mut LossEnv<'_>,
        read_loss: bool,
    ) -> Result<Option<f64>> {
        self.pool
            .gather(env.rng, &mut self.batch.x, &mut self.batch.score);
        let model = self.model.take().ok_or_else(lost_model)?;
        let loss = objective.loss(&model, &self.batch, env);
        let value = if read_loss {
            let value = scalar(loss.clone())?;
            if !value.is_finite() {
                self.model = Some(model);
                return Ok(Some(value));
            }
            Some(value)
        } else {
            None
        };
        // A model without parameters (fitted in closed form) has nothing to update.
        if model.num_params() == 0 {
            self.model = Some(model);
            return Ok(value);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(self.lr, model, grads));
        Ok(value)
    }

    /// The loss and ∂loss/∂θ (flat, in the model's parameter order) on the next batch,
    /// without an update.
    pub(super) fn loss_and_gradient(
        &mut self,
        objective: &ObjectiveConfig,
        env: &mut LossEnv<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        self.pool
            .gather(env.rng, &mut self.batch.x, &mut self.batch.score);
        let model = self.model.as_ref().ok_or_else(lost_model)?;
        let loss = objective.loss(model, &self.batch, env);
        let value = scalar(loss.clone())?;
        if model.num_params() == 0 {
            return Ok((value, Vec::new()));
        }
        let grads = loss.backward();
        let flat = crate::model::param_grads(model, &grads)?.concat();
        Ok((value, flat))
    }

    /// Sets the learning rate of the next steps.
    pub(super) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The current parameters, flat.
    pub(super) fn params(&self) -> Result<Vec<f64>> {
        self.model.as_ref().ok_or_else(lost_model)?.flat_params()
    }

    /// The trained model.
    pub(super) fn into_model(self) -> Result<ScoreModel> {
        self.model.ok_or_else(lost_model)
    }
}
