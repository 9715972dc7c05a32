//! `runner report`.

use std::process::ExitCode;

use anyhow::Result;

use super::{BAD_INPUT, resolve_run};
use crate::cli::ReportArgs;

/// Aggregates a results directory over seeds and draws its figures.
pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let mut runs = Vec::new();
    for prefix in &args.runs {
        match resolve_run(&args.dir, prefix) {
            Ok(id) => runs.push(id),
            Err(message) => {
                eprintln!("--run {prefix}: {message}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        }
    }
    crate::store::repair_table(&args.dir);
    let mut written = crate::report::write_reports(&args.dir)?;
    let opts = crate::report::SiteOptions { runs };
    written.push(crate::report::write_site(&args.dir, &opts)?);
    for path in &written {
        if path.extension().is_some_and(|e| e == "md") {
            print!("{}", std::fs::read_to_string(path)?);
        }
    }
    for path in &written {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
