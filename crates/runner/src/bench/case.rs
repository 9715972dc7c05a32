//! A benchmark case, named as the peers' table names it, and the training run it measures:
//! the objective and data set come from the library's registries, so every objective and
//! data set can be benchmarked.

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use scorematch::data::DatasetConfig;
use scorematch::metric::SampleMetricsConfig;
use scorematch::model::ModelConfig;
use scorematch::objective::ObjectiveConfig;
use scorematch::{Backend, Precision, RunConfig, SamplerConfig, TrainConfig};

use super::{BATCH, POOL};

/// One benchmark case: an objective on a data set in D dimensions, on a backend, with a
/// number of threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BenchCase {
    /// The objective as the peers' table names it: esm, ism, ssm, ssm_vr, dsm.
    pub objective: String,
    /// `gaussian` or `8gaussians`.
    pub dataset: String,
    /// Dimension D.
    pub dim: usize,
    /// The backend.
    pub backend: Backend,
    /// Threads of the rayon pool the case runs in.
    pub threads: usize,
    /// The model (default `mlp`, D-128-128-D SiLU as the peers ran it; `energy` is the scalar
    /// network of the same width and depth).
    #[serde(default = "mlp")]
    pub model: String,
}

fn mlp() -> String {
    "mlp".into()
}

impl BenchCase {
    /// The case as `objective/dataset/dim/backend/threads`, with `/model` for a model other
    /// than the peers' MLP.
    pub fn spec(&self) -> String {
        let model = if self.model == "mlp" {
            String::new()
        } else {
            format!("/{}", self.model)
        };
        format!(
            "{}/{}/{}/{}/{}{model}",
            self.objective,
            self.dataset,
            self.dim,
            self.backend.name(),
            self.threads
        )
    }

    /// The case a [`Self::spec`] string describes.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| anyhow!("bad case `{spec}`: {why}");
        let parts: Vec<&str> = spec.split('/').collect();
        let (objective, dataset, dim, backend, threads, model) = match parts[..] {
            [o, d, n, b, t] => (o, d, n, b, t, "mlp"),
            [o, d, n, b, t, m] => (o, d, n, b, t, m),
            _ => {
                return Err(bad(
                    "expected objective/dataset/dim/backend/threads[/model]",
                ));
            }
        };
        let case = Self {
            objective: objective.to_string(),
            dataset: dataset.to_string(),
            dim: dim.parse().map_err(|_| bad("dim is not a number"))?,
            backend: Backend::from_name(backend)?,
            threads: threads
                .parse()
                .map_err(|_| bad("threads is not a number"))?,
            model: model.to_string(),
        };
        case.run_config(0, 1)?;
        Ok(case)
    }

    /// The training run of this case: the default MLP (D-128-128-D SiLU), batch 256,
    /// Adam lr 1e-3, f32, the pool of [`POOL`] samples, `steps` steps. The objective's name
    /// is the registry's with `-` written `_` (the peers' `ssm_vr`), with its default
    /// parameters (DSM: σ = 0.1, as the peers ran it); the data set is the registry's with
    /// its default parameters in `dim` dimensions.
    pub fn run_config(&self, seed: u64, steps: usize) -> Result<RunConfig> {
        let wanted = self.objective.replace('_', "-");
        let objective = ObjectiveConfig::defaults()
            .into_iter()
            .find(|o| o.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<String> = ObjectiveConfig::NAMES
                    .iter()
                    .map(|n| n.replace('-', "_"))
                    .collect();
                anyhow!(
                    "unknown benchmark objective `{}` (expected one of: {})",
                    self.objective,
                    names.join(", ")
                )
            })?;
        let dataset: DatasetConfig =
            toml::from_str(&format!("name = {:?}\ndim = {}", self.dataset, self.dim))
                .map_err(|e| anyhow!("benchmark data set `{}`: {}", self.dataset, e.message()))?;
        let model: ModelConfig = toml::from_str(&format!("name = {:?}", self.model))
            .map_err(|e| anyhow!("benchmark model `{}`: {}", self.model, e.message()))?;
        let cfg = RunConfig {
            dataset,
            model,
            objective,
            train: TrainConfig {
                steps,
                batch: BATCH,
                lr: 1e-3,
                pool_size: POOL,
                precision: Precision::F32,
                ..TrainConfig::default()
            },
            backend: self.backend,
            seed,
            sampler: SamplerConfig::default(),
            sample_metrics: SampleMetricsConfig::default(),
        };
        scorematch::error::check(cfg.validate())?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scorematch::objective::NoiseConditioning;

    #[test]
    fn cases_round_trip_through_their_spec_and_unknown_names_fail() {
        let case = BenchCase {
            objective: "ssm_vr".into(),
            dataset: "8gaussians".into(),
            dim: 2,
            backend: Backend::Flex,
            threads: 2,
            model: "mlp".into(),
        };
        assert_eq!(BenchCase::parse(&case.spec()).unwrap(), case);
        let energy = BenchCase {
            model: "energy".into(),
            ..case.clone()
        };
        assert_eq!(energy.spec(), "ssm_vr/8gaussians/2/flex/2/energy");
        assert_eq!(BenchCase::parse(&energy.spec()).unwrap(), energy);
        assert!(BenchCase::parse("esm/gaussian/2/flex/1/mlpp").is_err());
        let err = BenchCase::parse("essm/gaussian/2/flex/1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown benchmark objective `essm` (expected one of: esm, ism, ssm"),
            "{err}"
        );
        assert!(BenchCase::parse("esm/gausian/2/flex/1").is_err());
        assert!(BenchCase::parse("esm/gaussian/two/flex/1").is_err());
        assert!(BenchCase::parse("esm/gaussian/2/flex").is_err());
    }

    #[test]
    fn every_registered_objective_is_a_benchmark_case() {
        for name in ObjectiveConfig::NAMES {
            let case = BenchCase {
                objective: name.replace('-', "_"),
                dataset: "gaussian".into(),
                dim: 3,
                backend: Backend::Flex,
                threads: 1,
                model: "mlp".into(),
            };
            let cfg = case.run_config(0, 1);
            // The multi-σ objectives need a noise-conditional model, which the peers' MLP is
            // not, and `none` trains nothing, so it has no step to time.
            let refused = ObjectiveConfig::CAPS.iter().any(|(n, caps)| {
                n == name
                    && (caps.noise_conditioning == NoiseConditioning::Required || !caps.trains)
            });
            assert_eq!(cfg.is_ok(), !refused, "{name}: {cfg:?}");
        }
    }
}
