//! Long runs resume: a run with `checkpoint_every` killed with SIGKILL mid-training continues
//! from its last saved state and ends with the same numbers, bit for bit, as a run that was
//! never stopped; and a later sweep samples from models an earlier one trained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Sandbox, TINY, ok, read_csv, text};
use serde_json::Value;

/// One run long enough to be killed mid-training, with every piece of state a resume must
/// restore: Adam, the training stream, a schedule, an EMA and the held-out curve.
fn long_run(name: &str) -> String {
    format!(
        "name = \"{name}\"\n[defaults]\nsteps = 6000\nbatch = 64\npool_size = 2048\n\
         eval_samples = 500\nlog_every = 100\nema = 0.99\nval_samples = 200\n\
         lr_schedule = {{ name = \"cosine\" }}\ncheckpoint_every = 100\n\
         model = {{ name = \"mlp\", hidden = 64 }}\n\
         sampler = {{ name = \"langevin\", steps = 50 }}\n\
         sample_metrics = {{ samples = 200, reference_samples = 200 }}\n\
         [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\"]\n"
    )
}

/// A run's report without what depends on the clock or on the interruption.
fn numbers(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    let mut record: Value = serde_json::from_str(&text).unwrap();
    let report = record["report"].as_object_mut().unwrap();
    for key in ["train_seconds", "steps_per_sec", "resumed_from"] {
        report.remove(key);
    }
    if let Some(sample) = report.get_mut("sample").and_then(Value::as_object_mut) {
        sample.remove("sample_seconds");
    }
    record["report"].clone()
}

/// The `step` a training-state file records: its safetensors header (an 8-byte little-endian
/// length, then JSON) keeps it as metadata.
fn saved_step(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header["__metadata__"]["step"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The bytes of a run's checkpoint.
fn checkpoint(dir: &std::path::Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

#[test]
fn a_run_killed_mid_training_resumes_to_the_same_bits() {
    let s = Sandbox::new();
    let whole = s.write("whole.toml", &long_run("whole"));
    ok(&s.runner(&["sweep", whole.to_str().unwrap(), "--no-report"]));
    let id = read_csv(&s.path("results/whole/runs.csv"))[0]["run_id"].clone();

    let killed = s.write("killed.toml", &long_run("killed"));
    let state = s.path(&format!("results/killed/resume/{id}.safetensors"));
    let mut child = s
        .command(&["sweep", killed.to_str().unwrap(), "--no-report"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !state.exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(state.exists(), "no training state was saved");
    assert!(
        !s.path("results/killed/runs").join(&id).exists(),
        "the run finished before the kill"
    );
    // The step the killed sweep's state stands at: the resumed run must continue from it, so it
    // runs only the 6000 − k steps after it (a run retrained from step 1 reports none).
    let saved = saved_step(&state);
    assert!(
        saved > 0 && saved < 6000 && saved.is_multiple_of(100),
        "the state is at step {saved}"
    );

    let out = s.runner(&["sweep", killed.to_str().unwrap(), "--no-report"]);
    ok(&out);
    let log = text(&out.stderr);
    assert!(log.contains(&format!("resumed from step {saved}")), "{log}");
    let dir = s.path("results/killed/runs").join(&id);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    let from = record["report"]["resumed_from"].as_u64();
    assert_eq!(
        from,
        Some(saved),
        "the run did not continue from the saved state"
    );
    // Bit-identical: every number of the report and the whole loss curve.
    let reference = s.path("results/whole/runs").join(&id);
    assert_eq!(numbers(&dir), numbers(&reference));
    assert_eq!(
        std::fs::read(dir.join("loss.csv")).unwrap(),
        std::fs::read(reference.join("loss.csv")).unwrap()
    );
    // The same checkpoint file, byte for byte (header included).
    assert_eq!(checkpoint(&dir), checkpoint(&reference));
    // One row, and the state is gone once the run is committed.
    assert_eq!(read_csv(&s.path("results/killed/runs.csv")).len(), 1);
    assert!(!state.exists());
}

#[test]
fn a_later_sweep_samples_from_the_models_an_earlier_one_trained() {
    let s = Sandbox::new();
    let grid = |sizes: &str| {
        format!(
            "name = \"g\"\n{TINY}sample_metrics = {{ samples = 100, reference_samples = 100 }}\n\
             [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\", \"ism\"]\n\
             sampler = [{{ name = \"langevin\", steps = 20, step_size = [{sizes}] }}]\n"
        )
    };
    let file = s.write("g.toml", &grid("0.01"));
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let first = read_csv(&s.path("results/g/runs.csv"));
    assert_eq!(first.len(), 2);
    // Two more step sizes: four new runs, none of which trains.
    s.write("g.toml", &grid("0.01, 0.02, 0.03"));
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let rows = read_csv(&s.path("results/g/runs.csv"));
    assert_eq!(rows.len(), 6);
    let trainers: Vec<_> = rows.iter().filter(|r| r["trained_in"].is_empty()).collect();
    assert_eq!(trainers.len(), 2, "only the first sweep trained");
    for r in rows.iter().filter(|r| !r["trained_in"].is_empty()) {
        let trainer = trainers
            .iter()
            .find(|t| t["run_id"] == r["trained_in"])
            .unwrap();
        assert_eq!(r["train_id"], trainer["train_id"]);
        assert_eq!(r["fisher"], trainer["fisher"]);
        assert_eq!(r["final_loss"], trainer["final_loss"]);
        assert_ne!(r["sample_mmd"], trainer["sample_mmd"]);
    }
}
