//! Training options beyond plain Adam at a constant rate, as a run's configuration states
//! them: learning-rate schedules, an exponential moving average of the weights, and early
//! stopping on a held-out loss. Each defaults to what keeps a run's numbers (and its id)
//! unchanged; `train::options` applies them.

use serde::{Deserialize, Serialize};

use crate::error::ParamError;

/// The learning rate over a run of `steps` steps, as a multiple of `lr` at step k (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// lr at every step (the default).
    #[default]
    Constant,
    /// Cosine decay from lr to `min_factor`·lr: f + ½(1 − f)(1 + cos(π (k − 1)/steps)).
    Cosine {
        /// The final fraction f of lr (default 0).
        #[serde(default)]
        min_factor: f64,
    },
    /// Linear warm-up over `warmup_steps` (lr·k/warmup), then cosine decay to
    /// `min_factor`·lr over the remaining steps.
    WarmupCosine {
        /// Steps of the linear warm-up.
        warmup_steps: usize,
        /// The final fraction of lr (default 0).
        #[serde(default)]
        min_factor: f64,
    },
    /// lr·gamma^⌊(k − 1)/every⌋.
    Step {
        /// Steps between decays.
        every: usize,
        /// The factor of each decay (default 0.1).
        #[serde(default = "tenth")]
        gamma: f64,
    },
}

fn tenth() -> f64 {
    0.1
}

impl LrSchedule {
    /// Whether this is the constant schedule (left out of a run's configuration).
    pub fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }

    /// The learning rate at step `k` (1-based) of `steps`, for base rate `lr`.
    pub fn at(&self, lr: f64, k: usize, steps: usize) -> f64 {
        let cosine = |done: usize, total: usize, floor: f64| {
            let p = done as f64 / total.max(1) as f64;
            lr * (floor + 0.5 * (1.0 - floor) * (1.0 + (std::f64::consts::PI * p).cos()))
        };
        match *self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine { min_factor } => cosine(k - 1, steps, min_factor),
            LrSchedule::WarmupCosine {
                warmup_steps,
                min_factor,
            } => {
                if k <= warmup_steps {
                    lr * k as f64 / warmup_steps as f64
                } else {
                    cosine(
                        k - 1 - warmup_steps,
                        steps.saturating_sub(warmup_steps),
                        min_factor,
                    )
                }
            }
            LrSchedule::Step { every, gamma } => lr * gamma.powi(((k - 1) / every) as i32),
        }
    }

    /// Every problem with the schedule (keys relative to the train block).
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        let fraction = |key: &str, f: f64, errors: &mut Vec<ParamError>| {
            if !(0.0..=1.0).contains(&f) {
                errors.push(ParamError::new(
                    format!("lr_schedule.{key}"),
                    format!("must be between 0 and 1, got {f}"),
                ));
            }
        };
        match *self {
            LrSchedule::Constant => {}
            LrSchedule::Cosine { min_factor } => fraction("min_factor", min_factor, &mut errors),
            LrSchedule::WarmupCosine {
                warmup_steps,
                min_factor,
            } => {
                fraction("min_factor", min_factor, &mut errors);
                if warmup_steps == 0 {
                    errors.push(ParamError::new(
                        "lr_schedule.warmup_steps",
                        "must be at least 1",
                    ));
                }
            }
            LrSchedule::Step { every, gamma } => {
                if every == 0 {
                    errors.push(ParamError::new("lr_schedule.every", "must be at least 1"));
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    errors.push(ParamError::new(
                        "lr_schedule.gamma",
                        format!("must be in (0, 1], got {gamma}"),
                    ));
                }
            }
        }
        errors
    }
}

/// Stop when the validation loss has not improved by `min_delta` for `patience` evaluations
/// (one every `log_every` steps), and keep the weights of the best one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Evaluations without improvement before stopping.
    pub patience: usize,
    /// The improvement that counts (default 0).
    #[serde(default)]
    pub min_delta: f64,
}

impl EarlyStopping {
    /// Every problem with the settings (keys relative to the train block).
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.patience == 0 {
            errors.push(ParamError::new(
                "early_stopping.patience",
                "must be at least 1",
            ));
        }
        if !(self.min_delta >= 0.0 && self.min_delta.is_finite()) {
            errors.push(ParamError::new(
                "early_stopping.min_delta",
                format!("must be non-negative, got {}", self.min_delta),
            ));
        }
        errors
    }
}

/// Checks an EMA decay (key `ema`).
pub fn validate_ema(decay: Option<f64>) -> Vec<ParamError> {
    match decay {
        Some(d) if !(0.0..1.0).contains(&d) => vec![ParamError::new(
            "ema",
            format!("the decay must be in [0, 1), got {d}"),
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(text: &str) -> LrSchedule {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn schedules_match_their_formulas() {
        let pi = std::f64::consts::PI;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert_eq!(LrSchedule::Constant.at(0.1, 57, 100), 0.1);
        let cos = schedule("name = \"cosine\"");
        assert!(close(cos.at(0.1, 1, 100), 0.1));
        assert!(close(cos.at(0.1, 51, 100), 0.05));
        assert!(close(cos.at(0.1, 26, 100), 0.05 * (1.0 + (pi / 4.0).cos())));
        let floor = schedule("name = \"cosine\"\nmin_factor = 0.2");
        assert!(close(floor.at(1.0, 51, 100), 0.6));
        let warm = schedule("name = \"warmup_cosine\"\nwarmup_steps = 10");
        assert!(close(warm.at(1.0, 5, 110), 0.5));
        assert!(close(warm.at(1.0, 10, 110), 1.0));
        assert!(close(warm.at(1.0, 11, 110), 1.0));
        assert!(close(warm.at(1.0, 61, 110), 0.5));
        let step = schedule("name = \"step\"\nevery = 30\ngamma = 0.5");
        assert!(close(step.at(1.0, 30, 100), 1.0));
        assert!(close(step.at(1.0, 31, 100), 0.5));
        assert!(close(step.at(1.0, 91, 100), 0.125));
        assert_eq!(schedule("name = \"step\"\nevery = 0").validate().len(), 1);
        assert!(toml::from_str::<LrSchedule>("name = \"cosine\"\nwarmup = 3").is_err());
    }

    #[test]
    fn an_ema_decay_must_be_below_one() {
        assert_eq!(validate_ema(Some(1.0)).len(), 1);
        assert!(validate_ema(Some(0.999)).is_empty());
    }
}
