//! Stopping a sweep: SIGTERM (what Slurm sends at a time limit) and SIGINT (Ctrl-C) end it
//! with one line and the conventional status, lose no finished run, and the same command
//! finishes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, TINY, assert_one_ok_row_per_run, run_ids, text};

/// Three runs, one at a time: a short one, then two of a few seconds each.
fn sweep_file(s: &Sandbox) -> std::path::PathBuf {
    s.write(
        "slow.toml",
        &format!(
            "name = \"slow\"\n{TINY}[[zip]]\nseed = [0, 1, 2]\nsteps = [20, 400000, 400000]\n[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"
        )
        .replace("steps = 20\n", ""),
    )
}

fn data_rows(csv: &Path) -> usize {
    std::fs::read_to_string(csv).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// Starts `runner sweep slow.toml --jobs 1`, waits until the short run is recorded, sends
/// `signal` and returns the process's exit status and stderr.
fn interrupt(s: &Sandbox, signal: &str) -> (Option<i32>, String) {
    let child = s
        .command(&["sweep", "slow.toml", "--jobs", "1", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let csv = s.path("results/slow/runs.csv");
    let start = Instant::now();
    while data_rows(&csv) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no run finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The second run is training now.
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn sigterm_ends_the_sweep_with_one_line_and_the_same_command_finishes_it() {
    let s = Sandbox::new();
    let file = sweep_file(&s);
    let (status, stderr) = interrupt(&s, "TERM");
    assert_eq!(status, Some(143), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some("interrupted: 1 of 3 runs done; run the same command to finish"),
        "{stderr}"
    );
    // The finished run is kept, the abandoned one left no row, directory or staging file.
    let out = s.path("results/slow");
    assert_eq!(data_rows(&out.join("runs.csv")), 1);
    assert_eq!(std::fs::read_dir(out.join("runs")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(out.join(".tmp")).unwrap().count(), 0);

    let again = s.runner(&["sweep", "slow.toml", "--jobs", "1"]);
    common::ok(&again);
    assert!(
        text(&again.stderr).contains("3 runs, 1 already done, 2 to run"),
        "{}",
        text(&again.stderr)
    );
    assert_one_ok_row_per_run(&out, &run_ids(&file));
}

#[test]
fn sigint_ends_the_sweep_with_status_130() {
    let s = Sandbox::new();
    sweep_file(&s);
    let (status, stderr) = interrupt(&s, "INT");
    assert_eq!(status, Some(130), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some("interrupted: 1 of 3 runs done; run the same command to finish"),
        "{stderr}"
    );
}
