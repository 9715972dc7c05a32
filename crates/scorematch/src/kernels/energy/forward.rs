//! The forward pass: the network and its tangents upwards, the gradient of E downwards, and
//! the curvature terms from both.

use super::{Directions, EnergyKernel};
use crate::kernels::activation::with_act;
use crate::kernels::gemm::{Mat, MatMut};
use crate::kernels::rows::{dot, primal_rows_curved, primal_rows_third, tangent_rows};
use crate::kernels::{Real, vectorized};

impl<T: Real> EnergyKernel<T> {
    /// s = −∇ₓE and, as the pass asks, vᵀ(∂s/∂x)v or tr ∂s/∂x, at parameters `theta`.
    ///
    /// # Panics
    /// If `theta` does not have [`MlpShape::param_count`](crate::model::MlpShape::param_count) entries.
    pub fn forward(&mut self, theta: &[T]) {
        assert_eq!(
            theta.len(),
            self.shape.param_count(),
            "θ has the wrong length"
        );
        self.fill_input();
        for l in 0..self.shape.widths.len() {
            self.layer_forward(theta, l);
        }
        self.energy_gradient(theta);
        self.write_score();
        match self.directions {
            Directions::None => {}
            Directions::Given => self.directional_curvature(),
            Directions::Axes => self.laplacian(theta),
        }
    }

    /// Copies [x, ln σ] and v into the rows the first layer reads.
    fn fill_input(&mut self) {
        let (d, n_in, b) = (self.shape.dim, self.shape.inputs(), self.rows);
        let input = &mut self.lower[0][b * n_in..];
        for (r, (row, x)) in input
            .chunks_exact_mut(n_in)
            .zip(self.x.chunks_exact(d))
            .enumerate()
        {
            row[..d].copy_from_slice(x);
            if n_in > d {
                row[d] = self.sigma[r].ln();
            }
        }
        // Direction rows [v, 0]: σ does not move along a direction.
        for (row, v) in input[b * n_in..]
            .chunks_exact_mut(n_in)
            .zip(self.v.chunks_exact(d))
        {
            row[..d].copy_from_slice(v);
        }
    }

    /// Hidden layer `l`: z and u by one product, then h, f′, f″ (f‴), and the tangents t
    /// the next layer reads.
    fn layer_forward(&mut self, theta: &[T], l: usize) {
        let b = self.rows;
        let (fan_in, h) = self.shape.layer(l);
        let (w, bias) = self.shape.params(theta, l);
        let n = b + self.tangent_rows[l];
        let (below, above) = self.lower.split_at_mut(l + 1);
        self.gemm.matmul(
            MatMut::rows(&mut self.raw[l], n, h),
            Mat::rows(&below[l][b * fan_in..], n, fan_in),
            Mat::rows(w, fan_in, h),
            false,
            rayon::current_num_threads(),
        );
        let raw = &self.raw[l];
        let next = &mut above[0];
        let (slope, curvature) = (&mut self.slope[l], &mut self.curvature[l]);
        let act_fn = self.shape.activation;
        let primal = &mut next[b * h..2 * b * h];
        if self.third.is_empty() {
            vectorized(
                #[inline(always)]
                || with_act!(act_fn, A => primal_rows_curved::<A, T>(&raw[..b * h], bias, primal, slope, curvature)),
            );
        } else {
            let third = &mut self.third[l];
            vectorized(
                #[inline(always)]
                || with_act!(act_fn, A => primal_rows_third::<A, T>(&raw[..b * h], bias, primal, [slope, curvature, third])),
            );
        }
        let tangents = &mut next[2 * b * h..];
        if tangents.is_empty() {
            return;
        }
        let slope = &self.slope[l];
        if self.directions == Directions::Axes && l == 0 {
            // u = e_k W₁ = W₁[k, :]: t = f′ ⊙ W₁[k, :] without a product.
            for (t_k, w_k) in tangents.chunks_exact_mut(b * h).zip(w.chunks_exact(h)) {
                for (t, f1) in t_k.chunks_exact_mut(h).zip(slope.chunks_exact(h)) {
                    t.iter_mut()
                        .zip(w_k)
                        .zip(f1)
                        .for_each(|((t, &w), &s)| *t = s * w);
                }
            }
        } else {
            vectorized(
                #[inline(always)]
                || tangent_rows(&raw[b * h..], slope, tangents),
            );
        }
    }

    /// g_l (the gradient of E reaching h_l), g_z = g ⊙ f′ and g ⊙ f″ for every hidden layer,
    /// and ∇E at the input.
    fn energy_gradient(&mut self, theta: &[T]) {
        let b = self.rows;
        let depth = self.shape.widths.len();
        let (w_out, _) = self.shape.params(theta, depth);
        for row in self.grad_h[depth - 1].chunks_exact_mut(w_out.len()) {
            row.copy_from_slice(w_out);
        }
        for l in (0..depth).rev() {
            let (fan_in, h) = self.shape.layer(l);
            let (g, slope, curv) = (&self.grad_h[l], &self.slope[l], &self.curvature[l]);
            let (g_z, bent) = (&mut self.upper[l][..b * h], &mut self.bent[l]);
            vectorized(
                #[inline(always)]
                || gradient_at_z(g, slope, curv, g_z, bent),
            );
            let (w, _) = self.shape.params(theta, l);
            let target = if l == 0 {
                &mut self.grad_in
            } else {
                &mut self.grad_h[l - 1]
            };
            self.gemm.matmul(
                MatMut::rows(target, b, fan_in),
                Mat::rows(&self.upper[l], b, h),
                Mat::rows(w, fan_in, h).t(),
                false,
                rayon::current_num_threads(),
            );
        }
    }

    /// s = −∇ₓE, divided by σ for a noise-conditional network.
    fn write_score(&mut self) {
        let (d, n_in) = (self.shape.dim, self.shape.inputs());
        for (r, (s, g)) in self
            .score
            .chunks_exact_mut(d)
            .zip(self.grad_in.chunks_exact(n_in))
            .enumerate()
        {
            let scale = if self.sigma.is_empty() {
                -T::ONE
            } else {
                -T::ONE / self.sigma[r]
            };
            s.iter_mut().zip(g).for_each(|(s, &g)| *s = scale * g);
        }
    }

    /// vᵀ(∂s/∂x)v = −Σ_l Σ_a g_l f″ u_l² (÷σ) for each direction row.
    fn directional_curvature(&mut self) {
        let b = self.rows;
        self.vjv.fill(T::ZERO);
        for (l, &h) in self.shape.widths.iter().enumerate() {
            let (u, bent) = (&self.raw[l][b * h..], &self.bent[l]);
            let vjv = &mut self.vjv;
            vectorized(
                #[inline(always)]
                || subtract_weighted_squares(u, bent, vjv),
            );
        }
        if !self.sigma.is_empty() {
            for (j, q) in self.vjv.iter_mut().enumerate() {
                *q = *q / self.sigma[j % b];
            }
        }
    }

    /// tr ∂s/∂x = −ΔE: the first layer's share in closed form, Σ_a g f″ ‖W₁[:, a]‖², the
    /// others' through the axis tangents, Σ_a g f″ Σ_k u_k².
    fn laplacian(&mut self, theta: &[T]) {
        let (b, d) = (self.rows, self.shape.dim);
        let h1 = self.shape.widths[0];
        let (w1, _) = self.shape.params(theta, 0);
        let norms = &mut self.squares[0];
        norms.fill(T::ZERO);
        for row in w1[..d * h1].chunks_exact(h1) {
            norms.iter_mut().zip(row).for_each(|(n, &w)| *n += w * w);
        }
        for (t, bent) in self.trace.iter_mut().zip(self.bent[0].chunks_exact(h1)) {
            *t = -dot(bent, norms);
        }
        for l in 1..self.shape.widths.len() {
            let h = self.shape.widths[l];
            let (u, sums) = (&self.raw[l][b * h..], &mut self.squares[l]);
            vectorized(
                #[inline(always)]
                || sum_squares_over_directions(u, sums),
            );
            for (t, (bent, sums)) in self
                .trace
                .iter_mut()
                .zip(self.bent[l].chunks_exact(h).zip(sums.chunks_exact(h)))
            {
                *t -= dot(bent, sums);
            }
        }
    }
}

/// g_z = g ⊙ f′ and g ⊙ f″.
#[inline(always)]
fn gradient_at_z<T: Real>(g: &[T], slope: &[T], curv: &[T], g_z: &mut [T], bent: &mut [T]) {
    for ((((&g, &s), &c), g_z), bent) in g
        .iter()
        .zip(slope)
        .zip(curv)
        .zip(g_z.iter_mut())
        .zip(bent.iter_mut())
    {
        *g_z = g * s;
        *bent = g * c;
    }
}

/// out[j] −= Σ_a bent[b, a] u[j, a]² for each direction row j = k·B + b.
#[inline(always)]
fn subtract_weighted_squares<T: Real>(u: &[T], bent: &[T], out: &mut [T]) {
    let Some(h) = u.len().checked_div(out.len()) else {
        return;
    };
    let b = bent.len() / h;
    for (j, (o, u)) in out.iter_mut().zip(u.chunks_exact(h)).enumerate() {
        let bent = &bent[(j % b) * h..(j % b + 1) * h];
        // Eight partial sums, so the loop vectorises without reassociating floats.
        let mut acc = [T::ZERO; 8];
        let (cu, cb) = (u.chunks_exact(8), bent.chunks_exact(8));
        let (ru, rb) = (cu.remainder(), cb.remainder());
        for (u, c) in cu.zip(cb) {
            for i in 0..8 {
                acc[i] += c[i] * (u[i] * u[i]);
            }
        }
        let mut total =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (&u, &c) in ru.iter().zip(rb) {
            total += c * (u * u);
        }
        *o -= total;
    }
}

/// sums[b, a] = Σ_k u[k·B + b, a]².
#[inline(always)]
fn sum_squares_over_directions<T: Real>(u: &[T], sums: &mut [T]) {
    sums.fill(T::ZERO);
    for u_k in u.chunks_exact(sums.len()) {
        sums.iter_mut().zip(u_k).for_each(|(s, &u)| *s += u * u);
    }
}
