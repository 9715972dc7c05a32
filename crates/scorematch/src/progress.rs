//! What a caller sees of a run while it trains and samples, and how it asks it to stop.

/// Receives progress during training.
pub trait Progress {
    /// Called after each optimiser step (1-based) with the run's total steps.
    fn step(&mut self, _step: usize, _total: usize) {}
    /// Called with each recorded loss value.
    fn loss(&mut self, _step: usize, _loss: f64) {}
    /// Called after each sampler step (1-based) with the sampler's total steps.
    fn sample_step(&mut self, _step: usize, _total: usize) {}
    /// Something the run's log should say (a resumed state, or why a saved one was not
    /// used).
    fn note(&mut self, _message: &str) {}
    /// Called with each held-out loss (every `log_every` steps with a validation set);
    /// returning true stops training there, and the run ends as [`RunStatus::Pruned`]
    /// (a search's early termination).
    ///
    /// [`RunStatus::Pruned`]: crate::RunStatus::Pruned
    fn prune(&mut self, _step: usize, _val_loss: f64) -> bool {
        false
    }
    /// Whether the caller wants the run abandoned: checked after every optimiser step, and
    /// training then ends with [`Error::Interrupted`](crate::Error::Interrupted).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Receives progress while a sampler runs.
pub trait SampleProgress {
    /// Called after each score evaluation (1-based) with the sampler's total.
    fn step(&mut self, _step: usize, _total: usize) {}
}

/// Forwards a sampler's progress to [`Progress::sample_step`].
pub(crate) struct SamplerSteps<'a>(pub(crate) &'a mut dyn Progress);

impl SampleProgress for SamplerSteps<'_> {
    fn step(&mut self, step: usize, total: usize) {
        self.0.sample_step(step, total);
    }
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {}

impl SampleProgress for NoProgress {}
