//! The command line (clap derive).

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, Parser, Subcommand};
use scorematch::Backend;
use scorematch::data::DatasetConfig;
use scorematch::model::{Activation, ModelConfig};
use scorematch::objective::ObjectiveConfig;
use scorematch::sample::SamplerConfig;

use crate::shard::Shard;

/// The command line with the name lists of its help read from the library's registries (the
/// objectives, models, samplers, … of this build), so `--help` never falls out of date.
pub fn command() -> clap::Command {
    let list = |names: &[&str]| names.join(", ");
    let backends: Vec<&str> = Backend::compiled().into_iter().map(Backend::name).collect();
    let activations: Vec<&str> = Activation::ALL.into_iter().map(Activation::name).collect();
    let selectors = |oracle: bool| {
        crate::columns::selectors(oracle)
            .filter(|c| c.oracle == oracle)
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    Cli::command()
        .mut_subcommand("run", |c| {
            c.mut_arg("dataset", |a| {
                a.help(format!("Data set: {}", list(DatasetConfig::NAMES)))
            })
            .mut_arg("objective", |a| {
                a.help(format!("Objective: {}", list(ObjectiveConfig::NAMES)))
            })
            .mut_arg("model", |a| {
                a.help(format!("Score model: {}", list(ModelConfig::NAMES)))
            })
            .mut_arg("activation", |a| {
                a.help(format!("MLP activation: {}", list(&activations)))
            })
            .mut_arg("backend", |a| {
                a.help(format!("Backend (those in this build): {}", list(&backends)))
            })
            .after_help(format!(
                "Samplers (--set defaults.sampler=NAME, or --set 'defaults.sampler={{ name = \"NAME\", … }}'): {}",
                list(SamplerConfig::NAMES)
            ))
        })
        .mut_subcommand("sample", |c| {
            c.mut_arg("backend", |a| {
                a.help(format!(
                    "Sample on this backend instead of the one the run trained on (in this \
                     build: {})",
                    list(&backends)
                ))
            })
        })
        .mut_subcommand("best", |c| {
            c.mut_arg("by", |a| {
                a.help(format!(
                    "The metric to select by, its mean over seeds (lower or higher is better as \
                     the column says): {}; with --oracle also {}",
                    list(&selectors(false)),
                    list(&selectors(true))
                ))
            })
        })
}

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
    /// Draw one column of runs.csv against another, mean ± sd over seeds, into SVG and PNG
    /// (DIR/plots/<y>_vs_<x>…), by --hue and --facet columns.
    Plot(PlotArgs),
    /// Write (and with --submit, submit) a Slurm job array running the sweep's shards.
    Slurm(SlurmArgs),
    /// Compare results with a reference table within seed-spread tolerances (exit 1 on a
    /// regression, or on a missing configuration unless --shared-only).
    Compare(CompareArgs),
    /// Training throughput against PyTorch and JAX on the peers' protocol (batch 256, MLP
    /// D-128-128-D SiLU, Adam 1e-3, f32), with the GEMM rate, peak memory and 2-run scaling.
    Bench(BenchArgs),
    /// Sample again from a finished run's checkpoint (no retraining), with its sampler or one
    /// changed by --set; appends a row to DIR/sampled.csv.
    Sample(SampleArgs),
    /// Pick each group's best configuration by a metric from the data (by Fisher only with
    /// --oracle) and report its metrics as mean ± sd over seeds; with --seeds, rerun the winners on fresh
    /// seeds and report those.
    Best(BestArgs),
    /// List the built-in data sets as benchmark tasks: dimension, what makes each hard, and
    /// the Fisher divergence of the zero score as a scale.
    Tasks(TasksArgs),
}

/// `runner tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Evaluation points for the zero score's Fisher divergence.
    #[arg(long, default_value_t = 10_000)]
    pub points: usize,
}

/// `runner best`.
#[derive(Debug, Args)]
pub struct BestArgs {
    /// The results directory (the sweep's --out).
    pub dir: PathBuf,
    /// The metric to select by (its mean over seeds; lower or higher is better as the
    /// column says); `--help` lists them.
    #[arg(long, value_name = "COLUMN", default_value = "val_loss")]
    pub by: String,
    /// Allow selecting by a metric that needs the true data distribution (fisher, kl, …):
    /// only for synthetic data, and the output says so.
    #[arg(long)]
    pub oracle: bool,
    /// A column whose values each get their own best configuration (repeatable), e.g.
    /// `--per objective --per dataset`.
    #[arg(long, value_name = "COLUMN")]
    pub per: Vec<String>,
    /// Rerun each winner on these seeds (comma-separated, e.g. 100,101,102) into DIR/best/
    /// and report the fresh seeds' numbers.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Concurrent runs for --seeds.
    #[arg(long)]
    pub jobs: Option<u32>,
}

/// `runner sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The results directory (the sweep's --out).
    pub dir: PathBuf,
    /// The trained run's id or a unique prefix of it (its directory under DIR/runs/).
    #[arg(long, value_name = "ID")]
    pub run: String,
    /// Change the sampler or the sample metrics, e.g. `sampler.step_size=0.02` or
    /// `sampler={ name = "pc", steps = 200 }` (VALUE is TOML). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The sampler's seed (default: the run's seed, which reproduces its own samples).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Sample on this backend instead of the one the run trained on.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
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
    /// GPU runs (backend wgpu) at once, beside the --jobs CPU runs: keeps one device from
    /// being oversubscribed.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub gpu_jobs: u32,
    /// Output directory (default: results/<sweep name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Start over: move the output directory aside to <DIR>.old-<unix time> first.
    #[arg(long, conflicts_with = "shard")]
    pub fresh: bool,
    /// Show what would run, run nothing, create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write no figures or HTML report at the end (summary.csv and summary.md still are).
    #[arg(long)]
    pub no_report: bool,
    /// Run only shard K of N (K = 0..N-1), chosen by a hash of each run id; any number of
    /// shards may share one output directory.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
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
    /// Data set (`--help` lists them).
    #[arg(long)]
    pub dataset: String,
    /// Data dimension.
    #[arg(long)]
    pub dim: Option<u64>,
    /// Objective (`--help` lists them).
    #[arg(long)]
    pub objective: String,
    /// Noise level σ (dsm; esm against p_σ).
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Random projections per sample (ssm, ssm-vr).
    #[arg(long)]
    pub projections: Option<u64>,
    /// Score model (`--help` lists them).
    #[arg(long, default_value = "mlp")]
    pub model: String,
    /// MLP hidden width.
    #[arg(long)]
    pub hidden: Option<u64>,
    /// MLP hidden layers.
    #[arg(long)]
    pub depth: Option<u64>,
    /// MLP activation (`--help` lists them).
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
    /// Backend (`--help` lists those in this build).
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

/// `runner plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A results directory (holding runs.csv).
    pub dir: PathBuf,
    /// The x column (numbers give lines sorted by x; other values, categories).
    #[arg(long, value_name = "COLUMN")]
    pub x: String,
    /// The y column (numbers): mean ± sd over the ok runs sharing x, hue and facet.
    #[arg(long, value_name = "COLUMN")]
    pub y: String,
    /// One series (colour) per value of this column.
    #[arg(long, value_name = "COLUMN")]
    pub hue: Option<String>,
    /// One panel per value of this column.
    #[arg(long, value_name = "COLUMN")]
    pub facet: Option<String>,
    /// Log10 x axis (runs with x ≤ 0 are left out, with a warning).
    #[arg(long)]
    pub logx: bool,
    /// Log10 y axis (points whose mean is ≤ 0 are left out, with a warning).
    #[arg(long)]
    pub logy: bool,
    /// Write PATH.svg and PATH.png instead of DIR/plots/<y>_vs_<x>[_by_<hue>][_per_<facet>].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// `runner slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The sweep file and overrides (passed on to every task).
    #[command(flatten)]
    pub file: SweepFile,
    /// Array tasks, one shard each (default: about one per pending run, at most about 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// Slurm partition (default: the cluster's default).
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Time limit of each task, as sbatch takes it (e.g. 2:00:00).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// Cores of each task; it runs that many runs at once, one thread each.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus_per_task: u32,
    /// Memory of each task, as sbatch takes it (e.g. 4G).
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Output directory, shared by all tasks (default: results/<sweep name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Submit with sbatch, then a job running `runner report` after the array ends.
    #[arg(long)]
    pub submit: bool,
}

/// `runner compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference: a runs.csv or a results directory holding one.
    pub reference: PathBuf,
    /// The results to check: a runs.csv or a results directory holding one.
    pub results: PathBuf,
    /// A metric to compare (repeatable; default: fisher, fisher_sigma, mode_weight_tv,
    /// sample_swd).
    #[arg(long = "metric", value_name = "COLUMN")]
    pub metrics: Vec<String>,
    /// Tolerance in seed standard deviations (the larger of reference and new).
    #[arg(long, default_value_t = 3.0, value_name = "K")]
    pub sds: f64,
    /// Relative tolerance floor, as a fraction of the reference mean.
    #[arg(long, default_value_t = 0.1, value_name = "R")]
    pub rel: f64,
    /// Absolute tolerance floor.
    #[arg(long, default_value_t = 1e-6, value_name = "A")]
    pub abs: f64,
    /// Compare only the configurations both tables hold: reference configurations missing
    /// from the results are listed but do not fail the comparison.
    #[arg(long)]
    pub shared_only: bool,
}

/// `runner bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// One repeat of 0.2 s per case (a smoke run, not a measurement).
    #[arg(long)]
    pub quick: bool,
    /// Backends to run every case on (default: every compiled CPU backend).
    #[arg(long, value_delimiter = ',', value_name = "B,…")]
    pub backends: Vec<String>,
    /// Thread counts, of those in the peers' table.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2], value_name = "N,…")]
    pub threads: Vec<usize>,
    /// Objectives to keep (default: all in the peers' table).
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    pub objectives: Vec<String>,
    /// Dimensions to keep (default: all in the peers' table).
    #[arg(long, value_delimiter = ',', value_name = "D,…")]
    pub dims: Vec<usize>,
    /// Timed repeats per case (the median is reported).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub repeats: usize,
    /// Minimum length of one repeat in seconds.
    #[arg(long, default_value_t = 0.5, value_name = "S")]
    pub seconds: f64,
    /// The peers' table.
    #[arg(
        long,
        default_value = "results/reference/peer_throughput.csv",
        value_name = "CSV"
    )]
    pub peers: PathBuf,
    /// Where the CSV tables go.
    #[arg(long, default_value = "results/bench", value_name = "DIR")]
    pub out: PathBuf,
    /// Skip the peak-memory runs.
    #[arg(long)]
    pub no_memory: bool,
    /// Skip the two-concurrent-runs measurement.
    #[arg(long)]
    pub no_scaling: bool,
    /// Skip the energy-network cases (each objective at D = 2, 10, 50 against the score
    /// network of the same size).
    #[arg(long)]
    pub no_energy: bool,
    /// Skip fd-ssm and fd-ssm-vr against ssm and ssm-vr (score and energy networks,
    /// D = 2, 10, 50, 100).
    #[arg(long)]
    pub no_fd: bool,
    /// Run only this case, `objective/dataset/dim/backend/threads` (repeatable; no GEMM
    /// probe, memory or scaling runs).
    #[arg(long, value_name = "CASE")]
    pub case: Vec<String>,
    /// Internal: measure one case's peak memory in this process (the child of a bench).
    #[arg(long, hide = true, value_name = "CASE")]
    pub memory_case: Option<String>,
}
