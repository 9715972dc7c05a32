//! The fused step: host kernels for the network and its reverse mode, the objective's loss on
//! the host, and one Adam over the flat parameter vector.

use super::{OptimizerState, Pool};
use crate::backend::Ctx;
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::kernels::{Adam, AdamSettings, NetKernel, Real, clip_segments};
use crate::model::{ScoreModel, TracePath};
use crate::objective::{HostStep, LossEnv, ObjectiveConfig};

/// The parameters, their gradient, Adam's state and the pass buffers.
pub(super) struct FusedEngine<T> {
    step: HostStep<T>,
    theta: Vec<T>,
    grad: Vec<T>,
    adam: Adam<T>,
    /// Length of each parameter tensor, in θ's order (for per-tensor clipping).
    segments: Vec<usize>,
    lr: f64,
    grad_clip: Option<f64>,
    /// The model θ came from, to rebuild it with the trained values.
    template: ScoreModel,
    /// The pool in this precision.
    pool: Pool<T>,
}

impl<T: Real> FusedEngine<T> {
    /// Buffers and optimiser for training `model` on `objective` with `train`'s settings;
    /// `trace` is the resolved trace path (ISM).
    pub(super) fn new(
        objective: &ObjectiveConfig,
        model: ScoreModel,
        trace: TracePath,
        train: &TrainConfig,
        pool: Pool<f64>,
    ) -> Result<Self> {
        let shape = model.kernel_shape().ok_or_else(|| {
            Error::InvalidConfig(vec![crate::error::ParamError::new(
                "train.kernels",
                "the fused kernels do not compute this model (use auto or reference)",
            )])
        })?;
        let theta: Vec<T> = model.flat_params()?.into_iter().map(T::from_f64).collect();
        let segments = (0..shape.layers())
            .flat_map(|l| {
                let (i, o) = shape.layer(l);
                [i * o, o]
            })
            .collect();
        let pass = objective.host_pass(trace);
        let net = NetKernel::new(shape, pass, objective.host_rows(train.batch));
        Ok(Self {
            step: HostStep::new(net, train.batch),
            grad: vec![T::ZERO; theta.len()],
            adam: Adam::new(AdamSettings::default(), theta.len()),
            theta,
            segments,
            lr: train.lr,
            grad_clip: train.grad_clip,
            template: model,
            pool: pool.convert(),
        })
    }

    /// One step on a batch drawn from the pool; with `read_loss`, returns the loss and skips
    /// the update if it is not finite.
    pub(super) fn step(
        &mut self,
        objective: &ObjectiveConfig,
        env: &mut LossEnv<'_>,
        read_loss: bool,
    ) -> Option<f64> {
        let loss = self.loss(objective, env);
        if read_loss && !loss.is_finite() {
            return Some(loss);
        }
        self.step.net.backward(&self.theta, &mut self.grad);
        if let Some(max_norm) = self.grad_clip {
            clip_segments(&mut self.grad, &self.segments, max_norm);
        }
        self.adam.step(self.lr, &mut self.theta, &self.grad);
        read_loss.then_some(loss)
    }

    /// The loss on the next batch drawn from the pool, with the pass buffers ready for the
    /// reverse mode.
    fn loss(&mut self, objective: &ObjectiveConfig, env: &mut LossEnv<'_>) -> f64 {
        let (x, scores) = self.step.batch_buffers();
        self.pool.gather(env.rng, x, scores);
        objective.host_inputs(env, &mut self.step);
        self.step.net.forward(&self.theta);
        objective.host_loss(&mut self.step)
    }

    /// The loss and ∂loss/∂θ on the next batch, without an update.
    pub(super) fn loss_and_gradient(
        &mut self,
        objective: &ObjectiveConfig,
        env: &mut LossEnv<'_>,
    ) -> (f64, Vec<f64>) {
        let loss = self.loss(objective, env);
        self.step.net.backward(&self.theta, &mut self.grad);
        (loss, self.grad.iter().map(|g| g.to_f64()).collect())
    }

    /// Multiply-adds in the matrix products of one step.
    pub(super) fn step_macs(&self) -> usize {
        self.step.net.step_macs()
    }

    /// Sets the learning rate of the next steps.
    pub(super) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The current parameters, flat, as f64.
    pub(super) fn params(&self) -> Vec<f64> {
        self.theta.iter().map(|v| v.to_f64()).collect()
    }

    /// Adam's moments and step count.
    pub(super) fn optimizer_state(&self) -> OptimizerState {
        OptimizerState::Fused(self.adam.state())
    }

    /// Continues from parameters `theta` and Adam's state.
    pub(super) fn restore(&mut self, theta: &[f64], optimizer: &OptimizerState) -> Result<()> {
        let OptimizerState::Fused(state) = optimizer else {
            return Err(Error::Checkpoint(
                "the saved state is the reference engine's, this run uses the fused kernels".into(),
            ));
        };
        if theta.len() != self.theta.len() {
            return Err(Error::Checkpoint(format!(
                "the saved state has {} parameters, the model has {}",
                theta.len(),
                self.theta.len()
            )));
        }
        self.adam.restore(state).map_err(Error::Checkpoint)?;
        self.theta = theta.iter().map(|&v| T::from_f64(v)).collect();
        Ok(())
    }

    /// The model with the trained parameters, on `ctx`.
    pub(super) fn into_model(self, ctx: &Ctx) -> ScoreModel {
        let theta: Vec<f64> = self.theta.iter().map(|v| v.to_f64()).collect();
        self.template.with_flat_params(&theta, ctx)
    }
}
