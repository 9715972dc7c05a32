//! Running a sampler and scoring what it generates.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{SampleProgress, SamplerConfig, ScoreFn};
use crate::data::Density;
use crate::error::Result;
use crate::metric::{SampleMetrics, SampleMetricsConfig, sample_metrics};
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
    let Some((samples, acceptance)) =
        sampler.sample_measured(score, sigma, metrics.samples, &mut sampler_rng, progress)?
    else {
        return Ok(None);
    };
    let sample_seconds = start.elapsed().as_secs_f64();
    let dim = score.dim();
    let bad = samples
        .chunks_exact(dim)
        .filter(|row| row.iter().any(|v| !v.is_finite()))
        .count();
    let (metrics, message) = if bad == 0 {
        (sample_metrics(&samples, density, metrics), None)
    } else {
        (
            SampleMetrics::default(),
            Some(format!(
                "{bad} of {} samples are not finite (the sampler diverged)",
                metrics.samples
            )),
        )
    };
    Ok(Some(Sampled {
        report: SampleReport {
            sampler: sampler.name().to_string(),
            samples: samples.len() / dim,
            sample_seconds,
            message,
            metrics,
            acceptance,
        },
        samples,
    }))
}
