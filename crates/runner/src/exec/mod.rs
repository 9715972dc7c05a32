//! Executing runs: `--jobs` runs at a time, each in its own rayon pool with its share of the
//! cores (burn's CPU backends parallelise on the current rayon pool), each caught if it
//! panics, each committed to the store as soon as it ends.

pub mod monitor;
pub mod panic;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scorematch::train::LossPoint;
use scorematch::{Progress, RunConfig, RunStatus, TrainReport};

use crate::job::Job;
use crate::store::artifacts::{self, Artifact};
use crate::store::record::{Outcome, RunRecord, Status};
use crate::store::{Committed, Store};
use monitor::Monitor;
use panic::PanicSlot;

/// How many runs at once, on how many cores.
#[derive(Clone, Copy, Debug)]
pub struct ExecOptions {
    /// Concurrent CPU runs.
    pub jobs: usize,
    /// Cores to share among them.
    pub cores: usize,
    /// Threads per run, instead of the cores' share.
    pub threads: Option<usize>,
    /// Concurrent GPU runs, beside the CPU runs (one device is not oversubscribed).
    pub gpu_jobs: usize,
}

impl ExecOptions {
    /// `jobs` concurrent CPU runs (default: one per core) on this machine's cores, each with
    /// `threads` threads (default: its share of the cores), and `gpu_jobs` GPU runs.
    pub fn new(jobs: Option<usize>, threads: Option<usize>, gpu_jobs: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            jobs: jobs.unwrap_or(cores).max(1),
            cores,
            threads: threads.map(|t| t.max(1)),
            gpu_jobs: gpu_jobs.max(1),
        }
    }

    /// Workers and threads per run for `pending` CPU runs: no more workers than runs, and
    /// each run gets max(1, cores / workers) threads unless told otherwise.
    pub fn layout(&self, pending: usize) -> (usize, usize) {
        let workers = self.jobs.min(pending).max(1);
        let threads = self.threads.unwrap_or((self.cores / workers).max(1));
        (workers, threads)
    }
}

/// What an execution did.
#[derive(Clone, Debug, Default)]
pub struct ExecSummary {
    /// Runs that trained to the end.
    pub ok: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Runs another process finished first (ours was dropped).
    pub already_done: usize,
    /// Runs whose result could not be written.
    pub not_saved: usize,
    /// Wall time in seconds.
    pub wall_seconds: f64,
    /// Optimiser steps taken, all runs together.
    pub steps: usize,
    /// Concurrent CPU runs used.
    pub workers: usize,
    /// Threads per CPU run.
    pub threads: usize,
    /// Concurrent GPU runs used.
    pub gpu_workers: usize,
}

/// A trained run: its report and the files kept with it for the report's figures.
#[derive(Debug)]
pub struct Finished {
    /// The numbers.
    pub report: TrainReport,
    /// Files for the run's directory (see [`crate::store::artifacts`]).
    pub artifacts: Vec<Artifact>,
}

/// Trains one configuration to its report.
pub type TrainFn = fn(&RunConfig, &mut dyn Progress) -> scorematch::Result<Finished>;

/// Trains with [`scorematch::train`] and keeps the artifacts of runs that ended ok (a run
/// whose artifacts cannot be made is still recorded, without them).
fn train_report(config: &RunConfig, progress: &mut dyn Progress) -> scorematch::Result<Finished> {
    let trained = scorematch::train(config, progress)?;
    let artifacts = if trained.report.status == RunStatus::Ok {
        artifacts::of(&trained, config).unwrap_or_else(|e| {
            tracing::warn!("no figure data kept for this run: {e:#}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    Ok(Finished {
        report: trained.report,
        artifacts,
    })
}

impl ExecSummary {
    /// Counts a finished run and how its commit went.
    fn count(
        &mut self,
        job: &Job,
        record: &RunRecord,
        outcome: &Outcome,
        committed: anyhow::Result<Committed>,
    ) {
        match committed {
            Ok(Committed::AlreadyDone) => self.already_done += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::error!("could not save run {}: {e:#}", job.id);
                self.not_saved += 1;
            }
        }
        match record.status {
            Status::Ok => self.ok += 1,
            Status::Diverged => self.diverged += 1,
            Status::Failed => self.failed += 1,
        }
        if let Outcome::Trained(r) = outcome {
            self.steps += r.steps_done;
        }
    }
}

/// Runs `jobs`, committing each to `store` as it ends. `done_before` runs of the sweep were
/// already complete (for progress counts).
pub fn execute(
    jobs: &[Job],
    store: &Store,
    opts: &ExecOptions,
    monitor: &dyn Monitor,
    done_before: usize,
) -> ExecSummary {
    execute_with(train_report, jobs, store, opts, monitor, done_before)
}

/// [`execute`] with another way to train (tests inject failures here).
pub fn execute_with(
    train: TrainFn,
    jobs: &[Job],
    store: &Store,
    opts: &ExecOptions,
    monitor: &dyn Monitor,
    done_before: usize,
) -> ExecSummary {
    panic::install_hook();
    let (gpu_jobs, cpu_jobs): (Vec<&Job>, Vec<&Job>) =
        jobs.iter().partition(|j| j.config.backend.is_gpu());
    let (workers, threads) = opts.layout(cpu_jobs.len());
    let workers = if cpu_jobs.is_empty() { 0 } else { workers };
    let gpu_workers = opts.gpu_jobs.min(gpu_jobs.len());
    let total = done_before + jobs.len();
    let done = AtomicUsize::new(done_before);
    let summary = Mutex::new(ExecSummary {
        workers,
        threads,
        gpu_workers,
        ..ExecSummary::default()
    });
    let start = Instant::now();
    // One worker: takes the next job of `queue` until none is left. GPU runs get one host
    // thread: their tensor work is on the device.
    let work = |queue: &[&Job], next: &AtomicUsize, threads: usize| {
        let slot = PanicSlot::default();
        panic::capture_on_this_thread(slot.clone());
        let pool = build_pool(threads, &slot);
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&job) = queue.get(i) else { break };
            // Another process sharing the directory may have finished it meanwhile.
            if store.status(&job.id).is_some_and(Status::is_complete) {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                monitor.skip(job, n, total);
                summary
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .already_done += 1;
                continue;
            }
            let progress = monitor.start(job);
            let (outcome, artifacts) = run_one(train, job, pool.as_ref(), &slot, progress);
            let record = RunRecord::new(job, threads, &outcome);
            let losses = match &outcome {
                Outcome::Trained(r) => r.loss_curve.as_slice(),
                Outcome::Failed { losses, .. } => losses.as_slice(),
            };
            let committed = store
                .stage(&record, &job.config, losses, &artifacts)
                .and_then(|staged| store.lock()?.commit(staged));
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            monitor.finish(job, &record, n, total);
            let mut sum = summary.lock().unwrap_or_else(|e| e.into_inner());
            sum.count(job, &record, &outcome, committed);
        }
    };
    let (next_cpu, next_gpu) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| work(&cpu_jobs, &next_cpu, threads));
        }
        for _ in 0..gpu_workers {
            s.spawn(|| work(&gpu_jobs, &next_gpu, 1));
        }
    });
    monitor.close();
    let mut summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.wall_seconds = start.elapsed().as_secs_f64();
    summary
}

/// A pool of `threads` threads whose panics go to `slot`.
fn build_pool(threads: usize, slot: &PanicSlot) -> Option<rayon::ThreadPool> {
    let slot = slot.clone();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("run-{i}"))
        .start_handler(move |_| panic::capture_on_this_thread(slot.clone()))
        .build()
        .map_err(|e| {
            tracing::warn!("no thread pool of {threads} threads ({e}); running on the global pool")
        })
        .ok()
}

/// Keeps the losses seen so far (for runs that fail) and passes progress on.
struct Recorder {
    inner: Box<dyn Progress + Send>,
    losses: Vec<LossPoint>,
}

impl Progress for Recorder {
    fn step(&mut self, step: usize, total: usize) {
        self.inner.step(step, total);
    }

    fn loss(&mut self, step: usize, loss: f64) {
        self.losses.push(LossPoint { step, loss });
        self.inner.loss(step, loss);
    }
}

/// Trains one run inside `pool`, turning errors and panics into a failed outcome; returns
/// the outcome and the run's artifacts.
fn run_one(
    train: TrainFn,
    job: &Job,
    pool: Option<&rayon::ThreadPool>,
    slot: &PanicSlot,
    progress: Box<dyn Progress + Send>,
) -> (Outcome, Vec<Artifact>) {
    let mut recorder = Recorder {
        inner: progress,
        losses: Vec::new(),
    };
    let result = {
        let mut run = || train(&job.config, &mut recorder);
        catch_unwind(AssertUnwindSafe(|| match pool {
            Some(p) => p.install(run),
            None => run(),
        }))
    };
    let caught = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match result {
        Ok(Ok(f)) => (Outcome::Trained(Box::new(f.report)), f.artifacts),
        Ok(Err(e)) => (
            Outcome::Failed {
                error: e.to_string(),
                losses: recorder.losses,
            },
            Vec::new(),
        ),
        Err(payload) => (
            Outcome::Failed {
                error: format!(
                    "panicked: {}",
                    caught.unwrap_or_else(|| panic::payload_message(payload.as_ref()))
                ),
                losses: recorder.losses,
            },
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::SweepInfo;
    use crate::store::record::Status;
    use rayon::prelude::*;
    use scorematch::RunStatus;
    use std::sync::Arc;

    /// Seed 1 panics on a pool thread, seed 2 returns an error, others end fine.
    fn fake_train(config: &RunConfig, progress: &mut dyn Progress) -> scorematch::Result<Finished> {
        progress.loss(1, 0.5);
        match config.seed {
            1 => {
                let v: Vec<usize> = (0..64)
                    .into_par_iter()
                    .map(|i| if i == 63 { panic!("bad index {i}") } else { i })
                    .collect();
                Ok(fake_report(v.len() as f64))
            }
            2 => Err(scorematch::Error::Tensor("device lost".into())),
            _ => Ok(fake_report(0.25)),
        }
    }

    fn fake_report(fisher: f64) -> Finished {
        let report = TrainReport {
            status: RunStatus::Ok,
            message: None,
            steps_done: 10,
            final_loss: Some(0.5),
            fisher_init: 1.0,
            fisher: Some(fisher),
            fisher_sigma_init: None,
            fisher_sigma: None,
            train_seconds: 0.1,
            steps_per_sec: 100.0,
            trace_path: None,
            kernels: scorematch::engine::Kernels::Reference,
            loss_curve: vec![LossPoint {
                step: 10,
                loss: 0.5,
            }],
            sample: None,
        };
        Finished {
            report,
            artifacts: vec![Artifact {
                name: artifacts::SAMPLES_FILE,
                bytes: b"x0,x1\n".to_vec(),
            }],
        }
    }

    /// ESM runs on 8gaussians with seeds 0..n, on the backend `backend(seed)` names.
    fn esm_jobs(n: u64, backend: fn(u64) -> &'static str) -> Vec<Job> {
        let sweep = Arc::new(SweepInfo {
            name: "t".into(),
            description: String::new(),
        });
        (0..n)
            .map(|seed| {
                let cfg: RunConfig = toml::from_str(&format!(
                    "dataset = {{ name = \"8gaussians\" }}\nobjective = {{ name = \"esm\" }}\nseed = {seed}\nbackend = \"{}\"",
                    backend(seed)
                ))
                .unwrap();
                Job::new(cfg, sweep.clone())
            })
            .collect()
    }

    #[test]
    fn panics_and_errors_are_recorded_and_the_other_runs_go_on() {
        let jobs = esm_jobs(5, |_| "flex");
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let opts = ExecOptions {
            jobs: 2,
            cores: 4,
            threads: None,
            gpu_jobs: 1,
        };
        let s = execute_with(fake_train, &jobs, &store, &opts, &monitor::LogMonitor, 0);
        assert_eq!((s.ok, s.failed, s.diverged, s.not_saved), (3, 2, 0, 0));
        assert_eq!((s.workers, s.threads, s.steps), (2, 2, 30));
        let records = store.records().unwrap();
        assert_eq!(records.len(), 5);
        let error = |seed: usize| {
            records[&jobs[seed].id]["error"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        assert!(
            error(1).starts_with("panicked: bad index 63 (at "),
            "{}",
            error(1)
        );
        assert_eq!(error(2), "tensor operation failed: device lost");
        assert_eq!(store.statuses().unwrap()[&jobs[2].id], Status::Failed);
        // The partial loss curve of a failed run is kept.
        let loss = std::fs::read_to_string(store.run_dir(&jobs[2].id).join("loss.csv")).unwrap();
        assert_eq!(loss, "step,loss\n1,0.5\n");
        // Artifacts are committed with the runs that trained, and only with them.
        let kept = |seed: usize| store.run_dir(&jobs[seed].id).join(artifacts::SAMPLES_FILE);
        assert!(kept(0).is_file() && !kept(2).is_file());
        let table = crate::columns::Table::read(&store.csv_path()).unwrap();
        assert_eq!(table.rows.len(), 5);
    }

    /// GPU runs in flight now, and the most seen at once (for the scheduling test).
    static GPU_NOW: AtomicUsize = AtomicUsize::new(0);
    static GPU_MAX: AtomicUsize = AtomicUsize::new(0);
    static ALL_NOW: AtomicUsize = AtomicUsize::new(0);
    static ALL_MAX: AtomicUsize = AtomicUsize::new(0);

    fn counting_train(config: &RunConfig, _: &mut dyn Progress) -> scorematch::Result<Finished> {
        let gpu = config.backend.is_gpu();
        let enter = |now: &AtomicUsize, max: &AtomicUsize| {
            max.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        };
        enter(&ALL_NOW, &ALL_MAX);
        if gpu {
            enter(&GPU_NOW, &GPU_MAX);
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
        if gpu {
            GPU_NOW.fetch_sub(1, Ordering::SeqCst);
        }
        ALL_NOW.fetch_sub(1, Ordering::SeqCst);
        Ok(fake_report(0.25))
    }

    #[test]
    fn gpu_runs_never_exceed_gpu_jobs_while_cpu_runs_go_on() {
        let jobs = esm_jobs(12, |seed| if seed % 2 == 0 { "wgpu" } else { "flex" });
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let opts = ExecOptions {
            jobs: 3,
            cores: 3,
            threads: None,
            gpu_jobs: 1,
        };
        let s = execute_with(
            counting_train,
            &jobs,
            &store,
            &opts,
            &monitor::LogMonitor,
            0,
        );
        assert_eq!((s.ok, s.workers, s.gpu_workers), (12, 3, 1));
        assert_eq!(GPU_MAX.load(Ordering::SeqCst), 1, "GPU runs overlapped");
        assert!(
            ALL_MAX.load(Ordering::SeqCst) >= 3,
            "CPU runs did not run beside the GPU run"
        );
    }

    #[test]
    fn each_run_gets_its_share_of_the_cores() {
        let opts = |jobs, cores, threads| ExecOptions {
            jobs,
            cores,
            threads,
            gpu_jobs: 1,
        };
        assert_eq!(opts(2, 2, None).layout(10), (2, 1));
        assert_eq!(opts(2, 2, None).layout(1), (1, 2));
        assert_eq!(opts(3, 8, None).layout(10), (3, 2));
        assert_eq!(opts(16, 4, None).layout(100), (16, 1));
        assert_eq!(opts(16, 4, None).layout(0), (1, 4));
        assert_eq!(opts(2, 8, Some(1)).layout(10), (2, 1));
    }
}
