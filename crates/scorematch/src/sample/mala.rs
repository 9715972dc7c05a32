//! `mala`: the Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996), for models with
//! a density p̃ = e^{−E}. Each step proposes the Langevin move
//!
//! y = x + α s(x) + √(2α) ξ,  ξ ~ N(0, I),
//!
//! and accepts it with probability min(1, p̃(y) q(x | y) / (p̃(x) q(y | x))), where
//! q(y | x) = N(y; x + α s(x), 2α I). The chain's stationary law is exactly the model's
//! normalised density (the step size only changes how fast it mixes), so the sample-quality
//! metrics of MALA samples measure the model, not the sampler's discretisation. The fraction of
//! accepted proposals is reported (`sample_acceptance`).

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::init::InitialDistribution;
use super::{Sampler, ScoreFn, Ticker, check_positive, prefixed};
use crate::error::{Error, ParamError, Result};
use crate::rng::{Rng, normals};

/// Parameters of `mala`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MalaParams {
    /// Number of steps (default 1000).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Step size α of the proposals (default 0.01).
    #[serde(default = "default_step_size")]
    pub step_size: f64,
    /// Initial distribution (default N(0, I)).
    #[serde(default)]
    pub init: InitialDistribution,
}

fn default_steps() -> usize {
    1000
}

fn default_step_size() -> f64 {
    0.01
}

impl Default for MalaParams {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            step_size: default_step_size(),
            init: InitialDistribution::default(),
        }
    }
}

impl Sampler for MalaParams {
    const NEEDS_NOISE_CONDITIONAL: bool = false;
    const NEEDS_DENSITY: bool = true;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.steps == 0 {
            errors.push(ParamError::new("steps", "must be at least 1"));
        }
        check_positive("step_size", self.step_size, &mut errors);
        errors.extend(prefixed("init", self.init.validate()));
        errors
    }

    fn needs_score_sigma(&self) -> bool {
        false
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
        let d = score.dim();
        let alpha = self.step_size;
        let no_density = || {
            Error::InvalidConfig(vec![ParamError::new(
                "sampler",
                "mala needs the model's density, and this model has only a score",
            )])
        };
        let mut x = self.init.sample(n, d, rng);
        let mut log_p = score.log_density(&x, sigma)?.ok_or_else(no_density)?;
        let mut s = score.score(&x, sigma)?;
        let mut accepted = 0usize;
        ticker.watch_chains(self.steps);
        for _ in 0..self.steps {
            let xi = normals(rng, n * d);
            let noise = (2.0 * alpha).sqrt();
            let y: Vec<f64> = x
                .iter()
                .zip(&s)
                .zip(&xi)
                .map(|((xv, sv), e)| xv + alpha * sv + noise * e)
                .collect();
            let log_p_y = score.log_density(&y, sigma)?.ok_or_else(no_density)?;
            let s_y = score.score(&y, sigma)?;
            for r in 0..n {
                let row = r * d..(r + 1) * d;
                // log q(y | x) − log q(x | y), the proposal's asymmetry.
                let forward: f64 = row
                    .clone()
                    .map(|i| (y[i] - x[i] - alpha * s[i]).powi(2))
                    .sum();
                let backward: f64 = row
                    .clone()
                    .map(|i| (x[i] - y[i] - alpha * s_y[i]).powi(2))
                    .sum();
                let log_ratio = log_p_y[r] - log_p[r] + (forward - backward) / (4.0 * alpha);
                let u: f64 = rng.random();
                if log_ratio.is_finite() && u.ln() < log_ratio {
                    accepted += 1;
                    x[row.clone()].copy_from_slice(&y[row.clone()]);
                    s[row.clone()].copy_from_slice(&s_y[row]);
                    log_p[r] = log_p_y[r];
                }
            }
            ticker.tick();
            ticker.observe(&x, d);
        }
        ticker.record_acceptance(accepted as f64 / (n * self.steps) as f64);
        Ok(Some(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataSet, GmmParams};
    use crate::metric::{SampleMetricsConfig, sample_metrics};
    use crate::progress::NoProgress;
    use crate::rng::{Stream, rng};
    use crate::sample::ExactScore;

    /// With the exact density, MALA samples it: small MMD and the right mode weights, even
    /// with a step size at which plain Langevin's bias shows.
    #[test]
    fn mala_with_the_exact_density_reproduces_it() {
        let gmm: GmmParams = toml::from_str(
            "components = [{ weight = 0.7, mean = [-1.0, 0.0], std = 0.6 }, \
             { weight = 0.3, mean = [1.0, 0.5], std = 0.6 }]",
        )
        .unwrap();
        let p = gmm.density().unwrap();
        let score = ExactScore::new(p.as_ref());
        let mala = MalaParams {
            steps: 400,
            step_size: 0.2,
            init: InitialDistribution::default(),
        };
        let mut ticker_progress = NoProgress;
        let mut ticker = Ticker::new(mala.steps, &mut ticker_progress);
        let x = mala
            .draw(
                &score,
                None,
                2000,
                &mut rng(1, Stream::Sampler),
                &mut ticker,
            )
            .unwrap()
            .unwrap();
        let acceptance = ticker.acceptance.unwrap();
        assert!((0.3..1.0).contains(&acceptance), "acceptance {acceptance}");
        let cfg = SampleMetricsConfig::default();
        let m = sample_metrics(&x, p.as_ref(), &cfg);
        // Two fresh samples of p have an MMD² of this order; the weights match.
        assert!(m.sample_mmd.unwrap() < 2e-3, "{m:?}");
        assert!(m.mode_weight_tv.unwrap() < 0.04, "{m:?}");
        // Unadjusted Langevin with the same step is visibly biased (too wide).
        let langevin = crate::sample::LangevinParams {
            steps: 400,
            step_size: 0.2,
            ..Default::default()
        };
        let mut progress = NoProgress;
        let mut ticker = Ticker::new(langevin.steps, &mut progress);
        let y = langevin
            .draw(
                &score,
                None,
                2000,
                &mut rng(1, Stream::Sampler),
                &mut ticker,
            )
            .unwrap()
            .unwrap();
        let ula = sample_metrics(&y, p.as_ref(), &cfg);
        assert!(
            ula.sample_mmd.unwrap() > 2.0 * m.sample_mmd.unwrap(),
            "mala {m:?}\nlangevin {ula:?}"
        );
    }

    /// MALA's acceptance on `score` at level `sigma` with step `alpha`, from N(0, I).
    fn acceptance(score: &dyn ScoreFn, sigma: Option<f64>, alpha: f64) -> f64 {
        let mala = MalaParams {
            steps: 20,
            step_size: alpha,
            init: InitialDistribution::default(),
        };
        let mut progress = NoProgress;
        let mut ticker = Ticker::new(mala.steps, &mut progress);
        mala.draw(score, sigma, 400, &mut rng(3, Stream::Sampler), &mut ticker)
            .unwrap()
            .unwrap();
        ticker.acceptance.unwrap()
    }

    /// On a noise-conditional energy network the density MALA targets is the one whose score
    /// the network reports (p̃_σ ∝ exp(−E/σ)): at a step α = σ², on the scale of the score,
    /// almost every proposal is accepted. A density whose log is off by a factor (exp(−E)
    /// against the score −∇E/σ) rejects about 1% here, 40 times as many.
    #[test]
    fn mala_on_a_noise_conditional_energy_network_targets_its_score() {
        use crate::backend::{Backend, Ctx, Precision};
        use crate::model::Activation;
        use crate::model::testing::random_net;
        use crate::sample::ModelScore;
        let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
        let model = random_net("energy", Activation::Silu, 2, 2, true, &ctx, 5);
        let score = ModelScore::new(&model, &ctx, 2);
        for sigma in [0.02, 0.3] {
            let rejected = 1.0 - acceptance(&score, Some(sigma), sigma * sigma);
            assert!(rejected < 0.002, "σ {sigma}: rejected {rejected}");
        }
    }

    #[test]
    fn a_score_without_a_density_is_refused() {
        struct OnlyScore;
        impl ScoreFn for OnlyScore {
            fn dim(&self) -> usize {
                1
            }
            fn score(&self, x: &[f64], _: Option<f64>) -> Result<Vec<f64>> {
                Ok(x.iter().map(|v| -v).collect())
            }
            fn log_density(&self, _: &[f64], _: Option<f64>) -> Result<Option<Vec<f64>>> {
                Ok(None)
            }
        }
        let mut progress = NoProgress;
        let mut ticker = Ticker::new(1, &mut progress);
        let err = MalaParams::default()
            .draw(
                &OnlyScore,
                None,
                4,
                &mut rng(0, Stream::Sampler),
                &mut ticker,
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("mala needs the model's density"),
            "{err}"
        );
    }
}
