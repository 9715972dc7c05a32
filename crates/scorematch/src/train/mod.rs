//! One training run: data pool and evaluation set, model initialisation, Adam on the
//! objective, Fisher divergences before and after, and — when the run has a sampler — samples
//! of the trained score with their quality.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use crate::backend::Ctx;
use crate::config::RunConfig;
use crate::data::Density;
use crate::engine::Kernels;
use crate::error::Result;
use crate::metric::{
    DensityFit, KSD_POINTS, asymmetry, fisher_divergence, kernel_stein_discrepancy,
};
use crate::model::{ScoreModel, TracePath};
use crate::progress::SamplerSteps;
pub use crate::progress::{NoProgress, Progress};
use crate::rng::{Stream, normals, rng};
use crate::sample::{ModelScore, SampleReport, ScoreFn as _, sample_and_evaluate};
use options::{BestSoFar, update_ema};
use resume::TrainState;
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
    /// Kernel Stein discrepancy² of (up to [`KSD_POINTS`]) evaluation points under the
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

/// The evaluation points of one density with their exact scores.
struct EvalSet {
    x: Vec<f64>,
    score: Vec<f64>,
}

/// Trains one run.
pub fn train(cfg: &RunConfig, progress: &mut dyn Progress) -> Result<Trained> {
    train_resumable(cfg, None, progress)
}

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
    let dim = setup.dim();
    let tc = &cfg.train;

    // Evaluation sets come from the evaluation seed alone, so they are the same for every
    // run seed and Fisher numbers are comparable across runs. Data read from a file are
    // evaluated on their test split, where the true score is unknown.
    let mut eval_rng = rng(tc.eval_seed, Stream::Eval);
    let exact = setup.density.test_split().is_none();
    let eval = match setup.density.test_split() {
        Some(test) => EvalSet {
            x: test.to_vec(),
            score: Vec::new(),
        },
        None => {
            let x = setup.density.sample(tc.eval_samples, &mut eval_rng);
            EvalSet {
                score: setup.density.scores(&x),
                x,
            }
        }
    };
    let sigma = cfg.objective.sigma();
    let eval_noised = match (sigma, &setup.noised) {
        (Some(s), Some(q)) => {
            let x: Vec<f64> = eval
                .x
                .iter()
                .zip(normals(&mut eval_rng, eval.x.len()))
                .map(|(x, e)| x + s * e)
                .collect();
            Some(EvalSet {
                score: q.scores(&x),
                x,
            })
        }
        _ => None,
    };
    // Noise-conditional models are evaluated at the objective's (smallest) noise level.
    let eval_sigma = sigma.filter(|_| cfg.model.is_noise_conditional());
    let fishers = |model: &ScoreModel| -> Result<(Option<f64>, Option<f64>)> {
        if !exact {
            return Ok((None, None));
        }
        let m = model.valid();
        let f = fisher_divergence(&m, &eval.x, &eval.score, dim, eval_sigma, &plain)?;
        let fs = match &eval_noised {
            Some(e) => Some(fisher_divergence(
                &m, &e.x, &e.score, dim, eval_sigma, &plain,
            )?),
            None => None,
        };
        Ok((Some(f), fs))
    };

    let (fisher_init, fisher_sigma_init) = fishers(&setup.model)?;
    let trace_path = setup.trace_path;
    let validation = Validation::new(cfg, &setup);
    let mut trainer = setup.trainer()?;
    let kernels = trainer.kernels();
    let mut loss_curve = Vec::new();
    let mut val_curve = Vec::new();
    let mut message = None;
    let mut steps_done = 0;
    let mut average = Vec::new();
    let mut best: Option<BestSoFar> = None;
    let mut stopped_early = false;
    let mut pruned = false;
    let start = Instant::now();
    // A model fitted in closed form when it was made has no training loop.
    let steps = if cfg.model.is_fitted() { 0 } else { tc.steps };
    let state_file = state_file.filter(|_| tc.checkpoint_every > 0 && steps > 0);
    let mut seconds_before = 0.0;
    let mut resumed_from = None;
    if let Some(path) = state_file {
        let resumed = resume::load(path, cfg).and_then(|state| match state {
            Some(state) if state.step < steps => {
                trainer.restore(&state.engine)?;
                Ok(Some(state))
            }
            _ => Ok(None),
        });
        match resumed {
            Ok(Some(state)) => {
                progress.note(&format!("resumed from step {}", state.step));
                resumed_from = Some(state.step);
                steps_done = state.step;
                seconds_before = state.train_seconds;
                loss_curve = state.loss_curve;
                val_curve = state.val_curve;
                average = state.average;
                best = state.best;
            }
            Ok(None) => {}
            Err(e) => progress.note(&format!(
                "not resuming from {} ({e}): training from step 1",
                path.display()
            )),
        }
    }
    for step in steps_done + 1..=steps {
        if !tc.lr_schedule.is_constant() {
            trainer.set_lr(tc.lr_schedule.at(tc.lr, step, steps));
        }
        let logged = step % tc.log_every == 0 || step == steps;
        if let Some(value) = trainer.step(logged || step == 1)? {
            progress.loss(step, value);
            loss_curve.push(LossPoint { step, loss: value });
            if !value.is_finite() {
                message = Some(format!("loss became {value} at step {step}"));
                break;
            }
        }
        steps_done = step;
        if let Some(decay) = tc.ema {
            update_ema(&mut average, &trainer.params()?, decay);
        }
        if let (Some(val), true) = (&validation, logged) {
            // The weights that would be evaluated: the average when there is one.
            let weights = if tc.ema.is_some() {
                average.clone()
            } else {
                trainer.params()?
            };
            let loss = val.loss(&weights)?;
            val_curve.push(LossPoint { step, loss });
            if progress.prune(step, loss) {
                pruned = true;
                break;
            }
            if let Some(rule) = &tc.early_stopping
                && BestSoFar::record(&mut best, loss, step, &weights, rule)
            {
                stopped_early = true;
                break;
            }
        }
        progress.step(step, steps);
        let stop = progress.stop_requested();
        if let Some(path) = state_file
            && ((step % tc.checkpoint_every == 0 && step < steps) || stop)
        {
            let state = TrainState {
                step,
                engine: trainer.state()?,
                loss_curve: loss_curve.clone(),
                val_curve: val_curve.clone(),
                average: average.clone(),
                best: best.clone(),
                train_seconds: seconds_before + start.elapsed().as_secs_f64(),
            };
            if let Err(e) = resume::save(path, cfg, &state) {
                progress.note(&format!("training state not saved: {e}"));
            }
        }
        if stop {
            return Err(crate::Error::Interrupted { step });
        }
    }
    let train_seconds = seconds_before + start.elapsed().as_secs_f64();
    let mut model = trainer.into_model()?;
    // Early stopping keeps the best weights; otherwise an average replaces the last ones.
    let kept = match (&best, tc.early_stopping) {
        (Some(b), Some(_)) => Some(b.params.clone()),
        _ => Some(average).filter(|a| !a.is_empty()),
    };
    if let Some(weights) = kept {
        model = model.with_flat_params(&weights, &setup.ctx);
    }
    let val_loss = match (&best, tc.early_stopping) {
        (Some(b), Some(_)) => Some(b.loss),
        _ => val_curve.last().map(|p| p.loss),
    };

    let (fisher, fisher_sigma) = fishers(&model)?;
    if let Some(f) = fisher.filter(|f| message.is_none() && !f.is_finite()) {
        message = Some(format!("Fisher divergence is {f} after training"));
    }
    let diverged = message.is_some();
    let model = model.valid();
    let asymmetry = if diverged {
        None
    } else {
        asymmetry(&model, &eval.x, dim, eval_sigma, &plain)?
    };
    let model_ksd = if diverged {
        None
    } else {
        let points = &eval.x[..KSD_POINTS.min(eval.x.len() / dim) * dim];
        let scores = ModelScore::new(&model, &plain, dim).score(points, eval_sigma)?;
        Some(kernel_stein_discrepancy(points, &scores, dim)).filter(|v| v.is_finite())
    };
    let density = if diverged {
        None
    } else {
        density::fit(
            &model,
            &plain,
            eval_sigma,
            setup.density.as_ref(),
            &eval.x,
            tc.eval_seed,
        )?
    };
    // The score is evaluated at the noise level it was trained for (ignored by models that
    // do not condition on σ).
    let sampled = if diverged {
        None
    } else {
        sample_and_evaluate(
            &cfg.sampler,
            &cfg.sample_metrics,
            &ModelScore::new(&model, &plain, dim),
            sigma,
            setup.density.as_ref(),
            cfg.seed,
            &mut SamplerSteps(progress),
        )?
    };
    let (sample, samples) = match sampled {
        Some(s) => (Some(s.report), Some(s.samples)),
        None => (None, None),
    };
    let report = TrainReport {
        status: if diverged {
            RunStatus::Diverged
        } else if pruned {
            RunStatus::Pruned
        } else {
            RunStatus::Ok
        },
        message,
        steps_done,
        final_loss: loss_curve.last().map(|p| p.loss),
        fisher_init,
        fisher: fisher.filter(|_| !diverged),
        fisher_sigma_init,
        fisher_sigma: fisher_sigma.filter(|_| !diverged),
        train_seconds,
        steps_per_sec: if train_seconds > 0.0 {
            steps_done as f64 / train_seconds
        } else {
            0.0
        },
        trace_path,
        kernels,
        loss_curve,
        sample,
        density,
        asymmetry,
        model_ksd,
        best_step: best
            .as_ref()
            .filter(|_| tc.early_stopping.is_some())
            .map(|b| b.step),
        val_curve,
        val_loss,
        stopped_early,
        resumed_from,
        method_seconds: None,
    };
    Ok(Trained {
        report,
        model,
        ctx: plain,
        density: setup.density,
        samples,
    })
}

mod density;
pub mod options;
mod resume;
mod setup;
mod validation;

pub use setup::RunSetup;

#[cfg(test)]
mod tests;
