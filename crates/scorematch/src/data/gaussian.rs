//! `gaussian`: N(0, Σ) in D dimensions with Σ = G Gᵀ/(2D) + 0.1 I, where G is D×2D with
//! entries √3(2u − 1), u drawn by SplitMix64 from `data_seed`, filled row-major. The
//! construction is bit-reproducible across languages; p_σ = N(0, Σ + σ²I).

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{DataSet, Density, check_dim};
use crate::error::{Error, ParamError, Result};
use crate::rng::{Rng, SplitMix64, normals};

/// Parameters of `gaussian`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianParams {
    /// Dimension D ≥ 1.
    pub dim: usize,
    /// Seed of the covariance construction (default 0).
    #[serde(default)]
    pub data_seed: u64,
}

impl GaussianParams {
    /// The covariance Σ = G Gᵀ/(2D) + 0.1 I.
    pub fn covariance(&self) -> DMatrix<f64> {
        let d = self.dim;
        let mut mix = SplitMix64::new(self.data_seed);
        let g = DMatrix::from_row_iterator(
            d,
            2 * d,
            (0..2 * d * d).map(|_| 3f64.sqrt() * (2.0 * mix.next_f64() - 1.0)),
        );
        &g * g.transpose() / (2.0 * d as f64) + DMatrix::identity(d, d) * 0.1
    }

    /// The density.
    pub fn build(&self) -> Result<FullGaussian> {
        FullGaussian::new(self.covariance())
    }
}

impl DataSet for GaussianParams {
    const CLOSED_FORM_NOISED: bool = true;
    const EXACT_SCORE: bool = true;
    const CHALLENGE: &'static str =
        "conditioning: a correlated Gaussian whose covariance has a spread of scales";

    fn dim(&self) -> usize {
        self.dim
    }

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_dim(self.dim, 1, &mut errors);
        errors
    }

    fn density(&self) -> Result<Box<dyn Density>> {
        Ok(Box::new(self.build()?))
    }

    fn example(dim: usize) -> Self {
        Self { dim, data_seed: 0 }
    }
}

/// A zero-mean Gaussian N(0, Σ) with a full covariance.
#[derive(Clone, Debug)]
pub struct FullGaussian {
    covariance: DMatrix<f64>,
    precision: DMatrix<f64>,
    cholesky: DMatrix<f64>,
}

impl FullGaussian {
    /// N(0, Σ); fails when Σ is not positive definite.
    pub fn new(covariance: DMatrix<f64>) -> Result<Self> {
        let chol = covariance.clone().cholesky().ok_or_else(|| {
            Error::LinearAlgebra("covariance is not positive definite".to_string())
        })?;
        Ok(Self {
            precision: chol.inverse(),
            cholesky: chol.l(),
            covariance,
        })
    }

    /// N(0, v I): isotropic with variance `variance` > 0 (cannot fail).
    pub fn isotropic(dim: usize, variance: f64) -> Self {
        let identity = DMatrix::<f64>::identity(dim, dim);
        Self {
            covariance: &identity * variance,
            precision: &identity / variance,
            cholesky: &identity * variance.sqrt(),
        }
    }

    /// The covariance Σ.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// The precision Σ⁻¹.
    pub fn precision(&self) -> &DMatrix<f64> {
        &self.precision
    }
}

impl Density for FullGaussian {
    fn dim(&self) -> usize {
        self.covariance.nrows()
    }

    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        let d = self.dim();
        let z = DMatrix::from_row_slice(n, d, &normals(rng, n * d));
        // Rows x = L z: X = Z Lᵀ, read back row-major.
        let x = z * self.cholesky.transpose();
        x.transpose().as_slice().to_vec()
    }

    fn log_density(&self, x: &[f64]) -> f64 {
        let x = DVector::from_column_slice(x);
        -0.5 * x.dot(&(&self.precision * &x))
    }

    fn log_normalizer(&self) -> f64 {
        // D/2 ln 2π + ½ ln det Σ, with det Σ = Π L_ii².
        let half_log_det: f64 = (0..self.dim()).map(|i| self.cholesky[(i, i)].ln()).sum();
        0.5 * self.dim() as f64 * std::f64::consts::TAU.ln() + half_log_det
    }

    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        let d = self.dim();
        for (i, o) in out.iter_mut().enumerate() {
            *o = -(0..d).map(|j| self.precision[(i, j)] * x[j]).sum::<f64>();
        }
    }

    fn noised(&self, sigma: f64) -> Option<Box<dyn Density>> {
        let d = self.dim();
        let cov = &self.covariance + DMatrix::identity(d, d) * (sigma * sigma);
        FullGaussian::new(cov)
            .ok()
            .map(|g| Box::new(g) as Box<dyn Density>)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::rng::{Stream, rng};

    #[test]
    fn covariance_construction_is_the_documented_one() {
        let p = GaussianParams {
            dim: 2,
            data_seed: 0,
        };
        // Recompute G by hand from SplitMix64(0).
        let mut mix = SplitMix64::new(0);
        let g: Vec<f64> = (0..8)
            .map(|_| 3f64.sqrt() * (2.0 * mix.next_f64() - 1.0))
            .collect();
        let s01 = (g[0] * g[4] + g[1] * g[5] + g[2] * g[6] + g[3] * g[7]) / 4.0;
        let s00 = g[..4].iter().map(|v| v * v).sum::<f64>() / 4.0 + 0.1;
        let cov = p.covariance();
        assert_eq!(cov[(0, 1)], s01);
        assert!((cov[(0, 0)] - s00).abs() < 1e-15);
        assert_eq!(cov[(0, 1)], cov[(1, 0)]);
    }

    #[test]
    fn samples_have_the_covariance() {
        let g = GaussianParams {
            dim: 4,
            data_seed: 3,
        }
        .build()
        .unwrap();
        let x = g.sample(200_000, &mut rng(1, Stream::Pool));
        let (mean, cov) = moments(&x, 4);
        for m in mean {
            assert!(m.abs() < 0.02, "mean {m}");
        }
        for i in 0..4 {
            for j in 0..4 {
                let want = g.covariance()[(i, j)];
                assert!((cov[i * 4 + j] - want).abs() < 0.02 * (1.0 + want.abs()));
            }
        }
    }

    #[test]
    fn score_is_the_gradient_of_the_log_density() {
        let g = GaussianParams {
            dim: 5,
            data_seed: 1,
        }
        .build()
        .unwrap();
        assert_score_matches_log_density(&g, &probe_points(&g, 20), 1e-6);
    }

    #[test]
    fn noised_density_adds_sigma_squared() {
        let g = GaussianParams {
            dim: 3,
            data_seed: 0,
        }
        .build()
        .unwrap();
        assert_noised_is_consistent(&g, 0.5);
    }

    #[test]
    fn zero_dim_is_refused() {
        let errors = GaussianParams {
            dim: 0,
            data_seed: 0,
        }
        .validate();
        assert_eq!(errors[0].key, "dim");
    }
}
