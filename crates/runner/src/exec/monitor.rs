//! What the user sees while runs execute: bars on a terminal, log lines elsewhere.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use scorematch::Progress;

use crate::job::Job;
use crate::store::record::{RunRecord, Status};

/// Follows a sweep's runs.
pub trait Monitor: Sync {
    /// A run starts; the returned value receives its training progress.
    fn start(&self, job: &Job) -> Box<dyn Progress + Send>;
    /// A run has been recorded; `done` runs of `total` are finished.
    fn finish(&self, job: &Job, record: &RunRecord, done: usize, total: usize);
    /// A run was found finished by another process before it started.
    fn skip(&self, job: &Job, done: usize, total: usize) {
        tracing::info!(
            "[{done}/{total}] {} was finished by another process",
            job.id
        );
    }
    /// A run was abandoned in flight because the execution was stopped (nothing recorded).
    fn abandon(&self, job: &Job) {
        tracing::info!(
            "abandoned {} (not recorded; it runs again next time)",
            job.id
        );
    }
    /// The sweep is over.
    fn close(&self) {}
}

/// One line about a finished run.
pub fn finished_line(job: &Job, record: &RunRecord, done: usize, total: usize) -> String {
    let label = if job.label.is_empty() {
        String::new()
    } else {
        format!(" {}", job.label)
    };
    let report = record.report.as_ref();
    let num = |k: &str| report.and_then(|r| r.get(k)).and_then(|v| v.as_f64());
    let detail = match record.status {
        Status::Ok => format!(
            "fisher {} → {} ({:.1} s, {:.0} steps/s)",
            short(num("fisher_init")),
            short(num("fisher")),
            num("train_seconds").unwrap_or(0.0),
            num("steps_per_sec").unwrap_or(0.0)
        ),
        _ => record.error.clone().unwrap_or_default(),
    };
    format!(
        "[{done}/{total}] {} {}{label}: {detail}",
        record.status.as_str(),
        job.id
    )
}

fn short(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// Plain log lines (for CI and pipes).
pub struct LogMonitor;

/// Receives nothing: log lines are written per run, not per step.
struct Quiet;

impl Progress for Quiet {}

impl Monitor for LogMonitor {
    fn start(&self, job: &Job) -> Box<dyn Progress + Send> {
        tracing::debug!("start {} {}", job.id, job.label);
        Box::new(Quiet)
    }

    fn finish(&self, job: &Job, record: &RunRecord, done: usize, total: usize) {
        let line = finished_line(job, record, done, total);
        match record.status {
            Status::Failed => tracing::warn!("{line}"),
            _ => tracing::info!("{line}"),
        }
    }
}

/// Progress bars: one for the sweep, one per running run.
pub struct BarMonitor {
    multi: MultiProgress,
    overall: ProgressBar,
}

impl BarMonitor {
    /// Bars drawn through `multi` for `total` runs, `done` of which are already finished.
    pub fn new(multi: MultiProgress, total: usize, done: usize) -> Self {
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(style(
            "{prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} runs · ETA {eta}",
        ));
        overall.set_prefix("sweep");
        overall.set_position(done as u64);
        overall.enable_steady_tick(Duration::from_millis(500));
        Self { multi, overall }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A run's step bar, its message the run's label and latest loss (cut to the terminal's
/// width, so long labels never wrap).
struct StepBar {
    bar: ProgressBar,
    label: String,
}

impl Progress for StepBar {
    fn step(&mut self, step: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(step as u64);
    }

    fn loss(&mut self, _step: usize, loss: f64) {
        self.bar
            .set_message(format!("{} · loss {loss:.4}", self.label));
    }
}

impl Drop for StepBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Monitor for BarMonitor {
    fn start(&self, job: &Job) -> Box<dyn Progress + Send> {
        let bar = self.multi.insert_before(
            &self.overall,
            ProgressBar::new(job.config.train.steps as u64),
        );
        bar.set_style(style("  {bar:24.green/white} {pos:>6}/{len:<6} {wide_msg}"));
        let label = if job.label.is_empty() {
            job.id.clone()
        } else {
            job.label.clone()
        };
        bar.set_message(label.clone());
        Box::new(StepBar { bar, label })
    }

    fn finish(&self, job: &Job, record: &RunRecord, done: usize, total: usize) {
        self.overall.inc(1);
        let line = finished_line(job, record, done, total);
        match record.status {
            Status::Failed => tracing::warn!("{line}"),
            _ => tracing::info!("{line}"),
        }
    }

    fn skip(&self, job: &Job, done: usize, total: usize) {
        self.overall.inc(1);
        tracing::info!(
            "[{done}/{total}] {} was finished by another process",
            job.id
        );
    }

    fn close(&self) {
        self.overall.finish_and_clear();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
    }
}
