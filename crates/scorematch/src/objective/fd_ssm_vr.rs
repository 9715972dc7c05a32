//! FD-SSM-VR: the variance-reduced form of FD-SSM (Pang et al. 2020), with SSM-VR's ½‖s‖² in
//! place of the squared projection: (D/ε²) ½ vᵀ(s₊ − s₋) + ½ ‖(s₊ + s₋)/2‖². It takes the
//! parameters of `fd-ssm`. On an energy network it differences the score s = −∇E (its ½‖s‖²
//! needs ∇E in any case), unlike `fd-ssm`, which differences E.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::fd_ssm::{
    FD_CAPS, FdSsmParams, derivative_term, differences, host_fd_loss, host_points,
};
use super::{Batch, HostStep, LossEnv, Objective, ObjectiveCaps};
use crate::error::ParamError;
use crate::kernels::{Pass, Real};
use crate::model::{ScoreModel, TracePath};

/// Parameters of `fd-ssm-vr`: those of `fd-ssm` (`epsilon`, `projections`, `projection`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FdSsmVrParams(pub FdSsmParams);

impl Objective for FdSsmVrParams {
    const CAPS: ObjectiveCaps = FD_CAPS;

    fn validate(&self) -> Vec<ParamError> {
        self.0.check()
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

    /// (D/ε²) mean ½ vᵀ(s₊ − s₋) + ⅛ mean ‖s₊ + s₋‖².
    fn loss(&self, model: &ScoreModel, batch: &Batch, env: &mut LossEnv<'_>) -> Tensor<1> {
        let diff = differences(&self.0, model, batch, env);
        let norm = (diff.plus.clone() + diff.minus.clone())
            .powi_scalar(2)
            .sum_dim(1)
            .mean()
            / 8.0;
        derivative_term(&self.0, &diff, batch.dim) + norm
    }

    fn host_pass(&self, _trace: TracePath) -> Pass {
        Pass::Forward
    }

    fn host_rows(&self, batch: usize) -> usize {
        2 * self.0.projections * batch
    }

    fn host_inputs<T: Real>(&self, env: &mut LossEnv<'_>, step: &mut HostStep<T>) {
        host_points(&self.0, env, step);
    }

    fn host_loss<T: Real>(&self, step: &mut HostStep<T>) -> f64 {
        let eighth = T::from_f64(0.125);
        let quarter = eighth + eighth;
        host_fd_loss(&self.0, step, |sp, sm, _, inv, g| {
            let mut total = T::ZERO;
            for ((g, &p), &m) in g.iter_mut().zip(sp).zip(sm) {
                let sum = p + m;
                total += sum * sum;
                *g = quarter * sum * inv;
            }
            (eighth * total).to_f64()
        })
    }
}
