//! The `gemm` crate's product, for CPUs without AVX2 + FMA: the one unsafe call of the
//! kernels, behind a bounds check.

use super::Mat;
use crate::kernels::Real;

/// The `gemm` crate's product, for CPUs without AVX2 + FMA: on one thread, as the crate is
/// built the way burn's flex backend builds it (without its `rayon` and `std` features, so
/// that adding it does not rebuild burn).
#[allow(unsafe_code)] // the one call into the gemm crate; see SAFETY below
pub(super) fn gemm_crate<T: Real>(
    c: &mut [T],
    m: usize,
    n: usize,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) {
    let k = lhs.cols;
    // Both views were bounds-checked against their slices when made (a transpose swaps
    // rows with columns and strides alike, so its extent is the same); check again that the
    // last element of each is inside its slice.
    for v in [&lhs, &rhs] {
        assert!((v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride < v.data.len());
    }
    assert!(c.len() >= m * n);
    let stride = |s: usize| s as isize;
    // SAFETY: every element (i, j) that gemm reads or writes lies at
    // i·row_stride + j·col_stride ≤ (rows − 1)·row_stride + (cols − 1)·col_stride, which was
    // checked to be inside the view's slice above (for c, row-major with m·n ≤ len). `c` is
    // borrowed mutably, so it cannot alias `lhs` or `rhs`. gemm dispatches on the type
    // (`Real` is only implemented for f32 and f64, both of which it supports).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            stride(n),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
