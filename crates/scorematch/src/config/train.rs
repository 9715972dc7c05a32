//! The training settings of a run and which implementation computes its steps.

use serde::{Deserialize, Serialize};

use super::options::{EarlyStopping, LrSchedule, validate_ema};
use crate::backend::{Backend, Precision};
use crate::error::ParamError;
use crate::model::ModelConfig;
use crate::objective::ObjectiveConfig;

/// Which implementation computes the training steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernels {
    /// The fused host kernels where the backend allows them (flex), else the reference
    /// (the default).
    #[default]
    Auto,
    /// The fused host kernels (flex only).
    Fused,
    /// burn tensor ops with autodiff and burn's Adam.
    Reference,
}

impl Kernels {
    /// Every choice.
    pub const ALL: [Kernels; 3] = [Kernels::Auto, Kernels::Fused, Kernels::Reference];

    /// The name used in configuration files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Auto => "auto",
            Kernels::Fused => "fused",
            Kernels::Reference => "reference",
        }
    }

    /// Whether this is the default choice (auto).
    pub fn is_auto(&self) -> bool {
        *self == Kernels::Auto
    }

    /// Whether the fused kernels can run `model` trained by `objective` on `backend`: the
    /// backend keeps its tensors in host memory (flex), the kernels cover the model, and, on
    /// an energy network, the objective's loss.
    pub fn fused_available(
        backend: Backend,
        model: &ModelConfig,
        objective: &ObjectiveConfig,
    ) -> bool {
        Self::refusal(backend, model, objective).is_none()
    }

    /// Why the fused kernels cannot run the configuration, if they cannot.
    fn refusal(
        backend: Backend,
        model: &ModelConfig,
        objective: &ObjectiveConfig,
    ) -> Option<String> {
        if backend != Backend::Flex {
            Some(format!(
                "the fused kernels run on flex only, not {}",
                backend.name()
            ))
        } else if !model.has_fused_kernels() {
            Some(format!(
                "the fused kernels do not compute {} models",
                model.name()
            ))
        } else if model.has_energy() && !objective.caps().fused_on_energy {
            Some(format!(
                "{} on an energy network differences E itself, which the fused kernels do not \
                 output",
                objective.name()
            ))
        } else {
            None
        }
    }

    /// The implementation a run of `model` trained by `objective` on `backend` uses: never
    /// `Auto`.
    pub fn resolve(
        self,
        backend: Backend,
        model: &ModelConfig,
        objective: &ObjectiveConfig,
    ) -> Kernels {
        match self {
            Kernels::Auto if Self::fused_available(backend, model, objective) => Kernels::Fused,
            Kernels::Auto => Kernels::Reference,
            chosen => chosen,
        }
    }

    /// Every problem with this choice for the configuration (keys relative to the train
    /// block).
    pub fn validate(
        self,
        backend: Backend,
        model: &ModelConfig,
        objective: &ObjectiveConfig,
    ) -> Vec<ParamError> {
        match Self::refusal(backend, model, objective) {
            Some(why) if self == Kernels::Fused => vec![ParamError::new(
                "kernels",
                format!("{why} (use auto or reference)"),
            )],
            _ => Vec::new(),
        }
    }
}

/// Training and evaluation settings shared by every objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps (default 2000; 0 evaluates the initial model).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Batch size (default 256).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Adam learning rate (default 1e-3; β = 0.9/0.999, ε = 1e-8 as in PyTorch).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Clip the gradient's global L2 norm to this value (default: no clipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Size of the fixed training pool batches are drawn from with replacement (default 65536).
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// Size of the evaluation set for Fisher divergences (default 10000).
    #[serde(default = "default_eval")]
    pub eval_samples: usize,
    /// Seed of the evaluation set, the same for every run seed (default 0).
    #[serde(default)]
    pub eval_seed: u64,
    /// Record the loss every this many steps (default 50).
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Float precision (default f32).
    #[serde(default)]
    pub precision: Precision,
    /// Which implementation computes the steps (default auto: the fused host kernels on
    /// flex, burn tensor ops elsewhere). Left out of the serialised form when auto, so run
    /// ids of existing results do not change; the engine a run used is in its report.
    #[serde(default, skip_serializing_if = "Kernels::is_auto")]
    pub kernels: Kernels,
    /// Learning-rate schedule (default constant; see [`LrSchedule`]).
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// Decay of an exponential moving average of the weights, which evaluation, sampling
    /// and the checkpoint then use (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<f64>,
    /// Size of a held-out validation set drawn from the data density, on which the
    /// objective's own loss (`val_loss`) is recorded every `log_every` steps (default 0:
    /// none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub val_samples: usize,
    /// Stop on the validation loss and keep the best weights (default: train all steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Save the training state every this many steps, so that a killed run resumes from it
    /// (default 0: never). It does not change a run's numbers, and is not part of its id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checkpoint_every: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn default_steps() -> usize {
    2000
}
fn default_batch() -> usize {
    256
}
fn default_lr() -> f64 {
    1e-3
}
fn default_pool() -> usize {
    65_536
}
fn default_eval() -> usize {
    10_000
}
fn default_log_every() -> usize {
    50
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            batch: default_batch(),
            lr: default_lr(),
            grad_clip: None,
            pool_size: default_pool(),
            eval_samples: default_eval(),
            eval_seed: 0,
            log_every: default_log_every(),
            precision: Precision::default(),
            kernels: Kernels::default(),
            lr_schedule: LrSchedule::default(),
            ema: None,
            val_samples: 0,
            early_stopping: None,
            checkpoint_every: 0,
        }
    }
}

impl TrainConfig {
    /// Every problem with the settings.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        let mut positive = |key: &str, value: usize| {
            if value == 0 {
                errors.push(ParamError::new(key, "must be at least 1"));
            }
        };
        positive("batch", self.batch);
        positive("pool_size", self.pool_size);
        positive("eval_samples", self.eval_samples);
        positive("log_every", self.log_every);
        errors.extend(self.lr_schedule.validate());
        errors.extend(validate_ema(self.ema));
        if let Some(rule) = &self.early_stopping {
            errors.extend(rule.validate());
            if self.val_samples == 0 {
                errors.push(ParamError::new(
                    "early_stopping",
                    "stops on the validation loss: set val_samples (e.g. 1000)",
                ));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            errors.push(ParamError::new(
                "lr",
                format!("must be positive, got {}", self.lr),
            ));
        }
        if let Some(c) = self.grad_clip
            && !(c > 0.0 && c.is_finite())
        {
            errors.push(ParamError::new(
                "grad_clip",
                format!("must be positive, got {c}"),
            ));
        }
        errors
    }
}
