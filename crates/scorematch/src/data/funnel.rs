//! `funnel`: Neal's funnel (Neal 2003, "Slice sampling"): x₀ ~ N(0, s²) and, given x₀,
//! xᵢ ~ N(0, e^{x₀}) for i = 1 … D−1. Default s = 3 (Neal's choice), dim ≥ 2 (default 2).
//! Its noised density has no closed form.

use serde::{Deserialize, Serialize};

use super::{DataSet, Density, check_dim};
use crate::error::{ParamError, Result};
use crate::rng::{Rng, normals};

/// Parameters of `funnel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelParams {
    /// Dimension (≥ 2, default 2).
    #[serde(default = "two")]
    pub dim: usize,
    /// Standard deviation s of x₀ (default 3).
    #[serde(default = "three")]
    pub scale: f64,
}

fn two() -> usize {
    2
}

fn three() -> f64 {
    3.0
}

impl FunnelParams {
    /// The density.
    pub fn build(&self) -> Funnel {
        Funnel {
            dim: self.dim,
            scale: self.scale,
        }
    }
}

impl DataSet for FunnelParams {
    const CLOSED_FORM_NOISED: bool = false;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "scale: the width of x₂… spans orders of magnitude along x₁ (Neal's funnel)";

    fn dim(&self) -> usize {
        self.dim
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_dim(self.dim, 2, &mut errors);
        if !(self.scale > 0.0 && self.scale.is_finite()) {
            errors.push(ParamError::new("scale", "must be positive"));
        }
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()))
    }

    fn example(dim: usize) -> Self {
        Self {
            dim,
            scale: three(),
        }
    }
}

/// Neal's funnel.
#[derive(Clone, Debug)]
pub struct Funnel {
    dim: usize,
    scale: f64,
}

impl Density for Funnel {
    fn dim(&self) -> usize {
        self.dim
    }

    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = normals(rng, n * self.dim);
        for row in x.chunks_exact_mut(self.dim) {
            row[0] *= self.scale;
            let std = (0.5 * row[0]).exp();
            for v in &mut row[1..] {
                *v *= std;
            }
        }
        x
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        let inv = (-x[0]).exp();
        let rest: f64 = x[1..].iter().map(|v| v * v).sum();
        -x[0] * x[0] / (2.0 * self.scale * self.scale)
            - 0.5 * rest * inv
            - 0.5 * (self.dim - 1) as f64 * x[0]
    }

    fn log_normalizer(&self) -> f64 {
        // x₀ ~ N(0, scale²), then x_i | x₀ ~ N(0, e^{x₀}) (its −½(D−1)x₀ is in log p).
        0.5 * self.dim as f64 * std::f64::consts::TAU.ln() + self.scale.ln()
    }

    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        let inv = (-x[0]).exp();
        let rest: f64 = x[1..].iter().map(|v| v * v).sum();
        out[0] = -x[0] / (self.scale * self.scale) + 0.5 * rest * inv - 0.5 * (self.dim - 1) as f64;
        for (o, v) in out[1..].iter_mut().zip(&x[1..]) {
            *o = -v * inv;
        }
    }

    fn noised(&self, _sigma: f64) -> Option<Box<dyn Density>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::rng::{Stream, rng};

    #[test]
    fn funnel_score_and_marginals() {
        let f = FunnelParams { dim: 4, scale: 3.0 }.build();
        assert_score_matches_log_density(&f, &probe_points(&f, 30), 1e-5);
        let x = f.sample(200_000, &mut rng(0, Stream::Pool));
        let (mean, cov) = moments(&x, 4);
        assert!(
            mean[0].abs() < 0.03 && (cov[0] - 9.0).abs() < 0.1,
            "{cov:?}"
        );
        // log|x₁| given x₀ has mean x₀/2 + E log|z|: check the conditional scale instead.
        let ratio: f64 = x
            .chunks_exact(4)
            .map(|r| r[1] * r[1] * (-r[0]).exp())
            .sum::<f64>()
            / 200_000.0;
        assert!((ratio - 1.0).abs() < 0.02, "{ratio}");
        assert!(f.noised(0.1).is_none());
    }
}
