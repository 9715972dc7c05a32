//! The fully resolved parameters of one run, and their cross-checks.

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Precision};
use crate::data::DatasetConfig;
use crate::error::ParamError;
use crate::metric::SampleMetricsConfig;
use crate::model::{Fit, LinearInit, ModelConfig, TracePath};
use crate::objective::{NoiseConditioning, ObjectiveConfig};
use crate::sample::SamplerConfig;

pub mod options;
mod train;

pub use train::{Kernels, TrainConfig};

/// Everything that determines one run's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The data.
    pub dataset: DatasetConfig,
    /// The score model.
    #[serde(default)]
    pub model: ModelConfig,
    /// The training objective.
    pub objective: ObjectiveConfig,
    /// Training and evaluation settings.
    #[serde(default)]
    pub train: TrainConfig,
    /// The backend the run computes on (default flex).
    #[serde(default = "default_backend")]
    pub backend: Backend,
    /// The run's seed (initialisation, training pool, batches, noise, sampler).
    #[serde(default)]
    pub seed: u64,
    /// The sampler run after training (default `none`: no sampling).
    #[serde(default, skip_serializing_if = "SamplerConfig::is_none")]
    pub sampler: SamplerConfig,
    /// How many samples to draw and how to score them (used when there is a sampler).
    #[serde(default, skip_serializing_if = "SampleMetricsConfig::is_default")]
    pub sample_metrics: SampleMetricsConfig,
}

fn default_backend() -> Backend {
    Backend::Flex
}

impl RunConfig {
    /// Every problem with the run, each with the key it concerns (`dataset.dim`,
    /// `model.activation`, …).
    pub fn validate(&self) -> Vec<ParamError> {
        let prefixed = |prefix: &str, errors: Vec<ParamError>| {
            errors
                .into_iter()
                .map(move |e| ParamError::new(format!("{prefix}.{}", e.key), e.message))
                .collect::<Vec<_>>()
        };
        let mut errors = prefixed("dataset", self.dataset.validate());
        errors.extend(prefixed("model", self.model.validate()));
        errors.extend(prefixed(
            "model",
            self.model.validate_for(self.dataset.dim()),
        ));
        errors.extend(prefixed("objective", self.objective.validate()));
        errors.extend(prefixed("train", self.train.validate()));
        errors.extend(prefixed("sampler", self.sampler.validate()));
        errors.extend(prefixed("sample_metrics", self.sample_metrics.validate()));
        errors.extend(self.cross_checks());
        errors
    }

    /// Records the content hash of a data file, and of the files an external method's command
    /// names, in the configuration (when readable and not recorded yet), so that the run's
    /// identity follows their contents.
    pub fn pin_data_files(&mut self) {
        if let DatasetConfig::File(file) = &mut self.dataset
            && file.content_hash.is_none()
        {
            file.content_hash = file.current_hash().ok();
        }
        if let ModelConfig::External(method) = &mut self.model
            && method.file_hashes.is_empty()
        {
            method.pin_files();
        }
    }

    /// Whether this machine can run the configuration: the backend is compiled in, its device
    /// is present, and it computes in the requested precision. Separate from
    /// [`RunConfig::validate`] because it depends on the machine, not the file; it opens the
    /// device, so callers check each distinct (backend, precision) once.
    pub fn check_environment(&self) -> Vec<ParamError> {
        let precision = self.train.precision;
        match self.backend.supports(precision) {
            Ok(true) => Vec::new(),
            Ok(false) => vec![ParamError::new(
                "train.precision",
                format!(
                    "{} does not compute in {precision:?} on this device",
                    self.backend.name()
                ),
            )],
            Err(e) => vec![ParamError::new("backend", e.to_string())],
        }
    }

    /// Checks that concern several parts of the run at once.
    fn cross_checks(&self) -> Vec<ParamError> {
        let mut errors: Vec<ParamError> = self
            .train
            .kernels
            .validate(self.backend, &self.model, &self.objective)
            .into_iter()
            .map(|e| ParamError::new(format!("train.{}", e.key), e.message))
            .collect();
        if !self.backend.is_compiled() {
            errors.push(ParamError::new(
                "backend",
                self.backend.not_compiled_reason(),
            ));
        }
        if !self.dataset.has_exact_score() && self.objective.caps().uses_data_scores {
            errors.push(ParamError::new(
                "objective",
                format!(
                    "{} needs the data's true score, which data read from a file do not have \
                     (use ism, ssm-vr or dsm)",
                    self.objective.name()
                ),
            ));
        }
        if let DatasetConfig::File(file) = &self.dataset {
            let rows = file.train_rows();
            if rows > 0 && rows < self.train.batch {
                errors.push(ParamError::new(
                    "dataset.path",
                    format!(
                        "{}: {rows} training rows (after holding out {}), fewer than a batch of \
                         {}",
                        file.path, file.test_fraction, self.train.batch
                    ),
                ));
            }
        }
        let reference = self
            .train
            .kernels
            .resolve(self.backend, &self.model, &self.objective)
            == Kernels::Reference;
        if self.train.checkpoint_every > 0
            && self.train.precision == Precision::F64
            && reference
            && !self.model.is_fitted()
        {
            errors.push(ParamError::new(
                "train.checkpoint_every",
                "cannot resume an f64 run on the reference engine exactly (burn 0.22 restores \
                 Adam's state in f32): use f32, or the fused kernels on flex",
            ));
        }
        let objective = self.objective.name();
        let caps = self.objective.caps();
        if let Some(act) = self.model.activation()
            && !act.has_curvature()
            && caps.differentiates_jacobian
        {
            errors.push(ParamError::new(
                "model.activation",
                format!(
                    "{} has zero second derivative, so {objective} gets no gradient through \
                     the Jacobian (use silu, softplus, tanh or elu)",
                    act.name()
                ),
            ));
        }
        let model = self.model.name();
        match self.model.fit() {
            Fit::ClosedFormIsm if caps_trace_free(&self.objective) => {
                errors.push(ParamError::new(
                    "objective",
                    format!(
                        "{model} is fitted in closed form by implicit score matching, not by \
                         {objective} (use objective = \"ism\")"
                    ),
                ));
            }
            Fit::External if objective != "none" && self.objective.sigma().is_none() => {
                errors.push(ParamError::new(
                    "objective",
                    format!(
                        "{model} runs the user's own method, so there is nothing for \
                         {objective} to train (use objective = \"none\", or one with a noise \
                         level such as {{ name = \"dsm\", sigma = 0.1 }} to hand it σ)"
                    ),
                ));
            }
            Fit::TrainingFree if caps.trains => errors.push(ParamError::new(
                "objective",
                format!(
                    "{model} is a training-free score estimator built from the training pool, \
                     so there is nothing for {objective} to train (use objective = \"none\")"
                ),
            )),
            Fit::Trained if !caps.trains => errors.push(ParamError::new(
                "objective",
                format!(
                    "{objective} trains nothing: it pairs with the training-free estimators \
                     ({}), and {model} needs an objective",
                    training_free_models()
                ),
            )),
            _ => {}
        }
        let conditional = self.model.is_noise_conditional();
        match (caps.noise_conditioning, conditional) {
            (NoiseConditioning::Refused, true) => errors.push(ParamError::new(
                "model.noise_conditional",
                format!(
                    "{objective} does not condition on σ (only {} do)",
                    conditioning_objectives()
                ),
            )),
            (NoiseConditioning::Required, false) => errors.push(ParamError::new(
                "objective",
                format!(
                    "{objective} needs a noise-conditional model (model: noise_conditional = \
                     true)"
                ),
            )),
            _ => {}
        }
        if self.sampler.needs_noise_conditional() && !conditional {
            errors.push(ParamError::new(
                "sampler",
                format!(
                    "{} evaluates the score at its own noise levels and needs a \
                     noise-conditional model (model: noise_conditional = true)",
                    self.sampler.name()
                ),
            ));
        }
        if self.sampler.needs_density() && !self.model.has_energy() {
            errors.push(ParamError::new(
                "sampler",
                format!(
                    "{} needs the model's density, and {} has only a score (use a model with an \
                     energy: {})",
                    self.sampler.name(),
                    self.model.name(),
                    energy_models()
                ),
            ));
        }
        if self.sampler.needs_score_sigma() && self.objective.sigma().is_none() {
            errors.push(ParamError::new(
                "sampler.denoise",
                format!(
                    "denoising needs a score trained at a noise level σ, and {objective} has \
                     none (use dsm, dsm-multi or esm with sigma)"
                ),
            ));
        }
        if self.objective.needs_noised_density() && !self.dataset.has_closed_form_noised() {
            errors.push(ParamError::new(
                "objective.sigma",
                format!(
                    "{} has no closed-form noised density, so {objective} cannot target p_σ",
                    self.dataset.name()
                ),
            ));
        }
        if let (Some(TracePath::Fast), ModelConfig::Mlp(m)) = (self.objective.trace(), &self.model)
            && m.depth > 2
        {
            errors.push(ParamError::new(
                "objective.trace",
                format!(
                    "the fast trace needs at most 2 hidden layers, the model has {}",
                    m.depth
                ),
            ));
        }
        if let ModelConfig::Linear(p) = &self.model
            && p.init == LinearInit::ClosedForm
            && self.train.pool_size <= self.dataset.dim()
        {
            errors.push(ParamError::new(
                "train.pool_size",
                "the closed-form initialisation needs more samples than dimensions",
            ));
        }
        errors
    }
}

/// Whether the objective's loss has no exact trace (it is not implicit score matching, the
/// objective a closed-form fit minimises).
fn caps_trace_free(objective: &ObjectiveConfig) -> bool {
    objective.trace().is_none()
}

/// The models with an energy, as words: "energy and expfam".
fn energy_models() -> String {
    let names: Vec<&str> = ModelConfig::defaults()
        .iter()
        .filter(|m| m.has_energy())
        .map(|m| m.name())
        .collect();
    words(&names)
}

/// The training-free estimators, as words: "kde, stein and ssge".
fn training_free_models() -> String {
    let names: Vec<&str> = ModelConfig::defaults()
        .iter()
        .filter(|m| m.fit() == Fit::TrainingFree)
        .map(|m| m.name())
        .collect();
    words(&names)
}

/// `a`, `a and b`, `a, b and c`.
fn words(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => "none".to_string(),
    }
}

/// The objectives that feed σ to a noise-conditional model, as words: "dsm and dsm-multi".
fn conditioning_objectives() -> String {
    let names: Vec<&str> = ObjectiveConfig::CAPS
        .iter()
        .filter(|(_, caps)| caps.noise_conditioning != NoiseConditioning::Refused)
        .map(|(name, _)| *name)
        .collect();
    words(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> RunConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn defaults_fill_everything_but_dataset_and_objective() {
        let cfg = run("dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }");
        assert_eq!(cfg.train, TrainConfig::default());
        assert_eq!(cfg.backend, Backend::Flex);
        assert!(cfg.validate().is_empty());
        let back: RunConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn relu_with_ism_is_refused_with_the_alternatives() {
        let cfg = run("dataset = { name = \"gaussian\", dim = 2 }\n\
             model = { name = \"mlp\", activation = \"relu\" }\n\
             objective = { name = \"ism\" }");
        let errors = cfg.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "model.activation");
        assert!(errors[0].message.contains("silu"));
        let ok = run("dataset = { name = \"gaussian\", dim = 2 }\n\
             model = { name = \"mlp\", activation = \"relu\" }\n\
             objective = { name = \"dsm\" }");
        assert!(ok.validate().is_empty());
    }

    #[test]
    fn cross_family_mistakes_name_their_keys() {
        let keys =
            |s: &str| -> Vec<String> { run(s).validate().into_iter().map(|e| e.key).collect() };
        assert_eq!(
            keys("dataset = { name = \"funnel\" }\nobjective = { name = \"esm\", sigma = 0.1 }"),
            ["objective.sigma"]
        );
        assert_eq!(
            keys("dataset = { name = \"funnel\" }\nobjective = { name = \"dsm-multi\" }"),
            ["objective"]
        );
        assert_eq!(
            keys(
                "dataset = { name = \"funnel\" }\n\
                  model = { name = \"mlp\", noise_conditional = true }\n\
                  objective = { name = \"ssm\" }"
            ),
            ["model.noise_conditional"]
        );
        assert_eq!(
            keys(
                "dataset = { name = \"8gaussians\", dim = 1 }\nobjective = { name = \"dsm\", sigma = -1.0 }\ntrain = { lr = 0.0 }"
            ),
            ["dataset.dim", "objective.sigma", "train.lr"]
        );
        assert_eq!(
            keys(
                "dataset = { name = \"gaussian\", dim = 3 }\n\
                  model = { name = \"mlp\", depth = 3 }\n\
                  objective = { name = \"ism\", trace = \"fast\" }"
            ),
            ["objective.trace"]
        );
    }
}
