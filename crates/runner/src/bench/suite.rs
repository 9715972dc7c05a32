//! A whole benchmark run: the FMA peak and GEMM probes, every peer case on each backend,
//! peak memory and concurrent runs, printed and written as CSV tables.

use std::io::Write;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use scorematch::Backend;
use scorematch::kernels::rates::{fma_peak_rate, gemm_rate};

use super::{
    BATCH, BenchCase, BenchSettings, Comparison, PairRow, PairedComparison, compare,
    concurrent_scaling, pair_rows, peer_cases, print_table, read_peers, run_case,
    spawn_memory_case, write_csv,
};

/// What a benchmark suite runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteOptions {
    /// The peers' table.
    pub peers: std::path::PathBuf,
    /// Where the CSV files go.
    pub out_dir: std::path::PathBuf,
    /// Backends to run every peer case on.
    pub backends: Vec<Backend>,
    /// Thread counts to keep (of those in the peers' table).
    pub threads: Vec<usize>,
    /// Objectives to keep (all if empty).
    pub objectives: Vec<String>,
    /// Dimensions to keep (all if empty).
    pub dims: Vec<usize>,
    /// Run exactly these cases instead of the peers' grid (if not empty).
    pub cases: Vec<BenchCase>,
    /// Measure the GEMM rate first.
    pub gemm_probe: bool,
    /// Timing settings.
    pub settings: BenchSettings,
    /// A driver that handles [`MEMORY_ARG`](super::MEMORY_ARG), to measure peak memory of one run per objective
    /// at D = 100 in a child process (skipped if `None`).
    /// (The program and the arguments before [`MEMORY_ARG`](super::MEMORY_ARG).)
    pub memory_driver: Option<(std::path::PathBuf, Vec<String>)>,
    /// Measure two concurrent single-thread runs against one (ESM and ISM at D = 2 and 100).
    pub scaling: bool,
    /// Paired comparisons to measure ([`ENERGY`](super::ENERGY),
    /// [`FINITE_DIFFERENCES`](super::FINITE_DIFFERENCES)); each writes `<name>.csv`.
    pub pairs: Vec<PairedComparison>,
}

/// A peak-memory measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    /// The case, as `objective/dataset/dim/backend/threads`.
    pub case: String,
    /// Peak resident memory of one full run, MiB.
    pub peak_rss_mib: f64,
}

/// A concurrency measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScalingRow {
    /// The case, as `objective/dataset/dim/backend/threads`.
    pub case: String,
    /// Steps/s of one single-thread run alone.
    pub alone: f64,
    /// Steps/s of the first of two concurrent runs.
    pub first: f64,
    /// Steps/s of the second.
    pub second: f64,
    /// (first + second) / alone.
    pub speedup: f64,
    /// The same in steps per CPU-second of each run's thread.
    pub cpu_speedup: Option<f64>,
}

/// The GEMM-rate probe's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GemmRow {
    /// `m×k·k×n`.
    pub shape: String,
    /// Threads.
    pub threads: usize,
    /// GFLOP/s.
    pub gflops: f64,
}

/// Everything a suite measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteReport {
    /// Throughput against the peers.
    pub rows: Vec<Comparison>,
    /// GEMM rates.
    pub gemm: Vec<GemmRow>,
    /// Peak memory.
    pub memory: Vec<MemoryRow>,
    /// Concurrent runs.
    pub scaling: Vec<ScalingRow>,
    /// The paired comparisons' rows, in the order of [`SuiteOptions::pairs`].
    pub pairs: Vec<Vec<PairRow>>,
}

/// Runs the suite, printing progress and tables to `out`, and writes `throughput.csv`,
/// `gemm.csv`, `memory.csv` and `scaling.csv` to the output directory.
pub fn run_suite(opts: &SuiteOptions, out: &mut dyn Write) -> Result<SuiteReport> {
    let io = |e: std::io::Error| anyhow!("writing the report: {e}");
    let peers = read_peers(&opts.peers)?;
    writeln!(out, "machine: {}", machine()).map_err(io)?;
    writeln!(out, "load average at start: {}", load_average()).map_err(io)?;
    let peak = fma_peak_rate(5);
    writeln!(out, "FMA peak f32, 1 thread: {peak:.1} GFLOP/s").map_err(io)?;
    let mut gemm = Vec::new();
    for threads in [1, 2].into_iter().filter(|_| opts.gemm_probe) {
        let gflops = gemm_rate(BATCH, 128, 128, threads, 5)?;
        writeln!(
            out,
            "GEMM 256×128·128×128 f32, {threads} thread(s): {gflops:.1} GFLOP/s"
        )
        .map_err(io)?;
        gemm.push(GemmRow {
            shape: "256x128*128x128".into(),
            threads,
            gflops,
        });
    }
    let keep = |c: &BenchCase| {
        opts.threads.contains(&c.threads)
            && (opts.objectives.is_empty() || opts.objectives.contains(&c.objective))
            && (opts.dims.is_empty() || opts.dims.contains(&c.dim))
    };
    let cases: Vec<BenchCase> = if opts.cases.is_empty() {
        opts.backends
            .iter()
            .flat_map(|&b| peer_cases(&peers, b))
            .filter(keep)
            .collect()
    } else {
        opts.cases.clone()
    };
    let mut rows = Vec::new();
    for case in &cases {
        let result = run_case(case, &opts.settings)?;
        match compare(&result, &peers, Some(peak)) {
            Some(row) => {
                print_table(out, std::slice::from_ref(&row)).map_err(io)?;
                rows.push(row);
            }
            None => writeln!(
                out,
                "{}: {:.1} steps/s ({}); no peer ran this case",
                case.spec(),
                result.steps_per_sec,
                result.kernels.name()
            )
            .map_err(io)?,
        }
    }
    // The peers' table (empty when the filters leave no peer case, e.g. fd objectives only).
    if !rows.is_empty() {
        writeln!(out, "\nall cases:").map_err(io)?;
        print_table(out, &rows).map_err(io)?;
    }
    let mut memory = Vec::new();
    if let Some((exe, args)) = &opts.memory_driver {
        for &backend in &opts.backends {
            for objective in ["esm", "ism", "ssm", "ssm_vr", "dsm"] {
                let case = BenchCase {
                    objective: objective.into(),
                    dataset: "gaussian".into(),
                    dim: 100,
                    backend,
                    threads: 1,
                    model: "mlp".into(),
                };
                let mib = spawn_memory_case(exe, args, &case)?;
                writeln!(out, "peak RSS of one run {}: {mib:.1} MiB", case.spec()).map_err(io)?;
                memory.push(MemoryRow {
                    case: case.spec(),
                    peak_rss_mib: mib,
                });
            }
        }
    }
    let mut scaling = Vec::new();
    if opts.scaling {
        for (objective, dim) in [("esm", 2), ("esm", 100), ("ism", 2), ("ssm", 100)] {
            let case = BenchCase {
                objective: objective.into(),
                dataset: "gaussian".into(),
                dim,
                backend: Backend::Flex,
                threads: 1,
                model: "mlp".into(),
            };
            let s = concurrent_scaling(&case, &opts.settings)?;
            writeln!(
                out,
                "two concurrent runs of {}: {:.1} + {:.1} steps/s vs {:.1} alone: {:.2}× \
                 (per CPU-second: {})",
                case.spec(),
                s.concurrent[0].steps_per_sec,
                s.concurrent[1].steps_per_sec,
                s.alone.steps_per_sec,
                s.speedup(),
                s.cpu_speedup().map_or("-".into(), |x| format!("{x:.2}×"))
            )
            .map_err(io)?;
            scaling.push(ScalingRow {
                case: case.spec(),
                alone: s.alone.steps_per_sec,
                first: s.concurrent[0].steps_per_sec,
                second: s.concurrent[1].steps_per_sec,
                speedup: s.speedup(),
                cpu_speedup: s.cpu_speedup(),
            });
        }
    }
    let pairs = opts
        .pairs
        .iter()
        .map(|c| pair_rows(c, &opts.backends, &opts.objectives, &opts.settings, out))
        .collect::<Result<Vec<_>>>()?;
    writeln!(out, "load average at end: {}", load_average()).map_err(io)?;
    let dir = &opts.out_dir;
    write_csv(&dir.join("throughput.csv"), &rows)?;
    write_csv(&dir.join("gemm.csv"), &gemm)?;
    write_csv(&dir.join("memory.csv"), &memory)?;
    write_csv(&dir.join("scaling.csv"), &scaling)?;
    for (comparison, rows) in opts.pairs.iter().zip(&pairs) {
        write_csv(&dir.join(format!("{}.csv", comparison.name)), rows)?;
    }
    Ok(SuiteReport {
        pairs,
        rows,
        gemm,
        memory,
        scaling,
    })
}

/// The CPU model and logical CPU count, from /proc/cpuinfo.
pub fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cpus} logical CPUs")
}

/// The 1, 5 and 15 minute load averages (other processes compete for the cores).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
