//! Trained models kept as checkpoints: `runner sample` reproduces a run's own samples from
//! its checkpoint, samples again with another sampler without retraining, and refuses
//! damaged checkpoints and changes to how the model was trained; the same run always writes
//! the same bytes, and `examples/load_checkpoint.py` evaluates a checkpoint's score from the
//! file alone, as the library does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, TINY, ok, read_csv, text};
use scorematch::Backend;
use scorematch::backend::to_host;
use scorematch::checkpoint;

fn sweep(s: &Sandbox) -> String {
    let file = s.write(
        "k.toml",
        &format!(
            "name = \"k\"\n{TINY}sampler = {{ name = \"langevin\", steps = 50 }}\n\
             sample_metrics = {{ samples = 200, reference_samples = 200 }}\n\
             [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\"]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let rows = read_csv(&s.path("results/k/runs.csv"));
    assert_eq!(rows.len(), 1);
    rows[0]["run_id"].clone()
}

#[test]
fn sampling_a_checkpoint_reproduces_the_run_and_can_change_the_sampler() {
    let s = Sandbox::new();
    let id = sweep(&s);
    let dir = s.path("results/k");
    let run = read_csv(&dir.join("runs.csv")).remove(0);
    let checkpoint = dir.join("runs").join(&id).join("model.safetensors");
    // The default MLP here is 16 wide: 2·16 + 16 + 16·16 + 16 + 16·2 + 2 = 354 f32 values.
    let size = std::fs::metadata(&checkpoint).unwrap().len();
    assert!((354 * 4..354 * 4 + 4096).contains(&size), "{size} bytes");
    let d = dir.to_str().unwrap();
    ok(&s.runner(&["sample", d, "--run", &id]));
    // The same sampler and seed on the same weights: the same samples, so the same metrics.
    let rows = read_csv(&dir.join("sampled.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["train_run_id"], id);
    for metric in [
        "sample_mmd",
        "sample_energy",
        "sample_swd",
        "sample_ksd",
        "mode_weight_tv",
    ] {
        let (a, b): (f64, f64) = (
            rows[0][metric].parse().unwrap(),
            run[metric].parse().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1e-12),
            "{metric}: {a} vs {b}"
        );
    }
    // The sampler floor (the same sampler on the exact score) is recorded, and reproduced.
    let floor: f64 = run["sample_mmd_floor"].parse().unwrap();
    assert_eq!(rows[0]["sample_mmd_floor"], run["sample_mmd_floor"]);
    assert!(floor.is_finite(), "{floor}");
    // So is the mixing diagnostic of Langevin's chains.
    let rhat: f64 = run["sample_rhat"].parse().unwrap();
    assert!(rhat >= 0.9, "{rhat}");
    assert_eq!(rows[0]["sample_rhat"], run["sample_rhat"]);
    // Another step size and another sampler, without training again.
    ok(&s.runner(&[
        "sample",
        d,
        "--run",
        &id,
        "--set",
        "sampler.step_size=0.002",
    ]));
    ok(&s.runner(&[
        "sample",
        d,
        "--run",
        &id,
        "--set",
        "sampler={ name = \"langevin\", steps = 20, step_size = 0.05 }",
        "--seed",
        "7",
    ]));
    let rows = read_csv(&dir.join("sampled.csv"));
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["train_run_id"] == id));
    assert!(rows[1]["sampler_config"].contains("0.002"), "{:?}", rows[1]);
    assert_eq!(rows[2]["sample_seed"], "7");
    assert_ne!(rows[1]["sample_mmd"], rows[0]["sample_mmd"]);
    assert_ne!(rows[1]["sample_mmd_floor"], rows[0]["sample_mmd_floor"]);
    // The sweep's own table is untouched: one row, one training.
    assert_eq!(read_csv(&dir.join("runs.csv")).len(), 1);
}

#[test]
fn damaged_checkpoints_and_training_changes_are_refused_in_one_line() {
    let s = Sandbox::new();
    let id = sweep(&s);
    let dir = s.path("results/k");
    let d = dir.to_str().unwrap();
    let refused = |args: &[&str], needle: &str| {
        let out = s.runner(args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    };
    refused(
        &["sample", d, "--run", &id, "--set", "train.lr=0.1"],
        "only sampler and sample_metrics can change",
    );
    refused(
        &["sample", d, "--run", &id, "--set", "sampler.step_size=-1"],
        "sampler.step_size",
    );
    refused(
        &["sample", d, "--run", "nosuchrun"],
        &format!("no run nosuchrun in {d}"),
    );
    let path = dir.join("runs").join(&id).join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    refused(&["sample", d, "--run", &id], "checksum");
    bytes[at] ^= 0x40;
    // One flipped bit in the stored configuration (JSON in the header's JSON, its quotes
    // escaped): seed 0 → 1.
    let seed = bytes
        .windows(10)
        .position(|w| w == br#"\"seed\":0"#)
        .unwrap();
    bytes[seed + 9] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    refused(&["sample", d, "--run", &id], "checksum");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    refused(
        &["sample", d, "--run", &id],
        "not a readable safetensors file",
    );
    std::fs::remove_file(&path).unwrap();
    refused(
        &["sample", d, "--run", &id],
        "cannot read the run's checkpoint",
    );
}

#[test]
fn a_checkpoint_whose_parameters_do_not_fit_its_configuration_is_bad_input() {
    let s = Sandbox::new();
    let id = sweep(&s);
    let dir = s.path("results/k");
    let path = dir.join("runs").join(&id).join("model.safetensors");
    let stored = scorematch::checkpoint::decode(&std::fs::read(&path).unwrap()).unwrap();
    let (model, _) = stored.model(stored.config.backend).unwrap();
    // The trained θ (hidden = 16) written with a configuration whose model is wider.
    let mut config = serde_json::to_value(&stored.config).unwrap();
    config["model"]["hidden"] = 32.into();
    let config: scorematch::RunConfig = serde_json::from_value(config).unwrap();
    let bytes = scorematch::checkpoint::encode(&model, &config).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let out = s.runner(&["sample", dir.to_str().unwrap(), "--run", &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("model.safetensors: "), "{err}");
    assert!(!dir.join("sampled.csv").exists());
}

#[test]
fn training_options_are_sweep_parameters_with_their_columns() {
    let s = Sandbox::new();
    let file = s.write(
        "o.toml",
        &format!(
            "name = \"o\"\n{TINY}lr_schedule = {{ name = \"warmup_cosine\", warmup_steps = 5 }}\n\
             ema = 0.9\nval_samples = 100\nearly_stopping = {{ patience = 2 }}\n\
             [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ism\", \"esm\"]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let rows = read_csv(&s.path("results/o/runs.csv"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["lr_schedule.name"], "warmup_cosine");
        assert_eq!(r["ema"], "0.9");
        assert_eq!(r["val_samples"], "100");
        assert_eq!(r["early_stopping.patience"], "2");
        assert!(r["val_loss"].parse::<f64>().unwrap().is_finite(), "{r:?}");
        let best: usize = r["best_step"].parse().unwrap();
        let done: usize = r["steps_done"].parse().unwrap();
        assert!(best <= done && done <= 20, "{r:?}");
        assert_eq!(r["stopped_early"] == "true", done < 20, "{r:?}");
    }
    // The held-out curve is kept and drawn next to the training loss.
    let id = &rows[0]["run_id"];
    assert!(
        s.path("results/o/runs")
            .join(id)
            .join("val_loss.csv")
            .exists()
    );
    ok(&s.runner(&["report", s.path("results/o").to_str().unwrap()]));
    let svg = std::fs::read_to_string(s.path("results/o/report/loss_8gaussians.svg")).unwrap();
    assert!(
        svg.contains("(held-out)"),
        "no held-out series in the loss figure"
    );
    // A bad option is a located one-line error.
    let bad = s.write(
        "b.toml",
        "name = \"b\"\n[defaults]\nearly_stopping = { patience = 2 }\n[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"esm\"]\n",
    );
    let out = s.runner(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "b.toml:3: defaults.early_stopping: stops on the validation loss: set val_samples"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_sweep_over_sampler_settings_trains_each_model_once() {
    // One training configuration × 20 Langevin step sizes, two at a time.
    let s = Sandbox::new();
    let sizes: Vec<String> = (1..=20).map(|k| format!("{}", k as f64 * 0.002)).collect();
    let file = s.write(
        "t.toml",
        &format!(
            "name = \"t\"\n{TINY}sample_metrics = {{ samples = 100, reference_samples = 100 }}\n\
             [grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\"]\n\
             sampler = [{{ name = \"langevin\", steps = 20, step_size = [{}] }}]\n",
            sizes.join(", ")
        ),
    );
    ok(&s.runner(&[
        "sweep",
        file.to_str().unwrap(),
        "--no-report",
        "--jobs",
        "2",
    ]));
    let rows = read_csv(&s.path("results/t/runs.csv"));
    assert_eq!(rows.len(), 20);
    let trainer: Vec<_> = rows.iter().filter(|r| r["trained_in"].is_empty()).collect();
    assert_eq!(trainer.len(), 1, "exactly one run trains");
    let trained_by = &trainer[0]["run_id"];
    for r in &rows {
        assert_eq!(r["status"], "ok");
        assert_eq!(r["train_id"], rows[0]["train_id"]);
        if r["trained_in"].is_empty() {
            continue;
        }
        assert_eq!(&r["trained_in"], trained_by);
        // The same trained model: the same training numbers.
        assert_eq!(r["fisher"], trainer[0]["fisher"]);
        assert_eq!(r["final_loss"], trainer[0]["final_loss"]);
    }
    let distinct: std::collections::BTreeSet<&String> =
        rows.iter().map(|r| &r["sample_mmd"]).collect();
    assert!(distinct.len() > 10, "the step sizes sample differently");
    // Each reused run can be sampled again from its own checkpoint.
    let reused = rows.iter().find(|r| !r["trained_in"].is_empty()).unwrap();
    ok(&s.runner(&[
        "sample",
        s.path("results/t").to_str().unwrap(),
        "--run",
        &reused["run_id"],
    ]));
    let again = read_csv(&s.path("results/t/sampled.csv"));
    assert_eq!(again[0]["sample_mmd"], reused["sample_mmd"]);
}

/// The checkpoint of the only run of the sweep `name` (TINY settings) in `s`.
fn tiny_checkpoint(s: &Sandbox, name: &str) -> PathBuf {
    let file = s.write(
        &format!("{name}.toml"),
        &format!(
            "name = \"{name}\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\"]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let rows = read_csv(&s.path(&format!("results/{name}/runs.csv")));
    assert_eq!(rows.len(), 1);
    s.path(&format!("results/{name}/runs"))
        .join(&rows[0]["run_id"])
        .join("model.safetensors")
}

#[test]
fn the_same_run_writes_the_same_checkpoint_bytes() {
    // Two processes (each with its own hash seeds), two output directories.
    let s = Sandbox::new();
    let (a, b) = (tiny_checkpoint(&s, "a"), tiny_checkpoint(&s, "b"));
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

/// Why python3 cannot run the example here (no python3, or no numpy or safetensors).
fn python_missing() -> Option<String> {
    match Command::new("python3")
        .args(["-c", "import numpy, safetensors"])
        .output()
    {
        Err(e) => Some(format!("no python3 ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "python3 cannot import numpy and safetensors ({})",
            text(&out.stderr).lines().last().unwrap_or_default()
        )),
        Ok(_) => None,
    }
}

/// The score `examples/load_checkpoint.py` prints for `checkpoint` at `x` (and σ).
fn python_score(checkpoint: &Path, x: &[f64], sigma: Option<f64>) -> Vec<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/load_checkpoint.py");
    let mut command = Command::new("python3");
    command.arg(script).arg(checkpoint);
    command.args(x.iter().map(|v| v.to_string()));
    if let Some(sigma) = sigma {
        command.args(["--sigma", &sigma.to_string()]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// The score the library computes from `checkpoint` at `x` (and σ).
fn rust_score(checkpoint: &Path, x: &[f64], sigma: Option<f64>) -> Vec<f64> {
    let stored = checkpoint::decode(&std::fs::read(checkpoint).unwrap()).unwrap();
    let (model, ctx) = stored.model(Backend::Flex).unwrap();
    let sigma = sigma.map(|s| ctx.matrix(&[s], 1, 1));
    to_host(model.forward(ctx.matrix(x, 1, x.len()), sigma.as_ref())).unwrap()
}

#[test]
fn the_python_example_evaluates_a_checkpoint_as_the_library_does() {
    let test = "the_python_example_evaluates_a_checkpoint_as_the_library_does";
    if let Some(why) = python_missing() {
        common::tools::skip(test, &why);
        return;
    }
    let s = Sandbox::new();
    // A deep MLP and a noise-conditional one, each in f32 and f64.
    let file = s.write(
        "p.toml",
        &format!(
            "name = \"p\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nprecision = [\"f32\", \"f64\"]\n\
             [[zip]]\nobjective = [{{ name = \"ssm-vr\" }}, \
             {{ name = \"dsm-multi\", sigma_min = 0.1, sigma_max = 1.0, levels = 3 }}]\n\
             model = [{{ name = \"mlp\", hidden = 16, depth = 3 }}, \
             {{ name = \"mlp\", hidden = 16, activation = \"elu\", noise_conditional = true }}]\n"
        ),
    );
    ok(&s.runner(&["sweep", file.to_str().unwrap(), "--no-report"]));
    let rows = read_csv(&s.path("results/p/runs.csv"));
    assert_eq!(rows.len(), 4);
    let x = [0.75, -1.25];
    for row in &rows {
        let path = s
            .path("results/p/runs")
            .join(&row["run_id"])
            .join("model.safetensors");
        let sigma = (row["objective"] == "dsm-multi").then_some(0.3);
        let (want, got) = (rust_score(&path, &x, sigma), python_score(&path, &x, sigma));
        // f64 agrees to rounding; an f32 run computes in f32, the script in f64.
        let tolerance = if row["precision"] == "f64" {
            1e-9
        } else {
            1e-4
        };
        assert_eq!(want.len(), 2);
        for (w, g) in want.iter().zip(&got) {
            assert!(
                (w - g).abs() <= tolerance * w.abs().max(1.0),
                "{}: library {want:?}, python {got:?}",
                row["run_id"]
            );
        }
        assert!(want.iter().all(|v| v.abs() > 1e-6), "{want:?}");
    }
    // Another model is refused with its reason.
    let other = s.write(
        "e.toml",
        &format!(
            "name = \"e\"\n{TINY}[grid]\ndataset = [\"8gaussians\"]\nobjective = [\"ssm-vr\"]\n\
             model = [{{ name = \"energy\", hidden = 8 }}]\n"
        ),
    );
    ok(&s.runner(&["sweep", other.to_str().unwrap(), "--no-report"]));
    let id = &read_csv(&s.path("results/e/runs.csv"))[0]["run_id"];
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/load_checkpoint.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(s.path("results/e/runs").join(id).join("model.safetensors"))
        .args(["0", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("model `energy`: this example evaluates only `mlp`"),
        "{}",
        text(&out.stderr)
    );
}
