//! Row-wise helpers of the passes: biases, column sums, scaling and dot products.

use crate::kernels::Real;

/// Adds `bias` to every row of `m`.
#[inline(always)]
pub(super) fn add_bias<T: Real>(m: &mut [T], bias: &[T]) {
    for row in m.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
    }
}

/// `sums[j] += Σ_i m[i, j]`.
#[inline(always)]
pub(super) fn column_sums<T: Real>(m: &[T], sums: &mut [T]) {
    for row in m.chunks_exact(sums.len()) {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
}

/// g ⊙= f′ row by row.
#[inline(always)]
pub(super) fn scale_rows<T: Real>(g: &mut [T], slope: &[T]) {
    g.iter_mut().zip(slope).for_each(|(g, &s)| *g *= s);
}

/// Σ_j a[i, j] b[i, j] for each row i.
#[inline(always)]
pub(super) fn row_dots<T: Real>(a: &[T], b: &[T], width: usize, out: &mut [T]) {
    for ((a, b), o) in a.chunks_exact(width).zip(b.chunks_exact(width)).zip(out) {
        *o = dot(a, b);
    }
}

#[inline(always)]
pub(super) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    // Eight partial sums, so the loop vectorises without reassociating floats.
    let mut acc = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut total =
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (&x, &y) in ra.iter().zip(rb) {
        total += x * y;
    }
    total
}
