//! Execution with injected training functions: failures, scheduling, stops.

use super::*;
use crate::job::SweepInfo;
use crate::store::record::Status;
use rayon::prelude::*;
use scorematch::evaluation::ModelMetricValues;
use std::sync::Arc;

/// `jobs` CPU runs at a time on `cores` cores, one GPU run, nothing stopping them.
fn options(jobs: usize, cores: usize, threads: Option<usize>) -> ExecOptions {
    ExecOptions {
        jobs,
        cores,
        threads,
        gpu_jobs: 1,
        stop: Stop::new(),
        prune: None,
    }
}

/// Seed 1 panics on a pool thread, seed 2 returns an error, others end fine.
fn fake_train(
    config: &RunConfig,
    _: Option<&std::path::Path>,
    progress: &mut dyn Progress,
) -> scorematch::Result<Finished> {
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
    let values = ModelMetricValues {
        fisher_init: Some(1.0),
        fisher: Some(fisher),
        ..ModelMetricValues::default()
    };
    let report = TrainReport {
        steps_done: 10,
        final_loss: Some(0.5),
        train_seconds: 0.1,
        steps_per_sec: 100.0,
        kernels: scorematch::engine::Kernels::Reference,
        loss_curve: vec![LossPoint {
            step: 10,
            loss: 0.5,
        }],
        ..TrainReport::evaluated(&values, None)
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
    let opts = options(2, 4, None);
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

fn counting_train(
    config: &RunConfig,
    _: Option<&std::path::Path>,
    _: &mut dyn Progress,
) -> scorematch::Result<Finished> {
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
    let opts = options(3, 3, None);
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
    let opts = options;
    assert_eq!(opts(2, 2, None).layout(10), (2, 1));
    assert_eq!(opts(2, 2, None).layout(1), (1, 2));
    assert_eq!(opts(3, 8, None).layout(10), (3, 2));
    assert_eq!(opts(16, 4, None).layout(100), (16, 1));
    assert_eq!(opts(16, 4, None).layout(0), (1, 4));
    assert_eq!(opts(2, 8, Some(1)).layout(10), (2, 1));
}

/// Training calls of the stop tests, by seed.
static STARTED: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// Seed 1 trains until the execution is stopped, then reports the interruption as the
/// library's training loop does; the others end at once.
fn train_until_stopped(
    config: &RunConfig,
    _: Option<&std::path::Path>,
    progress: &mut dyn Progress,
) -> scorematch::Result<Finished> {
    STARTED[config.seed as usize].fetch_add(1, Ordering::SeqCst);
    if config.seed == 1 {
        let mut step = 0;
        while !progress.stop_requested() {
            step += 1;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        return Err(scorematch::Error::Interrupted { step });
    }
    Ok(fake_report(0.25))
}

#[test]
fn a_stop_abandons_the_run_in_flight_and_starts_no_other() {
    let jobs = esm_jobs(4, |_| "flex");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let opts = options(1, 1, None);
    let summary = std::thread::scope(|s| {
        s.spawn(|| {
            while STARTED[1].load(Ordering::SeqCst) == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            opts.stop.raise(signal_hook::consts::SIGTERM);
        });
        execute_with(
            train_until_stopped,
            &jobs,
            &store,
            &opts,
            &monitor::LogMonitor,
            0,
        )
    });
    assert_eq!((summary.ok, summary.abandoned, summary.failed), (1, 1, 0));
    let started: Vec<usize> = STARTED.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    assert_eq!(started, [1, 1, 0, 0]);
    // Only the finished run is recorded; the abandoned one left nothing behind.
    let records = store.records().unwrap();
    assert_eq!(records.keys().collect::<Vec<_>>(), [&jobs[0].id]);
    assert_eq!(
        std::fs::read_dir(dir.path().join(".tmp")).unwrap().count(),
        0
    );
    assert_eq!(opts.stop.exit_status(), Some(143));
}

#[test]
fn a_run_that_cannot_be_saved_stops_the_execution() {
    let jobs = esm_jobs(4, |_| "flex");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    // The staging area cannot take a run (as on a full disk, but also for root).
    let staging = dir.path().join(".tmp");
    std::fs::remove_dir(&staging).unwrap();
    std::fs::write(&staging, b"").unwrap();
    static TRAINED: AtomicUsize = AtomicUsize::new(0);
    fn counting(
        _: &RunConfig,
        _: Option<&std::path::Path>,
        _: &mut dyn Progress,
    ) -> scorematch::Result<Finished> {
        TRAINED.fetch_add(1, Ordering::SeqCst);
        Ok(fake_report(0.25))
    }
    let opts = options(1, 1, None);
    let s = execute_with(counting, &jobs, &store, &opts, &monitor::LogMonitor, 0);
    assert_eq!(TRAINED.load(Ordering::SeqCst), 1, "training went on");
    assert_eq!((s.ok, s.not_saved), (1, 1));
    let error = s.save_error.unwrap();
    assert!(
        error.starts_with(&format!("could not save run {}: creating ", jobs[0].id)),
        "{error}"
    );
    assert!(opts.stop.requested() && opts.stop.signal().is_none());
}
