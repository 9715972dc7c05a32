//! The wgpu backend gives the same numbers as the CPU backend for every objective (losses,
//! gradients, Fisher divergences; ISM through both trace paths, ESM on clean and noised data),
//! sampler and sample metric.
//!
//! Built only with the `wgpu` feature (`cargo test -p scorematch --features wgpu --test
//! wgpu`, which `.ci/run` runs); without it the test shows as ignored. Runs on a real GPU or
//! on Mesa's software Vulkan driver (lavapipe, Debian package `mesa-vulkan-drivers`,
//! installed by `scripts/setup.sh`); without a usable adapter it skips visibly, and fails
//! under CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/common/tools.rs"]
mod tools;

use scorematch::train::RunSetup;
use scorematch::{Backend, Kernels, NoProgress, RunConfig, train};

/// Whether a usable wgpu device is here; skips `test` visibly (fails under CI) if not.
fn wgpu_available(test: &str) -> bool {
    match Backend::Wgpu.device() {
        Ok(_) => true,
        Err(e) => {
            tools::skip(test, &format!("no usable wgpu adapter: {e}"));
            false
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "built without the wgpu feature: cargo test -p scorematch --features wgpu --test wgpu"
)]
fn every_objective_and_sampler_matches_the_cpu_backend() {
    if !wgpu_available("every_objective_and_sampler_matches_the_cpu_backend") {
        return;
    }
    // (objective, noise-conditional model, sampler run after training). One shape for every
    // run keeps lavapipe's kernel compilation short: the samplers draw as many samples as the
    // evaluation set has, in few steps.
    let runs = [
        (
            "{ name = \"esm\" }",
            false,
            "{ name = \"langevin\", steps = 3 }",
        ),
        ("{ name = \"ism\" }", false, "{ name = \"none\" }"),
        (
            "{ name = \"ism\", trace = \"jacobian\" }",
            false,
            "{ name = \"none\" }",
        ),
        (
            "{ name = \"esm\", sigma = 0.3 }",
            false,
            "{ name = \"none\" }",
        ),
        ("{ name = \"ssm\" }", false, "{ name = \"none\" }"),
        ("{ name = \"ssm-vr\" }", false, "{ name = \"none\" }"),
        (
            "{ name = \"dsm\", sigma = 0.2 }",
            false,
            "{ name = \"none\" }",
        ),
        (
            "{ name = \"dsm-multi\", sigma_min = 0.1, levels = 3 }",
            true,
            "{ name = \"annealed\", sigma_max = 1.0, sigma_min = 0.1, levels = 2, steps_per_level = 2 }",
        ),
        (
            "{ name = \"dsm-multi\", sigma_min = 0.1, levels = 3 }",
            true,
            "{ name = \"reverse_sde\", steps = 3 }",
        ),
        (
            "{ name = \"dsm-multi\", sigma_min = 0.1, levels = 3 }",
            true,
            "{ name = \"probability_flow\", steps = 3 }",
        ),
    ];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * (1.0 + a.abs());
    for (objective, conditional, sampler) in runs {
        let text = format!(
            "dataset = {{ name = \"gaussian\", dim = 3 }}\n\
             model = {{ name = \"mlp\", hidden = 8, noise_conditional = {conditional} }}\n\
             objective = {objective}\n\
             sampler = {sampler}\n\
             sample_metrics = {{ samples = 64, reference_samples = 64 }}\n\
             train = {{ steps = 5, batch = 16, log_every = 1, eval_samples = 64, pool_size = 256 }}"
        );
        let what = format!("{objective} then {sampler}");
        let mut cfg: RunConfig = toml::from_str(&text).unwrap();
        // burn's autodiff on both backends, from the same parameters and batches.
        cfg.train.kernels = Kernels::Reference;
        let mut on_wgpu = cfg.clone();
        on_wgpu.backend = Backend::Wgpu;
        assert_same_gradients(&cfg, &on_wgpu, &what);
        let cpu = train(&cfg, &mut NoProgress).unwrap().report;
        let gpu = train(&on_wgpu, &mut NoProgress).unwrap().report;
        for (c, g) in cpu.loss_curve.iter().zip(&gpu.loss_curve) {
            assert!(
                close(c.loss, g.loss),
                "{what}: loss {} vs {}",
                c.loss,
                g.loss
            );
        }
        assert_eq!(cpu.loss_curve.len(), gpu.loss_curve.len());
        assert!(
            close(cpu.fisher_init.unwrap(), gpu.fisher_init.unwrap()),
            "{what}"
        );
        assert!(close(cpu.fisher.unwrap(), gpu.fisher.unwrap()), "{what}");
        match (&cpu.sample, &gpu.sample) {
            (None, None) => assert_eq!(sampler, "{ name = \"none\" }"),
            (Some(c), Some(g)) => {
                let metrics = |m: &scorematch::metric::SampleMetrics| {
                    [
                        m.sample_mmd,
                        m.sample_mmd_multi,
                        m.sample_energy,
                        m.sample_swd,
                        m.far_fraction,
                    ]
                };
                let (cm, gm) = (metrics(&c.metrics), metrics(&g.metrics));
                assert!(cm.iter().any(Option::is_some), "{what}: no metrics");
                for (x, y) in cm.iter().zip(&gm) {
                    match (x, y) {
                        (Some(x), Some(y)) => assert!(
                            (x - y).abs() <= 1e-3 * (1.0 + x.abs()),
                            "{what}: sample metric {x} vs {y}"
                        ),
                        (x, y) => assert_eq!(x.is_some(), y.is_some(), "{what}"),
                    }
                }
            }
            _ => panic!("{what}: only one backend sampled"),
        }
    }
}

/// The loss and ∂loss/∂θ of the first two batches agree between the two configurations (the
/// same run on two backends): relative 1e-4, with a small absolute floor for losses whose
/// terms cancel.
fn assert_same_gradients(a: &RunConfig, b: &RunConfig, what: &str) {
    let mut setup_a = RunSetup::new(a).unwrap();
    let mut setup_b = RunSetup::new(b).unwrap();
    let mut trainer_a = setup_a.trainer().unwrap();
    let mut trainer_b = setup_b.trainer().unwrap();
    for batch in 0..2 {
        let (loss_a, grad_a) = trainer_a.loss_and_gradient().unwrap();
        let (loss_b, grad_b) = trainer_b.loss_and_gradient().unwrap();
        assert!(
            (loss_a - loss_b).abs() <= 1e-4 * loss_a.abs().max(loss_b.abs()) + 1e-6,
            "{what}: batch {batch}: loss {loss_a} vs {loss_b}"
        );
        assert_eq!(grad_a.len(), grad_b.len(), "{what}");
        let diff: f64 = grad_a
            .iter()
            .zip(&grad_b)
            .map(|(x, y)| (x - y).powi(2))
            .sum();
        let norm: f64 = grad_a.iter().map(|x| x * x).sum();
        let err = (diff / norm).sqrt();
        assert!(
            err < 1e-4,
            "{what}: batch {batch}: gradients differ by {err:e}"
        );
        trainer_a.step(false).unwrap();
        trainer_b.step(false).unwrap();
    }
}

#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "built without the wgpu feature: cargo test -p scorematch --features wgpu --test wgpu"
)]
fn a_checkpoint_trained_on_flex_loads_and_scores_on_wgpu() {
    if !wgpu_available("a_checkpoint_trained_on_flex_loads_and_scores_on_wgpu") {
        return;
    }
    use scorematch::backend::to_host;
    use scorematch::checkpoint;
    let cfg: RunConfig = toml::from_str(
        "dataset = { name = \"8gaussians\" }\nobjective = { name = \"ssm-vr\" }\n\
         model = { name = \"mlp\", hidden = 16 }\n\
         train = { steps = 20, pool_size = 256, eval_samples = 64 }",
    )
    .unwrap();
    let trained = train(&cfg, &mut NoProgress).unwrap();
    let back = checkpoint::decode(&checkpoint::encode(&trained.model, &cfg).unwrap()).unwrap();
    let (model, ctx) = back.model(Backend::Wgpu).unwrap();
    let x: Vec<f64> = (0..32).map(|i| (i as f64 * 0.37).sin() * 2.0).collect();
    let on_gpu = to_host(model.forward(ctx.matrix(&x, 16, 2), None)).unwrap();
    let on_cpu = to_host(trained.model.forward(trained.ctx.matrix(&x, 16, 2), None)).unwrap();
    for (a, b) in on_gpu.iter().zip(&on_cpu) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
