//! The energy network E_θ(x) on host memory: its score s = −∇ₓE, the curvature terms the
//! objectives need (vᵀ(∂s/∂x)v for given directions, the exact trace), and the reverse mode
//! of all of them into one flat parameter vector θ.
//!
//! Row convention, as [`crate::model::EnergyNet`]: z_l = h_{l−1} W_l + b_l, h_l = f(z_l),
//! E = h_L w + c; θ holds W_1, b_1, …, W_L, b_L, w, c.
//!
//! **Score.** The gradient of E flows back as g_L = w, g_{z,l} = g_l ⊙ f′(z_l),
//! g_{l−1} = g_{z,l} W_lᵀ, and ∇ₓE = g_0 (the columns of x).
//!
//! **Curvature.** Along a direction v the forward tangents are u_l = t_{l−1} W_l (t_0 = v),
//! t_l = f′(z_l) ⊙ u_l, and the second derivative of E along v is
//! vᵀ∇²E v = Σ_l Σ_a g_l f″(z_l) u_l², with no backward tangent pass: a second-order change
//! f″u² injected at layer l reaches E through the gradient g_l. Along the D coordinate axes
//! the sum is the Laplacian ΔE; there the first layer's tangents are rows of W₁, so its
//! share is Σ_a g_1 f″ ‖W₁[:, a]‖² in closed form, and one hidden layer costs no tangents.
//!
//! **Reverse mode.** With ḡ_0 = ∂L/∂(∇ₓE) and q̄ = ∂L/∂(vᵀ∇²E v), m_l = Σ_k q̄_k u_{l,k}²:
//! - upwards: ḡ_{z,l} = ḡ_{l−1} W_l, ḡ_l = ḡ_{z,l} ⊙ f′ + f″ ⊙ m_l,
//!   z̄_l = g_l ⊙ (ḡ_{z,l} ⊙ f″ + f‴ ⊙ m_l), and w̄ = Σ_b ḡ_L;
//! - downwards, with [h̄_l; t̄_l] = [z̄_{l+1}; ū_{l+1}] W_{l+1}ᵀ from the layer above:
//!   ū_l = 2 q̄ g_l f″ u_l + t̄_l ⊙ f′, z̄_l += h̄_l ⊙ f′ + f″ ⊙ Σ_k t̄_{l,k} ⊙ u_{l,k},
//!   b̄_l = Σ_b z̄_l and W̄_l = [ḡ_{l−1}; h_{l−1}; t_{l−1}]ᵀ [g_{z,l}; z̄_l; ū_l], one product.
//!
//! The buffers keep those stacks together: `lower[l]` holds the rows [ḡ; h; t] that feed
//! layer l (the forward pass reads [h; t], the weight gradient all three), `upper[l]` the
//! rows [g_z; z̄; ū] of its output.

mod forward;
mod reverse;

use super::Real;
use super::gemm::Gemm;
use super::mlp::{Outputs, Pass};
use crate::model::MlpShape;

/// The directions a pass differentiates along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directions {
    /// None: the score only.
    None,
    /// K given directions per sample: vᵀ(∂s/∂x)v.
    Given,
    /// The D coordinate axes, summed: tr ∂s/∂x = −ΔE.
    Axes,
}

/// The buffers of one energy-network pass over a fixed number of rows, and its reverse mode.
///
/// Used as [`super::MlpKernel`] is: fill the inputs, [`Self::forward`], write the loss
/// gradients through [`Self::outputs`], [`Self::backward`]. Nothing is allocated after
/// construction.
#[derive(Clone, Debug)]
pub struct EnergyKernel<T> {
    shape: MlpShape,
    directions: Directions,
    /// Samples B.
    rows: usize,
    /// Per hidden layer: the tangent rows that enter it (K·B; D·B along the axes beyond the
    /// first layer; 0 without directions), and 0 for the last hidden layer's output.
    tangent_rows: Vec<usize>,
    x: Vec<T>,
    v: Vec<T>,
    sigma: Vec<T>,
    /// Per layer input (and the last hidden layer's output): [ḡ; h; t], `[2B + T_l, fan_in]`.
    lower: Vec<Vec<T>>,
    /// Per hidden layer: [h_{l−1} W_l; u_l], `[B + T_l, h]` (no bias).
    raw: Vec<Vec<T>>,
    /// Per hidden layer: [g_z; z̄; ū], `[2B + T_l, h]`.
    upper: Vec<Vec<T>>,
    /// Per hidden layer: f′, f″ and (with directions) f‴ at z, `[B, h]` each.
    slope: Vec<Vec<T>>,
    curvature: Vec<Vec<T>>,
    third: Vec<Vec<T>>,
    /// Per hidden layer: g, the gradient of E reaching h, `[B, h]`.
    grad_h: Vec<Vec<T>>,
    /// Per hidden layer: g ⊙ f″, `[B, h]`.
    bent: Vec<Vec<T>>,
    /// Along the axes: ‖W₁[:, a]‖² `[h]` for the first layer, Σ_k u_k² `[B, h]` beyond.
    squares: Vec<Vec<T>>,
    /// ∇E at the network input (x and ln σ), `[B, inputs]`.
    grad_in: Vec<T>,
    score: Vec<T>,
    vjv: Vec<T>,
    trace: Vec<T>,
    grad_score: Vec<T>,
    grad_vjv: Vec<T>,
    grad_trace: Vec<T>,
    /// q̄ = ∂L/∂(vᵀ∇²E v) per direction row (or per sample along the axes).
    curvature_grad: Vec<T>,
    /// Reverse-mode scratch: ḡ_z and m `[B, max h]`, [h̄; t̄] `[B + max T, max h]`.
    grad_z: Vec<T>,
    moment: Vec<T>,
    back: Vec<T>,
    /// Packing buffers of the matrix products.
    gemm: Gemm<T>,
}

impl<T: Real> EnergyKernel<T> {
    /// Buffers for `pass` over `rows` samples of the energy network `shape`.
    ///
    /// # Panics
    /// If `shape` is not an energy network with a hidden layer, or a trace pass is asked of a
    /// noise-conditional network (no objective uses one).
    pub fn new(shape: MlpShape, pass: Pass, rows: usize) -> Self {
        assert!(
            shape.energy && !shape.widths.is_empty(),
            "an energy kernel needs an energy network with a hidden layer"
        );
        assert!(
            !matches!(pass, Pass::Trace { .. }) || !shape.noise_conditional,
            "trace passes of noise-conditional networks are not fused"
        );
        let (directions, per_row) = match pass {
            Pass::Forward => (Directions::None, 0),
            Pass::Projected { per_row } => (Directions::Given, per_row),
            Pass::Trace { .. } => (Directions::Axes, shape.dim),
        };
        let depth = shape.widths.len();
        let tangent_rows: Vec<usize> = (0..=depth)
            .map(|l| match directions {
                _ if l == depth => 0,
                Directions::Given => per_row * rows,
                Directions::Axes if l > 0 => per_row * rows,
                _ => 0,
            })
            .collect();
        let widest = shape.widths.iter().copied().max().unwrap_or(0);
        let zeros = |n: usize| vec![T::ZERO; n];
        let hidden = |f: &dyn Fn(usize, usize) -> usize| -> Vec<Vec<T>> {
            (0..depth).map(|l| zeros(f(l, shape.widths[l]))).collect()
        };
        let lower = (0..=depth)
            .map(|l| {
                let width = if l == 0 {
                    shape.inputs()
                } else {
                    shape.widths[l - 1]
                };
                zeros((2 * rows + tangent_rows[l]) * width)
            })
            .collect();
        let curved = directions != Directions::None;
        let squares = match directions {
            Directions::Axes => hidden(&|l, h| if l == 0 { h } else { rows * h }),
            _ => Vec::new(),
        };
        let d = shape.dim;
        Self {
            x: zeros(rows * d),
            v: zeros(if directions == Directions::Given {
                per_row * rows * d
            } else {
                0
            }),
            sigma: zeros(if shape.noise_conditional { rows } else { 0 }),
            lower,
            raw: hidden(&|l, h| (rows + tangent_rows[l]) * h),
            upper: hidden(&|l, h| (2 * rows + tangent_rows[l]) * h),
            slope: hidden(&|_, h| rows * h),
            curvature: hidden(&|_, h| rows * h),
            third: if curved {
                hidden(&|_, h| rows * h)
            } else {
                Vec::new()
            },
            grad_h: hidden(&|_, h| rows * h),
            bent: hidden(&|_, h| rows * h),
            squares,
            grad_in: zeros(rows * shape.inputs()),
            score: zeros(rows * d),
            vjv: zeros(if directions == Directions::Given {
                per_row * rows
            } else {
                0
            }),
            trace: zeros(if directions == Directions::Axes {
                rows
            } else {
                0
            }),
            grad_score: zeros(rows * d),
            grad_vjv: zeros(if directions == Directions::Given {
                per_row * rows
            } else {
                0
            }),
            grad_trace: zeros(if directions == Directions::Axes {
                rows
            } else {
                0
            }),
            curvature_grad: zeros(match directions {
                Directions::None => 0,
                Directions::Given => per_row * rows,
                Directions::Axes => rows,
            }),
            grad_z: zeros(rows * widest),
            moment: zeros(if curved { rows * widest } else { 0 }),
            back: zeros((rows + tangent_rows.iter().copied().max().unwrap_or(0)) * widest),
            gemm: Gemm::new(),
            tangent_rows,
            shape,
            directions,
            rows,
        }
    }

    /// The network's architecture.
    pub fn shape(&self) -> &MlpShape {
        &self.shape
    }

    /// Samples per pass (B).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The inputs x, `[B, D]` row-major.
    pub fn x_mut(&mut self) -> &mut [T] {
        &mut self.x
    }

    /// The directions v, `[K·B, D]` (row k·B + b belongs to sample b).
    pub fn v_mut(&mut self) -> &mut [T] {
        &mut self.v
    }

    /// The noise level of each sample, `[B]` (noise-conditional networks).
    pub fn sigma_mut(&mut self) -> &mut [T] {
        &mut self.sigma
    }

    /// The outputs of the last [`Self::forward`] (s = −∇ₓE, vᵀ(∂s/∂x)v, tr ∂s/∂x) with the
    /// buffers for the loss gradients with respect to them.
    pub fn outputs(&mut self) -> Outputs<'_, T> {
        Outputs {
            rows: self.rows,
            s: &self.score,
            vjv: &self.vjv,
            trace: &self.trace,
            v: &self.v,
            sigma: &self.sigma,
            grad_s: &mut self.grad_score,
            grad_vjv: &mut self.grad_vjv,
            grad_trace: &mut self.grad_trace,
        }
    }

    /// Multiply-adds in the matrix products of one forward and backward pass.
    pub fn step_macs(&self) -> usize {
        let b = self.rows;
        (0..self.shape.widths.len())
            .map(|l| {
                let (fan_in, h) = self.shape.layer(l);
                let t = self.tangent_rows[l];
                // Forward [h; t], ∇E, ḡ_z, the stacked weight gradient, and [h̄; t̄] below
                // the first layer.
                let down = if l > 0 { b + t } else { 0 };
                ((b + t) + b + b + (2 * b + t) + down) * fan_in * h
            })
            .sum()
    }
}
