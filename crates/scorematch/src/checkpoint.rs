//! Trained models on disk: a safetensors file with the model's flat parameters θ (in the
//! order of [`ScoreModel::flat_params`], in the run's precision, so that f32 runs keep their
//! exact values at half the size) and, as metadata, the resolved [`RunConfig`] it was
//! trained from and a checksum of θ's bytes.
//!
//! A model is rebuilt from its configuration — the same data pool and initialisation, which
//! brings back what is not a parameter (the training-free estimators' points, a closed-form
//! fit's structure) — and then given θ. θ lives on the host, so a checkpoint written on one
//! backend loads on any other. Size: 8 bytes per parameter in f64, 4 in f32, plus a 0.6 KB
//! header (the default MLP, 128 × 2 hidden at D = 2: 17,154 parameters, 69 KB).

use std::collections::HashMap;

use burn::module::Module as _;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::backend::{Backend, Ctx, Precision};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::hash::checksum;
use crate::model::ScoreModel;
use crate::train::RunSetup;

/// The file a run's checkpoint is kept in, inside its run directory.
pub const CHECKPOINT_FILE: &str = "model.safetensors";

const FORMAT: &str = "scorematch-checkpoint";
const VERSION: &str = "1";
const THETA: &str = "theta";

/// A decoded checkpoint: the configuration and the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The resolved configuration the model was trained from.
    pub config: RunConfig,
    /// The trained parameters, in [`ScoreModel::flat_params`]' order.
    pub theta: Vec<f64>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::Checkpoint(message.into())
}

/// The checkpoint of `model`, trained from `config`, as file contents.
pub fn encode(model: &ScoreModel, config: &RunConfig) -> Result<Vec<u8>> {
    let theta = model.flat_params()?;
    let (dtype, bytes): (Dtype, Vec<u8>) = match config.train.precision {
        Precision::F32 => (
            Dtype::F32,
            theta
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
        ),
        Precision::F64 => (
            Dtype::F64,
            theta.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        ),
    };
    let config_json = serde_json::to_string(config)
        .map_err(|e| bad(format!("cannot write the configuration: {e}")))?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("version".to_string(), VERSION.to_string()),
        ("config".to_string(), config_json),
        ("checksum".to_string(), checksum(&bytes)),
    ]);
    let view = TensorView::new(dtype, vec![theta.len()], &bytes)
        .map_err(|e| bad(format!("cannot lay out θ: {e}")))?;
    safetensors::serialize([(THETA, view)], Some(metadata))
        .map_err(|e| bad(format!("cannot write: {e}")))
}

/// Reads a checkpoint written by [`encode`]; any damage or mismatch is an error.
pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| bad("no metadata: not a scorematch checkpoint"))?;
    let field = |key: &str| {
        meta.get(key)
            .ok_or_else(|| bad(format!("no `{key}` in its metadata")))
    };
    if field("format")? != FORMAT {
        return Err(bad("not a scorematch checkpoint"));
    }
    let version = field("version")?;
    if version != VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let config: RunConfig = serde_json::from_str(field("config")?)
        .map_err(|e| bad(format!("its configuration does not parse: {e}")))?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let view = tensors
        .tensor(THETA)
        .map_err(|e| bad(format!("no parameters ({e})")))?;
    if checksum(view.data()) != *field("checksum")? {
        return Err(bad(
            "the parameters do not match their checksum (damaged file)",
        ));
    }
    let theta = match view.dtype() {
        Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        Dtype::F64 => view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        other => return Err(bad(format!("parameters of type {other:?}"))),
    };
    Ok(Checkpoint { config, theta })
}

impl Checkpoint {
    /// The trained model on `backend`, for evaluation and sampling, with the context it lives
    /// on: rebuilt from the configuration (on `backend` instead of the training one) and
    /// given the stored θ.
    pub fn model(&self, backend: Backend) -> Result<(ScoreModel, Ctx)> {
        let config = RunConfig {
            backend,
            ..self.config.clone()
        };
        let setup = RunSetup::new(&config)?;
        let expected = setup.model.flat_params()?.len();
        if expected != self.theta.len() {
            return Err(bad(format!(
                "it holds {} parameters, and its configuration's {} model has {expected}",
                self.theta.len(),
                config.model.name()
            )));
        }
        let model = setup
            .model
            .with_flat_params(&self.theta, &setup.ctx)
            .valid();
        Ok((model, setup.ctx.inference()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::to_host;
    use crate::rng::{Stream, normals, rng};
    use crate::train::{NoProgress, train};

    fn config(text: &str) -> RunConfig {
        toml::from_str(text).unwrap()
    }

    fn outputs(model: &ScoreModel, ctx: &Ctx, dim: usize) -> Vec<f64> {
        let x = normals(&mut rng(9, Stream::Eval), 7 * dim);
        to_host(model.forward(ctx.matrix(&x, 7, dim), None)).unwrap()
    }

    #[test]
    fn trained_models_round_trip_exactly() {
        for (text, dim) in [
            (
                "dataset = { name = \"gaussian\", dim = 3 }\nobjective = { name = \"ism\" }\n\
                 train = { steps = 20, pool_size = 256, eval_samples = 64, precision = \"f64\" }",
                3,
            ),
            (
                "dataset = { name = \"8gaussians\" }\nobjective = { name = \"ssm-vr\" }\n\
                 model = { name = \"energy\", hidden = 16 }\n\
                 train = { steps = 20, pool_size = 256, eval_samples = 64 }",
                2,
            ),
            (
                "dataset = { name = \"banana\" }\nobjective = { name = \"ism\" }\nmodel = { name = \"expfam\", degree = 4 }\n\
                 train = { pool_size = 256, eval_samples = 64, precision = \"f64\" }",
                2,
            ),
            (
                "dataset = { name = \"banana\" }\nobjective = { name = \"none\" }\nmodel = { name = \"stein\", points = 100 }\n\
                 train = { pool_size = 256, eval_samples = 64, precision = \"f64\" }",
                2,
            ),
        ] {
            let cfg = config(text);
            let trained = train(&cfg, &mut NoProgress).unwrap();
            let bytes = encode(&trained.model, &cfg).unwrap();
            let back = decode(&bytes).unwrap();
            assert_eq!(back.config, cfg);
            let (model, ctx) = back.model(Backend::Flex).unwrap();
            let (want, got) = (
                outputs(&trained.model, &trained.ctx, dim),
                outputs(&model, &ctx, dim),
            );
            // Exact: the same values in the same precision.
            assert_eq!(want, got, "{text}");
        }
    }

    #[test]
    fn damaged_and_mismatched_checkpoints_are_refused_with_a_reason() {
        let cfg = config(
            "dataset = { name = \"gaussian\", dim = 2 }\nobjective = { name = \"esm\" }\n\
             model = { name = \"mlp\", hidden = 8 }\n\
             train = { steps = 2, pool_size = 64, eval_samples = 16 }",
        );
        let trained = train(&cfg, &mut NoProgress).unwrap();
        let bytes = encode(&trained.model, &cfg).unwrap();
        let message = |b: &[u8]| decode(b).unwrap_err().to_string();
        // A flipped bit in θ (the data follow the header).
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        assert!(
            message(&flipped).contains("checksum"),
            "{}",
            message(&flipped)
        );
        assert!(message(&bytes[..bytes.len() / 2]).contains("not a readable"));
        assert!(message(b"hello").contains("not a readable"));
        // A model whose configuration says another size.
        let wider = RunConfig {
            model: config("dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\nmodel = { name = \"mlp\", hidden = 9 }").model,
            ..cfg.clone()
        };
        let mismatched = decode(&encode(&trained.model, &wider).unwrap()).unwrap();
        let err = mismatched.model(Backend::Flex).unwrap_err().to_string();
        assert!(err.contains("parameters") && err.contains("mlp"), "{err}");
    }
}
