//! The exponential family p̃_θ(x) = exp(⟨θ, T(x)⟩) with polynomial sufficient statistics:
//! every monomial x^α with 1 ≤ |α| ≤ `degree` (degree 2 is the Gaussian family). It is fitted
//! in closed form by score matching (Hyvärinen 2005): the ISM objective is quadratic in θ, so
//!
//! θ̂ = −(Ê[Σ_i ∂_iT ∂_iTᵀ] + λI)⁻¹ Ê[ΔT],
//!
//! on (up to [`FIT_SAMPLES`] points of) the training pool, with an optional ridge λ. There is
//! no training loop. Its score Σ_k θ_k ∇T_k, the score's derivatives and its energy −⟨θ, T⟩
//! are polynomials, evaluated with tensor ops.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{Activation, Fit, MlpShape, ModelKind, ParamTensor, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{Error, ParamError, Result};
use crate::rng::Rng;

/// Most sufficient statistics a fit may have (the fit costs n·D·K²).
pub const MAX_TERMS: usize = 500;
/// Most pool points the fit uses.
pub const FIT_SAMPLES: usize = 8192;

/// Parameters of `expfam`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpFamParams {
    /// Highest total degree of the monomials (default 2: the Gaussian family); even, so that
    /// the density can be normalisable.
    #[serde(default = "default_degree")]
    pub degree: usize,
    /// Ridge λ added to the normal equations (default 0).
    #[serde(default)]
    pub ridge: f64,
}

fn default_degree() -> usize {
    2
}

impl Default for ExpFamParams {
    fn default() -> Self {
        Self {
            degree: default_degree(),
            ridge: 0.0,
        }
    }
}

/// The exponents of every monomial with 1 ≤ total degree ≤ `degree` in `dim` variables, in
/// graded order.
pub fn exponents(dim: usize, degree: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for total in 1..=degree {
        let mut alpha = vec![0; dim];
        fill(&mut alpha, 0, total, &mut out);
    }
    out
}

fn fill(alpha: &mut Vec<usize>, at: usize, left: usize, out: &mut Vec<Vec<usize>>) {
    if at + 1 == alpha.len() {
        alpha[at] = left;
        out.push(alpha.clone());
        return;
    }
    for k in (0..=left).rev() {
        alpha[at] = k;
        fill(alpha, at + 1, left - k, out);
    }
    alpha[at] = 0;
}

/// The number of monomials of [`exponents`] (C(D + degree, degree) − 1).
pub fn term_count(dim: usize, degree: usize) -> usize {
    (1..=degree).fold(1usize, |acc, k| acc.saturating_mul(dim + k) / k) - 1
}

impl ModelKind for ExpFamParams {
    type Net = ExpFam;
    const HAS_ENERGY: bool = true;
    const FUSED: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if !(2..=8).contains(&self.degree) || !self.degree.is_multiple_of(2) {
            errors.push(ParamError::new(
                "degree",
                format!(
                    "must be 2, 4, 6 or 8 (an even top degree can be normalisable), got {}",
                    self.degree
                ),
            ));
        }
        if !(self.ridge >= 0.0 && self.ridge.is_finite()) {
            errors.push(ParamError::new(
                "ridge",
                format!("must be non-negative, got {}", self.ridge),
            ));
        }
        errors
    }

    fn validate_for(&self, dim: usize) -> Vec<ParamError> {
        let k = term_count(dim, self.degree);
        if k > MAX_TERMS {
            vec![ParamError::new(
                "degree",
                format!(
                    "degree {} in {dim} dimensions has {k} sufficient statistics, more than \
                     {MAX_TERMS} (lower the degree)",
                    self.degree
                ),
            )]
        } else {
            Vec::new()
        }
    }

    fn fit(&self) -> Fit {
        Fit::ClosedFormIsm
    }

    fn activation(&self) -> Option<Activation> {
        None
    }

    fn is_noise_conditional(&self) -> bool {
        false
    }

    fn noise_conditional(&self) -> Option<Self> {
        None
    }

    fn init(&self, dim: usize, pool: &[f64], _ctx: &Ctx, _rng: &mut Rng) -> Result<ExpFam> {
        ExpFam::fit(self, dim, pool)
    }
}

/// A fitted exponential-family model.
#[derive(Module, Debug)]
pub struct ExpFam {
    /// θ, one entry per monomial.
    #[module(skip)]
    theta: Vec<f64>,
    /// The monomials' exponents.
    #[module(skip)]
    exponents: Vec<Vec<usize>>,
    #[module(skip)]
    dim: usize,
}

/// A polynomial Σ_t c_t x^{α_t}.
type Poly = Vec<(f64, Vec<usize>)>;

impl ExpFam {
    /// The closed-form score-matching fit on (at most [`FIT_SAMPLES`] rows of) `data`.
    pub fn fit(params: &ExpFamParams, dim: usize, data: &[f64]) -> Result<Self> {
        let exponents = exponents(dim, params.degree);
        let k = exponents.len();
        if k > MAX_TERMS {
            return Err(Error::InvalidConfig(vec![ParamError::new(
                "model.degree",
                format!(
                    "degree {} in {dim} dimensions has {k} terms, more than {MAX_TERMS}",
                    params.degree
                ),
            )]));
        }
        let n = (data.len() / dim).min(FIT_SAMPLES);
        if n == 0 {
            return Err(Error::Tensor("the fit needs data".into()));
        }
        let mut a = DMatrix::<f64>::zeros(k, k);
        let mut b = DVector::<f64>::zeros(k);
        let mut grad = DMatrix::<f64>::zeros(dim, k);
        for x in data.chunks_exact(dim).take(n) {
            let pw = powers(x, params.degree);
            for (t, alpha) in exponents.iter().enumerate() {
                for i in 0..dim {
                    grad[(i, t)] = derivative_value(&pw, alpha, i);
                    b[t] += second_derivative_value(&pw, alpha, i);
                }
            }
            a += grad.transpose() * &grad;
        }
        a /= n as f64;
        b /= n as f64;
        for t in 0..k {
            a[(t, t)] += params.ridge;
        }
        let theta = a.lu().solve(&(-b)).ok_or_else(|| {
            Error::LinearAlgebra(
                "the score-matching normal equations are singular (add a ridge)".into(),
            )
        })?;
        Ok(Self {
            theta: theta.iter().copied().collect(),
            exponents,
            dim,
        })
    }

    /// θ, in [`exponents`]' order.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// ⟨θ, T⟩ as a polynomial.
    fn log_density_poly(&self) -> Poly {
        self.theta
            .iter()
            .zip(&self.exponents)
            .map(|(&c, a)| (c, a.clone()))
            .collect()
    }

    /// Evaluates `poly` at the rows of `x`.
    ///
    /// # Shapes
    /// - `x`: `[B, D]` → `[B, 1]`
    fn eval(&self, poly: &Poly, x: &Tensor<2>) -> Tensor<2> {
        let [b, d] = x.dims();
        let cols: Vec<Tensor<2>> = (0..d).map(|i| x.clone().narrow(1, i, 1)).collect();
        let mut out = x.clone().narrow(1, 0, 1).zeros_like();
        for (c, alpha) in poly {
            if *c == 0.0 {
                continue;
            }
            let mut term: Option<Tensor<2>> = None;
            for (col, &p) in cols.iter().zip(alpha) {
                if p == 0 {
                    continue;
                }
                let f = col.clone().powi_scalar(p as i32);
                term = Some(match term {
                    Some(t) => t * f,
                    None => f,
                });
            }
            out = out
                + match term {
                    Some(t) => t * *c,
                    None => Tensor::<2>::from_data(
                        TensorData::new(vec![*c; b], [b, 1]),
                        (&x.device(), x.dtype()),
                    ),
                };
        }
        out
    }

    /// ∇ₓ⟨θ, T⟩ as polynomials, one per coordinate.
    fn score_polys(&self) -> Vec<Poly> {
        (0..self.dim)
            .map(|i| differentiate(&self.log_density_poly(), i))
            .collect()
    }
}

/// ∂/∂x_i of a polynomial.
fn differentiate(poly: &Poly, i: usize) -> Poly {
    poly.iter()
        .filter(|(_, a)| a[i] > 0)
        .map(|(c, a)| {
            let mut b = a.clone();
            b[i] -= 1;
            (c * a[i] as f64, b)
        })
        .collect()
}

/// x_i^p for every coordinate and p ≤ `degree`.
fn powers(x: &[f64], degree: usize) -> Vec<Vec<f64>> {
    x.iter()
        .map(|&v| {
            let mut p = vec![1.0; degree + 1];
            for k in 1..=degree {
                p[k] = p[k - 1] * v;
            }
            p
        })
        .collect()
}

/// ∂_i x^α at a point, from its powers.
fn derivative_value(pw: &[Vec<f64>], alpha: &[usize], i: usize) -> f64 {
    if alpha[i] == 0 {
        return 0.0;
    }
    alpha[i] as f64
        * alpha
            .iter()
            .enumerate()
            .map(|(j, &p)| if j == i { pw[j][p - 1] } else { pw[j][p] })
            .product::<f64>()
}

/// ∂²_i x^α at a point, from its powers.
fn second_derivative_value(pw: &[Vec<f64>], alpha: &[usize], i: usize) -> f64 {
    if alpha[i] < 2 {
        return 0.0;
    }
    (alpha[i] * (alpha[i] - 1)) as f64
        * alpha
            .iter()
            .enumerate()
            .map(|(j, &p)| if j == i { pw[j][p - 2] } else { pw[j][p] })
            .product::<f64>()
}

impl ScoreNet for ExpFam {
    fn score(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let cols: Vec<Tensor<2>> = self
            .score_polys()
            .iter()
            .map(|p| self.eval(p, &x))
            .collect();
        Tensor::cat(cols, 1)
    }

    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let polys = self.score_polys();
        let jv: Vec<Tensor<2>> = polys
            .iter()
            .map(|p| {
                let mut acc = v.clone().narrow(1, 0, 1).zeros_like();
                for j in 0..self.dim {
                    acc = acc + self.eval(&differentiate(p, j), &x) * v.clone().narrow(1, j, 1);
                }
                acc
            })
            .collect();
        (self.score(x, sigma), Tensor::cat(jv, 1))
    }

    fn score_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        _path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let laplacian: Poly = self
            .score_polys()
            .iter()
            .enumerate()
            .flat_map(|(i, p)| differentiate(p, i))
            .collect();
        let trace = self.eval(&laplacian, &x).flatten(0, 1);
        (self.score(x, sigma), trace)
    }

    fn trace_path(&self, _requested: TracePath) -> TracePath {
        TracePath::Fast
    }

    fn kernel_shape(&self) -> Option<MlpShape> {
        None
    }

    fn flat_params(&self) -> Result<Vec<f64>> {
        Ok(self.theta.clone())
    }

    fn param_layout(&self) -> Vec<ParamTensor> {
        vec![ParamTensor::new("coefficients", vec![self.theta.len()])]
    }

    fn with_flat_params(&self, theta: &[f64], _ctx: &Ctx) -> Self {
        Self {
            theta: theta[..self.theta.len()].to_vec(),
            exponents: self.exponents.clone(),
            dim: self.dim,
        }
    }

    fn is_noise_conditional(&self) -> bool {
        false
    }

    fn energy(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        Some(self.eval(&self.log_density_poly(), &x).neg().flatten(0, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Precision, to_host};
    use crate::data::{DataSet, GaussianParams};
    use crate::model::closed_form::gaussian_closed_form;
    use crate::rng::{Stream, normals, rng};

    fn ctx() -> Ctx {
        Ctx::new(Backend::Flex.device().unwrap(), Precision::F64)
    }

    #[test]
    fn monomials_are_counted_and_listed_once() {
        for (d, deg) in [(1, 2), (2, 4), (3, 2), (10, 2), (2, 6)] {
            let e = exponents(d, deg);
            assert_eq!(e.len(), term_count(d, deg), "{d} {deg}");
            let distinct: std::collections::BTreeSet<_> = e.iter().collect();
            assert_eq!(distinct.len(), e.len());
            assert!(
                e.iter()
                    .all(|a| (1..=deg).contains(&a.iter().sum::<usize>()))
            );
        }
        assert_eq!(term_count(10, 4), 1000);
    }

    #[test]
    fn degree_two_is_the_gaussian_closed_form() {
        let g = GaussianParams::example(3).density().unwrap();
        let x = g.sample(4000, &mut rng(0, Stream::Pool));
        let model = ExpFam::fit(&ExpFamParams::default(), 3, &x).unwrap();
        let fit = gaussian_closed_form(&x[..FIT_SAMPLES.min(4000) * 3], 3).unwrap();
        let ctx = ctx();
        let pts = normals(&mut rng(1, Stream::Eval), 20 * 3);
        let s = to_host(model.score(ctx.matrix(&pts, 20, 3), None)).unwrap();
        for (r, p) in pts.chunks_exact(3).enumerate() {
            let want = -(&fit.precision * (DVector::from_column_slice(p) - &fit.mean));
            for i in 0..3 {
                assert!(
                    (s[r * 3 + i] - want[i]).abs() < 1e-8 * (1.0 + want[i].abs()),
                    "{} vs {}",
                    s[r * 3 + i],
                    want[i]
                );
            }
        }
    }

    #[test]
    fn score_derivatives_and_energy_agree_with_finite_differences() {
        let x = normals(&mut rng(2, Stream::Pool), 3000 * 2);
        let model = ExpFam::fit(
            &ExpFamParams {
                degree: 4,
                ridge: 1e-6,
            },
            2,
            &x,
        )
        .unwrap();
        let ctx = ctx();
        let pts = normals(&mut rng(3, Stream::Eval), 5 * 2);
        let v = normals(&mut rng(4, Stream::Eval), 5 * 2);
        let xt = ctx.matrix(&pts, 5, 2);
        let energy = |p: &[f64]| to_host(model.energy(ctx.matrix(p, 5, 2), None).unwrap()).unwrap();
        let score = |p: &[f64]| to_host(model.score(ctx.matrix(p, 5, 2), None)).unwrap();
        let (s, jv) = model.score_jvp(xt.clone(), ctx.matrix(&v, 5, 2), None);
        let (s, jv) = (to_host(s).unwrap(), to_host(jv).unwrap());
        let (_, tr) = model.score_trace(xt, None, TracePath::Auto);
        let tr = to_host(tr).unwrap();
        let h = 1e-5;
        let shift = |i: usize, d: f64| {
            let mut y = pts.clone();
            (0..5).for_each(|r| y[r * 2 + i] += d);
            y
        };
        for i in 0..2 {
            let (eu, ed) = (energy(&shift(i, h)), energy(&shift(i, -h)));
            for r in 0..5 {
                let want = -(eu[r] - ed[r]) / (2.0 * h);
                assert!((s[r * 2 + i] - want).abs() < 1e-6 * (1.0 + want.abs()));
            }
        }
        for r in 0..5 {
            // jac[j][i] = ∂s_j/∂x_i
            let columns: Vec<Vec<f64>> = (0..2)
                .map(|i| {
                    let (su, sd) = (score(&shift(i, h)), score(&shift(i, -h)));
                    (0..2)
                        .map(|j| (su[r * 2 + j] - sd[r * 2 + j]) / (2.0 * h))
                        .collect()
                })
                .collect();
            let jac = [
                [columns[0][0], columns[1][0]],
                [columns[0][1], columns[1][1]],
            ];
            for j in 0..2 {
                let want = jac[j][0] * v[r * 2] + jac[j][1] * v[r * 2 + 1];
                assert!((jv[r * 2 + j] - want).abs() < 1e-5 * (1.0 + want.abs()));
            }
            let want = jac[0][0] + jac[1][1];
            assert!((tr[r] - want).abs() < 1e-5 * (1.0 + want.abs()));
        }
    }

    /// Samples of p(x) ∝ exp(−x⁴/4 − x²/2 + x/2) per coordinate, by inverse CDF on a fine grid.
    fn quartic_samples(n: usize, seed: u64) -> Vec<f64> {
        let grid: Vec<f64> = (0..20_001).map(|i| -5.0 + i as f64 * 5e-4).collect();
        let dens: Vec<f64> = grid
            .iter()
            .map(|&x| (-x.powi(4) / 4.0 - x * x / 2.0 + x / 2.0).exp())
            .collect();
        let mut cdf = Vec::with_capacity(dens.len());
        let mut acc = 0.0;
        for d in &dens {
            acc += d;
            cdf.push(acc);
        }
        let mut r = rng(seed, Stream::Pool);
        (0..n * 2)
            .map(|_| {
                let u = rand::RngExt::random::<f64>(&mut r) * acc;
                grid[cdf.partition_point(|&c| c < u).min(grid.len() - 1)]
            })
            .collect()
    }

    #[test]
    fn degree_four_recovers_a_quartic_family_member_as_the_sample_grows() {
        // θ for x₁, x₂: ½ each; x₁², x₂²: −½; x₁⁴, x₂⁴: −¼; every other monomial 0.
        let exps = exponents(2, 4);
        let truth: Vec<f64> = exps
            .iter()
            .map(|a| match (a[0], a[1]) {
                (1, 0) | (0, 1) => 0.5,
                (2, 0) | (0, 2) => -0.5,
                (4, 0) | (0, 4) => -0.25,
                _ => 0.0,
            })
            .collect();
        let mut errors = Vec::new();
        for n in [500, 8000] {
            let x = quartic_samples(n, n as u64);
            let fit = ExpFam::fit(
                &ExpFamParams {
                    degree: 4,
                    ridge: 0.0,
                },
                2,
                &x,
            )
            .unwrap();
            let err: f64 = fit
                .theta()
                .iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            errors.push(err);
        }
        assert!(errors[1] < 0.5 * errors[0], "errors {errors:?}");
        assert!(errors[1] < 0.15, "errors {errors:?}");
    }
}
