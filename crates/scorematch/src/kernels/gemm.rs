//! Matrix products for the kernels: packed, register-tiled and auto-vectorised where the CPU
//! has AVX2 and FMA, else through the `gemm` crate (the one burn's flex backend uses), behind
//! a safe, bounds-checked interface.
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

/// Grows `buf` to at least `len` elements.
fn grow<T: Real>(buf: &mut Vec<T>, len: usize) {
    if buf.len() < len {
        buf.resize(len, T::ZERO);
    }
}

/// Products with fewer result rows than this read full panels of a B stored by rows in
/// place: packing would not pay for itself over so few tiles.
const DIRECT_MAX_ROWS: usize = 4 * MR;

/// Whether a panel of `cols` columns of `b` is read in place (rows of B in memory, a full
/// panel, a short product) rather than packed.
#[inline(always)]
fn direct_panel<T: Real>(b: Mat<'_, T>, cols: usize, nr: usize, m: usize) -> bool {
    b.col_stride == 1 && cols == nr && m < DIRECT_MAX_ROWS
}

/// The NR-column panels of B: read in place or packed (see [`direct_panel`]).
#[derive(Clone, Copy)]
struct Panels<'a, T> {
    rhs: Mat<'a, T>,
    packed: &'a [T],
    /// Rows of the product.
    m: usize,
}

impl<'a, T: Real> Panels<'a, T> {
    /// Panel `jp`, whose row p (NR values) starts at `p · stride`: (values, stride).
    #[inline(always)]
    fn panel<const NR: usize>(self, jp: usize) -> (&'a [T], usize) {
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
fn pack_b<T: Real, const NR: usize>(b: Mat<'_, T>, m: usize, out: &mut [T]) {
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

/// One band of result rows: `c` holds rows `row0..` of the result (whole rows of `ldc`), of
/// which columns `col0..col0 + panels.rhs.cols` are computed; `scratch` holds at least the
/// band's rows × k values, for packing A.
///
/// A stored by rows is read in place (six row streams); any other A is packed column by
/// column (MR contiguous values per column: one cache line per step of k rather than a
/// strided gather), as is a last panel of fewer rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn band_product<T: Real, const NR: usize>(
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
            cols: NR.min(n - jp * NR),
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

/// Packs rows `first..first + M` of `a` column by column into `out` (k columns of M
/// values; fixed-size copies, no call per column).
#[inline(always)]
fn pack_panel<T: Real, const M: usize>(a: Mat<'_, T>, first: usize, out: &mut [T]) {
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

/// C = A B for a narrow C whose A is stored by rows: each C[i, j] is one dot product of row i
/// of A with column j of B (`bt`, `[n, k]`), over 32-wide blocks.
#[inline(always)]
fn narrow_product<T: Real>(c: &mut [T], n: usize, a: Mat<'_, T>, bt: &[T], accumulate: bool) {
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
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
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
struct Tile {
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
fn micro_kernel_rows<T: Real, const NR: usize>(
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
fn b_row<T: Real, const NR: usize>(b: &[T], at: usize) -> &[T; NR] {
    let (row, _) = b[at..at + NR].as_chunks::<NR>();
    &row[0]
}

/// The MR × NR tile of a packed A panel (k columns of MR values) times a packed B panel
/// (k rows of NR values).
#[inline(always)]
fn micro_kernel_packed<T: Real, const NR: usize>(a: &[T], b: &[T]) -> [[T; NR]; MR] {
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
fn micro_kernel_cols<T: Real, const M: usize, const NR: usize>(
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

/// The `gemm` crate's product, for CPUs without AVX2 + FMA: on one thread, as the crate is
/// built the way burn's flex backend builds it (without its `rayon` and `std` features, so
/// that adding it does not rebuild burn).
fn gemm_crate<T: Real>(
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

    fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut t = vec![0.0; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    /// Every shape class (edge panels, tiny k, one row or column), operands plain or
    /// transposed, overwritten or accumulated, on one and two threads, in f64 and f32.
    #[test]
    fn products_match_the_naive_product_for_every_shape_and_layout() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut gemm64 = Gemm::<f64>::new();
        let mut gemm32 = Gemm::<f32>::new();
        for (m, k, n) in [
            (1, 1, 1),
            (5, 3, 4),
            (6, 2, 16),
            (7, 17, 17),
            (13, 130, 2),
            (64, 64, 33),
            (70, 70, 70),
            // f32 column tails of at most 8 (8-wide kernel), row edges of 2.
            (50, 40, 50),
            (128, 31, 24),
            (64, 300, 50),
        ] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            let want = naive(&a, &b, m, k, n);
            for (lhs_t, rhs_t, accumulate, threads) in [
                (false, false, false, 1),
                (true, false, true, 1),
                (false, true, false, 2),
                (true, true, true, 2),
            ] {
                let lhs = if lhs_t {
                    Mat::rows(&at, k, m).t()
                } else {
                    Mat::rows(&a, m, k)
                };
                let rhs = if rhs_t {
                    Mat::rows(&bt, n, k).t()
                } else {
                    Mat::rows(&b, k, n)
                };
                let mut c = vec![1.0; m * n];
                pool.install(|| {
                    gemm64.matmul(MatMut::rows(&mut c, m, n), lhs, rhs, accumulate, threads)
                });
                let base = if accumulate { 1.0 } else { 0.0 };
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - base - y).abs() < 1e-12,
                        "{m}x{k}x{n} {lhs_t} {rhs_t}: {x} vs {y}"
                    );
                }
                // f32 of the same product.
                let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                let (a32, at32, b32, bt32) = (f(&a), f(&at), f(&b), f(&bt));
                let lhs = if lhs_t {
                    Mat::rows(&at32, k, m).t()
                } else {
                    Mat::rows(&a32, m, k)
                };
                let rhs = if rhs_t {
                    Mat::rows(&bt32, n, k).t()
                } else {
                    Mat::rows(&b32, k, n)
                };
                let mut c = vec![1.0f32; m * n];
                pool.install(|| {
                    gemm32.matmul(MatMut::rows(&mut c, m, n), lhs, rhs, accumulate, threads)
                });
                for (x, y) in c.iter().zip(&want) {
                    let error = (f64::from(*x) - base - y).abs();
                    assert!(
                        error < 1e-4 * (1.0 + k as f64).sqrt(),
                        "{m}x{k}x{n}: {error}"
                    );
                }
            }
        }
        // k = 0 gives zeros.
        let mut c = vec![1.0; 6];
        gemm64.matmul(
            MatMut::rows(&mut c, 2, 3),
            Mat::rows(&[], 2, 0),
            Mat::rows(&[], 0, 3),
            false,
            1,
        );
        assert!(c.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_gemm_crate_fallback_gives_the_same_products() {
        let (m, k, n) = (7, 5, 9);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![0.5; m * n];
        let bt = transpose(&b, k, n);
        gemm_crate(
            &mut c,
            m,
            n,
            Mat::rows(&a, m, k),
            Mat::rows(&bt, n, k).t(),
            true,
        );
        for (x, y) in c.iter().zip(&want) {
            assert!((x - 0.5 - y).abs() < 1e-12);
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (m, k, n) = (300, 128, 128);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.1)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 19) as f32 - 9.0) * 0.1)
            .collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut c = vec![0.0f32; m * n];
            pool.install(|| {
                Gemm::new().matmul(
                    MatMut::rows(&mut c, m, n),
                    Mat::rows(&a, m, k),
                    Mat::rows(&b, k, n),
                    false,
                    threads,
                )
            });
            c
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn mismatched_shapes_panic() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 4];
        Gemm::new().matmul(
            MatMut::rows(&mut c, 2, 2),
            Mat::rows(&a, 2, 3),
            Mat::rows(&a, 2, 3),
            false,
            1,
        );
    }
}
