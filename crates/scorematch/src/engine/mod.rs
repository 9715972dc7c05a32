//! How a run's training steps are computed.
//!
//! Two implementations of one step (batch gather, noise, loss, gradient, Adam update):
//! - the reference: the objective's loss in burn tensor ops on the run's backend, burn's
//!   autodiff for the gradient and burn's Adam;
//! - the fused kernels: the same loss on the host with the MLP's forward, tangent or trace
//!   pass and its hand-derived reverse mode ([`crate::kernels`]), and one Adam over the
//!   flat parameter vector. They run where the backend keeps tensors in host memory (flex).
//!
//! Both draw the same random numbers in the same order, so a run differs between them only
//! by floating-point rounding.

mod fused;
mod reference;

use rand::RngExt as _;

use crate::backend::Ctx;
pub use crate::config::Kernels;
use crate::config::TrainConfig;
use crate::data::Density;
use crate::error::{Error, Result};
use crate::model::{ScoreModel, TracePath};
use crate::objective::{LossEnv, ObjectiveConfig};
use crate::rng::Rng;

/// One step's implementation and its optimiser state.
enum Engine {
    Reference(reference::ReferenceEngine),
    Fused32(fused::FusedEngine<f32>),
    Fused64(fused::FusedEngine<f64>),
}

/// The state of a run's training loop: the data pool, the training stream and the model with
/// its optimiser, behind either implementation.
pub struct Trainer<'a> {
    objective: &'a ObjectiveConfig,
    noised: Option<&'a dyn Density>,
    ctx: &'a Ctx,
    rng: Rng,
    engine: Engine,
    kernels: Kernels,
}

impl<'a> Trainer<'a> {
    /// A training loop for `model` with the objective, settings and data of a run.
    ///
    /// `kernels` is the resolved implementation (see [`Kernels::resolve`]), `ctx` the run's
    /// (autodiff) context, `trace` the resolved trace path (ISM), `rng` the training stream. The pool moves into the loop, converted to the precision the steps
    /// compute in.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        objective: &'a ObjectiveConfig,
        train: &TrainConfig,
        kernels: Kernels,
        model: ScoreModel,
        trace: TracePath,
        data: TrainingData<'a>,
        ctx: &'a Ctx,
        rng: Rng,
    ) -> Result<Self> {
        let TrainingData {
            dim,
            pool,
            pool_scores,
            noised,
        } = data;
        if pool.is_empty() || pool.len() % dim != 0 {
            return Err(Error::Tensor(format!(
                "the training pool has {} values, not a positive multiple of D = {dim}",
                pool.len()
            )));
        }
        let scores = if objective.caps().uses_data_scores {
            if pool_scores.len() != pool.len() {
                return Err(Error::Tensor(
                    "the objective needs the data score of every pool point".into(),
                ));
            }
            pool_scores
        } else {
            Vec::new()
        };
        let pool = Pool {
            dim,
            x: pool,
            scores,
        };
        let engine = match (kernels, ctx.dtype) {
            (Kernels::Reference | Kernels::Auto, _) => {
                Engine::Reference(reference::ReferenceEngine::new(model, train, pool))
            }
            (_, burn::tensor::DType::F64) => Engine::Fused64(fused::FusedEngine::new(
                objective, model, trace, train, pool,
            )?),
            _ => Engine::Fused32(fused::FusedEngine::new(
                objective, model, trace, train, pool,
            )?),
        };
        Ok(Self {
            objective,
            noised,
            ctx,
            rng,
            engine,
            kernels,
        })
    }

    /// The implementation the steps run on (`Fused` or `Reference`).
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// One training step on a batch drawn with replacement from the pool. With `read_loss`
    /// it returns the batch loss, and skips the update if the loss is not finite.
    pub fn step(&mut self, read_loss: bool) -> Result<Option<f64>> {
        let mut env = LossEnv {
            ctx: self.ctx,
            rng: &mut self.rng,
            noised: self.noised,
        };
        match &mut self.engine {
            Engine::Reference(e) => e.step(self.objective, &mut env, read_loss),
            Engine::Fused32(e) => Ok(e.step(self.objective, &mut env, read_loss)),
            Engine::Fused64(e) => Ok(e.step(self.objective, &mut env, read_loss)),
        }
    }

    /// The loss and ∂loss/∂θ (flat, in the model's parameter order) on the batch the next
    /// step would draw, without an update: what implementations and backends are compared
    /// on (the fused engine against the reference, wgpu against flex).
    pub fn loss_and_gradient(&mut self) -> Result<(f64, Vec<f64>)> {
        let mut env = LossEnv {
            ctx: self.ctx,
            rng: &mut self.rng,
            noised: self.noised,
        };
        match &mut self.engine {
            Engine::Reference(e) => e.loss_and_gradient(self.objective, &mut env),
            Engine::Fused32(e) => Ok(e.loss_and_gradient(self.objective, &mut env)),
            Engine::Fused64(e) => Ok(e.loss_and_gradient(self.objective, &mut env)),
        }
    }

    /// Multiply-adds in the matrix products of one step of the fused kernels (`None` for the
    /// reference).
    pub fn step_macs(&self) -> Option<usize> {
        match &self.engine {
            Engine::Reference(_) => None,
            Engine::Fused32(e) => Some(e.step_macs()),
            Engine::Fused64(e) => Some(e.step_macs()),
        }
    }

    /// Sets the learning rate of the next steps (a schedule's value at the step).
    pub fn set_lr(&mut self, lr: f64) {
        match &mut self.engine {
            Engine::Reference(e) => e.set_lr(lr),
            Engine::Fused32(e) => e.set_lr(lr),
            Engine::Fused64(e) => e.set_lr(lr),
        }
    }

    /// The current parameters θ, flat, in [`ScoreModel::flat_params`]' order.
    pub fn params(&self) -> Result<Vec<f64>> {
        match &self.engine {
            Engine::Reference(e) => e.params(),
            Engine::Fused32(e) => Ok(e.params()),
            Engine::Fused64(e) => Ok(e.params()),
        }
    }

    /// What the loop continues from after the steps taken so far: θ, the optimiser's state
    /// and the training stream.
    pub fn state(&self) -> Result<EngineState> {
        let optimizer = match &self.engine {
            Engine::Reference(e) => e.optimizer_state()?,
            Engine::Fused32(e) => e.optimizer_state(),
            Engine::Fused64(e) => e.optimizer_state(),
        };
        Ok(EngineState {
            theta: self.params()?,
            optimizer,
            rng: self.rng.clone(),
        })
    }

    /// Continues from `state` (taken by [`Self::state`] of a loop of the same run): the next
    /// steps are those the saved loop would have taken.
    pub fn restore(&mut self, state: &EngineState) -> Result<()> {
        match &mut self.engine {
            Engine::Reference(e) => e.restore(&state.theta, &state.optimizer, self.ctx)?,
            Engine::Fused32(e) => e.restore(&state.theta, &state.optimizer)?,
            Engine::Fused64(e) => e.restore(&state.theta, &state.optimizer)?,
        }
        self.rng = state.rng.clone();
        Ok(())
    }

    /// The trained model, on the run's context.
    pub fn into_model(self) -> Result<ScoreModel> {
        match self.engine {
            Engine::Reference(e) => e.into_model(),
            Engine::Fused32(e) => Ok(e.into_model(self.ctx)),
            Engine::Fused64(e) => Ok(e.into_model(self.ctx)),
        }
    }
}

/// Where a training loop stands: what [`Trainer::restore`] continues from.
#[derive(Clone, Debug)]
pub struct EngineState {
    /// The parameters θ, flat (exact: the run's precision widened to f64).
    pub theta: Vec<f64>,
    /// The optimiser's state.
    pub optimizer: OptimizerState,
    /// The training stream (batch indices, noise, projections).
    pub rng: Rng,
}

/// Adam's state in the form each implementation keeps it.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerState {
    /// The fused kernels' flat moments.
    Fused(crate::kernels::AdamState),
    /// burn's optimiser record (its own byte format), keyed by parameter ids, with the ids
    /// of the model's tensors in parameter order.
    Reference {
        /// Parameter ids, in the model's visiting order.
        param_ids: Vec<u64>,
        /// burn's serialised optimiser record.
        record: Vec<u8>,
    },
}

/// The data a training loop draws its batches from.
pub struct TrainingData<'a> {
    /// Dimension D.
    pub dim: usize,
    /// The training pool, `[n, D]` row-major.
    pub pool: Vec<f64>,
    /// The data score at each pool point, `[n, D]` (needed by ESM only; may be empty
    /// otherwise).
    pub pool_scores: Vec<f64>,
    /// The noised density p_σ at the objective's noise level, where it has a closed form.
    pub noised: Option<&'a dyn Density>,
}

/// The pool in a step's precision: points and, where the objective uses them, their scores.
struct Pool<T> {
    dim: usize,
    x: Vec<T>,
    scores: Vec<T>,
}

impl Pool<f64> {
    /// The pool in precision `T`, dropping the f64 copy as it goes.
    fn convert<T: crate::kernels::Real>(self) -> Pool<T> {
        let convert = |v: Vec<f64>| -> Vec<T> { v.into_iter().map(T::from_f64).collect() };
        let x = convert(self.x);
        Pool {
            dim: self.dim,
            x,
            scores: convert(self.scores),
        }
    }
}

impl<T: Copy> Pool<T> {
    /// Draws `rows` pool indices from `rng` and copies those points (and their scores, if the
    /// pool has them) into `x` and `scores`, `[rows, D]`.
    fn gather(&self, rng: &mut Rng, x: &mut [T], scores: &mut [T]) {
        /// Rows whose indices are drawn before their copies start, so that the copies' cache
        /// misses overlap.
        const CHUNK: usize = 32;
        let d = self.dim;
        let n = self.x.len() / d;
        let with_scores = !self.scores.is_empty();
        // A local copy keeps the generator's state in registers.
        let mut local = rng.clone();
        let mut indices = [0usize; CHUNK];
        for (c, block) in x.chunks_mut(CHUNK * d).enumerate() {
            let rows = block.len() / d;
            for i in &mut indices[..rows] {
                *i = local.random_range(0..n);
            }
            for (j, (&i, out)) in indices.iter().zip(block.chunks_exact_mut(d)).enumerate() {
                copy(&self.x[i * d..(i + 1) * d], out);
                if with_scores {
                    let row = c * CHUNK + j;
                    copy(
                        &self.scores[i * d..(i + 1) * d],
                        &mut scores[row * d..(row + 1) * d],
                    );
                }
            }
        }
        *rng = local;
    }
}

/// `dst = src`, element by element (short rows copy faster inline than through memcpy).
#[inline(always)]
fn copy<T: Copy>(src: &[T], dst: &mut [T]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s);
}

/// The error of a training loop whose model was lost to an earlier failure.
fn lost_model() -> Error {
    Error::Tensor("the model was lost to an earlier failed step".into())
}

#[cfg(test)]
mod tests;
