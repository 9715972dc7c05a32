//! Score matching on burn: data sets with exact scores, score networks that carry their
//! input Jacobian, the ESM / ISM / SSM / SSM-VR / DSM objectives, training, the Fisher
//! divergence, samplers (Langevin, annealed Langevin, reverse SDE, probability flow) and the
//! quality of the samples they generate.
//!
//! A run is described by a [`RunConfig`] (serde-deserialisable from TOML) and executed by
//! [`train`]; every random number comes from [`rng`] streams seeded by the run, so the same
//! configuration gives the same numbers.

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod engine;
pub mod error;
pub mod evaluation;
pub mod external;
mod hash;
pub mod kernels;
pub mod metric;
pub mod model;
pub mod objective;
pub mod progress;
pub mod resample;
pub mod rng;
pub mod sample;
pub mod train;

pub use backend::{Backend, Ctx, Precision};
pub use config::{RunConfig, TrainConfig};
pub use engine::Kernels;
pub use error::{Error, ParamError, Result};
pub use sample::{SampleReport, SamplerConfig};
pub use train::{NoProgress, Progress, RunStatus, TrainReport, Trained, train};

/// Version of the library, recorded with every run.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
