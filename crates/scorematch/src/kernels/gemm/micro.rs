//! The register-tiled micro-kernels: one band of rows of the result at a time, each element
//! one fused multiply-add chain over k in order.

use super::pack::{Panels, pack_panel};
use super::{MR, Mat};
use crate::kernels::Real;

/// One band of result rows: `c` holds rows `row0..` of the result (whole rows of `ldc`), of
/// which columns `col0..col0 + panels.rhs.cols` are computed; `scratch` holds at least the
/// band's rows × k values, for packing A.
///
/// A stored by rows is read in place (six row streams); any other A is packed column by
/// column (MR contiguous values per column: one cache line per step of k rather than a
/// strided gather), as is a last panel of fewer rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn band_product<T: Real, const NR: usize>(
    c: &mut [T],
    row0: usize,
    ldc: usize,
    col0: usize,
    a: Mat<'_, T>,
    scratch: &mut [T],
    panels: Panels<'_, T>,
    accumulate: bool,
) {
    let (k, n) = (a.cols, panels.rhs.cols);
    let rows = c.len() / ldc;
    let full = rows / MR;
    let rest = rows - full * MR;
    // A stored by rows is read in place; any other A is packed.
    let in_place = a.col_stride == 1;
    let packed_len = if in_place { 0 } else { full * MR * k };
    let (packed, edge) = scratch[..packed_len + rest * k].split_at_mut(packed_len);
    if !in_place {
        for (ip, panel) in packed.chunks_exact_mut(MR * k).enumerate() {
            pack_panel::<T, MR>(a, row0 + ip * MR, panel);
        }
    }
    let first = row0 + full * MR;
    match rest {
        1 => pack_panel::<T, 1>(a, first, edge),
        2 => pack_panel::<T, 2>(a, first, edge),
        3 => pack_panel::<T, 3>(a, first, edge),
        4 => pack_panel::<T, 4>(a, first, edge),
        5 => pack_panel::<T, 5>(a, first, edge),
        _ => {}
    }
    let (packed, edge) = (&*packed, &*edge);
    for jp in 0..n.div_ceil(NR) {
        let (b_panel, ldb) = panels.panel::<NR>(jp);
        let out = Tile {
            n: ldc,
            col0: col0 + jp * NR,
            cols: usize::min(NR, n - jp * NR),
            accumulate,
        };
        for ip in 0..full {
            let c = &mut c[ip * MR * ldc..];
            let first = row0 + ip * MR;
            let acc = if a.col_stride == 1 {
                micro_kernel_rows::<T, NR>(
                    &a.data[first * a.row_stride..],
                    a.row_stride,
                    k,
                    b_panel,
                    ldb,
                )
            } else {
                let panel = &packed[ip * MR * k..(ip + 1) * MR * k];
                if ldb == NR {
                    micro_kernel_packed::<T, NR>(panel, &b_panel[..k * NR])
                } else {
                    micro_kernel_cols::<T, MR, NR>(panel, MR, k, b_panel, ldb)
                }
            };
            out.store(c, &acc);
        }
        let c = &mut c[full * MR * ldc..];
        match rest {
            1 => out.store(c, &micro_kernel_cols::<T, 1, NR>(edge, 1, k, b_panel, ldb)),
            2 => out.store(c, &micro_kernel_cols::<T, 2, NR>(edge, 2, k, b_panel, ldb)),
            3 => out.store(c, &micro_kernel_cols::<T, 3, NR>(edge, 3, k, b_panel, ldb)),
            4 => out.store(c, &micro_kernel_cols::<T, 4, NR>(edge, 4, k, b_panel, ldb)),
            5 => out.store(c, &micro_kernel_cols::<T, 5, NR>(edge, 5, k, b_panel, ldb)),
            _ => {}
        }
    }
}

/// C = A B for a narrow C whose A is stored by rows: each C[i, j] is one dot product of row i
/// of A with column j of B (`bt`, `[n, k]`), over 32-wide blocks.
#[inline(always)]
pub(super) fn narrow_product<T: Real>(
    c: &mut [T],
    n: usize,
    a: Mat<'_, T>,
    bt: &[T],
    accumulate: bool,
) {
    let k = a.cols;
    for (i, row) in c.chunks_exact_mut(n).enumerate() {
        let a_row = &a.data[i * a.row_stride..i * a.row_stride + k];
        for (v, b_col) in row.iter_mut().zip(bt.chunks_exact(k)) {
            let x = dot(a_row, b_col);
            *v = if accumulate { *v + x } else { x };
        }
    }
}

/// Σ a[p] b[p] with 32 partial sums (four independent vector chains), folded to 8 and then
/// summed pairwise.
#[inline(always)]
pub(super) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [[T::ZERO; 8]; 4];
    let (ca, ra) = a.as_chunks::<32>();
    let (cb, rb) = b.as_chunks::<32>();
    for (x, y) in ca.iter().zip(cb) {
        for (c, acc) in acc.iter_mut().enumerate() {
            for (i, acc) in acc.iter_mut().enumerate() {
                *acc = x[8 * c + i].mul_add(y[8 * c + i], *acc);
            }
        }
    }
    let mut s = [T::ZERO; 8];
    for (i, s) in s.iter_mut().enumerate() {
        *s = (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]);
    }
    let mut total = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    for (&x, &y) in ra.iter().zip(rb) {
        total = x.mul_add(y, total);
    }
    total
}

/// Where a tile of the result goes: columns `col0..col0 + cols` of rows of `n`.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    n: usize,
    col0: usize,
    cols: usize,
    accumulate: bool,
}

impl Tile {
    /// Writes (or adds) the tile `acc` at the top of `c`.
    #[inline(always)]
    fn store<T: Real, const M: usize, const NR: usize>(self, c: &mut [T], acc: &[[T; NR]; M]) {
        for (i, acc_row) in acc.iter().enumerate() {
            let start = i * self.n + self.col0;
            if self.cols == NR {
                let out = &mut c[start..start + NR];
                if self.accumulate {
                    out.iter_mut().zip(acc_row).for_each(|(o, &v)| *o += v);
                } else {
                    out.iter_mut().zip(acc_row).for_each(|(o, &v)| *o = v);
                }
            } else {
                let out = &mut c[start..start + self.cols];
                if self.accumulate {
                    out.iter_mut().zip(acc_row).for_each(|(o, &v)| *o += v);
                } else {
                    out.iter_mut().zip(acc_row).for_each(|(o, &v)| *o = v);
                }
            }
        }
    }
}

/// The MR × NR tile of MR rows of A (row i at `a[i·lda..i·lda + k]`) times a B panel (row p
/// at `b[p·ldb..p·ldb + NR]`).
#[inline(always)]
pub(super) fn micro_kernel_rows<T: Real, const NR: usize>(
    a: &[T],
    lda: usize,
    k: usize,
    b: &[T],
    ldb: usize,
) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    let (a0, a1, a2) = (&a[..k], &a[lda..lda + k], &a[2 * lda..2 * lda + k]);
    let (a3, a4, a5) = (
        &a[3 * lda..3 * lda + k],
        &a[4 * lda..4 * lda + k],
        &a[5 * lda..5 * lda + k],
    );
    for p in 0..k {
        let b = b_row::<T, NR>(b, p * ldb);
        let col = [a0[p], a1[p], a2[p], a3[p], a4[p], a5[p]];
        for (acc_row, &ai) in acc.iter_mut().zip(&col) {
            for (acc, &bj) in acc_row.iter_mut().zip(b) {
                *acc = ai.mul_add(bj, *acc);
            }
        }
    }
    acc
}

/// The NR values of B's panel row starting at `at`.
#[inline(always)]
pub(super) fn b_row<T: Real, const NR: usize>(b: &[T], at: usize) -> &[T; NR] {
    let (row, _) = b[at..at + NR].as_chunks::<NR>();
    &row[0]
}

/// The MR × NR tile of a packed A panel (k columns of MR values) times a packed B panel
/// (k rows of NR values).
#[inline(always)]
pub(super) fn micro_kernel_packed<T: Real, const NR: usize>(a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    let (a_cols, _) = a.as_chunks::<MR>();
    let (b_rows, _) = b.as_chunks::<NR>();
    for (col, b) in a_cols.iter().zip(b_rows) {
        for (acc_row, &ai) in acc.iter_mut().zip(col) {
            for (acc, &bj) in acc_row.iter_mut().zip(b) {
                *acc = ai.mul_add(bj, *acc);
            }
        }
    }
    acc
}

/// The M × NR tile of A stored column by column (column p at `a[p·lda..p·lda + M]`) times
/// a B panel (row p at `b[p·ldb..p·ldb + NR]`).
#[inline(always)]
pub(super) fn micro_kernel_cols<T: Real, const M: usize, const NR: usize>(
    a: &[T],
    lda: usize,
    k: usize,
    b: &[T],
    ldb: usize,
) -> [[T; NR]; M] {
    let mut acc = [[T::ZERO; NR]; M];
    for p in 0..k {
        let b = b_row::<T, NR>(b, p * ldb);
        let col = &a[p * lda..p * lda + M];
        for (acc_row, &ai) in acc.iter_mut().zip(col) {
            for (acc, &bj) in acc_row.iter_mut().zip(b) {
                *acc = ai.mul_add(bj, *acc);
            }
        }
    }
    acc
}
