//! The peers' protocol for one case: data outside the timing, warm-up, then timed repeats of
//! exactly the steps a sweep's run takes (the library's [`RunSetup`] and [`Trainer`]); and
//! the memory and concurrency of such runs.

use std::path::Path;
use std::sync::Barrier;
use std::time::Instant;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use scorematch::engine::Trainer;
use scorematch::kernels::rates::median;
use scorematch::model::TracePath;
use scorematch::train::{NoProgress, RunSetup, train};
use scorematch::{Kernels, TrainConfig};

use super::{BenchCase, LOG_EVERY, WARMUP};

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
    /// Floating-point operations in the matrix products of one step (NaN where the fused
    /// kernels do not compute the model).
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
        .map_err(|e| anyhow!("cannot start a thread pool: {e}"))?;
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
    let mut trainer = setup.trainer()?;
    // The fused kernels' matrix products (NaN on the reference engine).
    let flops_per_step = trainer
        .step_macs()
        .map_or(f64::NAN, |macs| 2.0 * macs as f64);
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
                    .unwrap_or_else(|_| Err(anyhow!("a benchmark thread panicked")))
            })
            .collect()
    });
    let mut results = results.into_iter();
    let mut next = || {
        results
            .next()
            .unwrap_or_else(|| Err(anyhow!("a benchmark thread is missing")))
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
        .map_err(|e| anyhow!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| anyhow!("no VmHWM in /proc/self/status"))
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
        .map_err(|e| anyhow!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(MEMORY_LINE))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            anyhow!(
                "{} {MEMORY_ARG} {} printed no {MEMORY_LINE} line: {}",
                exe.display(),
                case.spec(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scorematch::Backend;

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
                model: "mlp".into(),
            };
            let r = run_case(&case, &settings).unwrap();
            assert!(r.steps_per_sec > 0.0 && r.steps == 10, "{r:?}");
            assert_eq!(r.kernels == Kernels::Fused, backend == Backend::Flex);
            assert_eq!(r.trace_path, Some(TracePath::Fast));
        }
    }
}
