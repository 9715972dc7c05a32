//! Applying the training options of [`crate::config::options`] during a run: early
//! stopping's best so far and the exponential moving average of the weights.

use crate::config::options::EarlyStopping;

/// The best validation loss so far and what early stopping decides from it.
#[derive(Clone, Debug, PartialEq)]
pub struct BestSoFar {
    /// The lowest validation loss seen.
    pub loss: f64,
    /// The step it was seen at.
    pub step: usize,
    /// The weights at that step.
    pub params: Vec<f64>,
    /// Evaluations since it improved.
    pub stale: usize,
}

impl BestSoFar {
    /// Records the validation loss `loss` of `params` at `step`; returns whether `rule` says
    /// to stop now.
    pub fn record(
        best: &mut Option<BestSoFar>,
        loss: f64,
        step: usize,
        params: &[f64],
        rule: &EarlyStopping,
    ) -> bool {
        match best {
            // Not an improvement (a NaN never is).
            Some(b)
                if loss.partial_cmp(&(b.loss - rule.min_delta))
                    != Some(std::cmp::Ordering::Less) =>
            {
                b.stale += 1;
                b.stale >= rule.patience
            }
            _ => {
                *best = Some(BestSoFar {
                    loss,
                    step,
                    params: params.to_vec(),
                    stale: 0,
                });
                false
            }
        }
    }
}

/// θ̄ ← decay·θ̄ + (1 − decay)·θ, started at the first θ.
pub fn update_ema(average: &mut Vec<f64>, theta: &[f64], decay: f64) {
    if average.is_empty() {
        average.extend_from_slice(theta);
        return;
    }
    for (a, t) in average.iter_mut().zip(theta) {
        *a = decay * *a + (1.0 - decay) * t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_keeps_the_best_and_stops_after_patience() {
        let rule = EarlyStopping {
            patience: 2,
            min_delta: 0.01,
        };
        let mut best = None;
        let losses = [1.0, 0.8, 0.795, 0.9];
        let stops: Vec<bool> = losses
            .iter()
            .enumerate()
            .map(|(i, &l)| BestSoFar::record(&mut best, l, i + 1, &[l], &rule))
            .collect();
        // 0.795 is not 0.01 better than 0.8; 0.9 is worse: two stale evaluations.
        assert_eq!(stops, [false, false, false, true]);
        let best = best.unwrap();
        assert_eq!((best.loss, best.step, best.params), (0.8, 2, vec![0.8]));
    }

    #[test]
    fn an_ema_with_decay_zero_is_the_last_weights() {
        let mut avg = Vec::new();
        update_ema(&mut avg, &[1.0, 2.0], 0.0);
        update_ema(&mut avg, &[3.0, -1.0], 0.0);
        assert_eq!(avg, [3.0, -1.0]);
        let mut avg = Vec::new();
        update_ema(&mut avg, &[1.0], 0.5);
        update_ema(&mut avg, &[3.0], 0.5);
        assert_eq!(avg, [2.0]);
    }
}
