//! Training throughput against the peers' table (PyTorch and JAX on the same machine kind).
//!
//! The peers' protocol: batches of 256 drawn with replacement from a fixed pool of 65,536
//! pre-generated samples (generation not timed); steps per second count everything else in a
//! step (batch gather, noise, loss, gradient, Adam update), after 50 warm-up steps; the median
//! over repeats. Here a step is exactly what [`crate::train`] runs (the same [`Trainer`]),
//! reading the loss back every 50 steps as training does. A case runs inside a rayon pool of
//! its thread count.
//!
//! Also: a GEMM-rate probe (the matrix product the kernels use), the FLOP rate a case
//! achieves, the peak memory of one full run (measured in a child process), and the
//! throughput of two concurrent single-thread runs.

use std::io::Write;
use std::path::Path;
use std::sync::Barrier;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Precision};
use crate::config::{RunConfig, TrainConfig};
use crate::data::{DatasetConfig, EightGaussiansParams, GaussianParams};
use crate::engine::{Kernels, Trainer};
use crate::error::{Error, Result};
use crate::kernels::MlpKernel;
use crate::kernels::gemm::{Gemm, Mat, MatMut};
use crate::metric::SampleMetricsConfig;
use crate::model::{ModelConfig, TracePath};
use crate::objective::{DsmParams, EsmParams, IsmParams, ObjectiveConfig, SsmParams};
use crate::sample::SamplerConfig;
use crate::train::{NoProgress, RunSetup, train};

/// Size of the pool batches are drawn from.
pub const POOL: usize = 65_536;
/// Batch size of every case.
pub const BATCH: usize = 256;
/// Warm-up steps before timing.
pub const WARMUP: usize = 50;
/// The loss is read back every this many steps, as in training.
pub const LOG_EVERY: usize = 50;

/// One benchmark case: an objective on a data set in D dimensions, on a backend, with a
/// number of threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BenchCase {
    /// The objective as the peers' table names it: esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// `gaussian` or `8gaussians`.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// The backend.
    pub backend: Backend,
    /// Threads of the rayon pool the case runs in.
    pub threads: usize,
}

impl BenchCase {
    /// The case as `objective/dataset/dim/backend/threads`.
    pub fn spec(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.objective,
            self.dataset,
            self.dim,
            self.backend.name(),
            self.threads
        )
    }

    /// The case a [`Self::spec`] string describes.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| Error::Tensor(format!("bad case `{spec}`: {why}"));
        let parts: Vec<&str> = spec.split('/').collect();
        let [objective, dataset, dim, backend, threads] = parts[..] else {
            return Err(bad("expected objective/dataset/dim/backend/threads"));
        };
        let case = Self {
            objective: objective.to_string(),
            dataset: dataset.to_string(),
            dim: dim.parse().map_err(|_| bad("dim is not a number"))?,
            backend: Backend::from_name(backend)?,
            threads: threads
                .parse()
                .map_err(|_| bad("threads is not a number"))?,
        };
        case.run_config(0, 1)?;
        Ok(case)
    }

    /// The training run of this case: the default MLP (D-128-128-D SiLU), batch 256,
    /// Adam lr 1e-3, f32, the pool of [`POOL`] samples, `steps` steps.
    pub fn run_config(&self, seed: u64, steps: usize) -> Result<RunConfig> {
        let objective = match self.objective.as_str() {
            "esm" => ObjectiveConfig::Esm(EsmParams::default()),
            "ism" => ObjectiveConfig::Ism(IsmParams::default()),
            "ssm" => ObjectiveConfig::Ssm(SsmParams::default()),
            "ssm_vr" => ObjectiveConfig::SsmVr(SsmParams::default()),
            "dsm" => ObjectiveConfig::Dsm(DsmParams::default()),
            other => {
                return Err(Error::Tensor(format!(
                    "unknown benchmark objective `{other}` (expected esm, ism, ssm, ssm_vr, dsm)"
                )));
            }
        };
        let dataset = match self.dataset.as_str() {
            "gaussian" => DatasetConfig::Gaussian(GaussianParams {
                dim: self.dim,
                data_seed: 0,
            }),
            "8gaussians" => DatasetConfig::EightGaussians(EightGaussiansParams { dim: self.dim }),
            other => {
                return Err(Error::Tensor(format!(
                    "unknown benchmark data set `{other}` (expected gaussian, 8gaussians)"
                )));
            }
        };
        let cfg = RunConfig {
            dataset,
            model: ModelConfig::default(),
            objective,
            train: TrainConfig {
                steps,
                batch: BATCH,
                lr: 1e-3,
                pool_size: POOL,
                precision: Precision::F32,
                ..TrainConfig::default()
            },
            backend: self.backend,
            seed,
            sampler: SamplerConfig::default(),
            sample_metrics: SampleMetricsConfig::default(),
        };
        crate::error::check(cfg.validate())?;
        Ok(cfg)
    }
}

/// How long to measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchSettings {
    /// Timed repeats per case (the median is reported).
    pub repeats: usize,
    /// Minimum duration of one repeat in seconds (its step count is set from the warm-up).
    pub seconds_per_repeat: f64,
    /// Seed of the data pool, initialisation and training stream.
    pub seed: u64,
}

impl Default for BenchSettings {
    fn default() -> Self {
        Self {
            repeats: 5,
            seconds_per_repeat: 0.5,
            seed: 0,
        }
    }
}

/// What one case measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The case.
    pub case: BenchCase,
    /// Median steps per second over the repeats.
    pub steps_per_sec: f64,
    /// Median steps per CPU-second of the thread that ran them (one-thread cases): what the
    /// rate would be on an otherwise idle core.
    pub cpu_steps_per_sec: Option<f64>,
    /// Steps per second of each repeat.
    pub repeats: Vec<f64>,
    /// Steps per repeat.
    pub steps: usize,
    /// Which implementation ran the steps.
    pub kernels: Kernels,
    /// The trace path (ISM).
    pub trace_path: Option<TracePath>,
    /// Floating-point operations in the matrix products of one step.
    pub flops_per_step: f64,
}

impl BenchResult {
    /// GFLOP/s in the matrix products at the median rate.
    pub fn gflops(&self) -> f64 {
        self.flops_per_step * self.steps_per_sec / 1e9
    }
}

/// Runs `f` inside a rayon pool of `threads` threads.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Tensor(format!("cannot start a thread pool: {e}")))?;
    Ok(pool.install(f))
}

/// Runs one case by the peers' protocol.
pub fn run_case(case: &BenchCase, settings: &BenchSettings) -> Result<BenchResult> {
    in_pool(case.threads, || measure(case, settings, None))?
}

/// The protocol: data outside the timing, warm-up, then timed repeats. With `barrier`, every
/// thread holding it starts timing together (concurrent runs).
fn measure(
    case: &BenchCase,
    settings: &BenchSettings,
    barrier: Option<&Barrier>,
) -> Result<BenchResult> {
    let cfg = case.run_config(settings.seed, 0)?;
    let mut setup = RunSetup::new(&cfg)?;
    let trace_path = setup.trace_path;
    let pass = cfg.objective.host_pass(trace_path.unwrap_or_default());
    let flops_per_step =
        2.0 * MlpKernel::<f32>::new(setup.model.shape(), pass, BATCH).step_macs() as f64;
    let mut trainer = setup.trainer()?;
    let mut done = 0;
    // (wall seconds, CPU seconds of this thread where known)
    let mut run = |n: usize, trainer: &mut Trainer<'_>| -> Result<(f64, Option<f64>)> {
        let cpu = thread_cpu_seconds();
        let start = Instant::now();
        for _ in 0..n {
            done += 1;
            trainer.step(done % LOG_EVERY == 0)?;
        }
        let wall = start.elapsed().as_secs_f64();
        Ok((wall, cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a)))
    };
    let (warm, _) = run(WARMUP, &mut trainer)?;
    let steps = ((settings.seconds_per_repeat * WARMUP as f64 / warm).ceil() as usize).max(10);
    if let Some(b) = barrier {
        b.wait();
    }
    let mut repeats = Vec::with_capacity(settings.repeats);
    let mut cpu_repeats = Vec::with_capacity(settings.repeats);
    for _ in 0..settings.repeats.max(1) {
        let (wall, cpu) = run(steps, &mut trainer)?;
        repeats.push(steps as f64 / wall);
        if let Some(cpu) = cpu.filter(|&c| c > 0.0) {
            cpu_repeats.push(steps as f64 / cpu);
        }
    }
    // With more than one thread the calling thread's CPU time is not the step's.
    let cpu_steps_per_sec =
        (case.threads == 1 && cpu_repeats.len() == repeats.len()).then(|| median(&cpu_repeats));
    Ok(BenchResult {
        case: case.clone(),
        steps_per_sec: median(&repeats),
        cpu_steps_per_sec,
        repeats,
        steps,
        kernels: trainer.kernels(),
        trace_path,
        flops_per_step,
    })
}

/// CPU time this thread has run, in seconds (Linux: /proc/thread-self/schedstat).
pub fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// The median (the mean of the middle two for an even count); NaN for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// GFLOP/s of f32 `[m, k] · [k, n]` products through the kernels' matrix product on
/// `threads` threads: the median over `repeats` timings of ≥ 0.2 s each.
pub fn gemm_rate(m: usize, k: usize, n: usize, threads: usize, repeats: usize) -> Result<f64> {
    in_pool(threads, || {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.01).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.02).collect();
        let mut c = vec![0.0f32; m * n];
        let mut gemm = Gemm::new();
        let mut time = |reps: usize| {
            let start = Instant::now();
            for _ in 0..reps {
                gemm.matmul(
                    MatMut::rows(&mut c, m, n),
                    Mat::rows(&a, m, k),
                    Mat::rows(&b, k, n),
                    false,
                    threads,
                );
            }
            start.elapsed().as_secs_f64()
        };
        let reps = ((0.2 / time(20).max(1e-9)) * 20.0).ceil() as usize;
        let rates: Vec<f64> = (0..repeats.max(1))
            .map(|_| (2 * m * n * k * reps) as f64 / time(reps) / 1e9)
            .collect();
        median(&rates)
    })
}

/// The single-core peak of f32 multiply-adds in GFLOP/s (2 FLOP each): twelve independent
/// chains of 8-lane fused multiply-adds (AVX2 + FMA where the CPU has them) with nothing
/// else to do, for ≥ 0.2 s, median of `repeats`. No training step can do its matrix products
/// faster than this.
pub fn fma_peak_rate(repeats: usize) -> f64 {
    const CHAINS: usize = 12;
    const LANES: usize = 8;
    let run = |iterations: usize| {
        let start = Instant::now();
        let acc = crate::kernels::vectorized(
            #[inline(always)]
            || {
                let (a, b) = (
                    std::hint::black_box(0.999_999f32),
                    std::hint::black_box(1e-7),
                );
                let mut acc = [[1.0f32; LANES]; CHAINS];
                for _ in 0..iterations {
                    for chain in &mut acc {
                        for x in chain.iter_mut() {
                            *x = x.mul_add(a, b);
                        }
                    }
                }
                acc
            },
        );
        std::hint::black_box(acc);
        let flops = (2 * CHAINS * LANES * iterations) as f64;
        (flops, start.elapsed().as_secs_f64())
    };
    let (_, t) = run(1_000_000);
    let iterations = (1_000_000.0 * 0.2 / t.max(1e-9)).ceil() as usize;
    let rates: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let (flops, t) = run(iterations);
            flops / t / 1e9
        })
        .collect();
    median(&rates)
}

/// Throughput of one single-thread run alone, and of two concurrent single-thread runs of
/// the same case (each in its own one-thread pool, started together).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// The case (its `threads` is 1).
    pub case: BenchCase,
    /// The run alone.
    pub alone: BenchResult,
    /// The two concurrent runs.
    pub concurrent: [BenchResult; 2],
}

impl Scaling {
    /// Combined throughput of the two concurrent runs over that of one run alone.
    pub fn speedup(&self) -> f64 {
        (self.concurrent[0].steps_per_sec + self.concurrent[1].steps_per_sec)
            / self.alone.steps_per_sec
    }

    /// The same in steps per CPU-second of each run's thread: below 2 only where the runs
    /// slow each other down (shared caches, memory), not where other processes take a core.
    pub fn cpu_speedup(&self) -> Option<f64> {
        let [a, b] = &self.concurrent;
        Some((a.cpu_steps_per_sec? + b.cpu_steps_per_sec?) / self.alone.cpu_steps_per_sec?)
    }
}

/// Measures [`Scaling`] for `case` (run with one thread).
pub fn concurrent_scaling(case: &BenchCase, settings: &BenchSettings) -> Result<Scaling> {
    let case = BenchCase {
        threads: 1,
        ..case.clone()
    };
    let alone = run_case(&case, settings)?;
    let barrier = Barrier::new(2);
    let results: Vec<Result<BenchResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| in_pool(1, || measure(&case, settings, Some(&barrier)))?))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Tensor("a benchmark thread panicked".into())))
            })
            .collect()
    });
    let mut results = results.into_iter();
    let mut next = || {
        results
            .next()
            .unwrap_or_else(|| Err(Error::Tensor("a benchmark thread is missing".into())))
    };
    let concurrent = [next()?, next()?];
    Ok(Scaling {
        case,
        alone,
        concurrent,
    })
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
pub fn peak_rss_mib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::Tensor(format!("cannot read /proc/self/status: {e}")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| Error::Tensor("no VmHWM in /proc/self/status".into()))
}

/// One full training run of `case` (the default 2000 steps, evaluation included) in this
/// process, then the process's peak resident memory in MiB. Meant for a fresh child process
/// (see [`spawn_memory_case`]).
pub fn memory_case(case: &BenchCase, seed: u64) -> Result<f64> {
    let cfg = case.run_config(seed, TrainConfig::default().steps)?;
    in_pool(case.threads, || train(&cfg, &mut NoProgress))??;
    peak_rss_mib()
}

/// The argument that makes a benchmark driver run [`memory_case`] for `case` and print
/// [`MEMORY_LINE`] followed by the MiB.
pub const MEMORY_ARG: &str = "--memory-case";
/// The line prefix a driver prints the result of [`memory_case`] with.
pub const MEMORY_LINE: &str = "peak_rss_mib=";

/// Runs `exe ARGS… MEMORY_ARG case` (a driver that handles [`MEMORY_ARG`]) and reads the
/// peak memory it reports.
pub fn spawn_memory_case(exe: &Path, args: &[String], case: &BenchCase) -> Result<f64> {
    let out = std::process::Command::new(exe)
        .args(args)
        .arg(MEMORY_ARG)
        .arg(case.spec())
        .output()
        .map_err(|e| Error::Tensor(format!("cannot run {}: {e}", exe.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(MEMORY_LINE))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::Tensor(format!(
                "{} {MEMORY_ARG} {} printed no {MEMORY_LINE} line: {}",
                exe.display(),
                case.spec(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        })
}

/// One row of the peers' table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    /// `jax` or `torch`.
    pub framework: String,
    /// Its version.
    pub version: String,
    /// esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// `gaussian` or `8gaussians`.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// Intra-op threads.
    pub threads: usize,
    /// Batch size.
    pub batch: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Median steps per second.
    pub steps_per_sec_median: f64,
    /// Timed runs behind the median.
    pub runs: usize,
}

/// Reads the peers' table (CSV with [`PeerRow`]'s columns).
pub fn read_peers(path: &Path) -> Result<Vec<PeerRow>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::Tensor(format!("{}: {e}", path.display())))?;
    reader
        .deserialize()
        .map(|row| row.map_err(|e| Error::Tensor(format!("{}: {e}", path.display()))))
        .collect()
}

/// Every distinct (objective, data set, dimension, threads) case of the peers' table, in
/// table order, on `backend`.
pub fn peer_cases(peers: &[PeerRow], backend: Backend) -> Vec<BenchCase> {
    let mut cases: Vec<BenchCase> = Vec::new();
    for p in peers {
        let case = BenchCase {
            objective: p.objective.clone(),
            dataset: p.dataset.clone(),
            dim: p.dim,
            backend,
            threads: p.threads,
        };
        if !cases.contains(&case) {
            cases.push(case);
        }
    }
    cases
}

/// Our result next to the peers' for the same objective, data set, dimension and threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// The data set.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// Our backend.
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// fused or reference.
    pub kernels: String,
    /// Our median steps per second.
    pub ours: f64,
    /// Our best repeat (the least disturbed by other processes).
    pub ours_best: f64,
    /// Our median steps per CPU-second of the running thread (one-thread cases).
    pub ours_cpu: Option<f64>,
    /// The fastest peer's framework.
    pub best_peer: String,
    /// The fastest peer's steps per second.
    pub best_peer_steps: f64,
    /// ours / best peer.
    pub ratio_best: f64,
    /// JAX's steps per second.
    pub jax: Option<f64>,
    /// ours / JAX.
    pub ratio_jax: Option<f64>,
    /// PyTorch's steps per second.
    pub torch: Option<f64>,
    /// GFLOP/s in our matrix products.
    pub gflops: f64,
    /// The ceiling of the fused implementation: steps/s if every multiply-add of its matrix
    /// products ran at the core's FMA peak ([`fma_peak_rate`]) and nothing else took time
    /// (one-thread fused cases; `None` otherwise or without a peak measurement).
    pub ceiling: Option<f64>,
    /// ceiling / best peer: the largest ratio this implementation could show.
    pub ceiling_ratio: Option<f64>,
    /// Timed repeats and steps per repeat behind our median.
    pub repeats: usize,
    /// Steps per repeat.
    pub steps: usize,
}

/// Compares `result` with the peers' rows of its case; `None` if no peer ran it.
/// `peak_gflops` is the one-core FMA peak, for the ceiling of one-thread cases.
pub fn compare(
    result: &BenchResult,
    peers: &[PeerRow],
    peak_gflops: Option<f64>,
) -> Option<Comparison> {
    let c = &result.case;
    let same: Vec<&PeerRow> = peers
        .iter()
        .filter(|p| {
            p.objective == c.objective
                && p.dataset == c.dataset
                && p.dim == c.dim
                && p.threads == c.threads
        })
        .collect();
    let best = same
        .iter()
        .max_by(|a, b| a.steps_per_sec_median.total_cmp(&b.steps_per_sec_median))?;
    let of = |name: &str| {
        same.iter()
            .find(|p| p.framework == name)
            .map(|p| p.steps_per_sec_median)
    };
    let jax = of("jax");
    let ceiling = peak_gflops
        .filter(|_| c.threads == 1 && result.kernels == Kernels::Fused)
        .map(|peak| peak * 1e9 / result.flops_per_step);
    Some(Comparison {
        objective: c.objective.clone(),
        dataset: c.dataset.clone(),
        dim: c.dim,
        backend: c.backend.name().to_string(),
        threads: c.threads,
        kernels: result.kernels.name().to_string(),
        ours: result.steps_per_sec,
        ours_best: result.repeats.iter().copied().fold(0.0, f64::max),
        ours_cpu: result.cpu_steps_per_sec,
        best_peer: best.framework.clone(),
        best_peer_steps: best.steps_per_sec_median,
        ratio_best: result.steps_per_sec / best.steps_per_sec_median,
        jax,
        ratio_jax: jax.map(|j| result.steps_per_sec / j),
        torch: of("torch"),
        gflops: result.gflops(),
        ceiling,
        ceiling_ratio: ceiling.map(|x| x / best.steps_per_sec_median),
        repeats: result.repeats.len(),
        steps: result.steps,
    })
}

/// Writes `rows` as CSV (with a header) to `path`, creating its directory.
pub fn write_csv<R: Serialize>(path: &Path, rows: &[R]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Tensor(format!("{}: {e}", dir.display())))?;
    }
    let err = |e: csv::Error| Error::Tensor(format!("{}: {e}", path.display()));
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    for r in rows {
        w.serialize(r).map_err(err)?;
    }
    w.flush()
        .map_err(|e| Error::Tensor(format!("{}: {e}", path.display())))
}

/// Prints the comparison table.
pub fn print_table(out: &mut dyn Write, rows: &[Comparison]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<7} {:<10} {:>4} {:<8} {:>3} {:<9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>7} {:>8} {:>7} {:>9}",
        "loss",
        "data",
        "D",
        "backend",
        "thr",
        "kernels",
        "ours/s",
        "best/s",
        "cpu/s",
        "peer/s",
        "peer",
        "×peer",
        "×jax",
        "GFLOP/s",
        "×peer@pk"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<7} {:<10} {:>4} {:<8} {:>3} {:<9} {:>9.1} {:>9.1} {:>9} {:>9.1} {:>6} {:>7.2} {:>8} {:>7.1} {:>9}",
            r.objective,
            r.dataset,
            r.dim,
            r.backend,
            r.threads,
            r.kernels,
            r.ours,
            r.ours_best,
            r.ours_cpu.map_or("-".into(), |x| format!("{x:.1}")),
            r.best_peer_steps,
            r.best_peer,
            r.ratio_best,
            r.ratio_jax.map_or("-".into(), |x| format!("{x:.2}")),
            r.gflops,
            r.ceiling_ratio.map_or("-".into(), |x| format!("{x:.2}"))
        )?;
    }
    Ok(())
}

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
    /// A driver that handles [`MEMORY_ARG`], to measure peak memory of one run per objective
    /// at D = 100 in a child process (skipped if `None`).
    /// (The program and the arguments before [`MEMORY_ARG`].)
    pub memory_driver: Option<(std::path::PathBuf, Vec<String>)>,
    /// Measure two concurrent single-thread runs against one (ESM and ISM at D = 2 and 100).
    pub scaling: bool,
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
}

/// Runs the suite, printing progress and tables to `out`, and writes `throughput.csv`,
/// `gemm.csv`, `memory.csv` and `scaling.csv` to the output directory.
pub fn run_suite(opts: &SuiteOptions, out: &mut dyn Write) -> Result<SuiteReport> {
    let io = |e: std::io::Error| Error::Tensor(format!("writing the report: {e}"));
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
        if let Some(row) = compare(&result, &peers, Some(peak)) {
            print_table(out, std::slice::from_ref(&row)).map_err(io)?;
            rows.push(row);
        }
    }
    writeln!(out, "\nall cases:").map_err(io)?;
    print_table(out, &rows).map_err(io)?;
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
    writeln!(out, "load average at end: {}", load_average()).map_err(io)?;
    let dir = &opts.out_dir;
    write_csv(&dir.join("throughput.csv"), &rows)?;
    write_csv(&dir.join("gemm.csv"), &gemm)?;
    write_csv(&dir.join("memory.csv"), &memory)?;
    write_csv(&dir.join("scaling.csv"), &scaling)?;
    Ok(SuiteReport {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_round_trip_through_their_spec_and_unknown_names_fail() {
        let case = BenchCase {
            objective: "ssm_vr".into(),
            dataset: "8gaussians".into(),
            dim: 2,
            backend: Backend::Flex,
            threads: 2,
        };
        assert_eq!(BenchCase::parse(&case.spec()).unwrap(), case);
        assert!(BenchCase::parse("essm/gaussian/2/flex/1").is_err());
        assert!(BenchCase::parse("esm/gaussian/two/flex/1").is_err());
        assert!(BenchCase::parse("esm/gaussian/2/flex").is_err());
    }

    #[test]
    fn the_committed_peer_table_parses_and_compares() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/peer_throughput.csv");
        let peers = read_peers(&path).unwrap();
        assert_eq!(peers.len(), 100);
        let cases = peer_cases(&peers, Backend::Flex);
        assert_eq!(cases.len(), 50);
        let result = BenchResult {
            case: BenchCase {
                objective: "esm".into(),
                dataset: "gaussian".into(),
                dim: 2,
                backend: Backend::Flex,
                threads: 1,
            },
            steps_per_sec: 3743.4,
            cpu_steps_per_sec: None,
            repeats: vec![3743.4],
            steps: 100,
            kernels: Kernels::Fused,
            trace_path: None,
            flops_per_step: 1e6,
        };
        let c = compare(&result, &peers, Some(100.0)).unwrap();
        assert_eq!(c.best_peer, "jax");
        assert!((c.ratio_best - 2.0).abs() < 1e-12);
        assert_eq!(c.torch, Some(800.3));
        assert!((c.gflops - 3.7434).abs() < 1e-9);
        // 100 GFLOP/s over 1 MFLOP per step: 100 000 steps/s, against JAX's 1871.7.
        assert!((c.ceiling.unwrap() - 1e5).abs() < 1e-6);
        assert!((c.ceiling_ratio.unwrap() - 1e5 / 1871.7).abs() < 1e-9);
        assert!(compare(&result, &peers, None).unwrap().ceiling.is_none());
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_short_case_runs_on_both_kernels() {
        // A smoke run of the protocol, not a timing: every step must run and report a rate.
        // CPU backends only: unit tests never touch a GPU (tests/wgpu.rs covers wgpu).
        let settings = BenchSettings {
            repeats: 1,
            seconds_per_repeat: 0.0,
            seed: 1,
        };
        for backend in Backend::compiled_cpu() {
            let case = BenchCase {
                objective: "ism".into(),
                dataset: "8gaussians".into(),
                dim: 2,
                backend,
                threads: 1,
            };
            let r = run_case(&case, &settings).unwrap();
            assert!(r.steps_per_sec > 0.0 && r.steps == 10, "{r:?}");
            assert_eq!(r.kernels == Kernels::Fused, backend == Backend::Flex);
            assert_eq!(r.trace_path, Some(TracePath::Fast));
        }
    }
}
