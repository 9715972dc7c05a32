//! Score-matching objectives. Each returns the batch mean of its per-sample loss as a
//! one-element tensor on the training device, ready for `backward()`.
//!
//! Adding an objective: one file with its parameter struct and loss, plus one arm in
//! [`ObjectiveConfig`].

mod dsm;
mod dsm_multi;
mod esm;
mod ism;
mod ssm;
mod ssm_vr;

pub use dsm::DsmParams;
pub use dsm_multi::{DsmMultiParams, geometric_schedule};
pub use esm::EsmParams;
pub use ism::IsmParams;
pub use ssm::{Projection, SsmParams};

use burn::tensor::Tensor;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::data::Density;
use crate::error::ParamError;
use crate::kernels::{MlpKernel, Pass, Real};
use crate::model::{ScoreModel, TracePath};
use crate::rng::Rng;

/// One training batch on the host.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Data points, row-major `[batch, dim]`.
    pub x: Vec<f64>,
    /// Exact data scores ∇log p at `x`, row-major `[batch, dim]`.
    pub score: Vec<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Dimension.
    pub dim: usize,
}

/// What an objective may use besides the batch.
pub struct LossEnv<'a> {
    /// Where tensors are made (the training device).
    pub ctx: &'a Ctx,
    /// The run's training random stream (noise, projections).
    pub rng: &'a mut Rng,
    /// The noised data density p_σ at the objective's noise level, where it has a closed form.
    pub noised: Option<&'a dyn Density>,
}

/// The host side of a fused training step: the network's buffers, and what the loss keeps of
/// the batch between the forward pass and the loss.
#[derive(Clone, Debug)]
pub struct HostStep<T> {
    /// The network pass (inputs, outputs and their gradients).
    pub net: MlpKernel<T>,
    /// Targets (ESM) or noise ε (DSM), `[B, D]`.
    aux: Vec<T>,
    /// Host scratch in f64, `[B, D]` each: noise draws and noisy points / targets.
    scratch: [Vec<f64>; 2],
    /// Per-sample noise levels in f64, `[B]`.
    row_sigma: Vec<f64>,
}

impl<T: Real> HostStep<T> {
    /// The buffers a batch is gathered into: the network's inputs x `[B, D]` and the data
    /// scores at x `[B, D]` (kept for the loss).
    pub fn batch_buffers(&mut self) -> (&mut [T], &mut [T]) {
        (self.net.x_mut(), &mut self.aux)
    }

    /// Buffers for `net`'s batch.
    pub fn new(net: MlpKernel<T>) -> Self {
        let n = net.rows() * net.shape().dim;
        Self {
            aux: vec![T::ZERO; n],
            scratch: [vec![0.0; n], vec![0.0; n]],
            row_sigma: vec![0.0; net.rows()],
            net,
        }
    }
}

/// Fills `out` with standard normal draws: the same numbers as [`crate::rng::normals`].
pub(crate) fn fill_normals(rng: &mut Rng, out: &mut [f64]) {
    // A local copy keeps the generator's state in registers through the loop.
    let mut local = rng.clone();
    for (v, x) in out.iter_mut().zip(StandardNormal.sample_iter(&mut local)) {
        *v = x;
    }
    *rng = local;
}

/// Converts host f64 values into the kernels' precision.
pub(crate) fn to_real<T: Real>(src: &[f64], dst: &mut [T]) {
    dst.iter_mut()
        .zip(src)
        .for_each(|(d, &s)| *d = T::from_f64(s));
}

/// x ← x + σ_r ε row by row (rows of `dim`, σ_r = `sigma(r)`), computed in f64; the noisy
/// points are also left in `noisy`.
pub(crate) fn add_noise<T: Real>(
    x: &mut [T],
    eps: &[f64],
    dim: usize,
    sigma: impl Fn(usize) -> f64,
    noisy: &mut [f64],
) {
    for (r, ((x, e), n)) in x
        .chunks_exact_mut(dim)
        .zip(eps.chunks_exact(dim))
        .zip(noisy.chunks_exact_mut(dim))
        .enumerate()
    {
        let s = sigma(r);
        for ((x, &e), n) in x.iter_mut().zip(e).zip(n) {
            *n = x.to_f64() + s * e;
            *x = T::from_f64(*n);
        }
    }
}

/// ½ mean ‖r‖² over the rows of `r` (f64 sum), with ∂/∂r = r / rows written to `grad`.
pub(crate) fn host_half_mean_sq<T: Real>(r: &[T], rows: usize, grad: &mut [T]) -> f64 {
    let inv = T::from_f64(1.0 / rows as f64);
    let mut total = 0.0;
    for (g, &v) in grad.iter_mut().zip(r) {
        total += v.to_f64() * v.to_f64();
        *g = v * inv;
    }
    0.5 * total / rows as f64
}

/// An objective as named in a sweep file: `"esm"` or `{ name = "dsm", sigma = 0.1 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum ObjectiveConfig {
    /// `esm`: explicit score matching against the analytic score.
    #[serde(rename = "esm")]
    Esm(EsmParams),
    /// `ism`: implicit (Hyvärinen) score matching with the exact trace.
    #[serde(rename = "ism")]
    Ism(IsmParams),
    /// `ssm`: sliced score matching.
    #[serde(rename = "ssm")]
    Ssm(SsmParams),
    /// `ssm-vr`: sliced score matching with variance reduction.
    #[serde(rename = "ssm-vr")]
    SsmVr(SsmParams),
    /// `dsm`: denoising score matching at one noise level.
    #[serde(rename = "dsm")]
    Dsm(DsmParams),
    /// `dsm-multi`: denoising score matching over a geometric schedule of noise levels.
    #[serde(rename = "dsm-multi")]
    DsmMulti(DsmMultiParams),
}

impl ObjectiveConfig {
    /// Names of every objective.
    pub const NAMES: [&'static str; 6] = ["esm", "ism", "ssm", "ssm-vr", "dsm", "dsm-multi"];

    /// The objective's name.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveConfig::Esm(_) => "esm",
            ObjectiveConfig::Ism(_) => "ism",
            ObjectiveConfig::Ssm(_) => "ssm",
            ObjectiveConfig::SsmVr(_) => "ssm-vr",
            ObjectiveConfig::Dsm(_) => "dsm",
            ObjectiveConfig::DsmMulti(_) => "dsm-multi",
        }
    }

    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        match self {
            ObjectiveConfig::Esm(p) => p.validate(),
            ObjectiveConfig::Ism(_) => Vec::new(),
            ObjectiveConfig::Ssm(p) | ObjectiveConfig::SsmVr(p) => p.validate(),
            ObjectiveConfig::Dsm(p) => p.validate(),
            ObjectiveConfig::DsmMulti(p) => p.validate(),
        }
    }

    /// The noise level σ whose noised density p_σ the objective targets (the smallest one for
    /// a schedule); `None` for objectives on the clean data. This is the CSV's `sigma`.
    pub fn sigma(&self) -> Option<f64> {
        match self {
            ObjectiveConfig::Esm(p) => p.sigma,
            ObjectiveConfig::Dsm(p) => Some(p.sigma),
            ObjectiveConfig::DsmMulti(p) => Some(p.sigma_min),
            ObjectiveConfig::Ism(_) | ObjectiveConfig::Ssm(_) | ObjectiveConfig::SsmVr(_) => None,
        }
    }

    /// Whether the loss contains the network's Jacobian (so act″ must not vanish).
    pub fn differentiates_jacobian(&self) -> bool {
        matches!(
            self,
            ObjectiveConfig::Ism(_) | ObjectiveConfig::Ssm(_) | ObjectiveConfig::SsmVr(_)
        )
    }

    /// Whether the loss may use the data score ∇log p of the batch (ESM).
    pub fn uses_data_scores(&self) -> bool {
        matches!(self, ObjectiveConfig::Esm(_))
    }

    /// Whether the objective feeds σ to a noise-conditional model.
    pub fn supports_noise_conditional(&self) -> bool {
        matches!(self, ObjectiveConfig::Dsm(_) | ObjectiveConfig::DsmMulti(_))
    }

    /// The batch-mean loss.
    ///
    /// # Shapes
    /// - `batch`: `[B, D]` on the host → `[1]` on `env.ctx`'s device
    pub fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        match self {
            ObjectiveConfig::Esm(p) => p.loss(model, batch, env),
            ObjectiveConfig::Ism(p) => p.loss(model, batch, env),
            ObjectiveConfig::Ssm(p) => ssm::loss(p, model, batch, env),
            ObjectiveConfig::SsmVr(p) => ssm_vr::loss(p, model, batch, env),
            ObjectiveConfig::Dsm(p) => p.loss(model, batch, env),
            ObjectiveConfig::DsmMulti(p) => p.loss(model, batch, env),
        }
    }
}

impl ObjectiveConfig {
    /// The network pass the objective's fused form needs; `trace` is the resolved trace path
    /// of the model (ISM).
    pub fn host_pass(&self, trace: TracePath) -> Pass {
        match self {
            ObjectiveConfig::Esm(_) | ObjectiveConfig::Dsm(_) | ObjectiveConfig::DsmMulti(_) => {
                Pass::Forward
            }
            ObjectiveConfig::Ism(_) => Pass::Trace {
                columns: trace == TracePath::Jacobian,
            },
            ObjectiveConfig::Ssm(p) | ObjectiveConfig::SsmVr(p) => Pass::Projected {
                per_row: p.projections,
            },
        }
    }

    /// Completes the network inputs of a fused step whose batch was gathered into
    /// [`HostStep::batch_buffers`], drawing noise and projections from `env.rng` exactly as
    /// [`Self::loss`] does.
    pub fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        match self {
            ObjectiveConfig::Esm(p) => p.host_inputs(env, step),
            ObjectiveConfig::Ism(_) => {}
            ObjectiveConfig::Ssm(p) | ObjectiveConfig::SsmVr(p) => ssm::host_inputs(p, env, step),
            ObjectiveConfig::Dsm(p) => p.host_inputs(env, step),
            ObjectiveConfig::DsmMulti(p) => p.host_inputs(env, step),
        }
    }

    /// The batch-mean loss of a fused step from the network's outputs, with its gradients
    /// with respect to those outputs written into the network's buffers.
    pub fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        match self {
            ObjectiveConfig::Esm(_) => esm::host_loss(step),
            ObjectiveConfig::Ism(_) => ism::host_loss(step),
            ObjectiveConfig::Ssm(_) => ssm::host_loss(step),
            ObjectiveConfig::SsmVr(_) => ssm_vr::host_loss(step),
            ObjectiveConfig::Dsm(p) => p.host_loss(step),
            ObjectiveConfig::DsmMulti(_) => dsm_multi::host_loss(step),
        }
    }
}

/// σ must be a positive finite number.
pub(crate) fn check_sigma(key: &str, sigma: f64, errors: &mut Vec<ParamError>) {
    if !(sigma > 0.0 && sigma.is_finite()) {
        errors.push(ParamError::new(
            key,
            format!("must be positive, got {sigma}"),
        ));
    }
}

/// ½‖a‖² per row, averaged over rows.
///
/// # Shapes
/// - `a`: `[B, D]` → `[1]`
pub(crate) fn half_mean_sq_norm(a: Tensor<2>) -> Tensor<1> {
    a.powi_scalar(2).sum_dim(1).mean() * 0.5
}

/// A host buffer of x + σε, with ε drawn from `rng`; returns (x + σε, ε).
pub(crate) fn perturb(x: &[f64], sigma: f64, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let eps = crate::rng::normals(rng, x.len());
    let noisy = x.iter().zip(&eps).map(|(x, e)| x + sigma * e).collect();
    (noisy, eps)
}

#[cfg(test)]
mod tests;
