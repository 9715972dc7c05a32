//! The `runner` command line.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::FromArgMatches as _;
use indicatif::MultiProgress;
use runner::cli::Cli;

fn main() -> ExitCode {
    let cli =
        Cli::from_arg_matches(&runner::cli::command().get_matches()).unwrap_or_else(|e| e.exit());
    let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
    runner::logging::init(multi.clone());
    match runner::commands::dispatch(cli, multi) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
