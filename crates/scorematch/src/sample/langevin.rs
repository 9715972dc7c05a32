//! `langevin`: unadjusted Langevin dynamics (Roberts & Tweedie 1996, "Exponential convergence
//! of Langevin distributions and their discrete approximations", Bernoulli 2(4)):
//!
//! x ← x + α s(x) + √(2α) ε,  ε ~ N(0, I),
//!
//! for `steps` steps of size α from an initial distribution. For small α and many steps the
//! chain samples the density whose score is s (with an O(α) bias: for N(0, λ) the stationary
//! variance is λ/(1 − α/(2λ))). Between well-separated modes it does not mix, so the mode
//! weights it produces are those of the initial distribution's basins, not the density's
//! (Song & Ermon 2019, §3.2.2); see `annealed`.
//!
//! The score is evaluated at the noise level it was trained for (σ of the run's objective,
//! `None` for scores of the clean data). With `denoise = true` a final Tweedie step
//! x ← x + σ² s(x, σ) (Efron 2011, "Tweedie's formula and selection bias") maps samples of
//! p_σ to the posterior mean E[x₀ | x]; it needs that σ.

use serde::{Deserialize, Serialize};

use super::init::InitialDistribution;
use super::{Sampler, ScoreFn, Ticker, denoise, prefixed};
use crate::error::{Error, ParamError, Result};
use crate::rng::{Rng, normals};

/// Parameters of `langevin`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangevinParams {
    /// Number of steps (default 1000).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Step size α (default 0.01).
    #[serde(default = "default_step_size")]
    pub step_size: f64,
    /// Initial distribution (default N(0, I)).
    #[serde(default)]
    pub init: InitialDistribution,
    /// Finish with the Tweedie denoising step at the score's σ (default false).
    #[serde(default)]
    pub denoise: bool,
}

fn default_steps() -> usize {
    1000
}

fn default_step_size() -> f64 {
    0.01
}

impl Default for LangevinParams {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            step_size: default_step_size(),
            init: InitialDistribution::default(),
            denoise: false,
        }
    }
}

impl LangevinParams {
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.steps == 0 {
            errors.push(ParamError::new("steps", "must be at least 1"));
        }
        super::check_positive("step_size", self.step_size, &mut errors);
        errors.extend(prefixed("init", self.init.validate()));
        errors
    }

    /// `n` samples; stops early (returning the non-finite state) if a chain diverges.
    ///
    /// # Shapes
    /// - returns `[n, score.dim()]`, row-major
    pub fn sample(
        &self,
        score: &dyn ScoreFn,
        sigma: Option<f64>,
        n: usize,
        rng: &mut Rng,
        ticker: &mut Ticker<'_>,
    ) -> Result<Vec<f64>> {
        let denoise_sigma = match (self.denoise, sigma) {
            (false, _) => None,
            (true, Some(s)) => Some(s),
            (true, None) => {
                return Err(Error::InvalidConfig(vec![ParamError::new(
                    "denoise",
                    "needs the noise level σ the score was trained at",
                )]));
            }
        };
        let mut x = self.init.sample(n, score.dim(), rng);
        ticker.watch_chains(self.steps);
        if langevin_steps(
            &mut x,
            score,
            sigma,
            self.step_size,
            self.steps,
            rng,
            ticker,
        )? && let Some(s) = denoise_sigma
        {
            denoise(&mut x, score, s)?;
        }
        Ok(x)
    }
}

/// `steps` Langevin steps of size `alpha` on the rows of `x`, with the score at `sigma`, each
/// shown to the ticker's chain watch. Returns false (and stops) as soon as a value is not
/// finite.
pub(super) fn langevin_steps(
    x: &mut [f64],
    score: &dyn ScoreFn,
    sigma: Option<f64>,
    alpha: f64,
    steps: usize,
    rng: &mut Rng,
    ticker: &mut Ticker<'_>,
) -> Result<bool> {
    let noise_scale = (2.0 * alpha).sqrt();
    for _ in 0..steps {
        let s = score.score(x, sigma)?;
        let eps = normals(rng, x.len());
        let mut finite = true;
        for ((xi, si), ei) in x.iter_mut().zip(&s).zip(&eps) {
            *xi += alpha * si + noise_scale * ei;
            finite &= xi.is_finite();
        }
        ticker.tick();
        ticker.observe(x, score.dim());
        if !finite {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Sampler for LangevinParams {
    const NEEDS_NOISE_CONDITIONAL: bool = false;
    const NEEDS_DENSITY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        LangevinParams::validate(self)
    }

    fn needs_score_sigma(&self) -> bool {
        self.denoise
    }

    fn total_steps(&self) -> usize {
        self.steps
    }

    fn draw(
        &self,
        score: &dyn ScoreFn,
        sigma: Option<f64>,
        n: usize,
        rng: &mut Rng,
        ticker: &mut Ticker<'_>,
    ) -> Result<Option<Vec<f64>>> {
        self.sample(score, sigma, n, rng, ticker).map(Some)
    }
}
