//! The energy network: a scalar MLP E_θ(x) (D → h → … → h → 1) defining the unnormalised
//! density p̃_θ(x) = exp(−E_θ(x)), whose score s = −∇ₓE is a gradient field by construction.
//!
//! burn has no double backward, so ∇ₓE is written out as the network's reverse pass in
//! ordinary tensor ops: with z_l = h_{l−1} W_l + b_l, h_l = f(z_l) and E = h_L w + b, the
//! gradient flows back as g_L = w, g_{z_l} = g_l ⊙ f′(z_l), g_{l−1} = g_{z_l} W_lᵀ, and
//! ∇ₓE = g_0. The Hessian-vector product H v = ∇ₓ(∇ₓE · v) is the same reverse pass
//! differentiated along v: the forward tangents u_l = t_{l−1} W_l, t_l = f′(z_l) ⊙ u_l, and
//! backwards ġ_{z_l} = ġ_l ⊙ f′(z_l) + g_l ⊙ f″(z_l) ⊙ u_l, ġ_{l−1} = ġ_{z_l} W_lᵀ, H v = ġ_0.
//! Everything is built from the parameters' tensors, so burn's reverse mode differentiates
//! s, vᵀ(∂s/∂x)v and the Laplacian with respect to θ.
//!
//! The Laplacian ΔE (the trace ISM needs) is exact: in closed form for one or two hidden
//! layers (one hidden layer: ΔE = Σ_a f″(z_a) w_a ‖W₁[:, a]‖²; two: see
//! `closed_form_laplacian`), and for deeper networks through the D coordinate directions,
//! tr H = Σ_i e_iᵀ H e_i.
//!
//! A noise-conditional energy network takes log σ as an extra input and its score is scaled
//! by 1/σ (s(x, σ) = −∇ₓE(x, log σ)/σ), as the score MLP's output is. Its energy at level σ
//! is therefore E(x, log σ)/σ: the density p̃_σ ∝ exp(−E/σ) is the one whose score the network
//! reports, so MALA and the density metrics describe the same model as the score.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::dense::{Dense, stack_layout};
use super::{Activation, Fit, MlpShape, ModelKind, ParamTensor, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::rng::Rng;

/// Parameters of `energy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyParams {
    /// Width of each hidden layer (default 128).
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Number of hidden layers (default 2).
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Nonlinearity (default silu; it needs curvature for the score's own Jacobian).
    #[serde(default)]
    pub activation: Activation,
    /// Take σ as an input and scale the score by 1/σ (default false).
    #[serde(default)]
    pub noise_conditional: bool,
}

fn default_hidden() -> usize {
    128
}

fn default_depth() -> usize {
    2
}

impl Default for EnergyParams {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            depth: default_depth(),
            activation: Activation::default(),
            noise_conditional: false,
        }
    }
}

impl ModelKind for EnergyParams {
    type Net = EnergyNet;
    const HAS_ENERGY: bool = true;
    const FUSED: bool = true;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.hidden == 0 {
            errors.push(ParamError::new("hidden", "must be at least 1"));
        }
        if self.depth == 0 {
            errors.push(ParamError::new("depth", "must be at least 1 hidden layer"));
        }
        if !self.activation.has_curvature() {
            errors.push(ParamError::new(
                "activation",
                format!(
                    "{} has zero second derivative: the score −∇E would be piecewise constant \
                     (use silu, softplus, tanh or elu)",
                    self.activation.name()
                ),
            ));
        }
        errors
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

    fn init(&self, dim: usize, _pool: &[f64], ctx: &Ctx, rng: &mut Rng) -> Result<EnergyNet> {
        Ok(EnergyNet::init(self, dim, ctx, rng))
    }
}

/// The energy network E_θ(x).
#[derive(Module, Debug)]
pub struct EnergyNet {
    hidden: Vec<Dense>,
    output: Dense,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    dim: usize,
    #[module(skip)]
    noise_conditional: bool,
}

/// The forward pass kept for the reverse pass: each hidden layer's f′ and f″.
struct Forward {
    /// f′(z_l), `[B, h]` each.
    slopes: Vec<Tensor<2>>,
    /// f″(z_l), `[B, h]` each.
    curvatures: Vec<Tensor<2>>,
}

impl EnergyNet {
    /// A freshly initialised network for data of dimension `dim`.
    pub fn init(params: &EnergyParams, dim: usize, ctx: &Ctx, rng: &mut Rng) -> Self {
        let inputs = dim + usize::from(params.noise_conditional);
        let mut hidden = Vec::with_capacity(params.depth);
        let mut width = inputs;
        for _ in 0..params.depth {
            hidden.push(Dense::init(width, params.hidden, ctx, rng));
            width = params.hidden;
        }
        Self {
            hidden,
            output: Dense::init(width, 1, ctx, rng),
            activation: params.activation,
            dim,
            noise_conditional: params.noise_conditional,
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

    /// Scales a score-like quantity by −1/σ (noise-conditional) or −1: s = −∇E/σ.
    fn to_score<const D: usize>(&self, g: Tensor<D>, sigma: Option<&Tensor<2>>) -> Tensor<D> {
        match (self.noise_conditional, sigma) {
            (true, Some(sigma)) => {
                let [b, _] = sigma.dims();
                let mut shape = [1usize; D];
                shape[0] = b;
                g.neg() / sigma.clone().reshape(shape)
            }
            _ => g.neg(),
        }
    }

    /// Weight of layer `l` restricted, for the first layer, to the rows of x.
    ///
    /// # Shapes
    /// - returns `[fan_in, h]` (`[D, h]` for the first layer)
    fn weight(&self, l: usize) -> Tensor<2> {
        let w = self.hidden[l].weight.val();
        if l == 0 && self.noise_conditional {
            w.narrow(0, 0, self.dim)
        } else {
            w
        }
    }

    /// The output weight as a row, `[1, h_L]`.
    fn output_row(&self) -> Tensor<2> {
        self.output.weight.val().transpose()
    }

    /// The energy −log p̃ per sample: E(x), or E(x, log σ)/σ for a noise-conditional
    /// network at level σ (so that −∇ₓ of it is the score, s = −∇ₓE/σ).
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B]`
    pub fn energy(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<1> {
        let mut h = self.input(x, sigma);
        for layer in &self.hidden {
            h = self.activation.apply(layer.forward(h));
        }
        let e = self.output.forward(h);
        match (self.noise_conditional, sigma) {
            (true, Some(sigma)) => (e / sigma.clone()).flatten(0, 1),
            _ => e.flatten(0, 1),
        }
    }

    /// The forward pass, keeping f′ and f″ of every hidden layer.
    fn forward_pass(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Forward {
        let mut h = self.input(x, sigma);
        let mut slopes = Vec::with_capacity(self.hidden.len());
        let mut curvatures = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            let (a, da, d2a) = self.activation.apply_with_two_derivatives(layer.forward(h));
            slopes.push(da);
            curvatures.push(d2a);
            h = a;
        }
        // The output layer is linear: ∇ₓE needs only its weight.
        let _ = h;
        Forward { slopes, curvatures }
    }

    /// ∇ₓE by the reverse pass.
    ///
    /// # Shapes
    /// - returns `[B, D]`
    fn grad_x(&self, fwd: &Forward) -> Tensor<2> {
        let [b, _] = fwd.slopes[0].dims();
        let mut g = self.output_row().repeat_dim(0, b);
        for (l, slope) in fwd.slopes.iter().enumerate().rev() {
            g = (g * slope.clone()).matmul(self.weight(l).transpose());
        }
        g
    }

    /// ∇ₓE and the Hessian-vector product H v, by the reverse pass and its tangent.
    ///
    /// # Shapes
    /// - `v`: `[B, D]` → (`[B, D]`, `[B, D]`)
    fn grad_and_hvp(&self, fwd: &Forward, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let depth = self.hidden.len();
        // Forward tangents: u_l = t_{l−1} W_l (pre-activation), t_l = f′(z_l) ⊙ u_l.
        let mut pre = Vec::with_capacity(depth);
        let mut t = v;
        for (l, slope) in fwd.slopes.iter().enumerate() {
            let u = t.matmul(self.weight(l));
            t = u.clone() * slope.clone();
            pre.push(u);
        }
        // Backwards: g_l reaches h_l, ġ_l is its tangent (ġ_L = 0: w is a constant).
        let [b, _] = fwd.slopes[0].dims();
        let mut g = self.output_row().repeat_dim(0, b);
        let mut dg = g.zeros_like();
        for l in (0..depth).rev() {
            let gz = g.clone() * fwd.slopes[l].clone();
            let dgz = dg * fwd.slopes[l].clone() + g * fwd.curvatures[l].clone() * pre[l].clone();
            let w_t = self.weight(l).transpose();
            g = gz.matmul(w_t.clone());
            dg = dgz.matmul(w_t);
        }
        (g, dg)
    }

    /// ΔE, exactly: in closed form for one hidden layer, else through the D coordinate
    /// directions.
    ///
    /// # Shapes
    /// - `x`: `[B, D]`, `sigma`: `[B, 1]` → `[B]`
    fn laplacian(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        fwd: &Forward,
        path: TracePath,
    ) -> Tensor<1> {
        if self.trace_path(path) == TracePath::Fast {
            return self.closed_form_laplacian(fwd);
        }
        let [b, d] = x.dims();
        // Direction block i holds e_i for every sample (rows i·B + r).
        let mut eye = vec![0.0; d * b * d];
        for i in 0..d {
            for r in 0..b {
                eye[(i * b + r) * d + i] = 1.0;
            }
        }
        let dirs =
            Tensor::<2>::from_data(TensorData::new(eye, [d * b, d]), (&x.device(), x.dtype()));
        let xs = x.repeat_dim(0, d);
        let sig = sigma.map(|s| s.clone().repeat_dim(0, d));
        let fwd_rep = self.forward_pass(xs, sig.as_ref());
        let (_, hv) = self.grad_and_hvp(&fwd_rep, dirs.clone());
        // Σ_i (H e_i)_i for each sample.
        (hv * dirs)
            .sum_dim(1)
            .reshape([d, b])
            .sum_dim(0)
            .flatten(0, 1)
    }

    fn trace_path(&self, requested: TracePath) -> TracePath {
        match requested {
            TracePath::Auto | TracePath::Fast if self.hidden.len() <= 2 => TracePath::Fast,
            _ => TracePath::Jacobian,
        }
    }

    /// ΔE in closed form for one or two hidden layers, without the D directions. With
    /// g₁ = (f₂′ ⊙ w) W₂ᵀ the gradient reaching h₁ (g₁ = w for one layer), the Hessian is
    /// W₁ diag(f₁″ ⊙ g₁) W₁ᵀ + W₁ D₁ W₂ diag(f₂″ ⊙ w) W₂ᵀ D₁ W₁ᵀ, so
    ///
    /// ΔE = Σ_a ‖W₁[:, a]‖² f₁″_a g₁_a + Σ_k f₂″_k w_k ‖W₁ D₁ W₂[:, k]‖²,
    ///
    /// the second sum a batched product [B·D, h₁] · [h₁, h₂].
    ///
    /// # Shapes
    /// - returns `[B]`
    fn closed_form_laplacian(&self, fwd: &Forward) -> Tensor<1> {
        let w1 = self.weight(0);
        let [d, h1] = w1.dims();
        let [b, _] = fwd.slopes[0].dims();
        let col_norms = w1.clone().powi_scalar(2).sum_dim(0); // [1, h₁]
        let w = self.output_row(); // [1, h_L]
        if self.hidden.len() == 1 {
            return (fwd.curvatures[0].clone() * w * col_norms)
                .sum_dim(1)
                .flatten(0, 1);
        }
        let w2 = self.weight(1); // [h₁, h₂]
        let g1 = (fwd.slopes[1].clone() * w.clone()).matmul(w2.clone().transpose()); // [B, h₁]
        let first = (fwd.curvatures[0].clone() * g1 * col_norms).sum_dim(1); // [B, 1]
        // P_b = W₁ D₁(b) W₂: rows i of sample b at i·… after the reshape.
        let scaled: Tensor<3> =
            w1.unsqueeze_dim::<3>(0) * fwd.slopes[0].clone().unsqueeze_dim::<3>(1); // [B, D, h₁]
        let p = scaled.reshape([b * d, h1]).matmul(w2); // [B·D, h₂]
        let h2 = p.dims()[1];
        let norms = p
            .powi_scalar(2)
            .reshape([b, d, h2])
            .sum_dim(1)
            .reshape([b, h2]); // [B, h₂]
        let second = (norms * fwd.curvatures[1].clone() * w).sum_dim(1); // [B, 1]
        (first + second).flatten(0, 1)
    }
}

impl ScoreNet for EnergyNet {
    fn score(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let fwd = self.forward_pass(x, sigma);
        self.to_score(self.grad_x(&fwd), sigma)
    }

    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let fwd = self.forward_pass(x, sigma);
        let (g, hv) = self.grad_and_hvp(&fwd, v);
        (self.to_score(g, sigma), self.to_score(hv, sigma))
    }

    fn score_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let fwd = self.forward_pass(x.clone(), sigma);
        let g = self.grad_x(&fwd);
        let lap = self.laplacian(x, sigma, &fwd, path);
        (self.to_score(g, sigma), self.to_score(lap, sigma))
    }

    fn trace_path(&self, requested: TracePath) -> TracePath {
        EnergyNet::trace_path(self, requested)
    }

    fn kernel_shape(&self) -> Option<MlpShape> {
        Some(MlpShape {
            dim: self.dim,
            widths: self.hidden.iter().map(|l| l.dims().1).collect(),
            activation: self.activation,
            noise_conditional: self.noise_conditional,
            energy: true,
        })
    }

    fn flat_params(&self) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for layer in self.hidden.iter().chain([&self.output]) {
            layer.append_values(&mut out)?;
        }
        Ok(out)
    }

    fn param_layout(&self) -> Vec<ParamTensor> {
        stack_layout(self.hidden.iter().chain([&self.output]))
    }

    fn with_flat_params(&self, theta: &[f64], ctx: &Ctx) -> Self {
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

    fn is_noise_conditional(&self) -> bool {
        self.noise_conditional
    }

    fn energy(&self, x: Tensor<2>, sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        Some(EnergyNet::energy(self, x, sigma))
    }
}
