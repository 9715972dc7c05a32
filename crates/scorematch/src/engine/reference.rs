//! The reference step: the objective's loss in burn tensor ops, burn's autodiff and Adam.

use burn::module::{Module as _, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Tensor};

use super::{OptimizerState, Pool, lost_model};
use crate::backend::{Ctx, scalar};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::model::ScoreModel;
use crate::objective::{Batch, LossEnv, ObjectiveConfig};

/// The model, burn's Adam, the pool and the batch buffer.
pub(super) struct ReferenceEngine {
    model: Option<ScoreModel>,
    optimizer: ModuleOptimizer,
    grad_clip: Option<f64>,
    lr: f64,
    pool: Pool<f64>,
    batch: Batch,
}

impl ReferenceEngine {
    /// Adam (β 0.9/0.999, ε 1e-8, optional per-tensor norm clipping) on `model`.
    pub(super) fn new(model: ScoreModel, train: &TrainConfig, pool: Pool<f64>) -> Self {
        let n = train.batch * pool.dim;
        Self {
            model: Some(model),
            optimizer: adam(train.grad_clip),
            grad_clip: train.grad_clip,
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

    /// Adam's state, with the ids it knows the parameters by (in the model's parameter
    /// order), as burn writes it.
    pub(super) fn optimizer_state(&self) -> Result<OptimizerState> {
        let model = self.model.as_ref().ok_or_else(lost_model)?;
        let mut ids = IdCollector(Vec::new());
        model.visit(&mut ids);
        let record = self
            .optimizer
            .into_bytes()
            .map_err(|e| Error::Checkpoint(format!("cannot write Adam's state: {e}")))?;
        Ok(OptimizerState::Reference {
            param_ids: ids.0,
            record: record.to_vec(),
        })
    }

    /// Continues from parameters `theta` and Adam's state: the model is given θ and the ids
    /// the saved state refers to its parameters by.
    pub(super) fn restore(
        &mut self,
        theta: &[f64],
        optimizer: &OptimizerState,
        ctx: &Ctx,
    ) -> Result<()> {
        let OptimizerState::Reference { param_ids, record } = optimizer else {
            return Err(Error::Checkpoint(
                "the saved state is the fused kernels', this run uses the reference engine".into(),
            ));
        };
        let model = self.model.as_ref().ok_or_else(lost_model)?;
        if model.flat_params()?.len() != theta.len() {
            return Err(Error::Checkpoint(format!(
                "the saved state has {} parameters, the model has {}",
                theta.len(),
                model.num_params()
            )));
        }
        let mut assign = IdAssigner {
            ids: param_ids.iter(),
            missing: false,
        };
        let model = model.with_flat_params(theta, ctx).map(&mut assign);
        if assign.missing || assign.ids.next().is_some() {
            return Err(Error::Checkpoint(
                "the saved optimiser state does not match the model's tensors".into(),
            ));
        }
        self.optimizer = adam(self.grad_clip)
            .from_bytes(Bytes::from_bytes_vec(record.clone()))
            .map_err(|e| Error::Checkpoint(format!("cannot read Adam's state: {e}")))?;
        self.model = Some(model);
        Ok(())
    }

    /// The trained model.
    pub(super) fn into_model(self) -> Result<ScoreModel> {
        self.model.ok_or_else(lost_model)
    }
}

/// Adam (β 0.9/0.999, ε 1e-8) with optional per-tensor norm clipping.
fn adam(grad_clip: Option<f64>) -> ModuleOptimizer {
    let mut adam = AdamConfig::new().with_epsilon(1e-8);
    if let Some(clip) = grad_clip {
        adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(clip as f32)));
    }
    adam.init()
}

/// The ids of a model's parameter tensors, in visiting order.
struct IdCollector(Vec<u64>);

impl ModuleVisitor for IdCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

/// Gives a model's parameter tensors the given ids, in visiting order (the ids burn's
/// optimiser state is keyed by).
struct IdAssigner<'a> {
    ids: std::slice::Iter<'a, u64>,
    missing: bool,
}

impl ModuleMapper for IdAssigner<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(&id) = self.ids.next() else {
            self.missing = true;
            return param;
        };
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(ParamId::from(id), value, mapper)
    }
}
