//! Executing runs: `--jobs` runs at a time, each in its own rayon pool with its share of the
//! cores (burn's CPU backends parallelise on the current rayon pool), each caught if it
//! panics, each committed to the store as soon as it ends. A signal or a run that cannot be
//! saved stops the execution early ([`interrupt::Stop`]).

pub mod external;
pub mod interrupt;
pub mod monitor;
pub mod panic;
pub mod prune;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scorematch::model::Fit;
use scorematch::train::LossPoint;
use scorematch::{Progress, RunConfig, RunStatus, TrainReport};

use crate::job::Job;
use crate::store::artifacts::{self, Artifact};
use crate::store::record::{Outcome, RunRecord, Status};
use crate::store::{Committed, Store, StoredModel};
use crate::sweep::search::prune::Prune;
use interrupt::Stop;
use monitor::Monitor;
use panic::PanicSlot;
use prune::Pruner;
use scorematch::checkpoint::CHECKPOINT_FILE;

/// How many runs at once, on how many cores, and what stops them early.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Concurrent CPU runs.
    pub jobs: usize,
    /// Cores to share among them.
    pub cores: usize,
    /// Threads per run, instead of the cores' share.
    pub threads: Option<usize>,
    /// Concurrent GPU runs, beside the CPU runs (one device is not oversubscribed).
    pub gpu_jobs: usize,
    /// Set by a signal or by a run that could not be saved: no run starts after it, runs in
    /// flight are abandoned.
    pub stop: Stop,
    /// A search's early termination, if its sweep has one.
    pub prune: Option<Prune>,
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
            stop: Stop::new(),
            prune: None,
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
    /// Runs a search's pruning rule stopped.
    pub pruned: usize,
    /// Runs another process finished first (ours was dropped).
    pub already_done: usize,
    /// Runs whose result could not be written.
    pub not_saved: usize,
    /// Why the first of them could not be written.
    pub save_error: Option<String>,
    /// Runs abandoned in flight when the execution was stopped (not recorded).
    pub abandoned: usize,
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

/// Trains one configuration to its report, keeping its training state in the file given (if
/// any) and resuming from it.
pub type TrainFn = fn(&RunConfig, Option<&Path>, &mut dyn Progress) -> scorematch::Result<Finished>;

/// Trains with [`scorematch::train::train_resumable`] and keeps the artifacts of runs that
/// ended ok (a run whose artifacts cannot be made is still recorded, without them); a pruned
/// or diverged run keeps its held-out loss curve only.
fn train_report(
    config: &RunConfig,
    state: Option<&Path>,
    progress: &mut dyn Progress,
) -> scorematch::Result<Finished> {
    let trained = scorematch::train::train_resumable(config, state, progress)?;
    let artifacts = if trained.report.status == RunStatus::Ok {
        artifacts::of(&trained, config).unwrap_or_else(|e| {
            tracing::warn!("no checkpoint or figure data kept for this run: {e:#}");
            Vec::new()
        })
    } else {
        artifacts::val_loss(&trained.report).into_iter().collect()
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
                self.not_saved += 1;
                self.save_error
                    .get_or_insert_with(|| format!("could not save run {}: {e:#}", job.id));
            }
        }
        match record.status {
            Status::Ok => self.ok += 1,
            Status::Diverged => self.diverged += 1,
            Status::Failed => self.failed += 1,
            Status::Pruned => self.pruned += 1,
        }
        // Steps taken here: a run sampled from a lent model took none.
        if let Outcome::Trained(r) = outcome
            && record.trained_in.is_none()
        {
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
    let (cpu_groups, gpu_groups) = (by_train_id(&cpu_jobs), by_train_id(&gpu_jobs));
    let (workers, threads) = opts.layout(cpu_groups.len());
    let workers = if cpu_groups.is_empty() { 0 } else { workers };
    let gpu_workers = opts.gpu_jobs.min(gpu_groups.len());
    let total = done_before + jobs.len();
    let done = AtomicUsize::new(done_before);
    let summary = Mutex::new(ExecSummary {
        workers,
        threads,
        gpu_workers,
        ..ExecSummary::default()
    });
    let start = Instant::now();
    let stored = store.trained_models();
    // Runs with `checkpoint_every` keep their training state in the store while in flight.
    let train_fn = |job: &Job, progress: &mut dyn Progress| {
        if job.config.model.fit() == Fit::External {
            return external::run(
                &job.config,
                &external::work_dir(store.root(), &job.id),
                progress,
            );
        }
        let state = (job.config.train.checkpoint_every > 0).then(|| store.train_state(&job.id));
        train(&job.config, state.as_deref(), progress)
    };
    // One worker: takes the next group of runs sharing a training configuration until none is
    // left. The first of a group that trains ok lends its model to the others, which only
    // sample. GPU runs get one host thread: their tensor work is on the device.
    let work = |queue: &[Vec<&Job>], next: &AtomicUsize, threads: usize| {
        let slot = PanicSlot::default();
        panic::capture_on_this_thread(slot.clone());
        let pool = build_pool(threads, &slot);
        loop {
            if opts.stop.requested() {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(group) = queue.get(i) else { break };
            // A model this configuration trained in an earlier invocation, if there is one.
            let mut lent: Option<Lent> = stored
                .get(&group[0].train_id)
                .and_then(|id| store.stored_model(id));
            for &job in group {
                if opts.stop.requested() {
                    break;
                }
                // Another process sharing the directory may have finished it meanwhile.
                if store.status(&job.id).is_some_and(Status::is_complete) {
                    store.drop_train_state(&job.id);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    monitor.skip(job, n, total);
                    summary
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .already_done += 1;
                    continue;
                }
                let progress = monitor.start(job);
                let ran = match &lent {
                    Some(l) => {
                        let sample = |job: &Job, progress: &mut dyn Progress| {
                            resampled(&job.config, l, progress)
                        };
                        run_one(
                            &sample,
                            job,
                            pool.as_ref(),
                            &slot,
                            progress,
                            &opts.stop,
                            None,
                        )
                    }
                    None => {
                        let pruner = opts
                            .prune
                            .as_ref()
                            .map(|p| Pruner::new(p, store, &job.id, &job.config));
                        run_one(
                            &train_fn,
                            job,
                            pool.as_ref(),
                            &slot,
                            progress,
                            &opts.stop,
                            pruner,
                        )
                    }
                };
                let Some((outcome, mut artifacts)) = ran else {
                    monitor.abandon(job);
                    summary.lock().unwrap_or_else(|e| e.into_inner()).abandoned += 1;
                    continue;
                };
                // A failed external method keeps its command's last stderr lines.
                if matches!(outcome, Outcome::Failed { .. })
                    && job.config.model.fit() == Fit::External
                {
                    artifacts =
                        external::stderr_artifact(&external::work_dir(store.root(), &job.id));
                }
                let mut record = RunRecord::new(job, threads, &outcome);
                record.trained_in = lent.as_ref().map(|l| l.run_id.clone());
                let losses = match &outcome {
                    Outcome::Trained(r) => r.loss_curve.as_slice(),
                    Outcome::Failed { losses, .. } => losses.as_slice(),
                };
                let committed = store
                    .stage(&record, &job.config, losses, &artifacts)
                    .and_then(|staged| store.lock()?.commit(staged));
                match &committed {
                    Ok(_) => store.drop_train_state(&job.id),
                    // Nothing later could be saved either (a full disk): stop here.
                    Err(_) => opts.stop.save_failed(),
                }
                if lent.is_none() {
                    lent = lent_by(job, &outcome, &artifacts);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                monitor.finish(job, &record, n, total);
                let mut sum = summary.lock().unwrap_or_else(|e| e.into_inner());
                sum.count(job, &record, &outcome, committed);
            }
        }
    };
    let (next_cpu, next_gpu) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| work(&cpu_groups, &next_cpu, threads));
        }
        for _ in 0..gpu_workers {
            s.spawn(|| work(&gpu_groups, &next_gpu, 1));
        }
    });
    monitor.close();
    let mut summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.wall_seconds = start.elapsed().as_secs_f64();
    summary
}

/// The jobs grouped by training configuration, groups in order of their first job.
fn by_train_id<'j>(jobs: &[&'j Job]) -> Vec<Vec<&'j Job>> {
    let mut groups: Vec<Vec<&Job>> = Vec::new();
    for &job in jobs {
        match groups.iter_mut().find(|g| g[0].train_id == job.train_id) {
            Some(g) => g.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

/// A trained model lent to the other runs of its training configuration.
type Lent = StoredModel;

/// What run `job` can lend: a model that trained ok and whose checkpoint was kept.
fn lent_by(job: &Job, outcome: &Outcome, artifacts: &[Artifact]) -> Option<Lent> {
    let Outcome::Trained(report) = outcome else {
        return None;
    };
    let bytes = &artifacts.iter().find(|a| a.name == CHECKPOINT_FILE)?.bytes;
    let checkpoint = scorematch::checkpoint::decode(bytes).ok()?;
    (report.status == RunStatus::Ok).then(|| Lent {
        run_id: job.id.clone(),
        report: (**report).clone(),
        checkpoint,
    })
}

/// Run `config` from a lent model: its training numbers, new samples.
fn resampled(
    config: &RunConfig,
    lent: &Lent,
    progress: &mut dyn Progress,
) -> scorematch::Result<Finished> {
    let trained = scorematch::resample::resample(config, &lent.checkpoint, &lent.report, progress)?;
    let artifacts = artifacts::of(&trained, config).unwrap_or_else(|e| {
        tracing::warn!("no checkpoint or figure data kept for this run: {e:#}");
        Vec::new()
    });
    Ok(Finished {
        report: trained.report,
        artifacts,
    })
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

/// Keeps the losses seen so far (for runs that fail), passes progress on, and asks training
/// to stop when the execution is stopped.
struct Recorder<'a> {
    id: &'a str,
    inner: Box<dyn Progress + Send>,
    losses: Vec<LossPoint>,
    stop: &'a Stop,
    pruner: Option<Pruner<'a>>,
}

impl Progress for Recorder<'_> {
    fn step(&mut self, step: usize, total: usize) {
        self.inner.step(step, total);
    }

    fn loss(&mut self, step: usize, loss: f64) {
        self.losses.push(LossPoint { step, loss });
        self.inner.loss(step, loss);
    }

    fn prune(&mut self, step: usize, val_loss: f64) -> bool {
        let Some(pruner) = &mut self.pruner else {
            return false;
        };
        match pruner.stops(step, val_loss) {
            Ok(stops) => stops,
            Err(e) => {
                tracing::warn!("run {}: pruning rule not applied: {e:#}", self.id);
                false
            }
        }
    }

    fn note(&mut self, message: &str) {
        tracing::info!("run {}: {message}", self.id);
    }

    fn stop_requested(&self) -> bool {
        self.stop.requested()
    }
}

/// Trains one run inside `pool`, turning errors and panics into a failed outcome; returns
/// the outcome and the run's artifacts, or `None` if the run was abandoned because `stop`
/// was requested.
fn run_one<'a>(
    train: &(dyn Fn(&Job, &mut dyn Progress) -> scorematch::Result<Finished> + Sync),
    job: &'a Job,
    pool: Option<&rayon::ThreadPool>,
    slot: &PanicSlot,
    progress: Box<dyn Progress + Send>,
    stop: &'a Stop,
    pruner: Option<Pruner<'a>>,
) -> Option<(Outcome, Vec<Artifact>)> {
    let mut recorder = Recorder {
        id: &job.id,
        inner: progress,
        losses: Vec::new(),
        stop,
        pruner,
    };
    let result = {
        let mut run = || train(job, &mut recorder);
        catch_unwind(AssertUnwindSafe(|| match pool {
            Some(p) => p.install(run),
            None => run(),
        }))
    };
    let caught = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    Some(match result {
        Ok(Ok(f)) => (Outcome::Trained(Box::new(f.report)), f.artifacts),
        Ok(Err(scorematch::Error::Interrupted { .. })) => return None,
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
    })
}

#[cfg(test)]
mod tests;
