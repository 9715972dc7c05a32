//! `none`: no objective. The training-free score estimators (`kde`, `stein`, `ssge`) are
//! built from the training pool when the run starts and have nothing to minimise; this is
//! the objective they pair with, and it pairs with nothing else (`RunConfig`'s cross-checks
//! read [`ObjectiveCaps::trains`]). A run with it takes no step, so its loss is never
//! evaluated.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `none` (there are none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoTrainingParams {}

impl Objective for NoTrainingParams {
    const CAPS: ObjectiveCaps = ObjectiveCaps {
        fused_on_energy: true,
        trains: false,
        differentiates_jacobian: false,
        uses_data_scores: false,
        noise_conditioning: NoiseConditioning::Refused,
    };

    fn validate(&self) -> Vec<ParamError> {
        Vec::new()
    }

    fn sigma(&self) -> Option<f64> {
        None
    }

    fn needs_noised_density(&self) -> bool {
        false
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// The constant 0: nothing depends on a parameter.
    fn loss(&self, _model: &ScoreModel, _batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        env.ctx.vector(&[0.0])
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, _env: &mut LossEnv<'_>, _step: &mut HostStep<T>) {}

    /// The constant 0, with zero gradients.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        step.net.outputs().grad_s.fill(T::ZERO);
        0.0
    }
}
