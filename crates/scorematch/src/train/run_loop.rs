//! The training loop: Adam steps on the objective, the loss and validation curves, the EMA,
//! early stopping, pruning, and the training state saved for resuming (see [`super::resume`]).

use std::path::Path;
use std::time::Instant;

use super::LossPoint;
use super::options::{BestSoFar, update_ema};
use super::resume::{self, TrainState};
use super::validation::Validation;
use crate::config::RunConfig;
use crate::engine::Trainer;
use crate::error::Result;
use crate::progress::Progress;

/// Where the loop ended.
pub(super) struct LoopEnd {
    /// Steps taken.
    pub steps_done: usize,
    /// Why training stopped short with a non-finite loss.
    pub message: Option<String>,
    /// The loss every `log_every` steps.
    pub loss_curve: Vec<LossPoint>,
    /// The held-out loss every `log_every` steps.
    pub val_curve: Vec<LossPoint>,
    /// The EMA weights (empty without an EMA).
    pub average: Vec<f64>,
    /// Early stopping's best so far.
    pub best: Option<BestSoFar>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Whether the caller's pruning rule ended training.
    pub pruned: bool,
    /// Training time in seconds, including that before a resume.
    pub train_seconds: f64,
    /// The step a resumed run continued from.
    pub resumed_from: Option<usize>,
}

impl LoopEnd {
    fn start() -> Self {
        Self {
            steps_done: 0,
            message: None,
            loss_curve: Vec::new(),
            val_curve: Vec::new(),
            average: Vec::new(),
            best: None,
            stopped_early: false,
            pruned: false,
            train_seconds: 0.0,
            resumed_from: None,
        }
    }

    /// The loop's state after `step`, to save.
    fn state(&self, step: usize, trainer: &Trainer<'_>, seconds: f64) -> Result<TrainState> {
        Ok(TrainState {
            step,
            engine: trainer.state()?,
            loss_curve: self.loss_curve.clone(),
            val_curve: self.val_curve.clone(),
            average: self.average.clone(),
            best: self.best.clone(),
            train_seconds: seconds,
        })
    }
}

/// The loop's start: from the state saved in `state_file` if there is a usable one (its
/// weights and optimiser restored into `trainer`), else from step 0.
fn resume_or_start(
    cfg: &RunConfig,
    trainer: &mut Trainer<'_>,
    state_file: Option<&Path>,
    steps: usize,
    progress: &mut dyn Progress,
) -> LoopEnd {
    let mut end = LoopEnd::start();
    let Some(path) = state_file else {
        return end;
    };
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
            end.resumed_from = Some(state.step);
            end.steps_done = state.step;
            end.train_seconds = state.train_seconds;
            end.loss_curve = state.loss_curve;
            end.val_curve = state.val_curve;
            end.average = state.average;
            end.best = state.best;
        }
        Ok(None) => {}
        Err(e) => progress.note(&format!(
            "not resuming from {} ({e}): training from step 1",
            path.display()
        )),
    }
    end
}

/// Trains for `steps` steps (or until the loss diverges, early stopping or the pruning rule
/// ends it), saving the state to `state_file` every `checkpoint_every` steps and when asked
/// to stop (then returning [`crate::Error::Interrupted`]).
pub(super) fn run(
    cfg: &RunConfig,
    trainer: &mut Trainer<'_>,
    validation: Option<&Validation<'_>>,
    steps: usize,
    state_file: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<LoopEnd> {
    let tc = &cfg.train;
    let mut end = resume_or_start(cfg, trainer, state_file, steps, progress);
    let seconds_before = end.train_seconds;
    let start = Instant::now();
    for step in end.steps_done + 1..=steps {
        if !tc.lr_schedule.is_constant() {
            trainer.set_lr(tc.lr_schedule.at(tc.lr, step, steps));
        }
        let logged = step % tc.log_every == 0 || step == steps;
        if let Some(value) = trainer.step(logged || step == 1)? {
            progress.loss(step, value);
            end.loss_curve.push(LossPoint { step, loss: value });
            if !value.is_finite() {
                end.message = Some(format!("loss became {value} at step {step}"));
                break;
            }
        }
        end.steps_done = step;
        if let Some(decay) = tc.ema {
            update_ema(&mut end.average, &trainer.params()?, decay);
        }
        if let (Some(val), true) = (validation, logged) {
            // The weights that would be evaluated: the average when there is one.
            let weights = if tc.ema.is_some() {
                end.average.clone()
            } else {
                trainer.params()?
            };
            let loss = val.loss(&weights)?;
            end.val_curve.push(LossPoint { step, loss });
            if progress.prune(step, loss) {
                end.pruned = true;
                break;
            }
            if let Some(rule) = &tc.early_stopping
                && BestSoFar::record(&mut end.best, loss, step, &weights, rule)
            {
                end.stopped_early = true;
                break;
            }
        }
        progress.step(step, steps);
        let stop = progress.stop_requested();
        if let Some(path) = state_file
            && ((step % tc.checkpoint_every == 0 && step < steps) || stop)
        {
            let state = end.state(
                step,
                trainer,
                seconds_before + start.elapsed().as_secs_f64(),
            )?;
            if let Err(e) = resume::save(path, cfg, &state) {
                progress.note(&format!("training state not saved: {e}"));
            }
        }
        if stop {
            return Err(crate::Error::Interrupted { step });
        }
    }
    end.train_seconds = seconds_before + start.elapsed().as_secs_f64();
    Ok(end)
}
