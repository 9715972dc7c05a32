//! `pc`: predictor–corrector sampling of the variance-exploding SDE (Song, Sohl-Dickstein,
//! Kingma, Kumar, Ermon & Poole 2021, Algorithms 2 and 4). On the grid of [`super::ve_sde`]
//! (σ geometric from σ_max to σ_min over `steps` steps), each step from t to t′ < t runs
//!
//! - the **corrector**: `corrector_steps` Langevin steps at σ(t),
//!   x ← x + ε s(x, σ(t)) + √(2ε) z, with ε = 2 (snr ‖z‖ / ‖s‖)² (the norms averaged over
//!   the chains, as the paper's code does), which targets p_{σ(t)};
//! - then the **predictor**, one step of the reverse SDE to σ(t′):
//!   reverse diffusion (the paper's default for VE),
//!   x ← x + (σ(t)² − σ(t′)²) s(x, σ(t)) + √(σ(t)² − σ(t′)²) z,
//!   or Euler–Maruyama, x ← x + g(t)² Δt s(x, σ(t)) + g(t) √Δt z.
//!
//! Defaults are the paper's VE settings (snr 0.16, one corrector step, 1000 steps, reverse
//! diffusion); σ_min and σ_max default to `dsm-multi`'s schedule. Where ours differs: the
//! paper's last predictor step goes to σ = 0 and returns its mean when denoising; ours ends at
//! p_{σ_min} and `denoise` adds the Tweedie step x + σ_min² s(x, σ_min) (the same mean).

use serde::{Deserialize, Serialize};

use super::ve_sde::{VeSdeParams, default_max, default_min, default_steps};
use super::{ScoreFn, Ticker, check_positive};
use crate::error::{ParamError, Result};
use crate::rng::{Rng, normals};

/// The predictor of [`PcParams`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predictor {
    /// The reverse-diffusion discretisation of the reverse SDE (default).
    #[default]
    ReverseDiffusion,
    /// Euler–Maruyama on the reverse SDE.
    EulerMaruyama,
}

/// Parameters of `pc`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcParams {
    /// σ at the end (default 0.01).
    #[serde(default = "default_min")]
    pub sigma_min: f64,
    /// σ of the prior N(0, σ_max² I) (default 1).
    #[serde(default = "default_max")]
    pub sigma_max: f64,
    /// Predictor steps (default 1000).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// The predictor (default `reverse_diffusion`).
    #[serde(default)]
    pub predictor: Predictor,
    /// Langevin corrector steps per predictor step (default 1; 0 runs the predictor alone).
    #[serde(default = "one")]
    pub corrector_steps: usize,
    /// The corrector's signal-to-noise ratio r (default 0.16).
    #[serde(default = "default_snr")]
    pub snr: f64,
    /// Finish with the Tweedie denoising step (default false).
    #[serde(default)]
    pub denoise: bool,
}

fn one() -> usize {
    1
}
fn default_snr() -> f64 {
    0.16
}

impl Default for PcParams {
    fn default() -> Self {
        Self {
            sigma_min: default_min(),
            sigma_max: default_max(),
            steps: default_steps(),
            predictor: Predictor::default(),
            corrector_steps: one(),
            snr: default_snr(),
            denoise: false,
        }
    }
}

impl PcParams {
    fn sde(&self) -> VeSdeParams {
        VeSdeParams {
            sigma_min: self.sigma_min,
            sigma_max: self.sigma_max,
            steps: self.steps,
            denoise: self.denoise,
        }
    }
}

/// `corrector_steps` Langevin steps at σ on `x`, in place; false if a chain diverged.
fn correct(
    params: &PcParams,
    x: &mut [f64],
    score: &dyn ScoreFn,
    sigma: f64,
    rng: &mut Rng,
) -> Result<bool> {
    let chains = (x.len() / score.dim()).max(1) as f64;
    for _ in 0..params.corrector_steps {
        let s = score.score(x, Some(sigma))?;
        let z = normals(rng, x.len());
        let mean_norm = |v: &[f64]| {
            v.chunks_exact(score.dim())
                .map(|r| r.iter().map(|a| a * a).sum::<f64>().sqrt())
                .sum::<f64>()
                / chains
        };
        let eps = 2.0 * (params.snr * mean_norm(&z) / mean_norm(&s)).powi(2);
        let noise = (2.0 * eps).sqrt();
        let mut finite = true;
        for ((xi, si), zi) in x.iter_mut().zip(&s).zip(&z) {
            *xi += eps * si + noise * zi;
            finite &= xi.is_finite();
        }
        if !finite {
            return Ok(false);
        }
    }
    Ok(true)
}

impl super::Sampler for PcParams {
    const NEEDS_NOISE_CONDITIONAL: bool = true;
    const NEEDS_DENSITY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = self.sde().validate();
        check_positive("snr", self.snr, &mut errors);
        errors
    }

    fn needs_score_sigma(&self) -> bool {
        false
    }

    fn total_steps(&self) -> usize {
        self.steps
    }

    /// `n` samples; stops early (returning the non-finite state) if a chain diverges.
    fn draw(
        &self,
        score: &dyn ScoreFn,
        _sigma: Option<f64>,
        n: usize,
        rng: &mut Rng,
        ticker: &mut Ticker<'_>,
    ) -> Result<Option<Vec<f64>>> {
        let sde = self.sde();
        let x = sde.prior(n, score.dim(), rng);
        sde.integrate(x, score, ticker, |x, t, prev| {
            let sigma = sde.sigma(t);
            let mut y = x.to_vec();
            if !correct(self, &mut y, score, sigma, rng)? {
                return Ok(y.iter().zip(x).map(|(y, x)| y - x).collect());
            }
            let s = score.score(&y, Some(sigma))?;
            let variance = match self.predictor {
                Predictor::ReverseDiffusion => sigma * sigma - sde.sigma(prev).powi(2),
                Predictor::EulerMaruyama => sde.g2(t) * (t - prev),
            };
            let z = normals(rng, y.len());
            Ok(y.iter()
                .zip(x)
                .zip(s.iter().zip(&z))
                .map(|((y, x), (s, z))| y - x + variance * s + variance.sqrt() * z)
                .collect())
        })
        .map(Some)
    }
}
