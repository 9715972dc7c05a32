//! `runner sweep --shard K/N` and several processes sharing one output directory, with the
//! real binary: no row lost or duplicated, whether the processes split the sweep into shards,
//! race on the same runs, or one of them is killed mid-run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, TINY, assert_one_ok_row_per_run, ok, run_ids, text};
use runner::shard::Shard;

/// Eight tiny runs.
fn grid(name: &str) -> String {
    format!(
        "name = \"{name}\"\n{TINY}[grid]\ndataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 2 }}]\nobjective = [\"esm\", {{ name = \"dsm\", sigma = 0.2 }}]\nseed = [0, 1]\n"
    )
}

fn spawn(s: &Sandbox, args: &[&str]) -> Child {
    s.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The number of runs a sweep process trained, from its closing line.
fn trained(out: &Output) -> usize {
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(" in ") && l.contains(" ok, "))
        .unwrap_or_else(|| panic!("no summary line in\n{stdout}"));
    let after = line.split_once(": ").unwrap().1;
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn shards_split_a_sweep_between_concurrent_processes() {
    let s = Sandbox::new();
    let file = s.write("g.toml", &grid("g"));
    let expected = run_ids(&file);
    assert_eq!(expected.len(), 8);
    let f = file.to_str().unwrap();
    let children: Vec<(String, Child)> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            let child = spawn(
                &s,
                &[
                    "sweep", f, "--shard", &shard, "--out", "shared", "--jobs", "1",
                ],
            );
            (shard, child)
        })
        .collect();
    let mut total = 0;
    for (shard, child) in children {
        let out = child.wait_with_output().unwrap();
        ok(&out);
        let shard: Shard = shard.parse().unwrap();
        let mine = expected.iter().filter(|id| shard.contains(id)).count();
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("shard {shard}: {mine} of the sweep's 8 runs")),
            "{stderr}"
        );
        // Each process trains its own shard, nothing else.
        assert_eq!(trained(&out), mine, "{shard}");
        total += mine;
    }
    assert_eq!(total, 8);
    assert_one_ok_row_per_run(&s.path("shared"), &expected);

    // A shard's dry run lists exactly its runs; a finished shard has nothing to do.
    let dry = s.runner(&["sweep", f, "--shard", "1/3", "--out", "shared", "--dry-run"]);
    ok(&dry);
    let listed = text(&dry.stdout);
    for id in &expected {
        assert_eq!(
            listed.contains(id.as_str()),
            Shard::new(1, 3).unwrap().contains(id),
            "{id} in\n{listed}"
        );
    }
    let again = s.runner(&["sweep", f, "--shard", "0/3", "--out", "shared"]);
    ok(&again);
    assert_eq!(trained(&again), 0);
    assert_one_ok_row_per_run(&s.path("shared"), &expected);
}

#[test]
fn processes_racing_on_the_same_runs_never_duplicate_a_row() {
    let s = Sandbox::new();
    let file = s.write("r.toml", &grid("r"));
    let expected = run_ids(&file);
    let f = file.to_str().unwrap();
    let children: Vec<Child> = (0..3)
        .map(|_| spawn(&s, &["sweep", f, "--out", "shared", "--jobs", "1"]))
        .collect();
    let mut total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        ok(&out);
        total += trained(&out);
    }
    // Work may be duplicated (a run trained by two processes at once), rows never are.
    assert!(total >= expected.len(), "{total} runs trained");
    assert_one_ok_row_per_run(&s.path("shared"), &expected);
}

#[test]
fn a_killed_process_loses_only_its_runs_in_flight_and_others_finish_the_sweep() {
    let s = Sandbox::new();
    // Slower runs, so that the kill lands mid-sweep.
    let file = s.write(
        "k.toml",
        &grid("k").replace("steps = 20\n", "steps = 300\n"),
    );
    let expected = run_ids(&file);
    let f = file.to_str().unwrap();
    let runs = s.path("shared/runs");
    let committed = || std::fs::read_dir(&runs).map_or(0, |d| d.count());
    let mut victim = s
        .command(&["sweep", f, "--out", "shared", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while committed() < 1 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    victim.kill().unwrap(); // SIGKILL, in the middle of its second run
    victim.wait().unwrap();
    let partial = committed();
    assert!(
        (1..expected.len()).contains(&partial),
        "killed after {partial} runs"
    );

    // Two shards finish the rest side by side, training only what is missing.
    let children: Vec<Child> = (0..2)
        .map(|k| {
            let shard = format!("{k}/2");
            spawn(
                &s,
                &[
                    "sweep", f, "--out", "shared", "--jobs", "1", "--shard", &shard,
                ],
            )
        })
        .collect();
    let mut total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        ok(&out);
        total += trained(&out);
    }
    assert_eq!(total, expected.len() - partial);
    assert_one_ok_row_per_run(&s.path("shared"), &expected);
}

#[test]
fn bad_shard_values_get_one_line_errors() {
    let s = Sandbox::new();
    let file = s.write("b.toml", &grid("b"));
    let f = file.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--shard", "3/3"],
            "shard 3 does not exist in 3 shards: K counts from 0 to N-1 = 2",
        ),
        (
            &["--shard", "0/0"],
            "the shard count N must be at least 1, got `0/0`",
        ),
        (
            &["--shard", "1"],
            "expected K/N, shard K of N counted from 0 (e.g. 0/4), got `1`",
        ),
        (&["--shard", "a/b"], "expected K/N"),
        (&["--shard", "0/2", "--fresh"], "cannot be used with"),
    ];
    for (args, message) in cases {
        let mut all = vec!["sweep", f];
        all.extend_from_slice(args);
        let out = s.runner(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.lines().next().unwrap().contains(message),
            "{args:?}: {stderr}"
        );
    }
    assert!(!s.path("results").exists(), "nothing created");
}
