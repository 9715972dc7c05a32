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
                r.fisher.unwrap() < 0.5 * r.fisher_init,
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
    let errors = cfg.validate();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "train.kernels");
    assert!(errors[0].message.contains("flex"));
    cfg.train.kernels = Kernels::Auto;
    assert!(cfg.validate().is_empty());
    assert_eq!(Kernels::Auto.resolve(Backend::Flex), Kernels::Fused);
    assert_eq!(Kernels::Auto.resolve(Backend::Ndarray), Kernels::Reference);
    for k in Kernels::ALL {
        let parsed: crate::config::TrainConfig =
            toml::from_str(&format!("kernels = \"{}\"", k.name())).unwrap();
        assert_eq!(parsed.kernels, k);
    }
}
