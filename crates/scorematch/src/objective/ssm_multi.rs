//! SSM over noise levels: sliced score matching of a noise-conditional model on noised data,
//! over a geometric schedule σ_max = σ₁ > … > σ_L = σ_min (the annealed sliced score matching
//! of NCSN, Song & Ermon 2019). Each sample gets σᵢ drawn uniformly from the schedule and
//! x̃ = x + σᵢε; the loss is
//!
//! σᵢ² [vᵀ(∂s/∂x)(x̃, σᵢ) v + ½ (vᵀ s(x̃, σᵢ))²],
//!
//! with dsm-multi's weighting λ(σ) = σ², which makes the levels' terms of one order.

use burn::tensor::Tensor;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::ssm::{Projection, SsmParams, host_directions};
use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, add_noise, check_sigma,
    fill_normals, geometric_schedule, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};
use crate::rng::normals;

/// Parameters of `ssm-multi` and `ssm-vr-multi`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsmMultiParams {
    /// Smallest noise level (default 0.01).
    #[serde(default = "default_min")]
    pub sigma_min: f64,
    /// Largest noise level (default 1.0).
    #[serde(default = "default_max")]
    pub sigma_max: f64,
    /// Number of levels L ≥ 1 (default 10).
    #[serde(default = "default_levels")]
    pub levels: usize,
    /// Projections per sample (default 1).
    #[serde(default = "one")]
    pub projections: usize,
    /// Law of the projections (default gaussian).
    #[serde(default)]
    pub projection: Projection,
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

fn one() -> usize {
    1
}

impl Default for SsmMultiParams {
    fn default() -> Self {
        Self {
            sigma_min: default_min(),
            sigma_max: default_max(),
            levels: default_levels(),
            projections: 1,
            projection: Projection::default(),
        }
    }
}

/// What both multi-σ sliced objectives need.
pub(super) const MULTI_SLICED_CAPS: ObjectiveCaps = ObjectiveCaps {
    fused_on_energy: true,
    trains: true,
    differentiates_jacobian: true,
    uses_data_scores: false,
    noise_conditioning: NoiseConditioning::Required,
};

impl SsmMultiParams {
    /// Every problem with the parameters (shared by both multi-σ sliced objectives).
    pub(super) fn check(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_sigma("sigma_min", self.sigma_min, &mut errors);
        check_sigma("sigma_max", self.sigma_max, &mut errors);
        if self.sigma_max < self.sigma_min {
            errors.push(ParamError::new("sigma_max", "must not be below sigma_min"));
        }
        if self.levels == 0 {
            errors.push(ParamError::new("levels", "must be at least 1"));
        }
        if self.projections == 0 {
            errors.push(ParamError::new("projections", "must be at least 1"));
        }
        errors
    }

    /// The schedule σ₁ = σ_max > … > σ_L = σ_min, geometric.
    pub fn schedule(&self) -> Vec<f64> {
        geometric_schedule(self.sigma_max, self.sigma_min, self.levels)
    }

    /// The projections, as SSM's parameters.
    fn sliced(&self) -> SsmParams {
        SsmParams {
            projections: self.projections,
            projection: self.projection,
        }
    }
}

/// The sliced terms of one batch at noised points, per direction row (row k·B + b for sample
/// b): s, v, vᵀ(∂s/∂x)v and the weight σ².
///
/// # Shapes
/// - `batch`: `[B, D]` → (s, v `[K·B, D]`; vᵀJv, σ² `[K·B, 1]`)
pub(super) fn noised_projected_terms(
    params: &SsmMultiParams,
    model: &ScoreModel,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>) {
    let (b, d, k) = (batch.rows, batch.dim, params.projections);
    let schedule = params.schedule();
    let sigmas: Vec<f64> = (0..b)
        .map(|_| schedule[env.rng.random_range(0..schedule.len())])
        .collect();
    let eps = normals(env.rng, batch.x.len());
    let noisy: Vec<f64> = batch
        .x
        .chunks_exact(d)
        .zip(eps.chunks_exact(d))
        .zip(&sigmas)
        .flat_map(|((x, e), s)| x.iter().zip(e).map(move |(x, e)| x + s * e))
        .collect();
    let xs = env.ctx.matrix(&noisy, b, d).repeat_dim(0, k);
    let sigma = env.ctx.matrix(&sigmas, b, 1).repeat_dim(0, k);
    let v = env
        .ctx
        .matrix(&params.projection.draw(env.rng, k * b * d), k * b, d);
    let (s, jv) = model.forward_jvp(xs, v.clone(), Some(&sigma));
    let vjv = (v.clone() * jv).sum_dim(1);
    (s, v, vjv, sigma.powi_scalar(2))
}

/// The fused step's inputs: σᵢ per sample, x̃ = x + σᵢε, then the directions (drawn in the
/// order of [`noised_projected_terms`]).
pub(super) fn host_noised_directions<T: Real>(
    params: &SsmMultiParams,
    env: &mut LossEnv<'_>,
    step: &mut HostStep<T>,
) {
    let schedule = params.schedule();
    let sigmas = &mut step.row_sigma;
    for s in sigmas.iter_mut() {
        *s = schedule[env.rng.random_range(0..schedule.len())];
    }
    let dim = step.net.shape().dim;
    let [eps, noisy] = &mut step.scratch;
    eps.resize(step.net.x_mut().len(), 0.0);
    fill_normals(env.rng, eps);
    add_noise(step.net.x_mut(), eps, dim, |r| sigmas[r], noisy);
    to_real(sigmas, step.net.sigma_mut());
    host_directions(&params.sliced(), env, step);
}

/// mean σ² vᵀ(∂s/∂x)v over the direction rows of a fused step, with its gradient;
/// `score_term` adds the projection or norm term and its gradient with respect to s. Returns
/// the loss.
pub(super) fn host_weighted_loss<T: Real>(
    step: &mut HostStep<T>,
    score_term: impl FnOnce(&[T], &[T], &[T], &mut [T]) -> f64,
) -> f64 {
    let out = step.net.outputs();
    let (n, b) = (out.vjv.len(), out.rows);
    let inv = T::from_f64(1.0 / n as f64);
    let mut total = 0.0;
    for (j, (g, &q)) in out.grad_vjv.iter_mut().zip(out.vjv).enumerate() {
        let weight = out.sigma[j % b] * out.sigma[j % b];
        total += (weight * q).to_f64();
        *g = weight * inv;
    }
    total / n as f64 + score_term(out.s, out.v, out.sigma, out.grad_s)
}

impl Objective for SsmMultiParams {
    const CAPS: ObjectiveCaps = MULTI_SLICED_CAPS;

    fn validate(&self) -> Vec<ParamError> {
        self.check()
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

    /// mean σᵢ² [vᵀJv + ½ (vᵀs)²] at x̃.
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (s, v, vjv, weight) = noised_projected_terms(self, model, batch, env);
        ((vjv + (v * s).sum_dim(1).powi_scalar(2) * 0.5) * weight).mean()
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        self.sliced().pass()
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_noised_directions(self, env, step);
    }

    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        host_weighted_loss(step, |s, v, sigma, grad_s| {
            let (b, d) = (sigma.len(), s.len() / sigma.len());
            let n = v.len() / d;
            let inv = T::from_f64(1.0 / n as f64);
            grad_s.fill(T::ZERO);
            let mut total = 0.0;
            for (j, v) in v.chunks_exact(d).enumerate() {
                let r = j % b;
                let weight = sigma[r] * sigma[r];
                let s_r = &s[r * d..(r + 1) * d];
                let q: T = v.iter().zip(s_r).fold(T::ZERO, |acc, (&a, &b)| acc + a * b);
                total += 0.5 * (weight * q * q).to_f64();
                let scale = weight * q * inv;
                grad_s[r * d..(r + 1) * d]
                    .iter_mut()
                    .zip(v)
                    .for_each(|(g, &v)| *g += scale * v);
            }
            total / n as f64
        })
    }
}
