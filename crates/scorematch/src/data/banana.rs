//! `banana`: a twisted Gaussian (Haario, Saksman & Tamminen 1999). With y ~ N(0, diag(a², 1,
//! …, 1)): x₁ = y₁, x₂ = y₂ + b(y₁² − a²), xᵢ = yᵢ for i ≥ 3. The map has unit Jacobian, so
//! log p(x) = −x₁²/(2a²) − (x₂ − b(x₁² − a²))²/2 − Σᵢ≥₃ xᵢ²/2. Defaults a = 2 (`width`),
//! b = 0.25 (`curvature`), dim ≥ 2 (default 2). Its noised density has no closed form.

use serde::{Deserialize, Serialize};

use super::{DataSet, Density, check_dim};
use crate::error::{ParamError, Result};
use crate::rng::{Rng, normals};

/// Parameters of `banana`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BananaParams {
    /// Dimension (≥ 2, default 2).
    #[serde(default = "two")]
    pub dim: usize,
    /// Standard deviation a of x₁ (default 2).
    #[serde(default = "default_width")]
    pub width: f64,
    /// Twist b (default 0.25).
    #[serde(default = "default_curvature")]
    pub curvature: f64,
}

fn two() -> usize {
    2
}

fn default_width() -> f64 {
    2.0
}

fn default_curvature() -> f64 {
    0.25
}

impl BananaParams {
    /// The density.
    pub fn build(&self) -> Banana {
        Banana {
            dim: self.dim,
            width: self.width,
            curvature: self.curvature,
        }
    }
}

impl DataSet for BananaParams {
    const CLOSED_FORM_NOISED: bool = false;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "curvature: a twisted ridge whose score turns sharply across it";

    fn dim(&self) -> usize {
        self.dim
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_dim(self.dim, 2, &mut errors);
        if !(self.width > 0.0 && self.width.is_finite()) {
            errors.push(ParamError::new("width", "must be positive"));
        }
        if !self.curvature.is_finite() {
            errors.push(ParamError::new("curvature", "must be finite"));
        }
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()))
    }

    fn example(dim: usize) -> Self {
        Self {
            dim,
            width: default_width(),
            curvature: default_curvature(),
        }
    }
}

/// The twisted Gaussian.
#[derive(Clone, Debug)]
pub struct Banana {
    dim: usize,
    width: f64,
    curvature: f64,
}

impl Banana {
    fn twist(&self, x1: f64) -> f64 {
        self.curvature * (x1 * x1 - self.width * self.width)
    }
}

impl Density for Banana {
    fn dim(&self) -> usize {
        self.dim
    }

    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        let mut x = normals(rng, n * self.dim);
        for row in x.chunks_exact_mut(self.dim) {
            row[0] *= self.width;
            row[1] += self.twist(row[0]);
        }
        x
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        let u = x[1] - self.twist(x[0]);
        let rest: f64 = x[2..].iter().map(|v| v * v).sum();
        -x[0] * x[0] / (2.0 * self.width * self.width) - 0.5 * u * u - 0.5 * rest
    }

    fn log_normalizer(&self) -> f64 {
        // x₀ ~ N(0, width²), then x₁ − twist(x₀) and the rest ~ N(0, 1).
        0.5 * self.dim as f64 * std::f64::consts::TAU.ln() + self.width.ln()
    }

    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        let u = x[1] - self.twist(x[0]);
        out[0] = -x[0] / (self.width * self.width) + u * 2.0 * self.curvature * x[0];
        out[1] = -u;
        for (o, v) in out[2..].iter_mut().zip(&x[2..]) {
            *o = -v;
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
    fn banana_score_and_moments() {
        let b = BananaParams {
            dim: 3,
            width: 2.0,
            curvature: 0.25,
        }
        .build();
        assert_score_matches_log_density(&b, &probe_points(&b, 30), 1e-5);
        let x = b.sample(200_000, &mut rng(0, Stream::Pool));
        let (mean, cov) = moments(&x, 3);
        // E x₂ = b(E y₁² − a²) = 0; Var x₂ = 1 + b² Var(y₁²) = 1 + b²·2a⁴.
        assert!(mean[1].abs() < 0.02, "{mean:?}");
        assert!((cov[4] - (1.0 + 0.0625 * 32.0)).abs() < 0.06, "{}", cov[4]);
        assert!((cov[0] - 4.0).abs() < 0.05 && (cov[8] - 1.0).abs() < 0.02);
    }
}
