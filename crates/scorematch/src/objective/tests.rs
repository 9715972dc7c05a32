//! Gradients of every objective with respect to θ against finite differences, and the
//! identities the sliced objectives rest on.

use super::*;
use crate::backend::{Backend, Ctx, Precision, scalar, to_host};
use crate::data::{Density, GaussianParams};
use crate::model::testing::{param_grads, param_values, perturbed, random_mlp, random_net};
use crate::model::{Activation, TracePath};
use crate::rng::{Rng, Stream, normals, rng};

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
    ];
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
