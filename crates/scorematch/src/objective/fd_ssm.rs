//! FD-SSM: sliced score matching by finite differences (Pang, Xu, Li, Song, Ermon & Zhu 2020,
//! "Efficient learning of generative models via finite-difference score matching").
//!
//! The directional derivative and the projection of SSM are replaced by central differences
//! of s at x ± v, with v on the sphere of radius ε (or Gaussian with E‖v‖² = ε²):
//!
//! vᵀ(∂s/∂x)v ≈ ½ vᵀ(s₊ − s₋),  vᵀs ≈ ½ vᵀ(s₊ + s₋),  s± = s(x ± v),
//!
//! so a step takes two forward passes and no Jacobian. With u = √D v / ε (E[uuᵀ] = I) the SSM
//! objective uᵀJu + ½(uᵀs)² becomes
//!
//! (D/ε²) [½ vᵀ(s₊ − s₋) + ⅛ (vᵀ(s₊ + s₋))²],
//!
//! which tends to SSM along u as ε → 0 with a relative gap of O(ε²). The authors' code keeps
//! the factor D/ε² in this form (`efficient_sm.py`); only its noise-conditional
//! `anneal_ESM_scorenet` drops it (a rescaling with the same minimiser). Ours keeps it
//! everywhere, so the loss estimates the same objective as `ssm` and the two are comparable.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::fd_energy::energy_loss;
use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, check_sigma,
    fill_normals, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// The law of the finite-difference directions v.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FdDirection {
    /// Uniform on the sphere of radius ε (the paper's choice; the default).
    #[default]
    Sphere,
    /// N(0, ε²/D · I), so that E‖v‖² = ε².
    Gaussian,
}

/// Parameters of `fd-ssm` and `fd-ssm-vr`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FdSsmParams {
    /// Length of the difference steps ‖v‖ (default 0.1, the paper's).
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Directions per sample (default 1).
    #[serde(default = "one")]
    pub projections: usize,
    /// Law of the directions (default sphere).
    #[serde(default)]
    pub projection: FdDirection,
}

fn default_epsilon() -> f64 {
    0.1
}

fn one() -> usize {
    1
}

impl Default for FdSsmParams {
    fn default() -> Self {
        Self {
            epsilon: default_epsilon(),
            projections: 1,
            projection: FdDirection::default(),
        }
    }
}

/// What `fd-ssm` needs: forward passes only (of E itself on an energy network, which the
/// fused kernels do not output).
const FD_SSM_CAPS: ObjectiveCaps = ObjectiveCaps {
    fused_on_energy: false,
    ..FD_CAPS
};

/// What both finite-difference objectives need: forward passes only.
pub(super) const FD_CAPS: ObjectiveCaps = ObjectiveCaps {
    fused_on_energy: true,
    trains: true,
    differentiates_jacobian: false,
    uses_data_scores: false,
    noise_conditioning: NoiseConditioning::Refused,
};

impl FdSsmParams {
    /// Every problem with the parameters (shared by `fd-ssm` and `fd-ssm-vr`).
    pub(super) fn check(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        check_sigma("epsilon", self.epsilon, &mut errors);
        if self.projections == 0 {
            errors.push(ParamError::new("projections", "must be at least 1"));
        }
        errors
    }

    /// Fills `v` (`[K·B, D]`, row k·B + b for sample b) with directions of length ε (or
    /// E‖v‖² = ε²) from `rng`.
    pub(super) fn fill_directions(&self, rng: &mut crate::rng::Rng, dim: usize, v: &mut [f64]) {
        fill_normals(rng, v);
        for row in v.chunks_exact_mut(dim) {
            let scale = match self.projection {
                FdDirection::Sphere => self.epsilon / row.iter().map(|g| g * g).sum::<f64>().sqrt(),
                FdDirection::Gaussian => self.epsilon / (dim as f64).sqrt(),
            };
            row.iter_mut().for_each(|g| *g *= scale);
        }
    }

    /// D/ε², the factor that turns differences along v into the SSM terms along u.
    pub(super) fn scale(&self, dim: usize) -> f64 {
        dim as f64 / (self.epsilon * self.epsilon)
    }
}

/// The two evaluations of one batch: s₊ and s₋ (`[K·B, D]` each) and v, with v drawn from
/// `env.rng`.
pub(super) struct Differences {
    /// s(x + v).
    pub plus: Tensor<2>,
    /// s(x − v).
    pub minus: Tensor<2>,
    /// The directions.
    pub v: Tensor<2>,
}

/// `projections` directions per sample drawn from `env.rng`, `[K·B, D]`.
pub(super) fn draw_directions(
    params: &FdSsmParams,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> Vec<f64> {
    let mut v = vec![0.0; params.projections * batch.rows * batch.dim];
    params.fill_directions(env.rng, batch.dim, &mut v);
    v
}

/// s at x ± v for `projections` directions per sample, in one forward pass.
pub(super) fn differences(
    params: &FdSsmParams,
    model: &ScoreModel,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> Differences {
    let v = draw_directions(params, batch, env);
    differences_along(model, batch, v, env)
}

/// s at x ± v along given directions (`[K·B, D]`).
fn differences_along(
    model: &ScoreModel,
    batch: &Batch,
    v: Vec<f64>,
    env: &LossEnv<'_>,
) -> Differences {
    let d = batch.dim;
    let n = v.len() / d;
    let mut points = vec![0.0; 2 * n * d];
    let (plus, minus) = points.split_at_mut(n * d);
    fill_points(&batch.x, &v, d, plus, minus);
    let s = model.forward(env.ctx.matrix(&points, 2 * n, d), None);
    Differences {
        plus: s.clone().narrow(0, 0, n),
        minus: s.narrow(0, n, n),
        v: env.ctx.matrix(&v, n, d),
    }
}

/// x ± v row by row (row j of v belongs to sample j mod B).
pub(super) fn fill_points(x: &[f64], v: &[f64], d: usize, plus: &mut [f64], minus: &mut [f64]) {
    let b = x.len() / d;
    for (j, ((v, p), m)) in v
        .chunks_exact(d)
        .zip(plus.chunks_exact_mut(d))
        .zip(minus.chunks_exact_mut(d))
        .enumerate()
    {
        let x = &x[(j % b) * d..(j % b + 1) * d];
        for i in 0..d {
            p[i] = x[i] + v[i];
            m[i] = x[i] - v[i];
        }
    }
}

/// (D/ε²) mean ½ vᵀ(s₊ − s₋): the finite-difference vᵀJv term.
pub(super) fn derivative_term(params: &FdSsmParams, diff: &Differences, dim: usize) -> Tensor<1> {
    ((diff.plus.clone() - diff.minus.clone()) * diff.v.clone())
        .sum_dim(1)
        .mean()
        * (0.5 * params.scale(dim))
}

/// The fused step's inputs: the network rows [x + v; x − v] from the gathered batch, keeping
/// v (in the precision of the step) for the loss.
pub(super) fn host_points<T: Real>(
    params: &FdSsmParams,
    env: &mut LossEnv<'_>,
    step: &mut HostStep<T>,
) {
    let d = step.net.shape().dim;
    let b = step.batch.len() / d;
    let n = params.projections * b;
    let v = &mut step.scratch[0];
    v.resize(n * d, 0.0);
    params.fill_directions(env.rng, d, v);
    let (plus, minus) = step.net.x_mut().split_at_mut(n * d);
    for (j, ((v, p), m)) in v
        .chunks_exact(d)
        .zip(plus.chunks_exact_mut(d))
        .zip(minus.chunks_exact_mut(d))
        .enumerate()
    {
        let x = &step.batch[(j % b) * d..(j % b + 1) * d];
        for i in 0..d {
            p[i] = T::from_f64(x[i].to_f64() + v[i]);
            m[i] = T::from_f64(x[i].to_f64() - v[i]);
        }
    }
    step.aux.resize(n * d, T::ZERO);
    to_real(v, &mut step.aux);
}

/// The loss of a fused step from s± and v, with its gradient with respect to s±.
/// `score_term(s₊, s₋, v, 1/n, g)` returns the projection or norm term of one row (n = K·B
/// rows) and writes its gradient, scaled by 1/n, with respect to s₊ + s₋ into `g`.
pub(super) fn host_fd_loss<T: Real>(
    params: &FdSsmParams,
    step: &mut HostStep<T>,
    score_term: impl Fn(&[T], &[T], &[T], T, &mut [T]) -> f64,
) -> f64 {
    let out = step.net.outputs();
    let d = out.s.len() / out.rows;
    let n = out.rows / 2;
    let inv = T::from_f64(1.0 / n as f64);
    let half_c = T::from_f64(0.5 * params.scale(d));
    let (s_plus, s_minus) = out.s.split_at(n * d);
    let (g_plus, g_minus) = out.grad_s.split_at_mut(n * d);
    let mut total = 0.0;
    for (((sp, sm), v), (gp, gm)) in s_plus
        .chunks_exact(d)
        .zip(s_minus.chunks_exact(d))
        .zip(step.aux.chunks_exact(d))
        .zip(g_plus.chunks_exact_mut(d).zip(g_minus.chunks_exact_mut(d)))
    {
        let delta = v
            .iter()
            .zip(sp.iter().zip(sm))
            .fold(T::ZERO, |acc, (&v, (&p, &m))| acc + v * (p - m));
        total += (half_c * delta).to_f64();
        // The shared gradient goes to gp first, then to both.
        total += score_term(sp, sm, v, inv, gp);
        for ((gp, gm), &v) in gp.iter_mut().zip(gm.iter_mut()).zip(v) {
            let g_delta = half_c * inv * v;
            *gm = *gp - g_delta;
            *gp += g_delta;
        }
    }
    total / n as f64
}

impl Objective for FdSsmParams {
    const CAPS: ObjectiveCaps = FD_SSM_CAPS;

    fn validate(&self) -> Vec<ParamError> {
        self.check()
    }

    fn sigma(&self) -> Option<f64> {
        None
    }

    fn needs_noised_density(&self) -> bool {
        false
    }

    fn trace(&self) -> Option<TracePath> {
        None
    }

    /// (D/ε²) mean [½ vᵀ(s₊ − s₋) + ⅛ (vᵀ(s₊ + s₋))²]; on a model with an energy, the same
    /// by differences of E ([`super::fd_energy`]).
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let v = draw_directions(self, batch, env);
        if let Some(loss) = energy_loss(self, model, batch, &v, env) {
            return loss;
        }
        let diff = differences_along(model, batch, v, env);
        let projection = ((diff.plus.clone() + diff.minus.clone()) * diff.v.clone())
            .sum_dim(1)
            .powi_scalar(2)
            .mean()
            * (self.scale(batch.dim) / 8.0);
        derivative_term(self, &diff, batch.dim) + projection
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        2 * self.projections * batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_points(self, env, step);
    }

    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let eighth_c = T::from_f64(self.scale(step.net.shape().dim) / 8.0);
        host_fd_loss(self, step, |sp, sm, v, inv, g| {
            let p = v
                .iter()
                .zip(sp.iter().zip(sm))
                .fold(T::ZERO, |acc, (&v, (&a, &b))| acc + v * (a + b));
            // ∂/∂(s₊ + s₋) of (D/ε²)⅛ p² is (D/ε²)¼ p v.
            let scale = (eighth_c + eighth_c) * p * inv;
            g.iter_mut().zip(v).for_each(|(g, &v)| *g = scale * v);
            (eighth_c * p * p).to_f64()
        })
    }
}
