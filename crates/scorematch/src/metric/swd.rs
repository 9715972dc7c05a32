//! Sliced Wasserstein-2 distance (Rabin, Peyré, Delon & Bernot 2011, "Wasserstein Barycenter
//! and its Application to Texture Mixing"; Bonneel, Rabin, Peyré & Pfister 2015):
//!
//! SW₂(P, Q) = ( E_θ W₂²(θᵀP, θᵀQ) )^{1/2},  θ uniform on the unit sphere,
//!
//! estimated with K random directions; each 1-D W₂² between the projected empirical
//! measures is exact: the squared difference of their quantile functions integrated over
//! (0, 1), i.e. sorted matching (sizes may differ: the breakpoints i/n and j/m are merged).
//! In units of distance; a pure shift c gives SW₂ = ‖c‖/√D.

use super::sample_quality::MetricInputs;
use rand_distr::{Distribution, StandardNormal};

use super::mmd::row;
use crate::rng::Rng;

/// `k` directions drawn uniformly on the unit sphere of ℝ^dim (normalised Gaussians).
///
/// # Shapes
/// - returns `[k, dim]`, row-major, unit rows
pub fn random_directions(dim: usize, k: usize, rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(k * dim);
    while out.len() < k * dim {
        let v: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(rng)).collect();
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-12 {
            out.extend(v.iter().map(|a| a / norm));
        }
    }
    out
}

/// The sliced Wasserstein-2 distance between the rows of `x` and `y` along `directions`.
///
/// NaN when either sample or the direction set is empty.
///
/// # Shapes
/// - `x`: `[n, dim]`, `y`: `[m, dim]`, `directions`: `[K, dim]`, row-major
pub fn sliced_wasserstein2(x: &[f64], y: &[f64], dim: usize, directions: &[f64]) -> f64 {
    let k = directions.len() / dim;
    if x.is_empty() || y.is_empty() || k == 0 {
        return f64::NAN;
    }
    let project = |z: &[f64], theta: &[f64]| {
        let mut p: Vec<f64> = z
            .chunks_exact(dim)
            .map(|r| r.iter().zip(theta).map(|(a, b)| a * b).sum())
            .collect();
        p.sort_unstable_by(f64::total_cmp);
        p
    };
    let total: f64 = (0..k)
        .map(|i| {
            let theta = row(directions, i, dim);
            wasserstein2_sq_sorted(&project(x, theta), &project(y, theta))
        })
        .sum();
    (total / k as f64).sqrt()
}

/// W₂² between two 1-D empirical measures with uniform weights, given sorted atoms:
/// ∫₀¹ (F⁻¹(u) − G⁻¹(u))² du.
pub fn wasserstein2_sq_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len(), b.len());
    // Walk the merged breakpoints in units of 1/(n m): a's i-th atom covers (i m, (i+1) m],
    // b's j-th atom covers (j n, (j+1) n].
    let (mut i, mut j, mut pos, mut total) = (0, 0, 0usize, 0.0);
    while i < n && j < m {
        let end = ((i + 1) * m).min((j + 1) * n);
        total += (end - pos) as f64 * (a[i] - b[j]).powi(2);
        pos = end;
        if end == (i + 1) * m {
            i += 1;
        }
        if end == (j + 1) * n {
            j += 1;
        }
    }
    total / (n * m) as f64
}

/// `sample_swd`: the sliced Wasserstein-2 distance along the shared directions.
pub(super) fn value(i: &MetricInputs<'_>) -> Option<f64> {
    Some(sliced_wasserstein2(
        i.samples,
        i.reference,
        i.dim,
        i.directions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, GaussianParams};
    use crate::rng::{Stream, rng};

    #[test]
    fn one_dimensional_distances_match_quantile_matching() {
        // Equal sizes: mean squared difference of sorted atoms.
        assert_eq!(wasserstein2_sq_sorted(&[0.0, 1.0], &[1.0, 3.0]), 2.5);
        // {0, 1} against {0, 0.5, 1}: quantiles (0,1/3]: 0 vs 0, (1/3,1/2]: 0 vs 0.5,
        // (1/2,2/3]: 1 vs 0.5, (2/3,1]: 1 vs 1 → (1/6)(0.25) + (1/6)(0.25).
        let v = wasserstein2_sq_sorted(&[0.0, 1.0], &[0.0, 0.5, 1.0]);
        assert!((v - 0.25 / 3.0).abs() < 1e-15, "{v}");
        // Repeating every atom does not change the measure.
        assert_eq!(
            wasserstein2_sq_sorted(&[0.0, 2.0], &[0.0, 0.0, 2.0, 2.0]),
            0.0
        );
    }

    #[test]
    fn directions_are_unit_and_isotropic() {
        let d = random_directions(3, 20_000, &mut rng(0, Stream::Metric));
        for r in d.chunks_exact(3) {
            assert!((r.iter().map(|a| a * a).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // E θθᵀ = I/D.
        let e00 = d.chunks_exact(3).map(|r| r[0] * r[0]).sum::<f64>() / 20_000.0;
        let e01 = d.chunks_exact(3).map(|r| r[0] * r[1]).sum::<f64>() / 20_000.0;
        assert!(
            (e00 - 1.0 / 3.0).abs() < 0.01 && e01.abs() < 0.01,
            "{e00} {e01}"
        );
    }

    #[test]
    fn a_shift_gives_its_length_over_root_d_and_same_density_is_small() {
        let g = GaussianParams {
            dim: 3,
            data_seed: 0,
        }
        .build()
        .unwrap();
        let dirs = random_directions(3, 2000, &mut rng(0, Stream::Metric));
        let x = g.sample(800, &mut rng(1, Stream::Metric));
        // The same points shifted by c: every slice is a shift by θᵀc, so SW₂² = E(θᵀc)²
        // = ‖c‖²/3 up to the direction sample.
        let c = [0.3, -0.4, 1.2];
        let shifted: Vec<f64> = x
            .chunks_exact(3)
            .flat_map(|r| r.iter().zip(&c).map(|(a, b)| a + b))
            .collect();
        let v = sliced_wasserstein2(&shifted, &x, 3, &dirs);
        let want = (1.69f64 / 3.0).sqrt();
        assert!((v - want).abs() < 0.03 * want, "{v} vs {want}");
        // Two samples of the same density: only sampling noise, far below the shift.
        let y = g.sample(600, &mut rng(2, Stream::Metric));
        let same = sliced_wasserstein2(&x, &y, 3, &dirs);
        assert!(same < 0.1, "{same}");
        let scaled: Vec<f64> = x.iter().map(|v| 1.5 * v).collect();
        let wide = sliced_wasserstein2(&scaled, &y, 3, &dirs);
        assert!(wide > 3.0 * same, "{wide} vs {same}");
    }
}
