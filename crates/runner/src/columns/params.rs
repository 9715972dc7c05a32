//! Parameter columns generated from a run's resolved configuration: every leaf of the
//! configuration that no fixed column shows becomes a column named by its dotted path
//! (`model.hidden`, `sampler.step_size`, `dataset.path`, `model.args.lr`), so a field added to
//! a configuration type is a column of `runs.csv` without any change here.
//!
//! Naming: the path below `config`, without the `train.` prefix (training options are written
//! directly in sweep files: `precision`, `lr_schedule.name`, `early_stopping.patience`), unless
//! that name is a fixed column's (`train.kernels`, beside the `kernels` the run used). Lists
//! are one cell in JSON (`model.command`). Unset optional fields have no value: their cell is
//! empty, and a column exists only once a run of the directory sets it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{COLUMNS, Role, cell};

/// Configuration paths that fixed columns show under another name: the data set's own `dim`
/// (the `dim` column, derived for every data set) and the objective's `sigma` (the `sigma`
/// column, derived for every objective with a noise level).
const SHOWN_ELSEWHERE: [&str; 2] = ["config.dataset.dim", "config.objective.sigma"];

/// The families whose parameters belong to one variant, each with the fixed column naming
/// the variant: `model.hidden` means something only among runs of one `model`.
const FAMILIES: [(&str, &str); 6] = [
    ("dataset", "dataset"),
    ("lr_schedule", "lr_schedule.name"),
    ("model", "model"),
    ("objective", "objective"),
    ("sampler", "sampler"),
    ("sample_metrics", "sampler"),
];

/// Column names of `runs.csv` before generated parameters (tables written then are read with
/// the new names; README "runs.csv columns" lists the renaming).
pub const RENAMED: [(&str, &str); 19] = [
    ("activation", "model.activation"),
    ("hidden", "model.hidden"),
    ("depth", "model.depth"),
    ("noise_conditional", "model.noise_conditional"),
    ("degree", "model.degree"),
    ("ridge", "model.ridge"),
    ("bandwidth", "model.bandwidth"),
    ("points", "model.points"),
    ("eta", "model.eta"),
    ("eigenfunctions", "model.eigenfunctions"),
    ("projections", "objective.projections"),
    ("projection", "objective.projection"),
    ("epsilon", "objective.epsilon"),
    ("sigma_max", "objective.sigma_max"),
    ("levels", "objective.levels"),
    ("trace", "objective.trace"),
    ("data_seed", "dataset.data_seed"),
    ("lr_schedule", "lr_schedule.name"),
    ("patience", "early_stopping.patience"),
];

/// The generated parameter cells of a run record (`{"config": …}`), by column name.
pub fn generated(record: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(config) = record.get("config") {
        flatten("config", config, &mut out);
    }
    out
}

fn flatten(path: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&format!("{path}.{key}"), v, out);
            }
        }
        leaf => {
            if let Some(name) = name_of(path) {
                out.insert(name, cell(Some(leaf)));
            }
        }
    }
}

/// The column of the configuration value at `path` (`config.model.hidden`), or `None` when a
/// fixed column shows it.
fn name_of(path: &str) -> Option<String> {
    let fixed = COLUMNS.iter().any(|c| c.path == path) || SHOWN_ELSEWHERE.contains(&path);
    if fixed {
        return None;
    }
    let below = path.strip_prefix("config.")?;
    let short = below.strip_prefix("train.").unwrap_or(below);
    let taken = COLUMNS.iter().any(|c| c.name == short);
    Some(if taken { below } else { short }.to_string())
}

/// Whether `name` is a generated column (not a fixed one).
pub fn is_generated(name: &str) -> bool {
    super::column(name).is_none()
}

/// A generated column's role: provenance (content hashes of the files a run reads) is
/// information, everything else a parameter.
pub fn role(name: &str) -> Role {
    if name.ends_with("content_hash") || name.contains("file_hashes.") {
        Role::Info
    } else {
        Role::Param
    }
}

/// The fixed column naming the variant a generated column belongs to (`model` for
/// `model.hidden`), or `None` for training options, which every run has.
pub fn owner(name: &str) -> Option<&'static str> {
    let family = name.split('.').next()?;
    FAMILIES
        .iter()
        .find(|(f, owner)| *f == family && name.len() > f.len() && name != *owner)
        .map(|(_, owner)| *owner)
}

/// Sort key of generated columns: data set, model, objective, training options, sampler,
/// sample metrics; then by name.
pub fn order_key(name: &str) -> (usize, &str) {
    let family = name.split('.').next().unwrap_or("");
    let rank = match family {
        "dataset" => 0,
        "model" => 1,
        "objective" => 2,
        "sampler" => 4,
        "sample_metrics" => 5,
        _ => 3,
    };
    (rank, name)
}

/// Today's name of a column of an older table.
pub fn renamed(name: &str) -> &str {
    RENAMED
        .iter()
        .find(|(old, _)| *old == name)
        .map_or(name, |(_, new)| new)
}

/// Whether the column `name` tells `rows` apart: some variant of its family (rows with one
/// value of [`owner`]`(name)`; all rows for fixed columns and training options) takes two
/// values, an unset one counting as a value. So `model.hidden` varies when two MLPs differ in
/// width, not because the other model has no width.
pub fn varies<R>(name: &str, rows: &[R], get: impl Fn(&R, &str) -> String) -> bool {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let group = owner(name).map(|o| get(row, o)).unwrap_or_default();
        seen.entry(group).or_default().insert(get(row, name));
    }
    seen.values().any(|values| values.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_become_dotted_columns_and_fixed_ones_are_not_repeated() {
        let record = json!({ "config": {
            "dataset": { "name": "file", "path": "data/iris.csv", "dim": 4, "content_hash": "ab" },
            "model": { "name": "external", "command": ["python3", "a.py"], "args": { "lr": 0.1 } },
            "objective": { "name": "dsm", "sigma": 0.1 },
            "train": { "steps": 10, "kernels": "fused", "lr_schedule": { "name": "cosine" },
                       "grad_clip": null },
            "sampler": { "name": "langevin", "step_size": 0.01 },
            "seed": 3, "backend": "flex"
        }});
        let cells = generated(&record);
        let names: Vec<&str> = cells.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "dataset.content_hash",
                "dataset.path",
                "lr_schedule.name",
                "model.args.lr",
                "model.command",
                "sampler.step_size",
                "train.kernels",
            ]
        );
        assert_eq!(cells["model.command"], r#"["python3","a.py"]"#);
        assert_eq!(cells["model.args.lr"], "0.1");
        assert_eq!(role("dataset.content_hash"), Role::Info);
        assert_eq!(role("model.args.lr"), Role::Param);
    }

    #[test]
    fn a_family_parameter_varies_only_within_its_variant() {
        let rows = [
            [("model", "mlp"), ("model.hidden", "16"), ("ema", "")],
            [("model", "mlp"), ("model.hidden", "16"), ("ema", "0.9")],
            [("model", "linear"), ("model.hidden", ""), ("ema", "")],
        ];
        let get = |r: &[(&str, &str); 3], k: &str| {
            r.iter()
                .find(|(n, _)| *n == k)
                .map_or(String::new(), |(_, v)| v.to_string())
        };
        assert!(!varies("model.hidden", &rows, get));
        assert!(varies("ema", &rows, get));
        assert!(varies("model", &rows, get));
        let wider = [
            rows[0],
            [("model", "mlp"), ("model.hidden", "64"), ("ema", "")],
        ];
        assert!(varies("model.hidden", &wider, get));
    }

    #[test]
    fn old_names_map_to_generated_ones() {
        assert_eq!(renamed("hidden"), "model.hidden");
        assert_eq!(renamed("fisher"), "fisher");
        for (_, new) in RENAMED {
            assert!(is_generated(new), "{new}");
        }
    }
}
