//! Host kernels of the fused CPU training path: the score MLP's and the energy network's
//! forward, tangent and trace passes with hand-derived reverse modes into a flat parameter
//! vector, and Adam over that vector.
//!
//! They compute on plain slices (f32 for training, f64 for tests), with matrix products
//! through the `gemm` crate and element-wise loops that the compiler vectorises (for AVX2
//! where the CPU has it). The tensor implementations in [`crate::model`] and
//! [`crate::objective`] stay the reference they are tested against.

pub(crate) mod activation;
mod adam;
mod energy;
pub(crate) mod gemm;
mod mlp;
mod net;
pub mod rates;
mod real;
pub(crate) mod rows;
mod simd;

pub use adam::{Adam, AdamSettings, AdamState, clip_segments};
pub use energy::EnergyKernel;
pub use mlp::{MlpKernel, MlpShape, Outputs, Pass};
pub use net::NetKernel;
pub use real::{Real, exp_f32};
pub(crate) use simd::vectorized;

#[cfg(test)]
mod tests;
