//! The subcommands. Each returns the process exit code: 0 when all is well, 1 when some run
//! failed (or anything else went wrong), 2 when the input is invalid.

mod bench;
mod best;
mod compare;
mod execute;
mod list;
#[cfg(test)]
mod parameter_columns;
mod plot;
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
        Command::Plot(args) => plot::plot(args),
        Command::Slurm(args) => slurm::slurm(args),
        Command::Compare(args) => compare::compare_command(args),
        Command::Bench(args) => bench::bench(args),
        Command::Sample(args) => sample::sample(args),
        Command::Best(args) => best::best(args, multi),
        Command::Tasks(args) => tasks::tasks(&args),
    }
}

/// `DIR/runs.csv`, or (said on stderr) the bad-input exit code when it cannot be read.
fn read_runs(dir: &Path) -> std::result::Result<crate::columns::Table, ExitCode> {
    crate::columns::Table::read(&dir.join(crate::store::RUNS_CSV)).map_err(|e| {
        eprintln!("{}: {e:#}", dir.display());
        ExitCode::from(BAD_INPUT)
    })
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

/// The id of the run in `dir/runs/` named by `prefix` (a whole id, or the start of exactly
/// one), or the message to print: no such run, or the runs an ambiguous prefix matches.
pub fn resolve_run(dir: &Path, prefix: &str) -> Result<String, String> {
    if prefix.is_empty() {
        return Err(format!("no run \"\" in {}: give a run id", dir.display()));
    }
    let runs = dir.join("runs");
    let mut matches: Vec<String> = std::fs::read_dir(&runs)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|id| id.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    matches.sort();
    if matches.iter().any(|id| id == prefix) {
        return Ok(prefix.to_string());
    }
    match matches.as_slice() {
        [] => Err(format!("no run {prefix} in {}", dir.display())),
        [id] => Ok(id.clone()),
        many => Err(format!(
            "run {prefix} is ambiguous in {}: it starts {} run ids; give more of one:\n{}",
            dir.display(),
            many.len(),
            many.iter()
                .map(|id| format!("  {id}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_named_by_a_unique_prefix() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["abc123", "abd456", "abd789"] {
            std::fs::create_dir_all(dir.path().join("runs").join(id)).unwrap();
        }
        assert_eq!(resolve_run(dir.path(), "abc").unwrap(), "abc123");
        assert_eq!(resolve_run(dir.path(), "abd456").unwrap(), "abd456");
        // A whole id names its run even when it starts another.
        std::fs::create_dir_all(dir.path().join("runs/abc123x")).unwrap();
        assert_eq!(resolve_run(dir.path(), "abc123").unwrap(), "abc123");
        assert!(resolve_run(dir.path(), "abc1").is_err());
        let shown = dir.path().display();
        assert_eq!(
            resolve_run(dir.path(), "zz").unwrap_err(),
            format!("no run zz in {shown}")
        );
        let ambiguous = resolve_run(dir.path(), "abd").unwrap_err();
        assert!(
            ambiguous.starts_with(&format!("run abd is ambiguous in {shown}: it starts 2")),
            "{ambiguous}"
        );
        assert!(
            ambiguous.contains("  abd456\n  abd789") && !ambiguous.contains("abc123"),
            "{ambiguous}"
        );
        assert!(resolve_run(dir.path(), "").is_err());
        assert!(resolve_run(&dir.path().join("none"), "abc").is_err());
    }
}
