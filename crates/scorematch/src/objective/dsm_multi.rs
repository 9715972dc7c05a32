//! Multi-σ (annealed) DSM (Song & Ermon 2019): each sample gets a noise level drawn uniformly
//! from the geometric schedule σ_max = σ₁ > … > σ_L = σ_min, and the loss is
//! ½‖σᵢ s(x̃, σᵢ) + ε‖² (weighting λ(σ) = σ²), for a noise-conditional model.

use burn::tensor::Tensor;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{Batch, LossEnv, check_sigma, half_mean_sq_norm};
use crate::error::ParamError;
use crate::model::ScoreModel;
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
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
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

    /// The schedule σ₁ = σ_max > … > σ_L = σ_min, geometric.
    pub fn schedule(&self) -> Vec<f64> {
        geometric_schedule(self.sigma_max, self.sigma_min, self.levels)
    }

    /// ½ mean ‖σᵢ s(x̃ᵢ, σᵢ) + εᵢ‖².
    pub fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
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
}

/// `levels` values from `from` to `to`, geometrically spaced (one level gives `to`).
pub fn geometric_schedule(from: f64, to: f64, levels: usize) -> Vec<f64> {
    if levels <= 1 {
        return vec![to];
    }
    let ratio = (to / from).powf(1.0 / (levels - 1) as f64);
    (0..levels).map(|i| from * ratio.powi(i as i32)).collect()
}
