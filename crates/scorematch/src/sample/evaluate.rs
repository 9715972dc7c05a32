//! Running a sampler and scoring what it generates.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{ExactScore, SampleProgress, SamplerConfig, ScoreFn};
use crate::data::Density;
use crate::error::{Error, Result};
use crate::metric::{SampleMetrics, SampleMetricsConfig, sample_metrics};
use crate::progress::NoProgress;
use crate::rng::{Stream, rng};

/// What a sampler generated, in numbers (the CSV's sample columns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleReport {
    /// The sampler's name (`sampler` column).
    pub sampler: String,
    /// Number of samples drawn.
    pub samples: usize,
    /// Wall time of the sampler in seconds (metrics excluded).
    pub sample_seconds: f64,
    /// Why the metrics are missing, if they are (e.g. chains that diverged).
    pub message: Option<String>,
    /// The sample-quality metrics.
    pub metrics: SampleMetrics,
    /// The fraction of accepted proposals, for a Metropolis sampler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance: Option<f64>,
    /// Split-R̂ of ‖x‖² over the chains' stationary phase (see [`super::mixing`]): ≈ 1 when
    /// the chains have mixed; `None` for samplers without a stationary phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhat: Option<f64>,
    /// The sampler floor: the sample metrics of the same sampler, settings and seed run on
    /// the data's exact score; `None` without an exact score or with
    /// `sample_metrics.floor = false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<SampleMetrics>,
}

/// A sampler's samples and their report.
#[derive(Clone, Debug)]
pub struct Sampled {
    /// The numbers.
    pub report: SampleReport,
    /// The samples, row-major `[samples, dim]` (kept for plots).
    pub samples: Vec<f64>,
}

/// Draws `metrics.samples` samples from `score` with `sampler` (seeded by
/// `rng(seed, Stream::Sampler)`) and evaluates them against `density`; `None` for the `none`
/// sampler. `sigma` is the noise level the score was trained at. Samples that are not all
/// finite get no metrics and a message instead.
pub fn sample_and_evaluate(
    sampler: &SamplerConfig,
    metrics: &SampleMetricsConfig,
    score: &dyn ScoreFn,
    sigma: Option<f64>,
    density: &dyn Density,
    seed: u64,
    progress: &mut dyn SampleProgress,
) -> Result<Option<Sampled>> {
    crate::error::check(metrics.validate())?;
    let start = Instant::now();
    let mut sampler_rng = rng(seed, Stream::Sampler);
    let Some((samples, stats)) =
        sampler.sample_measured(score, sigma, metrics.samples, &mut sampler_rng, progress)?
    else {
        return Ok(None);
    };
    let sample_seconds = start.elapsed().as_secs_f64();
    let dim = score.dim();
    let (report_metrics, message) = match diverged(&samples, dim) {
        0 => (sample_metrics(&samples, density, metrics), None),
        bad => (
            SampleMetrics::default(),
            Some(format!(
                "{bad} of {} samples are not finite (the sampler diverged)",
                metrics.samples
            )),
        ),
    };
    let floor = if metrics.floor {
        sampler_floor(sampler, metrics, sigma, density, seed)?
    } else {
        None
    };
    Ok(Some(Sampled {
        report: SampleReport {
            sampler: sampler.name().to_string(),
            samples: samples.len() / dim,
            sample_seconds,
            message,
            metrics: report_metrics,
            acceptance: stats.acceptance,
            rhat: stats.rhat,
            floor,
        },
        samples,
    }))
}

/// The number of samples (rows of `samples`) with a value that is not finite.
fn diverged(samples: &[f64], dim: usize) -> usize {
    samples
        .chunks_exact(dim)
        .filter(|row| row.iter().any(|v| !v.is_finite()))
        .count()
}

/// The sampler floor: the sample metrics of `sampler` with the same settings and seed on the
/// exact score of `density`, what the sampler gives a perfect model. Langevin and MALA use
/// the data density's ∇log p (Langevin with `denoise`: ∇log p_σ at the score's σ, as a
/// perfect model of p_σ would), the annealed and SDE samplers ∇log p_σ at their own levels.
/// `None` for data without an exact score (read from a file), where the sampler needs a
/// noised density that has no closed form, or when the exact chains diverge.
fn sampler_floor(
    sampler: &SamplerConfig,
    metrics: &SampleMetricsConfig,
    sigma: Option<f64>,
    density: &dyn Density,
    seed: u64,
) -> Result<Option<SampleMetrics>> {
    if density.test_split().is_some() {
        return Ok(None);
    }
    let exact_sigma = sigma.filter(|_| sampler.needs_score_sigma());
    let drawn = sampler.sample(
        &ExactScore::new(density),
        exact_sigma,
        metrics.samples,
        &mut rng(seed, Stream::Sampler),
        &mut NoProgress,
    );
    let samples = match drawn {
        Ok(Some(samples)) => samples,
        Ok(None) => return Ok(None),
        // The configuration was validated and its sampler ran on the model, so what the
        // exact score refuses is a noised density without a closed form.
        Err(Error::InvalidConfig(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if diverged(&samples, density.dim()) > 0 {
        return Ok(None);
    }
    Ok(Some(sample_metrics(&samples, density, metrics)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetConfig;

    fn density(s: &str) -> Box<dyn Density> {
        toml::from_str::<DatasetConfig>(s).unwrap().build().unwrap()
    }

    fn sampler(s: &str) -> SamplerConfig {
        toml::from_str(s).unwrap()
    }

    /// The score of N(0, v·I): a model of a standard normal that is too narrow (v < 1).
    struct NarrowNormal {
        dim: usize,
        variance: f64,
    }

    impl ScoreFn for NarrowNormal {
        fn dim(&self) -> usize {
            self.dim
        }
        fn score(&self, x: &[f64], _: Option<f64>) -> crate::error::Result<Vec<f64>> {
            Ok(x.iter().map(|v| -v / self.variance).collect())
        }
        fn log_density(&self, x: &[f64], _: Option<f64>) -> crate::error::Result<Option<Vec<f64>>> {
            let rows = x.chunks_exact(self.dim);
            Ok(Some(
                rows.map(|r| -r.iter().map(|v| v * v).sum::<f64>() / (2.0 * self.variance))
                    .collect(),
            ))
        }
    }

    /// The sampler floor is the same sampler, settings and seed on the exact score: exactly the
    /// metrics of that run, small where the model's are large; off with `floor = false`, and
    /// empty (not an error) where the exact score is unknown.
    #[test]
    fn the_sampler_floor_is_the_same_sampler_on_the_exact_score() {
        let g = density("name = \"standard_normal\"\ndim = 2");
        let metrics = SampleMetricsConfig {
            samples: 400,
            reference_samples: 400,
            swd_directions: 32,
            ..SampleMetricsConfig::default()
        };
        let model = NarrowNormal {
            dim: 2,
            variance: 0.25,
        };
        for s in [
            "name = \"langevin\"\nsteps = 200\nstep_size = 0.05",
            "name = \"mala\"\nsteps = 200\nstep_size = 0.05",
        ] {
            let cfg = sampler(s);
            let run = |score: &dyn ScoreFn, metrics: &SampleMetricsConfig| {
                sample_and_evaluate(&cfg, metrics, score, None, g.as_ref(), 7, &mut NoProgress)
                    .unwrap()
                    .unwrap()
                    .report
            };
            let report = run(&model, &metrics);
            let exact = run(&ExactScore::new(g.as_ref()), &metrics);
            let floor = report.floor.unwrap();
            assert_eq!(floor, exact.metrics, "{s}");
            assert_eq!(exact.floor.unwrap(), exact.metrics, "{s}");
            let (model_mmd, floor_mmd) = (
                report.metrics.sample_mmd.unwrap(),
                floor.sample_mmd.unwrap(),
            );
            assert!(
                model_mmd > 10.0 * floor_mmd.max(1e-3),
                "{s}: {model_mmd} vs {floor_mmd}"
            );
            let off = SampleMetricsConfig {
                floor: false,
                ..metrics.clone()
            };
            let without = run(&model, &off);
            assert_eq!(without.floor, None);
            assert_eq!(without.metrics, report.metrics);
        }
        // The funnel has no closed-form p_σ: annealed Langevin has no exact score to run on.
        let funnel = density("name = \"funnel\"\ndim = 2");
        let annealed = sampler("name = \"annealed\"\nlevels = 2\nsteps_per_level = 5");
        let report = sample_and_evaluate(
            &annealed,
            &metrics,
            &NarrowNormal {
                dim: 2,
                variance: 1.0,
            },
            None,
            funnel.as_ref(),
            0,
            &mut NoProgress,
        )
        .unwrap()
        .unwrap()
        .report;
        assert!(report.metrics.sample_mmd.is_some());
        assert_eq!(report.floor, None);
    }
}
