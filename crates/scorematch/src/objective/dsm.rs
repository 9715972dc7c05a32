//! DSM: denoising score matching (Vincent 2011) at one noise level σ. With x̃ = x + σε the
//! loss is ½‖s(x̃) + (x̃ − x)/σ²‖²·λ(σ) with λ(σ) = σ², i.e. ½‖σ s(x̃) + ε‖², whose minimiser
//! is the score of p_σ = p * N(0, σ²I). The CSV's loss columns use this σ²-weighted form.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, add_noise, check_sigma,
    fill_normals, half_mean_sq_norm, host_half_mean_sq, perturb, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `dsm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsmParams {
    /// Noise level σ (default 0.1).
    #[serde(default = "default_sigma")]
    pub sigma: f64,
}

fn default_sigma() -> f64 {
    0.1
}

impl Default for DsmParams {
    fn default() -> Self {
        Self {
            sigma: default_sigma(),
        }
    }
}

impl Objective for DsmParams {
    const CAPS: ObjectiveCaps = ObjectiveCaps {
        fused_on_energy: true,
        trains: true,
        differentiates_jacobian: false,
        uses_data_scores: false,
        noise_conditioning: NoiseConditioning::Accepted,
    };

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_sigma("sigma", self.sigma, &mut errors);
        errors
    }

    fn sigma(&self) -> Option<f64> {
        Some(self.sigma)
    }

    fn needs_noised_density(&self) -> bool {
        false
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// ½ mean ‖σ s(x + σε) + ε‖².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (noisy, eps) = perturb(&batch.x, self.sigma, env.rng);
        let noisy = env.ctx.matrix(&noisy, batch.rows, batch.dim);
        let eps = env.ctx.matrix(&eps, batch.rows, batch.dim);
        let sigma = env.ctx.matrix(&vec![self.sigma; batch.rows], batch.rows, 1);
        let s = model.forward(noisy, Some(&sigma));
        half_mean_sq_norm(s * self.sigma + eps)
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    /// The fused step's inputs: x + σε (and σ for a noise-conditional model), keeping ε.
    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        let dim = step.net.shape().dim;
        let [eps, noisy] = &mut step.scratch;
        fill_normals(env.rng, eps);
        add_noise(step.net.x_mut(), eps, dim, |_| self.sigma, noisy);
        to_real(eps, &mut step.aux);
        step.net.sigma_mut().fill(T::from_f64(self.sigma));
    }

    /// ½ mean ‖σ s + ε‖² of a fused step, and its gradient with respect to s.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let sigma = T::from_f64(self.sigma);
        let out = step.net.outputs();
        for (r, &s) in step.aux.iter_mut().zip(out.s) {
            *r = s * sigma + *r;
        }
        let loss = host_half_mean_sq(&step.aux, out.rows, out.grad_s);
        out.grad_s.iter_mut().for_each(|g| *g *= sigma);
        loss
    }
}
