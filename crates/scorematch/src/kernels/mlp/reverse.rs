//! The reverse mode: from the loss gradients with respect to the pass's outputs to ∂L/∂θ,
//! through the primal rows, the tangent rows and the trace.

use super::trace::trace_grads;
use super::{MlpKernel, TraceMethod};
use crate::kernels::gemm::{Mat, MatMut};
use crate::kernels::rows::{column_sums, scale_rows};
use crate::kernels::{Real, vectorized};

impl<T: Real> MlpKernel<T> {
    /// ∂L/∂θ from the loss gradients with respect to the outputs, written to `grad`
    /// (overwritten). Call after [`Self::forward`] at the same `theta`.
    ///
    /// # Panics
    /// If `theta` or `grad` do not have [`MlpShape::param_count`](crate::model::MlpShape::param_count) entries.
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
            for (j, g) in self.grad_vjv.iter_mut().enumerate() {
                *g = *g / self.sigma[j % b];
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
    pub(super) fn layer_grad_z(&self, l: usize, g: &mut [T]) {
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
}

/// Reverse mode through t = f′(z) ⊙ u: g_z = f′ g_h + f″ Σ_k g_t ⊙ u, then g_u = f′ g_t.
#[inline(always)]
pub(super) fn tangent_grads<T: Real>(
    primal: &mut [T],
    tangent: &mut [T],
    slope: &[T],
    curv: &[T],
    u: &[T],
) {
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
