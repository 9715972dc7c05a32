//! `runner sweep`.

use std::process::ExitCode;

use anyhow::Result;
use indicatif::MultiProgress;

use super::execute::{Execution, execute_plan};
use super::{default_out, invalid, warn};
use crate::cli::SweepArgs;

/// Expands and runs a sweep file.
pub fn sweep(args: SweepArgs, multi: Option<MultiProgress>) -> Result<ExitCode> {
    let mut loaded = match crate::sweep::load(&args.file.file, &args.file.set) {
        Ok(l) => l,
        Err(d) => return Ok(invalid(&d)),
    };
    warn(&loaded.plan.warnings);
    // A shard draws no figures: `runner report` does, once all shards have ended.
    let report = !(args.no_report || args.dry_run || args.shard.is_some());
    if let Some(shard) = args.shard {
        let all = loaded.plan.jobs.len();
        loaded.plan.jobs.retain(|j| shard.contains(&j.id));
        eprintln!(
            "shard {shard}: {} of the sweep's {all} runs",
            loaded.plan.jobs.len()
        );
    }
    let ex = Execution {
        out: args
            .out
            .unwrap_or_else(|| default_out(&loaded.plan.sweep.name)),
        fresh: args.fresh,
        dry_run: args.dry_run,
        jobs: args.jobs.map(|j| j as usize),
        threads: args.threads.map(|t| t as usize),
        gpu_jobs: args.gpu_jobs as usize,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let executed = execute_plan(loaded, &ex, multi)?;
    // Nothing to draw when nothing could run (refused environment) or the sweep was stopped.
    if report && !executed.interrupted && !executed.jobs.is_empty() {
        match crate::report::write_site(&ex.out, &Default::default()) {
            Ok(index) => println!("report: {}", index.display()),
            Err(e) => eprintln!("warning: no report written: {e:#}"),
        }
    }
    Ok(executed.code)
}
