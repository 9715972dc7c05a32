//! Samplers: what a trained score generates.
//!
//! A sampler turns a score function ([`ScoreFn`]: a trained model through [`ModelScore`], or
//! an exact density through [`ExactScore`]) into samples, and [`sample_and_evaluate`] scores
//! those samples against the data density with the sample-quality metrics of
//! [`crate::metric`]. All randomness comes from `rng(seed, Stream::Sampler)`.
//!
//! In a run file (default: no sampling):
//! ```toml
//! sampler = { name = "langevin", steps = 1000, step_size = 0.01 }
//! sampler = { name = "langevin", init = { name = "uniform", lo = -8.0, hi = 8.0 } }
//! sampler = { name = "annealed", sigma_max = 10.0, sigma_min = 0.01, levels = 10,
//!             steps_per_level = 100, step_size = 1e-5, denoise = true }
//! sampler = { name = "reverse_sde", sigma_max = 10.0, sigma_min = 0.01, steps = 1000 }
//! sampler = { name = "probability_flow", sigma_max = 10.0, steps = 1000 }
//! sampler = { name = "pc", sigma_max = 10.0, steps = 1000, snr = 0.16, corrector_steps = 1 }
//! ```
//! `annealed`, `reverse_sde`, `probability_flow` and `pc` evaluate the score at many noise levels
//! and need a noise-conditional model; `langevin` evaluates it at the noise level it was
//! trained for (the objective's σ; none for scores of the clean data).
//!
//! Adding a sampler: one file with its parameter struct (implementing [`Sampler`]), plus one
//! line in the registry ([`SamplerConfig`]).

mod annealed;
mod evaluate;
mod init;
mod langevin;
mod mala;
pub mod mixing;
mod pc;
mod score;

// First: its `ve_sde_sampler!` makes the parameter types of the two samplers below.
#[macro_use]
pub mod ve_sde;

pub mod probability_flow;
pub mod reverse_sde;

pub use annealed::AnnealedParams;
pub use evaluate::{SampleReport, Sampled, sample_and_evaluate};
pub use init::{InitialDistribution, NormalInit, UniformInit};
pub use langevin::LangevinParams;
pub use mala::MalaParams;
pub use mixing::split_rhat;
pub use pc::{PcParams, Predictor};
pub use probability_flow::ProbabilityFlowParams;
pub use reverse_sde::ReverseSdeParams;
pub use score::{ExactScore, ModelScore, ScoreFn};
pub use ve_sde::VeSdeParams;

use serde::{Deserialize, Serialize};

use crate::error::{ParamError, Result};
pub use crate::progress::SampleProgress;
use crate::rng::Rng;

/// Counts a sampler's steps and reports them, and keeps what a sampler measures of itself
/// (a Metropolis sampler's acceptance rate, its chains' mixing).
pub struct Ticker<'a> {
    done: usize,
    total: usize,
    progress: &'a mut dyn SampleProgress,
    acceptance: Option<f64>,
    chains: Option<mixing::ChainWatch>,
}

/// What a sampler measured of itself while drawing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SamplerStats {
    /// The fraction of accepted proposals, for a Metropolis sampler.
    pub acceptance: Option<f64>,
    /// Split-R̂ of ‖x‖² over the chains' stationary phase (see [`mixing`]), for samplers
    /// that have one.
    pub rhat: Option<f64>,
}

impl<'a> Ticker<'a> {
    /// A counter of `total` steps reporting to `progress`.
    pub fn new(total: usize, progress: &'a mut dyn SampleProgress) -> Self {
        Self {
            done: 0,
            total,
            progress,
            acceptance: None,
            chains: None,
        }
    }

    /// One more step done.
    pub fn tick(&mut self) {
        self.done += 1;
        self.progress.step(self.done, self.total);
    }

    /// Records the fraction of proposals the sampler accepted.
    pub fn record_acceptance(&mut self, rate: f64) {
        self.acceptance = Some(rate);
    }

    /// Starts watching the chains for a stationary phase of `steps` steps (replacing an
    /// earlier watch): the mixing diagnostic is computed from the phase's second half.
    pub fn watch_chains(&mut self, steps: usize) {
        self.chains = Some(mixing::ChainWatch::new(steps));
    }

    /// The chains `x` (`[n, dim]`) after a step; kept only while a phase is watched.
    pub fn observe(&mut self, x: &[f64], dim: usize) {
        if let Some(watch) = &mut self.chains {
            watch.observe(x, dim);
        }
    }

    /// What the sampler measured of itself.
    pub fn stats(&self) -> SamplerStats {
        SamplerStats {
            acceptance: self.acceptance,
            rhat: self.chains.as_ref().and_then(mixing::ChainWatch::rhat),
        }
    }
}

/// Parameters of `none` (there are none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSampler {}

/// A sampler's parameters as a run file gives them: what every sampler declares.
pub trait Sampler: Default {
    /// Whether it evaluates the score at noise levels of its own (and so needs a
    /// noise-conditional model).
    const NEEDS_NOISE_CONDITIONAL: bool;

    /// Whether it needs the model's (unnormalised) density, not only its score: a model with
    /// an energy.
    const NEEDS_DENSITY: bool;

    /// Every problem with the parameters (keys relative to the sampler's block).
    fn validate(&self) -> Vec<ParamError>;

    /// Whether it needs the noise level the score was trained at (Langevin's denoising step).
    fn needs_score_sigma(&self) -> bool;

    /// Score evaluations of one run of the sampler.
    fn total_steps(&self) -> usize;

    /// `n` samples from `score` (`None` for a sampler that draws none). `sigma` is the noise
    /// level the score was trained at. A sampler that diverges stops and returns its
    /// non-finite state.
    ///
    /// # Shapes
    /// - returns `[n, score.dim()]`, row-major
    fn draw(
        &self,
        score: &dyn ScoreFn,
        sigma: Option<f64>,
        n: usize,
        rng: &mut Rng,
        ticker: &mut Ticker<'_>,
    ) -> Result<Option<Vec<f64>>>;
}

impl Sampler for NoSampler {
    const NEEDS_NOISE_CONDITIONAL: bool = false;
    const NEEDS_DENSITY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        Vec::new()
    }

    fn needs_score_sigma(&self) -> bool {
        false
    }

    fn total_steps(&self) -> usize {
        0
    }

    fn draw(
        &self,
        _score: &dyn ScoreFn,
        _sigma: Option<f64>,
        _n: usize,
        _rng: &mut Rng,
        _ticker: &mut Ticker<'_>,
    ) -> Result<Option<Vec<f64>>> {
        Ok(None)
    }
}

/// Makes [`SamplerConfig`] from the registry's lines `Variant(Params) = "name";`: the enum run
/// files deserialise into, its names, and the dispatch of [`Sampler`] to the variant's
/// parameters.
macro_rules! samplers {
    ($($(#[doc = $doc:literal])* $variant:ident($params:ty) = $name:literal;)+) => {
        /// A sampler as named in a run file: `{ name = "langevin", steps = 1000 }`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "name")]
        pub enum SamplerConfig {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($params),)+
        }

        impl SamplerConfig {
            /// Every sampler's name, in registry order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// Every sampler with its default parameters, in registry order.
            pub fn defaults() -> Vec<Self> {
                vec![$(Self::$variant(<$params>::default())),+]
            }

            /// The sampler's name.
            pub fn name(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name),+ }
            }

            /// Every problem with the parameters.
            pub fn validate(&self) -> Vec<ParamError> {
                match self { $(Self::$variant(p) => Sampler::validate(p)),+ }
            }

            /// See [`Sampler::NEEDS_NOISE_CONDITIONAL`].
            pub fn needs_noise_conditional(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as Sampler>::NEEDS_NOISE_CONDITIONAL),+ }
            }

            /// See [`Sampler::NEEDS_DENSITY`].
            pub fn needs_density(&self) -> bool {
                match self { $(Self::$variant(_) => <$params as Sampler>::NEEDS_DENSITY),+ }
            }

            /// See [`Sampler::needs_score_sigma`].
            pub fn needs_score_sigma(&self) -> bool {
                match self { $(Self::$variant(p) => p.needs_score_sigma()),+ }
            }

            /// Score evaluations of one run of the sampler (0 for `none`).
            pub fn total_steps(&self) -> usize {
                match self { $(Self::$variant(p) => p.total_steps()),+ }
            }

            /// `n` samples from `score`, or `None` for `none`. `sigma` is the noise level the
            /// score was trained at (`langevin` evaluates the score there; the other samplers
            /// use their own schedules). A sampler that diverges stops and returns its
            /// non-finite state.
            ///
            /// # Shapes
            /// - returns `[n, score.dim()]`, row-major
            pub fn sample(
                &self,
                score: &dyn ScoreFn,
                sigma: Option<f64>,
                n: usize,
                rng: &mut Rng,
                progress: &mut dyn SampleProgress,
            ) -> Result<Option<Vec<f64>>> {
                Ok(self.sample_measured(score, sigma, n, rng, progress)?.map(|(x, _)| x))
            }

            /// [`Self::sample`], with what the sampler measured of itself (acceptance rate,
            /// mixing).
            pub fn sample_measured(
                &self,
                score: &dyn ScoreFn,
                sigma: Option<f64>,
                n: usize,
                rng: &mut Rng,
                progress: &mut dyn SampleProgress,
            ) -> Result<Option<(Vec<f64>, SamplerStats)>> {
                crate::error::check(self.validate())?;
                let mut ticker = Ticker::new(self.total_steps(), progress);
                let drawn = match self {
                    $(Self::$variant(p) => p.draw(score, sigma, n, rng, &mut ticker)?),+
                };
                Ok(drawn.map(|x| (x, ticker.stats())))
            }
        }
    };
}

samplers! {
    /// `none`: no sampling (the default).
    None(NoSampler) = "none";
    /// `langevin`: unadjusted Langevin dynamics at one noise level.
    Langevin(LangevinParams) = "langevin";
    /// `annealed`: annealed Langevin dynamics over a geometric σ schedule.
    Annealed(AnnealedParams) = "annealed";
    /// `reverse_sde`: Euler–Maruyama on the reverse-time variance-exploding SDE.
    ReverseSde(ReverseSdeParams) = "reverse_sde";
    /// `probability_flow`: Heun on the probability-flow ODE of the variance-exploding SDE.
    ProbabilityFlow(ProbabilityFlowParams) = "probability_flow";
    /// `mala`: Metropolis-adjusted Langevin on a model's density (energy models).
    Mala(MalaParams) = "mala";
    /// `pc`: predictor–corrector sampling of the variance-exploding SDE.
    Pc(PcParams) = "pc";
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::None(NoSampler {})
    }
}

impl SamplerConfig {
    /// Whether this is `none` (no sampling).
    pub fn is_none(&self) -> bool {
        matches!(self, SamplerConfig::None(_))
    }
}

/// The Tweedie denoising step x ← x + σ² s(x, σ): the posterior mean E[x₀ | x] for
/// x = x₀ + σε when s is the score of p_σ (Efron 2011).
fn denoise(x: &mut [f64], score: &dyn ScoreFn, sigma: f64) -> Result<()> {
    let s = score.score(x, Some(sigma))?;
    for (xi, si) in x.iter_mut().zip(&s) {
        *xi += sigma * sigma * si;
    }
    Ok(())
}

/// `value` must be a positive finite number.
fn check_positive(key: &str, value: f64, errors: &mut Vec<ParamError>) {
    if !(value > 0.0 && value.is_finite()) {
        errors.push(ParamError::new(
            key,
            format!("must be positive, got {value}"),
        ));
    }
}

/// Errors of a nested block, with their keys prefixed by the block's key.
fn prefixed(prefix: &str, errors: Vec<ParamError>) -> Vec<ParamError> {
    errors
        .into_iter()
        .map(|e| ParamError::new(format!("{prefix}.{}", e.key), e.message))
        .collect()
}

#[cfg(test)]
mod tests;
