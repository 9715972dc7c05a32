//! The linear score model s(x) = x W + b (W = Aᵀ for s(x) = A x + b). Its Jacobian is W
//! itself, so its trace and tangent are exact at no extra cost. With `init = "closed-form"`
//! it starts at the closed-form score-matching estimator of the Gaussian family
//! ([`gaussian_closed_form`]), which ISM training then leaves in place.

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::MlpShape;
use super::dense::Dense;
use super::{Fit, ModelKind, ParamTensor, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::model::Activation;
use crate::model::closed_form::gaussian_closed_form;
use crate::rng::Rng;

/// How the linear model starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinearInit {
    /// U(−1/√D, 1/√D) entries, as `torch.nn.Linear` (the default).
    #[default]
    Random,
    /// All zeros.
    Zeros,
    /// The closed-form score-matching estimator on the training pool.
    ClosedForm,
}

/// Parameters of `linear`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearParams {
    /// Initialisation (default random).
    #[serde(default)]
    pub init: LinearInit,
}

impl LinearParams {
    /// Every problem with the parameters (none can be wrong once parsed).
    pub fn validate(&self) -> Vec<ParamError> {
        Vec::new()
    }
}

/// s(x) = x W + b.
#[derive(Module, Debug)]
pub struct Linear {
    layer: Dense,
}

impl Linear {
    /// A linear model for data of dimension `dim`; `pool` (row-major `[n, dim]`) is what the
    /// closed-form initialisation is fitted on.
    pub fn init(
        params: &LinearParams,
        dim: usize,
        pool: &[f64],
        ctx: &Ctx,
        rng: &mut Rng,
    ) -> Result<Self> {
        let layer = match params.init {
            LinearInit::Random => Dense::init(dim, dim, ctx, rng),
            LinearInit::Zeros => {
                Dense::from_values(&vec![0.0; dim * dim], &vec![0.0; dim], dim, dim, ctx)
            }
            LinearInit::ClosedForm => {
                let fit = gaussian_closed_form(pool, dim)?;
                // s(x) = −P(x − m) = x(−P) + P m, and P is symmetric.
                let weight: Vec<f64> = fit.precision.iter().map(|v| -v).collect();
                let bias = (&fit.precision * &fit.mean).as_slice().to_vec();
                Dense::from_values(weight.as_slice(), &bias, dim, dim, ctx)
            }
        };
        Ok(Self { layer })
    }

    /// A linear model from an existing layer.
    pub fn from_dense(layer: Dense) -> Self {
        Self { layer }
    }

    /// The architecture, as the host kernels describe it: an MLP without hidden layers.
    pub fn shape(&self) -> MlpShape {
        MlpShape {
            dim: self.layer.dims().1,
            widths: Vec::new(),
            activation: Activation::default(),
            noise_conditional: false,
            energy: false,
        }
    }

    /// W (row-major) and b as f64.
    pub fn flat_params(&self) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        self.layer.append_values(&mut out)?;
        Ok(out)
    }

    /// The same model with parameters `theta` (in [`Self::flat_params`]'s order), on `ctx`.
    ///
    /// # Panics
    /// If `theta` is shorter than the model's parameter count.
    pub fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
        Self {
            layer: self.layer.with_values(theta, ctx).0,
        }
    }

    /// s(x).
    ///
    /// # Shapes
    /// - `x`: `[B, D]` → `[B, D]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.layer.forward(x)
    }

    /// s(x) and (∂s/∂x) v = v W.
    ///
    /// # Shapes
    /// - `x`, `v`: `[B, D]` → (`[B, D]`, `[B, D]`)
    pub fn forward_jvp(&self, x: Tensor<2>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.forward(x), v.matmul(self.layer.weight.val()))
    }

    /// s(x) and tr(∂s/∂x) = tr W for every sample.
    ///
    /// # Shapes
    /// - `x`: `[B, D]` → (`[B, D]`, `[B]`)
    pub fn forward_trace(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let [batch, dim] = x.dims();
        let w = self.layer.weight.val();
        let eye = Tensor::<2>::eye(dim, &w.device()).cast(w.dtype());
        let trace = (w * eye).sum().expand([batch]);
        (self.forward(x), trace)
    }
}

impl ModelKind for LinearParams {
    type Net = Linear;
    const HAS_ENERGY: bool = false;
    const FUSED: bool = true;

    fn validate(&self) -> Vec<ParamError> {
        LinearParams::validate(self)
    }

    fn validate_for(&self, _dim: usize) -> Vec<ParamError> {
        Vec::new()
    }

    fn fit(&self) -> Fit {
        Fit::Trained
    }

    fn activation(&self) -> Option<Activation> {
        None
    }

    fn is_noise_conditional(&self) -> bool {
        false
    }

    fn noise_conditional(&self) -> Option<Self> {
        None
    }

    fn init(&self, dim: usize, pool: &[f64], ctx: &Ctx, rng: &mut Rng) -> Result<Linear> {
        Linear::init(self, dim, pool, ctx, rng)
    }
}

impl ScoreNet for Linear {
    fn score(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Tensor<2> {
        self.forward(x)
    }

    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp(x, v)
    }

    /// The trace of the constant Jacobian, whatever the path asked for.
    fn score_trace(
        &self,
        x: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
        _path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        self.forward_trace(x)
    }

    fn trace_path(&self, _requested: TracePath) -> TracePath {
        TracePath::Fast
    }

    fn kernel_shape(&self) -> Option<MlpShape> {
        Some(Linear::shape(self))
    }

    fn energy(&self, _x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        None
    }

    fn flat_params(&self) -> Result<Vec<f64>> {
        Linear::flat_params(self)
    }

    fn param_layout(&self) -> Vec<ParamTensor> {
        self.layer.layout("").to_vec()
    }

    fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
        Linear::with_flat_params(self, theta, ctx)
    }

    fn is_noise_conditional(&self) -> bool {
        false
    }
}
