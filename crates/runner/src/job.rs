//! A checked run ready for the pool, and the identity of runs.
//!
//! A run's id is a hash of its fully resolved `RunConfig`, not its place in a grid, so editing
//! a sweep re-uses every run whose configuration did not change.

use std::sync::Arc;

use scorematch::RunConfig;
use sha2::{Digest, Sha256};

/// Hex digits kept of a hash (48 bits).
const ID_LEN: usize = 12;

/// What every run of one sweep shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepInfo {
    /// The sweep's name (the `sweep` column).
    pub name: String,
    /// What it is for.
    pub description: String,
}

/// One run: its resolved configuration and identity.
#[derive(Clone, Debug)]
pub struct Job {
    /// Hash of the whole configuration.
    pub id: String,
    /// Hash of the configuration without the seed: runs that differ only in their seed share it.
    pub config_id: String,
    /// Hash of what training depends on (the configuration without its sampler and sample
    /// metrics): runs that share it share one trained model.
    pub train_id: String,
    /// The run's parameters, checked by the library.
    pub config: RunConfig,
    /// The sweep it belongs to.
    pub sweep: Arc<SweepInfo>,
    /// A short description for progress lines: the parameters that vary in its sweep.
    pub label: String,
}

impl Job {
    /// A job for `config`.
    pub fn new(config: RunConfig, sweep: Arc<SweepInfo>) -> Self {
        Self {
            id: run_id(&config),
            config_id: config_id(&config),
            train_id: train_id(&config),
            config,
            sweep,
            label: String::new(),
        }
    }
}

/// What identifies a run: its configuration as JSON, without what does not change its numbers
/// (how often it saves its training state).
fn identity(config: &RunConfig) -> serde_json::Value {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    if let Some(train) = value.get_mut("train").and_then(|t| t.as_object_mut()) {
        train.remove("checkpoint_every");
    }
    value
}

/// The run id of a configuration: sha256 of its canonical JSON, as short hex.
pub fn run_id(config: &RunConfig) -> String {
    short_hash(&canonical_json(&identity(config)))
}

/// The id shared by the seeds of one configuration.
pub fn config_id(config: &RunConfig) -> String {
    let mut value = identity(config);
    if let Some(map) = value.as_object_mut() {
        map.remove("seed");
    }
    short_hash(&format!("config:{}", canonical_json(&value)))
}

/// The id shared by the runs of one trained model: the configuration without its sampler and
/// sample metrics.
pub fn train_id(config: &RunConfig) -> String {
    let mut value = identity(config);
    if let Some(map) = value.as_object_mut() {
        map.remove("sampler");
        map.remove("sample_metrics");
    }
    short_hash(&format!("train:{}", canonical_json(&value)))
}

/// The first hex digits of sha256(`text`).
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(ID_LEN);
    hex
}

/// JSON with object keys sorted at every level, so the text depends only on the values.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(s: &str) -> RunConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn saving_the_training_state_does_not_change_a_run_id() {
        let a = cfg("dataset = { name = \"banana\" }\nobjective = { name = \"ism\" }");
        let b = cfg(
            "dataset = { name = \"banana\" }\nobjective = { name = \"ism\" }\n\
             train = { checkpoint_every = 500 }",
        );
        assert_eq!(b.train.checkpoint_every, 500);
        assert_eq!(run_id(&a), run_id(&b));
        assert_eq!(config_id(&a), config_id(&b));
        assert_eq!(train_id(&a), train_id(&b));
    }

    #[test]
    fn run_ids_depend_on_the_values_not_on_how_they_were_written() {
        let a = cfg(
            "dataset = { name = \"gaussian\", dim = 10 }\nobjective = { name = \"dsm\", sigma = 0.1 }",
        );
        // Same run, written with defaults spelled out and keys in another order.
        let b = cfg(
            "seed = 0\nbackend = \"flex\"\nobjective = { sigma = 0.1, name = \"dsm\" }\ntrain = { steps = 2000 }\ndataset = { dim = 10, name = \"gaussian\" }",
        );
        assert_eq!(run_id(&a), run_id(&b));
        assert_eq!(run_id(&a).len(), ID_LEN);
        assert!(run_id(&a).chars().all(|c| c.is_ascii_hexdigit()));
        let c = cfg(
            "dataset = { name = \"gaussian\", dim = 10 }\nobjective = { name = \"dsm\", sigma = 0.2 }",
        );
        assert_ne!(run_id(&a), run_id(&c));
    }

    #[test]
    fn run_ids_are_stable_across_versions() {
        // Changing this value means every stored result is re-run: only on purpose.
        let a =
            cfg("dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\nseed = 3");
        assert_eq!(run_id(&a), "c921596bc614");
    }

    #[test]
    fn seeds_share_a_config_id() {
        let a =
            cfg("dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\nseed = 1");
        let mut b = a.clone();
        b.seed = 2;
        assert_ne!(run_id(&a), run_id(&b));
        assert_eq!(config_id(&a), config_id(&b));
        assert_ne!(config_id(&a), run_id(&a));
        let mut c = a.clone();
        c.train.steps = 7;
        assert_ne!(config_id(&a), config_id(&c));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v =
            serde_json::json!({ "b": 1, "a": { "d": [1.5, { "z": null, "y": "s" }], "c": true } });
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":true,"d":[1.5,{"y":"s","z":null}]},"b":1}"#
        );
    }
}
