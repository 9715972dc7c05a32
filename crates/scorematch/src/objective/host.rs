//! The host side of a fused training step: the network's buffers and what the loss keeps of
//! the batch between the forward pass and the loss, with the helpers the objectives' fused
//! forms share.

use rand_distr::{Distribution, StandardNormal};

use crate::kernels::{NetKernel, Real};
use crate::rng::Rng;

/// The host side of a fused training step: the network's buffers, and what the loss keeps of
/// the batch between the forward pass and the loss.
#[derive(Clone, Debug)]
pub struct HostStep<T> {
    /// The network pass (inputs, outputs and their gradients).
    pub net: NetKernel<T>,
    /// The gathered batch `[B, D]` where the network's rows are not the batch's (the loss
    /// evaluates s at several points per sample); empty otherwise, the batch then being
    /// gathered straight into the network's inputs.
    pub(super) batch: Vec<T>,
    /// Targets (ESM) or noise ε (DSM), `[B, D]`.
    pub(super) aux: Vec<T>,
    /// Host scratch in f64, `[B, D]` each: noise draws and noisy points / targets.
    pub(super) scratch: [Vec<f64>; 2],
    /// Per-sample noise levels in f64, `[B]`.
    pub(super) row_sigma: Vec<f64>,
}

impl<T: Real> HostStep<T> {
    /// The buffers a batch is gathered into: the network's inputs x `[B, D]` and the data
    /// scores at x `[B, D]` (kept for the loss).
    pub fn batch_buffers(&mut self) -> (&mut [T], &mut [T]) {
        if self.batch.is_empty() {
            (self.net.x_mut(), &mut self.aux)
        } else {
            (&mut self.batch, &mut self.aux)
        }
    }

    /// Buffers for batches of `rows` samples through `net`.
    pub fn new(net: NetKernel<T>, rows: usize) -> Self {
        let n = rows * net.shape().dim;
        Self {
            batch: if net.rows() == rows {
                Vec::new()
            } else {
                vec![T::ZERO; n]
            },
            aux: vec![T::ZERO; n],
            scratch: [vec![0.0; n], vec![0.0; n]],
            row_sigma: vec![0.0; rows],
            net,
        }
    }
}

/// Fills `out` with standard normal draws: the same numbers as [`crate::rng::normals`].
pub(crate) fn fill_normals(rng: &mut Rng, out: &mut [f64]) {
    // A local copy keeps the generator's state in registers through the loop.
    let mut local = rng.clone();
    for (v, x) in out.iter_mut().zip(StandardNormal.sample_iter(&mut local)) {
        *v = x;
    }
    *rng = local;
}

/// Converts host f64 values into the kernels' precision.
pub(crate) fn to_real<T: Real>(src: &[f64], dst: &mut [T]) {
    dst.iter_mut()
        .zip(src)
        .for_each(|(d, &s)| *d = T::from_f64(s));
}

/// x ← x + σ_r ε row by row (rows of `dim`, σ_r = `sigma(r)`), computed in f64; the noisy
/// points are also left in `noisy`.
pub(crate) fn add_noise<T: Real>(
    x: &mut [T],
    eps: &[f64],
    dim: usize,
    sigma: impl Fn(usize) -> f64,
    noisy: &mut [f64],
) {
    for (r, ((x, e), n)) in x
        .chunks_exact_mut(dim)
        .zip(eps.chunks_exact(dim))
        .zip(noisy.chunks_exact_mut(dim))
        .enumerate()
    {
        let s = sigma(r);
        for ((x, &e), n) in x.iter_mut().zip(e).zip(n) {
            *n = x.to_f64() + s * e;
            *x = T::from_f64(*n);
        }
    }
}

/// ½ mean ‖r‖² over the rows of `r` (f64 sum), with ∂/∂r = r / rows written to `grad`.
pub(crate) fn host_half_mean_sq<T: Real>(r: &[T], rows: usize, grad: &mut [T]) -> f64 {
    let inv = T::from_f64(1.0 / rows as f64);
    let mut total = 0.0;
    for (g, &v) in grad.iter_mut().zip(r) {
        total += v.to_f64() * v.to_f64();
        *g = v * inv;
    }
    0.5 * total / rows as f64
}
