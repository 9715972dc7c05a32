//! The forward pass: primal rows and tangent rows through every layer, and the trace where
//! the pass asks for it.

use super::MlpKernel;
use crate::kernels::activation::with_act;
use crate::kernels::gemm::{Mat, MatMut};
use crate::kernels::rows::{add_bias, primal_rows, primal_rows_curved, row_dots, tangent_rows};
use crate::kernels::{Real, vectorized};

impl<T: Real> MlpKernel<T> {
    /// s(x) and, as the pass asks, J v or tr J, at parameters `theta`.
    ///
    /// # Panics
    /// If `theta` does not have [`MlpShape::param_count`](crate::model::MlpShape::param_count) entries.
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
            if self.shape.noise_conditional {
                // s = f / σ: vᵀ(∂s/∂x)v = vᵀ(∂f/∂x)v / σ.
                for (j, q) in self.vjv.iter_mut().enumerate() {
                    *q = *q / self.sigma[j % b];
                }
            }
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
    pub(super) fn fill_input(&mut self) {
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
            // Tangent rows [v, 0]: σ does not move along a direction.
            for (row, v) in self.input[b * n_in..]
                .chunks_exact_mut(n_in)
                .zip(self.v.chunks_exact(d))
            {
                row[..d].copy_from_slice(v);
            }
        }
    }
}
