//! Mode statistics of a sample from a mixture: which modes are covered, whether the modes get
//! their weights, and how many samples land between modes. The mode-collapse metrics of the
//! GAN literature on mixtures of Gaussians (Metz, Poole, Pfau & Sohl-Dickstein 2017, "Unrolled
//! Generative Adversarial Networks"; Srivastava, Valkov, Russell, Gutmann & Sutton 2017,
//! "VEEGAN"), plus the mode-weight error that plain Langevin dynamics makes between separated
//! modes (Song & Ermon 2019, "Generative Modeling by Estimating Gradients of the Data
//! Distribution", §3.2.2).
//!
//! Definitions, with r_k(x) = ‖(x − μ_k) / s_k‖₂ the std-scaled (diagonal Mahalanobis)
//! distance of x to mode k (mean μ_k, per-coordinate std s_k) and a radius R (default 3,
//! "within 3 standard deviations"):
//! - a sample is *near* mode k when r_k(x) ≤ R, and *far* when it is near no mode;
//! - `mode_coverage` = (number of modes with at least one near sample) / (number of modes);
//! - `mode_weight_tv` = ½ Σ_k |n_k/n − w_k|, where every sample (far ones included) is
//!   assigned to the mode of smallest r_k(x) and n_k counts the samples assigned to k;
//! - `far_fraction` = (number of far samples) / n.
//!
//! In D dimensions a sample of mode k itself is near it with probability P(χ²_D ≤ R²):
//! 98.9% for D = 2 and R = 3, 97.1% for D = 3, 89.1% for D = 5, 46.8% for D = 10, so an exact
//! sampler has `far_fraction` ≈ 1 − P(χ²_D ≤ R²) when the modes are well separated.

use super::mmd::row;
use super::sample_quality::MetricInputs;
use crate::data::Mode;

/// Mode statistics of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModeStats {
    /// Fraction of modes with at least one sample within the radius.
    pub coverage: f64,
    /// Total-variation distance between the empirical and the true mode weights.
    pub weight_tv: f64,
    /// Fraction of samples outside the radius of every mode.
    pub far_fraction: f64,
}

/// The mode statistics of the rows of `x` for `modes`, with "near" meaning a std-scaled
/// distance of at most `radius`. The weights of `modes` must sum to 1. NaN for an empty
/// sample or no modes.
///
/// # Shapes
/// - `x`: `[n, dim]`, row-major
pub fn mode_statistics(x: &[f64], dim: usize, modes: &[Mode], radius: f64) -> ModeStats {
    let n = x.len() / dim;
    if n == 0 || modes.is_empty() {
        return ModeStats {
            coverage: f64::NAN,
            weight_tv: f64::NAN,
            far_fraction: f64::NAN,
        };
    }
    let r2 = radius * radius;
    let mut covered = vec![false; modes.len()];
    let mut counts = vec![0usize; modes.len()];
    let mut far = 0usize;
    for i in 0..n {
        let xi = row(x, i, dim);
        let mut nearest = (0, f64::INFINITY);
        for (k, m) in modes.iter().enumerate() {
            let d2: f64 = xi
                .iter()
                .zip(&m.mean)
                .zip(&m.std)
                .map(|((a, mu), s)| ((a - mu) / s).powi(2))
                .sum();
            if d2 <= r2 {
                covered[k] = true;
            }
            if d2 < nearest.1 {
                nearest = (k, d2);
            }
        }
        counts[nearest.0] += 1;
        if nearest.1 > r2 {
            far += 1;
        }
    }
    let weight_tv = 0.5
        * modes
            .iter()
            .zip(&counts)
            .map(|(m, &c)| (c as f64 / n as f64 - m.weight).abs())
            .sum::<f64>();
    ModeStats {
        coverage: covered.iter().filter(|&&c| c).count() as f64 / modes.len() as f64,
        weight_tv,
        far_fraction: far as f64 / n as f64,
    }
}

/// `mode_coverage` (densities with modes).
pub(super) fn coverage_value(i: &MetricInputs<'_>) -> Option<f64> {
    i.modes.map(|s| s.coverage)
}

/// `mode_weight_tv` (densities with modes).
pub(super) fn weight_tv_value(i: &MetricInputs<'_>) -> Option<f64> {
    i.modes.map(|s| s.weight_tv)
}

/// `far_fraction` (densities with modes).
pub(super) fn far_fraction_value(i: &MetricInputs<'_>) -> Option<f64> {
    i.modes.map(|s| s.far_fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, EightGaussiansParams};
    use crate::rng::{Stream, rng};

    fn mode(weight: f64, mean: [f64; 2], std: f64) -> Mode {
        Mode {
            weight,
            mean: mean.to_vec(),
            std: vec![std; 2],
        }
    }

    #[test]
    fn hand_computed_statistics() {
        let modes = [mode(0.5, [0.0, 0.0], 1.0), mode(0.5, [10.0, 0.0], 1.0)];
        // Two samples near mode 0, one far out but closest to mode 1.
        let x = [0.5, 0.0, 1.0, 1.0, 20.0, 20.0];
        let s = mode_statistics(&x, 2, &modes, 3.0);
        assert_eq!(s.coverage, 0.5);
        assert!((s.far_fraction - 1.0 / 3.0).abs() < 1e-15);
        // Weights (2/3, 1/3) against (1/2, 1/2).
        assert!((s.weight_tv - 1.0 / 6.0).abs() < 1e-15);
        // The std scales the distance: with std 0.1, (0.5, 0) is 5 std from mode 0.
        let narrow = [mode(0.5, [0.0, 0.0], 0.1), mode(0.5, [10.0, 0.0], 0.1)];
        let s = mode_statistics(&x[..2], 2, &narrow, 3.0);
        assert_eq!((s.coverage, s.far_fraction, s.weight_tv), (0.0, 1.0, 0.5));
        assert!(mode_statistics(&[], 2, &modes, 3.0).coverage.is_nan());
    }

    #[test]
    fn exact_samples_cover_every_mode_with_the_right_weights() {
        let g = EightGaussiansParams { dim: 2 }.build();
        let modes = g.modes().unwrap();
        let x = g.sample(4000, &mut rng(0, Stream::Metric));
        let s = mode_statistics(&x, 2, &modes, 3.0);
        assert_eq!(s.coverage, 1.0);
        assert!(s.weight_tv < 0.03, "{s:?}");
        // P(χ²₂ > 9) = e^{-4.5} = 1.1%.
        assert!((s.far_fraction - (-4.5f64).exp()).abs() < 0.006, "{s:?}");
        // Collapse onto half of the modes: coverage 1/2 and TV 1/2.
        let half: Vec<f64> = x
            .chunks_exact(2)
            .filter(|p| p[1] > 0.5)
            .flatten()
            .copied()
            .collect();
        let s = mode_statistics(&half, 2, &modes, 3.0);
        assert_eq!(s.coverage, 3.0 / 8.0);
        assert!((s.weight_tv - 5.0 / 8.0).abs() < 1e-12, "{s:?}");
    }
}
