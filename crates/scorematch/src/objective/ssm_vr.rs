//! SSM-VR: sliced score matching with variance reduction (Song, Garg, Shi & Ermon 2019),
//! vᵀ(∂s/∂x)v + ½‖s‖². The term ½(vᵀs)² of SSM has expectation ½ sᵀE[vvᵀ]s = ½‖s‖² for
//! any projection law with E[vvᵀ] = I, so SSM-VR uses that expectation: the same objective
//! in expectation, with less variance. It takes the parameters of SSM.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::ssm::{SLICED_CAPS, SsmParams, host_directions, host_projected_loss, projected_terms};
use super::{
    Batch, HostStep, LossEnv, Objective, ObjectiveCaps, half_mean_sq_norm, host_half_mean_sq,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `ssm-vr`: those of `ssm` (`projections`, `projection`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SsmVrParams(pub SsmParams);

impl Objective for SsmVrParams {
    const CAPS: ObjectiveCaps = SLICED_CAPS;

    fn validate(&self) -> Vec<ParamError> {
        self.0.check()
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

    /// mean vᵀJv + ½ mean ‖s‖².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (s, _, vjv) = projected_terms(&self.0, model, batch, env);
        vjv + half_mean_sq_norm(s)
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        self.0.pass()
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_directions(&self.0, env, step);
    }

    /// mean vᵀJv + ½ mean ‖s‖² of a fused step, and its gradients.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        host_projected_loss(step, |s, _, rows, grad_s| {
            host_half_mean_sq(s, rows, grad_s)
        })
    }
}
