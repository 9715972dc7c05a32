//! Kernel Stein discrepancy (Liu, Lee & Jordan 2016; Chwialkowski, Strathmann & Gretton
//! 2016) with the inverse multiquadric kernel k(x, y) = (c² + ‖x − y‖²)^β, β = −½, c = 1,
//! which detects non-convergence (Gorham & Mackey 2017). Of points x_i and a score s:
//!
//! KSD² = 1/(n(n−1)) Σ_{i≠j} u(x_i, x_j),
//! u(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇_x k + tr ∇_x∇_y k,
//!
//! the U-statistic, so it scatters around 0 (and can be slightly negative) when the points
//! follow the score's density; it needs no reference sample. With q = c² + ‖r‖², r = x − y:
//! ∇_x k = 2β q^{β−1} r = −∇_y k and tr ∇_x∇_y k = −2β [D q^{β−1} + 2(β−1) q^{β−2} ‖r‖²].
//!
//! Two uses: `sample_ksd`, the samples against the data's true score, and `model_ksd`, the
//! evaluation data against the model's score (a goodness of fit that needs no sampler). Cost:
//! n²/2 kernel evaluations, so at most [`KSD_POINTS`] points are used.

use super::mmd::{row, sq_dist};
use super::sample_quality::MetricInputs;

/// Most points a KSD uses (the first ones).
pub const KSD_POINTS: usize = 1000;

const BETA: f64 = -0.5;
const C2: f64 = 1.0;

/// The IMQ-kernel KSD² U-statistic of the rows of `x` under the scores `score` (the first
/// [`KSD_POINTS`] rows). NaN for fewer than two rows.
///
/// # Shapes
/// - `x`, `score`: `[n, dim]`, row-major
pub fn kernel_stein_discrepancy(x: &[f64], score: &[f64], dim: usize) -> f64 {
    let n = (x.len() / dim).min(KSD_POINTS);
    if n < 2 {
        return f64::NAN;
    }
    let d = dim as f64;
    let mut total = 0.0;
    let mut r = vec![0.0; dim];
    for i in 0..n {
        let (xi, si) = (row(x, i, dim), row(score, i, dim));
        for j in 0..i {
            let (xj, sj) = (row(x, j, dim), row(score, j, dim));
            r.iter_mut()
                .zip(xi.iter().zip(xj))
                .for_each(|(r, (a, b))| *r = a - b);
            let r2 = sq_dist(xi, xj);
            let q = C2 + r2;
            let k = q.powf(BETA);
            let grad = 2.0 * BETA * q.powf(BETA - 1.0);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
            // s_iᵀ∇_y k + s_jᵀ∇_x k with ∇_x k = grad·r = −∇_y k.
            let cross = grad * (dot(sj, &r) - dot(si, &r));
            let trace = -2.0
                * BETA
                * (d * q.powf(BETA - 1.0) + 2.0 * (BETA - 1.0) * q.powf(BETA - 2.0) * r2);
            // u is symmetric: each unordered pair counts twice.
            total += 2.0 * (dot(si, sj) * k + cross + trace);
        }
    }
    total / (n * (n - 1)) as f64
}

/// `sample_ksd`: the samples against the data density's score.
pub(super) fn value(i: &MetricInputs<'_>) -> Option<f64> {
    // No data score (data read from a file): no KSD of the samples.
    if i.scores.len() != i.samples.len() {
        return None;
    }
    Some(kernel_stein_discrepancy(i.samples, i.scores, i.dim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, GaussianParams};
    use crate::rng::{Stream, rng};

    #[test]
    fn hand_computed_value_on_two_points() {
        // x = {0, 1} under N(0, 1): s = {0, −1}; r = −1, q = 2. Of u(0, 1): s(0)s(1)k = 0,
        // s(0)∇_y k = 0, s(1)∇_x k = −1 · (−1 · 2^{−3/2} · −1) = −2^{−3/2}, the trace term
        // 2^{−3/2} − 3·2^{−5/2} = −2^{−5/2}; the U-statistic of two points is u itself.
        let v = kernel_stein_discrepancy(&[0.0, 1.0], &[0.0, -1.0], 1);
        assert!((v - (-3.0 * 2f64.powf(-2.5))).abs() < 1e-15, "{v}");
        assert!(kernel_stein_discrepancy(&[0.0], &[0.0], 1).is_nan());
    }

    #[test]
    fn near_zero_for_exact_samples_and_growing_under_a_shift_or_rescale() {
        let g = GaussianParams {
            dim: 3,
            data_seed: 2,
        }
        .build()
        .unwrap();
        let x = g.sample(800, &mut rng(3, Stream::Sampler));
        let exact = kernel_stein_discrepancy(&x, &g.scores(&x), 3);
        let moved = |f: &dyn Fn(f64) -> f64| {
            let y: Vec<f64> = x.iter().map(|&v| f(v)).collect();
            kernel_stein_discrepancy(&y, &g.scores(&y), 3)
        };
        let shifts: Vec<f64> = [0.25, 0.5, 1.0]
            .iter()
            .map(|&c| moved(&|v| v + c))
            .collect();
        let scales: Vec<f64> = [1.25, 1.5, 2.0]
            .iter()
            .map(|&c| moved(&|v| v * c))
            .collect();
        // The exact samples' value is within its U-statistic noise (order 1/n).
        assert!(exact.abs() < 5e-3, "{exact}");
        for w in shifts.windows(2).chain(scales.windows(2)) {
            assert!(w[1] > w[0], "{shifts:?} {scales:?}");
        }
        assert!(shifts[0] > 10.0 * exact.abs() && scales[0] > 10.0 * exact.abs());
    }
}
