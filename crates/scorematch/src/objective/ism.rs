//! ISM: implicit score matching (Hyvärinen 2005), ½‖s(x)‖² + tr(∂s/∂x) with the exact trace.
//! It equals ESM up to a constant that does not depend on θ.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{Batch, LossEnv, half_mean_sq_norm};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `ism`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsmParams {
    /// How the trace is computed (default auto: the fast path where the model allows it).
    #[serde(default)]
    pub trace: TracePath,
}

impl IsmParams {
    /// ½ mean ‖s(x)‖² + mean tr(∂s/∂x).
    pub fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let x = env.ctx.matrix(&batch.x, batch.rows, batch.dim);
        let (s, trace) = model.forward_trace(x, None, self.trace);
        half_mean_sq_norm(s) + trace.mean()
    }
}
