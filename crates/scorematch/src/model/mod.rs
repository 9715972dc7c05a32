//! Score models s_θ(x) ≈ ∇ₓ log p(x).
//!
//! Every model computes, besides `forward(x) → s`, `forward_jvp(x, v) → (s, J v)` and
//! `forward_trace(x) → (s, tr J)` with J = ∂s/∂x, built from ordinary tensor ops so that
//! reverse mode gives their gradients with respect to θ (burn has no double backward).
//!
//! Adding a model: one file with its parameter struct (implementing [`ModelKind`]) and its
//! burn module (implementing [`ScoreNet`]), plus one line in the registry (`models!`'s
//! call below), which makes both [`ModelConfig`] and [`ScoreModel`].

// First: its macros declare what the training-free estimators share.
#[macro_use]
mod rbf;
mod activation;
pub mod closed_form;
mod dense;
mod energy;
mod expfam;
mod external;
mod kde;
mod linear;
mod mlp;
mod shape;
mod ssge;
mod stein;

pub use activation::Activation;
pub use dense::Dense;
pub use energy::{EnergyNet, EnergyParams};
pub use expfam::{ExpFam, ExpFamParams, exponents, term_count};
pub use external::{DEFAULT_TIMEOUT_S, ExternalParams};
pub use kde::{Kde, KdeParams};
pub use linear::{Linear, LinearInit, LinearParams};
pub use mlp::{Mlp, MlpParams, TracePath};
pub use rbf::{Bandwidth, BandwidthRule};
pub use shape::MlpShape;
pub use ssge::{Ssge, SsgeParams};
pub use stein::{MAX_KERNEL_POINTS, Stein, SteinParams};

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::rng::Rng;

/// One named parameter tensor of a model, as checkpoints store it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamTensor {
    /// Its name: `layers.0.weight`, `bias`, `coefficients`.
    pub name: String,
    /// Its shape (values row-major).
    pub shape: Vec<usize>,
}

impl ParamTensor {
    /// A tensor named `name` of shape `shape`.
    pub fn new(name: impl Into<String>, shape: Vec<usize>) -> Self {
        Self {
            name: name.into(),
            shape,
        }
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a model gets its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// By a training loop minimising the run's objective.
    Trained,
    /// In closed form when it is made, as the minimiser of implicit score matching (no
    /// training loop; the objective must be `ism`).
    ClosedFormIsm,
    /// Built from the training pool with no objective at all (a training-free score
    /// estimator; the objective must be `none`).
    TrainingFree,
    /// By a user's command outside the library (`external`; the objective must be `none`).
    External,
}

/// A model's parameters as a sweep file gives them: what every model declares.
pub trait ModelKind: Default {
    /// The network these parameters make.
    type Net: ScoreNet;

    /// Whether the fused CPU engine has kernels for this model (else its runs train on the
    /// reference engine).
    const FUSED: bool;

    /// Whether the model has an energy E (a density p̃ = e^{−E}), not only a score.
    const HAS_ENERGY: bool;

    /// Every problem with the parameters (keys relative to the model's block).
    fn validate(&self) -> Vec<ParamError>;

    /// Every problem with the parameters for data of dimension `dim`.
    fn validate_for(&self, dim: usize) -> Vec<ParamError>;

    /// How the model gets its parameters.
    fn fit(&self) -> Fit;

    /// The activation, for models that have one (its curvature decides which objectives can
    /// train it).
    fn activation(&self) -> Option<Activation>;

    /// Whether the network takes the noise level σ as an input.
    fn is_noise_conditional(&self) -> bool;

    /// These parameters with the network taking σ as an input, for models that can; `None`
    /// for models that cannot.
    fn noise_conditional(&self) -> Option<Self>;

    /// A freshly initialised network for data of dimension `dim`. `pool` is the training
    /// data (row-major `[n, dim]`), used by data-dependent initialisations.
    fn init(&self, dim: usize, pool: &[f64], ctx: &Ctx, rng: &mut Rng) -> Result<Self::Net>;
}

/// A score network s_θ(x): what every model computes, with its input derivatives as ordinary
/// tensor ops so that reverse mode gives their gradients with respect to θ.
pub trait ScoreNet: Sized {
    /// s(x), or s(x, σ) for a noise-conditional network (others ignore σ).
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B, D]`
    fn score(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2>;

    /// s(x) and the Jacobian-vector product (∂s/∂x) v.
    ///
    /// # Shapes
    /// - `x`, `v`: `[B, D]`, `sigma`: `[B, 1]` → (`[B, D]`, `[B, D]`)
    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>);

    /// s(x) and the exact trace of ∂s/∂x, computed the way `path` resolves to.
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → (`[B, D]`, `[B]`)
    fn score_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        path: TracePath,
    ) -> (Tensor<2>, Tensor<1>);

    /// The trace path `requested` resolves to for this network (what a run records).
    fn trace_path(&self, requested: TracePath) -> TracePath;

    /// The architecture as the host kernels describe it, for networks they compute.
    fn kernel_shape(&self) -> Option<MlpShape>;

    /// The energy E(x) per sample of a model with one (p̃ = e^{−E}); `None` for free score
    /// networks.
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B]`
    fn energy(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Option<Tensor<1>>;

    /// Every parameter as f64 in the host kernels' order (see [`MlpShape`]).
    fn flat_params(&self) -> Result<Vec<f64>>;

    /// Every parameter tensor's name and shape, in [`Self::flat_params`]' order (each one's
    /// values row-major): how checkpoints name them.
    fn param_layout(&self) -> Vec<ParamTensor>;

    /// The same network with parameters `theta` (in [`Self::flat_params`]'s order), on
    /// `ctx`.
    ///
    /// # Panics
    /// If `theta` is shorter than the network's parameter count.
    fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self;

    /// Whether the network takes σ as an input (and needs it).
    fn is_noise_conditional(&self) -> bool;
}

/// Makes [`ModelConfig`] and [`ScoreModel`] from the registry's lines
/// `Variant(Params => Net) = "name";`: the enum sweep files deserialise into, the burn module
/// holding any network, their names, and the dispatch of [`ModelKind`] and [`ScoreNet`].
macro_rules! models {
    ($($(#[doc = $doc:literal])* $variant:ident($params:ty => $net:ty) = $name:literal;)+) => {
        /// A model as named in a sweep file: `{ name = "mlp", hidden = 128, depth = 2 }`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "name")]
        pub enum ModelConfig {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($params),)+
        }

        /// A score network of any registered model.
        #[derive(Module, Debug)]
        pub enum ScoreModel {
            $($(#[doc = $doc])* $variant($net),)+
        }

        impl ModelConfig {
            /// Every model's name, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// Whether the fused CPU engine has kernels for the model.
            pub fn has_fused_kernels(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as ModelKind>::FUSED),+ }
            }

            /// See [`ModelKind::HAS_ENERGY`].
            pub fn has_energy(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as ModelKind>::HAS_ENERGY),+ }
            }

            /// Every model with its default parameters, in registry order.
            pub fn defaults() -> Vec<Self> {
                vec![$(Self::$variant(<$params>::default())),+]
            }

            /// The model's name.
            pub fn name(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name),+ }
            }

            /// Every problem with the parameters.
            pub fn validate(&self) -> Vec<ParamError> {
                match self { $(Self::$variant(p) => ModelKind::validate(p)),+ }
            }

            /// See [`ModelKind::validate_for`].
            pub fn validate_for(&self, dim: usize) -> Vec<ParamError> {
                match self { $(Self::$variant(p) => p.validate_for(dim)),+ }
            }

            /// See [`ModelKind::fit`].
            pub fn fit(&self) -> Fit {
                match self { $(Self::$variant(p) => p.fit()),+ }
            }

            /// Whether the model has no training loop (fitted in closed form or training-free).
            pub fn is_fitted(&self) -> bool {
                self.fit() != Fit::Trained
            }

            /// The activation, for models that have one.
            pub fn activation(&self) -> Option<Activation> {
                match self { $(Self::$variant(p) => p.activation()),+ }
            }

            /// Whether the model takes the noise level σ as an input.
            pub fn is_noise_conditional(&self) -> bool {
                match self { $(Self::$variant(p) => ModelKind::is_noise_conditional(p)),+ }
            }

            /// The same model taking σ as an input, where the model can.
            pub fn noise_conditional(&self) -> Option<Self> {
                match self { $(Self::$variant(p) => p.noise_conditional().map(Self::$variant)),+ }
            }

            /// A freshly initialised model for data of dimension `dim`. `pool` is the
            /// training data (row-major `[n, dim]`), used by data-dependent initialisations.
            pub fn init(
                &self,
                dim: usize,
                pool: &[f64],
                ctx: &Ctx,
                rng: &mut Rng,
            ) -> Result<ScoreModel> {
                crate::error::check(self.validate())?;
                Ok(match self {
                    $(Self::$variant(p) => ScoreModel::$variant(p.init(dim, pool, ctx, rng)?)),+
                })
            }
        }

        impl ScoreModel {
            /// s(x), or s(x, σ) for a noise-conditional model (σ is ignored by other models).
            ///
            /// # Shapes
            /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B, D]`
            pub fn forward(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
                match self { $(Self::$variant(m) => m.score(x, sigma)),+ }
            }

            /// s(x) and the Jacobian-vector product (∂s/∂x) v.
            ///
            /// # Shapes
            /// - `x`, `v`: `[B, D]`, `sigma`: `[B, 1]` → (`[B, D]`, `[B, D]`)
            pub fn forward_jvp(
                &self,
                x: Tensor<2>,
                v: Tensor<2>,
                sigma: Option<&Tensor<2>>,
            ) -> (Tensor<2>, Tensor<2>) {
                match self { $(Self::$variant(m) => m.score_jvp(x, v, sigma)),+ }
            }

            /// s(x) and the exact trace of ∂s/∂x.
            ///
            /// # Shapes
            /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → (`[B, D]`, `[B]`)
            pub fn forward_trace(
                &self,
                x: Tensor<2>,
                sigma: Option<&Tensor<2>>,
                path: TracePath,
            ) -> (Tensor<2>, Tensor<1>) {
                match self { $(Self::$variant(m) => m.score_trace(x, sigma, path)),+ }
            }

            /// See [`ScoreNet::trace_path`].
            pub fn trace_path(&self, requested: TracePath) -> TracePath {
                match self { $(Self::$variant(m) => m.trace_path(requested)),+ }
            }

            /// See [`ScoreNet::kernel_shape`].
            pub fn kernel_shape(&self) -> Option<MlpShape> {
                match self { $(Self::$variant(m) => m.kernel_shape()),+ }
            }

            /// See [`ScoreNet::energy`].
            ///
            /// # Shapes
            /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B]`
            pub fn energy(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
                match self { $(Self::$variant(m) => ScoreNet::energy(m, x, sigma)),+ }
            }

            /// See [`ScoreNet::flat_params`].
            pub fn flat_params(&self) -> Result<Vec<f64>> {
                match self { $(Self::$variant(m) => ScoreNet::flat_params(m)),+ }
            }

            /// See [`ScoreNet::param_layout`].
            pub fn param_layout(&self) -> Vec<ParamTensor> {
                match self { $(Self::$variant(m) => ScoreNet::param_layout(m)),+ }
            }

            /// See [`ScoreNet::with_flat_params`].
            ///
            /// # Panics
            /// If `theta` is shorter than the model's parameter count.
            pub fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
                match self {
                    $(Self::$variant(m) => Self::$variant(ScoreNet::with_flat_params(m, theta, ctx))),+
                }
            }

            /// See [`ScoreNet::is_noise_conditional`].
            pub fn is_noise_conditional(&self) -> bool {
                match self { $(Self::$variant(m) => ScoreNet::is_noise_conditional(m)),+ }
            }
        }
    };
}

models! {
    /// `mlp`: D → h → … → h → D.
    Mlp(MlpParams => Mlp) = "mlp";
    /// `linear`: s(x) = A x + b.
    Linear(LinearParams => Linear) = "linear";
    /// `energy`: a scalar MLP E(x), score −∇ₓE.
    Energy(EnergyParams => EnergyNet) = "energy";
    /// `expfam`: exp⟨θ, T(x)⟩ with polynomial T, fitted in closed form.
    ExpFam(ExpFamParams => ExpFam) = "expfam";
    /// `kde`: the score of a Gaussian kernel density estimate of the pool (training-free).
    Kde(KdeParams => Kde) = "kde";
    /// `stein`: the Stein gradient estimator (training-free).
    Stein(SteinParams => Stein) = "stein";
    /// `ssge`: the spectral Stein gradient estimator (training-free).
    Ssge(SsgeParams => Ssge) = "ssge";
    /// `external`: a user's command that writes scores (see [`crate::external`]).
    External(ExternalParams => Linear) = "external";
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Mlp(MlpParams::default())
    }
}

#[cfg(test)]
pub(crate) mod testing;
/// Every float parameter's gradient in `grads`, on the host, in visiting order (the order of
/// [`ScoreModel::flat_params`]); zeros for a parameter the loss does not depend on.
pub fn param_grads(model: &ScoreModel, grads: &burn::tensor::Gradients) -> Result<Vec<Vec<f64>>> {
    use burn::module::{ModuleVisitor, Param};
    struct Collect<'a> {
        grads: &'a burn::tensor::Gradients,
        out: Result<Vec<Vec<f64>>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Ok(out) = &mut self.out else { return };
            match param.val().grad(self.grads).map(crate::backend::to_host) {
                Some(Ok(values)) => out.push(values),
                Some(Err(e)) => self.out = Err(e),
                // Not on the loss's path (an energy network's output bias: the score does not
                // see constants): its gradient is zero.
                None => out.push(vec![0.0; param.val().shape().num_elements()]),
            }
        }
    }
    let mut c = Collect {
        grads,
        out: Ok(Vec::new()),
    };
    model.visit(&mut c);
    c.out
}

#[cfg(test)]
mod estimator_tests;
#[cfg(test)]
mod tests;
