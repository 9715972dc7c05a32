//! The reference step: the objective's loss in burn tensor ops, burn's autodiff and Adam.

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};

use super::lost_model;
use crate::backend::scalar;
use crate::config::TrainConfig;
use crate::error::Result;
use crate::model::ScoreModel;
use crate::objective::{Batch, LossEnv, ObjectiveConfig};

/// The model and burn's Adam.
pub(super) struct ReferenceEngine {
    model: Option<ScoreModel>,
    optimizer: ModuleOptimizer,
    lr: f64,
}

impl ReferenceEngine {
    /// Adam (β 0.9/0.999, ε 1e-8, optional per-tensor norm clipping) on `model`.
    pub(super) fn new(model: ScoreModel, train: &TrainConfig) -> Self {
        let mut adam = AdamConfig::new().with_epsilon(1e-8);
        if let Some(clip) = train.grad_clip {
            adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(clip as f32)));
        }
        Self {
            model: Some(model),
            optimizer: adam.init(),
            lr: train.lr,
        }
    }

    /// One step on `batch`; with `read_loss`, returns the loss and skips the update if it is
    /// not finite.
    pub(super) fn step(
        &mut self,
        objective: &ObjectiveConfig,
        batch: &Batch,
        env: &mut LossEnv<'_>,
        read_loss: bool,
    ) -> Result<Option<f64>> {
        let model = self.model.take().ok_or_else(lost_model)?;
        let loss = objective.loss(&model, batch, env);
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
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(self.lr, model, grads));
        Ok(value)
    }

    /// The trained model.
    pub(super) fn into_model(self) -> Result<ScoreModel> {
        self.model.ok_or_else(lost_model)
    }
}
