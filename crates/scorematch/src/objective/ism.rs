//! ISM: implicit score matching (Hyvärinen 2005), ½‖s(x)‖² + tr(∂s/∂x) with the exact trace.
//! It equals ESM up to a constant that does not depend on θ.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, half_mean_sq_norm,
    host_half_mean_sq,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `ism`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsmParams {
    /// How the trace is computed (default auto: the fast path where the model allows it).
    #[serde(default)]
    pub trace: TracePath,
}

impl Objective for IsmParams {
    const CAPS: ObjectiveCaps = ObjectiveCaps {
        fused_on_energy: true,
        trains: true,
        differentiates_jacobian: true,
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
        Some(self.trace)
    }

    /// ½ mean ‖s(x)‖² + mean tr(∂s/∂x).
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let x = env.ctx.matrix(&batch.x, batch.rows, batch.dim);
        let (s, trace) = model.forward_trace(x, None, self.trace);
        half_mean_sq_norm(s) + trace.mean()
    }

    fn host_pass(&self, trace: TracePath) -> Pass {
        Pass::Trace {
            columns: trace == TracePath::Jacobian,
        }
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, _env: &mut LossEnv<'_>, _step: &mut HostStep<T>) {}

    /// ½ mean ‖s‖² + mean tr J of a fused step, and its gradients with respect to s and tr J.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let out = step.net.outputs();
        let inv = 1.0 / out.rows as f64;
        let trace: f64 = out.trace.iter().map(|t| t.to_f64()).sum();
        out.grad_trace.fill(T::from_f64(inv));
        host_half_mean_sq(out.s, out.rows, out.grad_s) + trace * inv
    }
}
