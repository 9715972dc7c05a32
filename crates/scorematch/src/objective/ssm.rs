//! SSM: sliced score matching (Song, Garg, Shi & Ermon 2019), vᵀ(∂s/∂x)v + ½(vᵀs)², with
//! random projections v (`projections` of them per sample, Gaussian or Rademacher).

use burn::tensor::Tensor;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::{Batch, LossEnv};
use crate::error::ParamError;
use crate::model::ScoreModel;
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

impl SsmParams {
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        if self.projections == 0 {
            vec![ParamError::new("projections", "must be at least 1")]
        } else {
            Vec::new()
        }
    }
}

/// The projected terms of one batch: s, v and vᵀJv (its batch mean), over
/// `projections` copies of the batch.
///
/// # Shapes
/// - `batch`: `[B, D]` → (s `[K·B, D]`, v `[K·B, D]`, mean vᵀJv `[1]`)
pub(crate) fn projected_terms(
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

/// mean vᵀJv + ½ mean (vᵀs)².
pub(crate) fn loss(
    params: &SsmParams,
    model: &ScoreModel,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> Tensor<1> {
    let (s, v, vjv) = projected_terms(params, model, batch, env);
    vjv + (v * s).sum_dim(1).powi_scalar(2).mean() * 0.5
}
