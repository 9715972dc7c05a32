//! The fused passes against the tensor reference (values and ∂/∂θ through burn's autodiff),
//! against finite differences (f64), and in f32 against f64.

use burn::tensor::Tensor;

use super::{NetKernel, Pass};
use crate::backend::{Backend, Ctx, Precision, to_host};
use crate::model::testing::{param_grads, random_net};
use crate::model::{Activation, ModelConfig, ScoreModel, TracePath};
use crate::rng::{Stream, normals, rng};

const DIM: usize = 3;
const ROWS: usize = 5;

fn autodiff_ctx() -> Ctx {
    Ctx::new(Backend::Flex.device().unwrap().autodiff(), Precision::F64)
}

/// Random weights of a test functional L = Σ a ⊙ s + Σ b ⊙ (J v) + Σ c ⊙ tr.
struct Functional {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

impl Functional {
    fn new(rows: usize, tangents: usize, seed: u64) -> Self {
        let mut r = rng(seed, Stream::Metric);
        Self {
            a: normals(&mut r, rows * DIM),
            b: normals(&mut r, tangents * rows * DIM),
            c: normals(&mut r, rows),
        }
    }
}

/// The network inputs of a test: x, v (K per row), σ.
struct Inputs {
    x: Vec<f64>,
    v: Vec<f64>,
    sigma: Vec<f64>,
}

fn inputs(tangents: usize, seed: u64) -> Inputs {
    let mut r = rng(seed, Stream::Train);
    Inputs {
        x: normals(&mut r, ROWS * DIM),
        v: normals(&mut r, tangents * ROWS * DIM),
        sigma: (0..ROWS).map(|i| 0.2 + 0.3 * i as f64).collect(),
    }
}

/// Runs the fused pass at `theta` and returns (L, ∂L/∂θ, outputs s | vᵀJv | tr).
fn fused(
    model: &ScoreModel,
    pass: Pass,
    theta: &[f64],
    inp: &Inputs,
    f: &Functional,
) -> (f64, Vec<f64>, Vec<f64>) {
    let mut k = NetKernel::<f64>::new(model.kernel_shape().unwrap(), pass, ROWS);
    k.x_mut().copy_from_slice(&inp.x);
    if let Pass::Projected { .. } = pass {
        k.v_mut().copy_from_slice(&inp.v);
    }
    if model.kernel_shape().unwrap().noise_conditional {
        k.sigma_mut().copy_from_slice(&inp.sigma);
    }
    k.forward(theta);
    let out = k.outputs();
    let dot = |x: &[f64], w: &[f64]| x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
    let vjv = out.vjv;
    let value = dot(out.s, &f.a) + dot(vjv, &f.b) + dot(out.trace, &f.c);
    let values: Vec<f64> = out.s.iter().chain(vjv).chain(out.trace).copied().collect();
    out.grad_s.copy_from_slice(&f.a);
    out.grad_vjv.copy_from_slice(&f.b[..vjv.len()]);
    out.grad_trace.copy_from_slice(&f.c[..out.grad_trace.len()]);
    let mut grad = vec![0.0; theta.len()];
    k.backward(theta, &mut grad);
    (value, grad, values)
}

/// The same functional through the tensor implementation and burn's autodiff.
fn reference(
    model: &ScoreModel,
    pass: Pass,
    inp: &Inputs,
    f: &Functional,
    ctx: &Ctx,
) -> (Vec<f64>, Vec<f64>) {
    let x = ctx.matrix(&inp.x, ROWS, DIM);
    let sigma = model
        .kernel_shape()
        .unwrap()
        .noise_conditional
        .then(|| ctx.matrix(&inp.sigma, ROWS, 1));
    let weight = |t: Tensor<2>, w: &[f64]| {
        let [r, c] = t.dims();
        (t * ctx.matrix(w, r, c)).sum()
    };
    let (loss, values) = match pass {
        Pass::Forward => {
            let s = model.forward(x, sigma.as_ref());
            (weight(s.clone(), &f.a), vec![s.flatten::<1>(0, 1)])
        }
        Pass::Projected { per_row } => {
            let xs = x.repeat_dim(0, per_row);
            let v = ctx.matrix(&inp.v, per_row * ROWS, DIM);
            let sigmas = sigma.map(|s| s.repeat_dim(0, per_row));
            let (s, jv) = model.forward_jvp(xs, v.clone(), sigmas.as_ref());
            let vjv = (v * jv).sum_dim(1);
            // s is repeated per tangent; weight only the first copy.
            let s = s.narrow(0, 0, ROWS);
            let weights = &f.b[..per_row * ROWS];
            let loss = weight(s.clone(), &f.a) + weight(vjv.clone(), weights);
            (loss, vec![s.flatten::<1>(0, 1), vjv.flatten::<1>(0, 1)])
        }
        Pass::Trace { columns } => {
            let path = if columns {
                TracePath::Jacobian
            } else {
                TracePath::Auto
            };
            let (s, tr) = model.forward_trace(x, sigma.as_ref(), path);
            let loss = weight(s.clone(), &f.a) + (tr.clone() * ctx.vector(&f.c)).sum();
            (loss, vec![s.flatten::<1>(0, 1), tr])
        }
    };
    let grads = loss.backward();
    let grad: Vec<f64> = param_grads(model, &grads).into_iter().flatten().collect();
    let values = values
        .into_iter()
        .flat_map(|t| to_host(t).unwrap())
        .collect();
    (grad, values)
}

fn passes(depth: usize, conditional: bool) -> Vec<Pass> {
    let mut p = vec![Pass::Forward, Pass::Projected { per_row: 2 }];
    if !conditional {
        p.push(Pass::Trace { columns: true });
        if depth <= 2 {
            p.push(Pass::Trace { columns: false });
        }
    }
    p
}

fn models(ctx: &Ctx) -> Vec<(String, ScoreModel)> {
    let mut out = Vec::new();
    for family in ["mlp", "energy"] {
        for (k, act) in Activation::ALL.into_iter().enumerate() {
            if family == "energy" && !act.has_curvature() {
                continue;
            }
            for depth in 1..=3 {
                for conditional in [false, true] {
                    let seed = k as u64 + 10 * depth as u64;
                    let m = random_net(family, act, depth, DIM, conditional, ctx, seed);
                    let name = format!("{family} {act:?} depth {depth} cond {conditional}");
                    out.push((name, m));
                }
            }
        }
    }
    let linear = ModelConfig::Linear(Default::default())
        .init(DIM, &[], ctx, &mut rng(0, Stream::Init))
        .unwrap();
    out.push(("linear".into(), linear));
    out
}

#[test]
fn fused_passes_match_the_tensor_reference_in_value_and_parameter_gradient() {
    let ctx = autodiff_ctx();
    for (name, model) in models(&ctx) {
        let theta = model.flat_params().unwrap();
        let shape = model.kernel_shape().unwrap();
        let smooth = shape.widths.is_empty() || shape.activation.has_curvature();
        for pass in passes(shape.widths.len(), shape.noise_conditional) {
            if pass != Pass::Forward && !smooth {
                continue;
            }
            let inp = inputs(2, 1);
            let f = Functional::new(ROWS, 2, 2);
            let (_, grad, values) = fused(&model, pass, &theta, &inp, &f);
            let (want_grad, want_values) = reference(&model, pass, &inp, &f, &ctx);
            assert_eq!(values.len(), want_values.len(), "{name} {pass:?}");
            for (i, (a, b)) in values.iter().zip(&want_values).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "{name} {pass:?} output {i}: {a} vs {b}"
                );
            }
            for (i, (a, b)) in grad.iter().zip(&want_grad).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-11 * (1.0 + b.abs()),
                    "{name} {pass:?} ∂θ[{i}]: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn fused_parameter_gradients_match_finite_differences() {
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    for (name, model) in models(&ctx) {
        let shape = model.kernel_shape().unwrap();
        if !shape.widths.is_empty() && !shape.activation.has_curvature() {
            continue;
        }
        let theta = model.flat_params().unwrap();
        for pass in passes(shape.widths.len(), shape.noise_conditional) {
            let inp = inputs(2, 3);
            let f = Functional::new(ROWS, 2, 4);
            let (_, grad, _) = fused(&model, pass, &theta, &inp, &f);
            let h = 1e-6;
            for i in 0..theta.len() {
                let mut t = theta.clone();
                t[i] += h;
                let up = fused(&model, pass, &t, &inp, &f).0;
                t[i] -= 2.0 * h;
                let down = fused(&model, pass, &t, &inp, &f).0;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (grad[i] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                    "{name} {pass:?} ∂θ[{i}]: {} vs {fd}",
                    grad[i]
                );
            }
        }
    }
}

#[test]
fn f32_passes_agree_with_f64_at_full_width() {
    // The default score and energy networks (128 wide, 2 hidden layers, SiLU) in D = 10.
    let ctx = Ctx::new(Backend::Flex.device().unwrap(), Precision::F64);
    for model in [
        ModelConfig::default(),
        ModelConfig::Energy(Default::default()),
    ] {
        let model = model
            .init(10, &[], &ctx, &mut rng(3, Stream::Init))
            .unwrap();
        f32_agrees_with_f64(&model, 10, 64);
    }
}

/// Every pass of `model` in f32 against f64, on `rows` samples in dimension `d`.
fn f32_agrees_with_f64(model: &ScoreModel, d: usize, rows: usize) {
    let theta = model.flat_params().unwrap();
    let theta32: Vec<f32> = theta.iter().map(|&v| v as f32).collect();
    let mut r = rng(4, Stream::Train);
    let x = normals(&mut r, rows * d);
    let v = normals(&mut r, rows * d);
    for pass in [
        Pass::Forward,
        Pass::Projected { per_row: 1 },
        Pass::Trace { columns: false },
        Pass::Trace { columns: true },
    ] {
        let mut k64 = NetKernel::<f64>::new(model.kernel_shape().unwrap(), pass, rows);
        let mut k32 = NetKernel::<f32>::new(model.kernel_shape().unwrap(), pass, rows);
        k64.x_mut().copy_from_slice(&x);
        k32.x_mut()
            .iter_mut()
            .zip(&x)
            .for_each(|(a, &b)| *a = b as f32);
        if pass == (Pass::Projected { per_row: 1 }) {
            k64.v_mut().copy_from_slice(&v);
            k32.v_mut()
                .iter_mut()
                .zip(&v)
                .for_each(|(a, &b)| *a = b as f32);
        }
        k64.forward(&theta);
        k32.forward(&theta32);
        let (o64, o32) = (k64.outputs(), k32.outputs());
        let scale = o64
            .s
            .iter()
            .chain(o64.vjv)
            .fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in o32.s.iter().chain(o32.vjv).zip(o64.s.iter().chain(o64.vjv)) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-5 * scale,
                "{pass:?}: {a} vs {b}"
            );
        }
        for (a, b) in o32.trace.iter().zip(o64.trace) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-5 * (1.0 + b.abs()),
                "{pass:?}: {a} vs {b}"
            );
        }
        // Gradients of ½‖s‖² + Σ vᵀJv + Σ tr.
        o64.grad_s.copy_from_slice(o64.s);
        o64.grad_vjv.fill(1.0);
        o64.grad_trace.fill(1.0);
        o32.grad_s.copy_from_slice(o32.s);
        o32.grad_vjv.fill(1.0);
        o32.grad_trace.fill(1.0);
        let mut g64 = vec![0.0; theta.len()];
        let mut g32 = vec![0.0f32; theta.len()];
        k64.backward(&theta, &mut g64);
        k32.backward(&theta32, &mut g32);
        let norm = g64.iter().map(|g| g * g).sum::<f64>().sqrt();
        let err = g32
            .iter()
            .zip(&g64)
            .map(|(a, b)| (f64::from(*a) - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(err < 1e-5 * norm, "{pass:?}: ‖Δg‖ = {err}, ‖g‖ = {norm}");
    }
}
