//! `runner sample DIR --run ID` (an id or a unique prefix): samples again from a finished run's checkpoint, without
//! retraining, with the sampler and sample metrics it was trained with or changed by
//! `--set sampler.…` / `--set sample_metrics.…`, on any backend. Each call appends one row to
//! `DIR/sampled.csv` naming the trained run it came from.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use scorematch::checkpoint::{self, CHECKPOINT_FILE, Checkpoint};
use scorematch::sample::{ModelScore, sample_and_evaluate};
use scorematch::{Backend, NoProgress, RunConfig};

use super::BAD_INPUT;
use crate::cli::SampleArgs;
use crate::sweep::overrides::{Segment, parse_path};

/// The table `runner sample` appends to, in the results directory.
pub const SAMPLED_CSV: &str = "sampled.csv";

/// Keys `--set` may change: the model was trained with everything else.
const CHANGEABLE: [&str; 2] = ["sampler", "sample_metrics"];

/// Samples from run `args.run`'s checkpoint.
pub fn sample(args: SampleArgs) -> Result<ExitCode> {
    let run = match super::resolve_run(&args.dir, &args.run) {
        Ok(id) => id,
        Err(message) => {
            eprintln!("--run {}: {message}", args.run);
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let path = args.dir.join("runs").join(&run).join(CHECKPOINT_FILE);
    let fail = |message: String| {
        eprintln!("{}: {message}", path.display());
        Ok(ExitCode::from(BAD_INPUT))
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            return fail(format!(
                "cannot read the run's checkpoint ({e}); runs finish with one since checkpoints \
                 were introduced"
            ));
        }
    };
    let stored = match checkpoint::decode(&bytes) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let mut config = match with_overrides(&stored.config, &args.set) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    if let Some(name) = &args.backend {
        match Backend::from_name(name) {
            Ok(b) => config.backend = b,
            Err(e) => {
                eprintln!("--backend {name}: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        }
    }
    let errors = config.validate();
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{}: {}: {}", path.display(), e.key, e.message);
        }
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let seed = args.seed.unwrap_or(config.seed);
    let checkpoint = Checkpoint {
        config: config.clone(),
        ..stored
    };
    // A checkpoint whose parameters do not fit its configuration's model is bad input.
    let (model, ctx) = match checkpoint.model(config.backend) {
        Ok(rebuilt) => rebuilt,
        Err(e @ scorematch::Error::Checkpoint(_)) => return fail(e.to_string()),
        Err(e) => return Err(e).context("rebuilding the trained model"),
    };
    let density = config.dataset.build()?;
    let score = ModelScore::new(&model, &ctx, density.dim());
    let Some(sampled) = sample_and_evaluate(
        &config.sampler,
        &config.sample_metrics,
        &score,
        config.objective.sigma(),
        density.as_ref(),
        seed,
        &mut NoProgress,
    )?
    else {
        eprintln!("the sampler is `none`: set one, e.g. --set sampler.name=langevin");
        return Ok(ExitCode::from(BAD_INPUT));
    };
    let report = sampled.report;
    let mut row = vec![
        ("train_run_id".to_string(), run.clone()),
        ("backend".to_string(), config.backend.name().to_string()),
        ("sample_seed".to_string(), seed.to_string()),
        ("sampler".to_string(), report.sampler.clone()),
        (
            "sampler_config".to_string(),
            serde_json::to_string(&config.sampler)?,
        ),
        ("samples".to_string(), report.samples.to_string()),
        ("sample_s".to_string(), format!("{}", report.sample_seconds)),
        (
            "message".to_string(),
            report.message.clone().unwrap_or_default(),
        ),
        (
            "sample_rhat".to_string(),
            report.rhat.map(|v| v.to_string()).unwrap_or_default(),
        ),
    ];
    for &metric in scorematch::metric::SampleMetric::ALL {
        let value = report.metrics.get(metric);
        row.push((
            metric.column().to_string(),
            value.map(|v| v.to_string()).unwrap_or_default(),
        ));
    }
    for &metric in scorematch::metric::SampleMetric::ALL {
        let value = report.floor.as_ref().and_then(|f| f.get(metric));
        row.push((
            metric.floor_presentation().name.to_string(),
            value.map(|v| v.to_string()).unwrap_or_default(),
        ));
    }
    for (k, v) in &row {
        if !v.is_empty() {
            println!("{k:<18} {v}");
        }
    }
    // Under the results directory's lock, so that concurrent calls (and sweeps) keep every
    // row.
    let store = crate::store::Store::existing(&args.dir)
        .with_context(|| format!("{} is not a results directory", args.dir.display()))?;
    let _lock = store.lock()?;
    append_row(&args.dir.join(SAMPLED_CSV), &row)?;
    Ok(ExitCode::SUCCESS)
}

/// `config` with the `KEY=VALUE` overrides applied; only keys under [`CHANGEABLE`] may change.
fn with_overrides(config: &RunConfig, sets: &[String]) -> Result<RunConfig, String> {
    let mut root = toml::Value::try_from(config).map_err(|e| format!("internal: {e}"))?;
    for arg in sets {
        let Some((key, text)) = arg.split_once('=') else {
            return Err(format!("--set {arg}: expected KEY=VALUE"));
        };
        let (key, text) = (key.trim(), text.trim());
        let path = parse_path(key).map_err(|m| format!("--set {key}: {m}"))?;
        if !matches!(path.first(), Some(Segment::Key(k)) if CHANGEABLE.contains(&k.as_str())) {
            return Err(format!(
                "--set {key}: only sampler and sample_metrics can change (the model was trained \
                 with the rest)"
            ));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_string()));
        put(&mut root, &path, value).map_err(|m| format!("--set {key}: {m}"))?;
    }
    root.try_into::<RunConfig>()
        .map_err(|e| format!("--set: {}", e.to_string().trim()))
}

/// Puts `value` at `path` in `root`, creating tables on the way.
fn put(root: &mut toml::Value, path: &[Segment], value: toml::Value) -> Result<(), String> {
    let mut node = root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        node = match (seg, node) {
            (Segment::Key(k), toml::Value::Table(t)) => {
                if last {
                    t.insert(k.clone(), value);
                    return Ok(());
                }
                t.entry(k.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            (Segment::Index(idx), toml::Value::Array(items)) => {
                let len = items.len();
                let item = items
                    .get_mut(*idx)
                    .ok_or_else(|| format!("index {idx} is out of range ({len} values)"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            _ => return Err("the key path does not fit the configuration".into()),
        };
    }
    Ok(())
}

/// Appends `row` to the CSV at `path` (header first when the file is new), by writing the
/// whole table to a temporary file and renaming it over the old one.
fn append_row(path: &Path, row: &[(String, String)]) -> Result<()> {
    let header: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    if path.exists() {
        let mut reader =
            csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
        let old: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        for record in reader.records() {
            let record = record?;
            rows.push(
                header
                    .iter()
                    .map(|h| {
                        old.iter()
                            .position(|o| o == h)
                            .and_then(|i| record.get(i))
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect(),
            );
        }
    }
    rows.push(row.iter().map(|(_, v)| v.clone()).collect());
    let tmp = path.with_extension("csv.tmp");
    {
        let mut writer =
            csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        writer.write_record(&header)?;
        for r in &rows {
            writer.write_record(r)?;
        }
        writer.flush()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
