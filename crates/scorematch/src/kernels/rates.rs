//! What the kernels' hardware can do, measured: the rate of the fused engine's matrix product
//! and the core's peak of f32 fused multiply-adds. The throughput benchmark (`runner bench`)
//! reports each case's share of that peak.

use std::time::Instant;

use super::gemm::{Gemm, Mat, MatMut};
use crate::error::{Error, Result};

/// The median (the mean of the middle two for an even count); NaN for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// GFLOP/s of f32 `[m, k] · [k, n]` products through the kernels' matrix product on
/// `threads` threads: the median over `repeats` timings of ≥ 0.2 s each.
pub fn gemm_rate(m: usize, k: usize, n: usize, threads: usize, repeats: usize) -> Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::ThreadPool(e.to_string()))?;
    Ok(pool.install(|| {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.01).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.02).collect();
        let mut c = vec![0.0f32; m * n];
        let mut gemm = Gemm::new();
        let mut time = |reps: usize| {
            let start = Instant::now();
            for _ in 0..reps {
                gemm.matmul(
                    MatMut::rows(&mut c, m, n),
                    Mat::rows(&a, m, k),
                    Mat::rows(&b, k, n),
                    false,
                    threads,
                );
            }
            start.elapsed().as_secs_f64()
        };
        let reps = ((0.2 / time(20).max(1e-9)) * 20.0).ceil() as usize;
        let rates: Vec<f64> = (0..repeats.max(1))
            .map(|_| (2 * m * n * k * reps) as f64 / time(reps) / 1e9)
            .collect();
        median(&rates)
    }))
}

/// The single-core peak of f32 multiply-adds in GFLOP/s (2 FLOP each): twelve independent
/// chains of 8-lane fused multiply-adds (AVX2 + FMA where the CPU has them) with nothing
/// else to do, for ≥ 0.2 s, median of `repeats`. No training step can do its matrix products
/// faster than this.
pub fn fma_peak_rate(repeats: usize) -> f64 {
    const CHAINS: usize = 12;
    const LANES: usize = 8;
    let run = |iterations: usize| {
        let start = Instant::now();
        let acc = super::vectorized(
            #[inline(always)]
            || {
                let (a, b) = (
                    std::hint::black_box(0.999_999f32),
                    std::hint::black_box(1e-7),
                );
                let mut acc = [[1.0f32; LANES]; CHAINS];
                for _ in 0..iterations {
                    for chain in &mut acc {
                        for x in chain.iter_mut() {
                            *x = x.mul_add(a, b);
                        }
                    }
                }
                acc
            },
        );
        std::hint::black_box(acc);
        let flops = (2 * CHAINS * LANES * iterations) as f64;
        (flops, start.elapsed().as_secs_f64())
    };
    let (_, t) = run(1_000_000);
    let iterations = (1_000_000.0 * 0.2 / t.max(1e-9)).ceil() as usize;
    let rates: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let (flops, t) = run(iterations);
            flops / t / 1e9
        })
        .collect();
    median(&rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
