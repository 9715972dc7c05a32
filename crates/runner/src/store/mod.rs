//! A sweep's output directory, safe against kill -9 and shared by several processes.
//!
//! ```text
//! <out>/runs.csv              one row per finished run (rebuilt from runs/ when in doubt)
//! <out>/runs/<run_id>/        config.toml, metrics.json, loss.csv (+ field.json, samples.csv
//!                             for 2-D data, see [`artifacts`])
//! <out>/resume/<run_id>.safetensors
//!                             the training state of a run in flight with `checkpoint_every`
//!                             (removed once the run is committed)
//! <out>/.lock                 held while a run is committed or runs.csv rewritten
//! <out>/.tmp/                 staging area
//! ```
//!
//! A run is written into a staging directory inside `<out>` (files fsynced), then, under the
//! lock, renamed into `runs/` and its row appended to `runs.csv` (fsynced). The run
//! directories are the truth: under the same lock, `runs.csv` is rebuilt from them (written
//! aside, then renamed over), which repairs a partial last line or a run whose row was never
//! appended. A starting process rebuilds only when the table is out of step with `runs/`
//! ([`Locked::recover`]), so a hundred shards starting at once do not each read every run.
//!
//! Several processes, on one machine or on several sharing the directory over a network
//! filesystem (the lock is `flock`, which NFS and Lustre with `-o flock` honour), can run into
//! the same directory: a run is committed at most once (a second result for a finished run is
//! dropped), and staging names carry host and process id, so leftovers of a killed process are
//! removed by the next process on its host (or by anyone once they are a day old).

pub mod artifacts;
pub mod record;
mod trained;

pub use trained::StoredModel;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use scorematch::RunConfig;
use scorematch::train::LossPoint;
use serde_json::Value;

use crate::columns;
use artifacts::Artifact;
use record::{RunRecord, Status, loss_csv};

/// The run files of a committed run.
pub const CONFIG_FILE: &str = "config.toml";
/// The record of a committed run.
pub const METRICS_FILE: &str = "metrics.json";
/// The loss curve of a committed run.
pub const LOSS_FILE: &str = "loss.csv";
/// The table of runs.
pub const RUNS_CSV: &str = "runs.csv";
/// `runner best`'s table of winners.
pub const BEST_MD: &str = "best.md";
/// The same as CSV.
pub const BEST_CSV: &str = "best.csv";

/// Distinguishes staging names within one process.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Staging leftovers older than this are removed whoever left them: staging lasts seconds.
const STALE_STAGING: Duration = Duration::from_secs(24 * 3600);

/// An output directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// A run written to the staging area, waiting to be committed.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    id: String,
    record: Value,
}

/// What committing a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Committed {
    /// A new run directory and row.
    Added,
    /// Replaced an earlier failed attempt (its row replaced, not duplicated).
    Replaced,
    /// Another process had already committed this run; ours was dropped.
    AlreadyDone,
}

impl Store {
    /// The output directory at `root`, created if needed.
    pub fn create(root: &Path) -> Result<Store> {
        for dir in [root.join("runs"), root.join(".tmp")] {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// The output directory at `root` if it exists (nothing is created).
    pub fn existing(root: &Path) -> Option<Store> {
        root.join("runs").is_dir().then(|| Store {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `runs.csv`.
    pub fn csv_path(&self) -> PathBuf {
        self.root.join(RUNS_CSV)
    }

    /// The directory of run `id`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    /// Where run `id` keeps its training state while in flight (see
    /// [`scorematch::train::train_resumable`]).
    pub fn train_state(&self, id: &str) -> PathBuf {
        self.root.join("resume").join(format!("{id}.safetensors"))
    }

    /// Removes run `id`'s training state, once its result is committed.
    pub fn drop_train_state(&self, id: &str) {
        match fs::remove_file(self.train_state(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove the training state of {id}: {e}"),
        }
    }

    /// A fresh name in the staging area (cleaned up if its process died).
    pub(crate) fn tmp_name(&self, what: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(".tmp")
            .join(format!("{what}.{}.{}.{n}", host_name(), std::process::id()))
    }

    /// Takes the directory's lock (waiting for other processes to release it).
    pub fn lock(&self) -> Result<Locked<'_>> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Locked { store: self, file })
    }

    /// The records of every committed run, by run id.
    pub fn records(&self) -> Result<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        let runs = self.root.join("runs");
        let entries = match fs::read_dir(&runs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("listing {}", runs.display())),
        };
        for entry in entries {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            match read_record(&entry.path()) {
                Some(r) => {
                    out.insert(id, r);
                }
                None => tracing::warn!(
                    "skipping {}: no readable {METRICS_FILE}",
                    entry.path().display()
                ),
            }
        }
        Ok(out)
    }

    /// The status of every committed run.
    pub fn statuses(&self) -> Result<BTreeMap<String, Status>> {
        Ok(self
            .records()?
            .into_iter()
            .filter_map(|(id, r)| Some((id, record_status(&r)?)))
            .collect())
    }

    /// The status of run `id`, if it is committed.
    pub fn status(&self, id: &str) -> Option<Status> {
        read_record(&self.run_dir(id)).and_then(|r| record_status(&r))
    }

    /// Writes a finished run (and its `artifacts`) into the staging area, every file synced
    /// to disk.
    pub fn stage(
        &self,
        record: &RunRecord,
        config: &RunConfig,
        losses: &[LossPoint],
        artifacts: &[Artifact],
    ) -> Result<Staged> {
        let dir = self.tmp_name(&record.run_id);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let value = record.to_value();
        let config_text =
            toml::to_string_pretty(config).context("writing the configuration as TOML")?;
        write_synced(&dir.join(CONFIG_FILE), config_text.as_bytes())?;
        write_synced(
            &dir.join(METRICS_FILE),
            serde_json::to_string_pretty(&value)?.as_bytes(),
        )?;
        write_synced(&dir.join(LOSS_FILE), &loss_csv(losses))?;
        for a in artifacts {
            write_synced(&dir.join(a.name), &a.bytes)?;
        }
        sync_dir(&dir);
        Ok(Staged {
            dir,
            id: record.run_id.clone(),
            record: value,
        })
    }
}

/// The output directory, locked.
#[derive(Debug)]
pub struct Locked<'a> {
    store: &'a Store,
    file: File,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

impl Locked<'_> {
    /// What a process does when it starts and ends: removes staging leftovers of dead
    /// processes ([`Locked::clean_staging`]) and rebuilds `runs.csv` unless it is in step
    /// with the run directories. That check reads the table and the names in `runs/`, not
    /// every run's files, so many processes sharing a large directory do not queue behind
    /// full rebuilds. Returns whether it rebuilt.
    pub fn recover(&self) -> Result<bool> {
        let in_step = self.in_step()?;
        self.clean_staging();
        if in_step {
            return Ok(false);
        }
        self.rebuild()?;
        // Under the lock a `replaced-*` entry is the leftover of a dead process (a live one
        // removes it before unlocking), and the rebuilt table no longer needs it.
        if let Ok(entries) = fs::read_dir(self.store.root.join(".tmp")) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("replaced-") {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(true)
    }

    /// Whether `runs.csv` has exactly one row per run directory and can be appended to, and
    /// no process was killed while replacing a run (that leaves `replaced-*` in the staging
    /// area, and an old row for a run whose directory is new).
    fn in_step(&self) -> Result<bool> {
        if !self.csv_ends_cleanly()? {
            return Ok(false);
        }
        let replacing = fs::read_dir(self.store.root.join(".tmp")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        });
        if replacing {
            return Ok(false);
        }
        let Ok(table) = columns::Table::read(&self.store.csv_path()) else {
            return Ok(false);
        };
        let Some(column) = table.header.iter().position(|h| h == "run_id") else {
            return Ok(false);
        };
        let mut rows: Vec<&str> = table
            .rows
            .iter()
            .filter_map(|r| r.get(column).map(String::as_str))
            .collect();
        let runs = self.store.root.join("runs");
        let mut dirs: Vec<String> = fs::read_dir(&runs)
            .with_context(|| format!("listing {}", runs.display()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("listing {}", runs.display()))?;
        rows.sort_unstable();
        dirs.sort_unstable();
        Ok(rows == dirs)
    }

    /// Removes staging leftovers of processes that no longer run (killed mid-run): those of
    /// this host whose process is gone, and any older than a day.
    pub fn clean_staging(&self) {
        let Ok(entries) = fs::read_dir(self.store.root.join(".tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dead = staging_owner(&name)
                .is_some_and(|(host, pid)| host == host_name() && !process_alive(pid));
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_STAGING);
            if dead || stale {
                let path = entry.path();
                let _ = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }

    /// Rewrites `runs.csv` from the run directories, rows sorted; returns the row count.
    pub fn rebuild(&self) -> Result<usize> {
        let records = self.store.records()?;
        let layout = columns::Layout::of(records.values());
        let mut rows: Vec<Vec<String>> = records.values().map(|r| layout.row(r)).collect();
        rows.sort_by(|a, b| columns::compare_rows(layout.names(), a, b));
        let tmp = self.store.tmp_name("runs.csv");
        write_synced(&tmp, &columns::encode_table(layout.names(), &rows))?;
        let path = self.store.csv_path();
        fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
        sync_dir(&self.store.root);
        Ok(rows.len())
    }

    /// Moves a staged run into place and records its row.
    pub fn commit(&self, staged: Staged) -> Result<Committed> {
        let target = self.store.run_dir(&staged.id);
        let runs = self.store.root.join("runs");
        if target.exists() {
            let done = read_record(&target)
                .and_then(|r| record_status(&r))
                .is_some_and(Status::is_complete);
            if done {
                let _ = fs::remove_dir_all(&staged.dir);
                return Ok(Committed::AlreadyDone);
            }
            // An earlier failed attempt: swap it out, then rewrite the table so its row is
            // replaced rather than duplicated.
            let old = self.store.tmp_name(&format!("replaced-{}", staged.id));
            fs::rename(&target, &old)
                .with_context(|| format!("moving {} aside", target.display()))?;
            fs::rename(&staged.dir, &target)
                .with_context(|| format!("committing {}", target.display()))?;
            sync_dir(&runs);
            self.rebuild()?;
            let _ = fs::remove_dir_all(&old);
            return Ok(Committed::Replaced);
        }
        fs::rename(&staged.dir, &target)
            .with_context(|| format!("committing {}", target.display()))?;
        sync_dir(&runs);
        match self.appendable_layout()? {
            Some(layout) if layout.fits(&staged.record) => {
                let path = self.store.csv_path();
                let mut f = OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                f.write_all(&columns::encode(&layout.row(&staged.record)))?;
                f.sync_data()?;
            }
            // No table yet, a damaged one, or a run with a parameter the table has no column
            // for: write it anew from the run directories.
            _ => {
                self.rebuild()?;
            }
        }
        Ok(Committed::Added)
    }

    /// Whether `runs.csv` exists with a header this runner writes and ends with a whole line,
    /// so a row can be appended.
    fn csv_ends_cleanly(&self) -> Result<bool> {
        Ok(self.appendable_layout()?.is_some())
    }

    /// The layout of `runs.csv` when it exists with a header this runner writes and ends with a
    /// whole line.
    fn appendable_layout(&self) -> Result<Option<columns::Layout>> {
        let path = self.store.csv_path();
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        if f.seek(SeekFrom::End(0))? == 0 {
            return Ok(None);
        }
        f.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            return Ok(None);
        }
        f.seek(SeekFrom::Start(0))?;
        let mut reader = csv::ReaderBuilder::new().from_reader(f);
        let Ok(header) = reader.headers() else {
            return Ok(None);
        };
        let header: Vec<String> = header.iter().map(String::from).collect();
        Ok(columns::Layout::parse(&header))
    }
}

fn read_record(dir: &Path) -> Option<Value> {
    let text = fs::read_to_string(dir.join(METRICS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn record_status(record: &Value) -> Option<Status> {
    Status::from_name(record.get("status")?.as_str()?)
}

/// Rebuilds `runs.csv` of the output directory `dir` from its run directories, if it is one
/// and can be locked: a process killed while committing (a Slurm task at its time limit) can
/// leave the table a row short or with half a row. Best effort: a problem is logged.
pub fn repair_table(dir: &Path) {
    let Some(store) = Store::existing(dir) else {
        return;
    };
    if let Err(e) = store.lock().and_then(|lock| lock.rebuild()) {
        tracing::warn!("{RUNS_CSV} not rebuilt: {e:#}");
    }
}

/// Writes a file and syncs it to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes a file atomically: aside, synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// Syncs a directory's entries (renames) to disk where the platform allows it.
fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Host and process id of a staging name `<what>.<host>.<pid>.<n>`.
fn staging_owner(name: &str) -> Option<(&str, u32)> {
    let mut parts = name.rsplit('.');
    let _n = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?, pid))
}

/// This machine's name as staging names carry it (letters, digits, `-` and `_` only).
fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .unwrap_or_default();
        let clean: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            "localhost".to_string()
        } else {
            clean
        }
    })
}

/// Whether process `pid` is running (assumed so where that cannot be told).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests;
