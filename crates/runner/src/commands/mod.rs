//! The subcommands. Each returns the process exit code: 0 when all is well, 1 when some run
//! failed (or anything else went wrong), 2 when the input is invalid.

mod bench;
mod best;
mod compare;
mod execute;
mod list;
mod report;
mod run;
mod sample;
mod slurm;
mod sweep;
mod tasks;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use indicatif::MultiProgress;

use crate::cli::{Cli, Command};
use crate::sweep::Diagnostics;

/// Exit code for invalid input (a sweep file with errors).
pub const BAD_INPUT: u8 = 2;

/// Runs a parsed command line. `multi` draws progress bars when stderr is a terminal.
pub fn dispatch(cli: Cli, multi: Option<MultiProgress>) -> Result<ExitCode> {
    match cli.command {
        Command::Sweep(args) => sweep::sweep(args, multi),
        Command::List(args) => list::list(args),
        Command::Validate(args) => validate::validate(args),
        Command::Run(args) => run::run(*args, multi),
        Command::Report(args) => report::report(args),
        Command::Slurm(args) => slurm::slurm(args),
        Command::Compare(args) => compare::compare_command(args),
        Command::Bench(args) => bench::bench(args),
        Command::Sample(args) => sample::sample(args),
        Command::Best(args) => best::best(args, multi),
        Command::Tasks(args) => tasks::tasks(&args),
    }
}

/// Prints every diagnostic, one per line, and returns the bad-input exit code.
fn invalid(diagnostics: &Diagnostics) -> ExitCode {
    for d in &diagnostics.0 {
        eprintln!("{d}");
    }
    let n = diagnostics.0.len();
    eprintln!(
        "{n} error{}; nothing was run",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(BAD_INPUT)
}

/// Prints warnings.
fn warn(diagnostics: &Diagnostics) {
    for d in &diagnostics.0 {
        eprintln!("warning: {d}");
    }
}

/// Where a sweep's results go by default.
fn default_out(name: &str) -> PathBuf {
    Path::new("results").join(name)
}
