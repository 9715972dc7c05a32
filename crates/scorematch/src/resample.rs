//! Runs that differ from a trained one only in their sampler or sample metrics: the trained
//! weights, the training numbers of the run that trained them, and new samples. A sweep over
//! samplers trains each training configuration once.

use crate::checkpoint::Checkpoint;
use crate::config::RunConfig;
use crate::error::Result;
use crate::progress::{Progress, SamplerSteps};
use crate::sample::{ModelScore, sample_and_evaluate};
use crate::train::{RunStatus, TrainReport, Trained};

/// `config`'s run from the checkpoint `trained` of a run with the same training
/// configuration and report `base`: `base`'s training numbers, with `config`'s sampler and
/// sample metrics (no samples when `base` diverged, as training would give).
pub fn resample(
    config: &RunConfig,
    trained: &Checkpoint,
    base: &TrainReport,
    progress: &mut dyn Progress,
) -> Result<Trained> {
    let checkpoint = Checkpoint {
        config: config.clone(),
        ..trained.clone()
    };
    let (model, ctx) = checkpoint.model(config.backend)?;
    let density = config.dataset.build()?;
    let mut report = base.clone();
    let sampled = if base.status == RunStatus::Ok {
        sample_and_evaluate(
            &config.sampler,
            &config.sample_metrics,
            &ModelScore::new(&model, &ctx, density.dim()),
            config.objective.sigma(),
            density.as_ref(),
            config.seed,
            &mut SamplerSteps(progress),
        )?
    } else {
        None
    };
    let samples = match sampled {
        Some(s) => {
            report.sample = Some(s.report);
            Some(s.samples)
        }
        None => {
            report.sample = None;
            None
        }
    };
    Ok(Trained {
        report,
        model,
        ctx,
        density,
        samples,
    })
}
