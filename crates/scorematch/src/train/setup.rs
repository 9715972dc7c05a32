//! What a run trains with, made from its configuration alone: the device context, the data
//! density and its training pool, the noised density p_σ, the initial model and the ISM
//! trace path. Training ([`super::train`]) and the throughput benchmark both start here, so
//! the benchmark measures exactly what a sweep runs.

use crate::backend::Ctx;
use crate::config::RunConfig;
use crate::data::Density;
use crate::engine::{Trainer, TrainingData};
use crate::error::{Result, check};
use crate::model::{ScoreModel, TracePath};
use crate::rng::{Stream, rng};

/// A run ready to train.
pub struct RunSetup<'c> {
    cfg: &'c RunConfig,
    /// The run's autodiff context (device and precision).
    pub ctx: Ctx,
    /// The data density.
    pub density: Box<dyn Density>,
    /// The density at the objective's noise level, where it has a closed form.
    pub noised: Option<Box<dyn Density>>,
    /// The initial model.
    pub model: ScoreModel,
    /// The exact-trace path ISM uses (`None` for other objectives).
    pub trace_path: Option<TracePath>,
    /// The training pool, `[pool_size, D]`, until a trainer takes it.
    pool: Vec<f64>,
    /// The data score at each pool point (objectives that use it).
    pool_scores: Vec<f64>,
}

impl<'c> RunSetup<'c> {
    /// Checks `cfg` (values and this machine), opens its device, draws the pool and
    /// initialises the model, each from the run seed's own stream.
    pub fn new(cfg: &'c RunConfig) -> Result<Self> {
        check(cfg.validate())?;
        check(cfg.check_environment())?;
        let ctx = Ctx::new(cfg.backend.device()?.autodiff(), cfg.train.precision);
        let density = cfg.dataset.build()?;
        let pool = density.sample(cfg.train.pool_size, &mut rng(cfg.seed, Stream::Pool));
        let pool_scores = if cfg.objective.caps().uses_data_scores {
            density.scores(&pool)
        } else {
            Vec::new()
        };
        let noised = cfg.objective.sigma().and_then(|s| density.noised(s));
        let model = cfg
            .model
            .init(density.dim(), &pool, &ctx, &mut rng(cfg.seed, Stream::Init))?;
        let trace_path = cfg.objective.trace().map(|t| model.trace_path(t));
        Ok(Self {
            cfg,
            ctx,
            density,
            noised,
            model,
            trace_path,
            pool,
            pool_scores,
        })
    }

    /// Dimension D of the data.
    pub fn dim(&self) -> usize {
        self.density.dim()
    }

    /// The training loop from the initial model, on the run's training stream. The pool
    /// moves into it, so there is one trainer per setup.
    pub fn trainer(&mut self) -> Result<Trainer<'_>> {
        let data = TrainingData {
            dim: self.dim(),
            pool: std::mem::take(&mut self.pool),
            pool_scores: std::mem::take(&mut self.pool_scores),
            noised: self.noised.as_deref(),
        };
        Trainer::new(
            &self.cfg.objective,
            &self.cfg.train,
            self.cfg
                .train
                .kernels
                .resolve(self.cfg.backend, &self.cfg.model, &self.cfg.objective),
            self.model.clone(),
            self.trace_path.unwrap_or_default(),
            data,
            &self.ctx,
            rng(self.cfg.seed, Stream::Train),
        )
    }
}
