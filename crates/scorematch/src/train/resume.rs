//! Resuming a long run. With `checkpoint_every = N`, the training loop writes its whole state
//! every N steps (and when it is asked to stop) to a file its caller names: θ, the optimiser's
//! state (the fused kernels' moments, or burn's optimiser record), the training stream, the
//! loss and validation curves, the EMA weights and early stopping's best so far. Started again
//! with the same file, the run continues after the saved step and, on the CPU backends, ends
//! bit-identical to a run that was never stopped: everything else (pool, initial model,
//! evaluation and validation sets) is rebuilt from the configuration.
//!
//! The file is safetensors: the numbers as f64 tensors (exact for both precisions), the rest
//! as metadata. It is written aside and renamed over, so a kill leaves the old state or the
//! new one, never half of one. A state written for another configuration, or damaged, is not
//! used: the run trains from its start and says why.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::LossPoint;
use super::options::BestSoFar;
use crate::config::RunConfig;
use crate::engine::{EngineState, OptimizerState};
use crate::error::{Error, Result};
use crate::hash::checksum;
use crate::kernels::AdamState;
use crate::rng::Rng;

const FORMAT: &str = "scorematch-train-state";
const VERSION: &str = "1";

/// Where a training loop stands after `step` steps.
#[derive(Clone, Debug)]
pub(super) struct TrainState {
    /// Steps taken.
    pub step: usize,
    /// θ, the optimiser and the training stream.
    pub engine: EngineState,
    /// The loss recorded so far.
    pub loss_curve: Vec<LossPoint>,
    /// The validation loss recorded so far.
    pub val_curve: Vec<LossPoint>,
    /// The EMA weights (empty without an EMA).
    pub average: Vec<f64>,
    /// Early stopping's best so far.
    pub best: Option<BestSoFar>,
    /// Training time so far, in seconds.
    pub train_seconds: f64,
}

fn bad(message: impl Into<String>) -> Error {
    Error::Checkpoint(message.into())
}

/// The configuration as the state file identifies it: everything but how often it is written.
fn identity(cfg: &RunConfig) -> Result<String> {
    let mut cfg = cfg.clone();
    cfg.train.checkpoint_every = 0;
    serde_json::to_string(&cfg).map_err(|e| bad(format!("cannot write the configuration: {e}")))
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn curve_values(curve: &[LossPoint]) -> Vec<f64> {
    curve.iter().flat_map(|p| [p.step as f64, p.loss]).collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| bad(format!("cannot write the state: {e}")))
}

/// Writes `state` of the run `cfg` to `path`, atomically (aside, fsynced, renamed over).
pub(super) fn save(path: &Path, cfg: &RunConfig, state: &TrainState) -> Result<()> {
    let mut tensors: Vec<(&str, Vec<u8>, Dtype)> = vec![
        ("theta", f64_bytes(&state.engine.theta), Dtype::F64),
        (
            "loss_curve",
            f64_bytes(&curve_values(&state.loss_curve)),
            Dtype::F64,
        ),
        (
            "val_curve",
            f64_bytes(&curve_values(&state.val_curve)),
            Dtype::F64,
        ),
        ("average", f64_bytes(&state.average), Dtype::F64),
    ];
    let mut meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("version".to_string(), VERSION.to_string()),
        ("config".to_string(), identity(cfg)?),
        ("step".to_string(), state.step.to_string()),
        ("train_seconds".to_string(), state.train_seconds.to_string()),
        ("rng".to_string(), to_json(&state.engine.rng)?),
    ]);
    match &state.engine.optimizer {
        OptimizerState::Fused(adam) => {
            tensors.push(("adam_m", f64_bytes(&adam.moment_1), Dtype::F64));
            tensors.push(("adam_v", f64_bytes(&adam.moment_2), Dtype::F64));
            meta.insert("adam_time".into(), adam.time.to_string());
        }
        OptimizerState::Reference { param_ids, record } => {
            tensors.push(("optimizer", record.clone(), Dtype::U8));
            meta.insert("param_ids".into(), to_json(param_ids)?);
        }
    }
    if let Some(best) = &state.best {
        tensors.push(("best_params", f64_bytes(&best.params), Dtype::F64));
        let numbers = [best.loss, best.step as f64, best.stale as f64];
        tensors.push(("best", f64_bytes(&numbers), Dtype::F64));
    }
    // The checksum covers every tensor, in name order.
    tensors.sort_by_key(|t| t.0);
    let all: Vec<u8> = tensors.iter().flat_map(|t| t.1.iter().copied()).collect();
    meta.insert("checksum".into(), checksum(&all));
    let mut views = Vec::with_capacity(tensors.len());
    for (name, bytes, dtype) in &tensors {
        let len = bytes.len() * 8 / dtype.bitsize();
        let view = TensorView::new(*dtype, vec![len], bytes)
            .map_err(|e| bad(format!("cannot lay out `{name}`: {e}")))?;
        views.push((*name, view));
    }
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|e| bad(format!("cannot write: {e}")))?;
    write_atomic(path, &bytes)
}

/// `path`'s contents replaced by `bytes` in one rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let io = |e: std::io::Error| bad(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let aside = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&aside).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&aside, path).map_err(io)
}

/// The state saved at `path` for the run `cfg`: `None` if there is no file; an error if it
/// is damaged or belongs to another configuration.
pub(super) fn load(path: &Path, cfg: &RunConfig) -> Result<Option<TrainState>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(format!("cannot read {}: {e}", path.display()))),
    };
    decode(&bytes, cfg).map(Some)
}

fn decode(bytes: &[u8], cfg: &RunConfig) -> Result<TrainState> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| bad("no metadata: not a training state"))?;
    let field = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| bad(format!("no `{key}` in its metadata")))
    };
    if field("format")? != FORMAT || field("version")? != VERSION {
        return Err(bad("not a training state this build reads"));
    }
    if field("config")? != identity(cfg)? {
        return Err(bad("it was written for another configuration"));
    }
    let number = |key: &str| -> Result<usize> {
        field(key)?
            .parse()
            .map_err(|_| bad(format!("`{key}` is not a number")))
    };
    let json = |key: &str| -> Result<serde_json::Value> {
        serde_json::from_str(field(key)?).map_err(|e| bad(format!("`{key}`: {e}")))
    };
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let mut names: Vec<&str> = tensors.names();
    names.sort();
    let mut all = Vec::new();
    for name in names {
        let view = tensors.tensor(name).map_err(|e| bad(format!("{e}")))?;
        all.extend_from_slice(view.data());
    }
    if checksum(&all) != field("checksum")? {
        return Err(bad(
            "its contents do not match their checksum (damaged file)",
        ));
    }
    let raw =
        |name: &str| -> Option<Vec<u8>> { tensors.tensor(name).ok().map(|v| v.data().to_vec()) };
    let floats = |name: &str| -> Result<Vec<f64>> {
        let data = raw(name).ok_or_else(|| bad(format!("no `{name}`")))?;
        Ok(data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    };
    let curve = |name: &str| -> Result<Vec<LossPoint>> {
        Ok(floats(name)?
            .chunks_exact(2)
            .map(|p| LossPoint {
                step: p[0] as usize,
                loss: p[1],
            })
            .collect())
    };
    let optimizer = match raw("optimizer") {
        Some(record) => OptimizerState::Reference {
            param_ids: serde_json::from_value(json("param_ids")?)
                .map_err(|e| bad(format!("`param_ids`: {e}")))?,
            record,
        },
        None => OptimizerState::Fused(AdamState {
            moment_1: floats("adam_m")?,
            moment_2: floats("adam_v")?,
            time: i32::try_from(number("adam_time")?)
                .map_err(|_| bad("`adam_time` is out of range"))?,
        }),
    };
    let rng: Rng = serde_json::from_value(json("rng")?).map_err(|e| bad(format!("`rng`: {e}")))?;
    let best = match raw("best") {
        Some(_) => {
            let b = floats("best")?;
            let [loss, step, stale] = b[..] else {
                return Err(bad("`best` does not hold three numbers"));
            };
            Some(BestSoFar {
                loss,
                step: step as usize,
                stale: stale as usize,
                params: floats("best_params")?,
            })
        }
        None => None,
    };
    Ok(TrainState {
        step: number("step")?,
        engine: EngineState {
            theta: floats("theta")?,
            optimizer,
            rng,
        },
        loss_curve: curve("loss_curve")?,
        val_curve: curve("val_curve")?,
        average: floats("average")?,
        best,
        train_seconds: field("train_seconds")?.parse().unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::PathBuf;

    use super::super::{NoProgress, Progress, TrainReport, train, train_resumable};
    use crate::config::RunConfig;
    use crate::error::Error;

    /// Asks the run to stop after step `stop`, or panics at step `crash` (as a kill would end
    /// it: no state saved at that step); keeps the notes and the steps it saw executed.
    struct Interrupt {
        stop: usize,
        crash: usize,
        last: usize,
        notes: Vec<String>,
        steps: Vec<usize>,
    }

    impl Interrupt {
        fn new(stop: usize, crash: usize) -> Self {
            Self {
                stop,
                crash,
                last: 0,
                notes: Vec::new(),
                steps: Vec::new(),
            }
        }
    }

    impl Progress for Interrupt {
        fn step(&mut self, step: usize, _total: usize) {
            assert!(step != self.crash, "simulated kill at step {step}");
            self.last = step;
            self.steps.push(step);
        }
        fn note(&mut self, message: &str) {
            self.notes.push(message.to_string());
        }
        fn stop_requested(&self) -> bool {
            self.last == self.stop
        }
    }

    fn state_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scorematch-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.safetensors"));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// The report without what differs between an interrupted run and a whole one: times.
    fn numbers(mut r: TrainReport) -> TrainReport {
        r.train_seconds = 0.0;
        r.steps_per_sec = 0.0;
        r.resumed_from = None;
        if let Some(s) = &mut r.sample {
            s.sample_seconds = 0.0;
        }
        r
    }

    fn config(text: &str) -> RunConfig {
        toml::from_str(text).unwrap()
    }

    const CASES: [(&str, &str); 4] = [
        (
            "fused-f64",
            "dataset = { name = \"funnel\", dim = 3 }\nobjective = { name = \"dsm\", sigma = 0.5 }\n\
             model = { name = \"mlp\", hidden = 8 }\n\
             train = { steps = 60, batch = 16, pool_size = 256, eval_samples = 128, log_every = 10, \
             precision = \"f64\", lr_schedule = { name = \"warmup_cosine\", warmup_steps = 10 }, \
             checkpoint_every = 20 }",
        ),
        (
            "fused-f32",
            "dataset = { name = \"8gaussians\" }\nobjective = { name = \"ssm-vr\" }\n\
             model = { name = \"mlp\", hidden = 16 }\nsampler = { name = \"langevin\", steps = 20 }\n\
             train = { steps = 60, batch = 32, pool_size = 512, eval_samples = 256, log_every = 5, \
             ema = 0.9, val_samples = 64, early_stopping = { patience = 100 }, \
             lr_schedule = { name = \"cosine\" }, checkpoint_every = 20 }",
        ),
        (
            "reference-f32",
            "dataset = { name = \"gaussian\", dim = 3 }\nobjective = { name = \"ism\" }\n\
             model = { name = \"mlp\", hidden = 8 }\n\
             train = { steps = 60, batch = 16, pool_size = 256, eval_samples = 128, log_every = 10, \
             kernels = \"reference\", grad_clip = 1.0, checkpoint_every = 20 }",
        ),
        (
            "reference-f32-energy",
            "dataset = { name = \"banana\" }\nobjective = { name = \"dsm\", sigma = 0.3 }\n\
             model = { name = \"energy\", hidden = 8 }\n\
             train = { steps = 60, batch = 16, pool_size = 256, eval_samples = 128, log_every = 10, \
             kernels = \"reference\", ema = 0.5, checkpoint_every = 20 }",
        ),
    ];

    #[test]
    fn a_stopped_or_killed_run_resumes_bit_identical() {
        for (name, text) in CASES {
            let cfg = config(text);
            let whole = train(&cfg, &mut NoProgress).unwrap();
            // Asked to stop after step 37: it saves at 37 and resumes from there.
            let path = state_file(name);
            let err = train_resumable(&cfg, Some(&path), &mut Interrupt::new(37, 0));
            assert!(
                matches!(err, Err(Error::Interrupted { step: 37 })),
                "{name}"
            );
            let mut progress = Interrupt::new(0, 0);
            let resumed = train_resumable(&cfg, Some(&path), &mut progress).unwrap();
            assert_eq!(progress.notes, ["resumed from step 37"], "{name}");
            assert_eq!(resumed.report.resumed_from, Some(37));
            // It went on from step 38, executing the 23 steps left, not all 60 again.
            assert_eq!(progress.steps, (38..=60).collect::<Vec<_>>(), "{name}");
            assert_eq!(
                numbers(resumed.report),
                numbers(whole.report.clone()),
                "{name}"
            );
            // Killed at step 45 (no state written then): resumes from step 40.
            let path = state_file(&format!("{name}-killed"));
            let crashed = catch_unwind(AssertUnwindSafe(|| {
                train_resumable(&cfg, Some(&path), &mut Interrupt::new(0, 45))
            }));
            assert!(crashed.is_err());
            let mut progress = Interrupt::new(0, 0);
            let resumed = train_resumable(&cfg, Some(&path), &mut progress).unwrap();
            assert_eq!(resumed.report.resumed_from, Some(40), "{name}");
            assert_eq!(progress.steps, (41..=60).collect::<Vec<_>>(), "{name}");
            assert_eq!(numbers(resumed.report), numbers(whole.report), "{name}");
        }
    }

    #[test]
    fn f64_on_the_reference_engine_cannot_checkpoint() {
        let cfg = config(
            "dataset = { name = \"banana\" }\nobjective = { name = \"ism\" }\n\
             train = { precision = \"f64\", kernels = \"reference\", checkpoint_every = 10 }",
        );
        let errors = cfg.validate();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "train.checkpoint_every");
        assert!(errors[0].message.contains("f32"), "{}", errors[0].message);
        let fused = RunConfig {
            train: crate::config::TrainConfig {
                kernels: crate::config::Kernels::Auto,
                ..cfg.train.clone()
            },
            ..cfg
        };
        assert!(fused.validate().is_empty());
    }

    #[test]
    fn a_state_of_another_run_or_a_damaged_one_is_not_used() {
        let cfg = config(CASES[2].1);
        let path = state_file("other");
        let _ = train_resumable(&cfg, Some(&path), &mut Interrupt::new(30, 0));
        let other = RunConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        };
        let mut progress = Interrupt::new(0, 0);
        let report = train_resumable(&other, Some(&path), &mut progress)
            .unwrap()
            .report;
        assert!(
            progress.notes[0].contains("another configuration"),
            "{:?}",
            progress.notes
        );
        assert_eq!(report.resumed_from, None);
        let fresh = train(&other, &mut NoProgress).unwrap().report;
        assert_eq!(numbers(report), numbers(fresh));
        // A flipped bit in the saved numbers.
        let _ = train_resumable(&cfg, Some(&path), &mut Interrupt::new(30, 0));
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 5;
        bytes[at] ^= 4;
        std::fs::write(&path, bytes).unwrap();
        let mut progress = Interrupt::new(0, 0);
        let report = train_resumable(&cfg, Some(&path), &mut progress)
            .unwrap()
            .report;
        assert!(
            progress.notes[0].contains("checksum"),
            "{:?}",
            progress.notes
        );
        assert_eq!(report.resumed_from, None);
    }
}
