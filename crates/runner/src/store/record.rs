//! What is kept of one finished run: `metrics.json` (this record), `config.toml` and
//! `loss.csv`.

use scorematch::train::LossPoint;
use scorematch::{RunStatus, TrainReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::Job;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Trained for all its steps.
    Ok,
    /// Stopped on a non-finite loss or Fisher divergence: a result, not an error.
    Diverged,
    /// Returned an error or panicked: retried on resume.
    Failed,
    /// Stopped by a search's pruning rule (`[search.prune]`) at a rung: a result, not
    /// retried.
    Pruned,
}

impl Status {
    /// The name written to `runs.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
            Status::Pruned => "pruned",
        }
    }

    /// The status called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Status::Ok, Status::Diverged, Status::Failed, Status::Pruned]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// Whether a run with this status is done (not run again on resume).
    pub fn is_complete(self) -> bool {
        self != Status::Failed
    }
}

/// How a run's training ended, before it is recorded.
#[derive(Debug)]
pub enum Outcome {
    /// Training returned a report (ok or diverged).
    Trained(Box<TrainReport>),
    /// Training returned an error or panicked; the losses seen before that.
    Failed {
        /// What went wrong.
        error: String,
        /// The loss curve up to the failure.
        losses: Vec<LossPoint>,
    },
}

/// Values computed from the configuration by the library, kept with the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// Data dimension.
    pub dim: usize,
    /// The noise level the objective targets.
    pub sigma: Option<f64>,
}

impl Derived {
    /// The derived values of `config`.
    pub fn of(config: &scorematch::RunConfig) -> Self {
        Self {
            dim: config.dataset.dim(),
            sigma: config.objective.sigma(),
        }
    }
}

/// A run's `metrics.json`: everything its `runs.csv` row is read from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Hash of the configuration.
    pub run_id: String,
    /// Hash of the configuration without the seed.
    pub config_id: String,
    /// Hash of the configuration without its sampler and sample metrics (one trained model).
    #[serde(default)]
    pub train_id: String,
    /// The run whose trained model this run sampled from, when it did not train itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_in: Option<String>,
    /// Sweep name.
    pub sweep: String,
    /// How it ended.
    pub status: Status,
    /// Why it diverged or failed.
    pub error: Option<String>,
    /// Threads its tensor work used.
    pub threads: usize,
    /// scorematch version.
    pub version: String,
    /// Values derived from the configuration.
    pub derived: Derived,
    /// The configuration.
    pub config: Value,
    /// The training report without its loss curve (in `loss.csv`); missing if failed.
    pub report: Option<Value>,
}

/// The most characters of an error kept in the `error` cell and the log line.
pub const ERROR_CHARS: usize = 1000;

/// `error` as one line fit for a table cell: control characters (newlines included) replaced
/// by spaces, cut to its first [`ERROR_CHARS`] characters (marked with `…`).
fn error_cell(error: &str) -> String {
    let mut cell: String = error
        .chars()
        .take(ERROR_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if error.chars().nth(ERROR_CHARS).is_some() {
        cell.push('…');
    }
    cell
}

impl RunRecord {
    /// The record of `job` ending with `outcome`, run on `threads` threads.
    pub fn new(job: &Job, threads: usize, outcome: &Outcome) -> Self {
        let (status, error, report) = match outcome {
            Outcome::Trained(r) => {
                let status = match r.status {
                    RunStatus::Ok => Status::Ok,
                    RunStatus::Diverged => Status::Diverged,
                    RunStatus::Pruned => Status::Pruned,
                };
                let mut r = (**r).clone();
                r.loss_curve.clear();
                let mut value = serde_json::to_value(&r).unwrap_or(Value::Null);
                if let Some(map) = value.as_object_mut() {
                    map.remove("loss_curve");
                }
                (status, r.message.clone(), Some(value))
            }
            Outcome::Failed { error, .. } => (Status::Failed, Some(error_cell(error)), None),
        };
        Self {
            run_id: job.id.clone(),
            config_id: job.config_id.clone(),
            train_id: job.train_id.clone(),
            trained_in: None,
            sweep: job.sweep.name.clone(),
            status,
            error,
            threads,
            version: scorematch::VERSION.to_string(),
            derived: Derived::of(&job.config),
            config: serde_json::to_value(&job.config).unwrap_or(Value::Null),
            report,
        }
    }

    /// The record as JSON, as columns read it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The loss curve as CSV (`step,loss`; a non-finite loss is an empty cell).
pub fn loss_csv(points: &[LossPoint]) -> Vec<u8> {
    let mut out = b"step,loss\n".to_vec();
    for p in points {
        let loss = if p.loss.is_finite() {
            format!("{:?}", p.loss)
        } else {
            String::new()
        };
        out.extend(format!("{},{loss}\n", p.step).into_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [Status::Ok, Status::Diverged, Status::Failed] {
            assert_eq!(Status::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(Status::Diverged.is_complete() && !Status::Failed.is_complete());
    }

    #[test]
    fn loss_curves_leave_non_finite_values_empty() {
        let csv = loss_csv(&[
            LossPoint { step: 1, loss: 0.5 },
            LossPoint {
                step: 2,
                loss: f64::INFINITY,
            },
        ]);
        assert_eq!(String::from_utf8(csv).unwrap(), "step,loss\n1,0.5\n2,\n");
    }
}
