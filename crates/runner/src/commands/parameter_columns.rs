//! Every parameter of every registry variant is a column: changing it changes a cell of
//! `runs.csv`, and that column is among the varying ones of `runner list`, the summaries'
//! grouping and `runner best`'s table. The variants come from the library's registries, so a
//! new data set, model, objective, sampler, sample metric or training option is covered here
//! without a new test.

use scorematch::TrainConfig;
use scorematch::data::DatasetConfig;
use scorematch::metric::SampleMetricsConfig;
use scorematch::model::ModelConfig;
use scorematch::objective::ObjectiveConfig;
use scorematch::sample::SamplerConfig;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::columns::{Layout, Role, Table};
use crate::listing::varying_columns;
use crate::report::Summary;

use super::best;

/// A registry variant from its name, with the fields it cannot default.
fn variant<T: DeserializeOwned + serde::Serialize>(family: &str, name: &str) -> Value {
    let extra = match (family, name) {
        ("model", "external") => "command = [\"python3\", \"method.py\"]\n",
        _ => "",
    };
    let parsed: T = toml::from_str(&format!("name = \"{name}\"\n{extra}"))
        .unwrap_or_else(|e| panic!("{family} {name} needs a field here to build an example: {e}"));
    serde_json::to_value(parsed).unwrap()
}

/// Every training option set, so that each is a parameter of the example.
fn training_options() -> Value {
    let options: TrainConfig = toml::from_str(
        "grad_clip = 1.0\nkernels = \"reference\"\nlr_schedule = { name = \"cosine\" }\n\
         ema = 0.9\nval_samples = 100\nearly_stopping = { patience = 2 }\n",
    )
    .unwrap();
    serde_json::to_value(options).unwrap()
}

/// One example per variant of every family: (family key in the configuration, example).
fn examples() -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&str, Value)> = DatasetConfig::examples(2)
        .into_iter()
        .map(|d| ("dataset", serde_json::to_value(d).unwrap()))
        .collect();
    out.extend(
        ModelConfig::NAMES
            .iter()
            .map(|n| ("model", variant::<ModelConfig>("model", n))),
    );
    out.extend(
        ObjectiveConfig::NAMES
            .iter()
            .map(|n| ("objective", variant::<ObjectiveConfig>("objective", n))),
    );
    out.extend(
        SamplerConfig::NAMES
            .iter()
            .map(|n| ("sampler", variant::<SamplerConfig>("sampler", n))),
    );
    out.push((
        "sample_metrics",
        serde_json::to_value(SampleMetricsConfig::default()).unwrap(),
    ));
    out.push(("train", training_options()));
    out
}

fn base() -> Value {
    json!({
        "dataset": serde_json::to_value(&DatasetConfig::examples(2)[0]).unwrap(),
        "model": variant::<ModelConfig>("model", "mlp"),
        "objective": variant::<ObjectiveConfig>("objective", "dsm"),
        "train": serde_json::to_value(TrainConfig::default()).unwrap(),
        "backend": "flex",
        "seed": 0,
        "sampler": variant::<SamplerConfig>("sampler", "langevin"),
    })
}

/// The paths of the leaves of `v` (a list is one leaf).
fn leaves(v: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let mut p = path.clone();
                p.push(k.clone());
                leaves(x, p, out);
            }
        }
        _ => out.push(path),
    }
}

/// Another value of the same kind.
fn changed(v: &Value) -> Value {
    match v {
        Value::Null => json!(1.0),
        Value::Bool(b) => json!(!b),
        Value::Number(n) => match n.as_u64() {
            Some(u) => json!(u + 1),
            None => json!(n.as_f64().unwrap_or(0.0) * 2.0 + 1.0),
        },
        Value::String(s) => json!(format!("{s}_other")),
        Value::Array(a) => {
            let mut a = a.clone();
            a.push(a.last().cloned().unwrap_or(json!(1)));
            json!(a)
        }
        Value::Object(_) => unreachable!("leaves are not tables"),
    }
}

/// A finished run's record of `config` (the values the library derives read off it).
fn record(id: &str, config: Value, val_loss: f64) -> Value {
    json!({
        "run_id": id, "config_id": id, "train_id": id, "sweep": "t", "status": "ok",
        "derived": {
            "dim": config["dataset"].get("dim").cloned().unwrap_or(json!(2)),
            "sigma": config["objective"].get("sigma").cloned(),
        },
        "config": config,
        "report": { "val_loss": val_loss },
    })
}

#[test]
fn every_parameter_of_every_registry_variant_is_a_varying_column_everywhere() {
    let mut checked = 0;
    for (family, example) in examples() {
        let mut a = base();
        a[family] = example.clone();
        let mut paths = Vec::new();
        leaves(&example, Vec::new(), &mut paths);
        assert!(!paths.is_empty(), "{family}: {example}");
        for path in paths {
            let mut b = a.clone();
            let leaf = path.iter().fold(&mut b[family], |v, k| &mut v[k.as_str()]);
            *leaf = changed(leaf);
            let what = format!("{family}.{} of {example}", path.join("."));
            let records = [record("a", a.clone(), 1.0), record("b", b, 2.0)];
            let layout = Layout::of(&records);
            let table = Table {
                header: layout.names().to_vec(),
                rows: records.iter().map(|r| layout.row(r)).collect(),
            };
            let differing: Vec<&String> = table
                .header
                .iter()
                .filter(|c| table.get(&table.rows[0], c) != table.get(&table.rows[1], c))
                .filter(|c| !["run_id", "config_id", "train_id", "val_loss"].contains(&c.as_str()))
                .collect();
            assert!(
                !differing.is_empty(),
                "{what}: no column of runs.csv shows it"
            );
            let listed = varying_columns(&table);
            let summary = Summary::of(&table).unwrap();
            let grouped: Vec<&str> = summary
                .varying_params()
                .into_iter()
                .map(|i| summary.params[i].as_str())
                .collect();
            let winners = best::select(&table, "val_loss", crate::columns::Better::Lower, &[]);
            let best_header = &best::render(&table, &winners, "val_loss", &[])[0];
            for column in differing {
                if crate::columns::role(column) != Role::Param {
                    continue;
                }
                assert!(listed.contains(column), "{what}: {column} not in list");
                assert!(
                    grouped.contains(&column.as_str()),
                    "{what}: {column} not in summary"
                );
                assert!(best_header.contains(column), "{what}: {column} not in best");
                checked += 1;
            }
        }
    }
    // A few hundred parameters across the registries; far fewer would mean examples are empty.
    assert!(checked > 100, "only {checked} parameters checked");
}
