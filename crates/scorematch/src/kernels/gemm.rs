//! Matrix products through the `gemm` crate (the one burn's flex backend uses), behind a safe,
//! bounds-checked interface.
#![allow(unsafe_code)]

use super::Real;

/// Products with fewer multiply-adds than this run on one thread whatever the pool size.
const PARALLEL_MIN_MACS: usize = 64 * 64 * 64;

/// A strided, read-only view of a `rows × cols` matrix in a slice: element (i, j) is
/// `data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Real> Mat<'a, T> {
    /// A row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows · cols`.
    #[inline]
    pub(crate) fn rows(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix view past the end of its slice"
        );
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    #[inline]
    pub(crate) fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// A row-major, writable `rows × cols` matrix at the start of a slice.
#[derive(Debug)]
pub(crate) struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
}

impl<'a, T: Real> MatMut<'a, T> {
    /// A row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows · cols`.
    #[inline]
    pub(crate) fn rows(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix view past the end of its slice"
        );
        Self { data, rows, cols }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`.
///
/// Uses up to `threads` threads of the current rayon pool for large enough products.
///
/// # Shapes
/// - `lhs`: `[m, k]`, `rhs`: `[k, n]`, `dst`: `[m, n]`
///
/// # Panics
/// If the shapes do not agree.
pub(crate) fn matmul<T: Real>(
    dst: MatMut<'_, T>,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(
        lhs.rows == m && rhs.rows == k && rhs.cols == n,
        "matmul shapes: [{}, {}] · [{}, {}] → [{m}, {n}]",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.data[..m * n].fill(T::ZERO);
        }
        return;
    }
    // Both views were bounds-checked against their slices when made (a transpose swaps
    // rows with columns and strides alike, so its extent is the same); check again that the
    // last element of each is inside its slice.
    for v in [&lhs, &rhs] {
        assert!((v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride < v.data.len());
    }
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let stride = |s: usize| s as isize;
    // SAFETY: every element (i, j) that gemm reads or writes lies at
    // i·row_stride + j·col_stride ≤ (rows − 1)·row_stride + (cols − 1)·col_stride, which was
    // checked to be inside the view's slice above (for dst, row-major with m·n ≤ len). `dst`
    // is borrowed mutably, so it cannot alias `lhs` or `rhs`. gemm dispatches on the type
    // (`Real` is only implemented for f32 and f64, both of which it supports).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
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
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_and_transposes_match_the_naive_product() {
        let (m, k, n) = (5, 3, 4);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![0.0; m * n];
        matmul(
            MatMut::rows(&mut c, m, n),
            Mat::rows(&a, m, k),
            Mat::rows(&b, k, n),
            false,
            1,
        );
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-14);
        }
        // (aᵀ)ᵀ · b, accumulated onto c: 2 × the product.
        let mut at = vec![0.0; m * k];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        matmul(
            MatMut::rows(&mut c, m, n),
            Mat::rows(&at, k, m).t(),
            Mat::rows(&b, k, n),
            true,
            2,
        );
        for (x, y) in c.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-14);
        }
        // k = 0 gives zeros.
        matmul(
            MatMut::rows(&mut c, m, n),
            Mat::rows(&a, m, 0),
            Mat::rows(&b, 0, n),
            false,
            1,
        );
        assert!(c.iter().all(|&x| x == 0.0));
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn mismatched_shapes_panic() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 4];
        matmul(
            MatMut::rows(&mut c, 2, 2),
            Mat::rows(&a, 2, 3),
            Mat::rows(&a, 2, 3),
            false,
            1,
        );
    }
}
