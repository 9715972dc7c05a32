//! ESM: explicit score matching, ½‖s(x) − ∇log p(x)‖² with the analytic data score. With
//! `sigma` set it is trained on the noised data p_σ instead (samples x + σε, target ∇log p_σ),
//! the reference DSM should match (Vincent 2011).

use serde::{Deserialize, Serialize};

use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, add_noise, check_sigma,
    fill_normals, half_mean_sq_norm, host_half_mean_sq, perturb, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};
use burn::tensor::Tensor;

/// Parameters of `esm`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsmParams {
    /// Train against p_σ instead of p (needs a data set with a closed-form p_σ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
}

impl Objective for EsmParams {
    const CAPS: ObjectiveCaps = ObjectiveCaps {
        fused_on_energy: true,
        trains: true,
        differentiates_jacobian: false,
        uses_data_scores: true,
        noise_conditioning: NoiseConditioning::Refused,
    };

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if let Some(sigma) = self.sigma {
            check_sigma("sigma", sigma, &mut errors);
        }
        errors
    }

    fn sigma(&self) -> Option<f64> {
        self.sigma
    }

    fn needs_noised_density(&self) -> bool {
        self.sigma.is_some()
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// ½ mean ‖s(x) − target‖².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (x, target) = match (self.sigma, env.noised) {
            (Some(sigma), Some(noised)) => {
                let (noisy, _) = perturb(&batch.x, sigma, env.rng);
                let target = noised.scores(&noisy);
                (noisy, target)
            }
            _ => (batch.x.clone(), batch.score.clone()),
        };
        let x = env.ctx.matrix(&x, batch.rows, batch.dim);
        let target = env.ctx.matrix(&target, batch.rows, batch.dim);
        half_mean_sq_norm(model.forward(x, None) - target)
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    /// The fused step's inputs: on noised data, x + σε and the noised score as the target
    /// (on clean data the gathered batch and its scores are already in place).
    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        if let (Some(sigma), Some(noised)) = (self.sigma, env.noised) {
            let dim = step.net.shape().dim;
            let [eps, noisy] = &mut step.scratch;
            fill_normals(env.rng, eps);
            add_noise(step.net.x_mut(), eps, dim, |_| sigma, noisy);
            // The noise is not needed any more: its buffer takes the targets.
            for (x, target) in noisy.chunks_exact(dim).zip(eps.chunks_exact_mut(dim)) {
                noised.score_into(x, target);
            }
            to_real(eps, &mut step.aux);
        }
    }

    /// ½ mean ‖s − target‖² of a fused step, and its gradient with respect to s.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let out = step.net.outputs();
        for (r, &s) in step.aux.iter_mut().zip(out.s) {
            *r = s - *r;
        }
        host_half_mean_sq(&step.aux, out.rows, out.grad_s)
    }
}
