//! How far a score field is from a gradient field: the Jacobian J = ∂s/∂x of any gradient
//! field (a model with an energy, an exact score) is symmetric, so
//!
//! asymmetry = E‖J − Jᵀ‖²_F / E‖J‖²_F
//!
//! on evaluation points is 0 for them (up to rounding) and measures what a free score network
//! learned that no density has. J is read column by column from the model's own exact
//! Jacobian-vector products.

use crate::backend::{Ctx, to_host};
use crate::error::Result;
use crate::model::ScoreModel;

/// Most evaluation points the asymmetry is averaged over (it costs D tangent passes each).
pub const ASYMMETRY_POINTS: usize = 1000;

/// The asymmetry of `model`'s score Jacobian over (at most [`ASYMMETRY_POINTS`] of) the rows
/// of `x` (`[n, dim]`), at σ = `sigma` for a noise-conditional model; `None` where J is 0.
pub fn asymmetry(
    model: &ScoreModel,
    x: &[f64],
    dim: usize,
    sigma: Option<f64>,
    ctx: &Ctx,
) -> Result<Option<f64>> {
    let n = (x.len() / dim).min(ASYMMETRY_POINTS);
    let xs = ctx.matrix(&x[..n * dim], n, dim);
    let sigma = sigma.map(|s| ctx.matrix(&vec![s; n], n, 1));
    // columns[i][r·D + j] = ∂s_j/∂x_i at row r.
    let mut columns = Vec::with_capacity(dim);
    for i in 0..dim {
        let mut v = vec![0.0; n * dim];
        v.iter_mut().skip(i).step_by(dim).for_each(|e| *e = 1.0);
        let (_, jv) = model.forward_jvp(xs.clone(), ctx.matrix(&v, n, dim), sigma.as_ref());
        columns.push(to_host(jv)?);
    }
    let (mut skew, mut total) = (0.0, 0.0);
    for r in 0..n {
        for i in 0..dim {
            for j in 0..dim {
                let jij = columns[j][r * dim + i]; // ∂s_i/∂x_j
                let jji = columns[i][r * dim + j]; // ∂s_j/∂x_i
                skew += (jij - jji).powi(2);
                total += jij * jij;
            }
        }
    }
    Ok((total > 0.0).then(|| skew / total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Precision};
    use crate::model::Activation;
    use crate::model::testing::random_net;
    use crate::rng::{Stream, normals, rng};

    #[test]
    fn energy_models_are_gradient_fields_and_free_networks_are_not() {
        let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
        let x = normals(&mut rng(0, Stream::Eval), 50 * 3);
        for (family, zero) in [("energy", true), ("mlp", false)] {
            let model = random_net(family, Activation::Silu, 2, 3, false, &ctx, 1);
            let a = asymmetry(&model, &x, 3, None, &ctx).unwrap().unwrap();
            if zero {
                assert!(a < 1e-20, "{family}: {a}");
            } else {
                // A random MLP's Jacobian has no reason to be symmetric: ‖J − Jᵀ‖² is of the
                // order of 2‖J‖² (1 − correlation of J with Jᵀ).
                assert!(a > 0.1, "{family}: {a}");
            }
        }
    }
}
