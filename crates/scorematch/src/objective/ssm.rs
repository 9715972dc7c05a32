//! SSM: sliced score matching (Song, Garg, Shi & Ermon 2019), vᵀ(∂s/∂x)v + ½(vᵀs)², with
//! random projections v (`projections` of them per sample, Gaussian or Rademacher).

use burn::tensor::Tensor;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{
    Batch, HostStep, LossEnv, NoiseConditioning, Objective, ObjectiveCaps, fill_normals, to_real,
};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};
use crate::rng::{Rng, normals};

/// The law of the projection vectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Projection {
    /// v ~ N(0, I) (the default).
    #[default]
    Gaussian,
    /// Independent ±1 entries.
    Rademacher,
}

impl Projection {
    /// `n` projection entries.
    pub fn draw(self, rng: &mut Rng, n: usize) -> Vec<f64> {
        match self {
            Projection::Gaussian => normals(rng, n),
            Projection::Rademacher => (0..n)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect(),
        }
    }

    /// Fills `out` with projection entries: the same numbers as [`Self::draw`].
    pub fn fill(self, rng: &mut Rng, out: &mut [f64]) {
        match self {
            Projection::Gaussian => fill_normals(rng, out),
            Projection::Rademacher => out
                .iter_mut()
                .for_each(|v| *v = if rng.random::<bool>() { 1.0 } else { -1.0 }),
        }
    }
}

/// Parameters of `ssm` and `ssm-vr`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsmParams {
    /// Projections per sample (default 1).
    #[serde(default = "one")]
    pub projections: usize,
    /// Law of the projections (default gaussian).
    #[serde(default)]
    pub projection: Projection,
}

fn one() -> usize {
    1
}

impl Default for SsmParams {
    fn default() -> Self {
        Self {
            projections: 1,
            projection: Projection::default(),
        }
    }
}

/// What both sliced objectives need: the Jacobian, through projections, and nothing else.
pub(super) const SLICED_CAPS: ObjectiveCaps = ObjectiveCaps {
    fused_on_energy: true,
    trains: true,
    differentiates_jacobian: true,
    uses_data_scores: false,
    noise_conditioning: NoiseConditioning::Refused,
};

impl SsmParams {
    /// Every problem with the parameters (shared by `ssm` and `ssm-vr`).
    pub(super) fn check(&self) -> Vec<ParamError> {
        if self.projections == 0 {
            vec![ParamError::new("projections", "must be at least 1")]
        } else {
            Vec::new()
        }
    }

    /// The projected tangent pass with this many directions per sample.
    pub(super) fn pass(&self) -> Pass {
        Pass::Projected {
            per_row: self.projections,
        }
    }
}

impl Objective for SsmParams {
    const CAPS: ObjectiveCaps = SLICED_CAPS;

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

    /// mean vᵀJv + ½ mean (vᵀs)².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (s, v, vjv) = projected_terms(self, model, batch, env);
        vjv + (v * s).sum_dim(1).powi_scalar(2).mean() * 0.5
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        self.pass()
    }

    fn host_rows(&self, batch: usize) -> usize {
        batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_directions(self, env, step);
    }

    /// mean vᵀJv + ½ mean (vᵀs)² of a fused step, and its gradients.
    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        host_projected_loss(step, |s, v, rows, grad_s| {
            let d = s.len() / rows;
            let n = v.len() / d;
            let inv = T::from_f64(1.0 / n as f64);
            grad_s.fill(T::ZERO);
            let mut total = 0.0;
            for (j, v) in v.chunks_exact(d).enumerate() {
                let b = j % rows;
                let s_b = &s[b * d..(b + 1) * d];
                let q: T = v.iter().zip(s_b).fold(T::ZERO, |acc, (&a, &b)| acc + a * b);
                total += q.to_f64() * q.to_f64();
                let scale = q * inv;
                grad_s[b * d..(b + 1) * d]
                    .iter_mut()
                    .zip(v)
                    .for_each(|(g, &v)| *g += scale * v);
            }
            0.5 * total / n as f64
        })
    }
}

/// The projected terms of one batch: s, v and vᵀJv (its batch mean), over
/// `projections` copies of the batch.
///
/// # Shapes
/// - `batch`: `[B, D]` → (s `[K·B, D]`, v `[K·B, D]`, mean vᵀJv `[1]`)
pub(super) fn projected_terms(
    params: &SsmParams,
    model: &ScoreModel,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> (Tensor<2>, Tensor<2>, Tensor<1>) {
    let k = params.projections;
    let rows = batch.rows * k;
    let x = env.ctx.matrix(&batch.x, batch.rows, batch.dim);
    let x = if k > 1 { x.repeat_dim(0, k) } else { x };
    let v = env.ctx.matrix(
        &params.projection.draw(env.rng, rows * batch.dim),
        rows,
        batch.dim,
    );
    let (s, jv) = model.forward_jvp(x, v.clone(), None);
    let vjv = (v.clone() * jv).sum_dim(1).mean();
    (s, v, vjv)
}

/// The fused step's inputs: `projections` directions per sample (row k·B + b for sample b,
/// the order of the repeated batch in [`projected_terms`]).
pub(super) fn host_directions<T: Real>(
    params: &SsmParams,
    env: &mut LossEnv<'_>,
    step: &mut HostStep<T>,
) {
    let v = &mut step.scratch[0];
    v.resize(params.projections * step.net.x_mut().len(), 0.0);
    params.projection.fill(env.rng, v);
    to_real(v, step.net.v_mut());
}

/// Σ_j (v_j · J v_j) / (K·B) and its gradient with respect to each v_j · J v_j;
/// `score_term` adds the score part and its gradient. Returns the loss.
pub(super) fn host_projected_loss<T: Real>(
    step: &mut HostStep<T>,
    score_term: impl FnOnce(&[T], &[T], usize, &mut [T]) -> f64,
) -> f64 {
    let out = step.net.outputs();
    let n = out.vjv.len();
    let total: f64 = out.vjv.iter().map(|v| v.to_f64()).sum();
    out.grad_vjv.fill(T::from_f64(1.0 / n as f64));
    total / n as f64 + score_term(out.s, out.v, out.rows, out.grad_s)
}
