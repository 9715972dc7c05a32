//! `probability_flow`: the probability-flow ODE of the variance-exploding SDE (Song et al.
//! 2021, eq. 13), a deterministic map from the prior to the data with the same marginals
//! p_t as the reverse SDE of Anderson (1982) — it drops the noise and halves the drift:
//!
//! dx/dt = −½ g(t)² ∇log p_t(x) = d(t, x),
//!
//! integrated backwards in time with the score s(x, σ(t)) by Heun's second-order method
//! (Karras, Aittala, Aila & Laine 2022, "Elucidating the Design Space of Diffusion-Based
//! Generative Models", Algorithm 1), from t_k to t_{k−1} = t_k − Δt:
//!
//! x′ = x − Δt d(t_k, x),  x ← x − ½ Δt (d(t_k, x) + d(t_{k−1}, x′)),
//!
//! two score evaluations per step. Euler alone is first order and visibly biased here: with
//! the exact score of a 3-D Gaussian, σ from 20 to 0.01 and 500 steps, its sample covariance
//! came out ≈ 6% too small, while Heun follows the exact (linear) flow map to a relative
//! 1.2e-4 per point. The only randomness is the starting point.
//! See [`super::ve_sde`] for σ(t), g(t) and the prior.

use super::ve_sde::VeSdeParams;
use super::{ScoreFn, Ticker};
use crate::error::Result;
use crate::rng::Rng;

ve_sde_sampler! {
    /// Parameters of `probability_flow`: those of the variance-exploding SDE ([`VeSdeParams`]).
    ProbabilityFlowParams => sample
}

/// `n` samples of the probability-flow ODE; stops early (returning the non-finite state) if a
/// trajectory diverges.
///
/// # Shapes
/// - returns `[n, score.dim()]`, row-major
pub fn sample(
    params: &VeSdeParams,
    score: &dyn ScoreFn,
    n: usize,
    rng: &mut Rng,
    ticker: &mut Ticker<'_>,
) -> Result<Vec<f64>> {
    let x = params.prior(n, score.dim(), rng);
    // −Δt d(t, x) = ½ g(t)² Δt s(x, σ(t)): the change of x over one step backwards.
    let change = |x: &[f64], t: f64, dt: f64| -> Result<Vec<f64>> {
        let scale = 0.5 * params.g2(t) * dt;
        let s = score.score(x, Some(params.sigma(t)))?;
        Ok(s.into_iter().map(|v| scale * v).collect())
    };
    params.integrate(x, score, ticker, |x, t, prev| {
        let dt = t - prev;
        let first = change(x, t, dt)?;
        let predicted: Vec<f64> = x.iter().zip(&first).map(|(a, b)| a + b).collect();
        let second = change(&predicted, prev, dt)?;
        Ok(first
            .iter()
            .zip(&second)
            .map(|(a, b)| 0.5 * (a + b))
            .collect())
    })
}
