//! `8gaussians`: equal-weight mixture of 8 isotropic Gaussians with std 0.1, centred at
//! 2(cos 2πk/8, sin 2πk/8) in the first two coordinates and 0 in the others (dim ≥ 2).
//! p_σ is the same mixture with variances 0.1² + σ².

use serde::{Deserialize, Serialize};

use super::gmm::planar_modes;
use super::{DataSet, Density, Gmm, check_dim};
use crate::error::{ParamError, Result};

/// Parameters of `8gaussians`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EightGaussiansParams {
    /// Dimension (≥ 2, default 2).
    #[serde(default = "two")]
    pub dim: usize,
}

fn two() -> usize {
    2
}

impl EightGaussiansParams {
    /// The density.
    pub fn build(&self) -> Gmm {
        let centres: Vec<[f64; 2]> = (0..8)
            .map(|k| {
                let angle = std::f64::consts::TAU * k as f64 / 8.0;
                [2.0 * angle.cos(), 2.0 * angle.sin()]
            })
            .collect();
        Gmm::new(planar_modes(&centres, 0.1, self.dim))
    }
}

impl DataSet for EightGaussiansParams {
    const CLOSED_FORM_NOISED: bool = true;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "separated modes: eight narrow Gaussians on a circle, with low density between them";

    fn dim(&self) -> usize {
        self.dim
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_dim(self.dim, 2, &mut errors);
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()))
    }

    fn example(dim: usize) -> Self {
        Self { dim }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Density;
    use super::super::testing::*;
    use super::*;
    use crate::rng::{Stream, rng};

    #[test]
    fn eight_equal_modes_on_the_circle() {
        let g = EightGaussiansParams { dim: 3 }.build();
        let modes = g.modes().unwrap();
        assert_eq!(modes.len(), 8);
        for m in &modes {
            assert!((m.weight - 0.125).abs() < 1e-15);
            assert!((m.mean[0].hypot(m.mean[1]) - 2.0).abs() < 1e-12);
            assert_eq!(m.mean[2], 0.0);
        }
        let x = g.sample(80_000, &mut rng(2, Stream::Pool));
        for m in &modes {
            let near = x
                .chunks_exact(3)
                .filter(|p| (p[0] - m.mean[0]).hypot(p[1] - m.mean[1]) < 0.5)
                .count() as f64
                / 80_000.0;
            assert!((near - 0.125).abs() < 0.01, "{near}");
        }
        assert_score_matches_log_density(&g, &probe_points(&g, 20), 1e-5);
        assert_noised_is_consistent(&g, 0.3);
    }
}
