//! The density-level figures of a trained model with an energy (see
//! [`crate::metric::likelihood`]).

use crate::backend::{Ctx, to_host};
use crate::data::Density;
use crate::error::{Error, Result};
use crate::metric::{DensityFit, density_fit};
use crate::model::ScoreModel;
use crate::rng::{Stream, rng};

/// log Z, test log-likelihood and KL(p‖p_θ) of `model` on the evaluation set `eval_x`, with
/// σ = `sigma` for a noise-conditional model; `None` for a model without an energy.
pub(super) fn fit(
    model: &ScoreModel,
    ctx: &Ctx,
    sigma: Option<f64>,
    density: &dyn Density,
    eval_x: &[f64],
    eval_seed: u64,
) -> Result<Option<DensityFit>> {
    // Data without an exact log density (read from a file) have no KL to report.
    if density.test_split().is_some() {
        return Ok(None);
    }
    let dim = density.dim();
    let mut log_f = |x: &[f64]| -> Result<Vec<f64>> {
        let n = x.len() / dim;
        let sigma = sigma.map(|s| ctx.matrix(&vec![s; n], n, 1));
        let energy = model
            .energy(ctx.matrix(x, n, dim), sigma.as_ref())
            .ok_or_else(|| Error::Tensor("the model has no energy".into()))?;
        Ok(to_host(energy)?.into_iter().map(|e| -e).collect())
    };
    // Only models with an energy have a density to judge.
    let one_sigma = sigma.map(|s| ctx.matrix(&[s], 1, 1));
    if model
        .energy(ctx.matrix(&eval_x[..dim], 1, dim), one_sigma.as_ref())
        .is_none()
    {
        return Ok(None);
    }
    let mut r = rng(eval_seed, Stream::Metric);
    density_fit(&mut log_f, density, eval_x, &mut r).map(Some)
}
