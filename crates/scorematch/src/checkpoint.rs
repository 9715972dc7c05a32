//! Trained models on disk: a safetensors file with the model's parameters as named tensors
//! ([`ScoreModel::param_layout`]: `layers.0.weight`, `layers.0.bias`, …), in the run's
//! precision (so that f32 runs keep their exact values at half the size), and as metadata
//! the resolved [`RunConfig`] it was trained from and a checksum of the configuration and
//! the parameters.
//!
//! The file is written here, not by the safetensors crate, whose metadata map has no fixed
//! order: the header's keys are sorted and the tensors' data follow in
//! [`ScoreModel::flat_params`]' order, so the same model and configuration always give the
//! same bytes. It is read with the safetensors crate (any reader of the format can).
//!
//! A model is rebuilt from its configuration — the same data pool and initialisation, which
//! brings back what is not a parameter (the training-free estimators' points, a closed-form
//! fit's structure) — and then given θ, once the stored tensors' names and shapes are the
//! rebuilt model's. θ lives on the host, so a checkpoint written on one backend loads on any
//! other. Size: 8 bytes per parameter in f64, 4 in f32, plus a header of about 1 KB (the
//! default MLP, 128 × 2 hidden at D = 2: 17,154 parameters, 69 KB).

use std::collections::BTreeMap;

use burn::module::Module as _;
use safetensors::tensor::{Dtype, SafeTensors};
use serde::Serialize;

use crate::backend::{Backend, Ctx, Precision};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::hash::checksum_of;
use crate::model::{ParamTensor, ScoreModel};
use crate::train::RunSetup;

/// The file a run's checkpoint is kept in, inside its run directory.
pub const CHECKPOINT_FILE: &str = "model.safetensors";

const FORMAT: &str = "scorematch-checkpoint";
/// Version 1 held θ as one flat tensor `theta`; version 2 names each parameter tensor and
/// its checksum covers the configuration too.
const VERSION: &str = "2";
/// The bytes before a safetensors header: its length, little-endian.
const HEADER_LENGTH_BYTES: usize = 8;

/// A decoded checkpoint: the configuration and the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The resolved configuration the model was trained from.
    pub config: RunConfig,
    /// The stored parameter tensors' names and shapes, in the file's data order.
    pub layout: Vec<ParamTensor>,
    /// The trained parameters: the tensors' values (row-major) one after the other, in
    /// `layout`'s order, which is [`ScoreModel::flat_params`]' order.
    pub theta: Vec<f64>,
}

/// What a checkpoint's `checksum` is: FNV-1a (64 bits) of the configuration's text followed
/// by the data section (every tensor's bytes, in file order).
fn content_checksum(config: &str, data: &[u8]) -> String {
    checksum_of(&[config.as_bytes(), data])
}

fn bad(message: impl Into<String>) -> Error {
    Error::Checkpoint(message.into())
}

/// One entry of a safetensors header: the metadata, or a tensor's place in the data.
#[derive(Serialize)]
#[serde(untagged)]
enum HeaderEntry<'a> {
    Metadata(BTreeMap<&'static str, String>),
    Tensor {
        dtype: &'static str,
        shape: &'a [usize],
        data_offsets: [usize; 2],
    },
}

/// The checkpoint of `model`, trained from `config`, as file contents (the same bytes for the
/// same model and configuration).
pub fn encode(model: &ScoreModel, config: &RunConfig) -> Result<Vec<u8>> {
    let theta = model.flat_params()?;
    let layout = model.param_layout();
    let named: usize = layout.iter().map(ParamTensor::len).sum();
    if named != theta.len() {
        return Err(bad(format!(
            "the model names {named} parameters and has {}",
            theta.len()
        )));
    }
    let (dtype, width, data): (&str, usize, Vec<u8>) = match config.train.precision {
        Precision::F32 => (
            "F32",
            4,
            theta
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
        ),
        Precision::F64 => (
            "F64",
            8,
            theta.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        ),
    };
    let config_json = serde_json::to_string(config)
        .map_err(|e| bad(format!("cannot write the configuration: {e}")))?;
    let metadata = BTreeMap::from([
        ("format", FORMAT.to_string()),
        ("version", VERSION.to_string()),
        ("checksum", content_checksum(&config_json, &data)),
        ("config", config_json),
    ]);
    let mut header = BTreeMap::from([("__metadata__", HeaderEntry::Metadata(metadata))]);
    let mut offset = 0;
    for tensor in &layout {
        let end = offset + tensor.len() * width;
        let entry = HeaderEntry::Tensor {
            dtype,
            shape: &tensor.shape,
            data_offsets: [offset, end],
        };
        if header.insert(tensor.name.as_str(), entry).is_some() {
            return Err(bad(format!("two parameters are named `{}`", tensor.name)));
        }
        offset = end;
    }
    let mut text =
        serde_json::to_vec(&header).map_err(|e| bad(format!("cannot write the header: {e}")))?;
    // Padded with spaces to a multiple of 8 bytes, as the format recommends.
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut bytes = Vec::with_capacity(HEADER_LENGTH_BYTES + text.len() + data.len());
    bytes.extend((text.len() as u64).to_le_bytes());
    bytes.extend(text);
    bytes.extend(data);
    Ok(bytes)
}

/// Reads a checkpoint written by [`encode`]; any damage (to the parameters or the
/// configuration) or mismatch is an error with a one-line reason.
pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
    let (header_len, header) = SafeTensors::read_metadata(bytes)
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
    if version == "1" {
        return Err(bad(
            "written by an older build (format version 1, one flat `theta` tensor); this build \
             reads version 2: train the model again",
        ));
    }
    if version != VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let config_text = field("config")?;
    let data = bytes
        .get(HEADER_LENGTH_BYTES + header_len..)
        .ok_or_else(|| bad("not a readable safetensors file (no data section)"))?;
    if content_checksum(config_text, data) != *field("checksum")? {
        return Err(bad(
            "its configuration or parameters do not match their checksum (damaged or edited file)",
        ));
    }
    let config: RunConfig = serde_json::from_str(config_text)
        .map_err(|e| bad(format!("its configuration does not parse: {e}")))?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let precision = config.train.precision;
    let mut layout = Vec::new();
    let mut theta = Vec::new();
    for name in header.offset_keys() {
        let view = tensors
            .tensor(&name)
            .map_err(|e| bad(format!("tensor `{name}` cannot be read ({e})")))?;
        match (view.dtype(), precision) {
            (Dtype::F32, Precision::F32) => theta.extend(
                view.data()
                    .chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
            ),
            (Dtype::F64, Precision::F64) => theta.extend(
                view.data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            ),
            (dtype, _) => {
                return Err(bad(format!(
                    "tensor `{name}` is {dtype:?}, and the run's precision is {precision:?}"
                )));
            }
        }
        layout.push(ParamTensor::new(name, view.shape().to_vec()));
    }
    Ok(Checkpoint {
        config,
        layout,
        theta,
    })
}

/// Why `stored` tensors do not fit a `model` with `expected` ones, at the first difference.
fn layout_mismatch(stored: &[ParamTensor], expected: &[ParamTensor], model: &str) -> Error {
    let describe = |tensor: Option<&ParamTensor>| {
        tensor.map_or("nothing".to_string(), |t| {
            format!("`{}` {:?}", t.name, t.shape)
        })
    };
    let at = stored
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(stored.len().min(expected.len()));
    bad(format!(
        "its parameters do not fit its configuration's {model} model: tensor {at} is {} in the \
         file and {} in the model",
        describe(stored.get(at)),
        describe(expected.get(at))
    ))
}

impl Checkpoint {
    /// The trained model on `backend`, for evaluation and sampling, with the context it lives
    /// on: rebuilt from the configuration (on `backend` instead of the training one) and
    /// given the stored θ, once the stored tensors are the rebuilt model's.
    pub fn model(&self, backend: Backend) -> Result<(ScoreModel, Ctx)> {
        let config = RunConfig {
            backend,
            ..self.config.clone()
        };
        let setup = RunSetup::new(&config)?;
        let expected = setup.model.param_layout();
        if expected != self.layout {
            return Err(layout_mismatch(
                &self.layout,
                &expected,
                config.model.name(),
            ));
        }
        let named: usize = self.layout.iter().map(ParamTensor::len).sum();
        if named != self.theta.len() {
            return Err(bad(format!(
                "its tensors hold {named} values and θ has {}",
                self.theta.len()
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

    fn small_mlp() -> (RunConfig, ScoreModel) {
        let cfg = config(
            "dataset = { name = \"gaussian\", dim = 2, data_seed = 4 }\nobjective = { name = \"esm\" }\n\
             model = { name = \"mlp\", hidden = 8 }\n\
             train = { steps = 2, pool_size = 64, eval_samples = 16 }",
        );
        let trained = train(&cfg, &mut NoProgress).unwrap();
        (cfg, trained.model)
    }

    #[test]
    fn parameters_are_stored_as_named_layers_in_row_major_order() {
        let (cfg, model) = small_mlp();
        let bytes = encode(&model, &cfg).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<(String, Vec<usize>)> = file
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.shape().to_vec()))
            .collect();
        names.sort();
        let want = [
            ("layers.0.bias", vec![8]),
            ("layers.0.weight", vec![2, 8]),
            ("layers.1.bias", vec![8]),
            ("layers.1.weight", vec![8, 8]),
            ("layers.2.bias", vec![2]),
            ("layers.2.weight", vec![8, 2]),
        ];
        let want: Vec<(String, Vec<usize>)> =
            want.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
        assert_eq!(names, want);
        // The data follow θ's order: the first layer's weight [in, out], row-major, then its
        // bias, … (h = x W + b).
        let theta = model.flat_params().unwrap();
        let f32s = |name: &str| -> Vec<f64> {
            let view = file.tensor(name).unwrap();
            assert_eq!(view.dtype(), Dtype::F32);
            view.data()
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
                .collect()
        };
        assert_eq!(f32s("layers.0.weight"), theta[..16]);
        assert_eq!(f32s("layers.0.bias"), theta[16..24]);
        assert_eq!(f32s("layers.2.bias"), theta[theta.len() - 2..]);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.theta, theta);
        assert_eq!(back.layout, model.param_layout());
    }

    #[test]
    fn the_same_model_and_configuration_always_give_the_same_bytes() {
        let (cfg, model) = small_mlp();
        let first = encode(&model, &cfg).unwrap();
        // A map without a fixed order (the metadata's, before) differs between encodings
        // almost surely within a few tries.
        for _ in 0..8 {
            assert_eq!(encode(&model, &cfg).unwrap(), first);
        }
    }

    #[test]
    fn damaged_and_mismatched_checkpoints_are_refused_with_a_reason() {
        let (cfg, model) = small_mlp();
        let bytes = encode(&model, &cfg).unwrap();
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
        // A flipped bit in the stored configuration (JSON inside the header's JSON, so its
        // quotes are escaped): data_seed 4 → 5.
        let key = bytes.windows(9).position(|w| w == b"data_seed").unwrap();
        let at = key + bytes[key..].iter().position(u8::is_ascii_digit).unwrap();
        assert_eq!(bytes[at], b'4');
        let mut edited = bytes.clone();
        edited[at] ^= 1;
        let err = message(&edited);
        assert!(
            err.contains("checksum") && err.contains("configuration"),
            "{err}"
        );
        assert!(message(&bytes[..bytes.len() / 2]).contains("not a readable"));
        assert!(message(b"hello").contains("not a readable"));
        // A model whose configuration says another size.
        let wider = RunConfig {
            model: config("dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\nmodel = { name = \"mlp\", hidden = 9 }").model,
            ..cfg.clone()
        };
        let mismatched = decode(&encode(&model, &wider).unwrap()).unwrap();
        let err = mismatched.model(Backend::Flex).unwrap_err().to_string();
        assert!(
            err.contains("mlp") && err.contains("`layers.0.weight` [2, 8] in the file"),
            "{err}"
        );
    }

    /// A file with `tensors` and the metadata of a checkpoint of `cfg` at format `version`,
    /// with a valid checksum.
    fn crafted(
        cfg: &RunConfig,
        version: &str,
        tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    ) -> Vec<u8> {
        let config = serde_json::to_string(cfg).unwrap();
        let mut sorted: Vec<_> = tensors.iter().collect();
        sorted.sort_by_key(|t| t.0);
        let data: Vec<u8> = sorted.iter().flat_map(|t| t.3.clone()).collect();
        let metadata = std::collections::HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), version.to_string()),
            ("checksum".to_string(), content_checksum(&config, &data)),
            ("config".to_string(), config),
        ]);
        let views = tensors.iter().map(|(name, dtype, shape, bytes)| {
            (
                *name,
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        });
        safetensors::serialize(views, Some(metadata)).unwrap()
    }

    #[test]
    fn old_files_and_tensors_of_another_precision_are_refused() {
        let (cfg, _) = small_mlp();
        let old = crafted(&cfg, "1", &[("theta", Dtype::F32, vec![1], vec![0; 4])]);
        let err = decode(&old).unwrap_err().to_string();
        assert!(
            err.contains("older build") && err.contains("train"),
            "{err}"
        );
        // The run is f32; a tensor of f64 values is not what it wrote.
        let f64s = crafted(
            &cfg,
            VERSION,
            &[("layers.0.bias", Dtype::F64, vec![1], vec![0; 8])],
        );
        let err = decode(&f64s).unwrap_err().to_string();
        assert!(
            err.contains("`layers.0.bias` is F64") && err.contains("F32"),
            "{err}"
        );
    }
}
