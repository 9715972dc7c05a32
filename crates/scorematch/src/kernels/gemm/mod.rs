//! Matrix products for the kernels: packed, register-tiled and auto-vectorised where the CPU
//! has AVX2 and FMA, else through the `gemm` crate (the one burn's flex backend uses), behind
//! a safe, bounds-checked interface.

use super::Real;
use fallback::gemm_crate;
use micro::{band_product, narrow_product};
use pack::{Panels, grow, pack_b};

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

    /// Columns `first..first + count` (no copy).
    #[inline]
    fn columns(self, first: usize, count: usize) -> Self {
        assert!(first + count <= self.cols, "column block past the matrix");
        Self {
            data: &self.data[first * self.col_stride..],
            cols: count,
            ..self
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

/// Rows of the micro-kernel's register tile.
const MR: usize = 6;

/// Results with fewer columns than this (and at least as many rows) are narrow: they go to
/// kernels that do not pad the columns to a panel.
const NARROW: usize = 8;

/// Matrix products with packing buffers that are reused from one product to the next.
///
/// Where the CPU has AVX2 and FMA, a product packs its operands into panels and runs a
/// register-tiled micro-kernel (an MR × 16 f32 or MR × 8 f64 accumulator tile, two vectors
/// per row) written in plain Rust that the compiler vectorises; rows of the result are split
/// into bands over the threads of the current rayon pool. Each element of the result is one
/// fused multiply-add chain over k in order, so results do not depend on the thread count.
/// Elsewhere the products go to the `gemm` crate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gemm<T> {
    packed_a: Vec<T>,
    packed_b: Vec<T>,
    transposed: Vec<T>,
}

impl<T: Real> Gemm<T> {
    /// Empty buffers (they grow to the largest product).
    pub(crate) fn new() -> Self {
        Self {
            packed_a: Vec::new(),
            packed_b: Vec::new(),
            transposed: Vec::new(),
        }
    }

    /// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`, on up to `threads` threads
    /// of the current rayon pool.
    ///
    /// # Shapes
    /// - `lhs`: `[m, k]`, `rhs`: `[k, n]`, `dst`: `[m, n]`
    ///
    /// # Panics
    /// If the shapes do not agree.
    pub(crate) fn matmul(
        &mut self,
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
        let c = &mut dst.data[..m * n];
        if k == 0 {
            if !accumulate {
                c.fill(T::ZERO);
            }
            return;
        }
        if !super::simd::has_avx2_fma() {
            gemm_crate(c, m, n, lhs, rhs, accumulate);
        } else {
            self.product(c, m, n, lhs, rhs, accumulate, threads);
        }
    }

    /// Picks the kernel for the shape (AVX2 + FMA present).
    #[allow(clippy::too_many_arguments)]
    fn product(
        &mut self,
        c: &mut [T],
        m: usize,
        n: usize,
        lhs: Mat<'_, T>,
        rhs: Mat<'_, T>,
        accumulate: bool,
        threads: usize,
    ) {
        let k = lhs.cols;
        let narrow = n < NARROW && m >= NARROW;
        // f32 columns that end in a short panel (D = 50: 3 × 16 + 2) while the rows fill
        // whole panels (h = 128): the transposed product has no short panel.
        let short_tail = std::mem::size_of::<T>() == 4
            && n > 16
            && (1..=8).contains(&(n % 16))
            && m.is_multiple_of(16);
        if (narrow || short_tail) && lhs.row_stride == 1 {
            // A narrow result (or one with a short last panel) with a transposed left operand:
            // compute Cᵀ = Bᵀ Aᵀ, whose right operand is then stored by rows, and transpose it.
            let mut t = std::mem::take(&mut self.transposed);
            grow(&mut t, m * n);
            self.product(&mut t[..m * n], n, m, rhs.t(), lhs.t(), false, threads);
            for (i, row) in c.chunks_exact_mut(n).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    let x = t[j * m + i];
                    *v = if accumulate { *v + x } else { x };
                }
            }
            self.transposed = t;
        } else if narrow && lhs.col_stride == 1 {
            // A narrow result with rows of A in memory: dot products with the columns of B.
            grow(&mut self.packed_b, n * k);
            let bt = &mut self.packed_b[..n * k];
            for (j, col) in bt.chunks_exact_mut(k).enumerate() {
                for (p, v) in col.iter_mut().enumerate() {
                    *v = rhs.data[p * rhs.row_stride + j * rhs.col_stride];
                }
            }
            let bt = &*bt;
            super::vectorized(
                #[inline(always)]
                || narrow_product(c, n, lhs, bt, accumulate),
            );
        } else if std::mem::size_of::<T>() == 4 {
            // A last panel of at most 8 of 16 columns goes to the 8-wide kernel rather than
            // padding it to 16 (D = 50: 3 × 16 + 2), where A is read in place (not packed
            // twice).
            let tail = n % 16;
            if n > 16 && tail <= 8 && tail > 0 && lhs.col_stride == 1 {
                let split = n - tail;
                let (wide, narrow) = (rhs.columns(0, split), rhs.columns(split, tail));
                self.packed::<16>(c, m, n, 0, lhs, wide, accumulate, threads);
                self.packed::<8>(c, m, n, split, lhs, narrow, accumulate, threads);
            } else {
                self.packed::<16>(c, m, n, 0, lhs, rhs, accumulate, threads);
            }
        } else {
            self.packed::<8>(c, m, n, 0, lhs, rhs, accumulate, threads);
        }
    }

    /// The register-tiled product with NR-column panels of B packed, into columns
    /// `col0..col0 + rhs.cols` of C (rows of `ldc`).
    #[allow(clippy::too_many_arguments)]
    fn packed<const NR: usize>(
        &mut self,
        c: &mut [T],
        m: usize,
        ldc: usize,
        col0: usize,
        lhs: Mat<'_, T>,
        rhs: Mat<'_, T>,
        accumulate: bool,
        threads: usize,
    ) {
        let (k, n) = (lhs.cols, rhs.cols);
        let panels = m.div_ceil(MR);
        let bands = if threads > 1 && m * n * k >= PARALLEL_MIN_MACS {
            threads.min(panels)
        } else {
            1
        };
        let band_panels = panels.div_ceil(bands);
        grow(&mut self.packed_a, bands * band_panels * MR * k);
        grow(&mut self.packed_b, n.div_ceil(NR) * NR * k);
        let packed_b = &mut self.packed_b[..n.div_ceil(NR) * NR * k];
        super::vectorized(
            #[inline(always)]
            || pack_b::<T, NR>(rhs, m, packed_b),
        );
        let panels_b = Panels {
            rhs,
            packed: &*packed_b,
            m,
        };
        let band = |(i, (c, scratch)): (usize, (&mut [T], &mut [T]))| {
            let row0 = i * band_panels * MR;
            super::vectorized(
                #[inline(always)]
                || band_product::<T, NR>(c, row0, ldc, col0, lhs, scratch, panels_b, accumulate),
            );
        };
        if bands == 1 {
            band((0, (c, &mut self.packed_a[..band_panels * MR * k])));
        } else {
            use rayon::prelude::*;
            c.par_chunks_mut(band_panels * MR * ldc)
                .zip(self.packed_a.par_chunks_mut(band_panels * MR * k))
                .enumerate()
                .for_each(band);
        }
    }
}

mod fallback;
mod micro;
mod pack;

#[cfg(test)]
mod tests;
