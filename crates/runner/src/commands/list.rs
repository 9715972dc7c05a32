//! `runner list`.

use std::process::ExitCode;

use anyhow::Result;

use super::{default_out, invalid, warn};
use crate::cli::ListArgs;
use crate::listing;
use crate::store::Store;

/// Shows the expanded grid and what is done.
pub fn list(args: ListArgs) -> Result<ExitCode> {
    let mut loaded = match crate::sweep::load(&args.file.file, &args.file.set) {
        Ok(l) => l,
        Err(d) => return Ok(invalid(&d)),
    };
    warn(&loaded.plan.warnings);
    listing::label_jobs(&mut loaded.plan.jobs);
    let out = args
        .out
        .unwrap_or_else(|| default_out(&loaded.plan.sweep.name));
    let statuses = match Store::existing(&out) {
        Some(store) => store.statuses()?,
        None => Default::default(),
    };
    print!("{}", listing::render(&loaded.plan, &statuses, &out));
    Ok(ExitCode::SUCCESS)
}
