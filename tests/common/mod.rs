//! Helpers shared by the end-to-end tests of the `runner` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod tools;

/// Tiny runs: a fraction of a second each.
pub const TINY: &str = r#"
[defaults]
steps = 20
batch = 32
eval_samples = 200
pool_size = 512
log_every = 5
model = { name = "mlp", hidden = 16 }
"#;

/// A temporary directory to run the binary in.
pub struct Sandbox {
    /// The directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `runner ARGS` in the sandbox, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runner"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info");
        c
    }

    pub fn runner(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the output unless the command succeeded.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A CSV file's rows as cells by column name (every row as long as the header).
pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    read_csv_with_header(path).1
}

/// A CSV file as its header and its rows of cells by column name.
pub fn read_csv_with_header(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len(), "ragged row in {}", path.display());
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The run ids of a sweep file, as the runner expands it.
pub fn run_ids(file: &Path) -> BTreeSet<String> {
    let loaded = runner::sweep::load(file, &[]).unwrap();
    loaded.plan.jobs.iter().map(|j| j.id.clone()).collect()
}

/// Asserts that `out` holds exactly one `ok` row and one run directory per id of `expected`,
/// and nothing left in its staging area.
pub fn assert_one_ok_row_per_run(out: &Path, expected: &BTreeSet<String>) {
    let rows = read_csv(&out.join("runs.csv"));
    let ids: Vec<&str> = rows.iter().map(|r| r["run_id"].as_str()).collect();
    let distinct: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(ids.len(), distinct.len(), "duplicated rows: {ids:?}");
    assert_eq!(&distinct, expected, "rows of {}", out.display());
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
    }
    let dirs: BTreeSet<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(&dirs, expected, "run directories of {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(out.join(".tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(leftovers.is_empty(), "staging leftovers: {leftovers:?}");
}
