//! FD-SSM on a model with an energy E (p̃ = e^{−E}), by differences of E itself as Pang et al.
//! (2020) do for energy-based models: three forward passes of the scalar network and no
//! second-order terms. With E± = E(x ± v) and E₀ = E(x), s = −∇E,
//!
//! vᵀ(∂s/∂x)v = −vᵀ∇²E v ≈ −(E₊ + E₋ − 2E₀),  vᵀs = −vᵀ∇E ≈ −½(E₊ − E₋),
//!
//! both with relative errors O(ε²), so the loss (D/ε²)[−(E₊ + E₋ − 2E₀) + ⅛(E₊ − E₋)²] tends to
//! SSM as ε → 0 like the score form. The fused kernels compute an energy network's score, not
//! E, so `fd-ssm` on an energy network trains on the reference engine.

use burn::tensor::Tensor;

use super::fd_ssm::{FdSsmParams, fill_points};
use super::{Batch, LossEnv};
use crate::model::ScoreModel;

/// The energy form of the FD-SSM loss along the directions `v` (`[K·B, D]`, row j for sample
/// j mod B), or `None` for a model without an energy.
///
/// # Shapes
/// - `batch`: `[B, D]`, `v`: `[K·B, D]` → `[1]`
pub(super) fn energy_loss(
    params: &FdSsmParams,
    model: &ScoreModel,
    batch: &Batch,
    v: &[f64],
    env: &LossEnv<'_>,
) -> Option<Tensor<1>> {
    let d = batch.dim;
    let n = v.len() / d;
    let mut points = vec![0.0; 3 * n * d];
    let (moved, centre) = points.split_at_mut(2 * n * d);
    let (plus, minus) = moved.split_at_mut(n * d);
    fill_points(&batch.x, v, d, plus, minus);
    for (j, row) in centre.chunks_exact_mut(d).enumerate() {
        let b = j % batch.rows;
        row.copy_from_slice(&batch.x[b * d..(b + 1) * d]);
    }
    let e = model.energy(env.ctx.matrix(&points, 3 * n, d), None)?;
    let (e_plus, e_minus, e_zero) = (
        e.clone().narrow(0, 0, n),
        e.clone().narrow(0, n, n),
        e.narrow(0, 2 * n, n),
    );
    let curvature = e_plus.clone() + e_minus.clone() - e_zero * 2.0;
    let slope = e_plus - e_minus;
    Some((slope.powi_scalar(2) * 0.125 - curvature).mean() * params.scale(d))
}
