//! Multi-σ (annealed) DSM (Song & Ermon 2019): each sample gets a noise level drawn uniformly
//! from the geometric schedule σ_max = σ₁ > … > σ_L = σ_min, and the loss is
//! ½‖σᵢ s(x̃, σᵢ) + ε‖² (weighting λ(σ) = σ²), for a noise-conditional model.

use burn::tensor::Tensor;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, add_noise, check_sigma,
    fill_normals, half_mean_sq_norm, host_half_mean_sq, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};
use crate::rng::normals;

/// Parameters of `dsm-multi`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsmMultiParams {
    /// Smallest noise level (default 0.01).
    #[serde(default = "default_min")]
    pub sigma_min: f64,
    /// Largest noise level (default 1.0).
    #[serde(default = "default_max")]
    pub sigma_max: f64,
    /// Number of levels L ≥ 1 (default 10).
    #[serde(default = "default_levels")]
    pub levels: usize,
}

fn default_min() -> f64 {
    0.01
}

fn default_max() -> f64 {
    1.0
}

fn default_levels() -> usize {
    10
}

impl Default for DsmMultiParams {
    fn default() -> Self {
        Self {
            sigma_min: default_min(),
            sigma_max: default_max(),
            levels: default_levels(),
        }
    }
}

impl DsmMultiParams {
    /// The schedule σ₁ = σ_max > … > σ_L = σ_min, geometric.
    pub fn schedule(&self) -> Vec<f64> {
        geometric_schedule(self.sigma_max, self.sigma_min, self.levels)
    }
}

impl Objective for DsmMultiParams {
    const CAPS: ObjectiveCaps = ObjectiveCaps {
        fused_on_energy: true,
        trains: true,
        differentiates_jacobian: false,
        uses_data_scores: false,
        noise_conditioning: NoiseConditioning::Required,
    };

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_sigma("sigma_min", self.sigma_min, &mut errors);
        check_sigma("sigma_max", self.sigma_max, &mut errors);
        if self.sigma_max < self.sigma_min {
            errors.push(ParamError::new("sigma_max", "must not be below sigma_min"));
        }
        if self.levels == 0 {
            errors.push(ParamError::new("levels", "must be at least 1"));
        }
        errors
    }

    fn sigma(&self) -> Option<f64> {
        Some(self.sigma_min)
    }

    fn needs_noised_density(&self) -> bool {
        false
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// ½ mean ‖σᵢ s(x̃ᵢ, σᵢ) + εᵢ‖².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let schedule = self.schedule();
        let sigmas: Vec<f64> = (0..batch.rows)
            .map(|_| schedule[env.rng.random_range(0..schedule.len())])
            .collect();
        let eps = normals(env.rng, batch.x.len());
        let noisy: Vec<f64> = batch
            .x
            .chunks_exact(batch.dim)
            .zip(eps.chunks_exact(batch.dim))
            .zip(&sigmas)
            .flat_map(|((x, e), s)| x.iter().zip(e).map(move |(x, e)| x + s * e))
            .collect();
        let sigma = env.ctx.matrix(&sigmas, batch.rows, 1);
        let noisy = env.ctx.matrix(&noisy, batch.rows, batch.dim);
        let eps = env.ctx.matrix(&eps, batch.rows, batch.dim);
        let s = model.forward(noisy, Some(&sigma));
        half_mean_sq_norm(s * sigma + eps)
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    /// The fused step's inputs: x + σᵢε with σᵢ drawn per sample, keeping ε.
    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        let schedule = self.schedule();
        let sigmas = &mut step.row_sigma;
        for s in sigmas.iter_mut() {
            *s = schedule[env.rng.random_range(0..schedule.len())];
        }
        let dim = step.net.shape().dim;
        let [eps, noisy] = &mut step.scratch;
        fill_normals(env.rng, eps);
        add_noise(step.net.x_mut(), eps, dim, |r| sigmas[r], noisy);
        to_real(eps, &mut step.aux);
        to_real(sigmas, step.net.sigma_mut());
    }

    /// ½ mean ‖σᵢ s + ε‖² of a fused step, and its gradient with respect to s.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let out = step.net.outputs();
        let d = out.s.len() / out.rows;
        for ((r, s), &sigma) in step
            .aux
            .chunks_exact_mut(d)
            .zip(out.s.chunks_exact(d))
            .zip(out.sigma)
        {
            r.iter_mut().zip(s).for_each(|(r, &s)| *r = s * sigma + *r);
        }
        let loss = host_half_mean_sq(&step.aux, out.rows, out.grad_s);
        for (g, &sigma) in out.grad_s.chunks_exact_mut(d).zip(out.sigma) {
            g.iter_mut().for_each(|g| *g *= sigma);
        }
        loss
    }
}

/// `levels` values from `from` to `to`, geometrically spaced (one level gives `to`).
pub fn geometric_schedule(from: f64, to: f64, levels: usize) -> Vec<f64> {
    if levels <= 1 {
        return vec![to];
    }
    let ratio = (to / from).powf(1.0 / (levels - 1) as f64);
    (0..levels).map(|i| from * ratio.powi(i as i32)).collect()
}
