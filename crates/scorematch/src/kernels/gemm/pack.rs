//! Packing the operands of a product into the panel layout the micro-kernels read.

use super::{MR, Mat};
use crate::kernels::Real;

/// Grows `buf` to at least `len` elements.
pub(super) fn grow<T: Real>(buf: &mut Vec<T>, len: usize) {
    if buf.len() < len {
        buf.resize(len, T::ZERO);
    }
}

/// Products with fewer result rows than this read full panels of a B stored by rows in
/// place: packing would not pay for itself over so few tiles.
pub(super) const DIRECT_MAX_ROWS: usize = 4 * MR;

/// Whether a panel of `cols` columns of `b` is read in place (rows of B in memory, a full
/// panel, a short product) rather than packed.
#[inline(always)]
pub(super) fn direct_panel<T: Real>(b: Mat<'_, T>, cols: usize, nr: usize, m: usize) -> bool {
    b.col_stride == 1 && cols == nr && m < DIRECT_MAX_ROWS
}

/// The NR-column panels of B: read in place or packed (see [`direct_panel`]).
#[derive(Clone, Copy)]
pub(super) struct Panels<'a, T> {
    pub(super) rhs: Mat<'a, T>,
    pub(super) packed: &'a [T],
    /// Rows of the product.
    pub(super) m: usize,
}

impl<'a, T: Real> Panels<'a, T> {
    /// Panel `jp`, whose row p (NR values) starts at `p · stride`: (values, stride).
    #[inline(always)]
    pub(super) fn panel<const NR: usize>(self, jp: usize) -> (&'a [T], usize) {
        let (k, n) = (self.rhs.rows, self.rhs.cols);
        let col0 = jp * NR;
        if direct_panel(self.rhs, NR.min(n - col0), NR, self.m) {
            let start = col0;
            let end = (k - 1) * self.rhs.row_stride + col0 + NR;
            (&self.rhs.data[start..end], self.rhs.row_stride)
        } else {
            (&self.packed[jp * k * NR..(jp + 1) * k * NR], NR)
        }
    }
}

/// Packs the panels of `b` `[k, n]` that are not read in place, each k rows of NR values
/// (zero-padded).
#[inline(always)]
pub(super) fn pack_b<T: Real, const NR: usize>(b: Mat<'_, T>, m: usize, out: &mut [T]) {
    let (k, n) = (b.rows, b.cols);
    for (jp, panel) in out.chunks_exact_mut(k * NR).enumerate() {
        let col0 = jp * NR;
        let cols = NR.min(n - col0);
        let (rows, _) = panel.as_chunks_mut::<NR>();
        if direct_panel(b, cols, NR, m) {
            // Read in place by the micro-kernels.
        } else if b.col_stride == 1 && cols == NR {
            for (p, row) in rows.iter_mut().enumerate() {
                let start = p * b.row_stride + col0;
                row.copy_from_slice(&b.data[start..start + NR]);
            }
        } else if b.row_stride == 1 && cols == NR {
            // A transposed operand: column j of the panel is contiguous in memory.
            let cols: [&[T]; NR] =
                std::array::from_fn(|j| &b.data[(col0 + j) * b.col_stride..][..k]);
            for (p, row) in rows.iter_mut().enumerate() {
                for (r, col) in row.iter_mut().zip(&cols) {
                    *r = col[p];
                }
            }
        } else {
            for (p, row) in rows.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if j < cols {
                        b.data[p * b.row_stride + (col0 + j) * b.col_stride]
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// Packs rows `first..first + M` of `a` column by column into `out` (k columns of M
/// values; fixed-size copies, no call per column).
#[inline(always)]
pub(super) fn pack_panel<T: Real, const M: usize>(a: Mat<'_, T>, first: usize, out: &mut [T]) {
    let (cols, _) = out.as_chunks_mut::<M>();
    if a.row_stride == 1 {
        for (p, col) in cols.iter_mut().enumerate() {
            let start = p * a.col_stride + first;
            let (src, _) = a.data[start..start + M].as_chunks::<M>();
            *col = src[0];
        }
    } else {
        for (p, col) in cols.iter_mut().enumerate() {
            for (i, v) in col.iter_mut().enumerate() {
                *v = a.data[(first + i) * a.row_stride + p * a.col_stride];
            }
        }
    }
}
