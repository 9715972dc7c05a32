//! Energy distance (Székely & Rizzo 2013, "Energy statistics: A class of statistics based on
//! distances", J. Statist. Plann. Inference 143(8); Baringhaus & Franz 2004):
//!
//! E(P, Q) = 2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖ ≥ 0, zero iff P = Q,
//!
//! estimated with U-statistics for the within-sample terms (i ≠ j), so it scatters around 0
//! (and can be slightly negative) when both samples come from the same distribution. It is
//! the MMD of the distance-induced kernel (Sejdinovic et al. 2013), needs no bandwidth, and is
//! in units of distance. Cost: (n + m)²/2 distances.

use super::mmd::{row, sq_dist};
use super::sample_quality::MetricInputs;

/// The energy distance between the rows of `x` and `y`.
///
/// Needs at least two rows in each sample (NaN otherwise).
///
/// # Shapes
/// - `x`: `[n, dim]`, `y`: `[m, dim]`, row-major
pub fn energy_distance(x: &[f64], y: &[f64], dim: usize) -> f64 {
    let (n, m) = (x.len() / dim, y.len() / dim);
    if n < 2 || m < 2 {
        return f64::NAN;
    }
    let within = |z: &[f64], rows: usize| {
        let mut total = 0.0;
        for i in 0..rows {
            for j in 0..i {
                total += sq_dist(row(z, i, dim), row(z, j, dim)).sqrt();
            }
        }
        2.0 * total / (rows * (rows - 1)) as f64
    };
    let mut cross = 0.0;
    for i in 0..n {
        for j in 0..m {
            cross += sq_dist(row(x, i, dim), row(y, j, dim)).sqrt();
        }
    }
    2.0 * cross / (n * m) as f64 - within(x, n) - within(y, m)
}

/// `sample_energy`: the energy distance of the samples to the reference sample.
pub(super) fn value(i: &MetricInputs<'_>) -> Option<f64> {
    Some(energy_distance(i.samples, i.reference, i.dim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, GaussianParams};
    use crate::rng::{Stream, rng};

    #[test]
    fn hand_computed_value() {
        // x = {0, 1}, y = {2, 3}: E|X − Y| = (2 + 3 + 1 + 2)/4 = 2, within-sample 1 each.
        assert_eq!(energy_distance(&[0.0, 1.0], &[2.0, 3.0], 1), 2.0);
        // Two unit segments 10 apart: cross distances 10, √101, √101, 10.
        let v = energy_distance(&[0.0, 0.0, 0.0, 1.0], &[10.0, 0.0, 10.0, 1.0], 2);
        assert!((v - (2.0 * (20.0 + 2.0 * 101f64.sqrt()) / 4.0 - 2.0)).abs() < 1e-12);
    }

    #[test]
    fn same_density_is_near_zero_and_a_shift_is_not() {
        let g = GaussianParams {
            dim: 2,
            data_seed: 0,
        }
        .build()
        .unwrap();
        let x = g.sample(800, &mut rng(1, Stream::Metric));
        let y = g.sample(800, &mut rng(2, Stream::Metric));
        let same = energy_distance(&x, &y, 2);
        assert!(same.abs() < 0.01, "{same}");
        let shifted: Vec<f64> = x.iter().map(|v| v + 0.5).collect();
        let moved = energy_distance(&shifted, &y, 2);
        assert!(
            moved > 0.1 && moved > 20.0 * same.abs(),
            "{moved} vs {same}"
        );
        let scaled: Vec<f64> = x.iter().map(|v| 1.5 * v).collect();
        let wide = energy_distance(&scaled, &y, 2);
        assert!(wide > 0.05 && wide > 10.0 * same.abs(), "{wide} vs {same}");
    }
}
