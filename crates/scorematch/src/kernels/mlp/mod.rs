//! The MLP score network on host memory: forward pass, projected tangent pass (vᵀ J v for
//! random directions v) and exact trace, each with its reverse-mode gradient into one flat parameter
//! vector θ.
//!
//! Row convention, as [`crate::model::Mlp`]: z_l = h_{l−1} W_l + b_l, h_l = f(z_l) for the
//! hidden layers, s = h_L W_o + b_o (divided by σ, with ln σ appended to the input, for a
//! noise-conditional network). θ holds W_1, b_1, …, W_L, b_L, W_o, b_o in that order, each
//! weight row-major `[fan_in, fan_out]`.
//!
//! Tangents ride along as extra rows: the buffers of a layer hold the B primal rows followed
//! by K·B tangent rows (tangent row k·B + b belongs to sample b), so each weight matrix enters
//! ONE matrix product per direction for primal and tangents together:
//! t_l = f′(z_l) ⊙ (t_{l−1} W_l). In reverse mode, with g_h and g_t the gradients reaching
//! h_l and t_l, g_z = f′ g_h + f″ Σ_k g_t ⊙ (t_{l−1} W_l) and g_(t_{l−1} W_l) = f′ g_t, and
//! the weight gradient is [h; t]ᵀ [g_z; g_u], again one product. The projected pass stops
//! the tangents at the last hidden layer: vᵀ(J v) = t_L · (v W_oᵀ), whose gradient with
//! respect to t_L is the already computed v W_oᵀ.
//!
//! The exact trace of ∂s/∂x uses closed forms for up to two hidden layers (cost independent
//! of D): tr(W₁D₁W_o) = d₁ · c with c_a = Σ_i W₁[i,a] W_o[a,i], and
//! tr(W₁D₁W₂D₂W_o) = d₁ᵀ C d₂ with C = W₂ ⊙ (W_o W₁)ᵀ. Deeper networks carry D tangents
//! (the columns of the identity) and sum the diagonal.

mod forward;
mod reverse;
mod trace;

use super::Real;
use super::gemm::Gemm;
pub use crate::model::MlpShape;

/// What a pass computes besides s(x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// s(x) only.
    Forward,
    /// s(x) and, for `per_row` directions v per sample, the projection vᵀ(J v) (what the
    /// sliced objectives need). The output layer never forms J v: with a = v W_oᵀ,
    /// vᵀ(J v) = t_L · a and its gradient with respect to t_L is a, so one product per
    /// direction is saved in the reverse mode.
    Projected {
        /// Tangents per sample (K).
        per_row: usize,
    },
    /// s(x) and tr J, exactly: in closed form for up to two hidden layers, unless `columns`
    /// asks to carry the D columns of J (the reference method) whatever the depth.
    Trace {
        /// Carry J's columns rather than use the closed form.
        columns: bool,
    },
}

/// How the trace is computed for a given depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TraceMethod {
    /// tr W_o (linear model).
    Linear,
    /// d₁ · c.
    OneLayer,
    /// d₁ᵀ C d₂.
    TwoLayers,
    /// D tangents along the coordinate axes.
    Columns,
}

/// The outputs of a pass (with the inputs the loss needs) and the loss gradients to fill.
#[derive(Debug)]
pub struct Outputs<'a, T> {
    /// Samples B.
    pub rows: usize,
    /// s(x), `[B, D]`.
    pub s: &'a [T],
    /// vᵀ(J v), `[K·B]` (projected pass).
    pub vjv: &'a [T],
    /// tr J, `[B]` (trace pass).
    pub trace: &'a [T],
    /// The directions v, `[K·B, D]` (projected pass).
    pub v: &'a [T],
    /// The noise levels, `[B]` (noise-conditional network).
    pub sigma: &'a [T],
    /// ∂L/∂s, `[B, D]`.
    pub grad_s: &'a mut [T],
    /// ∂L/∂(vᵀ J v), `[K·B]`.
    pub grad_vjv: &'a mut [T],
    /// ∂L/∂tr J, `[B]`.
    pub grad_trace: &'a mut [T],
}

/// The buffers of one network pass over a fixed number of rows, and its reverse mode.
///
/// Fill [`Self::x_mut`] (and [`Self::v_mut`], [`Self::sigma_mut`] as the pass needs), call
/// [`Self::forward`], read the outputs and write the loss gradients with respect to them
/// through [`Self::outputs`], and call [`Self::backward`]. Nothing is allocated after
/// construction.
#[derive(Clone, Debug)]
pub struct MlpKernel<T> {
    shape: MlpShape,
    trace_method: Option<TraceMethod>,
    /// Samples B.
    rows: usize,
    /// Tangent rows K·B.
    tangent_rows: usize,
    /// Whether the tangents end in vᵀ(J v) (projected pass) rather than J v (trace by
    /// columns).
    projected: bool,
    x: Vec<T>,
    v: Vec<T>,
    sigma: Vec<T>,
    /// Network input [B + K·B, inputs].
    input: Vec<T>,
    /// Per hidden layer: the product before bias/activation [B + K·B, h]; the tangent rows keep
    /// t_{l−1} W_l for the reverse mode.
    raw: Vec<Vec<T>>,
    /// Per hidden layer: [h; t] [B + K·B, h].
    act: Vec<Vec<T>>,
    /// Per hidden layer: f′(z) [B, h].
    slope: Vec<Vec<T>>,
    /// Per hidden layer: f″(z) [B, h] (tangent and trace passes).
    curvature: Vec<Vec<T>>,
    /// [s; J v] [B + K·B, D] (the J v rows for a trace by columns only).
    out: Vec<T>,
    trace: Vec<T>,
    /// a = v W_oᵀ [K·B, h_L] and vᵀ(J v) = t_L · a [K·B] (projected pass).
    projection: Vec<T>,
    vjv: Vec<T>,
    /// ∂L/∂[s; J v] [B + K·B, D].
    grad_out: Vec<T>,
    grad_trace: Vec<T>,
    grad_vjv: Vec<T>,
    /// Reverse-mode scratch, two buffers of [B + K·B, max h].
    back: [Vec<T>; 2],
    /// Trace scratch: c [h] (one layer) or W_o W₁ [h₂, h₁] and C [h₁, h₂] (two layers).
    trace_n: Vec<T>,
    trace_c: Vec<T>,
    /// D₁ C [B, h₂].
    trace_e: Vec<T>,
    /// Reverse-mode trace scratch: [B, h₂], [B, h₁], [h₁, h₂] and [h₂, h₁].
    trace_g: [Vec<T>; 4],
    /// Packing buffers of the matrix products.
    gemm: Gemm<T>,
}

impl<T: Real> MlpKernel<T> {
    /// Buffers for `pass` over `rows` samples.
    ///
    /// # Panics
    /// If a trace pass is asked of a noise-conditional network (no objective uses one; the
    /// tensor implementation covers it).
    pub fn new(shape: MlpShape, pass: Pass, rows: usize) -> Self {
        assert!(
            !matches!(pass, Pass::Trace { .. }) || !shape.noise_conditional,
            "trace passes of noise-conditional networks are not fused"
        );
        let depth = shape.widths.len();
        let trace_method = match pass {
            Pass::Trace { columns: true } => Some(TraceMethod::Columns),
            Pass::Trace { columns: false } => Some(match depth {
                0 => TraceMethod::Linear,
                1 => TraceMethod::OneLayer,
                2 => TraceMethod::TwoLayers,
                _ => TraceMethod::Columns,
            }),
            _ => None,
        };
        let traced = trace_method.is_some();
        let per_row = match (pass, trace_method) {
            (Pass::Projected { per_row }, _) => per_row,
            (_, Some(TraceMethod::Columns)) => shape.dim,
            _ => 0,
        };
        let tangent_rows = per_row * rows;
        let all = rows + tangent_rows;
        let projected = matches!(pass, Pass::Projected { .. });
        let last_width = shape.layer(shape.layers() - 1).0;
        let curved = pass != Pass::Forward;
        let d = shape.dim;
        let widest = shape.widths.iter().copied().max().unwrap_or(0);
        let zeros = |n: usize| vec![T::ZERO; n];
        let per_layer = |n_rows: usize| -> Vec<Vec<T>> {
            shape.widths.iter().map(|&h| zeros(n_rows * h)).collect()
        };
        let (h1, h2) = (
            shape.widths.first().copied().unwrap_or(0),
            shape.widths.get(1).copied().unwrap_or(0),
        );
        let (trace_n, trace_c, trace_e, trace_g) = match trace_method {
            Some(TraceMethod::OneLayer) => (zeros(h1), zeros(0), zeros(0), Default::default()),
            Some(TraceMethod::TwoLayers) => (
                zeros(h2 * h1),
                zeros(h1 * h2),
                zeros(rows * h2),
                [
                    zeros(rows * h2),
                    zeros(rows * h1),
                    zeros(h1 * h2),
                    zeros(h2 * h1),
                ],
            ),
            _ => Default::default(),
        };
        let mut kernel = Self {
            x: zeros(rows * d),
            v: zeros(if traced { 0 } else { tangent_rows * d }),
            sigma: zeros(if shape.noise_conditional { rows } else { 0 }),
            input: zeros(all * shape.inputs()),
            raw: per_layer(all),
            act: per_layer(all),
            slope: per_layer(rows),
            curvature: if curved { per_layer(rows) } else { Vec::new() },
            out: zeros(if projected { rows * d } else { all * d }),
            trace: zeros(if traced { rows } else { 0 }),
            projection: zeros(if projected {
                tangent_rows * last_width
            } else {
                0
            }),
            vjv: zeros(if projected { tangent_rows } else { 0 }),
            grad_out: zeros(all * d),
            grad_trace: zeros(if traced { rows } else { 0 }),
            grad_vjv: zeros(if projected { tangent_rows } else { 0 }),
            back: [zeros(all * widest), zeros(all * widest)],
            trace_n,
            trace_c,
            trace_e,
            trace_g,
            gemm: Gemm::new(),
            shape,
            trace_method,
            rows,
            tangent_rows,
            projected,
        };
        if trace_method == Some(TraceMethod::Columns) {
            // Tangent k·B + b is the k-th coordinate axis.
            let n_in = kernel.shape.inputs();
            for k in 0..d {
                for b in 0..rows {
                    kernel.input[(rows + k * rows + b) * n_in + k] = T::ONE;
                }
            }
        }
        kernel
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

    /// The tangent directions v, `[K·B, D]` (row k·B + b belongs to sample b).
    pub fn v_mut(&mut self) -> &mut [T] {
        &mut self.v
    }

    /// The noise level of each sample, `[B]` (noise-conditional networks).
    pub fn sigma_mut(&mut self) -> &mut [T] {
        &mut self.sigma
    }

    /// The outputs of the last [`Self::forward`] with the buffers for the loss gradients
    /// with respect to them, to fill before [`Self::backward`].
    pub fn outputs(&mut self) -> Outputs<'_, T> {
        let split = self.rows * self.shape.dim;
        Outputs {
            rows: self.rows,
            s: &self.out[..split],
            vjv: &self.vjv,
            trace: &self.trace,
            v: &self.v,
            sigma: &self.sigma,
            grad_s: &mut self.grad_out[..split],
            grad_vjv: &mut self.grad_vjv,
            grad_trace: &mut self.grad_trace,
        }
    }

    /// Multiply-adds in the matrix products of one forward and backward pass (for FLOP rates).
    pub fn step_macs(&self) -> usize {
        let all = self.rows + self.tangent_rows;
        // Forward, weight gradients and input gradients (none for the first layer; none for
        // the projected tangents at the output layer).
        let mut macs = 2 * self.shape.forward_macs(all);
        if let Some((i, o)) = (!self.shape.widths.is_empty()).then(|| self.shape.layer(0)) {
            macs += self.shape.forward_macs(all) - all * i * o;
            if self.projected {
                let (i, o) = self.shape.layer(self.shape.layers() - 1);
                macs -= self.tangent_rows * i * o;
            }
        }
        if self.trace_method == Some(TraceMethod::TwoLayers) {
            let (h1, h2, b, d) = (
                self.shape.widths[0],
                self.shape.widths[1],
                self.rows,
                self.shape.dim,
            );
            // N, E forward; F, g_C, dW_o, dW₁ backward.
            macs += h2 * d * h1 + b * h1 * h2 + 2 * b * h1 * h2 + 2 * h2 * h1 * d;
        }
        macs
    }
}
