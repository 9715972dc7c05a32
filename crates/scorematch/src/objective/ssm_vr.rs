//! SSM-VR: sliced score matching with variance reduction (Song, Garg, Shi & Ermon 2019),
//! vᵀ(∂s/∂x)v + ½‖s‖². The term ½(vᵀs)² of SSM has expectation ½ sᵀE[vvᵀ]s = ½‖s‖² for
//! any projection law with E[vvᵀ] = I, so SSM-VR uses that expectation: the same objective
//! in expectation, with less variance. It takes the parameters of SSM.

use burn::tensor::Tensor;

use super::ssm::{SsmParams, host_projected_loss, projected_terms};
use super::{Batch, HostStep, LossEnv, half_mean_sq_norm, host_half_mean_sq};
use crate::kernels::Real;
use crate::model::ScoreModel;

/// mean vᵀJv + ½ mean ‖s‖².
pub(crate) fn loss(
    params: &SsmParams,
    model: &ScoreModel,
    batch: &Batch,
    env: &mut LossEnv<'_>,
) -> Tensor<1> {
    let (s, _, vjv) = projected_terms(params, model, batch, env);
    vjv + half_mean_sq_norm(s)
}

/// mean vᵀJv + ½ mean ‖s‖² of a fused step, and its gradients.
pub(crate) fn host_loss<T: Real>(step: &mut HostStep<T>) -> f64 {
    host_projected_loss(step, |s, _, rows, grad_s| {
        host_half_mean_sq(s, rows, grad_s)
    })
}
