//! Trained models already in the store, lent to new runs of the same training configuration:
//! a sweep that adds sampler settings later, or resumes a group that was cut short, samples
//! from the model a committed run trained instead of training it again.

use std::collections::HashMap;
use std::fs;

use scorematch::TrainReport;
use scorematch::checkpoint::{CHECKPOINT_FILE, Checkpoint};
use scorematch::train::LossPoint;
use serde_json::Value;

use super::{LOSS_FILE, METRICS_FILE, Store};

/// A committed run's trained model: its report (with its loss curve) and its weights.
#[derive(Clone, Debug)]
pub struct StoredModel {
    /// The run that trained it.
    pub run_id: String,
    /// Its report.
    pub report: TrainReport,
    /// Its checkpoint (the weights, their layout and the trainer's configuration).
    pub checkpoint: Checkpoint,
}

impl Store {
    /// The runs that trained a model themselves and ended ok, by training id (the first in
    /// run-id order when several did).
    pub fn trained_models(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        let Ok(records) = self.records() else {
            return out;
        };
        for (id, record) in records {
            let field = |key: &str| record.get(key).and_then(Value::as_str);
            let lends = field("status") == Some("ok")
                && record.get("trained_in").is_none_or(Value::is_null)
                && self.run_dir(&id).join(CHECKPOINT_FILE).is_file();
            if let (true, Some(train_id)) = (lends, field("train_id").filter(|t| !t.is_empty())) {
                out.entry(train_id.to_string()).or_insert(id);
            }
        }
        out
    }

    /// The trained model of committed run `id`, if its record, loss curve and checkpoint read
    /// back (anything missing or damaged: `None`, and the run that wanted it trains).
    pub fn stored_model(&self, id: &str) -> Option<StoredModel> {
        let dir = self.run_dir(id);
        let record: Value =
            serde_json::from_str(&fs::read_to_string(dir.join(METRICS_FILE)).ok()?).ok()?;
        let mut report = record.get("report")?.clone();
        let losses = read_loss_csv(&fs::read_to_string(dir.join(LOSS_FILE)).ok()?)?;
        report
            .as_object_mut()?
            .insert("loss_curve".into(), serde_json::to_value(losses).ok()?);
        let report: TrainReport = serde_json::from_value(report).ok()?;
        let bytes = fs::read(dir.join(CHECKPOINT_FILE)).ok()?;
        let checkpoint = scorematch::checkpoint::decode(&bytes).ok()?;
        Some(StoredModel {
            run_id: id.to_string(),
            report,
            checkpoint,
        })
    }
}

/// The points of a `loss.csv` (see [`super::record::loss_csv`]); an empty loss is NaN.
fn read_loss_csv(text: &str) -> Option<Vec<LossPoint>> {
    text.lines()
        .skip(1)
        .map(|line| {
            let (step, loss) = line.split_once(',')?;
            Some(LossPoint {
                step: step.parse().ok()?,
                loss: if loss.is_empty() {
                    f64::NAN
                } else {
                    loss.parse().ok()?
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::loss_csv;

    #[test]
    fn loss_curves_read_back_exactly() {
        let points = vec![
            LossPoint {
                step: 1,
                loss: 0.1 + 0.2,
            },
            LossPoint {
                step: 50,
                loss: -1.234_567_890_123_456_7e-7,
            },
        ];
        let text = String::from_utf8(loss_csv(&points)).unwrap();
        assert_eq!(read_loss_csv(&text).unwrap(), points);
        assert!(read_loss_csv("step,loss\n1,x\n").is_none());
    }
}
