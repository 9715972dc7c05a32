//! Products against a naive reference: shapes, strides, transposes, edges, accumulation.

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
