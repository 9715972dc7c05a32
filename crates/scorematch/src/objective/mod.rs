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
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::data::Density;
use crate::error::ParamError;
use crate::model::ScoreModel;
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
