//! Row-wise helpers of the passes: activations with their derivatives, tangents, biases,
//! column sums, scaling and dot products.

use super::Real;
use super::activation::Act;

/// Adds `bias` to every row of `m`.
#[inline(always)]
pub(crate) fn add_bias<T: Real>(m: &mut [T], bias: &[T]) {
    for row in m.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
    }
}

/// `sums[j] += Σ_i m[i, j]`.
#[inline(always)]
pub(crate) fn column_sums<T: Real>(m: &[T], sums: &mut [T]) {
    for row in m.chunks_exact(sums.len()) {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
}

/// g ⊙= f′ row by row.
#[inline(always)]
pub(crate) fn scale_rows<T: Real>(g: &mut [T], slope: &[T]) {
    g.iter_mut().zip(slope).for_each(|(g, &s)| *g *= s);
}

/// Σ_j a[i, j] b[i, j] for each row i.
#[inline(always)]
pub(crate) fn row_dots<T: Real>(a: &[T], b: &[T], width: usize, out: &mut [T]) {
    for ((a, b), o) in a.chunks_exact(width).zip(b.chunks_exact(width)).zip(out) {
        *o = dot(a, b);
    }
}

#[inline(always)]
pub(crate) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
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

/// Elements per step of the activation loops: four AVX2 vectors of f32, whose independent
/// dependency chains the CPU interleaves.
const LANES: usize = 32;

/// h = f(raw + bias), f′ for the primal rows.
#[inline(always)]
pub(crate) fn primal_rows<A: Act, T: Real>(raw: &[T], bias: &[T], act: &mut [T], slope: &mut [T]) {
    let h = bias.len();
    for ((r, a), s) in raw
        .chunks_exact(h)
        .zip(act.chunks_exact_mut(h))
        .zip(slope.chunks_exact_mut(h))
    {
        let (r, r_tail) = r.as_chunks::<LANES>();
        let (b, b_tail) = bias.as_chunks::<LANES>();
        let (a, a_tail) = a.as_chunks_mut::<LANES>();
        let (s, s_tail) = s.as_chunks_mut::<LANES>();
        for (((r, b), a), s) in r.iter().zip(b).zip(a.iter_mut()).zip(s.iter_mut()) {
            for i in 0..LANES {
                (a[i], s[i]) = A::value_slope(r[i] + b[i]);
            }
        }
        for (((&r, &b), a), s) in r_tail
            .iter()
            .zip(b_tail)
            .zip(a_tail.iter_mut())
            .zip(s_tail.iter_mut())
        {
            (*a, *s) = A::value_slope(r + b);
        }
    }
}

/// h = f(raw + bias), f′ and f″ for the primal rows.
#[inline(always)]
pub(crate) fn primal_rows_curved<A: Act, T: Real>(
    raw: &[T],
    bias: &[T],
    act: &mut [T],
    slope: &mut [T],
    curvature: &mut [T],
) {
    let h = bias.len();
    for (((r, a), s), c) in raw
        .chunks_exact(h)
        .zip(act.chunks_exact_mut(h))
        .zip(slope.chunks_exact_mut(h))
        .zip(curvature.chunks_exact_mut(h))
    {
        let (r, r_tail) = r.as_chunks::<LANES>();
        let (b, b_tail) = bias.as_chunks::<LANES>();
        let (a, a_tail) = a.as_chunks_mut::<LANES>();
        let (s, s_tail) = s.as_chunks_mut::<LANES>();
        let (c, c_tail) = c.as_chunks_mut::<LANES>();
        for ((((r, b), a), s), c) in r
            .iter()
            .zip(b)
            .zip(a.iter_mut())
            .zip(s.iter_mut())
            .zip(c.iter_mut())
        {
            for i in 0..LANES {
                (a[i], s[i], c[i]) = A::value_slope_curvature(r[i] + b[i]);
            }
        }
        for ((((&r, &b), a), s), c) in r_tail
            .iter()
            .zip(b_tail)
            .zip(a_tail.iter_mut())
            .zip(s_tail.iter_mut())
            .zip(c_tail.iter_mut())
        {
            (*a, *s, *c) = A::value_slope_curvature(r + b);
        }
    }
}

/// h = f(raw + bias), f′, f″ and f‴ for the primal rows.
#[inline(always)]
pub(crate) fn primal_rows_third<A: Act, T: Real>(
    raw: &[T],
    bias: &[T],
    act: &mut [T],
    [slope, curvature, third]: [&mut [T]; 3],
) {
    let h = bias.len();
    for ((((r, a), s), c), t) in raw
        .chunks_exact(h)
        .zip(act.chunks_exact_mut(h))
        .zip(slope.chunks_exact_mut(h))
        .zip(curvature.chunks_exact_mut(h))
        .zip(third.chunks_exact_mut(h))
    {
        for (((((&r, &b), a), s), c), t) in r
            .iter()
            .zip(bias)
            .zip(a.iter_mut())
            .zip(s.iter_mut())
            .zip(c.iter_mut())
            .zip(t.iter_mut())
        {
            (*a, *s, *c, *t) = A::value_and_three_derivatives(r + b);
        }
    }
}

/// t = f′ ⊙ u for every tangent row (row k·B + b uses sample b's f′).
#[inline(always)]
pub(crate) fn tangent_rows<T: Real>(u: &[T], slope: &[T], t: &mut [T]) {
    for (u, t) in u
        .chunks_exact(slope.len())
        .zip(t.chunks_exact_mut(slope.len()))
    {
        for ((&u, &s), t) in u.iter().zip(slope).zip(t.iter_mut()) {
            *t = s * u;
        }
    }
}
