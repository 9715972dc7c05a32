//! `runner compare`: a results table against a reference table (see
//! [`crate::report::compare`]); exit code 1 on a regression, or on a reference configuration
//! missing from the results unless `--shared-only`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::CompareArgs;
use crate::columns::Table;
use crate::report::Summary;
use crate::report::compare::{DEFAULT_METRICS, Tolerance, compare, render};
use crate::store::RUNS_CSV;

/// `runs.csv` itself, or the one inside a results directory.
fn runs_table(path: &Path) -> Result<Table> {
    let file: PathBuf = if path.is_dir() {
        path.join(RUNS_CSV)
    } else {
        path.to_path_buf()
    };
    let table = Table::read(&file)?;
    anyhow::ensure!(!table.rows.is_empty(), "{} has no runs", file.display());
    Ok(table)
}

/// Compares the results in `args.results` with `args.reference`; exit code 1 on a
/// regression or (without `--shared-only`) a missing configuration.
pub fn compare_command(args: CompareArgs) -> Result<ExitCode> {
    let reference = Summary::of(&runs_table(&args.reference)?)
        .with_context(|| format!("reading the reference {}", args.reference.display()))?;
    let now = Summary::of(&runs_table(&args.results)?)
        .with_context(|| format!("reading the results {}", args.results.display()))?;
    // The default metrics the reference measured (a sweep without a sampler has no sample
    // metrics); a metric named with --metric must be there.
    let metrics: Vec<String> = if args.metrics.is_empty() {
        DEFAULT_METRICS
            .iter()
            .filter(|m| reference.metrics.iter().any(|r| r == *m))
            .map(|m| m.to_string())
            .collect()
    } else {
        args.metrics.clone()
    };
    for m in &metrics {
        anyhow::ensure!(
            reference.metrics.contains(m),
            "--metric {m}: the reference has no value of it (it has: {})",
            reference.metrics.join(", ")
        );
    }
    let tol = Tolerance {
        sds: args.sds,
        rel: args.rel,
        abs: args.abs,
    };
    let comparison = compare(&reference, &now, &metrics, tol);
    print!("{}", render(&comparison));
    let missing = comparison.missing.len();
    if missing > 0 {
        if args.shared_only {
            println!(
                "--shared-only: the {missing} missing configurations were not compared and do not \
                 fail the comparison"
            );
        } else {
            println!(
                "the results lack {missing} reference configurations (--shared-only compares only \
                 the configurations both tables hold)"
            );
        }
    }
    Ok(
        if comparison.regressions() > 0 || (missing > 0 && !args.shared_only) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
