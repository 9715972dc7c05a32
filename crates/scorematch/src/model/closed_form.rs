//! The closed-form score-matching estimator for the Gaussian exponential family.
//!
//! For an exponential family p(x) ∝ exp(θᵀT(x)), the ISM objective is quadratic in θ and its
//! minimiser is θ̂ = −(E[∂T ∂Tᵀ])⁻¹ E[ΔT] (Hyvärinen 2005). For the Gaussian family, whose
//! score is the linear function s(x) = −P(x − m), minimising
//! ½E‖s(x)‖² + E tr(∂s/∂x) over (P, m) gives P = S⁻¹, the inverse of the (biased, 1/n)
//! sample covariance S, and m = the sample mean: score matching recovers the maximum
//! likelihood estimate.

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};

/// The fitted Gaussian: its score is s(x) = −precision (x − mean).
#[derive(Clone, Debug)]
pub struct GaussianFit {
    /// Sample mean.
    pub mean: DVector<f64>,
    /// Inverse of the biased sample covariance.
    pub precision: DMatrix<f64>,
}

/// The closed-form score-matching estimate from samples `x` (row-major `[n, dim]`).
pub fn gaussian_closed_form(x: &[f64], dim: usize) -> Result<GaussianFit> {
    let n = x.len() / dim;
    if n <= dim {
        return Err(Error::LinearAlgebra(format!(
            "the closed form needs more samples ({n}) than dimensions ({dim})"
        )));
    }
    let data = DMatrix::from_row_slice(n, dim, x);
    let mean = data.row_mean().transpose();
    let centred = DMatrix::from_fn(n, dim, |i, j| data[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / n as f64;
    let precision = cov
        .cholesky()
        .ok_or_else(|| Error::LinearAlgebra("sample covariance is singular".into()))?
        .inverse();
    Ok(GaussianFit { mean, precision })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Density, GaussianParams};
    use crate::rng::{Stream, rng};

    #[test]
    fn closed_form_minimises_the_ism_objective() {
        let g = GaussianParams {
            dim: 3,
            data_seed: 2,
        }
        .build()
        .unwrap();
        let x = g.sample(5000, &mut rng(0, Stream::Pool));
        let fit = gaussian_closed_form(&x, 3).unwrap();
        // ISM objective of s(x) = −P(x − m): ½ mean ‖P(x − m)‖² − tr P.
        let ism = |p: &DMatrix<f64>, m: &DVector<f64>| {
            let mut total = 0.0;
            for row in x.chunks_exact(3) {
                let r = p * (DVector::from_column_slice(row) - m);
                total += 0.5 * r.norm_squared();
            }
            total / 5000.0 - p.trace()
        };
        let best = ism(&fit.precision, &fit.mean);
        for k in 0..6 {
            let mut p = fit.precision.clone();
            let mut m = fit.mean.clone();
            let (i, j) = (k % 3, (k + 1) % 3);
            p[(i, j)] += 1e-3;
            p[(j, i)] += 1e-3;
            m[i] -= 1e-3;
            assert!(ism(&p, &m) > best);
        }
        // And it is close to the true precision.
        let err = (&fit.precision - g.precision()).abs().max();
        assert!(err < 0.1 * g.precision().abs().max(), "{err}");
    }

    #[test]
    fn too_few_samples_is_an_error() {
        assert!(gaussian_closed_form(&[1.0, 2.0, 3.0, 4.0], 2).is_err());
    }
}
