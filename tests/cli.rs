//! End-to-end tests of the `runner` binary on tiny sweeps, each in its own temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::{Sandbox, TINY, ok, text};

/// A CSV file as header and rows of cells by column name.
fn read_csv(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    common::read_csv_with_header(path)
}

const SMALL_GRID: &str = r#"
[grid]
dataset = ["8gaussians", { name = "gaussian", dim = 3 }]
objective = ["esm", { name = "dsm", sigma = [0.1, 0.5] }]
seed = [0, 1]
"#;

#[test]
fn help_is_available_for_every_command() {
    let s = Sandbox::new();
    for cmd in ["sweep", "list", "validate", "run", "report"] {
        let out = s.runner(&[cmd, "--help"]);
        ok(&out);
        assert!(text(&out.stdout).contains("Usage: runner"), "{cmd}");
    }
}

#[test]
fn a_tiny_sweep_writes_its_rows_and_a_resumed_sweep_reruns_nothing() {
    let s = Sandbox::new();
    let file = s.write("tiny.toml", &format!("name = \"tiny\"\n{TINY}{SMALL_GRID}"));
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--jobs", "2"]);
    ok(&out);
    let results = s.path("results/tiny");
    let (header, rows) = read_csv(&results.join("runs.csv"));
    // The fixed columns of the registry (README's column table is checked against it), with
    // the sweep's other parameters generated from the configuration after the short ones.
    let generated: Vec<String> = [
        "dataset.data_seed",
        "model.activation",
        "model.depth",
        "model.hidden",
        "model.noise_conditional",
        "eval_samples",
        "eval_seed",
        "log_every",
        "pool_size",
        "precision",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(header, runner::columns::Layout::with(generated).names());
    assert_eq!(rows.len(), 12);
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["run_id"].as_str()).collect();
    assert_eq!(ids.len(), 12);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["error"], "");
        assert_eq!(r["sweep"], "tiny");
        assert_eq!(r["steps"], "20");
        assert_eq!(r["steps_done"], "20");
        assert!(r["fisher"].parse::<f64>().unwrap() >= 0.0);
        assert!(r["train_s"].parse::<f64>().unwrap() > 0.0);
        let dsm = r["objective"] == "dsm";
        assert_eq!(r["sigma"].is_empty(), !dsm, "{r:?}");
        // p_σ has a closed form for both data sets: Fisher against it exists for dsm only.
        assert_eq!(r["fisher_sigma"].is_empty(), !dsm, "{r:?}");
        assert_eq!(
            r["dim"],
            if r["dataset"] == "8gaussians" {
                "2"
            } else {
                "3"
            }
        );
        let dir = results.join("runs").join(&r["run_id"]);
        for f in ["config.toml", "metrics.json", "loss.csv"] {
            assert!(dir.join(f).is_file(), "{}", dir.join(f).display());
        }
        let loss = std::fs::read_to_string(dir.join("loss.csv")).unwrap();
        assert_eq!(loss.lines().next(), Some("step,loss"));
        assert_eq!(loss.lines().count(), 1 + 5, "steps 1, 5, 10, 15, 20");
    }
    let sigmas: BTreeSet<&str> = rows.iter().map(|r| r["sigma"].as_str()).collect();
    assert_eq!(sigmas, BTreeSet::from(["", "0.1", "0.5"]));
    assert!(results.join("summary.csv").is_file() && results.join("summary.md").is_file());
    assert!(
        text(&out.stdout).contains("12 runs in"),
        "{}",
        text(&out.stdout)
    );

    // Resume: nothing runs again, the table is unchanged.
    let before = std::fs::read(results.join("runs.csv")).unwrap();
    let again = s.runner(&["sweep", file.to_str().unwrap()]);
    ok(&again);
    assert!(
        text(&again.stderr).contains("12 runs, 12 already done, 0 to run"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        text(&again.stdout).contains("tiny: 0 runs in"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(std::fs::read(results.join("runs.csv")).unwrap(), before);
}

#[test]
fn editing_a_sweep_runs_only_what_changed_and_set_overrides_values() {
    let s = Sandbox::new();
    let file = s.write("e.toml", &format!("name = \"e\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\nseed = [0, 1]\n"));
    ok(&s.runner(&["sweep", file.to_str().unwrap()]));
    let out = s.runner(&[
        "sweep",
        file.to_str().unwrap(),
        "--set",
        "grid.seed=[0, 1, 2, 3]",
    ]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("4 runs, 2 already done, 2 to run"),
        "{}",
        text(&out.stderr)
    );
    let out = s.runner(&[
        "sweep",
        file.to_str().unwrap(),
        "--set",
        "grid.seed=[0]",
        "--set",
        "defaults.steps=7",
    ]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("1 runs, 0 already done, 1 to run"),
        "{}",
        text(&out.stderr)
    );
    let (_, rows) = read_csv(&s.path("results/e/runs.csv"));
    assert_eq!(rows.len(), 5);
    let sevens: Vec<_> = rows.iter().filter(|r| r["steps"] == "7").collect();
    assert_eq!(sevens.len(), 1);
    assert_eq!(sevens[0]["steps_done"], "7");
    assert_eq!(sevens[0]["seed"], "0");
}

#[test]
fn list_counts_pending_and_done_runs() {
    let s = Sandbox::new();
    let file = s.write("l.toml", &format!("name = \"l\"\n{TINY}{SMALL_GRID}"));
    let before = s.runner(&["list", file.to_str().unwrap()]);
    ok(&before);
    let out = text(&before.stdout);
    assert!(out.contains("12 runs: 0 done, 12 pending"), "{out}");
    // The table shows the varying parameters, one line per run.
    let header = out.lines().nth(1).unwrap();
    for col in [
        "run_id",
        "status",
        "dataset",
        "dim",
        "objective",
        "sigma",
        "seed",
    ] {
        assert!(header.split_whitespace().any(|c| c == col), "{header}");
    }
    assert_eq!(
        out.lines().filter(|l| l.contains("pending")).count(),
        12 + 1
    );
    assert!(!s.path("results").exists(), "list creates nothing");
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--set", "grid.seed=[1]"]));
    let after = text(&s.runner(&["list", file.to_str().unwrap()]).stdout);
    assert!(after.contains("12 runs: 6 done, 6 pending"), "{after}");
    let only = text(
        &s.runner(&["list", file.to_str().unwrap(), "--set", "grid.seed=[1]"])
            .stdout,
    );
    assert!(only.contains("6 runs: 6 done, 0 pending"), "{only}");
}

#[test]
fn a_sweep_killed_mid_way_and_restarted_ends_with_one_row_per_run() {
    let s = Sandbox::new();
    let file = s.write(
        "k.toml",
        &format!("name = \"k\"\n{TINY}steps = 150\n[grid]\ndataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 3 }}]\nobjective = [\"esm\", \"ssm\", {{ name = \"dsm\", sigma = 0.1 }}]\nseed = [0, 1, 2]\n")
            .replace("steps = 20\n", ""),
    );
    let csv = s.path("results/k/runs.csv");
    let lines = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let mut child = s
        .command(&["sweep", file.to_str().unwrap(), "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while lines(&csv) < 1 + 3 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = lines(&csv).saturating_sub(1);
    assert!((3..18).contains(&partial), "killed after {partial} runs");

    let out = s.runner(&["sweep", file.to_str().unwrap(), "--jobs", "2"]);
    ok(&out);
    let (_, rows) = read_csv(&csv);
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["run_id"].as_str()).collect();
    assert_eq!(rows.len(), 18);
    assert_eq!(ids.len(), 18);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    let dirs = std::fs::read_dir(s.path("results/k/runs")).unwrap().count();
    assert_eq!(dirs, 18);
    // The killed process's staging leftovers are gone.
    assert_eq!(
        std::fs::read_dir(s.path("results/k/.tmp")).unwrap().count(),
        0
    );
    let listed = text(&s.runner(&["list", file.to_str().unwrap()]).stdout);
    assert!(listed.contains("18 runs: 18 done, 0 pending"), "{listed}");
}

#[test]
fn malformed_files_give_one_line_errors_and_create_nothing() {
    let head = format!("name = \"bad\"\n{TINY}"); // lines 1-9
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{head}[grid]\nobjective = [\"esm\", \"essm\"]\n"),
            "bad.toml:11: grid.objective[1]: unknown objective \"essm\" (expected one of: esm, ism, ssm, ssm-vr, fd-ssm, fd-ssm-vr, dsm, dsm-multi, ssm-multi, ssm-vr-multi, none)",
        ),
        (
            format!("{head}[grid]\ndataset = [\"gausian\"]\nobjective = [\"esm\"]\n"),
            "bad.toml:11: grid.dataset[0]: unknown dataset \"gausian\" (expected one of: gaussian, standard_normal, 8gaussians, gmm, funnel, banana, file)",
        ),
        (
            format!("colour = \"red\"\n{head}"),
            "bad.toml:1: colour: unknown key (expected one of: extends, search, name, description, max_runs, defaults, grid, zip, include, exclude)",
        ),
        (
            format!("{head}[grid]\nseed = []\n"),
            "bad.toml:11: grid.seed: empty list: an axis needs at least one value",
        ),
        (
            format!(
                "{head}[grid]\nseed = [\"zero\"]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"
            ),
            "bad.toml:11: grid.seed[0]: invalid type: string \"zero\", expected u64",
        ),
        (
            format!(
                "{head}[grid]\ndataset = [{{ name = \"8gaussians\", dim = 1 }}]\nobjective = [\"esm\"]\n"
            ),
            "bad.toml:11: grid.dataset[0].dim: must be at least 2, got 1",
        ),
        (
            format!(
                "{head}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ism\"]\nmodel = [{{ name = \"mlp\", activation = \"relu\" }}]\n"
            ),
            "bad.toml:13: grid.model[0].activation: relu has zero second derivative, so ism gets no gradient through the Jacobian (use silu, softplus, tanh or elu)",
        ),
        (
            format!(
                "{head}[grid]\ndataset = [{{ name = \"gaussian\", dimm = 3 }}]\nobjective = [\"esm\"]\n"
            ),
            "bad.toml:11: grid.dataset[0].dimm: unknown field `dimm`, expected `dim` or `data_seed`",
        ),
        (
            format!("{head}stepz = 3\n"),
            "bad.toml:10: defaults.stepz: unknown parameter \"stepz\" (expected one of: dataset, model, objective, train, backend, seed, sampler, sample_metrics, steps, batch, lr, grad_clip, pool_size, eval_samples, eval_seed, log_every, precision, kernels, lr_schedule, ema, val_samples, early_stopping, checkpoint_every)",
        ),
        (
            format!("{head}[grid]\ndataset = \"8gaussians\"\n"),
            "bad.toml:11: grid.dataset: an axis is a list of values (write dataset = [\"8gaussians\"])",
        ),
        (
            format!(
                "{head}[grid]\nsteps = [10, \"many\"]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"
            ),
            "bad.toml:11: grid.steps[1]: invalid type: string \"many\", expected usize",
        ),
        (
            format!("{head}[[zip]]\nseed = [0, 1]\nlr = [0.1]\n"),
            "bad.toml:12: zip[0].lr: has 1 values but zip[0].seed has 2: zipped lists have equal lengths",
        ),
        (
            format!("{head}[grid]\nseed = [0,\n"),
            "bad.toml:11: syntax: unclosed array, expected `]`",
        ),
        (
            format!("{head}[grid]\nseed = [0, 1]\nsteps = 3 4\n"),
            "bad.toml:12: syntax: string values must be quoted, expected literal string",
        ),
        (
            format!("{head}[grid\nseed = [0]\n"),
            "bad.toml:10: syntax: unclosed table, expected `]`",
        ),
    ];
    let s = Sandbox::new();
    for (content, expected) in cases {
        let file = s.write("bad.toml", &content);
        assert!(file.ends_with("bad.toml"));
        for cmd in ["sweep", "validate", "list"] {
            let mut args = vec![cmd, "bad.toml"];
            if cmd != "validate" {
                args.extend(["--out", "out"]);
            }
            let out = s.runner(&args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} on:\n{content}\n{}",
                text(&out.stderr)
            );
            // Exactly one line naming the file, line, key and problem, then the count.
            assert_eq!(
                text(&out.stderr),
                format!("{expected}\n1 error; nothing was run\n"),
                "{cmd} on:\n{content}"
            );
            assert!(
                !s.path("out").exists() && !s.path("results").exists(),
                "{cmd} created results"
            );
        }
    }
}

#[test]
fn all_errors_of_a_file_are_reported_at_once() {
    let s = Sandbox::new();
    let file = s.write(
        "many.toml",
        &format!("name = \"many\"\n{TINY}lr = -1.0\n[grid]\nobjective = [\"essm\", \"esm\"]\ndataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 0 }}]\nseed = []\n"),
    );
    let out = s.runner(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for expected in [
        "many.toml:10: defaults.lr: must be positive, got -1",
        "many.toml:12: grid.objective[0]: unknown objective \"essm\"",
        "many.toml:13: grid.dataset[1].dim: must be at least 1, got 0",
        "many.toml:14: grid.seed: empty list",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("4 errors; nothing was run"), "{err}");
}

#[test]
fn a_bad_override_names_itself() {
    let s = Sandbox::new();
    let file = s.write(
        "o.toml",
        &format!("name = \"o\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"),
    );
    let out = s.runner(&[
        "sweep",
        file.to_str().unwrap(),
        "--set",
        "defaults.steps=\"many\"",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--set defaults.steps=\"many\": defaults.steps: invalid type: string \"many\", expected usize"),
        "{}",
        text(&out.stderr)
    );
    assert!(!s.path("results").exists());
}

#[test]
fn run_records_one_row_from_flags() {
    let s = Sandbox::new();
    let args = [
        "run",
        "--dataset",
        "gaussian",
        "--dim",
        "3",
        "--objective",
        "dsm",
        "--sigma",
        "0.2",
        "--steps",
        "20",
        "--batch",
        "32",
        "--eval-samples",
        "200",
        "--pool-size",
        "512",
        "--hidden",
        "16",
        "--seed",
        "4",
        "--out",
        "single",
    ];
    let out = s.runner(&args);
    ok(&out);
    assert!(
        text(&out.stdout).contains("status             ok"),
        "{}",
        text(&out.stdout)
    );
    let (_, rows) = read_csv(&s.path("single/runs.csv"));
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (
            r["dataset"].as_str(),
            r["dim"].as_str(),
            r["objective"].as_str(),
            r["sigma"].as_str()
        ),
        ("gaussian", "3", "dsm", "0.2")
    );
    assert_eq!(
        (
            r["seed"].as_str(),
            r["model.hidden"].as_str(),
            r["sweep"].as_str(),
            r["threads"].is_empty()
        ),
        ("4", "16", "run", false)
    );
    // The same run again is found, not repeated.
    let again = s.runner(&args);
    ok(&again);
    assert!(
        text(&again.stderr).contains("1 already done, 0 to run"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(read_csv(&s.path("single/runs.csv")).1.len(), 1);

    let bad = s.runner(&[
        "run",
        "--dataset",
        "gausian",
        "--objective",
        "ism",
        "--activation",
        "relu",
        "--out",
        "x",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(
        err.contains("--dataset gausian: defaults.dataset.name: unknown dataset \"gausian\""),
        "{err}"
    );
    assert!(!s.path("x").exists());
    let relu = s.runner(&[
        "run",
        "--dataset",
        "8gaussians",
        "--objective",
        "ism",
        "--activation",
        "relu",
        "--out",
        "x",
    ]);
    assert_eq!(relu.status.code(), Some(2));
    assert!(
        text(&relu.stderr).contains(
            "--activation relu: defaults.model.activation: relu has zero second derivative"
        ),
        "{}",
        text(&relu.stderr)
    );
}

#[test]
fn report_aggregates_over_seeds() {
    let s = Sandbox::new();
    let file = s.write("r.toml", &format!("name = \"r\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\", \"ssm\"]\nseed = [0, 1, 2]\n"));
    ok(&s.runner(&["sweep", file.to_str().unwrap()]));
    let dir = s.path("results/r");
    std::fs::remove_file(dir.join("summary.csv")).unwrap();
    let out = s.runner(&["report", dir.to_str().unwrap()]);
    ok(&out);
    let md_out = text(&out.stdout);
    assert!(
        md_out.contains(
            "| objective | runs | final loss | Fisher at init | Fisher | model KSD² | steps/s |"
        ),
        "{md_out}"
    );
    let (_, runs) = read_csv(&dir.join("runs.csv"));
    let (_, summary) = read_csv(&dir.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    for g in &summary {
        let fishers: Vec<f64> = runs
            .iter()
            .filter(|r| r["config_id"] == g["config_id"])
            .map(|r| r["fisher"].parse().unwrap())
            .collect();
        assert_eq!(fishers.len(), 3);
        let mean = fishers.iter().sum::<f64>() / 3.0;
        let sd = (fishers.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((g["fisher_mean"].parse::<f64>().unwrap() - mean).abs() <= 1e-12 * mean.abs());
        assert!((g["fisher_sd"].parse::<f64>().unwrap() - sd).abs() <= 1e-9 * sd.abs().max(1e-12));
        assert_eq!(g["fisher_n"], "3");
        assert_eq!(
            (g["runs"].as_str(), g["ok"].as_str(), g["failed"].as_str()),
            ("3", "3", "0")
        );
        assert_eq!(g["dataset"], "8gaussians");
        assert!(!g.contains_key("seed"));
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("6 runs in 2 configurations"), "{md}");
    assert_eq!(
        s.runner(&["report", s.path("nowhere").to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn a_diverging_run_is_recorded_and_the_sweep_goes_on() {
    let s = Sandbox::new();
    let file = s.write(
        "d.toml",
        &format!("name = \"d\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\", \"ism\"]\nlr = [1e-3, 1e30]\n").replace("log_every = 5", "log_every = 1"),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap()]);
    ok(&out); // diverging is a result, not a failure
    let (_, rows) = read_csv(&s.path("results/d/runs.csv"));
    assert_eq!(rows.len(), 4);
    let diverged: Vec<_> = rows.iter().filter(|r| r["status"] == "diverged").collect();
    assert!(!diverged.is_empty());
    for r in &diverged {
        assert_eq!(r["lr"].parse::<f64>().unwrap(), 1e30);
        assert!(!r["error"].is_empty());
        assert_eq!(r["fisher"], "", "no made-up number for a diverged run");
    }
    assert!(
        rows.iter()
            .filter(|r| r["lr"] == "0.001")
            .all(|r| r["status"] == "ok")
    );
    let again = s.runner(&["sweep", file.to_str().unwrap()]);
    assert!(
        text(&again.stderr).contains("4 already done, 0 to run"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn fresh_moves_old_results_aside_and_dry_run_writes_nothing() {
    let s = Sandbox::new();
    let file = s.write(
        "f.toml",
        &format!("name = \"f\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n"),
    );
    let dry = s.runner(&["sweep", file.to_str().unwrap(), "--dry-run"]);
    ok(&dry);
    assert!(
        text(&dry.stdout).contains("1 runs: 0 done, 1 pending"),
        "{}",
        text(&dry.stdout)
    );
    assert!(!s.path("results").exists());
    ok(&s.runner(&["sweep", file.to_str().unwrap()]));
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--fresh"]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("0 already done, 1 to run"),
        "{}",
        text(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(s.path("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let old = names
        .iter()
        .find(|n| n.starts_with("f.old-"))
        .expect("old results kept");
    assert_eq!(
        read_csv(&s.path("results").join(old).join("runs.csv"))
            .1
            .len(),
        1
    );
    assert_eq!(read_csv(&s.path("results/f/runs.csv")).1.len(), 1);
}

#[test]
fn the_example_sweeps_are_valid() {
    let s = Sandbox::new();
    let experiments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    for (name, runs) in [
        ("noise_levels", 60),
        ("objectives", 108),
        ("ci_small", 38),
        ("energy_models", 97),
    ] {
        let file = experiments.join(format!("{name}.toml"));
        let out = s.runner(&["validate", file.to_str().unwrap()]);
        ok(&out);
        assert!(
            text(&out.stdout).contains(&format!("ok: {runs} runs")),
            "{name}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn the_readme_example_sweep_is_valid() {
    let s = Sandbox::new();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let len = readme[start..].find("```").unwrap();
    let file = s.write("example.toml", &readme[start..start + len]);
    let out = s.runner(&["validate", file.to_str().unwrap()]);
    ok(&out);
    // 2 data sets × 3 seeds × 10 objectives × 2 zipped, less 2 σ × 3 seeds × 2 on the Gaussian,
    // plus 3 included runs.
    assert!(
        text(&out.stdout).contains("ok: 111 runs (123 points, 12 excluded, 0 duplicates)"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

/// The names in the first column of README's table under `heading`.
fn readme_table_names(heading: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme.find(heading).expect("the section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .filter_map(|l| Some(l.strip_prefix("| `")?.split('`').next()?.to_string()))
        .collect()
}

#[test]
fn the_readme_tables_describe_every_registered_objective_and_sampler() {
    assert_eq!(
        readme_table_names("## Objectives"),
        scorematch::objective::ObjectiveConfig::NAMES
    );
    assert_eq!(
        readme_table_names("## Samplers"),
        scorematch::sample::SamplerConfig::NAMES
    );
}

#[test]
fn training_free_estimators_run_with_objective_none_and_beat_the_untrained_network() {
    let s = Sandbox::new();
    let file = s.write(
        "free.toml",
        &format!(
            "name = \"free\"\n{TINY}[grid]\ndataset = [{{ name = \"gaussian\", dim = 2 }}]\n\
             objective = [\"none\"]\nmodel = [\"kde\", {{ name = \"stein\", points = 300 }}, \
             {{ name = \"ssge\", points = 300 }}]\n\
             [[include]]\ndataset = {{ name = \"gaussian\", dim = 2 }}\nobjective = \"esm\"\n"
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]);
    ok(&out);
    let (_, rows) = read_csv(&s.path("results/free/runs.csv"));
    assert_eq!(rows.len(), 4, "{rows:?}");
    let untrained: f64 = rows.iter().find(|r| r["model"] == "mlp").unwrap()["fisher_init"]
        .parse()
        .unwrap();
    // Every run has the data-only goodness of fit.
    for r in &rows {
        assert!(r["model_ksd"].parse::<f64>().unwrap().is_finite(), "{r:?}");
    }
    for r in rows.iter().filter(|r| r["objective"] == "none") {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["steps_done"], "0", "{r:?}");
        let fisher: f64 = r["fisher"].parse().unwrap();
        eprintln!("{}: {fisher} vs {untrained}", r["model"]);
        assert!(
            fisher < 0.4 * untrained,
            "{}: {fisher} vs {untrained}",
            r["model"]
        );
    }
    let kde = rows.iter().find(|r| r["model"] == "kde").unwrap();
    assert_eq!(kde["model.points"], "8192");
    assert_eq!(kde["model.bandwidth"], "silverman");
    // The KDE is normalised: its log Z is 0 up to the quadrature.
    assert!(kde["log_z"].parse::<f64>().unwrap().abs() < 0.02, "{kde:?}");
    // The pairing is explained both ways.
    let bad = s.write(
        "bad.toml",
        "name = \"bad\"\n[grid]\ndataset = [\"8gaussians\"]\nmodel = [\"kde\"]\nobjective = [\"esm\"]\n\
         [[include]]\ndataset = \"8gaussians\"\nobjective = \"none\"\n",
    );
    let out = s.runner(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:5: grid.objective[0]: kde is a training-free score estimator built from the training pool, so there is nothing for esm to train (use objective = \"none\")"),
        "{err}"
    );
    assert!(
        err.contains("none trains nothing: it pairs with the training-free estimators (kde, stein and ssge), and mlp needs an objective"),
        "{err}"
    );
}

#[test]
fn a_failing_run_is_recorded_retried_on_resume_and_fails_the_exit_code() {
    let s = Sandbox::new();
    // The closed-form initialisation needs an invertible sample covariance: this mixture's
    // second coordinate has variance 1e-400, which is 0 in f64.
    let file = s.write(
        "fail.toml",
        &format!(
            "name = \"fail\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\", \"ism\"]\n\
             [[include]]\ndataset = {{ name = \"gmm\", components = [{{ weight = 1.0, mean = [0.0, 0.0], std = [1.0, 1e-200] }}] }}\n\
             model = {{ name = \"linear\", init = \"closed-form\" }}\nobjective = \"ism\"\n"
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(2 ok, 0 diverged, 1 failed;"),
        "{}",
        text(&out.stdout)
    );
    let csv = s.path("results/fail/runs.csv");
    let (_, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 3);
    let failed: Vec<_> = rows.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["error"],
        "linear algebra: sample covariance is singular"
    );
    assert_eq!(
        (failed[0]["dataset"].as_str(), failed[0]["model"].as_str()),
        ("gmm", "linear")
    );
    assert_eq!(failed[0]["fisher"], "");
    let listed = text(&s.runner(&["list", file.to_str().unwrap()]).stdout);
    assert!(
        listed.contains("3 runs: 2 done, 1 pending (1 failed, to retry)"),
        "{listed}"
    );
    // Resume retries the failed run only, replacing its row.
    let again = s.runner(&["sweep", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("3 runs, 2 already done, 1 to run"),
        "{}",
        text(&again.stderr)
    );
    let (_, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().filter(|r| r["status"] == "failed").count(), 1);
}

#[test]
fn two_processes_sharing_an_output_directory_write_each_row_once() {
    let s = Sandbox::new();
    let file = s.write("p.toml", &format!("name = \"p\"\n{TINY}{SMALL_GRID}"));
    let spawn = || {
        s.command(&["sweep", file.to_str().unwrap(), "--jobs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        ok(&child.wait_with_output().unwrap());
    }
    let (_, rows) = read_csv(&s.path("results/p/runs.csv"));
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["run_id"].as_str()).collect();
    assert_eq!((rows.len(), ids.len()), (12, 12));
    assert_eq!(
        std::fs::read_dir(s.path("results/p/runs")).unwrap().count(),
        12
    );
}

#[test]
fn a_refused_axis_does_not_also_report_its_parameter_missing() {
    let s = Sandbox::new();
    s.write("m.toml", "[grid]\ndataset = []\nobjective = [\"esm\"]\n");
    let out = s.runner(&["validate", "m.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "m.toml:2: grid.dataset: empty list: an axis needs at least one value\n1 error;"
        ),
        "{err}"
    );
}

#[test]
fn a_sampler_axis_fills_the_sample_quality_columns() {
    let s = Sandbox::new();
    let file = s.write(
        "samplers.toml",
        &format!(
            "name = \"samplers\"\n{TINY}\n\
             [defaults.sample_metrics]\n\
             samples = 200\n\
             reference_samples = 200\n\
             [grid]\n\
             dataset = [\"8gaussians\", {{ name = \"gaussian\", dim = 2 }}]\n\
             objective = [\"esm\"]\n\
             sampler = [\"none\", {{ name = \"langevin\", steps = [5, 20] }}]\n"
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap()]);
    ok(&out);
    let (_, rows) = read_csv(&s.path("results/samplers/runs.csv"));
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        let sampled = !r["sampler"].is_empty();
        assert_eq!(r["sampler"].as_str(), if sampled { "langevin" } else { "" });
        for metric in ["sample_mmd", "sample_energy", "sample_swd", "sample_s"] {
            assert_eq!(r[metric].is_empty(), !sampled, "{metric}: {r:?}");
        }
        // Mode statistics exist for mixtures only.
        let mixture = r["dataset"] == "8gaussians";
        for metric in ["mode_coverage", "mode_weight_tv"] {
            assert_eq!(
                r[metric].is_empty(),
                !(sampled && mixture),
                "{metric}: {r:?}"
            );
        }
        if sampled {
            let coverage: f64 = r["mode_coverage"].parse().unwrap_or(1.0);
            assert!((0.0..=1.0).contains(&coverage));
            assert!(r["sample_energy"].parse::<f64>().unwrap().is_finite());
        }
    }
}

#[test]
fn bench_compares_a_case_with_the_peers_and_bounds_it_by_the_fma_peak() {
    // A smoke run of `runner bench` (not a timing): the table's arithmetic, not its speed.
    let s = Sandbox::new();
    let peers =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/reference/peer_throughput.csv");
    let out_dir = s.path("bench");
    let out = s.runner(&[
        "bench",
        "--case",
        "esm/gaussian/2/flex/1",
        "--repeats",
        "1",
        "--seconds",
        "0.05",
        "--peers",
        peers.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    ok(&out);
    let stdout = text(&out.stdout);
    let peak: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FMA peak f32, 1 thread: "))
        .and_then(|l| l.strip_suffix(" GFLOP/s"))
        .expect("the FMA peak line")
        .parse()
        .unwrap();
    assert!(peak > 0.0 && peak.is_finite(), "{stdout}");
    let (_, rows) = read_csv(&out_dir.join("throughput.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    let num = |key: &str| -> f64 { row[key].parse().unwrap() };
    // JAX is the best peer for ESM on gaussian at D = 2, one thread: 1871.7 steps/s.
    assert_eq!(row["best_peer"], "jax");
    assert_eq!(row["kernels"], "fused");
    let (ours, gflops) = (num("ours"), num("gflops"));
    assert!(ours > 0.0 && gflops > 0.0);
    assert!((num("ratio_best") - ours / 1871.7).abs() < 1e-9 * ours);
    // The ceiling runs the same multiply-adds (gflops / ours per step) at the FMA peak,
    // which is printed with one decimal: up to 0.05 GFLOP/s off (0.1 % of a peak of 50, as a
    // loaded machine measures).
    let ceiling = num("ceiling");
    let printed = 0.05 / peak + 1e-9;
    assert!(
        (ceiling - peak * ours / gflops).abs() <= printed * ceiling,
        "{ceiling} vs {peak}"
    );
    assert!((num("ceiling_ratio") - ceiling / 1871.7).abs() < 1e-9 * ceiling);
    assert!(
        ceiling > ours,
        "a step cannot beat its ceiling: {ceiling} vs {ours}"
    );
}
