//! The carried tangent and trace against finite differences of the forward pass.

use super::testing::*;
use super::*;
use crate::backend::{Backend, Ctx, Precision, to_host};
use crate::rng::{Stream, normals, rng};

const DIM: usize = 3;
const ROWS: usize = 4;

fn ctx(backend: Backend) -> Ctx {
    Ctx::new(backend.device().unwrap(), Precision::F64)
}

fn smooth() -> impl Iterator<Item = Activation> {
    Activation::ALL.into_iter().filter(|a| a.has_curvature())
}

#[test]
fn jvp_and_trace_match_finite_differences_for_every_activation_and_depth() {
    for backend in Backend::compiled_cpu() {
        let ctx = ctx(backend);
        for family in ["mlp", "energy"] {
            for (k, act) in smooth().enumerate() {
                for depth in 1..=3 {
                    for conditional in [false, true] {
                        let model =
                            random_net(family, act, depth, DIM, conditional, &ctx, k as u64);
                        let mut r = rng(depth as u64, Stream::Train);
                        let x = normals(&mut r, ROWS * DIM);
                        let v = normals(&mut r, ROWS * DIM);
                        let sig: Vec<f64> = (0..ROWS).map(|i| 0.3 + 0.2 * i as f64).collect();
                        let sigma_host = conditional.then_some(sig.as_slice());
                        let sigma = sigma_host.map(|s| ctx.matrix(s, ROWS, 1));
                        let jac = fd_jacobian(&model, &x, DIM, sigma_host, &ctx);

                        let xt = ctx.matrix(&x, ROWS, DIM);
                        let (s, jv) = model.forward_jvp(
                            xt.clone(),
                            ctx.matrix(&v, ROWS, DIM),
                            sigma.as_ref(),
                        );
                        let plain = to_host(model.forward(xt.clone(), sigma.as_ref())).unwrap();
                        assert_eq!(to_host(s).unwrap(), plain);
                        let jv = to_host(jv).unwrap();
                        for r in 0..ROWS {
                            for j in 0..DIM {
                                let want: f64 = (0..DIM)
                                    .map(|i| jac[(r * DIM + j) * DIM + i] * v[r * DIM + i])
                                    .sum();
                                let got = jv[r * DIM + j];
                                assert!(
                                    (got - want).abs() < 1e-8,
                                    "{backend:?} {family} {act:?} depth {depth}: Jv {got} vs {want}"
                                );
                            }
                        }
                        for path in [TracePath::Jacobian, TracePath::Fast, TracePath::Auto] {
                            let (s, tr) = model.forward_trace(xt.clone(), sigma.as_ref(), path);
                            assert_eq!(to_host(s).unwrap(), plain);
                            let tr = to_host(tr).unwrap();
                            for r in 0..ROWS {
                                let want: f64 =
                                    (0..DIM).map(|i| jac[(r * DIM + i) * DIM + i]).sum();
                                assert!(
                                    (tr[r] - want).abs() < 1e-8,
                                    "{backend:?} {family} {act:?} depth {depth} {path:?}: trace {} vs {want}",
                                    tr[r]
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn fast_trace_equals_the_jacobian_trace_at_full_width() {
    // The default network (128 wide, 2 hidden layers) in D = 10.
    let ctx = ctx(Backend::Flex);
    let model = ModelConfig::default()
        .init(10, &[], &ctx, &mut rng(3, Stream::Init))
        .unwrap();
    let x = ctx.matrix(&normals(&mut rng(4, Stream::Train), 32 * 10), 32, 10);
    let (_, fast) = model.forward_trace(x.clone(), None, TracePath::Fast);
    let (_, full) = model.forward_trace(x, None, TracePath::Jacobian);
    for (a, b) in to_host(fast).unwrap().iter().zip(to_host(full).unwrap()) {
        assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn trace_paths_resolve_by_depth() {
    let ctx = ctx(Backend::Flex);
    for (depth, auto) in [
        (1, TracePath::Fast),
        (2, TracePath::Fast),
        (3, TracePath::Jacobian),
    ] {
        let m = random_mlp(Activation::Tanh, depth, 2, false, &ctx, 0);
        assert_eq!(m.trace_path(TracePath::Auto), auto);
        assert_eq!(m.trace_path(TracePath::Jacobian), TracePath::Jacobian);
    }
}

#[test]
fn linear_model_jvp_and_trace_are_exact() {
    let ctx = ctx(Backend::Flex);
    let model = ModelConfig::Linear(LinearParams::default())
        .init(DIM, &[], &ctx, &mut rng(0, Stream::Init))
        .unwrap();
    let mut r = rng(1, Stream::Train);
    let x = normals(&mut r, ROWS * DIM);
    let v = normals(&mut r, ROWS * DIM);
    let jac = fd_jacobian(&model, &x, DIM, None, &ctx);
    let (_, jv) = model.forward_jvp(ctx.matrix(&x, ROWS, DIM), ctx.matrix(&v, ROWS, DIM), None);
    let (_, tr) = model.forward_trace(ctx.matrix(&x, ROWS, DIM), None, TracePath::Auto);
    let (jv, tr) = (to_host(jv).unwrap(), to_host(tr).unwrap());
    for r in 0..ROWS {
        let want_tr: f64 = (0..DIM).map(|i| jac[(r * DIM + i) * DIM + i]).sum();
        assert!((tr[r] - want_tr).abs() < 1e-9);
        for j in 0..DIM {
            let want: f64 = (0..DIM)
                .map(|i| jac[(r * DIM + j) * DIM + i] * v[r * DIM + i])
                .sum();
            assert!((jv[r * DIM + j] - want).abs() < 1e-9);
        }
    }
}

#[test]
fn initialisation_follows_pytorch_bounds() {
    let ctx = ctx(Backend::Flex);
    let model = ModelConfig::default()
        .init(10, &[], &ctx, &mut rng(0, Stream::Init))
        .unwrap();
    let values = param_values(&model);
    // weight/bias pairs: fan-in 10, 128, 128.
    for (k, fan_in) in [10.0f64, 10.0, 128.0, 128.0, 128.0, 128.0]
        .iter()
        .enumerate()
    {
        let bound = 1.0 / fan_in.sqrt();
        let v = &values[k];
        let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        // Uniform on [−bound, bound]: mean |x| is bound/2.
        let mean_abs = v.iter().map(|x| x.abs()).sum::<f64>() / v.len() as f64;
        assert!(max <= bound, "param {k}: max {max}, bound {bound}");
        let tol = 2.0 * bound / (v.len() as f64).sqrt();
        assert!(
            (mean_abs - bound / 2.0).abs() < tol,
            "param {k}: mean |x| {mean_abs}"
        );
    }
}

/// The energy network's score is minus the gradient of the energy it reports (E/σ for a
/// noise-conditional network, so both describe one density): against central differences of
/// the reported energy, and its Jacobian (−∇²E) is symmetric.
#[test]
fn energy_scores_are_minus_the_gradient_of_the_energy() {
    let ctx = ctx(Backend::Flex);
    for (k, act) in smooth().enumerate() {
        for depth in 1..=3 {
            for conditional in [false, true] {
                let model = random_net("energy", act, depth, DIM, conditional, &ctx, k as u64);
                let mut r = rng(10 + depth as u64, Stream::Train);
                let x = normals(&mut r, ROWS * DIM);
                let sig: Vec<f64> = (0..ROWS).map(|i| 0.4 + 0.3 * i as f64).collect();
                let sigma = conditional.then(|| ctx.matrix(&sig, ROWS, 1));
                let energy = |x: &[f64]| {
                    to_host(
                        model
                            .energy(ctx.matrix(x, ROWS, DIM), sigma.as_ref())
                            .unwrap(),
                    )
                    .unwrap()
                };
                let s = to_host(model.forward(ctx.matrix(&x, ROWS, DIM), sigma.as_ref())).unwrap();
                let h = 1e-5;
                for i in 0..DIM {
                    let shift = |d: f64| {
                        let mut y = x.clone();
                        (0..ROWS).for_each(|r| y[r * DIM + i] += d);
                        energy(&y)
                    };
                    let (up, down) = (shift(h), shift(-h));
                    for r in 0..ROWS {
                        let want = -(up[r] - down[r]) / (2.0 * h);
                        let got = s[r * DIM + i];
                        assert!(
                            (got - want).abs() < 1e-8 * (1.0 + want.abs()),
                            "{act:?} depth {depth}: s {got} vs −∂E {want}"
                        );
                    }
                }
                let jac = fd_jacobian(&model, &x, DIM, conditional.then_some(sig.as_slice()), &ctx);
                for r in 0..ROWS {
                    for i in 0..DIM {
                        for j in 0..i {
                            let (a, b) =
                                (jac[(r * DIM + i) * DIM + j], jac[(r * DIM + j) * DIM + i]);
                            assert!((a - b).abs() < 1e-7, "{act:?} depth {depth}: not symmetric");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_model_names_each_parameter_once_in_flat_order() {
    let ctx = ctx(Backend::Flex);
    let pool = normals(&mut rng(2, Stream::Pool), 64 * DIM);
    let tensor = |name: &str, shape: &[usize]| ParamTensor::new(name, shape.to_vec());
    // (`external` has no default command; its network is `linear`'s.)
    for config in ModelConfig::defaults()
        .into_iter()
        .filter(|c| c.fit() != Fit::External)
    {
        let model = config
            .init(DIM, &pool, &ctx, &mut rng(0, Stream::Init))
            .unwrap();
        let layout = model.param_layout();
        let named: usize = layout.iter().map(ParamTensor::len).sum();
        assert_eq!(
            named,
            model.flat_params().unwrap().len(),
            "{}",
            config.name()
        );
        let names: std::collections::BTreeSet<&String> = layout.iter().map(|t| &t.name).collect();
        assert_eq!(names.len(), layout.len(), "{}: {layout:?}", config.name());
        let want = match config.name() {
            "mlp" => vec![
                tensor("layers.0.weight", &[DIM, 128]),
                tensor("layers.0.bias", &[128]),
                tensor("layers.1.weight", &[128, 128]),
                tensor("layers.1.bias", &[128]),
                tensor("layers.2.weight", &[128, DIM]),
                tensor("layers.2.bias", &[DIM]),
            ],
            "energy" => vec![
                tensor("layers.0.weight", &[DIM, 128]),
                tensor("layers.0.bias", &[128]),
                tensor("layers.1.weight", &[128, 128]),
                tensor("layers.1.bias", &[128]),
                tensor("layers.2.weight", &[128, 1]),
                tensor("layers.2.bias", &[1]),
            ],
            "linear" => vec![tensor("weight", &[DIM, DIM]), tensor("bias", &[DIM])],
            // C(D + 2, 2) − 1 monomials of degree 1 and 2.
            "expfam" => vec![tensor("coefficients", &[9])],
            _ => Vec::new(),
        };
        assert_eq!(layout, want, "{}", config.name());
    }
    // A noise-conditional network's first layer also reads log σ.
    let conditional = random_mlp(Activation::Silu, 1, DIM, true, &ctx, 0).param_layout();
    assert_eq!(conditional[0], tensor("layers.0.weight", &[DIM + 1, 6]));
}
