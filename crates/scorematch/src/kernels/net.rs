//! The network pass of a fused step, whichever network the model is: the score MLP or the
//! energy network.

use super::{EnergyKernel, MlpKernel, Outputs, Pass, Real};
use crate::model::MlpShape;

/// One network pass and its reverse mode: [`MlpKernel`] for a score network,
/// [`EnergyKernel`] for an energy network.
#[derive(Clone, Debug)]
pub enum NetKernel<T> {
    /// s = f(x), the MLP.
    Score(MlpKernel<T>),
    /// s = −∇ₓE(x).
    Energy(EnergyKernel<T>),
}

/// Calls `$body` with `$k` bound to whichever kernel `$net` holds.
macro_rules! either {
    ($net:expr, $k:ident => $body:expr) => {
        match $net {
            NetKernel::Score($k) => $body,
            NetKernel::Energy($k) => $body,
        }
    };
}

impl<T: Real> NetKernel<T> {
    /// Buffers for `pass` over `rows` samples of the network `shape` describes.
    ///
    /// # Panics
    /// As [`MlpKernel::new`] and [`EnergyKernel::new`].
    pub fn new(shape: MlpShape, pass: Pass, rows: usize) -> Self {
        if shape.energy {
            Self::Energy(EnergyKernel::new(shape, pass, rows))
        } else {
            Self::Score(MlpKernel::new(shape, pass, rows))
        }
    }

    /// The network's architecture.
    pub fn shape(&self) -> &MlpShape {
        either!(self, k => k.shape())
    }

    /// Samples per pass (B).
    pub fn rows(&self) -> usize {
        either!(self, k => k.rows())
    }

    /// The inputs x, `[B, D]`.
    pub fn x_mut(&mut self) -> &mut [T] {
        either!(self, k => k.x_mut())
    }

    /// The tangent directions v, `[K·B, D]`.
    pub fn v_mut(&mut self) -> &mut [T] {
        either!(self, k => k.v_mut())
    }

    /// The noise level of each sample, `[B]`.
    pub fn sigma_mut(&mut self) -> &mut [T] {
        either!(self, k => k.sigma_mut())
    }

    /// The outputs of the last [`Self::forward`] and the buffers for the loss gradients.
    pub fn outputs(&mut self) -> Outputs<'_, T> {
        either!(self, k => k.outputs())
    }

    /// The pass at parameters `theta`.
    pub fn forward(&mut self, theta: &[T]) {
        either!(self, k => k.forward(theta))
    }

    /// ∂L/∂θ into `grad` (overwritten), after [`Self::forward`] at the same `theta`.
    pub fn backward(&mut self, theta: &[T], grad: &mut [T]) {
        either!(self, k => k.backward(theta, grad))
    }

    /// Multiply-adds in the matrix products of one forward and backward pass.
    pub fn step_macs(&self) -> usize {
        either!(self, k => k.step_macs())
    }
}
