//! The command line (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Compare score-matching objectives by running declarative sweeps.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Expand a sweep file and run it (finished runs are kept and skipped).
    Sweep(SweepArgs),
    /// Show the expanded grid and how many runs are done or pending.
    List(ListArgs),
    /// Parse and check a sweep file without running anything.
    Validate(ValidateArgs),
    /// One run from flags, recorded like a sweep's.
    Run(Box<RunArgs>),
    /// Aggregate a results directory over seeds (summary.csv, summary.md) and draw its
    /// figures into report/ (PNG, SVG, index.html).
    Report(ReportArgs),
}

/// Arguments shared by commands that read a sweep file.
#[derive(Debug, Args)]
pub struct SweepFile {
    /// The sweep file (TOML).
    pub file: PathBuf,
    /// Override a value of the file, e.g. `defaults.steps=200` or `grid.seed=[0]` (VALUE is
    /// TOML; a bare word is a string). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `runner sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep file and overrides.
    #[command(flatten)]
    pub file: SweepFile,
    /// Concurrent runs (default: one per core); each run gets max(1, cores/jobs) threads.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Threads per run (default: max(1, cores/jobs)).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Output directory (default: results/<sweep name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Start over: move the output directory aside to <DIR>.old-<unix time> first.
    #[arg(long)]
    pub fresh: bool,
    /// Show what would run, run nothing, create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write no figures or HTML report at the end (summary.csv and summary.md still are).
    #[arg(long)]
    pub no_report: bool,
}

/// `runner list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The sweep file and overrides.
    #[command(flatten)]
    pub file: SweepFile,
    /// Output directory whose runs count as done (default: results/<sweep name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `runner validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The sweep file and overrides.
    #[command(flatten)]
    pub file: SweepFile,
}

/// `runner run`: the flags are shorthand for a one-run sweep's `[defaults]`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Data set (gaussian, standard_normal, 8gaussians, gmm, funnel, banana).
    #[arg(long)]
    pub dataset: String,
    /// Data dimension.
    #[arg(long)]
    pub dim: Option<u64>,
    /// Objective (esm, ism, ssm, ssm-vr, dsm, dsm-multi).
    #[arg(long)]
    pub objective: String,
    /// Noise level σ (dsm; esm against p_σ).
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Random projections per sample (ssm, ssm-vr).
    #[arg(long)]
    pub projections: Option<u64>,
    /// Score model (mlp, linear).
    #[arg(long, default_value = "mlp")]
    pub model: String,
    /// MLP hidden width.
    #[arg(long)]
    pub hidden: Option<u64>,
    /// MLP hidden layers.
    #[arg(long)]
    pub depth: Option<u64>,
    /// MLP activation (silu, softplus, tanh, elu, relu).
    #[arg(long)]
    pub activation: Option<String>,
    /// Optimiser steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Batch size.
    #[arg(long)]
    pub batch: Option<u64>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Evaluation set size.
    #[arg(long)]
    pub eval_samples: Option<u64>,
    /// Training pool size.
    #[arg(long)]
    pub pool_size: Option<u64>,
    /// Float precision (f32, f64).
    #[arg(long)]
    pub precision: Option<String>,
    /// Run seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Backend (flex, ndarray).
    #[arg(long)]
    pub backend: Option<String>,
    /// Threads for the run's tensor work (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Any other parameter, as in a sweep file: `defaults.grad_clip=1.0`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output directory (default: results/run).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `runner report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results directory (holding runs.csv).
    pub dir: PathBuf,
    /// Draw the score field and samples of this run (id or unique prefix; 2-D data) instead
    /// of the best run of each objective. Repeatable.
    #[arg(long = "run", value_name = "ID")]
    pub runs: Vec<String>,
}
