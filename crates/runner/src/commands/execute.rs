//! Running a checked plan into an output directory: resume, execution, final table and
//! summary. Shared by `sweep` and `run`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use indicatif::MultiProgress;

use crate::exec::interrupt::Stop;
use crate::exec::monitor::{BarMonitor, LogMonitor, Monitor};
use crate::exec::{ExecOptions, execute};
use crate::job::Job;
use crate::listing;
use crate::report;
use crate::store::Store;
use crate::sweep::Loaded;

/// How to execute.
pub struct Execution {
    /// Output directory.
    pub out: PathBuf,
    /// Move an existing output directory aside first.
    pub fresh: bool,
    /// Only show what would run.
    pub dry_run: bool,
    /// Concurrent runs.
    pub jobs: Option<usize>,
    /// Threads per run.
    pub threads: Option<usize>,
    /// Concurrent GPU runs.
    pub gpu_jobs: usize,
    /// The command line that asked for it (kept with the sweep file's copy).
    pub command_line: String,
}

/// What an execution ended with.
pub struct Executed {
    /// The process's exit code.
    pub code: ExitCode,
    /// The runs of the plan (empty when nothing could run).
    pub jobs: Vec<Job>,
    /// Whether a signal stopped it before every run had run.
    pub interrupted: bool,
}

impl Executed {
    fn new(code: ExitCode, jobs: Vec<Job>) -> Self {
        Self {
            code,
            jobs,
            interrupted: false,
        }
    }
}

/// Runs every pending run of `loaded` into `ex.out`. SIGINT and SIGTERM stop it cleanly
/// (runs in flight are abandoned, finished ones kept); a run that cannot be saved stops it
/// with an error.
pub fn execute_plan(
    mut loaded: Loaded,
    ex: &Execution,
    multi: Option<MultiProgress>,
) -> Result<Executed> {
    listing::label_jobs(&mut loaded.plan.jobs);
    let plan = &loaded.plan;
    if ex.dry_run {
        let statuses = match (ex.fresh, Store::existing(&ex.out)) {
            (false, Some(store)) => store.statuses()?,
            _ => Default::default(),
        };
        print!("{}", listing::render(plan, &statuses, &ex.out));
        println!("dry run: nothing was run or written");
        return Ok(Executed::new(ExitCode::SUCCESS, plan.jobs.clone()));
    }
    if let Err(d) = plan.check_environment() {
        return Ok(Executed::new(super::invalid(&d), Vec::new()));
    }
    if ex.fresh && ex.out.exists() {
        let aside = aside_name(&ex.out);
        std::fs::rename(&ex.out, &aside)
            .with_context(|| format!("moving {} aside to {}", ex.out.display(), aside.display()))?;
        eprintln!("moved the previous results to {}", aside.display());
    }
    let store = Store::create(&ex.out)?;
    store.lock()?.recover()?;
    save_sweep_copy(&loaded, ex)?;
    let statuses = store.statuses()?;
    let pending: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| !statuses.get(&j.id).is_some_and(|s| s.is_complete()))
        .cloned()
        .collect();
    let done = plan.jobs.len() - pending.len();
    let mut opts = ExecOptions::new(ex.jobs, ex.threads, ex.gpu_jobs);
    opts.prune = plan.prune.clone();
    opts.stop = Stop::on_signals()?;
    let gpu_pending = pending.iter().filter(|j| j.config.backend.is_gpu()).count();
    let (workers, threads) = opts.layout(pending.len() - gpu_pending);
    let gpu = if gpu_pending > 0 {
        format!(", {} GPU run at a time", opts.gpu_jobs.min(gpu_pending))
    } else {
        String::new()
    };
    eprintln!(
        "{}: {} runs, {done} already done, {} to run ({workers} at a time × {threads} thread{}{gpu}) → {}",
        plan.sweep.name,
        plan.jobs.len(),
        pending.len(),
        if threads == 1 { "" } else { "s" },
        ex.out.display()
    );
    let monitor: Box<dyn Monitor> = match multi {
        Some(m) if std::io::stderr().is_terminal() => {
            Box::new(BarMonitor::new(m, plan.jobs.len(), done))
        }
        _ => Box::new(LogMonitor),
    };
    let summary = execute(&pending, &store, &opts, monitor.as_ref(), done);
    store.lock()?.rebuild()?;
    if opts.stop.requested() {
        let statuses = store.statuses()?;
        let finished = plan
            .jobs
            .iter()
            .filter(|j| statuses.get(&j.id).is_some_and(|s| s.is_complete()))
            .count();
        let progress = format!("{finished} of {} runs done", plan.jobs.len());
        if let Some(status) = opts.stop.exit_status() {
            eprintln!("interrupted: {progress}; run the same command to finish");
            return Ok(Executed {
                code: ExitCode::from(status),
                jobs: Vec::new(),
                interrupted: true,
            });
        }
        let why = summary
            .save_error
            .as_deref()
            .unwrap_or("a run could not be saved");
        anyhow::bail!("{why}; the sweep stopped: {progress}");
    }
    if let Err(e) = report::write_reports(&ex.out) {
        tracing::warn!("no summary written: {e:#}");
    }
    let ran = summary.ok + summary.diverged + summary.failed + summary.pruned;
    let pruned = if summary.pruned > 0 {
        format!(", {} pruned", summary.pruned)
    } else {
        String::new()
    };
    let rate = |n: f64| {
        if summary.wall_seconds > 0.0 {
            n / summary.wall_seconds
        } else {
            0.0
        }
    };
    println!(
        "{}: {ran} run{} in {:.1} s ({} ok, {} diverged, {} failed{pruned}; {done} done before) · {:.3} runs/s · {:.0} steps/s overall · {} at a time × {} thread{}",
        plan.sweep.name,
        if ran == 1 { "" } else { "s" },
        summary.wall_seconds,
        summary.ok,
        summary.diverged,
        summary.failed,
        rate(ran as f64),
        rate(summary.steps as f64),
        summary.workers,
        summary.threads,
        if summary.threads == 1 { "" } else { "s" },
    );
    println!("results: {}", store.csv_path().display());
    if summary.already_done > 0 {
        println!(
            "{} runs were finished meanwhile by another process",
            summary.already_done
        );
    }
    let code = if summary.failed > 0 || summary.not_saved > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    Ok(Executed::new(code, plan.jobs.clone()))
}

/// `<out>.old-<unix time>` (with a counter if taken).
fn aside_name(out: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}.old-{secs}", out.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// Keeps the sweep as run next to its results: the command line, then the file with its
/// bases merged in and the `--set` overrides (and `runner run`'s flags) applied.
fn save_sweep_copy(loaded: &Loaded, ex: &Execution) -> Result<()> {
    let text = toml::to_string(&loaded.document).context("writing the sweep as TOML")?;
    let copy = format!("# {}\n{text}", ex.command_line);
    crate::store::write_atomic(&ex.out.join("sweep.toml"), copy.as_bytes())
}
