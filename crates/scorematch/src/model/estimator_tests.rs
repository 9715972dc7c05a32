//! The training-free estimators (`kde`, `stein`, `ssge`): their input derivatives against
//! finite differences, the KDE's density, and how well each recovers a known score.

use super::testing::fd_jacobian;
use super::*;
use crate::backend::{Backend, Ctx, Precision, to_host};
use crate::data::{Density, GaussianParams};
use crate::rng::{Stream, normals, rng};

fn ctx() -> Ctx {
    Ctx::new(Backend::Flex.device().unwrap(), Precision::F64)
}

fn estimator(text: &str, dim: usize, pool: &[f64]) -> ScoreModel {
    let config: ModelConfig = toml::from_str(text).unwrap();
    assert_eq!(config.fit(), Fit::TrainingFree, "{text}");
    config
        .init(dim, pool, &ctx(), &mut rng(0, Stream::Init))
        .unwrap()
}

#[test]
fn every_training_free_estimator_has_exact_input_derivatives() {
    let (dim, rows) = (3, 5);
    let pool = normals(&mut rng(0, Stream::Pool), 300 * dim);
    let mut seen = 0;
    for config in ModelConfig::defaults() {
        if config.fit() != Fit::TrainingFree {
            continue;
        }
        seen += 1;
        let name = config.name();
        let model = estimator(&format!("name = \"{name}\"\npoints = 120"), dim, &pool);
        let ctx = ctx();
        let x = normals(&mut rng(1, Stream::Eval), rows * dim);
        let v = normals(&mut rng(2, Stream::Eval), rows * dim);
        let jac = fd_jacobian(&model, &x, dim, None, &ctx);
        let xt = ctx.matrix(&x, rows, dim);
        let plain = to_host(model.forward(xt.clone(), None)).unwrap();
        let (s, jv) = model.forward_jvp(xt.clone(), ctx.matrix(&v, rows, dim), None);
        let (s2, tr) = model.forward_trace(xt, None, TracePath::Auto);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12);
        assert!(close(&to_host(s).unwrap(), &plain), "{name}");
        assert!(close(&to_host(s2).unwrap(), &plain), "{name}");
        let (jv, tr) = (to_host(jv).unwrap(), to_host(tr).unwrap());
        for r in 0..rows {
            let want_tr: f64 = (0..dim).map(|i| jac[(r * dim + i) * dim + i]).sum();
            assert!(
                (tr[r] - want_tr).abs() < 1e-6 * (1.0 + want_tr.abs()),
                "{name}: trace {} vs {want_tr}",
                tr[r]
            );
            for j in 0..dim {
                let want: f64 = (0..dim)
                    .map(|i| jac[(r * dim + j) * dim + i] * v[r * dim + i])
                    .sum();
                let got = jv[r * dim + j];
                assert!(
                    (got - want).abs() < 1e-6 * (1.0 + want.abs()),
                    "{name}: Jv {got} vs {want}"
                );
            }
        }
        assert!(model.flat_params().unwrap().is_empty());
    }
    assert_eq!(seen, 3, "kde, stein and ssge");
}

#[test]
fn the_kde_score_is_the_gradient_of_its_log_density_which_integrates_to_one() {
    let ctx = ctx();
    // In 1-D, by quadrature: ∫ exp(−E) = 1.
    let pool: Vec<f64> = normals(&mut rng(3, Stream::Pool), 50)
        .iter()
        .map(|z| 1.0 + 2.0 * z)
        .collect();
    let model = estimator("name = \"kde\"\nbandwidth = \"scott\"", 1, &pool);
    let grid: Vec<f64> = (0..4001).map(|i| -15.0 + i as f64 * 0.0075).collect();
    let e = to_host(
        model
            .energy(ctx.matrix(&grid, grid.len(), 1), None)
            .unwrap(),
    )
    .unwrap();
    let mass: f64 = e.iter().map(|e| (-e).exp() * 0.0075).sum();
    assert!((mass - 1.0).abs() < 1e-6, "{mass}");
    // In 2-D, s = −∇E by central differences.
    let pool = normals(&mut rng(4, Stream::Pool), 80 * 2);
    let model = estimator("name = \"kde\"\nbandwidth = 0.4", 2, &pool);
    let x = normals(&mut rng(5, Stream::Eval), 6 * 2);
    let s = to_host(model.forward(ctx.matrix(&x, 6, 2), None)).unwrap();
    let energy = |y: &[f64]| to_host(model.energy(ctx.matrix(y, 6, 2), None).unwrap()).unwrap();
    let h = 1e-5;
    for i in 0..2 {
        let shift = |d: f64| -> Vec<f64> {
            let mut y = x.clone();
            (0..6).for_each(|r| y[r * 2 + i] += d);
            y
        };
        let (up, down) = (energy(&shift(h)), energy(&shift(-h)));
        for r in 0..6 {
            let want = -(up[r] - down[r]) / (2.0 * h);
            assert!((s[r * 2 + i] - want).abs() < 1e-7 * (1.0 + want.abs()));
        }
    }
}

/// E‖ŝ − ∇log p‖² / E‖∇log p‖² over fresh samples of a correlated Gaussian in `dim`
/// dimensions, the estimator built on `points` pool samples.
fn relative_fisher(text: &str, dim: usize, points: usize) -> f64 {
    let density = GaussianParams { dim, data_seed: 1 }.build().unwrap();
    let pool = density.sample(points, &mut rng(6, Stream::Pool));
    let model = estimator(text, dim, &pool);
    let x = density.sample(500, &mut rng(7, Stream::Eval));
    let truth = density.scores(&x);
    let s = to_host(model.forward(ctx().matrix(&x, 500, dim), None)).unwrap();
    let err: f64 = s.iter().zip(&truth).map(|(a, b)| (a - b).powi(2)).sum();
    err / truth.iter().map(|t| t * t).sum::<f64>()
}

#[test]
fn the_estimators_recover_a_gaussian_score_from_a_thousand_points() {
    // Measured with the defaults, D = 2 / 5: kde 0.147 / 0.320 (the kernel's smoothing
    // biases it), stein 0.039 / 0.059, ssge 0.038 / 0.048. The zero score gives 1.
    for (name, dim, bound) in [
        ("kde", 2, 0.2),
        ("kde", 5, 0.4),
        ("stein", 2, 0.06),
        ("stein", 5, 0.09),
        ("ssge", 2, 0.06),
        ("ssge", 5, 0.08),
    ] {
        let r = relative_fisher(&format!("name = \"{name}\""), dim, 1000);
        assert!(r < bound, "{name} in {dim} dimensions: relative Fisher {r}");
    }
}
