//! Points in the unit cube for a search: pseudo-random (xoshiro) or Sobol' (Gray-code
//! construction with Joe and Kuo's direction numbers, randomised by a digital shift).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt as _, SeedableRng as _};

/// Dimensions the Sobol' generator has direction numbers for.
pub const SOBOL_DIMS: usize = 16;

/// (degree s, coefficients a, initial m₁…m_s) of dimensions 2 to 16 (Joe & Kuo 2008,
/// new-joe-kuo-6.21201); dimension 1 is the van der Corput sequence.
const DIRECTIONS: [(u32, u32, &[u32]); SOBOL_DIMS - 1] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
];

/// The 32 direction numbers v₁…v₃₂ of dimension `j` (0-based), as 32-bit fractions.
fn directions(j: usize) -> [u32; 32] {
    let mut v = [0u32; 32];
    if j == 0 {
        for (k, vk) in v.iter_mut().enumerate() {
            *vk = 1 << (31 - k);
        }
        return v;
    }
    let (s, a, m) = DIRECTIONS[j - 1];
    let s = s as usize;
    for k in 0..32 {
        v[k] = if k < s {
            m[k] << (31 - k)
        } else {
            let mut x = v[k - s] ^ (v[k - s] >> s);
            for i in 1..s {
                if (a >> (s - 1 - i)) & 1 == 1 {
                    x ^= v[k - i];
                }
            }
            x
        };
    }
    v
}

/// The first `n` points of the `dim`-dimensional Sobol' sequence after the origin, each
/// coordinate XOR-shifted by a random 32-bit word from `seed` (a randomised QMC set whose
/// first points stay the same when `n` grows). `dim` ≤ [`SOBOL_DIMS`].
pub fn sobol(n: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut shift_rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let shifts: Vec<u32> = (0..dim).map(|_| shift_rng.random()).collect();
    let tables: Vec<[u32; 32]> = (0..dim).map(directions).collect();
    (1..=n as u64)
        .map(|i| {
            let gray = i ^ (i >> 1);
            tables
                .iter()
                .zip(&shifts)
                .map(|(v, shift)| {
                    let x = (0..32)
                        .filter(|k| (gray >> k) & 1 == 1)
                        .fold(0u32, |x, k| x ^ v[k]);
                    f64::from(x ^ shift) / 4_294_967_296.0
                })
                .collect()
        })
        .collect()
}

/// `n` uniform points in `[0, 1)^dim` from `seed`, drawn point by point (so the first points
/// stay the same when `n` grows).
pub fn random(n: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut r = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| r.random::<f64>()).collect())
        .collect()
}

/// The centred L2 discrepancy of points in `[0, 1)^d` (Hickernell 1998): lower is more even.
pub fn centred_l2_discrepancy(points: &[Vec<f64>]) -> f64 {
    let n = points.len() as f64;
    let d = points.first().map_or(0, Vec::len) as i32;
    let term = |x: f64| (x - 0.5).abs();
    let single: f64 = points
        .iter()
        .map(|p| {
            p.iter()
                .map(|&x| 1.0 + 0.5 * term(x) - 0.5 * term(x) * term(x))
                .product::<f64>()
        })
        .sum();
    let pairs: f64 = points
        .iter()
        .flat_map(|p| {
            points.iter().map(move |q| {
                p.iter()
                    .zip(q)
                    .map(|(&x, &y)| 1.0 + 0.5 * term(x) + 0.5 * term(y) - 0.5 * (x - y).abs())
                    .product::<f64>()
            })
        })
        .sum();
    ((13.0f64 / 12.0).powi(d) - 2.0 / n * single + pairs / (n * n)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sobol_points_are_the_known_sequence_under_a_digital_shift() {
        // The first points after the origin of the unshifted 3-D sequence with Joe and Kuo's
        // direction numbers (as scipy.stats.qmc.Sobol(3, scramble=False) lists them).
        let published = [
            [0.5, 0.5, 0.5],
            [0.75, 0.25, 0.25],
            [0.25, 0.75, 0.75],
            [0.375, 0.375, 0.625],
            [0.875, 0.875, 0.125],
            [0.625, 0.125, 0.875],
            [0.125, 0.625, 0.375],
        ];
        let word = |x: f64| (x * 4_294_967_296.0) as u32;
        for seed in [0, 1, 7] {
            let points = sobol(published.len(), 3, seed);
            // Each coordinate's shift, read off the first point; undoing it gives the
            // published points, so sobol() is the sequence XOR one word per coordinate.
            let shifts: Vec<u32> = (0..3)
                .map(|j| word(points[0][j]) ^ word(published[0][j]))
                .collect();
            assert!(shifts.iter().any(|&s| s != 0), "seed {seed}: no shift");
            for (point, want) in points.iter().zip(&published) {
                let unshifted: Vec<f64> = (0..3)
                    .map(|j| f64::from(word(point[j]) ^ shifts[j]) / 4_294_967_296.0)
                    .collect();
                assert_eq!(unshifted, want, "seed {seed}");
            }
        }
    }

    #[test]
    fn sobol_points_fill_the_box_more_evenly_than_random_ones() {
        for dim in [2, 5, SOBOL_DIMS] {
            let n = 128;
            let qmc = centred_l2_discrepancy(&sobol(n, dim, 1));
            // Random sets of the same size, several seeds: Sobol' beats every one of them.
            for seed in 0..5 {
                let mc = centred_l2_discrepancy(&random(n, dim, seed));
                assert!(qmc < mc, "D = {dim}: sobol {qmc} vs random {mc}");
            }
        }
        // Growing the budget keeps the first points.
        assert_eq!(sobol(5, 3, 7), sobol(9, 3, 7)[..5]);
        assert_eq!(random(5, 3, 7), random(9, 3, 7)[..5]);
    }
}
