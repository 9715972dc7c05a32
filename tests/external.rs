//! External methods end to end: the plain-Python example judged exactly like its built-in
//! twin, the numpy ISM example fitting a Gaussian (skipped visibly without numpy, failing
//! under CI), every failure mode recorded with its reason while the sweep goes on, and a sweep
//! killed with its command in flight leaving no orphan and no duplicate row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Sandbox, read_csv, text};

const KDE: &str = include_str!("../examples/external/kde_score.py");
const ISM_NUMPY: &str = include_str!("../examples/external/ism_linear_numpy.py");

/// Test methods: `args.mode` says how to behave.
const MODES: &str = r#"
import json, math, os, sys, time
run = json.load(open("run.json"))
mode = run["args"]["mode"]
rows = run["inputs"]["eval"]["rows"]
dim = run["dataset"]["dim"]
def scores(n, value=0.0):
    with open("scores.csv", "w") as f:
        for _ in range(n):
            f.write(",".join([repr(value)] * dim) + "\n")
if mode == "exit":
    print("starting", file=sys.stderr)
    print("boom: the method crashed", file=sys.stderr)
    sys.exit(3)
elif mode == "flood":
    sys.stderr.write("x\x1b[31m\r" * 3_000_000 + "the end")
    sys.exit(4)
elif mode == "timeout":
    time.sleep(30)
elif mode == "missing":
    pass
elif mode == "misshapen":
    scores(rows - 1)
elif mode == "nan":
    scores(rows, float("nan"))
elif mode == "wait":
    open(run["args"]["pid_file"], "w").write(str(os.getpid()))
    while not os.path.exists(run["args"]["go"]):
        time.sleep(0.02)
    scores(rows)
else:
    scores(rows)
"#;

const HEAD: &str =
    "[defaults]\nobjective = \"none\"\neval_samples = 300\npool_size = 1000\nprecision = \"f64\"\n";

#[test]
fn the_plain_python_example_matches_its_built_in_twin() {
    let s = Sandbox::new();
    s.write("kde_score.py", KDE);
    let file = s.write(
        "e.toml",
        &format!(
            "name = \"e\"\n{HEAD}sample_metrics = {{ samples = 200, reference_samples = 200 }}\n\
             [grid]\ndataset = [\"banana\", \"8gaussians\"]\n\
             model = [{{ name = \"external\", command = [\"python3\", \"kde_score.py\"], args = {{ bandwidth = 0.4, points = 300 }} }},\n\
                      {{ name = \"kde\", bandwidth = 0.4, points = 300 }}]\n"
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = read_csv(&s.path("results/e/runs.csv"));
    assert_eq!(rows.len(), 4);
    for dataset in ["banana", "8gaussians"] {
        let pick = |model: &str| {
            rows.iter()
                .find(|r| r["dataset"] == dataset && r["model"] == model)
                .unwrap()
        };
        let (ext, builtin) = (pick("external"), pick("kde"));
        assert_eq!(ext["status"], "ok", "{ext:?}");
        for metric in ["fisher", "model_ksd"] {
            let (a, b): (f64, f64) = (
                ext[metric].parse().unwrap(),
                builtin[metric].parse().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-9 * b.abs(),
                "{dataset} {metric}: {a} vs {b}"
            );
        }
        // Its samples are judged too, and its wall time is recorded.
        assert!(ext["sample_mmd"].parse::<f64>().unwrap().is_finite());
        assert!(ext["train_s"].parse::<f64>().unwrap() > 0.0);
    }
}

/// Why python3 cannot run the numpy example here (no python3, or no numpy).
fn numpy_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
    {
        Err(e) => Some(format!("no python3 ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "python3 cannot import numpy ({})",
            text(&out.stderr).lines().last().unwrap_or_default()
        )),
        Ok(_) => None,
    }
}

#[test]
fn the_numpy_ism_example_fits_a_gaussian_almost_exactly() {
    let test = "the_numpy_ism_example_fits_a_gaussian_almost_exactly";
    if let Some(why) = numpy_missing() {
        common::tools::skip(test, &why);
        return;
    }
    let s = Sandbox::new();
    s.write("ism_linear_numpy.py", ISM_NUMPY);
    s.write("modes.py", MODES);
    // On a Gaussian the linear score is exact: the closed-form ISM fit leaves only the
    // estimation error of Σ̂ from 1000 points. Beside it, a zero score ("ok" mode) on the
    // same data gives the scale an untrained model's Fisher divergence has.
    let file = s.write(
        "n.toml",
        &format!(
            "name = \"n\"\n{HEAD}sample_metrics = {{ samples = 200, reference_samples = 200 }}\n\
             [grid]\ndataset = [{{ name = \"gaussian\", dim = 3 }}]\n\
             model = [{{ name = \"external\", command = [\"python3\", \"ism_linear_numpy.py\"] }},\n\
                      {{ name = \"external\", command = [\"python3\", \"modes.py\"], args = {{ mode = \"ok\" }} }}]\n"
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = read_csv(&s.path("results/n/runs.csv"));
    assert_eq!(rows.len(), 2);
    let is_numpy = |r: &std::collections::BTreeMap<String, String>| {
        std::fs::read_to_string(
            s.path("results/n/runs")
                .join(&r["run_id"])
                .join("config.toml"),
        )
        .unwrap()
        .contains("ism_linear_numpy.py")
    };
    let (numpy, zero): (Vec<_>, Vec<_>) = rows.iter().partition(|r| is_numpy(r));
    let (numpy, zero) = (numpy[0], zero[0]);
    assert_eq!(numpy["status"], "ok", "{numpy:?}");
    assert_eq!(zero["status"], "ok", "{zero:?}");
    let fisher =
        |r: &std::collections::BTreeMap<String, String>| -> f64 { r["fisher"].parse().unwrap() };
    let (fit, untrained) = (fisher(numpy), fisher(zero));
    assert!(fit.is_finite() && fit >= 0.0, "Fisher {fit}");
    assert!(untrained > 1.0, "the zero score's Fisher is {untrained}");
    assert!(
        fit < 0.02 * untrained,
        "the linear ISM fit's Fisher {fit} is not far below the zero score's {untrained}"
    );
    // Its samples (drawn from the fitted Gaussian) are judged too.
    assert!(numpy["sample_mmd"].parse::<f64>().unwrap().is_finite());
}

#[test]
fn every_failure_is_recorded_with_its_reason_and_the_sweep_goes_on() {
    let s = Sandbox::new();
    s.write("modes.py", MODES);
    let entry = |mode: &str, extra: &str| {
        format!(
            "{{ name = \"external\", command = [\"python3\", \"modes.py\"], args = {{ mode = \"{mode}\" }}{extra} }}"
        )
    };
    let models = [
        entry("exit", ""),
        entry("flood", ""),
        entry("timeout", ", timeout_s = 1"),
        entry("missing", ""),
        entry("misshapen", ""),
        entry("nan", ""),
        entry("ok", ""),
    ];
    let file = s.write(
        "f.toml",
        &format!(
            "name = \"f\"\n{HEAD}[grid]\ndataset = [\"banana\"]\nmodel = [{}]\n",
            models.join(",\n")
        ),
    );
    let out = s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]);
    assert_eq!(out.status.code(), Some(1), "a failed run fails the sweep");
    let rows = read_csv(&s.path("results/f/runs.csv"));
    assert_eq!(rows.len(), 7);
    // Megabytes of stderr without a newline leave a small table (the CSV stays readable).
    let table = std::fs::metadata(s.path("results/f/runs.csv"))
        .unwrap()
        .len();
    assert!(table < 64 * 1024, "runs.csv is {table} bytes");
    let mode_of = |r: &std::collections::BTreeMap<String, String>| {
        let cfg = std::fs::read_to_string(
            s.path("results/f/runs")
                .join(&r["run_id"])
                .join("config.toml"),
        )
        .unwrap();
        [
            "exit",
            "flood",
            "timeout",
            "missing",
            "misshapen",
            "nan",
            "ok",
        ]
        .into_iter()
        .find(|m| cfg.contains(&format!("mode = \"{m}\"")))
        .unwrap()
    };
    for r in &rows {
        let (mode, error) = (mode_of(r), r["error"].as_str());
        let want = match mode {
            "exit" => "exit status: 3; last stderr line: \"boom: the method crashed\"",
            "flood" => "exit status: 4; last stderr line: \"…",
            "timeout" => "timed out after 1 s",
            "missing" => "wrote no scores.csv or scores.npy",
            "misshapen" => "scores.csv has 299 rows, there are 300 evaluation points",
            "nan" => "scores.csv:1: column 0 is nan",
            _ => "",
        };
        if mode == "ok" {
            assert_eq!(r["status"], "ok", "{r:?}");
            continue;
        }
        assert_eq!(r["status"], "failed", "{mode}: {r:?}");
        assert!(
            error.contains(want) && !error.contains('\n'),
            "{mode}: {error}"
        );
        assert!(error.chars().count() < 400, "{mode}: {} chars", error.len());
        assert!(!error.chars().any(char::is_control), "{mode}: {error:?}");
    }
    // The flood's tail is kept, capped.
    let flooded = rows.iter().find(|r| mode_of(r) == "flood").unwrap();
    let tail = std::fs::read(
        s.path("results/f/runs")
            .join(&flooded["run_id"])
            .join("command_stderr.txt"),
    )
    .unwrap();
    assert!(tail.len() <= 64 * 1024 && tail.ends_with(b"the end"));
    // The crashed command's last stderr lines are in its run directory.
    let crashed = rows.iter().find(|r| mode_of(r) == "exit").unwrap();
    let tail = std::fs::read_to_string(
        s.path("results/f/runs")
            .join(&crashed["run_id"])
            .join("command_stderr.txt"),
    )
    .unwrap();
    assert_eq!(tail, "starting\nboom: the method crashed");
}

/// Starts a sweep (file `name`) of one external run that waits (mode "wait") until `go`
/// exists, and returns it once the command has written its pid, with that pid.
fn start_waiting(s: &Sandbox, name: &str, go: &std::path::Path) -> (std::process::Child, String) {
    let pid_file = s.path(&format!("{name}.pid"));
    let file = s.write(
        &format!("{name}.toml"),
        &format!(
            "name = \"{name}\"\n{HEAD}[grid]\ndataset = [\"banana\"]\n\
             model = [{{ name = \"external\", command = [\"python3\", \"modes.py\"], args = {{ mode = \"wait\", pid_file = \"{}\", go = \"{}\" }} }}]\n",
            pid_file.display(),
            go.display()
        ),
    );
    let child = s
        .command(&["sweep", file.to_str().unwrap(), "--no-report"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pid_file.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    (child, pid)
}

/// Whether process `pid` is alive.
fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn a_sweep_killed_with_its_command_in_flight_leaves_no_orphan_and_no_duplicate() {
    let s = Sandbox::new();
    s.write("modes.py", MODES);
    let go = s.path("go");
    let (mut child, pid) = start_waiting(&s, "k", &go);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The command dies with the runner.
    let start = Instant::now();
    while alive(&pid) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(&pid), "the command {pid} outlived the killed sweep");
    let csv = s.path("results/k/runs.csv");
    assert!(!csv.exists() || read_csv(&csv).is_empty());
    // Resumed: the run runs again, once.
    std::fs::write(&go, "").unwrap();
    let out = s.runner(&["sweep", s.path("k.toml").to_str().unwrap(), "--no-report"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "ok");
}

#[test]
fn stopping_the_sweep_kills_the_commands_whole_group() {
    let s = Sandbox::new();
    s.write("modes.py", MODES);
    let (mut child, pid) = start_waiting(&s, "t", &s.path("never"));
    // SIGTERM, as Slurm sends at a time limit: the sweep stops cleanly and takes the
    // command's group with it.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(!alive(&pid), "the command {pid} outlived the stopped sweep");
}
