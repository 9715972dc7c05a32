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

use super::activation::{Act, with_act};
use super::gemm::{Gemm, Mat, MatMut};
use super::{Real, vectorized};
use crate::model::Activation;

/// The architecture of an MLP, and where its parameters sit in θ.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpShape {
    /// Data dimension D (inputs and outputs).
    pub dim: usize,
    /// Widths of the hidden layers (none: the linear model s = x W + b).
    pub widths: Vec<usize>,
    /// The hidden layers' nonlinearity.
    pub activation: Activation,
    /// Whether ln σ is an extra input and the output is divided by σ.
    pub noise_conditional: bool,
}

impl MlpShape {
    /// Number of network inputs: D, or D + 1 with ln σ.
    pub fn inputs(&self) -> usize {
        self.dim + usize::from(self.noise_conditional)
    }

    /// Number of dense layers, the output layer included.
    pub fn layers(&self) -> usize {
        self.widths.len() + 1
    }

    /// (fan_in, fan_out) of dense layer `l` (the last one is the output layer).
    pub fn layer(&self, l: usize) -> (usize, usize) {
        let fan_in = if l == 0 {
            self.inputs()
        } else {
            self.widths[l - 1]
        };
        let fan_out = self.widths.get(l).copied().unwrap_or(self.dim);
        (fan_in, fan_out)
    }

    /// Offset in θ of layer `l`'s weight; its bias follows it.
    pub fn offset(&self, l: usize) -> usize {
        (0..l)
            .map(|k| {
                let (i, o) = self.layer(k);
                i * o + o
            })
            .sum()
    }

    /// Length of θ.
    pub fn param_count(&self) -> usize {
        self.offset(self.layers())
    }

    /// The weight `[fan_in, fan_out]` and bias `[fan_out]` of layer `l` in `theta`.
    pub fn params<'a, T>(&self, theta: &'a [T], l: usize) -> (&'a [T], &'a [T]) {
        let (i, o) = self.layer(l);
        let at = self.offset(l);
        (&theta[at..at + i * o], &theta[at + i * o..at + i * o + o])
    }

    /// Mutable weight and bias of layer `l` in `theta`.
    pub fn params_mut<'a, T>(&self, theta: &'a mut [T], l: usize) -> (&'a mut [T], &'a mut [T]) {
        let (i, o) = self.layer(l);
        let at = self.offset(l);
        theta[at..at + i * o + o].split_at_mut(i * o)
    }

    /// Multiply-adds of one forward pass over `rows` rows (the matrix products only).
    pub fn forward_macs(&self, rows: usize) -> usize {
        (0..self.layers())
            .map(|l| {
                let (i, o) = self.layer(l);
                rows * i * o
            })
            .sum()
    }
}

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
    /// If a tangent or trace pass is asked of a noise-conditional network (no objective uses
    /// one; the tensor implementation covers it).
    pub fn new(shape: MlpShape, pass: Pass, rows: usize) -> Self {
        assert!(
            pass == Pass::Forward || !shape.noise_conditional,
            "tangent and trace passes of noise-conditional networks are not fused"
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

    /// s(x) and, as the pass asks, J v or tr J, at parameters `theta`.
    ///
    /// # Panics
    /// If `theta` does not have [`MlpShape::param_count`] entries.
    pub fn forward(&mut self, theta: &[T]) {
        assert_eq!(
            theta.len(),
            self.shape.param_count(),
            "θ has the wrong length"
        );
        let threads = rayon::current_num_threads();
        self.fill_input();
        let (b, all, d) = (self.rows, self.rows + self.tangent_rows, self.shape.dim);
        let depth = self.shape.widths.len();
        for l in 0..depth {
            let (fan_in, fan_out) = self.shape.layer(l);
            let (w, bias) = self.shape.params(theta, l);
            let prev = if l == 0 {
                &self.input
            } else {
                &self.act[l - 1]
            };
            self.gemm.matmul(
                MatMut::rows(&mut self.raw[l], all, fan_out),
                Mat::rows(prev, all, fan_in),
                Mat::rows(w, fan_in, fan_out),
                false,
                threads,
            );
            let raw = &self.raw[l];
            let act = &mut self.act[l];
            let slope = &mut self.slope[l];
            let act_fn = self.shape.activation;
            if self.curvature.is_empty() {
                vectorized(
                    #[inline(always)]
                    || with_act!(act_fn, A => primal_rows::<A, T>(raw, bias, act, slope)),
                );
            } else {
                let curvature = &mut self.curvature[l];
                vectorized(
                    #[inline(always)]
                    || with_act!(act_fn, A => primal_rows_curved::<A, T>(raw, bias, act, slope, curvature)),
                );
                vectorized(
                    #[inline(always)]
                    || tangent_rows(&raw[b * fan_out..], slope, &mut act[b * fan_out..]),
                );
            }
        }
        let (fan_in, _) = self.shape.layer(depth);
        let (w, bias) = self.shape.params(theta, depth);
        let last = if depth == 0 {
            &self.input
        } else {
            &self.act[depth - 1]
        };
        let out_rows = if self.projected { b } else { all };
        self.gemm.matmul(
            MatMut::rows(&mut self.out, out_rows, d),
            Mat::rows(last, out_rows, fan_in),
            Mat::rows(w, fan_in, d),
            false,
            threads,
        );
        if self.projected {
            // a = v W_oᵀ, vᵀ(J v) = t_L · a.
            let k_b = self.tangent_rows;
            self.gemm.matmul(
                MatMut::rows(&mut self.projection, k_b, fan_in),
                Mat::rows(&self.v, k_b, d),
                Mat::rows(w, fan_in, d).t(),
                false,
                threads,
            );
            let (t, a, vjv) = (&last[b * fan_in..], &self.projection, &mut self.vjv);
            vectorized(
                #[inline(always)]
                || row_dots(t, a, fan_in, vjv),
            );
        }
        let score = &mut self.out[..b * d];
        vectorized(
            #[inline(always)]
            || add_bias(score, bias),
        );
        if self.shape.noise_conditional {
            for (row, &s) in score.chunks_exact_mut(d).zip(&self.sigma) {
                row.iter_mut().for_each(|v| *v = *v / s);
            }
        }
        if self.trace_method.is_some() {
            self.compute_trace(theta);
        }
    }

    /// Copies x, v and ln σ into the network input.
    fn fill_input(&mut self) {
        let (d, n_in, b) = (self.shape.dim, self.shape.inputs(), self.rows);
        if n_in == d {
            self.input[..b * d].copy_from_slice(&self.x);
        } else {
            for ((row, x), s) in self
                .input
                .chunks_exact_mut(n_in)
                .zip(self.x.chunks_exact(d))
                .zip(&self.sigma)
            {
                row[..d].copy_from_slice(x);
                row[d] = s.ln();
            }
        }
        if !self.v.is_empty() {
            self.input[b * d..].copy_from_slice(&self.v);
        }
    }

    /// tr J from the primal pass.
    fn compute_trace(&mut self, theta: &[T]) {
        let (b, d) = (self.rows, self.shape.dim);
        let depth = self.shape.widths.len();
        let (w_out, _) = self.shape.params(theta, depth);
        match self.trace_method {
            Some(TraceMethod::Linear) => {
                let tr = (0..d).fold(T::ZERO, |acc, i| acc + w_out[i * d + i]);
                self.trace.fill(tr);
            }
            Some(TraceMethod::OneLayer) => {
                let h = self.shape.widths[0];
                let (w1, _) = self.shape.params(theta, 0);
                // c_a = Σ_i W₁[i, a] W_o[a, i]
                for (a, c) in self.trace_n.iter_mut().enumerate() {
                    *c = (0..d).fold(T::ZERO, |acc, i| acc + w1[i * h + a] * w_out[a * d + i]);
                }
                let c = &self.trace_n;
                for (t, d1) in self.trace.iter_mut().zip(self.slope[0].chunks_exact(h)) {
                    *t = dot(d1, c);
                }
            }
            Some(TraceMethod::TwoLayers) => {
                let threads = rayon::current_num_threads();
                let (h1, h2) = (self.shape.widths[0], self.shape.widths[1]);
                let (w1, _) = self.shape.params(theta, 0);
                let (w2, _) = self.shape.params(theta, 1);
                // N = W_o W₁ [h₂, h₁], C = W₂ ⊙ Nᵀ [h₁, h₂], E = D₁ C [B, h₂].
                self.gemm.matmul(
                    MatMut::rows(&mut self.trace_n, h2, h1),
                    Mat::rows(w_out, h2, d),
                    Mat::rows(&w1[..d * h1], d, h1),
                    false,
                    threads,
                );
                for a in 0..h1 {
                    for c in 0..h2 {
                        self.trace_c[a * h2 + c] = w2[a * h2 + c] * self.trace_n[c * h1 + a];
                    }
                }
                self.gemm.matmul(
                    MatMut::rows(&mut self.trace_e, b, h2),
                    Mat::rows(&self.slope[0], b, h1),
                    Mat::rows(&self.trace_c, h1, h2),
                    false,
                    threads,
                );
                let (e, d2) = (&self.trace_e, &self.slope[1]);
                let trace = &mut self.trace;
                vectorized(
                    #[inline(always)]
                    || row_dots(e, d2, h2, trace),
                );
            }
            Some(TraceMethod::Columns) => {
                // tr_b = Σ_k (J e_k)_k, the tangent of row k·B + b.
                let jv = &self.out[b * d..];
                for (r, t) in self.trace.iter_mut().enumerate() {
                    *t = (0..d).fold(T::ZERO, |acc, k| acc + jv[(k * b + r) * d + k]);
                }
            }
            None => {}
        }
    }

    /// ∂L/∂θ from the loss gradients with respect to the outputs, written to `grad`
    /// (overwritten). Call after [`Self::forward`] at the same `theta`.
    ///
    /// # Panics
    /// If `theta` or `grad` do not have [`MlpShape::param_count`] entries.
    pub fn backward(&mut self, theta: &[T], grad: &mut [T]) {
        let count = self.shape.param_count();
        assert!(
            theta.len() == count && grad.len() == count,
            "θ has the wrong length"
        );
        let threads = rayon::current_num_threads();
        let (b, all, d) = (self.rows, self.rows + self.tangent_rows, self.shape.dim);
        let depth = self.shape.widths.len();
        grad.fill(T::ZERO);
        if self.shape.noise_conditional {
            // s = f / σ
            for (row, &s) in self.grad_out.chunks_exact_mut(d).zip(&self.sigma) {
                row.iter_mut().for_each(|g| *g = *g / s);
            }
        }
        if self.trace_method == Some(TraceMethod::Columns) {
            // tr_b = Σ_k jv[k·B + b][k]
            let g_jv = &mut self.grad_out[b * d..];
            g_jv.fill(T::ZERO);
            for k in 0..d {
                for r in 0..b {
                    g_jv[(k * b + r) * d + k] = self.grad_trace[r];
                }
            }
        }
        if self.projected {
            // ∂L/∂(J v) = ∂L/∂(vᵀ J v) · v, for the output layer's weight gradient.
            let g_jv = &mut self.grad_out[b * d..];
            for ((g, v), &scale) in g_jv
                .chunks_exact_mut(d)
                .zip(self.v.chunks_exact(d))
                .zip(&self.grad_vjv)
            {
                g.iter_mut().zip(v).for_each(|(g, &v)| *g = scale * v);
            }
        }
        // Output layer.
        let (fan_in, _) = self.shape.layer(depth);
        {
            let last = if depth == 0 {
                &self.input
            } else {
                &self.act[depth - 1]
            };
            let (gw, gb) = self.shape.params_mut(grad, depth);
            self.gemm.matmul(
                MatMut::rows(gw, fan_in, d),
                Mat::rows(last, all, fan_in).t(),
                Mat::rows(&self.grad_out, all, d),
                true,
                threads,
            );
            let g_s = &self.grad_out[..b * d];
            vectorized(
                #[inline(always)]
                || column_sums(g_s, gb),
            );
        }
        self.trace_parameter_grads(theta, grad);
        if depth == 0 {
            return;
        }
        let (w_out, _) = self.shape.params(theta, depth);
        let [mut g, mut spare] = std::mem::take(&mut self.back);
        // With the projection, the tangent rows' gradient is ∂L/∂(vᵀ J v) · a: no product.
        let product_rows = if self.projected { b } else { all };
        self.gemm.matmul(
            MatMut::rows(&mut g, product_rows, fan_in),
            Mat::rows(&self.grad_out, product_rows, d),
            Mat::rows(w_out, fan_in, d).t(),
            false,
            threads,
        );
        if self.projected {
            let g_t = &mut g[b * fan_in..all * fan_in];
            for ((g, a), &scale) in g_t
                .chunks_exact_mut(fan_in)
                .zip(self.projection.chunks_exact(fan_in))
                .zip(&self.grad_vjv)
            {
                g.iter_mut().zip(a).for_each(|(g, &a)| *g = scale * a);
            }
        }
        for l in (0..depth).rev() {
            let (fan_in, h) = self.shape.layer(l);
            self.layer_grad_z(l, &mut g[..all * h]);
            let prev = if l == 0 {
                &self.input
            } else {
                &self.act[l - 1]
            };
            let (gw, gb) = self.shape.params_mut(grad, l);
            self.gemm.matmul(
                MatMut::rows(gw, fan_in, h),
                Mat::rows(prev, all, fan_in).t(),
                Mat::rows(&g, all, h),
                true,
                threads,
            );
            let g_z = &g[..b * h];
            vectorized(
                #[inline(always)]
                || column_sums(g_z, gb),
            );
            if l > 0 {
                let (w, _) = self.shape.params(theta, l);
                self.gemm.matmul(
                    MatMut::rows(&mut spare, all, fan_in),
                    Mat::rows(&g, all, h),
                    Mat::rows(w, fan_in, h).t(),
                    false,
                    threads,
                );
                std::mem::swap(&mut g, &mut spare);
            }
        }
        self.back = [g, spare];
    }

    /// Turns the gradients reaching [h_l; t_l] (in `g`) into those reaching
    /// [z_l; t_{l−1} W_l], adding the closed-form trace's gradient through f′(z_l).
    fn layer_grad_z(&self, l: usize, g: &mut [T]) {
        let (b, h) = (self.rows, self.shape.widths[l]);
        let slope = &self.slope[l];
        let (primal, tangent) = g.split_at_mut(b * h);
        // The trace's gradient with respect to this layer's f′, if any.
        let trace_grad: Option<(&[T], Option<&[T]>)> = match (self.trace_method, l) {
            (Some(TraceMethod::OneLayer), _) => Some((&self.trace_n, Some(&self.grad_trace))),
            (Some(TraceMethod::TwoLayers), 0) => Some((&self.trace_g[1], None)),
            (Some(TraceMethod::TwoLayers), _) => Some((&self.trace_g[0], None)),
            _ => None,
        };
        match trace_grad {
            None if self.curvature.is_empty() => vectorized(
                #[inline(always)]
                || scale_rows(primal, slope),
            ),
            None => {
                let (curv, u) = (&self.curvature[l], &self.raw[l][b * h..]);
                vectorized(
                    #[inline(always)]
                    || tangent_grads(primal, tangent, slope, curv, u),
                );
            }
            Some((extra, per_row)) => {
                let curv = &self.curvature[l];
                vectorized(
                    #[inline(always)]
                    || trace_grads(primal, slope, curv, extra, per_row),
                );
            }
        }
    }

    /// Gradients of the closed-form trace with respect to the weights it multiplies, added to
    /// `grad`; leaves the gradients with respect to f′ of each layer in the scratch buffers.
    fn trace_parameter_grads(&mut self, theta: &[T], grad: &mut [T]) {
        let (b, d) = (self.rows, self.shape.dim);
        let depth = self.shape.widths.len();
        let threads = rayon::current_num_threads();
        match self.trace_method {
            Some(TraceMethod::Linear) => {
                let total = self.grad_trace.iter().fold(T::ZERO, |acc, &g| acc + g);
                let (gw, _) = self.shape.params_mut(grad, 0);
                for i in 0..d {
                    gw[i * d + i] += total;
                }
            }
            Some(TraceMethod::OneLayer) => {
                let h = self.shape.widths[0];
                // g_c[a] = Σ_b g_tr[b] d₁[b, a]
                let mut g_c = vec![T::ZERO; h];
                for (row, &g) in self.slope[0].chunks_exact(h).zip(&self.grad_trace) {
                    for (acc, &s) in g_c.iter_mut().zip(row) {
                        *acc += g * s;
                    }
                }
                let (w1, _) = self.shape.params(theta, 0);
                let (w_out, _) = self.shape.params(theta, 1);
                for a in 0..h {
                    for i in 0..d {
                        grad[i * h + a] += g_c[a] * w_out[a * d + i];
                    }
                }
                let (gw_out, _) = self.shape.params_mut(grad, 1);
                for a in 0..h {
                    for i in 0..d {
                        gw_out[a * d + i] += g_c[a] * w1[i * h + a];
                    }
                }
            }
            Some(TraceMethod::TwoLayers) => {
                let (h1, h2) = (self.shape.widths[0], self.shape.widths[1]);
                let [dg2, f, g_c, g_n] = &mut self.trace_g;
                let g_tr = &self.grad_trace;
                // Dg₂ = g_tr ⊙ D₂ (rows scaled); F = Dg₂ Cᵀ is ∂L/∂D₁.
                for ((out, d2), &g) in dg2
                    .chunks_exact_mut(h2)
                    .zip(self.slope[1].chunks_exact(h2))
                    .zip(g_tr)
                {
                    out.iter_mut().zip(d2).for_each(|(o, &v)| *o = g * v);
                }
                self.gemm.matmul(
                    MatMut::rows(f, b, h1),
                    Mat::rows(dg2, b, h2),
                    Mat::rows(&self.trace_c, h1, h2).t(),
                    false,
                    threads,
                );
                // g_C = D₁ᵀ Dg₂ [h₁, h₂]
                self.gemm.matmul(
                    MatMut::rows(g_c, h1, h2),
                    Mat::rows(&self.slope[0], b, h1).t(),
                    Mat::rows(dg2, b, h2),
                    false,
                    threads,
                );
                // ∂L/∂D₂ = g_tr ⊙ E, kept in dg2 (no longer needed).
                for ((out, e), &g) in dg2
                    .chunks_exact_mut(h2)
                    .zip(self.trace_e.chunks_exact(h2))
                    .zip(g_tr)
                {
                    out.iter_mut().zip(e).for_each(|(o, &v)| *o = g * v);
                }
                // dW₂ += g_C ⊙ Nᵀ; g_N[c, a] = g_C[a, c] W₂[a, c].
                let (w2, _) = self.shape.params(theta, 1);
                {
                    let (gw2, _) = self.shape.params_mut(grad, 1);
                    for a in 0..h1 {
                        for c in 0..h2 {
                            let gc = g_c[a * h2 + c];
                            gw2[a * h2 + c] += gc * self.trace_n[c * h1 + a];
                            g_n[c * h1 + a] = gc * w2[a * h2 + c];
                        }
                    }
                }
                // N = W_o W₁ₓ: dW_o += g_N W₁ₓᵀ, dW₁ₓ += W_oᵀ g_N.
                let (w1, _) = self.shape.params(theta, 0);
                let (w_out, _) = self.shape.params(theta, depth);
                {
                    let (gw_out, _) = self.shape.params_mut(grad, depth);
                    self.gemm.matmul(
                        MatMut::rows(gw_out, h2, d),
                        Mat::rows(g_n, h2, h1),
                        Mat::rows(&w1[..d * h1], d, h1).t(),
                        true,
                        threads,
                    );
                }
                let (gw1, _) = self.shape.params_mut(grad, 0);
                self.gemm.matmul(
                    MatMut::rows(&mut gw1[..d * h1], d, h1),
                    Mat::rows(w_out, h2, d).t(),
                    Mat::rows(g_n, h2, h1),
                    true,
                    threads,
                );
            }
            Some(TraceMethod::Columns) | None => {}
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

/// Elements per step of the activation loops: four AVX2 vectors of f32, whose independent
/// dependency chains the CPU interleaves.
const LANES: usize = 32;

/// h = f(raw + bias), f′ for the primal rows.
#[inline(always)]
fn primal_rows<A: Act, T: Real>(raw: &[T], bias: &[T], act: &mut [T], slope: &mut [T]) {
    let h = bias.len();
    for ((r, a), s) in raw
        .chunks_exact(h)
        .zip(act.chunks_exact_mut(h))
        .zip(slope.chunks_exact_mut(h))
    {
        let (r, r_tail) = r.as_chunks::<LANES>();
        let (b, b_tail) = bias.as_chunks::<LANES>();
        let (a, a_tail) = a.as_chunks_mut::<LANES>();
        let (s, s_tail) = s.as_chunks_mut::<LANES>();
        for (((r, b), a), s) in r.iter().zip(b).zip(a.iter_mut()).zip(s.iter_mut()) {
            for i in 0..LANES {
                (a[i], s[i]) = A::value_slope(r[i] + b[i]);
            }
        }
        for (((&r, &b), a), s) in r_tail
            .iter()
            .zip(b_tail)
            .zip(a_tail.iter_mut())
            .zip(s_tail.iter_mut())
        {
            (*a, *s) = A::value_slope(r + b);
        }
    }
}

/// h = f(raw + bias), f′ and f″ for the primal rows.
#[inline(always)]
fn primal_rows_curved<A: Act, T: Real>(
    raw: &[T],
    bias: &[T],
    act: &mut [T],
    slope: &mut [T],
    curvature: &mut [T],
) {
    let h = bias.len();
    for (((r, a), s), c) in raw
        .chunks_exact(h)
        .zip(act.chunks_exact_mut(h))
        .zip(slope.chunks_exact_mut(h))
        .zip(curvature.chunks_exact_mut(h))
    {
        let (r, r_tail) = r.as_chunks::<LANES>();
        let (b, b_tail) = bias.as_chunks::<LANES>();
        let (a, a_tail) = a.as_chunks_mut::<LANES>();
        let (s, s_tail) = s.as_chunks_mut::<LANES>();
        let (c, c_tail) = c.as_chunks_mut::<LANES>();
        for ((((r, b), a), s), c) in r
            .iter()
            .zip(b)
            .zip(a.iter_mut())
            .zip(s.iter_mut())
            .zip(c.iter_mut())
        {
            for i in 0..LANES {
                (a[i], s[i], c[i]) = A::value_slope_curvature(r[i] + b[i]);
            }
        }
        for ((((&r, &b), a), s), c) in r_tail
            .iter()
            .zip(b_tail)
            .zip(a_tail.iter_mut())
            .zip(s_tail.iter_mut())
            .zip(c_tail.iter_mut())
        {
            (*a, *s, *c) = A::value_slope_curvature(r + b);
        }
    }
}

/// t = f′ ⊙ u for every tangent row (row k·B + b uses sample b's f′).
#[inline(always)]
fn tangent_rows<T: Real>(u: &[T], slope: &[T], t: &mut [T]) {
    for (u, t) in u
        .chunks_exact(slope.len())
        .zip(t.chunks_exact_mut(slope.len()))
    {
        for ((&u, &s), t) in u.iter().zip(slope).zip(t.iter_mut()) {
            *t = s * u;
        }
    }
}

/// Adds `bias` to every row of `m`.
#[inline(always)]
fn add_bias<T: Real>(m: &mut [T], bias: &[T]) {
    for row in m.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
    }
}

/// `sums[j] += Σ_i m[i, j]`.
#[inline(always)]
fn column_sums<T: Real>(m: &[T], sums: &mut [T]) {
    for row in m.chunks_exact(sums.len()) {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
}

/// g ⊙= f′ row by row.
#[inline(always)]
fn scale_rows<T: Real>(g: &mut [T], slope: &[T]) {
    g.iter_mut().zip(slope).for_each(|(g, &s)| *g *= s);
}

/// Σ_j a[i, j] b[i, j] for each row i.
#[inline(always)]
fn row_dots<T: Real>(a: &[T], b: &[T], width: usize, out: &mut [T]) {
    for ((a, b), o) in a.chunks_exact(width).zip(b.chunks_exact(width)).zip(out) {
        *o = dot(a, b);
    }
}

#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    // Eight partial sums, so the loop vectorises without reassociating floats.
    let mut acc = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut total =
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (&x, &y) in ra.iter().zip(rb) {
        total += x * y;
    }
    total
}

/// Reverse mode through t = f′(z) ⊙ u: g_z = f′ g_h + f″ Σ_k g_t ⊙ u, then g_u = f′ g_t.
#[inline(always)]
fn tangent_grads<T: Real>(primal: &mut [T], tangent: &mut [T], slope: &[T], curv: &[T], u: &[T]) {
    scale_rows(primal, slope);
    let n = slope.len();
    for (g_t, u) in tangent.chunks_exact_mut(n).zip(u.chunks_exact(n)) {
        for ((((g_t, &u), &s), &c), g_z) in g_t
            .iter_mut()
            .zip(u)
            .zip(slope)
            .zip(curv)
            .zip(primal.iter_mut())
        {
            *g_z += c * (*g_t * u);
            *g_t = s * *g_t;
        }
    }
}

/// g_z = f′ g_h + f″ ∂L/∂f′ for the closed-form trace, where ∂L/∂f′ is `extra` `[B, h]`, or
/// with `per_row`, g_tr[b] · extra[a] (one hidden layer).
#[inline(always)]
fn trace_grads<T: Real>(
    primal: &mut [T],
    slope: &[T],
    curv: &[T],
    extra: &[T],
    per_row: Option<&[T]>,
) {
    match per_row {
        None => {
            for (((g, &s), &c), &e) in primal.iter_mut().zip(slope).zip(curv).zip(extra) {
                *g = s * *g + c * e;
            }
        }
        Some(g_tr) => {
            let h = extra.len();
            for (((g, s), c), &gt) in primal
                .chunks_exact_mut(h)
                .zip(slope.chunks_exact(h))
                .zip(curv.chunks_exact(h))
                .zip(g_tr)
            {
                for (((g, &s), &c), &e) in g.iter_mut().zip(s).zip(c).zip(extra) {
                    *g = s * *g + c * (gt * e);
                }
            }
        }
    }
}
