//! The variance-exploding SDE of a noise-conditional score (Song, Sohl-Dickstein, Kingma,
//! Kumar, Ermon & Poole 2021, "Score-Based Generative Modeling through Stochastic Differential
//! Equations", §3.4 and appendix C), shared by `reverse_sde` and `probability_flow`:
//!
//! dx = g(t) dw,  σ(t) = σ_min (σ_max/σ_min)^t,  g(t)² = dσ²/dt = 2 σ(t)² ln(σ_max/σ_min),
//!
//! on t ∈ [0, 1], started from x(0) ~ p_{σ_min}, so that x(t) ~ p_{σ(t)} = p ∗ N(0, σ(t)² I)
//! and its score is s(x, σ(t)). Both samplers start from the prior N(0, σ_max² I) ≈ p_{σ_max}
//! (choose σ_max well above the data's spread: the prior's covariance misses the data's Σ,
//! a relative error of about Σ/σ_max²) and integrate back to t = 0 on the uniform grid
//! t_k = k/N, k = N … 0 (geometric in σ).

use serde::{Deserialize, Serialize};

use super::{ScoreFn, Ticker, check_positive, denoise};
use crate::error::{ParamError, Result};
use crate::rng::{Rng, normals};

/// A sampler on the variance-exploding SDE: a parameter type wrapping [`VeSdeParams`] whose
/// [`Sampler`](super::Sampler) impl draws with `$sample` (the reverse SDE and the
/// probability-flow ODE differ only there).
macro_rules! ve_sde_sampler {
    ($(#[doc = $doc:literal])* $ty:ident => $sample:ident) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub VeSdeParams);

        impl super::Sampler for $ty {
            const NEEDS_NOISE_CONDITIONAL: bool = true;
            const NEEDS_DENSITY: bool = false;

            fn validate(&self) -> Vec<crate::error::ParamError> {
                self.0.validate()
            }

            fn needs_score_sigma(&self) -> bool {
                false
            }

            fn total_steps(&self) -> usize {
                self.0.steps
            }

            fn draw(
                &self,
                score: &dyn ScoreFn,
                _sigma: Option<f64>,
                n: usize,
                rng: &mut Rng,
                ticker: &mut Ticker<'_>,
            ) -> Result<Option<Vec<f64>>> {
                $sample(&self.0, score, n, rng, ticker).map(Some)
            }
        }
    };
}

/// Parameters of `reverse_sde` and `probability_flow`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VeSdeParams {
    /// σ(0), where sampling ends (default 0.01, as `dsm-multi`).
    #[serde(default = "default_min")]
    pub sigma_min: f64,
    /// σ(1), the prior's standard deviation (default 1, as `dsm-multi`).
    #[serde(default = "default_max")]
    pub sigma_max: f64,
    /// Number of steps N (default 1000).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Finish with the Tweedie denoising step x ← x + σ_min² s(x, σ_min) (default false).
    #[serde(default)]
    pub denoise: bool,
}

pub(super) fn default_min() -> f64 {
    0.01
}
pub(super) fn default_max() -> f64 {
    1.0
}
pub(super) fn default_steps() -> usize {
    1000
}

impl Default for VeSdeParams {
    fn default() -> Self {
        Self {
            sigma_min: default_min(),
            sigma_max: default_max(),
            steps: default_steps(),
            denoise: false,
        }
    }
}

impl VeSdeParams {
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_positive("sigma_min", self.sigma_min, &mut errors);
        check_positive("sigma_max", self.sigma_max, &mut errors);
        if self.sigma_max <= self.sigma_min {
            errors.push(ParamError::new("sigma_max", "must be above sigma_min"));
        }
        if self.steps == 0 {
            errors.push(ParamError::new("steps", "must be at least 1"));
        }
        errors
    }

    /// σ(t).
    pub fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * (self.sigma_max / self.sigma_min).powf(t)
    }

    /// g(t)² = dσ²/dt.
    pub fn g2(&self, t: f64) -> f64 {
        2.0 * self.sigma(t).powi(2) * (self.sigma_max / self.sigma_min).ln()
    }

    /// `n` draws of the prior N(0, σ_max² I).
    ///
    /// # Shapes
    /// - returns `[n, dim]`, row-major
    pub fn prior(&self, n: usize, dim: usize, rng: &mut Rng) -> Vec<f64> {
        normals(rng, n * dim)
            .into_iter()
            .map(|z| self.sigma_max * z)
            .collect()
    }

    /// The grid t_N = 1 > … > t_0 = 0 as (t_k, t_{k−1}) pairs, in the order integrated.
    pub fn grid(&self) -> impl Iterator<Item = (f64, f64)> {
        let n = self.steps;
        (1..=n)
            .rev()
            .map(move |k| (k as f64 / n as f64, (k - 1) as f64 / n as f64))
    }

    /// Integrates backwards in time from `x` over [`Self::grid`]: `change(x, t, prev)` is the
    /// change of x from t to prev, added in place; then the optional final denoising step.
    /// Stops early, returning the non-finite state, if a chain diverges.
    pub(super) fn integrate(
        &self,
        mut x: Vec<f64>,
        score: &dyn ScoreFn,
        ticker: &mut Ticker<'_>,
        mut change: impl FnMut(&[f64], f64, f64) -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        for (t, prev) in self.grid() {
            let delta = change(&x, t, prev)?;
            let mut finite = true;
            for (xi, d) in x.iter_mut().zip(&delta) {
                *xi += d;
                finite &= xi.is_finite();
            }
            ticker.tick();
            if !finite {
                return Ok(x);
            }
        }
        if self.denoise {
            denoise(&mut x, score, self.sigma_min)?;
        }
        Ok(x)
    }
}
