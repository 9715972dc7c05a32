//! The Gaussian kernel k(x, y) = exp(−‖x − y‖²/(2h²)) the training-free score estimators
//! (`kde`, `stein`, `ssge`) are built from: their points, the width rules, and the kernel and
//! its directional derivative as tensor ops.

use burn::tensor::{Tensor, TensorData};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ParamError, Result};

/// The [`ModelKind`](super::ModelKind) declarations every training-free estimator makes:
/// built from the pool with no training loop ([`Fit::TrainingFree`](super::Fit)), for any
/// dimension, with no activation and no noise conditioning.
macro_rules! training_free_kind {
    () => {
        fn validate_for(&self, _dim: usize) -> Vec<crate::error::ParamError> {
            Vec::new()
        }

        fn fit(&self) -> super::Fit {
            super::Fit::TrainingFree
        }

        fn activation(&self) -> Option<super::Activation> {
            None
        }

        fn is_noise_conditional(&self) -> bool {
            false
        }

        fn noise_conditional(&self) -> Option<Self> {
            None
        }
    };
}

/// The [`ScoreNet`](super::ScoreNet) declarations every training-free estimator makes: no
/// host kernels, no trainable parameters (θ is empty: the estimator is its points), no σ.
macro_rules! training_free_net {
    () => {
        fn kernel_shape(&self) -> Option<super::MlpShape> {
            None
        }

        fn flat_params(&self) -> crate::error::Result<Vec<f64>> {
            Ok(Vec::new())
        }

        fn param_layout(&self) -> Vec<super::ParamTensor> {
            Vec::new()
        }

        fn with_flat_params(&self, _theta: &[f64], _ctx: &crate::backend::Ctx) -> Self {
            self.clone()
        }

        fn is_noise_conditional(&self) -> bool {
            false
        }
    };
}

/// Largest number of kernel entries (rows × points) one tensor op holds; evaluations are
/// split into row chunks below it.
const CHUNK_ENTRIES: usize = 1 << 20;
/// Most points the median rule looks at (their pairwise distances).
const MEDIAN_POINTS: usize = 1000;

/// How the kernel width h is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bandwidth {
    /// By a rule, from the points.
    Rule(BandwidthRule),
    /// Given.
    Width(f64),
}

/// A rule for the kernel width from n points in D dimensions, σ̄ the mean of the
/// coordinates' standard deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BandwidthRule {
    /// Silverman's rule of thumb, h = σ̄ (4/((D + 2) n))^{1/(D+4)}.
    Silverman,
    /// Scott's rule, h = σ̄ n^{−1/(D+4)}.
    Scott,
    /// The median heuristic: h = the median distance between two points (of the first
    /// 1000).
    Median,
}

impl Bandwidth {
    /// Every problem with a given width (key `bandwidth`).
    pub fn validate(&self) -> Vec<ParamError> {
        match *self {
            Self::Width(h) if !(h > 0.0 && h.is_finite()) => vec![ParamError::new(
                "bandwidth",
                format!("must be silverman, scott, median or a positive width, got {h}"),
            )],
            _ => Vec::new(),
        }
    }

    /// The width for `points`.
    pub fn width(&self, points: &KernelPoints) -> f64 {
        let n = points.rows as f64;
        let d = points.dim as f64;
        match *self {
            Self::Width(h) => h,
            Self::Rule(BandwidthRule::Silverman) => {
                points.mean_std() * (4.0 / ((d + 2.0) * n)).powf(1.0 / (d + 4.0))
            }
            Self::Rule(BandwidthRule::Scott) => points.mean_std() * n.powf(-1.0 / (d + 4.0)),
            Self::Rule(BandwidthRule::Median) => points.median_distance(),
        }
    }
}

/// The points an estimator is built from: the first rows of the training pool.
#[derive(Clone, Debug)]
pub struct KernelPoints {
    /// Row-major `[rows, dim]`.
    pub values: Vec<f64>,
    /// Number of points.
    pub rows: usize,
    /// Dimension.
    pub dim: usize,
}

impl KernelPoints {
    /// The first `max_rows` rows of `pool` (row-major `[n, dim]`).
    pub fn take(pool: &[f64], dim: usize, max_rows: usize) -> Result<Self> {
        let rows = (pool.len() / dim).min(max_rows);
        if rows < 2 {
            return Err(Error::Tensor(
                "a score estimator needs at least two training points".into(),
            ));
        }
        Ok(Self {
            values: pool[..rows * dim].to_vec(),
            rows,
            dim,
        })
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// The mean over coordinates of their sample standard deviation.
    fn mean_std(&self) -> f64 {
        let n = self.rows as f64;
        (0..self.dim)
            .map(|i| {
                let col = (0..self.rows).map(|r| self.values[r * self.dim + i]);
                let mean = col.clone().sum::<f64>() / n;
                (col.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            })
            .sum::<f64>()
            / self.dim as f64
    }

    /// The median distance between two of the first [`MEDIAN_POINTS`] points.
    fn median_distance(&self) -> f64 {
        let m = self.rows.min(MEDIAN_POINTS);
        let mut d2: Vec<f64> = (0..m)
            .flat_map(|i| (i + 1..m).map(move |j| (i, j)))
            .map(|(i, j)| sq_dist(self.row(i), self.row(j)))
            .collect();
        let mid = d2.len() / 2;
        let (_, median, _) = d2.select_nth_unstable_by(mid, f64::total_cmp);
        median.sqrt()
    }

    /// The kernel matrix K_ij = k(x_i, x_j) of width `h`, in f64.
    pub fn kernel_matrix(&self, h: f64) -> DMatrix<f64> {
        let c = -0.5 / (h * h);
        DMatrix::from_fn(self.rows, self.rows, |i, j| {
            (c * sq_dist(self.row(i), self.row(j))).exp()
        })
    }

    /// The points as a `[rows, dim]` tensor on `like`'s device, in its precision.
    pub fn tensor(&self, like: &Tensor<2>) -> Tensor<2> {
        host_tensor(&self.values, self.rows, self.dim, like)
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// A row-major host matrix as a tensor on `like`'s device, in its precision.
///
/// # Shapes
/// - `values`: `rows * cols` → `[rows, cols]`
pub fn host_tensor(values: &[f64], rows: usize, cols: usize, like: &Tensor<2>) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [rows, cols]),
        (&like.device(), like.dtype()),
    )
}

/// log k(x, y) = −‖x − y‖²/(2h²) of every row of `x` against every point.
///
/// # Shapes
/// - `x`: `[B, D]`, `points`: `[M, D]` → `[B, M]`
pub fn log_kernel(x: &Tensor<2>, points: &Tensor<2>, h: f64) -> Tensor<2> {
    let x_sq = x.clone().powi_scalar(2).sum_dim(1);
    let p_sq = points.clone().powi_scalar(2).sum_dim(1).transpose();
    let cross = x.clone().matmul(points.clone().transpose());
    (x_sq + p_sq - cross * 2.0) * (-0.5 / (h * h))
}

/// The directional derivative of the kernel values `k` = k(x, ·) along `v`:
/// k ⊙ (x_m − x)ᵀv / h².
///
/// # Shapes
/// - `k`: `[B, M]`, `x`, `v`: `[B, D]`, `points`: `[M, D]` → `[B, M]`
pub fn kernel_tangent(
    k: &Tensor<2>,
    x: &Tensor<2>,
    v: &Tensor<2>,
    points: &Tensor<2>,
    h: f64,
) -> Tensor<2> {
    let pv = v.clone().matmul(points.clone().transpose());
    let xv = (x.clone() * v.clone()).sum_dim(1);
    k.clone() * (pv - xv) * (1.0 / (h * h))
}

/// Applies `f` to row chunks of `x` (and the same rows of `v`) small enough that a
/// `[rows, points]` kernel block stays under [`CHUNK_ENTRIES`], and stacks the results.
///
/// # Shapes
/// - `x`, `v`: `[B, D]`; `f`: `[b, D]`, `[b, D]` → `[b, K]` → `[B, K]`
pub fn by_row_chunks(
    x: Tensor<2>,
    v: Option<Tensor<2>>,
    points: usize,
    f: impl Fn(Tensor<2>, Option<Tensor<2>>) -> Tensor<2>,
) -> Tensor<2> {
    let rows = x.dims()[0];
    let chunk = (CHUNK_ENTRIES / points.max(1)).max(1);
    if rows <= chunk {
        return f(x, v);
    }
    let parts: Vec<Tensor<2>> = (0..rows)
        .step_by(chunk)
        .map(|start| {
            let len = chunk.min(rows - start);
            f(
                x.clone().narrow(0, start, len),
                v.as_ref().map(|v| v.clone().narrow(0, start, len)),
            )
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// tr ∂s/∂x from D directional derivatives along the coordinate axes, for estimators whose
/// trace has no cheaper closed form; `jvp(x, e_i)` is (∂s/∂x) e_i.
///
/// # Shapes
/// - `x`: `[B, D]` → `[B]`
pub fn trace_by_axes(x: &Tensor<2>, jvp: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>) -> Tensor<1> {
    let [b, d] = x.dims();
    let mut trace = x.clone().narrow(1, 0, 1).zeros_like();
    for i in 0..d {
        let mut axis = vec![0.0; b * d];
        (0..b).for_each(|r| axis[r * d + i] = 1.0);
        let e = host_tensor(&axis, b, d, x);
        trace = trace + jvp(x.clone(), e).narrow(1, i, 1);
    }
    trace.flatten(0, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Ctx, Precision, to_host};
    use crate::rng::{Stream, normals, rng};

    #[test]
    fn the_width_rules_follow_their_formulas() {
        // Two points per coordinate spread: values ±1 → sample std √2 · … computed by hand.
        let values = vec![0.0, 0.0, 2.0, 0.0, 0.0, 4.0, 2.0, 4.0];
        let p = KernelPoints::take(&values, 2, 10).unwrap();
        // Coordinates {0, 2, 0, 2} and {0, 0, 4, 4}: sample stds √(4/3) and √(16/3).
        let std = ((4.0f64 / 3.0).sqrt() + (16.0f64 / 3.0).sqrt()) / 2.0;
        let scott = Bandwidth::Rule(BandwidthRule::Scott).width(&p);
        assert!((scott - std * 4f64.powf(-1.0 / 6.0)).abs() < 1e-12);
        let silverman = Bandwidth::Rule(BandwidthRule::Silverman).width(&p);
        assert!((silverman - std * (4.0f64 / 16.0).powf(1.0 / 6.0)).abs() < 1e-12);
        // Distances: 2, 4, √20, √20, 4, 2 → the upper middle of the sorted six is 4.
        let median = Bandwidth::Rule(BandwidthRule::Median).width(&p);
        assert!((median - 4.0).abs() < 1e-12, "{median}");
        assert_eq!(Bandwidth::Width(0.3).width(&p), 0.3);
        assert_eq!(Bandwidth::Width(-1.0).validate().len(), 1);
        assert!(KernelPoints::take(&values[..2], 2, 10).is_err());
    }

    #[test]
    fn the_kernel_and_its_tangent_agree_with_the_host_and_finite_differences() {
        let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
        let (b, m, d, h) = (4, 7, 3, 0.8);
        let pool = normals(&mut rng(0, Stream::Pool), m * d);
        let p = KernelPoints::take(&pool, d, m).unwrap();
        let xs = normals(&mut rng(1, Stream::Eval), b * d);
        let vs = normals(&mut rng(2, Stream::Eval), b * d);
        let x = ctx.matrix(&xs, b, d);
        let pts = p.tensor(&x);
        let k = log_kernel(&x, &pts, h).exp();
        let host = to_host(k.clone()).unwrap();
        for r in 0..b {
            for j in 0..m {
                let want = (-sq_dist(&xs[r * d..(r + 1) * d], p.row(j)) / (2.0 * h * h)).exp();
                assert!((host[r * m + j] - want).abs() < 1e-12);
            }
        }
        let dk = to_host(kernel_tangent(&k, &x, &ctx.matrix(&vs, b, d), &pts, h)).unwrap();
        let step = 1e-6;
        let shifted = |sign: f64| {
            let y: Vec<f64> = xs
                .iter()
                .zip(&vs)
                .map(|(x, v)| x + sign * step * v)
                .collect();
            to_host(log_kernel(&ctx.matrix(&y, b, d), &pts, h).exp()).unwrap()
        };
        let (up, down) = (shifted(1.0), shifted(-1.0));
        for e in 0..b * m {
            let fd = (up[e] - down[e]) / (2.0 * step);
            assert!((dk[e] - fd).abs() < 1e-8, "{} vs {fd}", dk[e]);
        }
        // Chunked evaluation stacks the same rows.
        let whole = to_host(by_row_chunks(x.clone(), None, 1 << 19, |x, _| x * 2.0)).unwrap();
        assert_eq!(whole, xs.iter().map(|v| v * 2.0).collect::<Vec<_>>());
    }
}
