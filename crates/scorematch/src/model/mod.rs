//! Score models s_θ(x) ≈ ∇ₓ log p(x).
//!
//! Every model computes, besides `forward(x) → s`, `forward_jvp(x, v) → (s, J v)` and
//! `forward_trace(x) → (s, tr J)` with J = ∂s/∂x, built from ordinary tensor ops so that
//! reverse mode gives their gradients with respect to θ (burn has no double backward).
//!
//! Adding a model: one file with its parameter struct and module, plus one arm in
//! [`ModelConfig`] and [`ScoreModel`].

mod activation;
pub mod closed_form;
mod dense;
mod linear;
mod mlp;

pub use activation::Activation;
pub use dense::Dense;
pub use linear::{Linear, LinearInit, LinearParams};
pub use mlp::{Mlp, MlpParams, TracePath};

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::kernels::MlpShape;
use crate::rng::Rng;

/// A model as named in a sweep file: `{ name = "mlp", hidden = 128, depth = 2 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum ModelConfig {
    /// `mlp`: D → h → … → h → D.
    #[serde(rename = "mlp")]
    Mlp(MlpParams),
    /// `linear`: s(x) = A x + b.
    #[serde(rename = "linear")]
    Linear(LinearParams),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Mlp(MlpParams::default())
    }
}

impl ModelConfig {
    /// Names of every model.
    pub const NAMES: [&'static str; 2] = ["mlp", "linear"];

    /// The model's name.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Linear(_) => "linear",
        }
    }

    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        match self {
            ModelConfig::Mlp(p) => p.validate(),
            ModelConfig::Linear(p) => p.validate(),
        }
    }

    /// The activation, for models that have one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            ModelConfig::Mlp(p) => Some(p.activation),
            ModelConfig::Linear(_) => None,
        }
    }

    /// Whether the model takes the noise level σ as an input.
    pub fn is_noise_conditional(&self) -> bool {
        matches!(self, ModelConfig::Mlp(p) if p.noise_conditional)
    }

    /// A freshly initialised model for data of dimension `dim`. `pool` is the training data
    /// (row-major `[n, dim]`), used by data-dependent initialisations.
    pub fn init(&self, dim: usize, pool: &[f64], ctx: &Ctx, rng: &mut Rng) -> Result<ScoreModel> {
        crate::error::check(self.validate())?;
        Ok(match self {
            ModelConfig::Mlp(p) => ScoreModel::Mlp(Mlp::init(p, dim, ctx, rng)),
            ModelConfig::Linear(p) => ScoreModel::Linear(Linear::init(p, dim, pool, ctx, rng)?),
        })
    }
}

/// A score network.
#[derive(Module, Debug)]
pub enum ScoreModel {
    /// An MLP.
    Mlp(Mlp),
    /// A linear model.
    Linear(Linear),
}

impl ScoreModel {
    /// The trace path `requested` resolves to for this model (what a run records).
    pub fn trace_path(&self, requested: TracePath) -> TracePath {
        match self {
            ScoreModel::Mlp(m) => m.resolve_trace_path(requested),
            ScoreModel::Linear(_) => TracePath::Fast,
        }
    }

    /// The architecture as the host kernels describe it (a linear model is an MLP without
    /// hidden layers).
    pub fn shape(&self) -> MlpShape {
        match self {
            ScoreModel::Mlp(m) => m.shape(),
            ScoreModel::Linear(m) => m.shape(),
        }
    }

    /// Every parameter as f64 in the host kernels' order (see [`MlpShape`]).
    pub fn flat_params(&self) -> Result<Vec<f64>> {
        match self {
            ScoreModel::Mlp(m) => m.flat_params(),
            ScoreModel::Linear(m) => m.flat_params(),
        }
    }

    /// The same model with parameters `theta` (in [`Self::flat_params`]'s order), made on
    /// `ctx`.
    ///
    /// # Panics
    /// If `theta` is shorter than the model's parameter count.
    pub fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
        match self {
            ScoreModel::Mlp(m) => ScoreModel::Mlp(m.with_flat_params(theta, ctx)),
            ScoreModel::Linear(m) => ScoreModel::Linear(m.with_flat_params(theta, ctx)),
        }
    }

    /// Whether the model takes the noise level σ as an input (and needs it).
    pub fn is_noise_conditional(&self) -> bool {
        match self {
            ScoreModel::Mlp(m) => m.is_noise_conditional(),
            ScoreModel::Linear(_) => false,
        }
    }

    /// s(x), or s(x, σ) for a noise-conditional model (σ is ignored by other models).
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B, D]`
    pub fn forward(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        match self {
            ScoreModel::Mlp(m) => m.forward(x, sigma),
            ScoreModel::Linear(m) => m.forward(x),
        }
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
        match self {
            ScoreModel::Mlp(m) => m.forward_jvp(x, v, sigma),
            ScoreModel::Linear(m) => m.forward_jvp(x, v),
        }
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
        match self {
            ScoreModel::Mlp(m) => m.forward_trace(x, sigma, path),
            ScoreModel::Linear(m) => m.forward_trace(x),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;
/// Every float parameter's gradient in `grads`, on the host, in visiting order (the order of
/// [`ScoreModel::flat_params`]).
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
                None => {
                    self.out = Err(crate::Error::Tensor(
                        "a parameter of the model has no gradient".into(),
                    ))
                }
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
mod tests;
