//! The exact trace of ∂s/∂x in closed form for up to two hidden layers (cost independent of
//! D), and its reverse mode.

use super::{MlpKernel, TraceMethod};
use crate::kernels::gemm::{Mat, MatMut};
use crate::kernels::rows::{dot, row_dots};
use crate::kernels::{Real, vectorized};

impl<T: Real> MlpKernel<T> {
    /// tr J from the primal pass.
    pub(super) fn compute_trace(&mut self, theta: &[T]) {
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

    /// Gradients of the closed-form trace with respect to the weights it multiplies, added to
    /// `grad`; leaves the gradients with respect to f′ of each layer in the scratch buffers.
    pub(super) fn trace_parameter_grads(&mut self, theta: &[T], grad: &mut [T]) {
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
}

/// g_z = f′ g_h + f″ ∂L/∂f′ for the closed-form trace, where ∂L/∂f′ is `extra` `[B, h]`, or
/// with `per_row`, g_tr[b] · extra[a] (one hidden layer).
#[inline(always)]
pub(super) fn trace_grads<T: Real>(
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
