//! The reverse mode: from the loss gradients with respect to s, vᵀ(∂s/∂x)v or the trace to
//! ∂L/∂θ, by one sweep up the gradient of E and one sweep down the network and its tangents.

use super::{Directions, EnergyKernel};
use crate::kernels::gemm::{Mat, MatMut};
use crate::kernels::rows::column_sums;
use crate::kernels::{Real, vectorized};

impl<T: Real> EnergyKernel<T> {
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
        grad.fill(T::ZERO);
        self.seed_adjoints();
        let depth = self.shape.widths.len();
        for l in 0..depth {
            self.upward(theta, l);
        }
        // w̄ = Σ_b ḡ_L; the bias c has no gradient (s does not depend on it).
        let h = self.shape.widths[depth - 1];
        let (gw, _) = self.shape.params_mut(grad, depth);
        let g_top = &self.lower[depth][..self.rows * h];
        vectorized(
            #[inline(always)]
            || column_sums(g_top, gw),
        );
        for l in (0..depth).rev() {
            self.downward(theta, grad, l);
        }
    }

    /// ḡ at the input, −∂L/∂s (÷σ) with 0 at ln σ, and q̄ = −∂L/∂(vᵀ(∂s/∂x)v) (or
    /// −∂L/∂tr).
    fn seed_adjoints(&mut self) {
        let (b, d, n_in) = (self.rows, self.shape.dim, self.shape.inputs());
        let g_in = &mut self.lower[0][..b * n_in];
        for (r, (g, s)) in g_in
            .chunks_exact_mut(n_in)
            .zip(self.grad_score.chunks_exact(d))
            .enumerate()
        {
            let scale = if self.sigma.is_empty() {
                -T::ONE
            } else {
                -T::ONE / self.sigma[r]
            };
            g[..d].iter_mut().zip(s).for_each(|(g, &s)| *g = scale * s);
            g[d..].fill(T::ZERO);
        }
        let seeds = match self.directions {
            Directions::None => &[][..],
            Directions::Given => &self.grad_vjv[..],
            Directions::Axes => &self.grad_trace[..],
        };
        for (j, (q, &g)) in self.curvature_grad.iter_mut().zip(seeds).enumerate() {
            *q = if self.sigma.is_empty() {
                -g
            } else {
                -g / self.sigma[j % b]
            };
        }
    }

    /// Layer `l` on the way up: ḡ_z = ḡ_{l−1} W_l, then ḡ_l and z̄_l's share from the
    /// gradient of E and the curvature terms.
    fn upward(&mut self, theta: &[T], l: usize) {
        let b = self.rows;
        let (fan_in, h) = self.shape.layer(l);
        let (w, _) = self.shape.params(theta, l);
        let g_z_bar = &mut self.grad_z[..b * h];
        self.gemm.matmul(
            MatMut::rows(g_z_bar, b, h),
            Mat::rows(&self.lower[l], b, fan_in),
            Mat::rows(w, fan_in, h),
            false,
            rayon::current_num_threads(),
        );
        let g_bar = &mut self.lower[l + 1][..b * h];
        let z_bar = &mut self.upper[l][b * h..2 * b * h];
        let (g, slope, curv) = (&self.grad_h[l], &self.slope[l], &self.curvature[l]);
        if self.directions == Directions::None {
            vectorized(
                #[inline(always)]
                || upward_rows(g_z_bar, g, slope, curv, g_bar, z_bar),
            );
            return;
        }
        // m = Σ_k q̄_k u_k².
        let m = &mut self.moment[..b * h];
        let q_bar = &self.curvature_grad;
        match self.directions {
            Directions::Axes => {
                // Σ_k u_k² is ‖W₁[:, a]‖² at the first layer, per sample beyond.
                let sums = &self.squares[l];
                for (r, (m_r, &q)) in m.chunks_exact_mut(h).zip(q_bar).enumerate() {
                    let s = if l == 0 {
                        &sums[..h]
                    } else {
                        &sums[r * h..(r + 1) * h]
                    };
                    m_r.iter_mut().zip(s).for_each(|(m, &s)| *m = q * s);
                }
            }
            _ => {
                let u = &self.raw[l][b * h..];
                vectorized(
                    #[inline(always)]
                    || weighted_squares_per_sample(h, u, q_bar, m),
                );
            }
        }
        let third = &self.third[l];
        vectorized(
            #[inline(always)]
            || upward_rows_curved(g_z_bar, g, [slope, curv, third], m, g_bar, z_bar),
        );
    }

    /// Layer `l` on the way down: z̄ and ū complete, then the stacked weight gradient, the
    /// bias gradient and [h̄; t̄] for the layer below.
    fn downward(&mut self, theta: &[T], grad: &mut [T], l: usize) {
        let b = self.rows;
        let depth = self.shape.widths.len();
        let (fan_in, h) = self.shape.layer(l);
        let t = self.tangent_rows[l];
        let from_above = l + 1 < depth;
        let (back_h, back_t) = self.back.split_at(b * h);
        let (z_bar, u_bar) = self.upper[l][b * h..].split_at_mut(b * h);
        let (slope, curv) = (&self.slope[l], &self.curvature[l]);
        if from_above {
            z_bar
                .iter_mut()
                .zip(&back_h[..b * h])
                .zip(slope)
                .for_each(|((z, &hb), &s)| *z += hb * s);
        }
        if t > 0 {
            let u = &self.raw[l][b * h..];
            let t_bar = from_above.then_some(&back_t[..t * h]);
            let (bent, q_bar) = (&self.bent[l], &self.curvature_grad);
            vectorized(
                #[inline(always)]
                || tangent_adjoints(h, u, t_bar, [slope, curv, bent], q_bar, u_bar, z_bar),
            );
        }
        let (w, _) = self.shape.params(theta, l);
        let (gw, gb) = self.shape.params_mut(grad, l);
        if self.directions == Directions::Axes && l == 0 {
            let t_bar = from_above.then_some(&back_t[..self.tangent_rows[1] * h]);
            let column = &mut self.moment[..h];
            first_layer_axes(
                w,
                t_bar,
                [slope, curv, &self.bent[0]],
                &self.curvature_grad,
                column,
                gw,
                z_bar,
            );
        }
        let n = 2 * b + t;
        let threads = rayon::current_num_threads();
        self.gemm.matmul(
            MatMut::rows(gw, fan_in, h),
            Mat::rows(&self.lower[l], n, fan_in).t(),
            Mat::rows(&self.upper[l], n, h),
            true,
            threads,
        );
        let z_bar = &self.upper[l][b * h..2 * b * h];
        vectorized(
            #[inline(always)]
            || column_sums(z_bar, gb),
        );
        if l > 0 {
            self.gemm.matmul(
                MatMut::rows(&mut self.back, b + t, fan_in),
                Mat::rows(&self.upper[l][b * h..], b + t, h),
                Mat::rows(w, fan_in, h).t(),
                false,
                threads,
            );
        }
    }
}

/// ḡ = ḡ_z ⊙ f′ and z̄ = g ⊙ ḡ_z ⊙ f″ (no curvature terms).
#[inline(always)]
fn upward_rows<T: Real>(
    g_z_bar: &[T],
    g: &[T],
    slope: &[T],
    curv: &[T],
    g_bar: &mut [T],
    z_bar: &mut [T],
) {
    for (((((&a, &g), &s), &c), gb), zb) in g_z_bar
        .iter()
        .zip(g)
        .zip(slope)
        .zip(curv)
        .zip(g_bar.iter_mut())
        .zip(z_bar.iter_mut())
    {
        *gb = a * s;
        *zb = g * (a * c);
    }
}

/// ḡ = ḡ_z ⊙ f′ + f″ ⊙ m and z̄ = g ⊙ (ḡ_z ⊙ f″ + f‴ ⊙ m).
#[inline(always)]
fn upward_rows_curved<T: Real>(
    g_z_bar: &[T],
    g: &[T],
    [slope, curv, third]: [&[T]; 3],
    m: &[T],
    g_bar: &mut [T],
    z_bar: &mut [T],
) {
    for (((((((&a, &g), &s), &c), &d), &m), gb), zb) in g_z_bar
        .iter()
        .zip(g)
        .zip(slope)
        .zip(curv)
        .zip(third)
        .zip(m)
        .zip(g_bar.iter_mut())
        .zip(z_bar.iter_mut())
    {
        *gb = a * s + c * m;
        *zb = g * (a * c + d * m);
    }
}

/// m[b, a] = Σ_k q̄[k·B + b] u[k·B + b, a]².
#[inline(always)]
fn weighted_squares_per_sample<T: Real>(h: usize, u: &[T], q_bar: &[T], m: &mut [T]) {
    m.fill(T::ZERO);
    let b = m.len() / h;
    for (u_k, q_k) in u.chunks_exact(b * h).zip(q_bar.chunks_exact(b)) {
        for ((m_r, u_r), &q) in m.chunks_exact_mut(h).zip(u_k.chunks_exact(h)).zip(q_k) {
            m_r.iter_mut()
                .zip(u_r)
                .for_each(|(m, &u)| *m += q * (u * u));
        }
    }
}

/// For each direction row j = k·B + b: ū = 2 q̄ (g f″) ⊙ u + t̄ ⊙ f′ and
/// z̄[b] += f″ ⊙ t̄ ⊙ u (the t̄ terms only below the last hidden layer). q̄ has one entry per
/// row, or one per sample (the axes).
#[inline(always)]
fn tangent_adjoints<T: Real>(
    h: usize,
    u: &[T],
    t_bar: Option<&[T]>,
    [slope, curv, bent]: [&[T]; 3],
    q_bar: &[T],
    u_bar: &mut [T],
    z_bar: &mut [T],
) {
    let b = slope.len() / h;
    let two = T::ONE + T::ONE;
    for (j, (u_j, ub_j)) in u.chunks_exact(h).zip(u_bar.chunks_exact_mut(h)).enumerate() {
        let r = j % b;
        let q = two * q_bar[j % q_bar.len()];
        let at = r * h..(r + 1) * h;
        let (s, c, g) = (&slope[at.clone()], &curv[at.clone()], &bent[at.clone()]);
        match t_bar {
            None => ub_j
                .iter_mut()
                .zip(u_j)
                .zip(g)
                .for_each(|((ub, &u), &g)| *ub = q * (g * u)),
            Some(t_bar) => {
                let tb_j = &t_bar[j * h..(j + 1) * h];
                let zb = &mut z_bar[at];
                for ((((((ub, zb), &u), &tb), &s), &c), &g) in ub_j
                    .iter_mut()
                    .zip(zb.iter_mut())
                    .zip(u_j)
                    .zip(tb_j)
                    .zip(s)
                    .zip(c)
                    .zip(g)
                {
                    *ub = q * (g * u) + tb * s;
                    *zb += c * (tb * u);
                }
            }
        }
    }
}

/// The first layer along the axes, where u_k = W₁[k, :] and t_0 = e_k: W̄₁[k, :] +=
/// W₁[k, :] ⊙ c + Σ_b t̄_{k,b} ⊙ f′_b with c = 2 Σ_b q̄_b g f″ (in `column`), and
/// z̄_b += f″_b ⊙ Σ_k t̄_{k,b} ⊙ W₁[k, :].
fn first_layer_axes<T: Real>(
    w: &[T],
    t_bar: Option<&[T]>,
    [slope, curv, bent]: [&[T]; 3],
    q_bar: &[T],
    column: &mut [T],
    gw: &mut [T],
    z_bar: &mut [T],
) {
    let h = column.len();
    let two = T::ONE + T::ONE;
    column.fill(T::ZERO);
    for (g, &q) in bent.chunks_exact(h).zip(q_bar) {
        let q = two * q;
        column.iter_mut().zip(g).for_each(|(c, &g)| *c += q * g);
    }
    for (gw_k, w_k) in gw.chunks_exact_mut(h).zip(w.chunks_exact(h)) {
        gw_k.iter_mut()
            .zip(w_k)
            .zip(&*column)
            .for_each(|((gw, &w), &c)| *gw += w * c);
    }
    let Some(t_bar) = t_bar else {
        return;
    };
    let b = q_bar.len();
    for (k, (gw_k, w_k)) in gw.chunks_exact_mut(h).zip(w.chunks_exact(h)).enumerate() {
        for (r, ((s, c), zb)) in slope
            .chunks_exact(h)
            .zip(curv.chunks_exact(h))
            .zip(z_bar.chunks_exact_mut(h))
            .enumerate()
        {
            let tb = &t_bar[(k * b + r) * h..(k * b + r + 1) * h];
            for (((((gw, zb), &tb), &w), &s), &c) in gw_k
                .iter_mut()
                .zip(zb.iter_mut())
                .zip(tb)
                .zip(w_k)
                .zip(s)
                .zip(c)
            {
                *gw += tb * s;
                *zb += c * (tb * w);
            }
        }
    }
}
