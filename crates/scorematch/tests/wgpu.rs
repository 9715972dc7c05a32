//! The wgpu backend gives the same numbers as the CPU backend for every objective.
//!
//! Runs on a real GPU or on Mesa's software Vulkan driver (lavapipe, Debian package
//! `mesa-vulkan-drivers`, installed by `scripts/setup.sh`); skipped with a message only when
//! this build has no wgpu support or the machine has no adapter at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use scorematch::{Backend, NoProgress, RunConfig, train};

fn wgpu_available() -> bool {
    if !Backend::Wgpu.is_compiled() {
        eprintln!("SKIPPED: this build has no wgpu support (cargo feature `wgpu`)");
        return false;
    }
    match Backend::Wgpu.device() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: no wgpu adapter on this machine: {e}");
            false
        }
    }
}

#[test]
fn every_objective_matches_the_cpu_backend() {
    if !wgpu_available() {
        return;
    }
    // One shape for every objective keeps lavapipe's kernel compilation short.
    let objectives = [
        ("{ name = \"esm\" }", false),
        ("{ name = \"ism\" }", false),
        ("{ name = \"ssm\" }", false),
        ("{ name = \"ssm-vr\" }", false),
        ("{ name = \"dsm\", sigma = 0.2 }", false),
        (
            "{ name = \"dsm-multi\", sigma_min = 0.1, levels = 3 }",
            true,
        ),
    ];
    for (objective, conditional) in objectives {
        let text = format!(
            "dataset = {{ name = \"gaussian\", dim = 3 }}\n\
             model = {{ name = \"mlp\", hidden = 8, noise_conditional = {conditional} }}\n\
             objective = {objective}\n\
             train = {{ steps = 5, batch = 16, log_every = 1, eval_samples = 64, pool_size = 256 }}"
        );
        let mut cfg: RunConfig = toml::from_str(&text).unwrap();
        let cpu = train(&cfg, &mut NoProgress).unwrap().report;
        cfg.backend = Backend::Wgpu;
        let gpu = train(&cfg, &mut NoProgress).unwrap().report;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * (1.0 + a.abs());
        for (c, g) in cpu.loss_curve.iter().zip(&gpu.loss_curve) {
            assert!(
                close(c.loss, g.loss),
                "{objective}: loss {} vs {}",
                c.loss,
                g.loss
            );
        }
        assert_eq!(cpu.loss_curve.len(), gpu.loss_curve.len());
        assert!(close(cpu.fisher_init, gpu.fisher_init), "{objective}");
        assert!(
            close(cpu.fisher.unwrap(), gpu.fisher.unwrap()),
            "{objective}"
        );
    }
}
