//! `kde`: the exact score of a Gaussian kernel density estimate of the training pool,
//! p̂(x) = (1/M) Σ_m N(x; x_m, h²I) (Parzen 1962; the bandwidth rules of Silverman 1986 and
//! Scott 1992). With softmax weights w_m(x) ∝ exp(−‖x − x_m‖²/(2h²)) and m(x) = Σ w_m x_m,
//!
//! s(x) = (m(x) − x)/h²,  ∂s/∂x = Cov_w(x_m)/h⁴ − I/h²,
//!
//! all in closed form, and p̂ is normalised: its energy −log p̂ has log Z = 0. There is no
//! training loop (objective `none`). An evaluation costs O(M·D) per point, so the pool size
//! is practical up to about 10⁵ points for the metrics and 10⁴ for sampling.

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::rbf::{Bandwidth, BandwidthRule, KernelPoints, by_row_chunks, log_kernel};
use super::{ModelKind, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{ParamError, Result};
use crate::rng::Rng;

/// Parameters of `kde`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdeParams {
    /// The kernel width: `silverman` (default), `scott`, `median` or a number.
    #[serde(default = "default_bandwidth")]
    pub bandwidth: Bandwidth,
    /// Most pool points the estimate uses (default 8192; the first ones of the pool).
    #[serde(default = "default_points")]
    pub points: usize,
}

fn default_bandwidth() -> Bandwidth {
    Bandwidth::Rule(BandwidthRule::Silverman)
}

fn default_points() -> usize {
    8192
}

impl Default for KdeParams {
    fn default() -> Self {
        Self {
            bandwidth: default_bandwidth(),
            points: default_points(),
        }
    }
}

/// Checks `points` against `min..=max` (key `points`).
pub(super) fn check_points(points: usize, min: usize, max: usize) -> Vec<ParamError> {
    if (min..=max).contains(&points) {
        Vec::new()
    } else {
        vec![ParamError::new(
            "points",
            format!("must be between {min} and {max}, got {points}"),
        )]
    }
}

impl ModelKind for KdeParams {
    type Net = Kde;
    const FUSED: bool = false;
    const HAS_ENERGY: bool = true;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = self.bandwidth.validate();
        errors.extend(check_points(self.points, 2, 1 << 20));
        errors
    }

    training_free_kind!();

    fn init(&self, dim: usize, pool: &[f64], _ctx: &Ctx, _rng: &mut Rng) -> Result<Kde> {
        let points = KernelPoints::take(pool, dim, self.points)?;
        Ok(Kde {
            width: self.bandwidth.width(&points),
            points: points.values,
            dim,
        })
    }
}

/// A Gaussian kernel density estimate.
#[derive(Module, Debug)]
pub struct Kde {
    /// The points, row-major `[M, D]`.
    #[module(skip)]
    points: Vec<f64>,
    /// The kernel width h.
    #[module(skip)]
    width: f64,
    #[module(skip)]
    dim: usize,
}

/// The softmax weights and their mean point at a chunk of rows.
struct Weighted {
    /// w_m(x): `[B, M]`.
    w: Tensor<2>,
    /// m(x) = Σ w_m x_m: `[B, D]`.
    mean: Tensor<2>,
    /// log Σ_m exp(−‖x − x_m‖²/(2h²)): `[B, 1]`.
    log_sum: Tensor<2>,
}

impl Kde {
    /// The kernel width h.
    pub fn width(&self) -> f64 {
        self.width
    }

    fn rows(&self) -> usize {
        self.points.len() / self.dim
    }

    fn point_tensor(&self, like: &Tensor<2>) -> Tensor<2> {
        super::rbf::host_tensor(&self.points, self.rows(), self.dim, like)
    }

    /// # Shapes
    /// - `x`: `[B, D]`, `points`: `[M, D]`
    fn weighted(&self, x: &Tensor<2>, points: &Tensor<2>) -> Weighted {
        let logits = log_kernel(x, points, self.width);
        let top = logits.clone().max_dim(1);
        let log_sum = top.clone() + (logits.clone() - top).exp().sum_dim(1).log();
        let w = (logits - log_sum.clone()).exp();
        let mean = w.clone().matmul(points.clone());
        Weighted { w, mean, log_sum }
    }

    fn inv_h2(&self) -> f64 {
        1.0 / (self.width * self.width)
    }
}

impl ScoreNet for Kde {
    fn score(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let points = self.point_tensor(&x);
        by_row_chunks(x, None, self.rows(), |x, _| {
            let wt = self.weighted(&x, &points);
            (wt.mean - x) * self.inv_h2()
        })
    }

    /// Jv = (Σ w_m x_m x_mᵀv − m mᵀv)/h⁴ − v/h².
    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let points = self.point_tensor(&x);
        let d = self.dim;
        let both = by_row_chunks(x, Some(v), self.rows(), |x, v| {
            let Some(v) = v else { return x };
            let wt = self.weighted(&x, &points);
            let s = (wt.mean.clone() - x) * self.inv_h2();
            let pv = v.clone().matmul(points.clone().transpose());
            let second = (wt.w * pv).matmul(points.clone());
            let mv = (wt.mean.clone() * v.clone()).sum_dim(1);
            let jv = (second - wt.mean * mv) * self.inv_h2().powi(2) - v * self.inv_h2();
            Tensor::cat(vec![s, jv], 1)
        });
        (both.clone().narrow(1, 0, d), both.narrow(1, d, d))
    }

    /// tr J = (Σ w_m ‖x_m‖² − ‖m‖²)/h⁴ − D/h².
    fn score_trace(
        &self,
        x: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
        _path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let points = self.point_tensor(&x);
        let p_sq = points.clone().powi_scalar(2).sum_dim(1);
        let d = self.dim;
        let both = by_row_chunks(x, None, self.rows(), |x, _| {
            let wt = self.weighted(&x, &points);
            let s = (wt.mean.clone() - x) * self.inv_h2();
            let tr = (wt.w.matmul(p_sq.clone()) - wt.mean.powi_scalar(2).sum_dim(1))
                * self.inv_h2().powi(2)
                - d as f64 * self.inv_h2();
            Tensor::cat(vec![s, tr], 1)
        });
        (
            both.clone().narrow(1, 0, d),
            both.narrow(1, d, 1).flatten(0, 1),
        )
    }

    fn trace_path(&self, _requested: TracePath) -> TracePath {
        TracePath::Fast
    }

    /// −log p̂(x) = −log Σ_m exp(−‖x − x_m‖²/(2h²)) + log M + (D/2) log(2πh²).
    fn energy(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        let points = self.point_tensor(&x);
        let constant = (self.rows() as f64).ln()
            + 0.5 * self.dim as f64 * (2.0 * std::f64::consts::PI * self.width.powi(2)).ln();
        let e = by_row_chunks(x, None, self.rows(), |x, _| {
            self.weighted(&x, &points)
                .log_sum
                .neg()
                .add_scalar(constant)
        });
        Some(e.flatten(0, 1))
    }

    training_free_net!();
}
