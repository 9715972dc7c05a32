//! Score-matching objectives. Each is a parameter struct implementing [`Objective`]: its
//! loss as burn tensor ops (the batch mean, a one-element tensor ready for `backward()`), the
//! same loss on the host for the fused engine, and what it needs from the model and the data.
//!
//! Adding an objective: one file with its parameter struct and its [`Objective`] impl, plus
//! one line in the registry at the end of this file. Validation, both engines, the runner,
//! the docs' name lists and the registry-wide tests pick it up from there.

mod dsm;
mod dsm_multi;
mod esm;
mod fd_energy;
mod fd_ssm;
mod fd_ssm_vr;
mod host;
mod ism;
mod none;
mod ssm;
mod ssm_multi;
mod ssm_vr;
mod ssm_vr_multi;

pub use dsm::DsmParams;
pub use dsm_multi::{DsmMultiParams, geometric_schedule};
pub use esm::EsmParams;
pub use fd_ssm::{FdDirection, FdSsmParams};
pub use fd_ssm_vr::FdSsmVrParams;
pub use host::HostStep;
pub(crate) use host::{add_noise, fill_normals, host_half_mean_sq, to_real};
pub use ism::IsmParams;
pub use none::NoTrainingParams;
pub use ssm::{Projection, SsmParams};
pub use ssm_multi::SsmMultiParams;
pub use ssm_vr::SsmVrParams;
pub use ssm_vr_multi::SsmVrMultiParams;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::data::Density;
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
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

/// How an objective treats a noise-conditional model s_θ(x, σ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseConditioning {
    /// Its loss has no noise level to give the model.
    Refused,
    /// It feeds its σ to the model when the model takes one.
    Accepted,
    /// It draws σ per sample and needs a model that takes it.
    Required,
}

/// What an objective needs from the model and the data. Every objective states each field:
/// none is assumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectiveCaps {
    /// It has a loss for a training loop to minimise (`none`, which pairs with the
    /// training-free estimators, has not).
    pub trains: bool,
    /// The loss contains the network's Jacobian, so the activation's second derivative must
    /// not vanish.
    pub differentiates_jacobian: bool,
    /// The loss uses the exact data score ∇log p of the batch.
    pub uses_data_scores: bool,
    /// Whether σ goes to a noise-conditional model.
    pub noise_conditioning: NoiseConditioning,
    /// The fused kernels compute its loss on an energy network (else such runs train on the
    /// reference engine).
    pub fused_on_energy: bool,
}

/// A score-matching objective: its parameters, what it needs, and its loss in both engines.
pub trait Objective {
    /// What the objective needs from the model and the data.
    const CAPS: ObjectiveCaps;

    /// Every problem with the parameters (keys relative to the objective's block).
    fn validate(&self) -> Vec<ParamError>;

    /// The noise level σ whose noised density p_σ the objective targets (the smallest one for
    /// a schedule); `None` for objectives on the clean data. This is the CSV's `sigma`.
    fn sigma(&self) -> Option<f64>;

    /// Whether the loss needs the closed-form noised density p_σ (targets ∇log p_σ).
    fn needs_noised_density(&self) -> bool;

    /// The exact-trace path asked for, for objectives whose loss has the Jacobian's trace.
    fn trace(&self) -> Option<TracePath>;

    /// The batch-mean loss.
    ///
    /// # Shapes
    /// - `batch`: `[B, D]` on the host → `[1]` on `env.ctx`'s device
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1>;

    /// The network pass the fused form needs; `trace` is the model's resolved trace path.
    fn host_pass(&self, trace: TracePath) -> Pass;

    /// The network rows of a fused step on `batch` samples (more than `batch` where the
    /// loss evaluates s at several points per sample).
    fn host_rows(&self, batch: usize) -> usize;

    /// Completes the network inputs of a fused step whose batch was gathered into
    /// [`HostStep::batch_buffers`], drawing noise and projections from `env.rng` exactly as
    /// [`Objective::loss`] does.
    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>);

    /// The batch-mean loss of a fused step from the network's outputs, with its gradients
    /// with respect to those outputs written into the network's buffers.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64;
}

/// Makes [`ObjectiveConfig`] from the registry's lines `Variant(Params) = "name";`: the enum
/// sweep files deserialise into, its names and capabilities, and the dispatch of every
/// [`Objective`] method to the variant's parameters.
macro_rules! objectives {
    ($($(#[doc = $doc:literal])* $variant:ident($params:ty) = $name:literal;)+) => {
        /// An objective as named in a sweep file: `"esm"` or `{ name = "dsm", sigma = 0.1 }`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "name")]
        pub enum ObjectiveConfig {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($params),)+
        }

        impl ObjectiveConfig {
            /// Every objective's name, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// Every objective's name and capabilities, in registry order.
            pub const CAPS: &'static [(&'static str, ObjectiveCaps)] =
                &[$(($name, <$params as Objective>::CAPS)),+];

            /// Every objective with its default parameters, in registry order.
            pub fn defaults() -> Vec<Self> {
                vec![$(Self::$variant(<$params>::default())),+]
            }

            /// The objective's name.
            pub fn name(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name),+ }
            }

            /// What the objective needs from the model and the data.
            pub fn caps(&self) -> ObjectiveCaps {
                match self { $(Self::$variant(_) => <$params as Objective>::CAPS),+ }
            }

            /// See [`Objective::validate`].
            pub fn validate(&self) -> Vec<ParamError> {
                match self { $(Self::$variant(p) => p.validate()),+ }
            }

            /// See [`Objective::sigma`].
            pub fn sigma(&self) -> Option<f64> {
                match self { $(Self::$variant(p) => p.sigma()),+ }
            }

            /// See [`Objective::needs_noised_density`].
            pub fn needs_noised_density(&self) -> bool {
                match self { $(Self::$variant(p) => p.needs_noised_density()),+ }
            }

            /// See [`Objective::trace`].
            pub fn trace(&self) -> Option<TracePath> {
                match self { $(Self::$variant(p) => p.trace()),+ }
            }

            /// See [`Objective::loss`].
            ///
            /// # Shapes
            /// - `batch`: `[B, D]` on the host → `[1]` on `env.ctx`'s device
            pub fn loss(
                &self,
                model: &ScoreModel,
                batch: &Batch,
                env: &mut LossEnv<'_>,
            ) -> Tensor<1> {
                match self { $(Self::$variant(p) => p.loss(model, batch, env)),+ }
            }

            /// See [`Objective::host_pass`].
            pub fn host_pass(&self, trace: TracePath) -> Pass {
                match self { $(Self::$variant(p) => p.host_pass(trace)),+ }
            }

            /// See [`Objective::host_rows`].
            pub fn host_rows(&self, batch: usize) -> usize {
                match self { $(Self::$variant(p) => p.host_rows(batch)),+ }
            }

            /// See [`Objective::host_inputs`].
            pub fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
                match self { $(Self::$variant(p) => p.host_inputs(env, step)),+ }
            }

            /// See [`Objective::host_loss`].
            pub fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
                match self { $(Self::$variant(p) => p.host_loss(step)),+ }
            }
        }
    };
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

objectives! {
    /// `esm`: explicit score matching against the analytic score.
    Esm(EsmParams) = "esm";
    /// `ism`: implicit (Hyvärinen) score matching with the exact trace.
    Ism(IsmParams) = "ism";
    /// `ssm`: sliced score matching.
    Ssm(SsmParams) = "ssm";
    /// `ssm-vr`: sliced score matching with variance reduction.
    SsmVr(SsmVrParams) = "ssm-vr";
    /// `fd-ssm`: sliced score matching by finite differences of s.
    FdSsm(FdSsmParams) = "fd-ssm";
    /// `fd-ssm-vr`: variance-reduced sliced score matching by finite differences of s.
    FdSsmVr(FdSsmVrParams) = "fd-ssm-vr";
    /// `dsm`: denoising score matching at one noise level.
    Dsm(DsmParams) = "dsm";
    /// `dsm-multi`: denoising score matching over a geometric schedule of noise levels.
    DsmMulti(DsmMultiParams) = "dsm-multi";
    /// `ssm-multi`: sliced score matching over a geometric schedule of noise levels.
    SsmMulti(SsmMultiParams) = "ssm-multi";
    /// `ssm-vr-multi`: variance-reduced sliced score matching over noise levels.
    SsmVrMulti(SsmVrMultiParams) = "ssm-vr-multi";
    /// `none`: no training, for the training-free estimators.
    NoTraining(NoTrainingParams) = "none";
}

#[cfg(test)]
mod tests;
