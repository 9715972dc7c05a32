//! Gradients of every objective with respect to θ against finite differences, and the
//! identities the sliced objectives rest on.

use super::*;
use crate::backend::{Backend, Ctx, Precision, scalar, to_host};
use crate::data::{Density, GaussianParams};
use crate::model::testing::{param_grads, param_values, perturbed, random_mlp, random_net};
use crate::model::{Activation, TracePath};
use crate::rng::{Rng, Stream, normals, rng};
use rand::RngExt as _;

const DIM: usize = 3;

fn batch(rows: usize, density: &dyn Density) -> Batch {
    let x = density.sample(rows, &mut rng(1, Stream::Pool));
    Batch {
        score: density.scores(&x),
        x,
        rows,
        dim: density.dim(),
    }
}

fn parse(s: &str) -> ObjectiveConfig {
    toml::from_str(s).unwrap()
}

/// Loss value with a fixed random stream, so that every evaluation sees the same noise.
fn loss_value(
    obj: &ObjectiveConfig,
    model: &ScoreModel,
    b: &Batch,
    ctx: &Ctx,
    noised: Option<&dyn Density>,
    stream: &Rng,
) -> f64 {
    let mut r = stream.clone();
    let mut env = LossEnv {
        ctx,
        rng: &mut r,
        noised,
    };
    scalar(obj.loss(model, b, &mut env)).unwrap()
}

#[test]
fn parameter_gradients_match_finite_differences_for_every_objective() {
    let data = GaussianParams {
        dim: DIM,
        data_seed: 0,
    }
    .build()
    .unwrap();
    let noised = data.noised(0.3).unwrap();
    let b = batch(5, &data);
    let objectives = [
        ("name = \"esm\"", false),
        ("name = \"esm\"\nsigma = 0.3", false),
        ("name = \"ism\"\ntrace = \"jacobian\"", false),
        ("name = \"ism\"\ntrace = \"fast\"", false),
        ("name = \"ssm\"\nprojections = 2", false),
        ("name = \"ssm-vr\"\nprojection = \"rademacher\"", false),
        ("name = \"dsm\"\nsigma = 0.3", false),
        ("name = \"dsm\"\nsigma = 0.3", true),
        ("name = \"dsm-multi\"\nsigma_min = 0.1\nlevels = 4", true),
        ("name = \"fd-ssm\"\nepsilon = 0.1\nprojections = 2", false),
        ("name = \"fd-ssm-vr\"\nprojection = \"gaussian\"", false),
        ("name = \"ssm-multi\"\nsigma_min = 0.1\nlevels = 4", true),
        (
            "name = \"ssm-vr-multi\"\nlevels = 3\nprojections = 2\nprojection = \"rademacher\"",
            true,
        ),
    ];
    // Every registered objective with a loss is among them.
    for (name, caps) in ObjectiveConfig::CAPS {
        assert_eq!(
            objectives.iter().any(|(t, _)| parse(t).name() == *name),
            caps.trains,
            "{name} is not checked"
        );
    }
    for backend in Backend::compiled_cpu() {
        let ctx = Ctx::new(backend.device().unwrap().autodiff(), Precision::F64);
        for (k, (text, conditional)) in objectives.iter().enumerate() {
            for family in ["mlp", "energy"] {
                let obj = parse(text);
                let act = [
                    Activation::Tanh,
                    Activation::Silu,
                    Activation::Softplus,
                    Activation::Elu,
                ][k % 4];
                let model = random_net(family, act, 2, DIM, *conditional, &ctx, k as u64);
                let stream = rng(k as u64, Stream::Train);
                let mut r = stream.clone();
                let mut env = LossEnv {
                    ctx: &ctx,
                    rng: &mut r,
                    noised: Some(noised.as_ref()),
                };
                let grads = obj.loss(&model, &b, &mut env).backward();
                let analytic = param_grads(&model, &grads);
                let values = param_values(&model);
                let h = 1e-6;
                for (p, vals) in values.iter().enumerate() {
                    for entry in [0, vals.len() / 2, vals.len() - 1] {
                        let up = loss_value(
                            &obj,
                            &perturbed(&model, p, entry, h),
                            &b,
                            &ctx,
                            Some(noised.as_ref()),
                            &stream,
                        );
                        let down = loss_value(
                            &obj,
                            &perturbed(&model, p, entry, -h),
                            &b,
                            &ctx,
                            Some(noised.as_ref()),
                            &stream,
                        );
                        let fd = (up - down) / (2.0 * h);
                        let got = analytic[p][entry];
                        assert!(
                            (got - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                            "{backend:?} {family} {text:?} param {p} entry {entry}: {got} vs {fd}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn projections_average_to_the_trace() {
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    let model = random_mlp(Activation::Silu, 2, DIM, false, &ctx, 7);
    let x = normals(&mut rng(0, Stream::Pool), DIM);
    let (_, tr) = model.forward_trace(ctx.matrix(&x, 1, DIM), None, TracePath::Jacobian);
    let tr = to_host(tr).unwrap()[0];
    let n = 200_000;
    for projection in [Projection::Gaussian, Projection::Rademacher] {
        let v = projection.draw(&mut rng(1, Stream::Train), n * DIM);
        let xs = ctx.matrix(&x, 1, DIM).repeat_dim(0, n);
        let vt = ctx.matrix(&v, n, DIM);
        let (_, jv) = model.forward_jvp(xs, vt.clone(), None);
        let vjv = to_host(vt * jv).unwrap();
        let per: Vec<f64> = vjv.chunks_exact(DIM).map(|c| c.iter().sum()).collect();
        let mean = per.iter().sum::<f64>() / n as f64;
        let sd = (per.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        // Within 5 standard errors of the exact trace.
        assert!(
            (mean - tr).abs() < 5.0 * sd / (n as f64).sqrt(),
            "{projection:?}: {mean} vs {tr}"
        );
    }
}

#[test]
fn ism_equals_esm_up_to_a_constant() {
    // Integration by parts: ISM − ESM = −½E‖∇log p‖², the same for every model.
    let data = GaussianParams {
        dim: 2,
        data_seed: 1,
    }
    .build()
    .unwrap();
    let b = batch(200_000, &data);
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    let esm = parse("name = \"esm\"");
    let ism = parse("name = \"ism\"");
    let stream = rng(0, Stream::Train);
    let gap = |seed: u64| {
        let m = random_mlp(Activation::Softplus, 2, 2, false, &ctx, seed);
        loss_value(&ism, &m, &b, &ctx, None, &stream)
            - loss_value(&esm, &m, &b, &ctx, None, &stream)
    };
    let want = -0.5 * b.score.iter().map(|s| s * s).sum::<f64>() / b.rows as f64;
    for seed in 0..3 {
        let g = gap(seed);
        assert!((g - want).abs() < 0.02 * want.abs(), "{g} vs {want}");
    }
}

#[test]
fn geometric_schedule_runs_from_max_to_min() {
    let s = dsm_multi::geometric_schedule(20.0, 1.0, 10);
    assert_eq!(s.len(), 10);
    assert!((s[0] - 20.0).abs() < 1e-12 && (s[9] - 1.0).abs() < 1e-12);
    for w in s.windows(2) {
        assert!((w[1] / w[0] - s[1] / s[0]).abs() < 1e-12);
    }
}

#[test]
fn every_registered_objective_parses_and_reports_its_name() {
    for &name in ObjectiveConfig::NAMES {
        let obj = parse(&format!("name = \"{name}\""));
        assert_eq!(obj.name(), name);
        assert!(obj.validate().is_empty());
    }
    let err = toml::from_str::<ObjectiveConfig>("name = \"essm\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ssm-vr") && err.contains("dsm-multi"), "{err}");
}

/// The exact SSM (or SSM-VR) loss of `model` on `x` along the directions `u` (`[K·B, D]`).
fn exact_sliced_loss(model: &ScoreModel, x: &[f64], u: &[f64], ctx: &Ctx, vr: bool) -> f64 {
    let n = u.len() / DIM;
    let k = n / (x.len() / DIM);
    let xs = ctx.matrix(x, x.len() / DIM, DIM).repeat_dim(0, k);
    let ut = ctx.matrix(u, n, DIM);
    let (s, jv) = model.forward_jvp(xs, ut.clone(), None);
    let vjv = (ut.clone() * jv).sum_dim(1).mean();
    let second = if vr {
        half_mean_sq_norm(s)
    } else {
        (ut * s).sum_dim(1).powi_scalar(2).mean() * 0.5
    };
    scalar(vjv + second).unwrap()
}

#[test]
fn finite_difference_ssm_tends_to_ssm_with_a_relative_gap_of_order_epsilon_squared() {
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    let data = GaussianParams {
        dim: DIM,
        data_seed: 0,
    }
    .build()
    .unwrap();
    let b = batch(6, &data);
    let stream = rng(5, Stream::Train);
    // The directions every ε shares: u = √D g/‖g‖ from the stream's first normals.
    let k = 2;
    let mut u = normals(&mut stream.clone(), k * b.rows * DIM);
    for row in u.chunks_exact_mut(DIM) {
        let norm = row.iter().map(|g| g * g).sum::<f64>().sqrt();
        row.iter_mut()
            .for_each(|g| *g *= (DIM as f64).sqrt() / norm);
    }
    for family in ["mlp", "energy"] {
        let model = random_net(family, Activation::Tanh, 2, DIM, false, &ctx, 3);
        for (name, vr) in [("fd-ssm", false), ("fd-ssm-vr", true)] {
            let exact = exact_sliced_loss(&model, &b.x, &u, &ctx, vr);
            let gap = |eps: f64| {
                let obj = parse(&format!(
                    "name = \"{name}\"\nepsilon = {eps}\nprojections = {k}"
                ));
                (loss_value(&obj, &model, &b, &ctx, None, &stream) - exact).abs() / exact.abs()
            };
            let gaps = [gap(0.2), gap(0.1), gap(0.05)];
            assert!(gaps[0] > 1e-6, "{family} {name}: {gaps:?} (no gap at all?)");
            for w in gaps.windows(2) {
                let ratio = w[0] / w[1];
                assert!(
                    (3.0..5.0).contains(&ratio),
                    "{family} {name}: gaps {gaps:?} do not shrink as ε²"
                );
            }
        }
    }
}

#[test]
fn sliced_matching_over_one_noise_level_is_sliced_matching_on_the_noised_data() {
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    let data = GaussianParams {
        dim: DIM,
        data_seed: 2,
    }
    .build()
    .unwrap();
    let b = batch(7, &data);
    let model = random_mlp(Activation::Silu, 2, DIM, false, &ctx, 4);
    let sigma = 0.3;
    let stream = rng(8, Stream::Train);
    for (multi, single) in [("ssm-multi", "ssm"), ("ssm-vr-multi", "ssm-vr")] {
        let obj = parse(&format!(
            "name = \"{multi}\"\nsigma_min = {sigma}\nsigma_max = {sigma}\nlevels = 1\nprojections = 2"
        ));
        let got = loss_value(&obj, &model, &b, &ctx, None, &stream);
        // The same draws: a level per sample, the noise, then the projections (by `ssm`).
        let mut r = stream.clone();
        for _ in 0..b.rows {
            let _: usize = r.random_range(0..1);
        }
        let eps = normals(&mut r, b.x.len());
        let noisy = Batch {
            x: b.x.iter().zip(&eps).map(|(x, e)| x + sigma * e).collect(),
            score: Vec::new(),
            rows: b.rows,
            dim: DIM,
        };
        let ssm = parse(&format!("name = \"{single}\"\nprojections = 2"));
        let want = sigma * sigma * loss_value(&ssm, &model, &noisy, &ctx, None, &r);
        assert!(
            (got - want).abs() <= 1e-12 * want.abs(),
            "{multi}: {got} vs {want}"
        );
    }
}
