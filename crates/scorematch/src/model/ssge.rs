//! `ssge`: the spectral Stein gradient estimator (Shi, Sun & Zhu 2018, "A spectral approach
//! to gradient estimation for implicit distributions"). The score is expanded in the
//! eigenfunctions of the Gaussian kernel's integral operator under q, estimated by the
//! Nyström method from the M points: with K u_j = λ_j u_j (the J largest),
//!
//! ψ_j(x) = (√M/λ_j) Σ_m k(x, x_m) u_jm,  β_j = −(1/M) Σ_m ∇ψ_j(x_m),  ĝ(x) = Σ_j β_j ψ_j(x),
//!
//! where β_j = −E_q[∇ψ_j] is the expansion's coefficient by Stein's identity (the ψ_j are
//! orthonormal under q). Collecting terms, ĝ(x) = k(x, X) C with C = U Λ⁻¹ √M β: a kernel
//! expansion whose Jacobian and trace are in closed form. Building costs the M × M
//! eigendecomposition, so `points` up to a few thousand is practical (1024: about a second).
//! The paper picks J by the eigenvalues' decay; here it is the parameter `eigenfunctions`.
//! No training loop (objective `none`); no energy.

use burn::module::Module;
use burn::tensor::Tensor;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::kde::check_points;
use super::rbf::{Bandwidth, KernelPoints, by_row_chunks, host_tensor, kernel_tangent, log_kernel};
use super::stein::{MAX_KERNEL_POINTS, default_points, median};
use super::{ModelKind, ScoreNet, TracePath};
use crate::backend::Ctx;
use crate::error::{Error, ParamError, Result};
use crate::rng::Rng;

/// Parameters of `ssge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsgeParams {
    /// The kernel width: `median` (default), `silverman`, `scott` or a number.
    #[serde(default = "median")]
    pub bandwidth: Bandwidth,
    /// Number J of eigenfunctions (default 16, at most `points`).
    #[serde(default = "default_eigenfunctions")]
    pub eigenfunctions: usize,
    /// Most pool points the estimator is built from (default 1024, at most 8192).
    #[serde(default = "default_points")]
    pub points: usize,
}

fn default_eigenfunctions() -> usize {
    16
}

impl Default for SsgeParams {
    fn default() -> Self {
        Self {
            bandwidth: median(),
            eigenfunctions: default_eigenfunctions(),
            points: default_points(),
        }
    }
}

impl ModelKind for SsgeParams {
    type Net = Ssge;
    const FUSED: bool = false;
    const HAS_ENERGY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = self.bandwidth.validate();
        errors.extend(check_points(self.points, 2, MAX_KERNEL_POINTS));
        if !(1..=self.points).contains(&self.eigenfunctions) {
            errors.push(ParamError::new(
                "eigenfunctions",
                format!(
                    "must be between 1 and points = {}, got {}",
                    self.points, self.eigenfunctions
                ),
            ));
        }
        errors
    }

    training_free_kind!();

    fn init(&self, dim: usize, pool: &[f64], _ctx: &Ctx, _rng: &mut Rng) -> Result<Ssge> {
        Ssge::build(self, &KernelPoints::take(pool, dim, self.points)?)
    }
}

/// A spectral Stein gradient estimator: ĝ(x) = k(x, X) C.
#[derive(Module, Debug)]
pub struct Ssge {
    /// The points, row-major `[M, D]`.
    #[module(skip)]
    points: Vec<f64>,
    /// C, row-major `[M, D]`.
    #[module(skip)]
    coefficients: Vec<f64>,
    /// x_mᵀC_m per point, `[M]` (for the trace).
    #[module(skip)]
    diagonal: Vec<f64>,
    #[module(skip)]
    width: f64,
    #[module(skip)]
    dim: usize,
}

impl Ssge {
    /// Builds the estimator on `points`: the kernel matrix's J leading eigenpairs, β and C.
    pub fn build(params: &SsgeParams, points: &KernelPoints) -> Result<Self> {
        let (m, d) = (points.rows, points.dim);
        let h = params.bandwidth.width(points);
        let k = points.kernel_matrix(h);
        let x = DMatrix::from_row_slice(m, d, &points.values);
        let col_sums: Vec<f64> = (0..m).map(|i| k.column(i).sum()).collect();
        let eigen = k.symmetric_eigen();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let top = eigen.eigenvalues[order[0]];
        let kept: Vec<usize> = order
            .into_iter()
            .take(params.eigenfunctions.min(m))
            .filter(|&j| eigen.eigenvalues[j] > 1e-10 * top)
            .collect();
        if kept.is_empty() {
            return Err(Error::LinearAlgebra(
                "the kernel matrix has no positive eigenvalue".into(),
            ));
        }
        let root_m = (m as f64).sqrt();
        let mut c = DMatrix::<f64>::zeros(m, d);
        for &j in &kept {
            let lambda = eigen.eigenvalues[j];
            let u = eigen.eigenvectors.column(j);
            // Σ_n ∇ψ_j(x_n) = √M/(λ_j h²) [Σ_m c_m u_jm x_m − λ_j Σ_m u_jm x_m].
            let weights = DMatrix::from_fn(1, m, |_, i| u[i] * (col_sums[i] - lambda));
            let beta = (weights * &x) * (-root_m / (m as f64 * lambda * h * h));
            // C += φ_j β_j with φ_j = u_j √M/λ_j.
            c += (u * (root_m / lambda)) * beta;
        }
        let diagonal = (0..m).map(|i| x.row(i).dot(&c.row(i))).collect();
        Ok(Self {
            points: points.values.clone(),
            coefficients: c.transpose().as_slice().to_vec(),
            diagonal,
            width: h,
            dim: d,
        })
    }

    fn rows(&self) -> usize {
        self.points.len() / self.dim
    }
}

impl ScoreNet for Ssge {
    fn score(&self, x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Tensor<2> {
        let (m, d) = (self.rows(), self.dim);
        let points = host_tensor(&self.points, m, d, &x);
        let c = host_tensor(&self.coefficients, m, d, &x);
        by_row_chunks(x, None, m, |x, _| {
            log_kernel(&x, &points, self.width).exp().matmul(c.clone())
        })
    }

    /// (∂ĝ/∂x) v = (dk[v]) C.
    fn score_jvp(
        &self,
        x: Tensor<2>,
        v: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let (m, d) = (self.rows(), self.dim);
        let points = host_tensor(&self.points, m, d, &x);
        let c = host_tensor(&self.coefficients, m, d, &x);
        let both = by_row_chunks(x, Some(v), m, |x, v| {
            let k = log_kernel(&x, &points, self.width).exp();
            let s = k.clone().matmul(c.clone());
            let Some(v) = v else { return s };
            let jv = kernel_tangent(&k, &x, &v, &points, self.width).matmul(c.clone());
            Tensor::cat(vec![s, jv], 1)
        });
        (both.clone().narrow(1, 0, d), both.narrow(1, d, d))
    }

    /// tr ∂ĝ/∂x = Σ_m k_m (x_m − x)ᵀC_m / h².
    fn score_trace(
        &self,
        x: Tensor<2>,
        _sigma: Option<&Tensor<2>>,
        _path: TracePath,
    ) -> (Tensor<2>, Tensor<1>) {
        let (m, d) = (self.rows(), self.dim);
        let points = host_tensor(&self.points, m, d, &x);
        let c = host_tensor(&self.coefficients, m, d, &x);
        let diagonal = host_tensor(&self.diagonal, m, 1, &x);
        let inv_h2 = 1.0 / (self.width * self.width);
        let both = by_row_chunks(x, None, m, |x, _| {
            let k = log_kernel(&x, &points, self.width).exp();
            let s = k.clone().matmul(c.clone());
            let tr = (k.matmul(diagonal.clone()) - (s.clone() * x).sum_dim(1)) * inv_h2;
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

    fn energy(&self, _x: Tensor<2>, _sigma: Option<&Tensor<2>>) -> Option<Tensor<1>> {
        None
    }

    training_free_net!();
}
