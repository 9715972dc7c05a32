//! The Fisher divergence ½ E_q ‖s_θ(x) − ∇log q(x)‖², estimated on a fixed set of points
//! drawn from q with their exact scores.

use crate::backend::{Ctx, to_host};
use crate::error::Result;
use crate::model::ScoreModel;

/// Rows evaluated per forward pass.
const CHUNK: usize = 4096;

/// ½ mean ‖s_θ(x) − score(x)‖² over the rows of `x`.
///
/// `model` should be an inference copy (`valid()`) on `ctx`'s device; `sigma` is fed to
/// noise-conditional models. Returns NaN if the model produces non-finite values.
///
/// # Shapes
/// - `x`, `score`: `[n, dim]`, row-major
pub fn fisher_divergence(
    model: &ScoreModel,
    x: &[f64],
    score: &[f64],
    dim: usize,
    sigma: Option<f64>,
    ctx: &Ctx,
) -> Result<f64> {
    let n = x.len() / dim;
    let mut total = 0.0;
    for (xs, ss) in x.chunks(CHUNK * dim).zip(score.chunks(CHUNK * dim)) {
        let rows = xs.len() / dim;
        let sigma = sigma.map(|s| ctx.matrix(&vec![s; rows], rows, 1));
        let pred = model.forward(ctx.matrix(xs, rows, dim), sigma.as_ref());
        let diff = pred - ctx.matrix(ss, rows, dim);
        total += to_host(diff.powi_scalar(2).sum())?[0];
    }
    Ok(0.5 * total / n as f64)
}

/// ½ mean ‖s − score‖² of scores `s` given at the evaluation points (an external method's),
/// summed on the host in f64.
///
/// # Shapes
/// - `s`, `score`: `[n, dim]`, row-major
pub fn fisher_divergence_of_scores(s: &[f64], score: &[f64], dim: usize) -> f64 {
    let n = s.len() / dim;
    let total: f64 = s.iter().zip(score).map(|(a, e)| (a - e) * (a - e)).sum();
    0.5 * total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Precision};
    use crate::data::{Density, GaussianParams};
    use crate::model::{Dense, Linear, LinearInit, LinearParams};
    use crate::rng::{Stream, rng};
    use burn::module::Module;

    #[test]
    fn exact_score_has_zero_divergence_and_a_shift_has_the_closed_form() {
        let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
        let g = GaussianParams {
            dim: 3,
            data_seed: 0,
        }
        .build()
        .unwrap();
        let x = g.sample(5000, &mut rng(0, Stream::Eval));
        let score = g.scores(&x);
        // The exact score as a linear model: W = −Σ⁻¹, b = 0.
        let w: Vec<f64> = g.precision().iter().map(|v| -v).collect();
        let exact = ScoreModel::Linear(Linear::from_dense(Dense::from_values(
            &w, &[0.0; 3], 3, 3, &ctx,
        )));
        let f = fisher_divergence(&exact, &x, &score, 3, None, &ctx).unwrap();
        assert!(f.abs() < 1e-20, "{f}");
        // A constant offset c gives exactly ½‖c‖².
        let shifted = ScoreModel::Linear(Linear::from_dense(Dense::from_values(
            &w,
            &[0.1, -0.2, 0.3],
            3,
            3,
            &ctx,
        )));
        let f = fisher_divergence(&shifted, &x, &score, 3, None, &ctx).unwrap();
        assert!((f - 0.5 * 0.14).abs() < 1e-12, "{f}");
        // Zero model: ½ E‖Σ⁻¹x‖² = ½ tr(Σ⁻¹) in expectation.
        let zero = ScoreModel::Linear(
            Linear::init(
                &LinearParams {
                    init: LinearInit::Zeros,
                },
                3,
                &x,
                &ctx,
                &mut rng(0, Stream::Init),
            )
            .unwrap(),
        )
        .valid();
        let f = fisher_divergence(&zero, &x, &score, 3, None, &ctx).unwrap();
        let want = 0.5 * g.precision().trace();
        assert!((f - want).abs() < 0.05 * want, "{f} vs {want}");
    }
}
