//! `stein`: the Stein gradient estimator (Li & Turner 2018, "Gradient estimators for
//! implicit models"). Stein's identity E_q[h(x)∇log q(x)ᵀ + ∇h(x)] = 0 with the Gaussian
//! kernel's features as test functions, solved by ridge regression over the M points, gives
//! at the points
//!
//! Ĝ = −(K + ηI)⁻¹ R,  R_i = Σ_k ∇_{x_k} k(x_i, x_k).
//!
//! At a new point x the paper refits with x added to the points; by the block inverse of the
//! augmented kernel matrix (A = (K + ηI)⁻¹, k = k(X, x)) that refit is, in closed form,
//!
//! ĝ(x) = [−kᵀĜ + (Ak + 1)ᵀ ∇₂k(X, x)] / (k(x, x) + η − kᵀAk),
//!
//! one [M] × [M, M] product per point (where the paper's code evaluates the refit by a new
//! solve). ∂ĝ/∂x is differentiated by hand (the trace along the D axes). Building costs the
//! M³ inverse, so `points` up to a few thousand is practical (1024: under a second). No
//! training loop (objective `none`); ĝ is not a gradient field, so there is no energy.

use burn::module::Module;
use burn::tensor::Tensor;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::kde::check_points;
use super::rbf::{
    Bandwidth, BandwidthRule, KernelPoints, by_row_chunks, host_tensor, kernel_tangent, log_kernel,
    trace_by_axes,
};
use super::{ModelKind, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{Error, ParamError, Result};
use crate::rng::Rng;

/// Most points a kernel-matrix estimator (`stein`, `ssge`) may be built from.
pub const MAX_KERNEL_POINTS: usize = 8192;

/// Parameters of `stein`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteinParams {
    /// The kernel width: `median` (default), `silverman`, `scott` or a number.
    #[serde(default = "median")]
    pub bandwidth: Bandwidth,
    /// The ridge η (default 0.1).
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Most pool points the estimator is built from (default 1024, at most 8192).
    #[serde(default = "default_points")]
    pub points: usize,
}

pub(super) fn median() -> Bandwidth {
    Bandwidth::Rule(BandwidthRule::Median)
}

fn default_eta() -> f64 {
    0.1
}

pub(super) fn default_points() -> usize {
    1024
}

impl Default for SteinParams {
    fn default() -> Self {
        Self {
            bandwidth: median(),
            eta: default_eta(),
            points: default_points(),
        }
    }
}

impl ModelKind for SteinParams {
    type Net = Stein;
    const FUSED: bool = false;
    const HAS_ENERGY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = self.bandwidth.validate();
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            errors.push(ParamError::new(
                "eta",
                format!("must be positive, got {}", self.eta),
            ));
        }
        errors.extend(check_points(self.points, 2, MAX_KERNEL_POINTS));
        errors
    }

    training_free_kind!();

    fn init(&self, dim: usize, pool: &[f64], _ctx: &Ctx, _rng: &mut Rng) -> Result<Stein> {
        Stein::build(self, &KernelPoints::take(pool, dim, self.points)?)
    }
}

/// A Stein gradient estimator, ready to evaluate at new points.
#[derive(Module, Debug)]
pub struct Stein {
    /// The points, row-major `[M, D]`.
    #[module(skip)]
    points: Vec<f64>,
    /// A = (K + ηI)⁻¹, `[M, M]`.
    #[module(skip)]
    inverse: Vec<f64>,
    /// Ĝ at the points, `[M, D]`.
    #[module(skip)]
    at_points: Vec<f64>,
    #[module(skip)]
    width: f64,
    #[module(skip)]
    eta: f64,
    #[module(skip)]
    dim: usize,
}

/// The terms of ĝ at a chunk of rows, kept for its derivative.
struct Terms {
    k: Tensor<2>,
    ak: Tensor<2>,
    q: Tensor<2>,
    denom: Tensor<2>,
    g: Tensor<2>,
}

/// The tensors an evaluation needs, on the input's device.
struct Operands {
    points: Tensor<2>,
    inverse: Tensor<2>,
    at_points: Tensor<2>,
}

fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    m.transpose().as_slice().to_vec()
}

impl Stein {
    /// Builds the estimator on `points` (the kernel matrix inverse and Ĝ at the points).
    pub fn build(params: &SteinParams, points: &KernelPoints) -> Result<Self> {
        let (m, d) = (points.rows, points.dim);
        let h = params.bandwidth.width(points);
        let k = points.kernel_matrix(h);
        let x = DMatrix::from_row_slice(m, d, &points.values);
        // R_i = Σ_k k(x_i, x_k)(x_i − x_k)/h².
        let row_sums = DMatrix::from_fn(m, 1, |i, _| k.row(i).sum());
        let r = (DMatrix::from_fn(m, d, |i, j| row_sums[i] * x[(i, j)]) - &k * &x) / (h * h);
        let regularised = &k + DMatrix::identity(m, m) * params.eta;
        let inverse = regularised
            .cholesky()
            .ok_or_else(|| {
                Error::LinearAlgebra("the Stein estimator's K + ηI is not positive definite".into())
            })?
            .inverse();
        let at_points = -(&inverse * r);
        Ok(Self {
            points: points.values.clone(),
            inverse: row_major(&inverse),
            at_points: row_major(&at_points),
            width: h,
            eta: params.eta,
            dim: d,
        })
    }

    fn rows(&self) -> usize {
        self.points.len() / self.dim
    }

    fn operands(&self, like: &Tensor<2>) -> Operands {
        let (m, d) = (self.rows(), self.dim);
        Operands {
            points: host_tensor(&self.points, m, d, like),
            inverse: host_tensor(&self.inverse, m, m, like),
            at_points: host_tensor(&self.at_points, m, d, like),
        }
    }

    /// ĝ and its parts at `x`.
    ///
    /// # Shapes
    /// - `x`: `[B, D]` → `g`: `[B, D]`
    fn terms(&self, x: &Tensor<2>, ops: &Operands) -> Terms {
        let inv_h2 = 1.0 / (self.width * self.width);
        let k = log_kernel(x, &ops.points, self.width).exp();
        let ak = k.clone().matmul(ops.inverse.clone());
        let denom = (ak.clone() * k.clone())
            .sum_dim(1)
            .neg()
            .add_scalar(1.0 + self.eta);
        let q = (ak.clone().add_scalar(1.0)) * k.clone();
        let t1 = k.clone().matmul(ops.at_points.clone()).neg();
        let t2 = (q.clone().matmul(ops.points.clone()) - x.clone() * q.clone().sum_dim(1)) * inv_h2;
        let g = (t1 + t2) / denom.clone();
        Terms { k, ak, q, denom, g }
    }

    /// (∂ĝ/∂x) v from the terms at x.
    ///
    /// # Shapes
    /// - `x`, `v`: `[B, D]` → `[B, D]`
    fn tangent(&self, t: &Terms, x: &Tensor<2>, v: &Tensor<2>, ops: &Operands) -> Tensor<2> {
        let inv_h2 = 1.0 / (self.width * self.width);
        let dk = kernel_tangent(&t.k, x, v, &ops.points, self.width);
        let dak = dk.clone().matmul(ops.inverse.clone());
        let d_denom = (t.ak.clone() * dk.clone()).sum_dim(1) * -2.0;
        let dq = dak * t.k.clone() + t.ak.clone().add_scalar(1.0) * dk.clone();
        let dt1 = dk.matmul(ops.at_points.clone()).neg();
        let dt2 = (dq.clone().matmul(ops.points.clone())
            - x.clone() * dq.sum_dim(1)
            - v.clone() * t.q.clone().sum_dim(1))
            * inv_h2;
        (dt1 + dt2 - t.g.clone() * d_denom) / t.denom.clone()
    }

    fn jvp(&self, x: Tensor<2>, v: Tensor<2>, ops: &Operands) -> Tensor<2> {
        by_row_chunks(x, Some(v), self.rows(), |x, v| {
            let t = self.terms(&x, ops);
            match v {
                Some(v) => Tensor::cat(vec![t.g.clone(), self.tangent(&t, &x, &v, ops)], 1),
                None => t.g,
            }
        })
    }
}

impl ScoreNet for Stein {
    fn score(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let ops = self.operands(&x);
        by_row_chunks(x, None, self.rows(), |x, _| self.terms(&x, &ops).g)
    }

    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let ops = self.operands(&x);
        let both = self.jvp(x, v, &ops);
        let d = self.dim;
        (both.clone().narrow(1, 0, d), both.narrow(1, d, d))
    }

    fn score_trace(
        &self,
        x: Tensor<2>,
        sigma: Option<&Tensor<2>>,
        _path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let ops = self.operands(&x);
        let d = self.dim;
        let trace = trace_by_axes(&x, |x, e| self.jvp(x, e, &ops).narrow(1, d, d));
        (self.score(x, sigma), trace)
    }

    fn trace_path(&self, _requested: TracePath) -> TracePath {
        TracePath::Jacobian
    }

    fn energy(&self, _x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        None
    }

    training_free_net!();
}
