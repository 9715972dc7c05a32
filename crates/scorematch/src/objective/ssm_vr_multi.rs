//! SSM-VR over noise levels: `ssm-multi` with SSM-VR's ½‖s‖² in place of ½(vᵀs)² (the
//! variance-reduced annealed SSM of the NCSN code): σᵢ² [vᵀ(∂s/∂x)v + ½‖s‖²] at x̃ = x + σᵢε.
//! It takes the parameters of `ssm-multi`.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::ssm_multi::{
    MULTI_SLICED_CAPS, SsmMultiParams, host_noised_directions, host_weighted_loss,
    noised_projected_terms,
};
use super::{Batch, HostStep, LossEnv, Objective, ObjectiveCaps};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `ssm-vr-multi`: those of `ssm-multi`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SsmVrMultiParams(pub SsmMultiParams);

impl Objective for SsmVrMultiParams {
    const CAPS: ObjectiveCaps = MULTI_SLICED_CAPS;

    fn validate(&self) -> Vec<ParamError> {
        self.0.check()
    }

    fn sigma(&self) -> Option<f64> {
        Some(self.0.sigma_min)
    }

    fn needs_noised_density(&self) -> bool {
        false
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// mean σᵢ² [vᵀJv + ½‖s‖²] at x̃.
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (s, _, vjv, weight) = noised_projected_terms(&self.0, model, batch, env);
        ((vjv + s.powi_scalar(2).sum_dim(1) * 0.5) * weight).mean()
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Projected {
            per_row: self.0.projections,
        }
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_noised_directions(&self.0, env, step);
    }

    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        host_weighted_loss(step, |s, _, sigma, grad_s| {
            let d = s.len() / sigma.len();
            let inv = T::from_f64(1.0 / sigma.len() as f64);
            let mut total = 0.0;
            for ((s, g), &sigma) in s.chunks_exact(d).zip(grad_s.chunks_exact_mut(d)).zip(sigma) {
                let weight = sigma * sigma;
                for (&s, g) in s.iter().zip(g.iter_mut()) {
                    total += 0.5 * (weight * s * s).to_f64();
                    *g = weight * s * inv;
                }
            }
            total / sigma.len() as f64
        })
    }
}
