//! A search's early termination as the sweep file states it (`[search.prune]`): the rungs,
//! η, a trial's bracket and ASHA's rule; `exec::prune` applies it to running trials.

use scorematch::RunConfig;
use serde_json::Value;

use crate::job::canonical_json;

/// A search's pruning rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Prune {
    /// Steps of the rungs, increasing.
    pub rungs: Vec<usize>,
    /// η ≥ 2.
    pub reduction_factor: usize,
    /// The searched parameters: (family, field) or (None, run parameter).
    pub searched: Vec<(Option<String>, String)>,
}

impl Prune {
    /// The bracket of `config`: a hash of its configuration without the searched
    /// parameters.
    pub fn bracket(&self, config: &RunConfig) -> String {
        let mut value = serde_json::to_value(config).unwrap_or_default();
        for (family, field) in &self.searched {
            let table = match family {
                Some(f) => value.get_mut(f),
                None if value.get(field).is_some() => Some(&mut value),
                None => value.get_mut("train"),
            };
            if let Some(Value::Object(map)) = table {
                map.remove(field);
            }
        }
        if let Some(Value::Object(train)) = value.get_mut("train") {
            train.remove("checkpoint_every");
        }
        let text = format!("bracket:{}", canonical_json(&value));
        crate::job::short_hash(&text)
    }
}

/// ASHA's rule: whether `value` ranks within the best max(1, ⌊n/η⌋) of `values` (which
/// include it). A NaN or infinite value never goes on, and ranks behind every finite one.
pub fn goes_on(values: &[f64], value: f64, eta: usize) -> bool {
    if !value.is_finite() {
        return false;
    }
    let keep = (values.len() / eta.max(1)).max(1);
    let better = values
        .iter()
        .filter(|&&v| v.is_finite() && v < value)
        .count();
    better < keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asha_keeps_the_top_fraction_at_each_rung_on_a_synthetic_loss() {
        // Nine trials reach a rung in this order, with these losses; η = 3.
        let losses = [5.0, 3.0, 4.0, 1.0, 6.0, 2.0, 0.5, 7.0, 2.5];
        let mut seen = Vec::new();
        let decisions: Vec<bool> = losses
            .iter()
            .map(|&v| {
                seen.push(v);
                goes_on(&seen, v, 3)
            })
            .collect();
        // By hand: n = 1, 2 keep 1 (the best so far goes on); n = 3..5 keep 1; n = 6..8
        // keep 2; n = 9 keeps 3.
        // 5: first → on. 3 < 5 → on. 4: best is 3 → off. 1 → on. 6 → off.
        // 2 (n = 6, keep 2: 1 and 2) → on. 0.5 → on. 7 → off. 2.5 (n = 9, keep 3:
        // 0.5, 1, 2) → off.
        assert_eq!(
            decisions,
            [true, true, false, true, false, true, true, false, false]
        );
    }

    #[test]
    fn a_nan_or_infinite_loss_stops_the_trial_even_when_it_is_the_first() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!goes_on(&[bad], bad, 3), "{bad} alone");
            assert!(!goes_on(&[1.0, 2.0, bad], bad, 3), "{bad} among finite");
        }
        // Trials that had a non-finite loss at the rung do not beat a finite one.
        assert!(goes_on(&[f64::NAN, f64::NEG_INFINITY, 4.0], 4.0, 3));
    }

    #[test]
    fn a_bracket_ignores_the_searched_parameters_only() {
        let cfg = |text: &str| -> RunConfig { toml::from_str(text).unwrap() };
        let prune = Prune {
            rungs: vec![10],
            reduction_factor: 3,
            searched: vec![
                (None, "lr".into()),
                (Some("objective".into()), "sigma".into()),
            ],
        };
        let a = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.1 }\ntrain = { lr = 0.01 }",
        );
        let b = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.3 }\ntrain = { lr = 0.002 }",
        );
        let c = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.3 }\nseed = 1",
        );
        assert_eq!(prune.bracket(&a), prune.bracket(&b));
        assert_ne!(prune.bracket(&a), prune.bracket(&c));
    }
}
