//! The MLP score network D → h → … → h → D, which carries its own input tangent or input
//! Jacobian through the forward pass with ordinary tensor ops.
//!
//! burn has no double backward: the input gradient it returns is detached, so a loss built
//! from ∂s/∂x gets no gradient with respect to θ. Instead, for each hidden layer
//! h = act(z), z = x W + b, the tangent follows t_h = act′(z) ⊙ (t_x W), and the per-sample
//! Jacobian J_h = J_x W ⊙ act′(z) (rows indexed by input coordinate). Both are built from the
//! same tensors as the forward pass, so reverse mode differentiates tr J and Jv w.r.t. θ.
//!
//! A noise-conditional MLP takes log σ as an extra input and divides its output by σ
//! (s(x, σ) = f(x, log σ)/σ, as in NCSNv2), so that one network covers every noise level.

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::MlpShape;
use super::dense::{Dense, stack_layout};
use super::{Activation, Fit, ModelKind, ParamTensor, ScoreNet};
use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::rng::Rng;

/// Parameters of `mlp`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpParams {
    /// Width of each hidden layer (default 128).
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Number of hidden layers (default 2).
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Nonlinearity (default silu).
    #[serde(default)]
    pub activation: Activation,
    /// Take σ as an input and scale the output by 1/σ (default false).
    #[serde(default)]
    pub noise_conditional: bool,
}

fn default_hidden() -> usize {
    128
}

fn default_depth() -> usize {
    2
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            depth: default_depth(),
            activation: Activation::default(),
            noise_conditional: false,
        }
    }
}

impl MlpParams {
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.hidden == 0 {
            errors.push(ParamError::new("hidden", "must be at least 1"));
        }
        if self.depth == 0 {
            errors.push(ParamError::new("depth", "must be at least 1 hidden layer"));
        }
        errors
    }
}

/// How the exact trace of the network's Jacobian is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TracePath {
    /// The fast path where the network allows it, else the Jacobian (the default).
    #[default]
    Auto,
    /// Carry the full per-sample Jacobian (`[batch, D, h]`): cost grows with D.
    Jacobian,
    /// Closed form for one or two hidden layers, independent of D:
    /// tr(W₁D₁W₂) = d₁ · diag(W₂W₁) and tr(W₁D₁W₂D₂W₃) = d₁ᵀ(W₂ ⊙ (W₃W₁)ᵀ)d₂.
    Fast,
}

impl TracePath {
    /// The name recorded with each run.
    pub fn name(self) -> &'static str {
        match self {
            TracePath::Auto => "auto",
            TracePath::Jacobian => "jacobian",
            TracePath::Fast => "fast",
        }
    }
}

/// The MLP score network.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Dense>,
    output: Dense,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    dim: usize,
    #[module(skip)]
    noise_conditional: bool,
}

impl Mlp {
    /// A freshly initialised network for data of dimension `dim`.
    pub fn init(params: &MlpParams, dim: usize, ctx: &Ctx, rng: &mut Rng) -> Self {
        let inputs = dim + usize::from(params.noise_conditional);
        let mut hidden = Vec::with_capacity(params.depth);
        let mut width = inputs;
        for _ in 0..params.depth {
            hidden.push(Dense::init(width, params.hidden, ctx, rng));
            width = params.hidden;
        }
        Self {
            hidden,
            output: Dense::init(width, dim, ctx, rng),
            activation: params.activation,
            dim,
            noise_conditional: params.noise_conditional,
        }
    }

    /// Whether the network takes σ as an input.
    pub fn is_noise_conditional(&self) -> bool {
        self.noise_conditional
    }

    /// The architecture, as the host kernels describe it.
    pub fn shape(&self) -> MlpShape {
        MlpShape {
            dim: self.dim,
            widths: self.hidden.iter().map(|l| l.dims().1).collect(),
            activation: self.activation,
            noise_conditional: self.noise_conditional,
            energy: false,
        }
    }

    /// Every parameter as f64, in the host kernels' order: W₁, b₁, …, W_o, b_o.
    pub fn flat_params(&self) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.shape().param_count());
        for layer in self.hidden.iter().chain([&self.output]) {
            layer.append_values(&mut out)?;
        }
        Ok(out)
    }

    /// The same network with parameters `theta` (in [`Self::flat_params`]'s order), on `ctx`.
    ///
    /// # Panics
    /// If `theta` is shorter than the network's parameter count.
    pub fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
        let mut rest = theta;
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            let (l, r) = layer.with_values(rest, ctx);
            hidden.push(l);
            rest = r;
        }
        let (output, _) = self.output.with_values(rest, ctx);
        Self {
            hidden,
            output,
            activation: self.activation,
            dim: self.dim,
            noise_conditional: self.noise_conditional,
        }
    }

    /// The trace path `requested` resolves to for this network.
    pub fn resolve_trace_path(&self, requested: TracePath) -> TracePath {
        match requested {
            TracePath::Auto | TracePath::Fast if self.hidden.len() <= 2 => TracePath::Fast,
            _ => TracePath::Jacobian,
        }
    }

    /// Weight of the first layer restricted to the rows of x (drops the log σ row).
    ///
    /// # Shapes
    /// - returns `[D, h]`
    fn input_weight(&self) -> Tensor<2> {
        let w = self.hidden[0].weight.val();
        if self.noise_conditional {
            w.narrow(0, 0, self.dim)
        } else {
            w
        }
    }

    /// The network's input: x, or [x, log σ] for a noise-conditional network.
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B, D]` or `[B, D + 1]`
    fn input(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        match (self.noise_conditional, sigma) {
            (true, Some(sigma)) => Tensor::cat(vec![x, sigma.clone().log()], 1),
            _ => x,
        }
    }

    /// Divides the output by σ for a noise-conditional network.
    fn scale_output(&self, out: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        match (self.noise_conditional, sigma) {
            (true, Some(sigma)) => out / sigma.clone(),
            _ => out,
        }
    }

    /// s(x) (or s(x, σ)).
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` (noise-conditional only) → `[B, D]`
    pub fn forward(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let mut h = self.input(x, sigma);
        for layer in &self.hidden {
            h = self.activation.apply(layer.forward(h));
        }
        self.scale_output(self.output.forward(h), sigma)
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
        let mut h = self.input(x, sigma);
        let mut t = v;
        for (i, layer) in self.hidden.iter().enumerate() {
            let w = if i == 0 {
                self.input_weight()
            } else {
                layer.weight.val()
            };
            let (a, da) = self.activation.apply_with_derivative(layer.forward(h));
            t = da * t.matmul(w);
            h = a;
        }
        let s = self.output.forward(h);
        let jv = t.matmul(self.output.weight.val());
        (self.scale_output(s, sigma), self.scale_output(jv, sigma))
    }

    /// s(x) and the exact trace of ∂s/∂x, by `path` (see [`TracePath`]).
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → (`[B, D]`, `[B]`)
    pub fn forward_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let mut h = self.input(x, sigma);
        let mut slopes = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            let (a, da) = self.activation.apply_with_derivative(layer.forward(h));
            slopes.push(da);
            h = a;
        }
        let s = self.output.forward(h);
        let trace = match self.resolve_trace_path(path) {
            TracePath::Fast => self.fast_trace(&slopes),
            _ => self.jacobian_trace(&slopes),
        };
        let trace = match (self.noise_conditional, sigma) {
            (true, Some(sigma)) => trace / sigma.clone().squeeze_dim::<1>(1),
            _ => trace,
        };
        (self.scale_output(s, sigma), trace)
    }

    /// Trace by carrying the per-sample Jacobian, rows indexed by input coordinate.
    ///
    /// # Shapes
    /// - `slopes[l]`: `[B, h]` → `[B]`
    fn jacobian_trace(&self, slopes: &[Tensor<2>]) -> Tensor<1> {
        let d = self.dim;
        // J after the first hidden layer: W₁ (same for every sample) scaled by act′(z₁).
        let w1: Tensor<3> = self.input_weight().unsqueeze_dim(0);
        let mut jac = w1 * slopes[0].clone().unsqueeze_dim(1);
        for (layer, slope) in self.hidden.iter().zip(slopes).skip(1) {
            let [b, _, h] = jac.dims();
            let w = layer.weight.val();
            let out = w.dims()[1];
            jac = jac.reshape([b * d, h]).matmul(w).reshape([b, d, out])
                * slope.clone().unsqueeze_dim(1);
        }
        // tr(J W_out) = Σ_{i,a} J[i,a] W_out[a,i], without forming J W_out.
        let w_out_t: Tensor<3> = self.output.weight.val().transpose().unsqueeze_dim(0);
        (jac * w_out_t).sum_dim(2).sum_dim(1).flatten(0, 2)
    }

    /// Trace in closed form for one or two hidden layers (cost independent of D).
    ///
    /// # Shapes
    /// - `slopes[l]`: `[B, h]` → `[B]`
    fn fast_trace(&self, slopes: &[Tensor<2>]) -> Tensor<1> {
        let w1 = self.input_weight();
        let w_out = self.output.weight.val();
        match slopes {
            [d1] => {
                // tr(W₁ D₁ W₂) = Σ_a d₁[a] (W₂ W₁)[a, a]
                let diag = (w_out.transpose() * w1).sum_dim(0); // [1, h]
                (d1.clone() * diag).sum_dim(1).flatten(0, 1)
            }
            [d1, d2] => {
                // tr(W₁ D₁ W₂ D₂ W₃) = d₁ᵀ (W₂ ⊙ (W₃ W₁)ᵀ) d₂
                let cyc = w_out.matmul(w1).transpose(); // [h1, h2]
                let c = self.hidden[1].weight.val() * cyc;
                (d1.clone().matmul(c) * d2.clone()).sum_dim(1).flatten(0, 1)
            }
            _ => self.jacobian_trace(slopes),
        }
    }
}

impl ModelKind for MlpParams {
    type Net = Mlp;
    const HAS_ENERGY: bool = false;
    const FUSED: bool = true;

    fn validate(&self) -> Vec<ParamError> {
        MlpParams::validate(self)
    }

    fn validate_for(&self, _dim: usize) -> Vec<ParamError> {
        Vec::new()
    }

    fn fit(&self) -> Fit {
        Fit::Trained
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }

    fn is_noise_conditional(&self) -> bool {
        self.noise_conditional
    }

    fn noise_conditional(&self) -> Option<Self> {
        Some(Self {
            noise_conditional: true,
            ..self.clone()
        })
    }

    fn init(&self, dim: usize, _pool: &[f64], ctx: &Ctx, rng: &mut Rng) -> Result<Mlp> {
        Ok(Mlp::init(self, dim, ctx, rng))
    }
}

impl ScoreNet for Mlp {
    fn score(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        self.forward(x, sigma)
    }

    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp(x, v, sigma)
    }

    fn score_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        self.forward_trace(x, sigma, path)
    }

    fn trace_path(&self, requested: TracePath) -> TracePath {
        self.resolve_trace_path(requested)
    }

    fn kernel_shape(&self) -> Option<MlpShape> {
        Some(Mlp::shape(self))
    }

    fn energy(&self, _x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        None
    }

    fn flat_params(&self) -> Result<Vec<f64>> {
        Mlp::flat_params(self)
    }

    fn param_layout(&self) -> Vec<ParamTensor> {
        stack_layout(self.hidden.iter().chain([&self.output]))
    }

    fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
        Mlp::with_flat_params(self, theta, ctx)
    }

    fn is_noise_conditional(&self) -> bool {
        Mlp::is_noise_conditional(self)
    }
}
