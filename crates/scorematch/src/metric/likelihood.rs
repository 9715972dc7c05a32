//! Density-level figures of a model with an energy: its normalising constant
//! log Z_θ = log ∫ e^{−E_θ}, the test log-likelihood and KL(p‖p_θ), exact up to the
//! evaluation sample since the data density is known in closed form.
//!
//! log Z_θ comes from quadrature in up to three dimensions (the midpoint rule on a box that
//! covers the data with a margin, refined until two grids agree; the change is the reported
//! error) and from importance sampling above (a Gaussian proposal fitted to the data and
//! widened, with the delta-method standard error). Where that error is too large to trust,
//! the likelihood and the KL are left out and the fit says why.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::data::Density;
use crate::error::{Error, Result};
use crate::rng::{Rng, normals};

/// Largest dimension integrated on a grid.
pub const QUADRATURE_MAX_DIM: usize = 3;
/// Importance samples for log Z above [`QUADRATURE_MAX_DIM`].
pub const IMPORTANCE_SAMPLES: usize = 20_000;
/// Largest standard error of log Z (≈ relative error of Z) under which the likelihood and KL
/// are reported.
pub const MAX_LOG_Z_SE: f64 = 0.05;
/// The grid's margin around the data, as a fraction of the data's range per coordinate.
const MARGIN: f64 = 0.5;
/// Grid points are evaluated this many at a time.
const CHUNK: usize = 1 << 15;

/// An unnormalised log density log p̃(x) = −E(x), evaluated on many points at once.
///
/// # Shapes
/// - the argument: `[n, D]` row-major → `n` values
pub type LogDensityFn<'a> = dyn FnMut(&[f64]) -> Result<Vec<f64>> + 'a;

/// How log Z was estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogZMethod {
    /// The midpoint rule on a grid (D ≤ 3).
    Quadrature,
    /// Importance sampling from a Gaussian fitted to the data.
    Importance,
}

/// An estimate of log Z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogZ {
    /// The estimate.
    pub value: f64,
    /// Its error: the change of the last grid refinement (quadrature) or the standard error
    /// (importance sampling).
    pub error: f64,
    /// How it was made.
    pub method: LogZMethod,
}

/// The density-level figures of one model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DensityFit {
    /// log Z_θ (missing if it could not be estimated).
    pub log_z: Option<f64>,
    /// The error of log Z_θ (see [`LogZ::error`]).
    pub log_z_se: Option<f64>,
    /// How log Z_θ was estimated.
    pub log_z_method: Option<LogZMethod>,
    /// Mean log p_θ(x) over the evaluation set.
    pub test_loglik: Option<f64>,
    /// KL(p‖p_θ) = E_p[log p − log p_θ], on the evaluation set.
    pub kl: Option<f64>,
    /// Why the likelihood and the KL are missing, where they are.
    pub note: Option<String>,
}

/// log ∫ exp(log_f) over the box `[lo, hi]` by the midpoint rule, the grid refined (doubled
/// per axis) until two grids agree to 1e-7 or the finest for the dimension is reached.
pub fn log_z_quadrature(log_f: &mut LogDensityFn<'_>, lo: &[f64], hi: &[f64]) -> Result<LogZ> {
    let (mut n, finest) = match lo.len() {
        1 => (256, 1 << 16),
        2 => (64, 1024),
        3 => (16, 128),
        d => {
            return Err(Error::Tensor(format!(
                "quadrature covers up to {QUADRATURE_MAX_DIM} dimensions, not {d}"
            )));
        }
    };
    let mut previous = grid_log_z(log_f, lo, hi, n)?;
    loop {
        n *= 2;
        let value = grid_log_z(log_f, lo, hi, n)?;
        let error = (value - previous).abs();
        if error < 1e-7 || n >= finest || !value.is_finite() {
            return Ok(LogZ {
                value,
                error,
                method: LogZMethod::Quadrature,
            });
        }
        previous = value;
    }
}

/// log of the midpoint-rule integral with `n` points per axis.
fn grid_log_z(log_f: &mut LogDensityFn<'_>, lo: &[f64], hi: &[f64], n: usize) -> Result<f64> {
    let d = lo.len();
    let widths: Vec<f64> = lo.iter().zip(hi).map(|(a, b)| (b - a) / n as f64).collect();
    let total = n.pow(d as u32);
    let mut acc = LogSumExp::default();
    let mut points = Vec::with_capacity(CHUNK.min(total) * d);
    for start in (0..total).step_by(CHUNK) {
        points.clear();
        for index in start..(start + CHUNK).min(total) {
            let mut rest = index;
            for k in 0..d {
                let i = rest % n;
                rest /= n;
                points.push(lo[k] + (i as f64 + 0.5) * widths[k]);
            }
        }
        for v in log_f(&points)? {
            acc.add(v);
        }
    }
    Ok(acc.value() + widths.iter().map(|w| w.ln()).sum::<f64>())
}

/// log Z by importance sampling: `n` draws from N(mean, (1.5)² cov) of `data` (`[m, D]`).
pub fn log_z_importance(
    log_f: &mut LogDensityFn<'_>,
    data: &[f64],
    dim: usize,
    n: usize,
    rng: &mut Rng,
) -> Result<LogZ> {
    let proposal = Proposal::fit(data, dim, 1.5)?;
    let z = normals(rng, n * dim);
    let x = proposal.draw(&z);
    let log_p = log_f(&x)?;
    let log_w: Vec<f64> = log_p
        .iter()
        .zip(z.chunks_exact(dim))
        .map(|(lp, zi)| lp - proposal.log_density_of_draw(zi))
        .collect();
    let max = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_w.iter().map(|l| (l - max).exp()).collect();
    let mean = w.iter().sum::<f64>() / n as f64;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    Ok(LogZ {
        value: max + mean.ln(),
        // Delta method: se(log Ẑ) = sd(w) / (√n mean(w)).
        error: var.sqrt() / ((n as f64).sqrt() * mean),
        method: LogZMethod::Importance,
    })
}

/// A Gaussian proposal N(μ, s² Σ) with Σ the data's covariance (lightly regularised).
struct Proposal {
    mean: DVector<f64>,
    /// Cholesky factor of s² Σ.
    chol: DMatrix<f64>,
    /// log of its density's normaliser.
    log_norm: f64,
}

impl Proposal {
    fn fit(data: &[f64], dim: usize, scale: f64) -> Result<Self> {
        let m = data.len() / dim;
        if m < 2 {
            return Err(Error::Tensor(
                "importance sampling needs data to fit to".into(),
            ));
        }
        let x = DMatrix::from_row_slice(m, dim, data);
        let mean = DVector::from_iterator(dim, (0..dim).map(|j| x.column(j).mean()));
        let centred = DMatrix::from_fn(m, dim, |i, j| x[(i, j)] - mean[j]);
        let cov =
            centred.transpose() * &centred / (m as f64 - 1.0) + DMatrix::identity(dim, dim) * 1e-9;
        let chol = (cov * (scale * scale))
            .cholesky()
            .ok_or_else(|| Error::LinearAlgebra("the data's covariance is singular".into()))?
            .l();
        let log_det: f64 = (0..dim).map(|i| chol[(i, i)].ln()).sum();
        Ok(Self {
            mean,
            chol,
            log_norm: 0.5 * dim as f64 * std::f64::consts::TAU.ln() + log_det,
        })
    }

    /// x = μ + L z for each row z of `z`.
    fn draw(&self, z: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        let mut out = Vec::with_capacity(z.len());
        for zi in z.chunks_exact(d) {
            let x = &self.mean + &self.chol * DVector::from_column_slice(zi);
            out.extend(x.iter());
        }
        out
    }

    /// log q(x) for x = μ + L z, from z.
    fn log_density_of_draw(&self, z: &[f64]) -> f64 {
        -0.5 * z.iter().map(|v| v * v).sum::<f64>() - self.log_norm
    }
}

/// A running log Σ exp.
#[derive(Default)]
struct LogSumExp {
    max: Option<f64>,
    sum: f64,
}

impl LogSumExp {
    fn add(&mut self, v: f64) {
        match self.max {
            None => {
                self.max = Some(v);
                self.sum = 1.0;
            }
            Some(m) if v > m => {
                self.sum = self.sum * (m - v).exp() + 1.0;
                self.max = Some(v);
            }
            Some(m) => self.sum += (v - m).exp(),
        }
    }

    fn value(&self) -> f64 {
        self.max.map_or(f64::NEG_INFINITY, |m| m + self.sum.ln())
    }
}

/// The box the quadrature integrates over: the data's range per coordinate, widened by
/// [`MARGIN`] of it on each side.
pub fn covering_box(data: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lo = vec![f64::INFINITY; dim];
    let mut hi = vec![f64::NEG_INFINITY; dim];
    for row in data.chunks_exact(dim) {
        for (k, &v) in row.iter().enumerate() {
            lo[k] = lo[k].min(v);
            hi[k] = hi[k].max(v);
        }
    }
    for k in 0..dim {
        let pad = MARGIN * (hi[k] - lo[k]).max(1e-6);
        lo[k] -= pad;
        hi[k] += pad;
    }
    (lo, hi)
}

/// The box with the same centre and twice the width.
fn widened(lo: &[f64], hi: &[f64]) -> (Vec<f64>, Vec<f64>) {
    lo.iter()
        .zip(hi)
        .map(|(a, b)| {
            let (mid, half) = (0.5 * (a + b), b - a);
            (mid - half, mid + half)
        })
        .unzip()
}

/// The density-level figures of the model whose log p̃ is `log_f`, against `density`, on the
/// evaluation set `eval_x` (`[n, D]`). `rng` draws the importance samples (D > 3).
pub fn density_fit(
    log_f: &mut LogDensityFn<'_>,
    density: &dyn Density,
    eval_x: &[f64],
    rng: &mut Rng,
) -> Result<DensityFit> {
    let dim = density.dim();
    let mut outside = None;
    let log_z = if dim <= QUADRATURE_MAX_DIM {
        let (lo, hi) = covering_box(eval_x, dim);
        let z = log_z_quadrature(log_f, &lo, &hi)?;
        // The same integral over the box twice as wide: a model whose mass stays with the
        // data (as a normalisable fit's does) barely changes.
        let (wide_lo, wide_hi) = widened(&lo, &hi);
        let wide = log_z_quadrature(log_f, &wide_lo, &wide_hi)?;
        let growth = (wide.value - z.value).abs();
        if growth.is_nan() || growth > MAX_LOG_Z_SE {
            outside = Some(format!(
                "the model's mass reaches beyond the data (log Z goes from {:.3} to {:.3} when \
                 the box doubles): not normalisable, or not on a grid",
                z.value, wide.value
            ));
        }
        z
    } else {
        log_z_importance(log_f, eval_x, dim, IMPORTANCE_SAMPLES, rng)?
    };
    let mut fit = DensityFit {
        log_z: Some(log_z.value).filter(|v| v.is_finite()),
        log_z_se: Some(log_z.error).filter(|v| v.is_finite()),
        log_z_method: Some(log_z.method),
        ..DensityFit::default()
    };
    if !log_z.value.is_finite() {
        fit.note = Some(format!(
            "log Z is {} (the model's mass is not finite)",
            log_z.value
        ));
        return Ok(fit);
    }
    let trusted = log_z.error.is_finite() && log_z.error <= MAX_LOG_Z_SE;
    if !trusted {
        fit.note = Some(format!(
            "the error of log Z is {:.3}, more than {MAX_LOG_Z_SE}: too large to trust the \
             likelihood",
            log_z.error
        ));
        return Ok(fit);
    }
    if outside.is_some() {
        fit.note = outside;
        return Ok(fit);
    }
    let n = eval_x.len() / dim;
    let model: f64 = log_f(eval_x)?.iter().sum::<f64>() / n as f64 - log_z.value;
    let data: f64 = eval_x
        .chunks_exact(dim)
        .map(|x| density.log_density(x))
        .sum::<f64>()
        / n as f64
        - density.log_normalizer();
    fit.test_loglik = Some(model);
    fit.kl = Some(data - model);
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataSet, DatasetConfig};
    use crate::rng::{Stream, rng};

    /// log p̃ of a density as a batch function.
    fn log_f(density: &dyn Density) -> impl FnMut(&[f64]) -> Result<Vec<f64>> + '_ {
        let d = density.dim();
        move |x: &[f64]| Ok(x.chunks_exact(d).map(|p| density.log_density(p)).collect())
    }

    #[test]
    fn quadrature_gives_each_data_set_its_own_normaliser() {
        for dim in [1, 2, 3] {
            let mut checked = Vec::new();
            for cfg in DatasetConfig::examples(dim) {
                if cfg.dim() != dim
                    || !cfg.validate().is_empty()
                    || cfg.name() == "funnel"
                    || !cfg.has_exact_score()
                {
                    // The funnel's neck is too thin for a box grid; it is checked by sampling.
                    continue;
                }
                checked.push(cfg.name());
                let density = cfg.build().unwrap();
                let data = density.sample(5000, &mut rng(0, Stream::Eval));
                let (lo, hi) = covering_box(&data, dim);
                let z = log_z_quadrature(&mut log_f(density.as_ref()), &lo, &hi).unwrap();
                let want = density.log_normalizer();
                let tol = if cfg.name() == "gaussian" { 1e-6 } else { 1e-3 };
                assert!(
                    (z.value - want).abs() < tol,
                    "{} in {dim}-D: {} vs {want} (± {})",
                    cfg.name(),
                    z.value,
                    z.error
                );
            }
            // Every dimension checks data sets of its own (not only the 2-D ones).
            assert!(checked.len() >= 2, "{dim}-D checked only {checked:?}");
        }
        // A known Gaussian in 1, 2 and 3 dimensions, exactly.
        for dim in 1..=3 {
            let g = crate::data::GaussianParams::example(dim).density().unwrap();
            let data = g.sample(5000, &mut rng(1, Stream::Eval));
            let (lo, hi) = covering_box(&data, dim);
            let z = log_z_quadrature(&mut log_f(g.as_ref()), &lo, &hi).unwrap();
            assert!(
                (z.value - g.log_normalizer()).abs() < 1e-6,
                "{dim}-D: {z:?}"
            );
        }
    }

    #[test]
    fn importance_sampling_agrees_with_the_normaliser_within_its_standard_error() {
        for cfg in DatasetConfig::examples(6) {
            if !matches!(cfg.name(), "gaussian" | "standard_normal" | "banana") {
                continue;
            }
            let density = cfg.build().unwrap();
            let data = density.sample(5000, &mut rng(2, Stream::Eval));
            let z = log_z_importance(
                &mut log_f(density.as_ref()),
                &data,
                6,
                IMPORTANCE_SAMPLES,
                &mut rng(3, Stream::Metric),
            )
            .unwrap();
            let want = density.log_normalizer();
            assert!(z.error < 0.05, "{}: se {}", cfg.name(), z.error);
            assert!(
                (z.value - want).abs() < 4.0 * z.error + 1e-3,
                "{}: {} vs {want} (se {})",
                cfg.name(),
                z.value,
                z.error
            );
        }
    }

    #[test]
    fn the_data_density_itself_has_zero_kl_and_its_own_entropy_as_likelihood() {
        for dim in [2, 3, 8] {
            let g = crate::data::GaussianParams::example(dim).density().unwrap();
            let eval = g.sample(4000, &mut rng(4, Stream::Eval));
            let fit = density_fit(
                &mut log_f(g.as_ref()),
                g.as_ref(),
                &eval,
                &mut rng(5, Stream::Metric),
            )
            .unwrap();
            let kl = fit.kl.unwrap();
            // Quadrature: exact; importance sampling: within its standard error.
            let tol = if dim <= 3 {
                1e-6
            } else {
                4.0 * fit.log_z_se.unwrap()
            };
            assert!(kl.abs() < tol, "{dim}-D: KL {kl} ({fit:?})");
            assert!(fit.note.is_none());
        }
    }

    #[test]
    fn a_shifted_model_has_the_kl_of_its_shift() {
        // p = N(0, I₂), p_θ = N(m, I₂): KL = ½‖m‖².
        let p = crate::data::StandardNormalParams::example(2)
            .density()
            .unwrap();
        let m = [0.6, -0.8];
        let mut shifted = |x: &[f64]| -> Result<Vec<f64>> {
            Ok(x.chunks_exact(2)
                .map(|v| -0.5 * ((v[0] - m[0]).powi(2) + (v[1] - m[1]).powi(2)) + 7.0)
                .collect())
        };
        let eval = p.sample(20_000, &mut rng(6, Stream::Eval));
        let fit =
            density_fit(&mut shifted, p.as_ref(), &eval, &mut rng(7, Stream::Metric)).unwrap();
        let kl = fit.kl.unwrap();
        // The evaluation sample's mean of the log ratio is the exact KL up to its own noise.
        assert!((kl - 0.5).abs() < 0.02, "KL {kl}");
    }
}

#[cfg(test)]
mod outside_tests {
    use super::*;
    use crate::data::{DataSet, StandardNormalParams};
    use crate::rng::{Stream, rng};

    #[test]
    fn a_model_whose_mass_leaves_the_data_gets_no_likelihood_and_says_why() {
        // log p̃ = +¼‖x‖² − ¼‖x‖⁴/100: normalisable only far beyond the data.
        let p = StandardNormalParams::example(2).density().unwrap();
        let eval = p.sample(2000, &mut rng(8, Stream::Eval));
        let mut wide = |x: &[f64]| -> Result<Vec<f64>> {
            Ok(x.chunks_exact(2)
                .map(|v| {
                    let r2 = v[0] * v[0] + v[1] * v[1];
                    0.25 * r2 - 0.0025 * r2 * r2
                })
                .collect())
        };
        let fit = density_fit(&mut wide, p.as_ref(), &eval, &mut rng(9, Stream::Metric)).unwrap();
        assert!(fit.kl.is_none() && fit.test_loglik.is_none(), "{fit:?}");
        assert!(
            fit.note
                .as_deref()
                .unwrap()
                .starts_with("the model's mass reaches beyond the data"),
            "{fit:?}"
        );
        assert!(fit.log_z.is_some());
    }
}
