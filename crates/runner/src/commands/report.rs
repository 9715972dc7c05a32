//! `runner report`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ReportArgs;

/// Aggregates a results directory over seeds and draws its figures.
pub fn report(args: ReportArgs) -> Result<ExitCode> {
    crate::store::repair_table(&args.dir);
    let mut written = crate::report::write_reports(&args.dir)?;
    let opts = crate::report::SiteOptions { runs: args.runs };
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
