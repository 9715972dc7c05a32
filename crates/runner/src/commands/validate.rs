//! `runner validate`.

use std::process::ExitCode;

use anyhow::Result;

use super::{invalid, warn};
use crate::cli::ValidateArgs;

/// Parses and checks a sweep file.
pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let loaded = match crate::sweep::load(&args.file.file, &args.file.set) {
        Ok(l) => l,
        Err(d) => return Ok(invalid(&d)),
    };
    warn(&loaded.plan.warnings);
    if let Err(d) = loaded.plan.check_environment() {
        return Ok(invalid(&d));
    }
    let p = &loaded.plan;
    println!(
        "{}: ok: {} runs ({} points, {} excluded, {} duplicates)",
        args.file.file.display(),
        p.jobs.len(),
        p.points,
        p.excluded,
        p.duplicates
    );
    Ok(ExitCode::SUCCESS)
}
