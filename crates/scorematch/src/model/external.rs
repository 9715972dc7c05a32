//! `external`: a score estimator that is a user's command, in any language, run as a run of
//! the sweep and judged by the same exact metrics (see [`crate::external`] for the protocol).
//!
//! ```toml
//! model = { name = "external", command = ["python3", "examples/external/kde_score.py"],
//!           args = { bandwidth = 0.3 }, timeout_s = 600 }
//! objective = "none"
//! ```
//!
//! It has no network: the runner runs the command instead of the training loop, so
//! [`ModelKind::init`] refuses, and its `Net` type is a placeholder that is never made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Activation, Fit, Linear, ModelKind};
use crate::backend::Ctx;
use crate::error::{Error, ParamError, Result};
use crate::rng::Rng;

/// Parameters of `external`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalParams {
    /// The program and its arguments, run as an argv vector (never through a shell).
    pub command: Vec<String>,
    /// Parameters handed to the command in `run.json` (part of the run id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, serde_json::Value>,
    /// Seconds the command may run before it is killed and the run recorded as failed
    /// (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// FNV-1a hashes of the command's arguments that name files (scripts), filled in by the
    /// runner so that editing the script changes the run id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub file_hashes: BTreeMap<String, String>,
}

/// The default time limit of a command, in seconds.
pub const DEFAULT_TIMEOUT_S: f64 = 3600.0;

impl ExternalParams {
    /// The time limit in seconds.
    pub fn timeout(&self) -> f64 {
        self.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)
    }

    /// Records the content hash of every argument that names an existing file.
    pub fn pin_files(&mut self) {
        for arg in &self.command {
            if let Ok(bytes) = std::fs::read(arg) {
                self.file_hashes
                    .insert(arg.clone(), crate::hash::checksum(&bytes));
            }
        }
    }
}

impl ModelKind for ExternalParams {
    /// Never made: an external method has no network.
    type Net = Linear;
    const FUSED: bool = false;
    const HAS_ENERGY: bool = false;

    fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if self.command.first().is_none_or(String::is_empty) {
            errors.push(ParamError::new(
                "command",
                "give the program and its arguments, e.g. [\"python3\", \"my_method.py\"]",
            ));
        }
        if let Some(t) = self.timeout_s
            && !(t > 0.0 && t.is_finite())
        {
            errors.push(ParamError::new(
                "timeout_s",
                format!("must be a positive number of seconds, got {t}"),
            ));
        }
        for (file, hash) in &self.file_hashes {
            match std::fs::read(file) {
                Ok(bytes) if crate::hash::checksum(&bytes) != *hash => {
                    errors.push(ParamError::new(
                        "command",
                        format!("{file} has changed since this run was configured"),
                    ));
                }
                Ok(_) => {}
                Err(e) => errors.push(ParamError::new("command", format!("{file}: {e}"))),
            }
        }
        errors
    }

    fn validate_for(&self, _dim: usize) -> Vec<ParamError> {
        Vec::new()
    }

    fn fit(&self) -> Fit {
        Fit::External
    }

    fn activation(&self) -> Option<Activation> {
        None
    }

    fn is_noise_conditional(&self) -> bool {
        false
    }

    fn noise_conditional(&self) -> Option<Self> {
        None
    }

    fn init(&self, _dim: usize, _pool: &[f64], _ctx: &Ctx, _rng: &mut Rng) -> Result<Linear> {
        Err(Error::InvalidConfig(vec![ParamError::new(
            "model",
            "an external method has no network: the runner runs its command (see \
             scorematch::external)",
        )]))
    }
}
