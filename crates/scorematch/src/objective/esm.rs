//! ESM: explicit score matching, ½‖s(x) − ∇log p(x)‖² with the analytic data score. With
//! `sigma` set it is trained on the noised data p_σ instead (samples x + σε, target ∇log p_σ),
//! the reference DSM should match (Vincent 2011).

use serde::{Deserialize, Serialize};

use super::{Batch, LossEnv, check_sigma, half_mean_sq_norm, perturb};
use crate::error::ParamError;
use crate::model::ScoreModel;
use burn::tensor::Tensor;

/// Parameters of `esm`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsmParams {
    /// Train against p_σ instead of p (needs a data set with a closed-form p_σ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
}

impl EsmParams {
    /// Every problem with the parameters.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut errors = Vec::new();
        if let Some(sigma) = self.sigma {
            check_sigma("sigma", sigma, &mut errors);
        }
        errors
    }

    /// ½ mean ‖s(x) − target‖².
    pub fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let (x, target) = match (self.sigma, env.noised) {
            (Some(sigma), Some(noised)) => {
                let (noisy, _) = perturb(&batch.x, sigma, env.rng);
                let target = noised.scores(&noisy);
                (noisy, target)
            }
            _ => (batch.x.clone(), batch.score.clone()),
        };
        let x = env.ctx.matrix(&x, batch.rows, batch.dim);
        let target = env.ctx.matrix(&target, batch.rows, batch.dim);
        half_mean_sq_norm(model.forward(x, None) - target)
    }
}
