//! `runner slurm` against a real Slurm: a single-node cluster started for the test
//! (scripts/slurm-local.sh), a sweep submitted as a 3-task job array plus its report job, one
//! task killed mid-run and the sweep submitted again. Skips, saying why, without root or
//! without Slurm and munge installed (scripts/setup.sh installs them; CI always has them).
//! The dry-run tests need no Slurm.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Sandbox, TINY, assert_one_ok_row_per_run, ok, read_csv, run_ids, text};
use runner::shard::Shard;

/// Six runs.
fn grid(name: &str) -> String {
    format!(
        "name = \"{name}\"\n{TINY}[grid]\ndataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 2 }}]\nobjective = [\"esm\", {{ name = \"dsm\", sigma = 0.2 }}, \"ssm\"]\nseed = [0]\n"
    )
}

#[test]
fn slurm_and_shard_are_documented_in_help() {
    let s = Sandbox::new();
    let out = s.runner(&["slurm", "--help"]);
    ok(&out);
    let help = text(&out.stdout);
    for flag in [
        "--shards",
        "--partition",
        "--time",
        "--cpus-per-task",
        "--mem",
        "--out",
        "--submit",
        "--set",
    ] {
        assert!(help.contains(flag), "{flag} in\n{help}");
    }
    let out = s.runner(&["sweep", "--help"]);
    ok(&out);
    assert!(text(&out.stdout).contains("--shard <K/N>"));
}

#[test]
fn a_dry_run_prints_and_saves_the_array_script_without_sbatch() {
    let s = Sandbox::new();
    let file = s.write("d.toml", &grid("d"));
    let out = s
        .command(&[
            "slurm",
            "d.toml",
            "--shards",
            "3",
            "--cpus-per-task",
            "2",
            "--time",
            "0:10:00",
            "--set",
            "defaults.lr=0.01",
            "--out",
            "res",
        ])
        .env("PATH", "/nonexistent") // no sbatch needed
        .output()
        .unwrap();
    ok(&out);
    let script = text(&out.stdout);
    let res = s.path("res").canonicalize().unwrap();
    let saved = std::fs::read_to_string(res.join("slurm/d.sbatch")).unwrap();
    assert_eq!(script, saved);
    let runner = Path::new(env!("CARGO_BIN_EXE_runner"))
        .canonicalize()
        .unwrap();
    let exec = format!(
        "exec '{}' sweep '{}' --out '{}' --shard \"$SLURM_ARRAY_TASK_ID/3\" --jobs 2 --threads 1 --set 'defaults.lr=0.01'",
        runner.display(),
        file.canonicalize().unwrap().display(),
        res.display()
    );
    for line in [
        "#SBATCH --array=0-2",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=0:10:00",
        "#SBATCH --job-name=d",
        &exec,
    ] {
        assert!(script.lines().any(|l| l == line), "{line} not in\n{script}");
    }
    let report = std::fs::read_to_string(res.join("slurm/d-report.sbatch")).unwrap();
    assert!(
        report.contains(&format!("report '{}'", res.display())),
        "{report}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("6 of 6 runs to do → 3 array tasks × 2 cores"),
        "{stderr}"
    );
    assert!(stderr.contains("dry run"), "{stderr}");

    // By default about one task per pending run (per --cpus-per-task runs).
    for (cpus, range) in [("1", 6..=12), ("3", 2..=4)] {
        let out = s.runner(&["slurm", "d.toml", "--out", "res", "--cpus-per-task", cpus]);
        ok(&out);
        let ids = run_ids(&file);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let n = runner::shard::default_count(&ids, cpus.parse().unwrap(), 100);
        assert!(range.contains(&n), "{cpus}: {n}");
        assert!(
            text(&out.stdout).contains(&format!("#SBATCH --array=0-{}\n", n - 1)),
            "{}",
            text(&out.stdout)
        );
    }

    // Submitting with no sbatch says so.
    let out = s
        .command(&["slurm", "d.toml", "--out", "res", "--submit"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("running sbatch"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn nothing_is_submitted_when_every_run_is_done() {
    let s = Sandbox::new();
    s.write("n.toml", &grid("n"));
    ok(&s.runner(&[
        "sweep",
        "n.toml",
        "--out",
        "res",
        "--set",
        "grid.dataset=[\"8gaussians\"]",
    ]));
    // Half the runs done: three to do.
    let out = s.runner(&["slurm", "n.toml", "--out", "res"]);
    ok(&out);
    assert!(text(&out.stderr).contains("3 of 6 runs to do → "));
    ok(&s.runner(&["sweep", "n.toml", "--out", "res"]));
    let out = s
        .command(&["slurm", "n.toml", "--out", "res", "--submit"])
        .env("PATH", "/nonexistent") // sbatch is never called
        .output()
        .unwrap();
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("all 6 runs are done"), "{stdout}");
    assert!(stdout.contains("nothing to submit"), "{stdout}");
}

/// A single-node cluster, stopped (daemons killed by PID) when dropped.
struct Cluster {
    state: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-local.sh")
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Starts a cluster for `test`, or skips it visibly (fails under CI) and returns `None`.
    fn start(test: &str) -> Option<Cluster> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if text(&uid.stdout).trim() != "0" {
            common::tools::skip(test, "a local Slurm cluster needs root");
            return None;
        }
        let tools = [
            "munged",
            "slurmctld",
            "slurmd",
            "sbatch",
            "squeue",
            "scontrol",
        ];
        if let Some(missing) = tools.iter().find(|t| !on_path(t)) {
            common::tools::skip(
                test,
                &format!("{missing} not found (Debian's slurm-wlm and munge packages)"),
            );
            return None;
        }
        let cluster = Cluster {
            state: tempfile::tempdir().unwrap(),
        };
        let out = Command::new(script())
            .arg("start")
            .arg(cluster.state.path())
            .env("SLURMCTLD_PORT", free_port().to_string())
            .env("SLURMD_PORT", free_port().to_string())
            .output()
            .unwrap();
        ok(&out);
        Some(cluster)
    }

    fn conf(&self) -> PathBuf {
        self.state.path().join("slurm.conf")
    }

    /// A Slurm client command against this cluster.
    fn tool(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap()
    }

    /// `runner ARGS` in `s`, talking to this cluster.
    fn runner(&self, s: &Sandbox, args: &[&str]) -> Output {
        s.command(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap()
    }

    /// The states of a job (one per array task record).
    fn states(&self, job: &str) -> Vec<String> {
        let out = self.tool("scontrol", &["show", "job", job]);
        ok(&out);
        text(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("JobState="))
            .map(String::from)
            .collect()
    }

    /// Waits until every task of every job in `jobs` has ended; their final states.
    fn wait(&self, jobs: &[&str]) -> Vec<Vec<String>> {
        let ended = |s: &String| {
            ![
                "PENDING",
                "RUNNING",
                "COMPLETING",
                "CONFIGURING",
                "SUSPENDED",
                "REQUEUED",
            ]
            .contains(&s.as_str())
        };
        let start = Instant::now();
        loop {
            let states: Vec<Vec<String>> = jobs.iter().map(|j| self.states(j)).collect();
            if states.iter().flatten().all(ended) {
                return states;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "jobs {jobs:?} still not done: {states:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        let log = self.state.path().join("log");
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|f| {
                let t = std::fs::read_to_string(log.join(f)).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                format!(
                    "{f}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.state.path())
            .status();
    }
}

/// The array and report job ids `runner slurm --submit` printed.
fn submitted(out: &Output) -> (String, String) {
    let stdout = text(&out.stdout);
    let id = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| panic!("no `{prefix}<id>` in\n{stdout}"))
            .to_string()
    };
    (id("submitted job array "), id("submitted report job "))
}

/// Asserts that the report job completed and summarised `out`.
fn assert_reported(cluster: &Cluster, out: &Path, name: &str, report: &str, states: &[String]) {
    assert_eq!(
        states,
        ["COMPLETED"],
        "report job {report}\n{}",
        cluster.logs()
    );
    let log = out.join(format!("slurm/logs/{name}-report-{report}.out"));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("wrote {}", out.join("summary.csv").display())),
        "{log}"
    );
}

#[test]
fn a_sweep_runs_as_a_slurm_job_array_and_a_resubmission_finishes_a_killed_task() {
    let Some(cluster) = Cluster::start(
        "a_sweep_runs_as_a_slurm_job_array_and_a_resubmission_finishes_a_killed_task",
    ) else {
        return;
    };
    let s = Sandbox::new();

    // A tiny sweep as a 3-task array, then its report.
    let file = s.write("tiny.toml", &grid("tiny"));
    let expected = run_ids(&file);
    let out = cluster.runner(
        &s,
        &[
            "slurm",
            "tiny.toml",
            "--shards",
            "3",
            "--out",
            "tiny",
            "--submit",
        ],
    );
    ok(&out);
    let (array, report) = submitted(&out);
    let states = cluster.wait(&[&array, &report]);
    assert_eq!(states[0], ["COMPLETED"; 3], "{}", cluster.logs());
    let dir = s.path("tiny").canonicalize().unwrap();
    assert_one_ok_row_per_run(&dir, &expected);
    assert_reported(&cluster, &dir, "tiny", &report, &states[1]);

    // Slower runs (seconds each, also on the fused CPU kernels); the task with most runs is
    // cancelled while it trains its first.
    let file = s.write(
        "slow.toml",
        &grid("slow")
            .replace("steps = 20\n", "steps = 10000\n")
            .replace("batch = 32\n", "batch = 256\n")
            .replace("hidden = 16 }", "hidden = 128 }"),
    );
    let expected = run_ids(&file);
    let shard_of = |id: &String| Shard::of(id, 3);
    let victim = (0..3)
        .max_by_key(|k| expected.iter().filter(|id| shard_of(id) == *k).count())
        .unwrap();
    let out = cluster.runner(
        &s,
        &[
            "slurm",
            "slow.toml",
            "--shards",
            "3",
            "--out",
            "slow",
            "--submit",
        ],
    );
    ok(&out);
    let (array, report) = submitted(&out);
    let task = format!("{array}_{victim}");
    let start = Instant::now();
    while cluster.states(&task) != ["RUNNING"] {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{task} never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    ok(&cluster.tool("scancel", &[&task]));
    let states = cluster.wait(&[&array, &report]);
    assert_eq!(cluster.states(&task), ["CANCELLED"]);
    let dir = s.path("slow").canonicalize().unwrap();
    // The report job ran although the array did not fully succeed (afterany).
    assert_reported(&cluster, &dir, "slow", &report, &states[1]);
    let rows = read_csv(&dir.join("runs.csv"));
    let done: BTreeSet<String> = rows.iter().map(|r| r["run_id"].clone()).collect();
    assert_eq!(done.len(), rows.len(), "duplicated rows");
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    let missing: Vec<&String> = expected.difference(&done).collect();
    assert!(!missing.is_empty(), "the cancelled task finished its runs");
    assert!(
        missing.iter().all(|id| shard_of(id) == victim),
        "only shard {victim} lost runs: {missing:?}"
    );

    // Submitting again runs only what is missing; then nothing is left to submit.
    let out = cluster.runner(
        &s,
        &[
            "slurm",
            "slow.toml",
            "--shards",
            "3",
            "--out",
            "slow",
            "--submit",
        ],
    );
    ok(&out);
    assert!(
        text(&out.stdout).contains(&format!("3 tasks for {} runs", missing.len())),
        "{}",
        text(&out.stdout)
    );
    let (array, report) = submitted(&out);
    let states = cluster.wait(&[&array, &report]);
    assert_eq!(states[0], ["COMPLETED"; 3], "{}", cluster.logs());
    assert_one_ok_row_per_run(&dir, &expected);
    assert_reported(&cluster, &dir, "slow", &report, &states[1]);
    let out = cluster.runner(&s, &["slurm", "slow.toml", "--out", "slow", "--submit"]);
    ok(&out);
    assert!(
        text(&out.stdout).contains("nothing to submit"),
        "{}",
        text(&out.stdout)
    );
}
