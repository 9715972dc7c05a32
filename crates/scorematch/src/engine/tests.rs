//! The fused kernels against the reference over whole training runs.

use super::Kernels;
use crate::config::RunConfig;
use crate::train::{NoProgress, RunStatus, TrainReport, train};

fn run(text: &str, kernels: Kernels) -> TrainReport {
    let mut cfg: RunConfig = toml::from_str(text).unwrap();
    cfg.train.kernels = kernels;
    let report = train(&cfg, &mut NoProgress).unwrap().report;
    assert_eq!(report.kernels, kernels, "{text}");
    report
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn fused_and_reference_runs_agree_to_rounding_in_f64() {
    let cases = [
        ("gaussian", "name = \"esm\"", ""),
        ("gaussian", "name = \"esm\", sigma = 0.3", ""),
        (
            "gaussian",
            "name = \"ism\", trace = \"fast\"",
            ", activation = \"tanh\"",
        ),
        (
            "gaussian",
            "name = \"ism\", trace = \"jacobian\"",
            ", depth = 3",
        ),
        (
            "gaussian",
            "name = \"ssm\", projections = 2",
            ", activation = \"softplus\"",
        ),
        (
            "gaussian",
            "name = \"ssm-vr\", projection = \"rademacher\"",
            ", activation = \"elu\"",
        ),
        (
            "8gaussians",
            "name = \"dsm\", sigma = 0.2",
            ", activation = \"relu\"",
        ),
        (
            "gaussian",
            "name = \"dsm\", sigma = 0.2",
            ", noise_conditional = true",
        ),
        (
            "gaussian",
            "name = \"dsm-multi\", sigma_min = 0.1, levels = 4",
            ", noise_conditional = true",
        ),
    ];
    for (k, (data, objective, model)) in cases.iter().enumerate() {
        let clip = if k == 2 { ", grad_clip = 0.05" } else { "" };
        let text = format!(
            "dataset = {{ name = \"{data}\", dim = {dim} }}\n\
             objective = {{ {objective} }}\n\
             model = {{ name = \"mlp\", hidden = 16{model} }}\n\
             train = {{ steps = 25, batch = 16, lr = 0.01, log_every = 5, pool_size = 500, \
             eval_samples = 300, precision = \"f64\"{clip} }}\n\
             seed = {k}",
            dim = if *data == "gaussian" { 3 } else { 2 },
        );
        let fused = run(&text, Kernels::Fused);
        let reference = run(&text, Kernels::Reference);
        assert_eq!(fused.status, RunStatus::Ok, "{text}");
        assert_eq!(fused.trace_path, reference.trace_path);
        assert_eq!(fused.loss_curve.len(), reference.loss_curve.len());
        for (a, b) in fused.loss_curve.iter().zip(&reference.loss_curve) {
            assert_eq!(a.step, b.step);
            assert!(
                close(a.loss, b.loss, 1e-9),
                "{text}\nstep {}: {} vs {}",
                a.step,
                a.loss,
                b.loss
            );
        }
        let (a, b) = (fused.fisher.unwrap(), reference.fisher.unwrap());
        assert!(close(a, b, 1e-9), "{text}\nFisher {a} vs {b}");
        assert_eq!(
            fused.fisher_sigma.is_some(),
            reference.fisher_sigma.is_some()
        );
    }
}

#[test]
fn fused_f32_training_reaches_the_reference_fisher_within_seed_noise() {
    for objective in ["esm", "ism", "ssm", "ssm-vr", "dsm"] {
        let fisher = |seed: u64, kernels: Kernels| {
            let r = run(
                &format!(
                    "dataset = {{ name = \"gaussian\", dim = 4 }}\n\
                     objective = {{ name = \"{objective}\" }}\n\
                     model = {{ name = \"mlp\", hidden = 32 }}\n\
                     train = {{ steps = 300, batch = 128, lr = 0.003, pool_size = 4000, \
                     eval_samples = 2000 }}\n\
                     seed = {seed}"
                ),
                kernels,
            );
            assert_eq!(r.status, RunStatus::Ok);
            assert!(
                r.fisher.unwrap() < 0.5 * r.fisher_init.unwrap(),
                "{objective}: {r:?}"
            );
            r.fisher.unwrap()
        };
        let reference: Vec<f64> = (0..3).map(|s| fisher(s, Kernels::Reference)).collect();
        let fused: Vec<f64> = (0..3).map(|s| fisher(s, Kernels::Fused)).collect();
        let spread = reference.iter().fold(f64::MIN, |m, &v| m.max(v))
            - reference.iter().fold(f64::MAX, |m, &v| m.min(v));
        for (f, r) in fused.iter().zip(&reference) {
            assert!(
                (f - r).abs() <= spread,
                "{objective}: fused {fused:?} vs reference {reference:?}"
            );
        }
    }
}

#[test]
fn fused_kernels_are_refused_off_flex_and_auto_resolves_by_backend() {
    use crate::backend::Backend;
    let mut cfg: RunConfig = toml::from_str(
        "dataset = { name = \"8gaussians\" }\nobjective = { name = \"esm\" }\n\
         backend = \"ndarray\"\ntrain = { kernels = \"fused\" }",
    )
    .unwrap();
    // (Without the ndarray feature the backend itself is refused too.)
    let errors: Vec<_> = cfg
        .validate()
        .into_iter()
        .filter(|e| e.key != "backend")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "train.kernels");
    assert!(errors[0].message.contains("flex"));
    cfg.train.kernels = Kernels::Auto;
    assert!(cfg.validate().iter().all(|e| e.key == "backend"));
    let mlp = crate::model::ModelConfig::default();
    let energy = crate::model::ModelConfig::Energy(Default::default());
    let expfam = crate::model::ModelConfig::ExpFam(Default::default());
    let esm: crate::objective::ObjectiveConfig = toml::from_str("name = \"esm\"").unwrap();
    let fd: crate::objective::ObjectiveConfig = toml::from_str("name = \"fd-ssm\"").unwrap();
    for model in [&mlp, &energy] {
        assert_eq!(
            Kernels::Auto.resolve(Backend::Flex, model, &esm),
            Kernels::Fused
        );
        assert_eq!(
            Kernels::Auto.resolve(Backend::Ndarray, model, &esm),
            Kernels::Reference
        );
    }
    assert_eq!(
        Kernels::Auto.resolve(Backend::Flex, &expfam, &esm),
        Kernels::Reference
    );
    // fd-ssm differences an energy network's E, which the kernels do not output.
    assert_eq!(
        Kernels::Auto.resolve(Backend::Flex, &mlp, &fd),
        Kernels::Fused
    );
    assert_eq!(
        Kernels::Auto.resolve(Backend::Flex, &energy, &fd),
        Kernels::Reference
    );
    let refused = Kernels::Fused.validate(Backend::Flex, &energy, &fd);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].message.contains("differences E itself"),
        "{refused:?}"
    );
    for k in Kernels::ALL {
        let parsed: crate::config::TrainConfig =
            toml::from_str(&format!("kernels = \"{}\"", k.name())).unwrap();
        assert_eq!(parsed.kernels, k);
    }
}

/// Relative 1e-4, with an absolute floor of 1e-6 for losses whose terms cancel to nearly
/// zero (SSM-VR's vᵀJv + ½‖s‖²), where f32 rounding of the terms is the whole difference.
fn close_f32(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) + 1e-6
}

/// ‖a − b‖ / ‖b‖.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm.max(1e-300)).sqrt()
}

/// Every objective of the registry (with its default parameters, and a few other settings)
/// paired with every model of the registry (the MLP with each activation and the energy
/// network with each activation that has curvature, at depths 1–3), as a sweep would make
/// them: an activation without curvature (ReLU) pairs only with the objectives whose capability
/// says they do not differentiate the Jacobian and must be refused for the others, an
/// objective that needs σ as an input gets the model's noise-conditional form, and a model
/// without one must be refused for it.
fn registry_runs() -> Vec<RunConfig> {
    use crate::model::{Activation, Fit, ModelConfig};
    use crate::objective::{NoiseConditioning, ObjectiveConfig};
    let mut objectives = ObjectiveConfig::defaults();
    for other in [
        "name = \"esm\"\nsigma = 0.3",
        "name = \"ism\"\ntrace = \"jacobian\"",
        "name = \"ssm\"\nprojections = 2",
        "name = \"ssm-vr\"\nprojection = \"rademacher\"",
    ] {
        objectives.push(toml::from_str(other).unwrap());
    }
    let mut models = Vec::new();
    for model in ModelConfig::defaults() {
        match model {
            ModelConfig::Mlp(p) => {
                for activation in Activation::ALL {
                    for depth in 1..=3 {
                        models.push(ModelConfig::Mlp(crate::model::MlpParams {
                            hidden: 16,
                            depth,
                            activation,
                            ..p.clone()
                        }));
                    }
                }
            }
            ModelConfig::Energy(p) => {
                for activation in Activation::ALL.into_iter().filter(|a| a.has_curvature()) {
                    for depth in 1..=3 {
                        models.push(ModelConfig::Energy(crate::model::EnergyParams {
                            hidden: 16,
                            depth,
                            activation,
                            ..p.clone()
                        }));
                    }
                }
            }
            other => models.push(other),
        }
    }
    let base: RunConfig = toml::from_str(
        "dataset = { name = \"gaussian\", dim = 3 }\nobjective = { name = \"esm\" }\n\
         train = { steps = 3, batch = 16, lr = 0.01, pool_size = 256 }",
    )
    .unwrap();
    let mut runs = Vec::new();
    for objective in &objectives {
        for model in &models {
            let mut cfg = RunConfig {
                objective: objective.clone(),
                model: model.clone(),
                seed: runs.len() as u64,
                ..base.clone()
            };
            // External methods have no engine: their command runs instead (tested with
            // scorematch::external and tests/external.rs).
            if model.fit() == Fit::External {
                continue;
            }
            // Models without a training loop pair with their own objective only.
            let refusal = match (model.fit(), objective.caps().trains) {
                (Fit::ClosedFormIsm, _) if objective.trace().is_none() => {
                    Some("fitted in closed form")
                }
                (Fit::TrainingFree, true) => Some("training-free score estimator"),
                (Fit::Trained, false) => Some("trains nothing"),
                _ => None,
            };
            if let Some(refusal) = refusal {
                let errors = cfg.validate();
                assert!(
                    errors
                        .iter()
                        .any(|e| e.key == "objective" && e.message.contains(refusal)),
                    "{} on {}: {errors:?}",
                    objective.name(),
                    model.name()
                );
                continue;
            }
            if model.activation().is_some_and(|a| !a.has_curvature())
                && objective.caps().differentiates_jacobian
            {
                let errors = cfg.validate();
                assert!(
                    errors.iter().any(|e| e.key == "model.activation"),
                    "{} on {:?}: {errors:?}",
                    objective.name(),
                    model
                );
                continue;
            }
            if objective.caps().noise_conditioning == NoiseConditioning::Required {
                match model.noise_conditional() {
                    Some(conditional) => cfg.model = conditional,
                    None => {
                        let keys: Vec<String> = cfg.validate().into_iter().map(|e| e.key).collect();
                        assert_eq!(
                            keys,
                            ["objective"],
                            "{} on {}",
                            objective.name(),
                            model.name()
                        );
                        continue;
                    }
                }
            }
            assert_eq!(cfg.validate(), [], "{cfg:?}");
            runs.push(cfg);
        }
    }
    // Every objective trains at least one model.
    for name in ObjectiveConfig::NAMES {
        assert!(runs.iter().any(|r| r.objective.name() == *name), "{name}");
    }
    runs
}

/// The f32 fused engine against the f32 reference on the same batches, for every objective ×
/// model pair of the registries: the loss and the gradient of each of the first steps agree
/// to 1e-4 (relative).
#[test]
fn fused_f32_losses_and_gradients_match_the_reference_on_the_first_steps() {
    use crate::objective::ObjectiveConfig;
    use crate::train::RunSetup;
    let mut compared = 0;
    let mut compared_without_curvature = std::collections::BTreeSet::new();
    for cfg in registry_runs() {
        let what = format!("{:?}\n{:?}", cfg.objective, cfg.model);
        if !Kernels::fused_available(cfg.backend, &cfg.model, &cfg.objective) {
            // A configuration the kernels do not compute trains on the reference engine, and
            // asking for the fused one is refused.
            assert_eq!(
                Kernels::Auto.resolve(cfg.backend, &cfg.model, &cfg.objective),
                Kernels::Reference,
                "{what}"
            );
            let mut fused_cfg = cfg.clone();
            fused_cfg.train.kernels = Kernels::Fused;
            let keys: Vec<String> = fused_cfg.validate().into_iter().map(|e| e.key).collect();
            assert_eq!(keys, ["train.kernels"], "{what}");
            let mut setup = RunSetup::new(&cfg).unwrap();
            let mut trainer = setup.trainer().unwrap();
            assert_eq!(trainer.kernels(), Kernels::Reference);
            for _ in 0..3 {
                assert!(trainer.step(true).unwrap().unwrap().is_finite(), "{what}");
            }
            continue;
        }
        compared += 1;
        if cfg.model.activation().is_some_and(|a| !a.has_curvature()) {
            compared_without_curvature.insert(cfg.objective.name());
        }
        let mut fused_cfg = cfg.clone();
        fused_cfg.train.kernels = Kernels::Fused;
        let mut fused_setup = RunSetup::new(&fused_cfg).unwrap();
        let mut fused = fused_setup.trainer().unwrap();
        let mut reference_cfg = cfg.clone();
        reference_cfg.train.kernels = Kernels::Reference;
        let mut reference_setup = RunSetup::new(&reference_cfg).unwrap();
        let mut reference = reference_setup.trainer().unwrap();
        for step in 1..=3 {
            // The gradient on a batch, then a step on the next one (the same draws on both).
            let (loss_f, grad_f) = fused.loss_and_gradient().unwrap();
            let (loss_r, grad_r) = reference.loss_and_gradient().unwrap();
            assert!(
                close_f32(loss_f, loss_r),
                "{what}\nstep {step}: loss {loss_f} vs {loss_r}"
            );
            assert_eq!(grad_f.len(), grad_r.len(), "{what}");
            let err = relative_error(&grad_f, &grad_r);
            assert!(err < 1e-4, "{what}\nstep {step}: gradient off by {err:e}");
            let stepped_f = fused.step(true).unwrap().unwrap();
            let stepped_r = reference.step(true).unwrap().unwrap();
            assert!(
                close_f32(stepped_f, stepped_r),
                "{what}\nstep {step}: loss {stepped_f} vs {stepped_r}"
            );
        }
    }
    assert!(compared > 100, "{compared} runs compared");
    // ReLU is compared for every training objective that does not differentiate the Jacobian.
    let kinked: Vec<&str> = ObjectiveConfig::CAPS
        .iter()
        .filter(|(_, caps)| caps.trains && !caps.differentiates_jacobian)
        .map(|(name, _)| *name)
        .collect();
    assert!(!kinked.is_empty());
    for name in kinked {
        assert!(
            compared_without_curvature.contains(name),
            "{name} not compared with ReLU"
        );
    }
}

#[test]
fn the_reference_gradient_is_in_the_flat_parameter_order() {
    use crate::model::testing::param_values;
    for model in [
        "name = \"mlp\", depth = 3, noise_conditional = true",
        "name = \"energy\", depth = 3, noise_conditional = true",
        "name = \"linear\"",
    ] {
        let cfg: RunConfig = toml::from_str(&format!(
            "dataset = {{ name = \"gaussian\", dim = 3 }}\nobjective = {{ name = \"dsm\", sigma = 0.2 }}\nmodel = {{ {model} }}"
        ))
        .unwrap();
        let setup = crate::train::RunSetup::new(&cfg).unwrap();
        assert_eq!(
            param_values(&setup.model).concat(),
            setup.model.flat_params().unwrap(),
            "{model}"
        );
    }
}
