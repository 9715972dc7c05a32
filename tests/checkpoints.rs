//! Trained models kept as checkpoints: `runner sample` reproduces a run's own samples from
//! its checkpoint, samples again with another sampler without retraining, and refuses
//! damaged checkpoints and changes to how the model was trained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, TINY, ok, read_csv, text};

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
