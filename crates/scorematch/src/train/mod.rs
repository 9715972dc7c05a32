//! One training run: data pool and evaluation set, model initialisation, Adam on the
//! objective, Fisher divergences before and after, and — when the run has a sampler — samples
//! of the trained score with their quality.

use std::path::Path;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::config::RunConfig;
use crate::data::Density;
use crate::engine::Kernels;
use crate::error::Result;
use crate::evaluation::{EvalSets, ModelInputs, ModelMetric, ModelMetricValues, Scorer, evaluate};
use crate::metric::DensityFit;
use crate::model::{ScoreModel, TracePath};
use crate::progress::SamplerSteps;
pub use crate::progress::{NoProgress, Progress};
use crate::sample::{ModelScore, SampleReport, sample_and_evaluate};
use validation::Validation;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Trained for all its steps with finite losses.
    Ok,
    /// The loss or the parameters became non-finite; training stopped early.
    Diverged,
    /// The caller's pruning rule stopped it at a held-out loss (see [`Progress::prune`]);
    /// its numbers are those of the weights at that step.
    Pruned,
}

/// One recorded point of the loss curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    /// Optimiser step (1-based).
    pub step: usize,
    /// Loss of that step's batch.
    pub loss: f64,
}

/// The numbers of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// How the run ended.
    pub status: RunStatus,
    /// Why it diverged, if it did.
    pub message: Option<String>,
    /// Steps actually taken.
    pub steps_done: usize,
    /// Last recorded loss.
    pub final_loss: Option<f64>,
    /// Fisher divergence against p of the initial model (missing for data without an exact
    /// score: data read from files).
    pub fisher_init: Option<f64>,
    /// Fisher divergence against p after training (missing if diverged).
    pub fisher: Option<f64>,
    /// Fisher divergence against p_σ of the initial model, for objectives with a noise level
    /// on data sets whose p_σ has a closed form.
    pub fisher_sigma_init: Option<f64>,
    /// Fisher divergence against p_σ after training.
    pub fisher_sigma: Option<f64>,
    /// Wall time of the training loop in seconds (evaluation excluded).
    pub train_seconds: f64,
    /// Optimiser steps per second.
    pub steps_per_sec: f64,
    /// Which exact-trace path ISM used.
    pub trace_path: Option<TracePath>,
    /// Which implementation computed the steps (`fused` or `reference`).
    pub kernels: Kernels,
    /// The loss every `log_every` steps.
    pub loss_curve: Vec<LossPoint>,
    /// The sampler's samples in numbers (missing without a sampler or after divergence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleReport>,
    /// Density-level figures (log Z, likelihood, KL) of a model with an energy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density: Option<DensityFit>,
    /// E‖J − Jᵀ‖²_F / E‖J‖²_F of the trained score on evaluation points (see
    /// [`crate::metric::asymmetry`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asymmetry: Option<f64>,
    /// The objective's loss on the held-out validation set every `log_every` steps (with
    /// `val_samples`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub val_curve: Vec<LossPoint>,
    /// The validation loss of the weights kept: the best one under early stopping, else the
    /// last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Under early stopping, the step whose weights were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_step: Option<usize>,
    /// Whether early stopping ended training before `steps`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_early: bool,
    /// An external method's own training time, as its `result.json` reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_seconds: Option<f64>,
    /// The step a resumed run continued from (see [`train_resumable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<usize>,
    /// Kernel Stein discrepancy² of (up to [`crate::metric::KSD_POINTS`]) evaluation points under the
    /// trained score (see [`crate::metric::kernel_stein_discrepancy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_ksd: Option<f64>,
}

/// A finished run: its report and what later stages (samplers, plots) need.
pub struct Trained {
    /// The numbers.
    pub report: TrainReport,
    /// The trained model, as an inference copy on `ctx`'s device.
    pub model: ScoreModel,
    /// Plain (non-autodiff) context of the run's device and precision.
    pub ctx: Ctx,
    /// The data density.
    pub density: Box<dyn Density>,
    /// The sampler's samples, row-major `[sample_metrics.samples, dim]` (missing without a
    /// sampler or after divergence).
    pub samples: Option<Vec<f64>>,
}

/// Trains one run.
pub fn train(cfg: &RunConfig, progress: &mut dyn Progress) -> Result<Trained> {
    train_resumable(cfg, None, progress)
}

/// The model metrics of the initial model.
const AT_INIT: &[ModelMetric] = &[ModelMetric::FisherInit, ModelMetric::FisherSigmaInit];
/// The model metrics of every trained model (the Fisher divergence tells whether training
/// diverged).
const AFTER_TRAINING: &[ModelMetric] = &[
    ModelMetric::Fisher,
    ModelMetric::FisherSigma,
    ModelMetric::ValLoss,
];
/// The model metrics of a trained model that did not diverge.
const OF_TRAINED: &[ModelMetric] = &[
    ModelMetric::ModelKsd,
    ModelMetric::Asymmetry,
    ModelMetric::TestLoglik,
    ModelMetric::Kl,
    ModelMetric::LogZ,
    ModelMetric::LogZSe,
];

/// [`train`], keeping the training state in `state_file` every `train.checkpoint_every`
/// steps and when asked to stop, and continuing from the state there if there is one (see
/// [`resume`]). The file is left in place: the caller removes it once the result is safe.
pub fn train_resumable(
    cfg: &RunConfig,
    state_file: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<Trained> {
    let mut setup = RunSetup::new(cfg)?;
    let plain = setup.ctx.inference();
    let sets = EvalSets::draw(cfg, setup.density.as_ref());
    // Noise-conditional models are evaluated at the objective's (smallest) noise level.
    let eval_sigma = cfg
        .objective
        .sigma()
        .filter(|_| cfg.model.is_noise_conditional());
    let initial = setup.model.valid();
    let scorer = Scorer::Model {
        model: &initial,
        ctx: &plain,
        sigma: eval_sigma,
    };
    let at_init = evaluate(
        AT_INIT,
        &ModelInputs::new(scorer, &sets, setup.density.as_ref(), cfg),
    )?;
    let trace_path = setup.trace_path;
    let validation = Validation::new(cfg, &setup);
    let mut trainer = setup.trainer()?;
    let kernels = trainer.kernels();
    // A model fitted in closed form when it was made has no training loop.
    let steps = if cfg.model.is_fitted() {
        0
    } else {
        cfg.train.steps
    };
    let state_file = state_file.filter(|_| cfg.train.checkpoint_every > 0 && steps > 0);
    let end = run_loop::run(
        cfg,
        &mut trainer,
        validation.as_ref(),
        steps,
        state_file,
        progress,
    )?;
    let mut model = trainer.into_model()?;
    // Early stopping keeps the best weights; otherwise an average replaces the last ones.
    let kept = match (&end.best, cfg.train.early_stopping) {
        (Some(b), Some(_)) => Some(b.params.clone()),
        _ => Some(end.average.clone()).filter(|a| !a.is_empty()),
    };
    if let Some(weights) = kept {
        model = model.with_flat_params(&weights, &setup.ctx);
    }
    let model = model.valid();
    let mut inputs = ModelInputs::new(
        Scorer::Model {
            model: &model,
            ctx: &plain,
            sigma: eval_sigma,
        },
        &sets,
        setup.density.as_ref(),
        cfg,
    );
    inputs.val_loss = match (&end.best, cfg.train.early_stopping) {
        (Some(b), Some(_)) => Some(b.loss),
        _ => end.val_curve.last().map(|p| p.loss),
    };
    let finished = finish(cfg, inputs, at_init, end, progress)?;
    let report = TrainReport {
        trace_path,
        kernels,
        ..finished.report
    };
    Ok(Trained {
        report,
        ctx: plain,
        density: setup.density,
        samples: finished.samples,
        model,
    })
}

/// A run's report (all but how it trained) and samples.
struct Finished {
    report: TrainReport,
    samples: Option<Vec<f64>>,
}

/// The metrics of the trained model in `inputs` after the loop's `end`, its samples when
/// the run has a sampler, and the report of it all.
fn finish(
    cfg: &RunConfig,
    inputs: ModelInputs<'_>,
    at_init: ModelMetricValues,
    end: run_loop::LoopEnd,
    progress: &mut dyn Progress,
) -> Result<Finished> {
    let after = evaluate(AFTER_TRAINING, &inputs)?;
    let mut message = end.message;
    if let Some(f) = after.fisher.filter(|f| message.is_none() && !f.is_finite()) {
        message = Some(format!("Fisher divergence is {f} after training"));
    }
    let diverged = message.is_some();
    let (trained, sampled) = if diverged {
        (ModelMetricValues::default(), None)
    } else {
        let Scorer::Model { model, ctx, .. } = &inputs.scorer else {
            return Err(crate::Error::Tensor("a trained run has a model".into()));
        };
        let trained = evaluate(OF_TRAINED, &inputs)?;
        // The score is evaluated at the noise level it was trained for (ignored by models
        // that do not condition on σ).
        let sampled = sample_and_evaluate(
            &cfg.sampler,
            &cfg.sample_metrics,
            &ModelScore::new(model, ctx, inputs.sets.dim),
            cfg.objective.sigma(),
            inputs.density,
            cfg.seed,
            &mut SamplerSteps(progress),
        )?;
        (trained, sampled)
    };
    let values = ModelMetricValues {
        fisher_init: at_init.fisher_init,
        fisher_sigma_init: at_init.fisher_sigma_init,
        fisher: after.fisher.filter(|_| !diverged),
        fisher_sigma: after.fisher_sigma.filter(|_| !diverged),
        val_loss: after.val_loss,
        ..trained
    };
    let density = inputs.into_density_fit();
    let (sample, samples) = match sampled {
        Some(s) => (Some(s.report), Some(s.samples)),
        None => (None, None),
    };
    let train_seconds = end.train_seconds;
    let report = TrainReport {
        status: if diverged {
            RunStatus::Diverged
        } else if end.pruned {
            RunStatus::Pruned
        } else {
            RunStatus::Ok
        },
        message,
        steps_done: end.steps_done,
        final_loss: end.loss_curve.last().map(|p| p.loss),
        train_seconds,
        steps_per_sec: if train_seconds > 0.0 {
            end.steps_done as f64 / train_seconds
        } else {
            0.0
        },
        loss_curve: end.loss_curve,
        sample,
        best_step: end
            .best
            .as_ref()
            .filter(|_| cfg.train.early_stopping.is_some())
            .map(|b| b.step),
        val_curve: end.val_curve,
        stopped_early: end.stopped_early,
        resumed_from: end.resumed_from,
        ..TrainReport::evaluated(&values, density)
    };
    Ok(Finished { report, samples })
}

impl TrainReport {
    /// The report of a model judged by `values` (and its density-level figures): the metric
    /// fields filled from them, everything about training empty (no steps, status ok).
    pub fn evaluated(values: &ModelMetricValues, density: Option<DensityFit>) -> Self {
        TrainReport {
            status: RunStatus::Ok,
            message: None,
            steps_done: 0,
            final_loss: None,
            fisher_init: values.fisher_init,
            fisher: values.fisher,
            fisher_sigma_init: values.fisher_sigma_init,
            fisher_sigma: values.fisher_sigma,
            train_seconds: 0.0,
            steps_per_sec: 0.0,
            trace_path: None,
            kernels: Kernels::Auto,
            loss_curve: Vec::new(),
            sample: None,
            density,
            asymmetry: values.asymmetry,
            val_curve: Vec::new(),
            val_loss: values.val_loss,
            best_step: None,
            stopped_early: false,
            method_seconds: None,
            resumed_from: None,
            model_ksd: values.model_ksd,
        }
    }
}

pub mod options;
mod resume;
mod run_loop;
mod setup;
mod validation;

pub use setup::RunSetup;

#[cfg(test)]
mod tests;
