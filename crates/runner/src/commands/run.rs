//! `runner run`: one run from flags. The flags become a one-run sweep's `[defaults]`, so the
//! run is checked, identified and recorded exactly like a sweep's.

use std::process::ExitCode;

use anyhow::Result;
use indicatif::MultiProgress;

use super::execute::{Execution, execute_plan};
use super::{default_out, invalid};
use crate::cli::RunArgs;
use crate::columns::Table;
use crate::sweep::{FlagValue, load_text};

/// Runs one configuration given by flags.
pub fn run(args: RunArgs, multi: Option<MultiProgress>) -> Result<ExitCode> {
    let flags = flag_values(&args);
    let loaded = match load_text("runner run", "name = \"run\"\n", "run", &args.set, &flags) {
        Ok(l) => l,
        Err(d) => return Ok(invalid(&d)),
    };
    let ex = Execution {
        out: args.out.clone().unwrap_or_else(|| default_out("run")),
        fresh: false,
        dry_run: false,
        jobs: Some(1),
        gpu_jobs: 1,
        threads: args.threads.map(|t| t as usize),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let executed = execute_plan(loaded, &ex, multi)?;
    let (code, jobs) = (executed.code, executed.jobs);
    if jobs.is_empty() {
        return Ok(code);
    }
    let table = Table::read(&ex.out.join(crate::store::RUNS_CSV))?;
    for job in &jobs {
        if let Some(row) = table.rows.iter().find(|r| table.get(r, "run_id") == job.id) {
            for (name, v) in table.header.iter().zip(row) {
                if !v.is_empty() {
                    println!("{name:<18} {v}");
                }
            }
        }
    }
    Ok(code)
}

/// Each given flag as the sweep key it stands for.
fn flag_values(a: &RunArgs) -> Vec<FlagValue> {
    use toml::Value as V;
    let mut out = Vec::new();
    let mut put = |flag: &str, key: &str, value: Option<V>| {
        if let Some(value) = value {
            let shown = match &value {
                V::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push(FlagValue {
                label: format!("--{flag} {shown}"),
                key: format!("defaults.{key}"),
                value,
            });
        }
    };
    let int = |x: Option<u64>| x.map(|v| V::Integer(v as i64));
    let float = |x: Option<f64>| x.map(V::Float);
    let text = |x: &Option<String>| x.clone().map(V::String);
    put(
        "dataset",
        "dataset.name",
        Some(V::String(a.dataset.clone())),
    );
    put("dim", "dataset.dim", int(a.dim));
    put(
        "objective",
        "objective.name",
        Some(V::String(a.objective.clone())),
    );
    put("sigma", "objective.sigma", float(a.sigma));
    put("projections", "objective.projections", int(a.projections));
    put("model", "model.name", Some(V::String(a.model.clone())));
    put("hidden", "model.hidden", int(a.hidden));
    put("depth", "model.depth", int(a.depth));
    put("activation", "model.activation", text(&a.activation));
    put("steps", "steps", int(a.steps));
    put("batch", "batch", int(a.batch));
    put("lr", "lr", float(a.lr));
    put("eval-samples", "eval_samples", int(a.eval_samples));
    put("pool-size", "pool_size", int(a.pool_size));
    put("precision", "precision", text(&a.precision));
    put("seed", "seed", int(a.seed));
    put("backend", "backend", text(&a.backend));
    out
}
